//! A national-scale dataset for benchmarks: synthetic municipalities in all sixteen Länder,
//! services, providers, and agreements as the rules would have them (every EA rests on an
//! RV and an EKV in force, each EKV on an IÖV in force). Written in bulk, bypassing the
//! per-agreement checks and the audit log, into an empty registry: it is load, not history.
//! Every name carries "(synthetisch)" so nobody mistakes it for real data.

use std::time::Instant;

use diesel::prelude::*;
use time::macros::date;

use crate::db::schema::{
    agreement_versions, agreements, municipalities, organisations, reference_counters, services,
};
use crate::db::DbConn;
use crate::domain::{
    search_key, AgreementKind, Availability, Direction, MunicipalityKind, Status, Terms,
    VersionStatus,
};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::store::agreement::{Agreement, AgreementVersion};
use crate::store::municipality::Municipality;
use crate::store::organisation::Organisation;
use crate::store::service::Service;
use crate::store::{new_id, now};

/// How big the dataset is.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub municipalities: usize,
    pub services: usize,
    pub providers: usize,
    pub eas: usize,
}

impl Scale {
    /// Germany: about 11,000 municipalities and 600 OZG services.
    pub const NATIONAL: Scale = Scale {
        municipalities: 11_000,
        services: 600,
        providers: 20,
        eas: 1_000_000,
    };
}

/// What was generated and how long it took.
#[derive(Debug, Clone)]
pub struct Report {
    pub agreements: usize,
    pub seconds: f64,
}

/// The year the references are counted in (as `reference::next` would).
fn year() -> i32 {
    now().year()
}

/// Synthetic but well-formed AGS: Land 01–16, Regierungsbezirk 0, Kreis and Gemeinde
/// numbered; unique for up to 16 × 100,000 municipalities.
fn ags(i: usize) -> String {
    let land = 1 + i % 16;
    let rest = i / 16;
    format!("{land:02}0{:02}{:03}", (rest / 1000) % 100, rest % 1000)
}

fn agreement(kind: AgreementKind, number: usize, status: Status) -> Agreement {
    let t = now();
    let active = status.is_active();
    let signed = matches!(
        status,
        Status::Signed | Status::InForce | Status::Terminated
    );
    Agreement {
        id: new_id(),
        kind,
        reference: crate::domain::agreement::reference(kind, year(), number as i64),
        direction: Direction::Inbound,
        status,
        counterparty_id: None,
        municipality_id: None,
        service_id: None,
        external_party_name: None,
        external_party_ags: None,
        ioev_id: None,
        rv_id: None,
        ekv_id: None,
        active_key: if active { Some(String::new()) } else { None },
        current_version: 1,
        notice_period_months: Some(6),
        submitted_at: (status != Status::Draft).then_some(t),
        submitted_by: (status != Status::Draft).then(|| "generator".to_string()),
        signed_on: signed.then_some(date!(2025 - 03 - 01)),
        signed_by: signed.then(|| "generator".to_string()),
        effective_from: signed.then_some(date!(2025 - 04 - 01)),
        activated_by: signed.then(|| "generator".to_string()),
        notice_given_on: (status == Status::Terminated).then_some(date!(2026 - 01 - 15)),
        ends_on: (status == Status::Terminated).then_some(date!(2026 - 07 - 31)),
        terminated_by: (status == Status::Terminated).then(|| "generator".to_string()),
        termination_reason: None,
        lock_version: 1,
        created_at: t,
        created_by: "generator".into(),
        updated_at: t,
        // Three in five Einzelabrufe in force are live (the roll-out benchmark sees all
        // five states).
        non_member_reason: None,
        live_on: (kind == AgreementKind::Ea && status == Status::InForce && number % 5 < 3)
            .then_some(date!(2025 - 05 - 02)),
    }
}

fn version(a: &Agreement, terms: &str) -> AgreementVersion {
    AgreementVersion {
        id: new_id(),
        agreement_id: a.id.clone(),
        version_no: 1,
        terms: terms.to_string(),
        change_note: None,
        status: match a.status {
            Status::InForce | Status::Terminated => VersionStatus::InForce,
            Status::Signed => VersionStatus::Signed,
            _ => VersionStatus::Draft,
        },
        signed_on: a.signed_on,
        effective_from: a.effective_from,
        created_at: a.created_at,
        created_by: a.created_by.clone(),
        text: None,
        text_sha256: None,
        text_templates: None,
    }
}

