//! The roll-out: where every municipality stands with every service (nothing, Einzelabruf
//! requested, in force, live, terminated). One grouped query over the Einzelabrufe gives
//! each (municipality, service) pair its most advanced state; the rest is counting.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Integer;
use serde::Serialize;

use crate::db::schema::{agreements, municipalities, services};
use crate::db::DbConn;
use crate::domain::text::{Checked, Inspect, Kind, TextCheck};
use crate::domain::{AgreementKind, Availability};
use crate::error::AppResult;
use crate::store::Scope;

pub mod lead;
pub mod overview;
pub mod snapshot;

/// The state of a municipality with a service, from least to most advanced (a pair with
/// several Einzelabrufe shows its most advanced one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cell {
    Nothing,
    Terminated,
    Requested,
    InForce,
    Live,
}

impl Cell {
    pub const ALL: [Cell; 5] = [
        Cell::Nothing,
        Cell::Requested,
        Cell::InForce,
        Cell::Live,
        Cell::Terminated,
    ];
    pub(crate) fn from_rank(rank: i32) -> Cell {
        match rank {
            4 => Cell::Live,
            3 => Cell::InForce,
            2 => Cell::Requested,
            1 => Cell::Terminated,
            _ => Cell::Nothing,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Cell::Nothing => "nothing",
            Cell::Requested => "requested",
            Cell::InForce => "in_force",
            Cell::Live => "live",
            Cell::Terminated => "terminated",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Cell::Nothing => "",
            Cell::Requested => "beantragt",
            Cell::InForce => "in Kraft",
            Cell::Live => "live",
            Cell::Terminated => "beendet",
        }
    }
}

/// The rank of an Einzelabruf's state in SQL; cancelled ones count as nothing.
pub(crate) const RANK: &str = "MAX(CASE \
    WHEN agreements.status = 'in_force' AND agreements.live_on IS NOT NULL THEN 4 \
    WHEN agreements.status = 'in_force' THEN 3 \
    WHEN agreements.status IN ('draft', 'awaiting_signatures', 'signed') THEN 2 \
    WHEN agreements.status IN ('terminated', 'expired') THEN 1 \
    ELSE 0 END)";

#[derive(Debug, Clone, Default)]
pub struct RolloutFilter {
    pub regierungsbezirk: Option<String>,
    pub kreis_ags: Option<String>,
    pub service_id: Option<String>,
}

impl Inspect for RolloutFilter {
    fn inspect(&mut self, t: &mut TextCheck) {
        t.opt("regierungsbezirk", Kind::Name, &mut self.regierungsbezirk);
        t.opt("kreis", Kind::Code, &mut self.kreis_ags);
        t.opt("service_id", Kind::Code, &mut self.service_id);
    }
}

/// Counts per state.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub nothing: i64,
    pub requested: i64,
    pub in_force: i64,
    pub live: i64,
    pub terminated: i64,
}

