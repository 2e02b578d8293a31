//! Lead times of a service: how many days an Einzelabruf takes from being filed to live,
//! and which go-live task takes longest. They feed the go-live planning.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::Serialize;
use time::{Date, PrimitiveDateTime};

use crate::db::schema::{agreements, golive_tasks};
use crate::db::DbConn;
use crate::domain::berlin::local_date;
use crate::domain::golive::TaskKind;
use crate::domain::AgreementKind;
use crate::error::AppResult;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SlowestTask {
    pub kind: TaskKind,
    pub label: &'static str,
    pub median_days: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LeadTimes {
    /// Live Einzelabrufe measured (filed before they went live).
    pub live: usize,
    /// Days from filing to live: median and 90th percentile.
    pub median_days: Option<i64>,
    pub p90_days: Option<i64>,
    /// The task type with the longest median from the plan's start to done.
    pub slowest_task: Option<SlowestTask>,
}

/// Days from filing to live over some live Einzelabrufe: how many, the median and the
/// 90th percentile.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Lead {
    pub live: usize,
    pub median_days: Option<i64>,
    pub p90_days: Option<i64>,
}

impl Lead {
    pub fn of(mut days: Vec<i64>) -> Lead {
        days.sort_unstable();
        Lead {
            live: days.len(),
            median_days: at(&days, 0.5),
            p90_days: at(&days, 0.9),
        }
    }
}

/// Days from filing (`filed`, a timestamp; its day in Berlin) to `live_on`; none for an
/// Einzelabruf recorded as live before it was filed here (entered afterwards with its
/// historic go-live day), which says nothing about lead time.
pub fn lead_days(filed: Option<PrimitiveDateTime>, live_on: Option<Date>) -> Option<i64> {
    let d = (live_on? - local_date(filed?)).whole_days();
    (d >= 0).then_some(d)
}

/// The value at share `p` of sorted `values` (nearest rank).
fn at(values: &[i64], p: f64) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    let rank = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len());
    Some(values[rank - 1])
}

/// The lead times of one service over its Einzelabrufe live now (in force, all go-live
/// tasks done; indexed by service). The roll-out's table states the same figures from
/// its snapshot (`Snapshot::lead_times`).
pub fn of_service(conn: &mut DbConn, service_id: &str) -> AppResult<LeadTimes> {
    let rows: Vec<(Option<PrimitiveDateTime>, PrimitiveDateTime, Option<Date>)> = agreements::table
        .filter(agreements::service_id.eq(service_id))
        .filter(agreements::kind.eq(AgreementKind::Ea.as_str()))
        .filter(agreements::status.eq(crate::domain::Status::InForce.as_str()))
        .filter(agreements::live_on.is_not_null())
        // The municipalities of the roll-out (outbound EAs name another Land's by text).
        .filter(agreements::municipality_id.is_not_null())
        .select((
            agreements::submitted_at,
            agreements::created_at,
            agreements::live_on,
        ))
        .load(conn)?;
    let lead = Lead::of(
        rows.into_iter()
            .filter_map(|(submitted, created, live)| {
                lead_days(Some(submitted.unwrap_or(created)), live)
            })
            .collect(),
    );

    let tasks: Vec<(String, PrimitiveDateTime, Option<Date>)> = golive_tasks::table
        .inner_join(agreements::table)
        .filter(agreements::service_id.eq(service_id))
        .filter(golive_tasks::completed_on.is_not_null())
        .select((
            golive_tasks::kind,
            golive_tasks::created_at,
            golive_tasks::completed_on,
        ))
        .load(conn)?;
    let mut by_kind: BTreeMap<TaskKind, Vec<i64>> = BTreeMap::new();
    for (kind, created, done) in tasks {
        if let (Some(kind), Some(done)) = (TaskKind::parse(&kind), done) {
            let d = (done - local_date(created)).whole_days();
            if d >= 0 {
                by_kind.entry(kind).or_default().push(d);
            }
        }
    }
    let slowest_task = by_kind
        .into_iter()
        .filter_map(|(kind, mut d)| {
            d.sort_unstable();
            Some((kind, at(&d, 0.5)?))
        })
        .max_by_key(|(kind, median)| (*median, std::cmp::Reverse(*kind)))
        .map(|(kind, median_days)| SlowestTask {
            kind,
            label: kind.title(),
            median_days,
        });
    Ok(LeadTimes {
        live: lead.live,
        median_days: lead.median_days,
        p90_days: lead.p90_days,
        slowest_task,
    })
}

#[cfg(test)]
mod tests {
    use super::at;

    #[test]
    fn percentiles_by_nearest_rank() {
        assert_eq!(at(&[], 0.5), None);
        assert_eq!(at(&[7], 0.9), Some(7));
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(at(&ten, 0.5), Some(5));
        assert_eq!(at(&ten, 0.9), Some(9));
        assert_eq!(at(&[1, 2, 30], 0.9), Some(30));
    }
}
