//! The roll-out kept in memory, so the roll-out page answers in milliseconds at national
//! scale (11,000 municipalities × 600 services, 1,000,000 Einzelabrufe), where the grouped
//! query over all Einzelabrufe takes about a second.
//!
//! Kept exact, also when another instance wrote:
//!
//! - Municipalities and services are small: their change counters (`store::data_version`,
//!   bumped by triggers on every write) are read on each request, one row each; a change
//!   rebuilds the snapshot.
//! - Einzelabrufe are many: the snapshot asks for the ones written since its last look
//!   (`updated_at`, index `agreements_changed`; every write goes through
//!   `Agreement::save`, which sets it), at once after a write transaction of this process
//!   committed (`db::WriteLog`) and otherwise at most every `LOOK_EVERY`, so another
//!   instance's change shows within a second. Each look reaches `SLACK` further back so
//!   a transaction that committed late is not missed, and never past the start of this
//!   process's open write transactions (`WriteLog::oldest_open`); another
//!   process's write transactions must commit within `SLACK`. Only the (municipality,
//!   service) pairs of what was found are ranked again; rows already applied at the same
//!   `lock_version` are skipped.
//!
//! A snapshot is never changed in place: a change makes a new one sharing the untouched
//! rows (`Arc`), so readers keep a consistent picture.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Date as SqlDate, Integer, Nullable, Timestamp};
use time::{Date, Duration, PrimitiveDateTime};

use super::{Cell, RANK};
use crate::db::schema::{agreements, municipalities, services};
use crate::db::DbConn;
use crate::domain::party::{display_name, MunicipalityKind};
use crate::domain::{AgreementKind, Availability};
use crate::error::AppResult;

/// How far back each look for changed Einzelabrufe reaches beyond the last one.
const SLACK: Duration = Duration::seconds(60);

/// How often the snapshot looks for Einzelabrufe written by others (another instance,
/// the CLI): what this process writes shows at once, theirs within this time. Between
/// looks a request reads no agreement at all.
pub const LOOK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The day the pair went live, as months since year 0 (for the chart by month).
const LIVE_ON: &str = "MAX(CASE WHEN agreements.status = 'in_force' THEN agreements.live_on END)";

/// When the live Einzelabruf of the pair was filed (for its lead time).
const FILED: &str = "MIN(CASE WHEN agreements.status = 'in_force' AND agreements.live_on IS NOT NULL THEN COALESCE(agreements.submitted_at, agreements.created_at) END)";

/// One municipality (or Kreis) as a row of the roll-out.
#[derive(Debug, Clone)]
pub struct Muni {
    pub id: String,
    pub ags: String,
    pub ars: String,
    pub name: String,
    pub kreis_name: Option<String>,
    /// "Stadt Kleve", "Kreis Kleve".
    pub display: String,
    pub search: String,
    pub regierungsbezirk: String,
    /// The Kreis-level unit the row belongs to (its Kreis, or itself for a kreisfreie
    /// Stadt or a Kreis): index into `Snapshot::units`.
    pub unit: usize,
}

/// A service as a column of the roll-out.
#[derive(Debug, Clone)]
pub struct Svc {
    pub id: String,
    pub name: String,
    pub withdrawn: bool,
}

/// One (municipality, service) pair with something in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairCell {
    pub service: u32,
    pub cell: Cell,
    /// The day it went live (live cells only).
    pub live_on: Option<Date>,
    /// Days from filing the Einzelabruf to live (live cells filed before they went live).
    pub lead_days: Option<u16>,
}

/// A Kreis-level unit: a Kreis with its municipalities, or a kreisfreie Stadt.
#[derive(Debug, Clone)]
pub struct Unit {
    /// The Kreis's AGS (the city's own for a kreisfreie Stadt).
    pub ags: String,
    pub name: String,
    pub land: String,
    pub regierungsbezirk: String,
    pub municipalities: Vec<usize>,
}

