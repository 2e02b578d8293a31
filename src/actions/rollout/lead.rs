//! Lead times of a service: how many days an Einzelabruf takes from being filed to live,
//! and which go-live task takes longest. They feed the go-live planning.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde::Serialize;
use time::{Date, PrimitiveDateTime};

use crate::db::schema::{agreements, golive_tasks};
use crate::db::DbConn;
use crate::domain::berlin::local_date;
use crate::domain::golive::TaskKind;
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

/// The lead times of a service for its page: days from filing to live from the roll-out
/// snapshot (as the roll-out table states them), and the slowest task type.
pub fn of_service(
    conn: &mut DbConn,
    rollout: &super::snapshot::RolloutCache,
    snapshot: &super::snapshot::Snapshot,
    service_id: &str,
) -> AppResult<LeadTimes> {
    let lead = snapshot.lead_of(service_id);
    let slowest_task = rollout.slowest.get(conn, service_id)?;
    Ok(LeadTimes {
        live: lead.live,
        median_days: lead.median_days,
        p90_days: lead.p90_days,
        slowest_task,
    })
}

/// How long a service's slowest task type is kept when no task changed in this process
/// (what another instance completed shows within this time).
pub const SLOWEST_RECHECK: Duration = Duration::from_secs(60);

/// The slowest task type per service: its tasks are thousands of rows at national scale,
/// so the answer is kept until a task changes here or `SLOWEST_RECHECK` passes.
#[derive(Default)]
pub struct SlowestCache(Mutex<HashMap<String, Kept>>);

/// This process's task write count and the time it was worked out, and the answer.
type Kept = (u64, Instant, Option<SlowestTask>);

impl SlowestCache {
    pub fn get(&self, conn: &mut DbConn, service_id: &str) -> AppResult<Option<SlowestTask>> {
        let writes = crate::store::task::writes();
        if let Some((w, at, slowest)) = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(service_id)
        {
            if *w == writes && at.elapsed() < SLOWEST_RECHECK {
                return Ok(slowest.clone());
            }
        }
        let slowest = slowest_task(conn, service_id)?;
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(
            service_id.to_string(),
            (writes, Instant::now(), slowest.clone()),
        );
        Ok(slowest)
    }
}

/// The task type of a service with the longest median from the plan's start to done.
fn slowest_task(conn: &mut DbConn, service_id: &str) -> AppResult<Option<SlowestTask>> {
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
    Ok(by_kind
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
        }))
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