impl Counts {
    pub(crate) fn add(&mut self, cell: Cell, n: i64) {
        match cell {
            Cell::Nothing => self.nothing += n,
            Cell::Requested => self.requested += n,
            Cell::InForce => self.in_force += n,
            Cell::Live => self.live += n,
            Cell::Terminated => self.terminated += n,
        }
    }
    /// Pairs with an Einzelabruf in any state (all but `nothing`).
    pub fn something(&self) -> i64 {
        self.requested + self.in_force + self.live + self.terminated
    }
    pub fn get(&self, cell: Cell) -> i64 {
        match cell {
            Cell::Nothing => self.nothing,
            Cell::Requested => self.requested,
            Cell::InForce => self.in_force,
            Cell::Live => self.live,
            Cell::Terminated => self.terminated,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceColumn {
    pub id: String,
    pub name: String,
    pub counts: Counts,
}

#[derive(Debug, Clone, Serialize)]
pub struct MunicipalityRow {
    pub id: String,
    pub ags: String,
    pub ars: String,
    pub name: String,
    pub regierungsbezirk: String,
    pub kreis: Option<String>,
    /// The services this municipality has something with, by service id (absent: nothing).
    pub cells: HashMap<Arc<str>, Cell>,
    pub counts: Counts,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rollout {
    pub states: [Cell; 5],
    pub services: Vec<ServiceColumn>,
    /// Over all rows and columns shown.
    pub counts: Counts,
    pub municipality_count: i64,
    /// Each municipality's row; `None` in the aggregated view of another Land's
    /// intermediary.
    pub municipalities: Option<Vec<MunicipalityRow>>,
}

impl Rollout {
    /// The state of one cell.
    pub fn cell(&self, row: &MunicipalityRow, service_id: &str) -> Cell {
        row.cells.get(service_id).copied().unwrap_or(Cell::Nothing)
    }
}

/// The services another Land's intermediary provides to NRW: those of its inbound EKVs
/// with d-NRW (its outbound ones are NRW's services it re-uses).
pub fn provided_by(conn: &mut DbConn, organisation: &str) -> AppResult<HashSet<String>> {
    Ok(agreements::table
        .filter(agreements::kind.eq(AgreementKind::Ekv.as_str()))
        .filter(agreements::direction.eq(crate::domain::Direction::Inbound.as_str()))
        .filter(agreements::counterparty_id.eq(organisation))
        .filter(agreements::service_id.is_not_null())
        .select(agreements::service_id.assume_not_null())
        .distinct()
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

/// One NRW service re-used in another Land through its intermediary: the outbound
/// Einzelabrufe d-NRW recorded with it, by state.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Outbound {
    pub name: String,
    pub live: i64,
    pub in_force: i64,
    pub requested: i64,
    pub ended: i64,
}

/// The outbound Einzelabrufe recorded with `organisation`, counted per service and state
/// (grouped in the database: an intermediary may hold thousands).
pub fn outbound_of(conn: &mut DbConn, organisation: &str) -> AppResult<Vec<Outbound>> {
    use crate::domain::{Direction, Status};
    use diesel::dsl::{count, count_star};
    // (service, status, number, of which with a live day)
    let rows: Vec<(Option<String>, Status, i64, i64)> = agreements::table
        .filter(agreements::counterparty_id.eq(organisation))
        .filter(agreements::kind.eq(AgreementKind::Ea.as_str()))
        .filter(agreements::direction.eq(Direction::Outbound.as_str()))
        .group_by((agreements::service_id, agreements::status))
        .select((
            agreements::service_id,
            agreements::status,
            count_star(),
            count(agreements::live_on),
        ))
        .load(conn)?;
    let ids: Vec<String> = rows.iter().filter_map(|r| r.0.clone()).collect();
    let names: HashMap<String, String> = services::table
        .filter(services::id.eq_any(ids))
        .select((services::id, services::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let mut by_service: std::collections::BTreeMap<String, Outbound> = Default::default();
    for (service, status, n, live) in rows {
        let name = service
            .and_then(|id| names.get(&id).cloned())
            .unwrap_or_default();
        let o = by_service.entry(name.clone()).or_insert_with(|| Outbound {
            name,
            ..Outbound::default()
        });
        match status {
            Status::InForce => {
                o.live += live;
                o.in_force += n - live;
            }
            Status::Draft | Status::AwaitingSignatures | Status::Signed => o.requested += n,
            _ => o.ended += n,
        }
    }
    Ok(by_service.into_values().collect())
}

/// The roll-out `scope` may see: staff all municipalities, a municipality its own row,
/// another Land's intermediary the services it provides, aggregated (counts only).
pub fn compute(
    conn: &mut DbConn,
    scope: &Scope,
    filter: &Checked<RolloutFilter>,
) -> AppResult<Rollout> {
    // The columns: services in the catalogue, or with Einzelabrufe, or the one asked for.
    let mut service_q = services::table
        .select((services::id, services::name, services::availability))
        .order(services::name)
        .into_boxed();
    if let Some(id) = &filter.service_id {
        service_q = service_q.filter(services::id.eq(id.clone()));
    }
    if let Scope::Intermediary(o) = scope {
        let provided: Vec<String> = provided_by(conn, o)?.into_iter().collect();
        service_q = service_q.filter(services::id.eq_any(provided));
    }
    let all_services: Vec<(String, String, String)> = service_q.load(conn)?;

    // The rows: NRW municipalities and Kreise (by filter and scope).
    let mut muni_q = municipalities::table
        .select((
            municipalities::id,
            municipalities::ags,
            municipalities::ars,
            municipalities::name,
            municipalities::regierungsbezirk,
            municipalities::kreis_name,
        ))
        .order(municipalities::ags)
        .into_boxed();
    if let Some(rb) = &filter.regierungsbezirk {
        muni_q = muni_q.filter(municipalities::regierungsbezirk.eq(rb.clone()));
    }
    if let Some(k) = &filter.kreis_ags {
        muni_q = muni_q.filter(
            municipalities::kreis_ags
                .eq(k.clone())
                .or(municipalities::ags.eq(k.clone())),
        );
    }
    if let Scope::Municipality(m) = scope {
        muni_q = muni_q.filter(municipalities::id.eq(m.clone()));
    }
    type MuniRow = (String, String, String, String, String, Option<String>);
    let munis: Vec<MuniRow> = muni_q.load(conn)?;

    // The cells: the most advanced Einzelabruf per pair. Only inbound EAs name an NRW
    // municipality (outbound ones name the other Land's by text); the index
    // agreements_rollout covers this query.
    let mut cell_q = agreements::table
        .filter(agreements::kind.eq(AgreementKind::Ea.as_str()))
        .filter(agreements::municipality_id.is_not_null())
        .group_by((agreements::municipality_id, agreements::service_id))
        .select((
            agreements::municipality_id.assume_not_null(),
            agreements::service_id.assume_not_null(),
            sql::<Integer>(RANK),
        ))
        .into_boxed();
    // Filtered by Regierungsbezirk or Kreis: ask only for the rows shown (a bounded list;
    // beyond that the cells of other rows are skipped below).
    let filtered = filter.regierungsbezirk.is_some() || filter.kreis_ags.is_some();
    if filtered && munis.len() <= 10_000 {
        let ids: Vec<String> = munis.iter().map(|m| m.0.clone()).collect();
        cell_q = cell_q.filter(agreements::municipality_id.assume_not_null().eq_any(ids));
    }
    if let Some(id) = &filter.service_id {
        cell_q = cell_q.filter(agreements::service_id.eq(id.clone()));
    }
    if let Scope::Municipality(m) = scope {
        cell_q = cell_q.filter(agreements::municipality_id.eq(m.clone()));
    }
    // An intermediary's services only (read by the service index, not every EA).
    let provided: Option<Vec<String>> = match scope {
        Scope::Intermediary(_) => Some(all_services.iter().map(|s| s.0.clone()).collect()),
        _ => None,
    };
    let cells: Vec<(String, String, i32)> = match provided {
        Some(ids) if ids.is_empty() => Vec::new(),
        Some(ids) => cell_q
            .filter(agreements::service_id.assume_not_null().eq_any(ids))
            .load(conn)?,
        None => cell_q.load(conn)?,
    };

    let column_of: HashMap<&str, usize> = all_services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.0.as_str(), i))
        .collect();
    let row_of: HashMap<&str, usize> = munis
        .iter()
        .enumerate()
        .map(|(i, m)| (m.0.as_str(), i))
        .collect();
    let mut service_counts = vec![Counts::default(); all_services.len()];
    let mut row_cells: Vec<HashMap<Arc<str>, Cell>> = vec![HashMap::new(); munis.len()];
    let shared_ids: Vec<Arc<str>> = all_services
        .iter()
        .map(|s| Arc::from(s.0.as_str()))
        .collect();
    let mut used = vec![false; all_services.len()];
    for (m, s, rank) in &cells {
        let (Some(&col), Some(&row)) = (column_of.get(s.as_str()), row_of.get(m.as_str())) else {
            continue;
        };
        let cell = Cell::from_rank(*rank);
        if cell == Cell::Nothing {
            continue;
        }
        used[col] = true;
        service_counts[col].add(cell, 1);
        row_cells[row].insert(shared_ids[col].clone(), cell);
    }
    // Withdrawn services without any Einzelabruf are no column.
    let keep: Vec<bool> = all_services
        .iter()
        .enumerate()
        .map(|(i, s)| {
            used[i] || s.2 != Availability::Withdrawn.as_str() || filter.service_id.is_some()
        })
        .collect();
    let n_rows = munis.len() as i64;
    let mut counts = Counts::default();
    let services: Vec<ServiceColumn> = all_services
        .into_iter()
        .zip(service_counts)
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(((id, name, _), mut c), _)| {
            c.nothing = n_rows - c.something();
            for cell in Cell::ALL {
                counts.add(cell, c.get(cell));
            }
            ServiceColumn {
                id,
                name,
                counts: c,
            }
        })
        .collect();
    let n_columns = services.len() as i64;
    let rows = match scope {
        Scope::Intermediary(_) => None,
        _ => Some(
            munis
                .into_iter()
                .zip(row_cells)
                .map(|((id, ags, ars, name, rb, kreis), cells)| {
                    let mut c = Counts::default();
                    for cell in cells.values() {
                        c.add(*cell, 1);
                    }
                    c.nothing = n_columns - c.something();
                    MunicipalityRow {
                        id,
                        ags,
                        ars,
                        name,
                        regierungsbezirk: rb,
                        kreis,
                        cells,
                        counts: c,
                    }
                })
                .collect(),
        ),
    };
    Ok(Rollout {
        states: Cell::ALL,
        services,
        counts,
        municipality_count: n_rows,
        municipalities: rows,
    })
}

/// The matrix as CSV for a spreadsheet: one row per municipality, one column per service,
/// German state labels (empty: nothing); `;`-separated with a UTF-8 byte order mark, as
/// German spreadsheet programs expect.
pub fn to_csv(r: &Rollout) -> AppResult<Vec<u8>> {
    let mut header = vec!["AGS", "ARS", "Kommune", "Regierungsbezirk", "Kreis"];
    header.extend(r.services.iter().map(|s| s.name.as_str()));
    write_csv(header, |w| {
        for row in r.municipalities.iter().flatten() {
            let mut rec: Vec<&str> = vec![
                &row.ags,
                &row.ars,
                &row.name,
                &row.regierungsbezirk,
                row.kreis.as_deref().unwrap_or(""),
            ];
            rec.extend(r.services.iter().map(|s| r.cell(row, &s.id).label()));
            w(&rec)?;
        }
        Ok(())
    })
}

/// A `;`-separated CSV with a byte order mark: the header, then what `rows` writes
/// through the function it is given.
pub(crate) fn write_csv(
    header: Vec<&str>,
    rows: impl FnOnce(&mut dyn FnMut(&[&str]) -> AppResult<()>) -> AppResult<()>,
) -> AppResult<Vec<u8>> {
    let mut out = Vec::with_capacity(64 * 1024);
    out.extend_from_slice("\u{feff}".as_bytes());
    {
        let mut w = csv::WriterBuilder::new()
            .delimiter(b';')
            .from_writer(&mut out);
        w.write_record(&header).map_err(csv_error)?;
        rows(&mut |rec: &[&str]| w.write_record(rec).map_err(csv_error))?;
        w.flush()
            .map_err(|e| crate::error::AppError::internal(format!("csv: {e}")))?;
    }
    Ok(out)
}

fn csv_error(e: csv::Error) -> crate::error::AppError {
    crate::error::AppError::internal(format!("csv: {e}"))
}