/// The change counters of municipalities and services the snapshot was built at.
type Fingerprint = [i64; 2];

/// The roll-out at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub services: Vec<Svc>,
    pub municipalities: Vec<Muni>,
    /// Per municipality, its pairs sorted by service.
    pub cells: Vec<Arc<[PairCell]>>,
    pub units: Vec<Unit>,
    /// Per unit and service: the number of municipalities in each state (index: `Cell`'s
    /// position in `Cell::ALL`), `Nothing` not counted.
    pub unit_counts: Vec<Arc<Vec<[u32; 5]>>>,
    /// Per unit: live pairs by month (`year * 12 + month - 1`).
    pub unit_live: Vec<Arc<BTreeMap<i32, u32>>>,
    municipality_index: HashMap<String, usize>,
    service_index: HashMap<String, u32>,
    fingerprint: Fingerprint,
    /// Until when changes were looked for, and the rows applied within the slack since:
    /// moved on by every look, also one that finds nothing new (else a burst of writes,
    /// a bulk load say, would be read again by every request until the next write).
    seen: SeenCell,
    /// Per service, the lead times of its live pairs: worked out on first use, once per
    /// snapshot (a refresh starts a new one).
    lead: OnceLock<Arc<Vec<super::lead::Lead>>>,
}

/// How far a snapshot has looked for changed Einzelabrufe.
#[derive(Debug, Clone)]
struct Seen {
    up_to: PrimitiveDateTime,
    applied: HashMap<String, (i32, PrimitiveDateTime)>,
    /// The write transactions committed here (`db::WriteLog::commits`) before the last
    /// look, and when it was.
    writes: u64,
    looked: std::time::Instant,
}

impl Seen {
    /// Whether the last look still holds: no commit here since, and not `LOOK_EVERY` old.
    fn current(&self, log: &crate::db::WriteLog) -> bool {
        self.writes == log.commits() && self.looked.elapsed() < LOOK_EVERY
    }
}

/// [`Seen`], moved on in place by a look that changes nothing else.
#[derive(Debug)]
struct SeenCell(Mutex<Seen>);

impl SeenCell {
    fn new(seen: Seen) -> SeenCell {
        SeenCell(Mutex::new(seen))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Clone for SeenCell {
    fn clone(&self) -> SeenCell {
        SeenCell::new(self.lock().clone())
    }
}

/// Where the position of a cell in `Cell::ALL` is stored.
pub fn slot(cell: Cell) -> usize {
    Cell::ALL.iter().position(|c| *c == cell).unwrap_or(0)
}

/// A month as `year * 12 + month - 1`.
pub fn month_key(d: Date) -> i32 {
    d.year() * 12 + i32::from(u8::from(d.month())) - 1
}

pub struct RolloutCache {
    current: Mutex<Option<Arc<Snapshot>>>,
    /// The write transactions of the database it reads (`Db::write_log`).
    writes: Arc<crate::db::WriteLog>,
    /// Each service's slowest task type (`lead::of_service`).
    pub slowest: super::lead::SlowestCache,
    /// The last CSV export: of which snapshot, for which filter.
    csv: Mutex<Option<CsvExport>>,
    /// The page's content per query, of one snapshot and day (`page`).
    pages: Mutex<Option<KeptPages>>,
}

/// Rendered contents of the roll-out page: of which snapshot and day, by query.
type KeptPages = (Arc<Snapshot>, Date, HashMap<String, Arc<String>>);

/// The most queries whose page content is kept (all are dropped when a new one would
/// exceed it: searches are many, the drill-down pages few).
const KEPT_PAGES: usize = 256;

/// A CSV export made: of which snapshot, for which filter.
/// The CSV export of one snapshot and filter, and (made on first demand) gzipped.
type CsvExport = (Arc<Snapshot>, CsvFilter, Arc<String>, Gzipped);

/// A text's gzipped bytes, made once on first demand.
type Gzipped = Arc<OnceLock<Arc<Vec<u8>>>>;

/// The rows of a CSV export: a Regierungsbezirk, a Kreis (its AGS), or all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsvFilter {
    pub regierungsbezirk: Option<String>,
    pub kreis: Option<String>,
}

impl RolloutCache {
    /// A cache of the roll-out of the database whose writes `writes` logs.
    pub fn new(writes: Arc<crate::db::WriteLog>) -> RolloutCache {
        RolloutCache {
            current: Mutex::new(None),
            writes,
            slowest: Default::default(),
            csv: Mutex::new(None),
            pages: Mutex::new(None),
        }
    }