/// The status of the n-th EA: mostly in force, some on their way, a few ended.
fn ea_status(n: usize) -> Status {
    match n % 100 {
        0..=89 => Status::InForce,
        90..=94 => Status::Draft,
        95..=97 => Status::AwaitingSignatures,
        _ => Status::Terminated,
    }
}

fn store(conn: &mut DbConn, rows: &[Agreement], terms: &str) -> AppResult<()> {
    crate::insert_batch!(conn, agreements::table, rows)?;
    let versions: Vec<AgreementVersion> = rows.iter().map(|a| version(a, terms)).collect();
    crate::insert_batch!(conn, agreement_versions::table, &versions)?;
    Ok(())
}

/// Generates the dataset into an empty registry (refuses one that has agreements).
/// Call `Db::optimize` after the transaction commits.
/// `progress` is told how many EAs are written so far.
pub fn generate(
    conn: &mut DbConn,
    scale: Scale,
    progress: &mut dyn FnMut(usize),
) -> AppResult<Report> {
    let start = Instant::now();
    let existing: i64 = agreements::table.count().get_result(conn)?;
    let muni_count: i64 = municipalities::table.count().get_result(conn)?;
    if existing > 0 || muni_count > 0 {
        return Err(AppError::new(ErrorKind::NotEmpty, "Der Benchmark-Datenbestand wird nur in ein leeres Register geschrieben (ohne Stammdaten: seed_reference_data = false).",
        ));
    }
    let t = now();
    // d-NRW and the providers.
    let mut dnrw = Organisation::new(crate::seed::DNRW, true, false);
    dnrw.is_self = true;
    dnrw.legal_form = Some("AöR".into());
    dnrw.states = r#"[{"land_key":"05","state":"Nordrhein-Westfalen"}]"#.into();
    let mut orgs = vec![dnrw];
    for p in 0..scale.providers {
        let mut provider = Organisation::new(format!("Anbieter {p:02} (synthetisch)"), false, true);
        provider.legal_form = Some("AöR".into());
        orgs.push(provider);
    }
    crate::insert_batch!(conn, organisations::table, &orgs)?;
    let providers = &orgs[1..];

    let parameters = serde_json::to_string(&super::parameters_for("Synthetischer Dienst"))?;
    let services_rows: Vec<Service> = (0..scale.services)
        .map(|s| Service {
            id: new_id(),
            name: format!("Online-Dienst {s:03} (synthetisch)"),
            ozg_id: Some(format!("{}", 10000 + s)),
            ozg_name: None,
            leika_keys: format!(r#"["99{:03}{:03}000000"]"#, 100 + s / 1000, s % 1000),
            providing_state: Some("Schleswig-Holstein".into()),
            providing_land_key: Some("01".into()),
            operator_id: Some(providers[s % providers.len()].id.clone()),
            operator_note: None,
            availability: Availability::Available.as_str().into(),
            data_standard: Some("XFall".into()),
            dvdv_category: None,
            transport: None,
            parameters: parameters.clone(),
            release: "1".into(),
            description: None,
            source: Some("synthetisch (nachnutzung generate-national)".into()),
            lock_version: 1,
            created_at: t,
            updated_at: t,
            golive_days: 28,
            data_protection: crate::domain::service::DataProtection::Avv.as_str().into(),
        })
        .collect();
    crate::insert_batch!(conn, services::table, &services_rows)?;

    let munis: Vec<Municipality> = (0..scale.municipalities)
        .map(|i| {
            let ags = ags(i);
            let name = format!("Gemeinde {ags} (synthetisch)");
            Municipality {
                id: new_id(),
                ars: format!("{}0000{}", &ags[..5], &ags[5..]),
                search_name: search_key(&name),
                name,
                kind: MunicipalityKind::Gemeinde,
                kreis_ags: Some(format!("{}000", &ags[..5])),
                kreis_name: None,
                regierungsbezirk: "synthetisch".into(),
                population: Some(1000 + (i as i64 * 7919) % 100_000),
                postcode: None,
                address: None,
                lock_version: 1,
                created_at: t,
                updated_at: t,
                ags,
            }
        })
        .collect();
    crate::insert_batch!(conn, municipalities::table, &munis)?;

    let empty = serde_json::to_string(&Terms::default())?;
    // IÖV with every provider, an EKV per service, an RV per municipality: all in force.
    let ioevs: Vec<Agreement> = providers
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut a = agreement(AgreementKind::Ioev, i + 1, Status::InForce);
            a.counterparty_id = Some(p.id.clone());
            a.active_key = Some(format!("ioev:{}", p.id));
            a
        })
        .collect();
    store(conn, &ioevs, &empty)?;
    let avv = crate::seed::avv_for(
        "Synthetischer Dienst",
        &["Name, Anschrift"],
        &["Antragstellende Personen"],
    );
    let with_avv = serde_json::to_string(&Terms {
        avv: Some(avv),
        ..Terms::default()
    })?;
    let ekvs: Vec<Agreement> = services_rows
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let p = i % providers.len();
            let mut a = agreement(AgreementKind::Ekv, i + 1, Status::InForce);
            a.counterparty_id = Some(providers[p].id.clone());
            a.service_id = Some(s.id.clone());
            a.ioev_id = Some(ioevs[p].id.clone());
            a.active_key = Some(format!("ekv:{}:{}", providers[p].id, s.id));
            a
        })
        .collect();
    store(conn, &ekvs, &with_avv)?;
    let rvs: Vec<Agreement> = munis
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut a = agreement(AgreementKind::Rv, i + 1, Status::InForce);
            a.municipality_id = Some(m.id.clone());
            a.active_key = Some(format!("rv:{}", m.id));
            a
        })
        .collect();
    store(conn, &rvs, &empty)?;

    // EAs: municipality m calls services (37·m + 7·k) mod S for k < its share; 7 is coprime
    // to 600, so the services of one municipality are distinct.
    let per_muni = scale.eas / scale.municipalities.max(1);
    let extra = scale.eas % scale.municipalities.max(1);
    let ea_terms = serde_json::to_string(&Terms {
        parameters: [
            (
                "zustaendige_stelle_url".to_string(),
                serde_json::json!("https://www.example-kommune.de/buergerservice"),
            ),
            (
                "kontakt_email".to_string(),
                serde_json::json!("buergerservice@example-kommune.de"),
            ),
        ]
        .into_iter()
        .collect(),
        ..serde_json::from_str(&with_avv)?
    })?;
    let mut number = 0usize;
    let mut batch = Vec::with_capacity(10_000);
    for (m, muni) in munis.iter().enumerate() {
        let count = per_muni + usize::from(m < extra);
        for k in 0..count.min(scale.services) {
            let s = (37 * m + 7 * k) % scale.services;
            number += 1;
            let status = ea_status(number);
            let mut a = agreement(AgreementKind::Ea, number, status);
            a.municipality_id = Some(muni.id.clone());
            a.service_id = Some(services_rows[s].id.clone());
            a.rv_id = Some(rvs[m].id.clone());
            a.ekv_id = Some(ekvs[s].id.clone());
            if status.is_active() {
                a.active_key = Some(format!("ea:{}:{}", muni.id, services_rows[s].id));
            }
            batch.push(a);
            if batch.len() == 10_000 {
                store(conn, &batch, &ea_terms)?;
                batch.clear();
                progress(number);
            }
        }
    }
    store(conn, &batch, &ea_terms)?;
    progress(number);

    for (kind, last) in [
        (AgreementKind::Ioev, ioevs.len()),
        (AgreementKind::Ekv, ekvs.len()),
        (AgreementKind::Rv, rvs.len()),
        (AgreementKind::Ea, number),
    ] {
        diesel::insert_into(reference_counters::table)
            .values((
                reference_counters::prefix.eq(kind.prefix()),
                reference_counters::year.eq(year()),
                reference_counters::last_value.eq(last as i64),
            ))
            .execute(conn)?;
    }
    Ok(Report {
        agreements: ioevs.len() + ekvs.len() + rvs.len() + number,
        seconds: start.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn synthetic_ags_are_valid_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..11_000 {
            let ags = super::ags(i);
            assert!(crate::domain::codes::check_ags(&ags).is_ok(), "{ags}");
            assert!(seen.insert(ags));
        }
    }
}
