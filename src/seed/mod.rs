//! Seed data: the real reference data (NRW municipalities and Kreise, the Länder's
//! intermediaries, EfA services; see `data/SOURCES.md`), idempotent: what exists is left
//! alone; and the generated national dataset (`national`). The demo scenarios, which go
//! through the use cases, live a floor higher, in `demo/`.

mod avv;
mod german;
pub mod national;

pub use avv::avv_for;

use std::collections::BTreeMap;

use crate::db::DbConn;
use crate::domain::party::StateRef;
use crate::domain::{
    codes, search_key, Availability, MunicipalityKind, ParameterDef, ParameterKind,
};
use crate::error::{AppError, AppResult};
use crate::store::municipality::Municipality;
use crate::store::organisation::Organisation;
use crate::store::service::Service;
use crate::store::{new_id, now};

const MUNICIPALITIES: &str = include_str!("data/nrw_municipalities.csv");
const SERVICES: &str = include_str!("data/efa_services.csv");
const INTERMEDIARIES: &str = include_str!("data/intermediaries.csv");

/// Name of d-NRW in the registry.
pub const DNRW: &str = "d-NRW AöR (Kommunalvertreter.NRW)";

fn rows(csv_text: &str) -> AppResult<Vec<BTreeMap<String, String>>> {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    reader
        .deserialize::<BTreeMap<String, String>>()
        .map(|r| r.map_err(|e| AppError::internal(format!("seed CSV unreadable: {e}"))))
        .collect()
}

fn field<'a>(row: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    row.get(name)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty() && !s.starts_with("not found"))
}

/// Inserts what is missing of the reference data. Call inside a write transaction: on
/// PostgreSQL it first takes a transaction-scoped advisory lock (per schema), so instances
/// starting together on an empty database seed one after the other, the later ones
/// finding everything there (without it, the second failed on a unique name).
pub fn reference_data(conn: &mut DbConn) -> AppResult<()> {
    if let DbConn::Postgres(pg) = conn {
        use diesel::connection::SimpleConnection;
        pg.batch_execute("SELECT pg_advisory_xact_lock(1852731763, hashtext(current_schema()))")?;
    }
    organisations(conn)?;
    municipalities(conn)?;
    services(conn)?;
    Ok(())
}

fn organisations(conn: &mut DbConn) -> AppResult<()> {
    // One organisation per intermediary; Dataport acts for two Länder.
    let mut by_name: BTreeMap<String, (Option<String>, Vec<StateRef>)> = BTreeMap::new();
    for row in rows(INTERMEDIARIES)? {
        let Some(name) = field(&row, "intermediary") else {
            continue;
        };
        let entry = by_name
            .entry(name.to_string())
            .or_insert((field(&row, "legal_form").map(str::to_string), Vec::new()));
        if let Some(key) = field(&row, "land_key") {
            if codes::land_name(key).is_some() {
                entry.1.push(StateRef {
                    land_key: key.to_string(),
                    state: codes::land_name(key).unwrap_or_default().to_string(),
                });
            }
        }
    }
    for (name, (legal_form, states)) in by_name {
        if Organisation::find_by_name(conn, &name)?.is_some() {
            continue;
        }
        let is_self = name == DNRW;
        let mut o = Organisation::new(name, true, false);
        o.is_provider = o.name.starts_with("Dataport");
        o.is_self = is_self;
        o.legal_form = legal_form;
        o.states = serde_json::to_string(&states)?;
        o.address = is_self.then(|| "Rheinische Straße 1, 44137 Dortmund".to_string());
        o.insert(conn)?;
    }
    Ok(())
}

fn municipality_kind(kind: &str) -> Option<MunicipalityKind> {
    Some(match kind {
        "Gemeinde" => MunicipalityKind::Gemeinde,
        "Stadt" => MunicipalityKind::Stadt,
        "kreisfreie Stadt" => MunicipalityKind::KreisfreieStadt,
        "Kreis" => MunicipalityKind::Kreis,
        _ => return None,
    })
}

fn municipalities(conn: &mut DbConn) -> AppResult<()> {
    use diesel::prelude::*;
    let existing: std::collections::HashSet<String> = crate::db::schema::municipalities::table
        .select(crate::db::schema::municipalities::ags)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    let mut new = Vec::new();
    for row in rows(MUNICIPALITIES)? {
        let Some(kind) = field(&row, "kind").and_then(municipality_kind) else {
            continue;
        };
        let raw = field(&row, "ags").unwrap_or_default();
        // Kreise carry their 5-digit key; as a party they get the 8-digit form (05334000).
        let ags = if kind == MunicipalityKind::Kreis {
            format!("{raw:0<8}")
        } else {
            raw.to_string()
        };
        if existing.contains(&ags) {
            continue;
        }
        let ars = field(&row, "ars").unwrap_or_default().to_string();
        codes::check_nrw_ags(&ags).map_err(AppError::internal)?;
        codes::check_ars(&ars, &ags).map_err(AppError::internal)?;
        let name = field(&row, "name").unwrap_or_default().to_string();
        let t = now();
        new.push(Municipality {
            id: new_id(),
            search_name: search_key(&name),
            ags,
            ars,
            name,
            kind,
            kreis_ags: field(&row, "kreis_ags").map(|k| format!("{k:0<8}")),
            kreis_name: field(&row, "kreis_name").map(str::to_string),
            regierungsbezirk: field(&row, "regierungsbezirk")
                .unwrap_or_default()
                .to_string(),
            population: field(&row, "population").and_then(|p| p.parse().ok()),
            postcode: field(&row, "plz").map(str::to_string),
            address: None,
            lock_version: 1,
            created_at: t,
            updated_at: t,
        });
    }
    Municipality::insert_many(conn, &new)
}