    /// The roll-out as it is now in the database.
    pub fn get(&self, conn: &mut DbConn) -> AppResult<Arc<Snapshot>> {
        let fp = fingerprint(conn)?;
        let log = &*self.writes;
        // One refresh at a time; the others wait and then take its result.
        let mut slot = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let next = match slot.as_ref() {
            Some(s) if s.fingerprint == fp && s.seen.lock().current(log) => return Ok(s.clone()),
            Some(s) if s.fingerprint == fp => match s.refreshed(conn, log)? {
                Some(next) => Arc::new(next),
                None => return Ok(s.clone()),
            },
            _ => Arc::new(Snapshot::load(conn, fp, log)?),
        };
        *slot = Some(next.clone());
        Ok(next)
    }
}

impl RolloutCache {
    /// The page content for `key` (the query) as of `snapshot` and `today`: kept from an
    /// earlier request, or `build` (outside the lock) and kept. A new snapshot or day
    /// drops what was kept.
    pub fn page(
        &self,
        snapshot: &Arc<Snapshot>,
        today: Date,
        key: &str,
        build: impl FnOnce() -> AppResult<String>,
    ) -> AppResult<Arc<String>> {
        {
            let slot = self.pages.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((s, day, pages)) = slot.as_ref() {
                if Arc::ptr_eq(s, snapshot) && *day == today {
                    if let Some(page) = pages.get(key) {
                        return Ok(page.clone());
                    }
                }
            }
        }
        let page = Arc::new(build()?);
        let mut slot = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        let current = matches!(slot.as_ref(), Some((s, day, pages))
            if Arc::ptr_eq(s, snapshot) && *day == today && pages.len() < KEPT_PAGES);
        if !current {
            *slot = Some((snapshot.clone(), today, HashMap::new()));
        }
        if let Some((_, _, pages)) = slot.as_mut() {
            pages.insert(key.to_string(), page.clone());
        }
        Ok(page)
    }

    /// The matrix as CSV (as `super::to_csv`), made once per snapshot and filter, and
    /// served from here without a copy.
    pub fn csv(&self, conn: &mut DbConn, filter: &CsvFilter) -> AppResult<Arc<String>> {
        Ok(self.csv_export(conn, filter)?.0)
    }

    /// The CSV export as `csv` makes it, gzipped (once per snapshot and filter): what a
    /// browser downloads (about a fifteenth of the 13 MB of all municipalities).
    pub fn csv_gzip(&self, conn: &mut DbConn, filter: &CsvFilter) -> AppResult<Arc<Vec<u8>>> {
        let (text, gzip) = self.csv_export(conn, filter)?;
        if let Some(bytes) = gzip.get() {
            return Ok(bytes.clone());
        }
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut encoder, text.as_bytes())
            .and_then(|_| encoder.finish())
            .map(|bytes| gzip.get_or_init(|| Arc::new(bytes)).clone())
            .map_err(|e| crate::error::AppError::internal(format!("gzip: {e}")))
    }

