//! The roll-out page's picture, from the snapshot in memory: aggregated first (by Land,
//! Regierungsbezirk, Kreis) and drilled down to the municipalities of one Kreis or a
//! search; the services paged. Never more than a page of rows and a page of services.

use std::collections::BTreeMap;

use serde::Serialize;

use super::snapshot::{month_key, slot, Snapshot};
use super::{Cell, Counts};
use crate::domain::codes::land_name;
use crate::domain::text::{Inspect, Kind, TextCheck};

/// Services per page of the charts and the table.
pub const SERVICES_PER_PAGE: usize = 20;
/// Rows (groups or municipalities) per page.
pub const ROWS_PER_PAGE: usize = 50;
/// Months in the chart of go-lives.
pub const MONTHS: i32 = 24;

/// What the page was asked for (all optional; checked for length by the caller).
#[derive(Debug, Default, Clone)]
pub struct Query {
    pub land: Option<String>,
    pub rb: Option<String>,
    pub kreis: Option<String>,
    /// Municipality name search.
    pub q: Option<String>,
    /// Service name search.
    pub dienst: Option<String>,
    /// Page of rows, from 1.
    pub seite: usize,
    /// Page of services, from 1.
    pub dienste_seite: usize,
}

/// What the rows of the page are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Laender,
    Bezirke,
    Kreise,
    Kommunen,
}