fn param(key: &str, label: &str, kind: ParameterKind, required: bool) -> ParameterDef {
    ParameterDef {
        key: key.into(),
        label: label.into(),
        kind,
        required,
    }
}

/// The parameters a municipality sets for a service. Every service needs the responsible
/// office and a contact address and may show a coat of arms; services with fees need
/// ePayment data and the fee (0 skips payment).
pub(crate) fn parameters_for(name: &str) -> Vec<ParameterDef> {
    let mut p = vec![
        param(
            "zustaendige_stelle_url",
            "Web-Adresse der zuständigen Stelle",
            ParameterKind::Url,
            true,
        ),
        param(
            "kontakt_email",
            "E-Mail-Adresse für Rückfragen",
            ParameterKind::Email,
            true,
        ),
        param(
            "wappen",
            "Wappen der Kommune",
            ParameterKind::CoatOfArms,
            false,
        ),
    ];
    let with_fee = [
        "Einbürgerung",
        "Gewerbeanzeige",
        "Bauportal",
        "Führerschein",
        "i-Kfz",
        "Eheschließung",
        "Fahrtenschreiber",
    ];
    if with_fee.iter().any(|f| name.contains(f)) {
        p.push(param(
            "epayment",
            "ePayment-Daten (Anbieter, Händlerkennung)",
            ParameterKind::Epayment,
            true,
        ));
        p.push(param(
            "gebuehr_cents",
            "Gebühr in Cent (0 = gebührenfrei)",
            ParameterKind::FeeCents,
            true,
        ));
    }
    p
}

/// The Land a "providing_state" text names (longest match: Sachsen-Anhalt, not Sachsen).
fn land_key_of(state: &str) -> Option<String> {
    (1..=16u8)
        .map(|k| format!("{k:02}"))
        .filter_map(|k| {
            codes::land_name(&k)
                .filter(|n| state.starts_with(*n))
                .map(|n| (n.len(), k))
        })
        .max()
        .map(|(_, k)| k)
}

fn services(conn: &mut DbConn) -> AppResult<()> {
    let dataport = Organisation::find_by_name(conn, "Dataport AöR")?;
    for row in rows(SERVICES)? {
        let Some(name) = field(&row, "online_service") else {
            continue;
        };
        if Service::find_by_name(conn, name)?.is_some() {
            continue;
        }
        let operator = field(&row, "operator");
        let operator_id = match (operator, &dataport) {
            (Some(op), Some(d)) if op.starts_with("Dataport AöR") => Some(d.id.clone()),
            _ => None,
        };
        let providing_state = field(&row, "providing_state");
        let land_key = providing_state.and_then(land_key_of);
        let confidence = field(&row, "confidence").unwrap_or("low");
        let availability = if land_key.is_some()
            && (confidence.starts_with("high") || confidence.starts_with("medium"))
        {
            Availability::Available
        } else {
            Availability::ComingSoon
        };
        let leika: Vec<String> = field(&row, "leika_ids")
            .map(|s| {
                s.split(';')
                    .map(|k| k.trim().to_string())
                    .filter(|k| !k.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        for k in &leika {
            codes::check_leika(k).map_err(AppError::internal)?;
        }
        let t = now();
        Service {
            id: new_id(),
            name: name.to_string(),
            ozg_id: field(&row, "ozg_id").map(str::to_string),
            ozg_name: german::shown("ozg_leistung", field(&row, "ozg_leistung")),
            leika_keys: serde_json::to_string(&leika)?,
            providing_state: german::shown("providing_state", providing_state),
            providing_land_key: land_key,
            operator_note: if operator_id.is_some() {
                None
            } else {
                german::shown("operator", operator)
            },
            operator_id,
            availability: availability.as_str().to_string(),
            data_standard: None,
            dvdv_category: german::shown("dvdv_org_category", field(&row, "dvdv_org_category")),
            transport: german::shown("transport", field(&row, "transport")),
            parameters: serde_json::to_string(&parameters_for(name))?,
            release: "1".to_string(),
            // The data file's research notes (English, with internal sources) are for
            // staff: they go to `source`; public texts are written by d-NRW in German.
            description: None,
            source: {
                let notes: Vec<String> = [
                    ("Einordnung", field(&row, "nrw_relevance")),
                    ("Quellen", field(&row, "source")),
                    ("Verlässlichkeit", field(&row, "confidence")),
                ]
                .into_iter()
                .filter_map(|(label, v)| v.map(|v| format!("{label}: {v}")))
                // The file's own words where the catalogue shows them in German.
                .chain(
                    [
                        "ozg_leistung",
                        "providing_state",
                        "operator",
                        "dvdv_org_category",
                        "transport",
                    ]
                    .into_iter()
                    .filter_map(|f| {
                        let raw = field(&row, f)?;
                        german::public(f, raw).map(|_| format!("{f} laut Datei: {raw}"))
                    }),
                )
                .collect();
                (!notes.is_empty()).then(|| notes.join("\n"))
            },
            lock_version: 1,
            created_at: t,
            updated_at: t,
            golive_days: 28,
            data_protection: crate::domain::service::DataProtection::Avv.as_str().into(),
        }
        .insert(conn)?;
    }
    Ok(())
}