    /// The export of `filter` as of now, kept for the last filter asked.
    fn csv_export(
        &self,
        conn: &mut DbConn,
        filter: &CsvFilter,
    ) -> AppResult<(Arc<String>, Gzipped)> {
        let snapshot = self.get(conn)?;
        let mut slot = self.csv.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((s, f, text, gzip)) = slot.as_ref() {
            if Arc::ptr_eq(s, &snapshot) && f == filter {
                return Ok((text.clone(), gzip.clone()));
            }
        }
        let text = Arc::new(
            String::from_utf8(snapshot.to_csv(filter)?)
                .map_err(|e| crate::error::AppError::internal(format!("csv: {e}")))?,
        );
        let gzip = Arc::new(OnceLock::new());
        *slot = Some((snapshot, filter.clone(), text.clone(), gzip.clone()));
        Ok((text, gzip))
    }
}

/// Up to when a look now has seen every row: now, or the start of this process's oldest
/// write transaction still open (its rows carry earlier times than its commit; the daily
/// job runs for a while). Another process's write transactions must commit within
/// `SLACK`.
fn horizon(log: &crate::db::WriteLog) -> PrimitiveDateTime {
    let now = crate::store::now();
    match log.oldest_open() {
        Some(open) if open < now => open,
        _ => now,
    }
}

fn fingerprint(conn: &mut DbConn) -> AppResult<Fingerprint> {
    use crate::store::data_version::{current, MUNICIPALITIES, SERVICES};
    current(conn, [MUNICIPALITIES, SERVICES])
}

type PairRow = (String, String, i32, Option<Date>, Option<PrimitiveDateTime>);

/// The pairs' ranks and live days, for all Einzelabrufe or those of some municipalities.
fn pairs(conn: &mut DbConn, municipalities: Option<&[&str]>) -> AppResult<Vec<PairRow>> {
    let mut q = agreements::table
        .filter(agreements::kind.eq(AgreementKind::Ea.as_str()))
        .filter(agreements::municipality_id.is_not_null())
        .filter(agreements::service_id.is_not_null())
        .group_by((agreements::municipality_id, agreements::service_id))
        .select((
            agreements::municipality_id.assume_not_null(),
            agreements::service_id.assume_not_null(),
            sql::<Integer>(RANK),
            sql::<Nullable<SqlDate>>(LIVE_ON),
            sql::<Nullable<Timestamp>>(FILED),
        ))
        .into_boxed();
    if let Some(ids) = municipalities {
        q = q.filter(
            agreements::municipality_id
                .assume_not_null()
                .eq_any(ids.to_vec()),
        );
    }
    Ok(q.load(conn)?)
}