impl Level {
    pub fn label(self) -> &'static str {
        match self {
            Level::Laender => "Land",
            Level::Bezirke => "Regierungsbezirk",
            Level::Kreise => "Kreis oder kreisfreie Stadt",
            Level::Kommunen => "Kommune",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceBar {
    pub id: String,
    pub name: String,
    pub counts: Counts,
    /// Days from filing to live over all areas (as on the service page).
    pub lead: super::lead::Lead,
}

/// A row of the heat grid: a Land, Regierungsbezirk or Kreis.
#[derive(Debug, Clone, Serialize)]
pub struct GroupRow {
    pub name: String,
    /// The query string that drills into it.
    pub drill: String,
    pub municipalities: usize,
    /// Per service of the page: (live, share live in per cent).
    pub live: Vec<(u64, u32)>,
    /// Live pairs over all services, in per cent of municipalities × services ("12,5").
    pub share_all: String,
}

/// A row of the table at the lowest level: a municipality with its cells.
#[derive(Debug, Clone, Serialize)]
pub struct MuniRow {
    pub id: String,
    pub name: String,
    pub ags: String,
    pub unit: String,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Month {
    pub label: String,
    /// Went live in this month.
    pub live: u32,
    /// Live at the month's end (of those live today).
    pub total: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Crumb {
    pub label: String,
    pub query: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub level: Level,
    pub level_label: &'static str,
    pub crumbs: Vec<Crumb>,
    pub municipality_count: usize,
    pub counts: Counts,
    pub services_total: usize,
    pub services_page: usize,
    pub services_pages: usize,
    pub services: Vec<ServiceBar>,
    /// The positions (from 1) of the first and last service and row shown.
    pub services_from: usize,
    pub services_to: usize,
    pub rows_from: usize,
    pub rows_to: usize,
    pub groups: Vec<GroupRow>,
    pub rows: Vec<MuniRow>,
    pub rows_total: usize,
    pub rows_page: usize,
    pub rows_pages: usize,
    pub months: Vec<Month>,
}

fn pages(total: usize, per: usize) -> usize {
    total.div_ceil(per).max(1)
}

const MONTH_NAMES: [&str; 12] = [
    "Jan", "Feb", "Mär", "Apr", "Mai", "Jun", "Jul", "Aug", "Sep", "Okt", "Nov", "Dez",
];

fn encode(s: &str) -> String {
    crate::domain::urlencode(s)
}

impl Inspect for Query {
    fn inspect(&mut self, t: &mut TextCheck) {
        t.opt("land", Kind::Code, &mut self.land);
        t.opt("rb", Kind::Name, &mut self.rb);
        t.opt("kreis", Kind::Code, &mut self.kreis);
        t.opt("q", Kind::Search, &mut self.q);
        t.opt("dienst", Kind::Search, &mut self.dienst);
    }
}

impl Query {
    /// Keys that cannot name anything are refused (field, German message).
    pub fn check_keys(&self) -> Result<(), (&'static str, String)> {
        if let Some(l) = &self.land {
            crate::domain::codes::check_land_key(l).map_err(|m| ("land", m))?;
        }
        if let Some(k) = &self.kreis {
            if k.len() != 8 || !k.bytes().all(|b| b.is_ascii_digit()) {
                return Err((
                    "kreis",
                    format!("„{k}“ ist kein Gemeindeschlüssel (acht Ziffern)."),
                ));
            }
        }
        Ok(())
    }

    /// The query string of this view with some parameters replaced (empty: dropped).
    pub fn with(&self, changes: &[(&str, &str)]) -> String {
        let mut pairs: Vec<(&str, String)> = vec![
            ("land", self.land.clone().unwrap_or_default()),
            ("rb", self.rb.clone().unwrap_or_default()),
            ("kreis", self.kreis.clone().unwrap_or_default()),
            ("q", self.q.clone().unwrap_or_default()),
            ("dienst", self.dienst.clone().unwrap_or_default()),
        ];
        for (k, v) in changes {
            match pairs.iter_mut().find(|(key, _)| key == k) {
                Some(p) => p.1 = v.to_string(),
                None => pairs.push((k, v.to_string())),
            }
        }
        pairs
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", encode(&v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// The page's picture of `snapshot` for `query`; `today` ends the months chart.
pub fn build(snapshot: &Snapshot, query: &Query, today: time::Date) -> Overview {
    // The units (Kreise, kreisfreie Städte) in scope.
    let units: Vec<usize> = (0..snapshot.units.len())
        .filter(|&u| {
            let unit = &snapshot.units[u];
            query.land.as_ref().is_none_or(|l| &unit.land == l)
                && query
                    .rb
                    .as_ref()
                    .is_none_or(|r| &unit.regierungsbezirk == r)
                && query.kreis.as_ref().is_none_or(|k| &unit.ags == k)
        })
        .collect();
    let municipality_count: usize = units
        .iter()
        .map(|&u| snapshot.units[u].municipalities.len())
        .sum();

    // The services: those matching the search, withdrawn ones only if used; by reach.
    let needle = query.dienst.as_deref().map(crate::domain::search_key);
    let mut services: Vec<(usize, Counts)> = snapshot
        .services
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            needle
                .as_ref()
                .is_none_or(|n| crate::domain::search_key(&s.name).contains(n.as_str()))
        })
        .map(|(i, _)| {
            let mut c = Counts::default();
            for &u in &units {
                if let Some(counts) = snapshot.unit_counts[u].get(i) {
                    for cell in Cell::ALL {
                        c.add(cell, i64::from(counts[slot(cell)]));
                    }
                }
            }
            c.nothing = municipality_count as i64 - c.something();
            (i, c)
        })
        .filter(|(i, c)| !snapshot.services[*i].withdrawn || c.something() > 0)
        .collect();
    let mut counts = Counts::default();
    for (_, c) in &services {
        for cell in Cell::ALL {
            counts.add(cell, c.get(cell));
        }
    }
    services.sort_by(|a, b| {
        (b.1.live, b.1.in_force, b.1.requested)
            .cmp(&(a.1.live, a.1.in_force, a.1.requested))
            .then_with(|| {
                snapshot.services[a.0]
                    .name
                    .cmp(&snapshot.services[b.0].name)
            })
    });
    let services_total = services.len();
    let services_pages = pages(services_total, SERVICES_PER_PAGE);
    let services_page = query.dienste_seite.clamp(1, services_pages);
    let shown: Vec<(usize, Counts)> = services
        .iter()
        .skip((services_page - 1) * SERVICES_PER_PAGE)
        .take(SERVICES_PER_PAGE)
        .cloned()
        .collect();
    let all_services: Vec<usize> = services.iter().map(|(i, _)| *i).collect();

    // The level of the rows.
    let lands: Vec<&str> = {
        let mut l: Vec<&str> = units
            .iter()
            .map(|&u| snapshot.units[u].land.as_str())
            .collect();
        l.sort_unstable();
        l.dedup();
        l
    };
    let bezirke = {
        let mut b: Vec<&str> = units
            .iter()
            .map(|&u| snapshot.units[u].regierungsbezirk.as_str())
            .collect();
        b.sort_unstable();
        b.dedup();
        b.len()
    };
    let level = if query.kreis.is_some() || query.q.is_some() || units.len() <= 1 {
        Level::Kommunen
    } else if query.land.is_none() && query.rb.is_none() && lands.len() > 1 {
        Level::Laender
    } else if query.rb.is_none() && bezirke > 1 {
        Level::Bezirke
    } else {
        Level::Kreise
    };

    // Groups of units for the heat grid.
    let mut groups: Vec<GroupRow> = Vec::new();
    let mut rows: Vec<MuniRow> = Vec::new();
    let rows_total;
    let rows_pages;
    let rows_page;
    if level == Level::Kommunen {
        let needle = query.q.as_deref().map(crate::domain::search_key);
        let matching: Vec<usize> = units
            .iter()
            .flat_map(|&u| snapshot.units[u].municipalities.iter().copied())
            .filter(|&m| {
                needle
                    .as_ref()
                    .is_none_or(|n| snapshot.municipalities[m].search.contains(n.as_str()))
            })
            .collect();
        rows_total = matching.len();
        rows_pages = pages(rows_total, ROWS_PER_PAGE);
        rows_page = query.seite.clamp(1, rows_pages);
        rows = matching
            .into_iter()
            .skip((rows_page - 1) * ROWS_PER_PAGE)
            .take(ROWS_PER_PAGE)
            .map(|m| {
                let muni = &snapshot.municipalities[m];
                let cells = &snapshot.cells[m];
                MuniRow {
                    id: muni.id.clone(),
                    name: muni.display.clone(),
                    ags: muni.ags.clone(),
                    unit: snapshot.units[muni.unit].name.clone(),
                    cells: shown
                        .iter()
                        .map(|(s, _)| {
                            cells
                                .binary_search_by_key(&(*s as u32), |c| c.service)
                                .map(|i| cells[i].cell)
                                .unwrap_or(Cell::Nothing)
                        })
                        .collect(),
                }
            })
            .collect();
    } else {
        let mut keyed: BTreeMap<String, (String, String, Vec<usize>)> = BTreeMap::new();
        for &u in &units {
            let unit = &snapshot.units[u];
            let (key, name, drill) = match level {
                Level::Laender => (
                    unit.land.clone(),
                    land_name(&unit.land)
                        .unwrap_or("unbekanntes Land")
                        .to_string(),
                    query.with(&[("land", &unit.land), ("seite", "")]),
                ),
                Level::Bezirke => (
                    unit.regierungsbezirk.clone(),
                    format!("Regierungsbezirk {}", unit.regierungsbezirk),
                    query.with(&[("rb", &unit.regierungsbezirk), ("seite", "")]),
                ),
                _ => (
                    format!("{}{}", unit.name, unit.ags),
                    unit.name.clone(),
                    query.with(&[("kreis", &unit.ags), ("seite", "")]),
                ),
            };
            keyed
                .entry(key)
                .or_insert((name, drill, Vec::new()))
                .2
                .push(u);
        }
        rows_total = keyed.len();
        rows_pages = pages(rows_total, ROWS_PER_PAGE);
        rows_page = query.seite.clamp(1, rows_pages);
        groups = keyed
            .into_values()
            .skip((rows_page - 1) * ROWS_PER_PAGE)
            .take(ROWS_PER_PAGE)
            .map(|(name, drill, members)| {
                let n: usize = members
                    .iter()
                    .map(|&u| snapshot.units[u].municipalities.len())
                    .sum();
                let live_of = |s: usize| -> u64 {
                    members
                        .iter()
                        .filter_map(|&u| snapshot.unit_counts[u].get(s))
                        .map(|c| u64::from(c[slot(Cell::Live)]))
                        .sum()
                };
                let share = |live: u64| -> u32 {
                    if n == 0 {
                        0
                    } else {
                        ((live * 100 + n as u64 / 2) / n as u64) as u32
                    }
                };
                let live_all: u64 = all_services.iter().map(|&s| live_of(s)).sum();
                let pairs = (n * all_services.len()).max(1) as f64;
                GroupRow {
                    name,
                    drill,
                    municipalities: n,
                    live: shown
                        .iter()
                        .map(|(s, _)| {
                            let l = live_of(*s);
                            (l, share(l))
                        })
                        .collect(),
                    share_all: format!("{:.1}", live_all as f64 * 100.0 / pairs).replace('.', ","),
                }
            })
            .collect();
    }

    // Go-lives per month, the last MONTHS months up to today, and how many of the pairs
    // live today were live at each month's end.
    let last = month_key(today);
    let first = last - MONTHS + 1;
    let mut by_month: BTreeMap<i32, u32> = BTreeMap::new();
    let mut before = 0u64;
    for &u in &units {
        for (m, n) in snapshot.unit_live[u].range(..=last) {
            if *m < first {
                before += u64::from(*n);
            } else {
                *by_month.entry(*m).or_default() += n;
            }
        }
    }
    let mut running = before;
    let months = (first..=last)
        .map(|m| {
            let live = by_month.get(&m).copied().unwrap_or(0);
            running += u64::from(live);
            Month {
                label: format!(
                    "{} {}",
                    MONTH_NAMES[m.rem_euclid(12) as usize],
                    m.div_euclid(12)
                ),
                live,
                total: running,
            }
        })
        .collect();

    // Where we are.
    let mut crumbs = vec![Crumb {
        label: "Alle".into(),
        query: query.with(&[("land", ""), ("rb", ""), ("kreis", ""), ("q", "")]),
    }];
    if let Some(l) = &query.land {
        crumbs.push(Crumb {
            label: land_name(l).unwrap_or(l).to_string(),
            query: query.with(&[("rb", ""), ("kreis", ""), ("q", "")]),
        });
    }
    if let Some(r) = &query.rb {
        crumbs.push(Crumb {
            label: format!("Regierungsbezirk {r}"),
            query: query.with(&[("kreis", ""), ("q", "")]),
        });
    }
    if let Some(k) = &query.kreis {
        let name = snapshot
            .units
            .iter()
            .find(|u| &u.ags == k)
            .map(|u| u.name.clone())
            .unwrap_or_else(|| k.clone());
        crumbs.push(Crumb {
            label: name,
            query: query.with(&[("q", "")]),
        });
    }

    let services_from = (services_page - 1) * SERVICES_PER_PAGE + 1;
    let rows_from = (rows_page - 1) * ROWS_PER_PAGE + 1;
    let rows_shown = if level == Level::Kommunen {
        rows.len()
    } else {
        groups.len()
    };
    let lead = snapshot.lead_times();
    Overview {
        services_from,
        services_to: services_from + shown.len() - 1,
        rows_from,
        rows_to: rows_from + rows_shown - 1,
        level,
        level_label: level.label(),
        crumbs,
        municipality_count,
        counts,
        services_total,
        services_page,
        services_pages,
        services: shown
            .into_iter()
            .map(|(i, counts)| ServiceBar {
                id: snapshot.services[i].id.clone(),
                name: snapshot.services[i].name.clone(),
                counts,
                lead: lead.get(i).cloned().unwrap_or_default(),
            })
            .collect(),
        groups,
        rows,
        rows_total,
        rows_page,
        rows_pages,
        months,
    }
}