impl Snapshot {
    fn load(
        conn: &mut DbConn,
        fingerprint: Fingerprint,
        log: &crate::db::WriteLog,
    ) -> AppResult<Snapshot> {
        let writes = log.commits();
        let started = horizon(log);
        let svc_rows: Vec<(String, String, String)> = services::table
            .select((services::id, services::name, services::availability))
            .order(services::name)
            .load(conn)?;
        let services: Vec<Svc> = svc_rows
            .into_iter()
            .map(|(id, name, availability)| Svc {
                id,
                name,
                withdrawn: availability == Availability::Withdrawn.as_str(),
            })
            .collect();
        type Row = (
            String,
            String,
            String,
            String,
            MunicipalityKind,
            Option<String>,
            Option<String>,
            String,
        );
        let rows: Vec<Row> = municipalities::table
            .select((
                municipalities::id,
                municipalities::ags,
                municipalities::ars,
                municipalities::name,
                municipalities::kind,
                municipalities::kreis_ags,
                municipalities::kreis_name,
                municipalities::regierungsbezirk,
            ))
            .order(municipalities::ags)
            .load(conn)?;
        // The units: one per Kreis AGS (a Kreis's municipalities name it; the Kreis and
        // a kreisfreie Stadt are their own).
        let display_of: HashMap<&str, String> = rows
            .iter()
            .map(|r| (r.1.as_str(), display_name(&r.3, r.4)))
            .collect();
        let mut unit_of: HashMap<String, usize> = HashMap::new();
        let mut units: Vec<Unit> = Vec::new();
        let mut munis = Vec::with_capacity(rows.len());
        for (id, ags, ars, name, kind, kreis_ags, kreis_name, rb) in &rows {
            let key = kreis_ags.clone().unwrap_or_else(|| ags.clone());
            let unit = *unit_of.entry(key.clone()).or_insert_with(|| {
                let name =
                    display_of
                        .get(key.as_str())
                        .cloned()
                        .unwrap_or_else(|| match kreis_name {
                            Some(n) => display_name(n, MunicipalityKind::Kreis),
                            None => format!("Kreis {key}"),
                        });
                units.push(Unit {
                    land: key.get(..2).unwrap_or("").to_string(),
                    ags: key,
                    name,
                    regierungsbezirk: rb.clone(),
                    municipalities: Vec::new(),
                });
                units.len() - 1
            });
            units[unit].municipalities.push(munis.len());
            munis.push(Muni {
                id: id.clone(),
                ags: ags.clone(),
                ars: ars.clone(),
                kreis_name: kreis_name.clone(),
                display: display_name(name, *kind),
                search: crate::domain::search_key(&format!("{} {name}", display_name(name, *kind))),
                name: name.clone(),
                regierungsbezirk: rb.clone(),
                unit,
            });
        }
        let mut snapshot = Snapshot {
            municipality_index: munis
                .iter()
                .enumerate()
                .map(|(i, m)| (m.id.clone(), i))
                .collect(),
            service_index: services
                .iter()
                .enumerate()
                .map(|(i, s)| (s.id.clone(), i as u32))
                .collect(),
            cells: vec![Arc::from(Vec::new()); munis.len()],
            unit_counts: Vec::new(),
            unit_live: Vec::new(),
            services,
            municipalities: munis,
            units,
            fingerprint,
            seen: SeenCell::new(Seen {
                up_to: started,
                applied: HashMap::new(),
                writes,
                looked: std::time::Instant::now(),
            }),
            lead: OnceLock::new(),
        };
        let mut per_muni: Vec<Vec<PairCell>> = vec![Vec::new(); snapshot.municipalities.len()];
        for (m, s, rank, live_on, filed) in pairs(conn, None)? {
            if let Some((row, cell)) = snapshot.pair(&m, &s, rank, live_on, filed) {
                per_muni[row].push(cell);
            }
        }
        snapshot.cells = per_muni
            .into_iter()
            .map(|mut v| {
                v.sort_by_key(|c| c.service);
                Arc::from(v)
            })
            .collect();
        snapshot.unit_counts = (0..snapshot.units.len())
            .map(|_| Arc::new(Vec::new()))
            .collect();
        snapshot.unit_live = (0..snapshot.units.len())
            .map(|_| Arc::new(BTreeMap::new()))
            .collect();
        for u in 0..snapshot.units.len() {
            snapshot.count_unit(u);
        }
        Ok(snapshot)
    }

    /// The row and cell of a pair from the query, if both are known and it is something.
    fn pair(
        &self,
        m: &str,
        s: &str,
        rank: i32,
        live_on: Option<Date>,
        filed: Option<PrimitiveDateTime>,
    ) -> Option<(usize, PairCell)> {
        let row = *self.municipality_index.get(m)?;
        let service = *self.service_index.get(s)?;
        let cell = Cell::from_rank(rank);
        let live_on = if cell == Cell::Live { live_on } else { None };
        (cell != Cell::Nothing).then_some((
            row,
            PairCell {
                service,
                cell,
                live_on,
                lead_days: super::lead::lead_days(filed, live_on)
                    .and_then(|d| u16::try_from(d).ok()),
            },
        ))
    }

    fn count_unit(&mut self, u: usize) {
        let mut counts = vec![[0u32; 5]; self.services.len()];
        let mut live: BTreeMap<i32, u32> = BTreeMap::new();
        for &m in &self.units[u].municipalities {
            for c in self.cells[m].iter() {
                counts[c.service as usize][slot(c.cell)] += 1;
                if let Some(d) = c.live_on {
                    *live.entry(month_key(d)).or_default() += 1;
                }
            }
        }
        self.unit_counts[u] = Arc::new(counts);
        self.unit_live[u] = Arc::new(live);
    }

    /// Until when changes to Einzelabrufe were looked for.
    pub fn looked_up_to(&self) -> PrimitiveDateTime {
        self.seen.lock().up_to
    }

    /// A new snapshot with the Einzelabrufe written since the last look, or `None` when
    /// nothing changed.
    fn refreshed(
        &self,
        conn: &mut DbConn,
        log: &crate::db::WriteLog,
    ) -> AppResult<Option<Snapshot>> {
        let (writes, looked) = (log.commits(), std::time::Instant::now());
        let horizon = horizon(log);
        let since = self.seen.lock().up_to - SLACK;
        let changed: Vec<(String, i32, Option<String>, PrimitiveDateTime)> = agreements::table
            .filter(agreements::kind.eq(AgreementKind::Ea.as_str()))
            .filter(agreements::updated_at.ge(since))
            .select((
                agreements::id,
                agreements::lock_version,
                agreements::municipality_id,
                agreements::updated_at,
            ))
            .load(conn)?;
        let moved_on = |seen: &mut Seen| {
            seen.up_to = horizon;
            seen.writes = writes;
            seen.looked = looked;
            seen.applied.retain(|_, (_, at)| *at >= horizon - SLACK);
        };
        let new: Vec<&(String, i32, Option<String>, PrimitiveDateTime)> = {
            let seen = self.seen.lock();
            changed
                .iter()
                .filter(|(id, v, _, _)| seen.applied.get(id).map(|a| a.0) != Some(*v))
                .collect()
        };
        if new.is_empty() {
            moved_on(&mut self.seen.lock());
            return Ok(None);
        }
        let mut next = self.clone();
        next.lead = OnceLock::new();
        {
            let mut seen = next.seen.lock();
            moved_on(&mut seen);
            for (id, v, _, at) in &new {
                seen.applied.insert(id.clone(), (*v, *at));
            }
        }
        let touched: HashSet<&str> = new
            .iter()
            .filter_map(|(_, _, m, _)| m.as_deref())
            .filter(|m| self.municipality_index.contains_key(*m))
            .collect();
        if touched.is_empty() {
            return Ok(Some(next));
        }
        let ids: Vec<&str> = touched.iter().copied().collect();
        let mut per_muni: HashMap<usize, Vec<PairCell>> = ids
            .iter()
            .filter_map(|m| self.municipality_index.get(*m))
            .map(|&row| (row, Vec::new()))
            .collect();
        for chunk in ids.chunks(500) {
            for (m, s, rank, live_on, filed) in pairs(conn, Some(chunk))? {
                if let Some((row, cell)) = next.pair(&m, &s, rank, live_on, filed) {
                    per_muni.entry(row).or_default().push(cell);
                }
            }
        }
        let mut units: HashSet<usize> = HashSet::new();
        for (row, mut v) in per_muni {
            v.sort_by_key(|c| c.service);
            next.cells[row] = Arc::from(v);
            units.insert(next.municipalities[row].unit);
        }
        for u in units {
            next.count_unit(u);
        }
        Ok(Some(next))
    }

    /// One row per municipality (by AGS), one column per service (by name; withdrawn
    /// ones only if used in these rows), German state labels.
    fn to_csv(&self, filter: &CsvFilter) -> AppResult<Vec<u8>> {
        let rows: Vec<usize> = (0..self.municipalities.len())
            .filter(|&m| {
                let muni = &self.municipalities[m];
                filter
                    .regierungsbezirk
                    .as_ref()
                    .is_none_or(|r| &muni.regierungsbezirk == r)
                    && filter
                        .kreis
                        .as_ref()
                        .is_none_or(|k| &self.units[muni.unit].ags == k)
            })
            .collect();
        let mut used = vec![false; self.services.len()];
        for &m in &rows {
            for c in self.cells[m].iter() {
                used[c.service as usize] = true;
            }
        }
        let columns: Vec<usize> = (0..self.services.len())
            .filter(|&s| used[s] || !self.services[s].withdrawn)
            .collect();
        let mut header = vec!["AGS", "ARS", "Kommune", "Regierungsbezirk", "Kreis"];
        header.extend(columns.iter().map(|&s| self.services[s].name.as_str()));
        let mut line: Vec<&str> = Vec::with_capacity(header.len());
        super::write_csv(header, |w| {
            for &m in &rows {
                let muni = &self.municipalities[m];
                let cells = &self.cells[m];
                line.clear();
                line.extend([
                    muni.ags.as_str(),
                    muni.ars.as_str(),
                    muni.name.as_str(),
                    muni.regierungsbezirk.as_str(),
                    muni.kreis_name.as_deref().unwrap_or(""),
                ]);
                let mut next = 0;
                for &s in &columns {
                    while next < cells.len() && (cells[next].service as usize) < s {
                        next += 1;
                    }
                    line.push(match cells.get(next) {
                        Some(c) if c.service as usize == s => c.cell.label(),
                        _ => "",
                    });
                }
                w(&line)?;
            }
            Ok(())
        })
    }

    /// Per service of `ids` (by name), the municipalities in each state: the roll-out
    /// another Land's intermediary sees of the services it provides.
    pub fn service_totals(&self, ids: &HashSet<String>) -> Vec<super::ServiceColumn> {
        let everyone = self.municipalities.len() as i64;
        let mut columns: Vec<super::ServiceColumn> = self
            .services
            .iter()
            .enumerate()
            .filter(|(_, s)| ids.contains(&s.id))
            .map(|(i, s)| {
                let mut counts = super::Counts::default();
                for unit in &self.unit_counts {
                    if let Some(by_state) = unit.get(i) {
                        for cell in Cell::ALL {
                            counts.add(cell, i64::from(by_state[slot(cell)]));
                        }
                    }
                }
                counts.nothing = everyone - counts.something();
                super::ServiceColumn {
                    id: s.id.clone(),
                    name: s.name.clone(),
                    counts,
                }
            })
            .collect();
        columns.sort_by(|a, b| a.name.cmp(&b.name));
        columns
    }

    /// Per service (by position), the days from filing to live of its live pairs:
    /// median and 90th percentile, as the service page states them (`lead::of_service`).
    pub fn lead_times(&self) -> Arc<Vec<super::lead::Lead>> {
        self.lead
            .get_or_init(|| {
                let mut days: Vec<Vec<i64>> = vec![Vec::new(); self.services.len()];
                for cells in &self.cells {
                    for c in cells.iter() {
                        if let Some(d) = c.lead_days {
                            days[c.service as usize].push(i64::from(d));
                        }
                    }
                }
                Arc::new(days.into_iter().map(super::lead::Lead::of).collect())
            })
            .clone()
    }

    /// The lead times of one service (none measured if it is not in the snapshot).
    pub fn lead_of(&self, service_id: &str) -> super::lead::Lead {
        self.service_index
            .get(service_id)
            .and_then(|&i| self.lead_times().get(i as usize).cloned())
            .unwrap_or_default()
    }

    /// One municipality's row: the services it has anything with (by name), and their
    /// state.
    pub fn row_of(&self, municipality_id: &str) -> Vec<(&Svc, Cell)> {
        let Some(&row) = self.municipality_index.get(municipality_id) else {
            return Vec::new();
        };
        let mut cells: Vec<(&Svc, Cell)> = self.cells[row]
            .iter()
            .map(|c| (&self.services[c.service as usize], c.cell))
            .collect();
        cells.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        cells
    }

    pub fn lands(&self) -> usize {
        self.units
            .iter()
            .map(|u| u.land.as_str())
            .collect::<HashSet<_>>()
            .len()
    }
}
