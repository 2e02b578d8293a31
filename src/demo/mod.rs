//! The two examples of the seeds, created through the same rules as every agreement:
//! Dortmund re-uses Wohngeld from Dataport (inbound: IÖV, EKV, RV, EA), and Hannover
//! re-uses Hilfe zum Lebensunterhalt through GovConnect (outbound: IÖV, EKV, and the call
//! recorded against GovConnect).

mod users;

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde_json::json;
use time::macros::date;
use time::Date;

use crate::actions::agreement::{AvvSource, NewAgreement, TransitionInput};
use crate::actions::sign::{record_signed_outside, SignContext, SignInput};
use crate::db::schema::agreements;
use crate::db::DbConn;
use crate::domain::signing::SigningOrder;
use crate::domain::text::Checked;
use crate::error::{AppError, AppResult};
use crate::seal::Sealer;
use crate::seed::avv_for;
use crate::store::agreement::Agreement;
use crate::store::contact::Contact;
use crate::store::municipality::Municipality;
use crate::store::organisation::Organisation;
use crate::store::service::Service;
use crate::store::{new_id, now};

pub use users::*;

const ACTOR: &str = "seed";

fn create(conn: &mut DbConn, input: NewAgreement) -> AppResult<Agreement> {
    Checked::new(input)?.create(conn, ACTOR, AvvSource::AsGiven)
}

/// What sealing needs in the seed.
pub struct Seal<'a> {
    pub sealer: &'a Sealer,
    pub order: SigningOrder,
}

fn step(
    conn: &mut DbConn,
    a: &Agreement,
    action: &str,
    effective_from: Option<Date>,
) -> AppResult<()> {
    Checked::new(TransitionInput {
        action: action.into(),
        effective_from,
        ..TransitionInput::default()
    })?
    .apply(conn, ACTOR, &a.id, SigningOrder::default())?;
    Ok(())
}

/// Submits an agreement that was signed on paper on `signed`, seals its document and
/// activates it on `effective`: the contracts d-NRW concluded before the registry.
fn bring_into_force(
    conn: &mut DbConn,
    seal: &Seal<'_>,
    a: &Agreement,
    signed: Date,
    effective: Date,
) -> AppResult<()> {
    step(conn, a, "submit", None)?;
    // Who signed the paper original (fictitious demo people, named as a record would).
    let partner =
        crate::store::signature::party_name(conn, a, crate::domain::signing::Party::Partner)?;
    let partner_signer = if a.municipality_id.is_some() {
        "Paula Probe (Bürgermeisterin)"
    } else {
        "Gero Geschäftsführer (Geschäftsführung)"
    };
    record_signed_outside(
        conn,
        seal.sealer,
        seal.order,
        ACTOR,
        &a.id,
        signed,
        &format!(
            "Dana Demo (Vorstand) für d-NRW AöR und {partner_signer} für {partner}, auf Papier"
        ),
    )?;
    step(conn, a, "activate", Some(effective))
}

/// A demo signatory (Zeichnungsbefugnis) of a municipality or of d-NRW.
fn signatory(
    conn: &mut DbConn,
    municipality_id: Option<String>,
    organisation_id: Option<String>,
    name: &str,
    function: &str,
) -> AppResult<Contact> {
    let contact = Contact {
        id: new_id(),
        organisation_id,
        municipality_id,
        name: name.into(),
        function: Some(function.into()),
        email: None,
        phone: None,
        created_at: now(),
        may_sign: true,
    };
    contact.insert(conn)?;
    Ok(contact)
}

/// Signs through the workflow, as the API does: the partner, then d-NRW.
fn sign(
    conn: &mut DbConn,
    seal: &Seal<'_>,
    a: &Agreement,
    contacts: [&Contact; 2],
) -> AppResult<()> {
    let ctx = SignContext {
        actor: ACTOR.into(),
        auth_method: "Demo-Daten (Seed)".into(),
        staff: true,
        ..SignContext::default()
    };
    let mut ordered = contacts;
    if seal.order == SigningOrder::DnrwFirst {
        ordered.reverse();
    }
    for c in ordered {
        Checked::new(SignInput {
            contact_id: Some(c.id.clone()),
            version_no: None,
        })?
        .apply(conn, seal.sealer, seal.order, &ctx, &a.id)?;
    }
    Ok(())
}

fn org(conn: &mut DbConn, name: &str) -> AppResult<Organisation> {
    Organisation::find_by_name(conn, name)?
        .ok_or_else(|| AppError::internal(format!("seed: {name} missing")))
}

fn service(conn: &mut DbConn, name: &str) -> AppResult<Service> {
    Service::find_by_name(conn, name)?
        .ok_or_else(|| AppError::internal(format!("seed: service {name} missing")))
}

/// Creates the demo scenarios if the registry has no agreements yet.
pub fn demo_agreements(conn: &mut DbConn, seal: &Seal<'_>) -> AppResult<()> {
    let count: i64 = agreements::table.count().get_result(conn)?;
    if count > 0 {
        return Ok(());
    }
    let dataport = org(conn, "Dataport AöR")?;
    let govconnect = org(conn, "GovConnect GmbH")?;
    let wohngeld = service(conn, "Wohngeld (Online-Dienst Wohngeld)")?;
    let hzl = service(
        conn,
        "Sozialplattform (Anträge u.a. Hilfe zum Lebensunterhalt, Wohngeld, ALG II)",
    )?;
    let dortmund = Municipality::find_by_ags(conn, "05913000")?
        .ok_or_else(|| AppError::internal("seed: Dortmund missing"))?;

    // Inbound: Dortmund re-uses Wohngeld (Schleswig-Holstein, run by Dataport).
    let ioev = create(
        conn,
        NewAgreement {
            kind: "ioev".into(),
            counterparty_id: Some(dataport.id.clone()),
            notice_period_months: Some(12),
            ..Default::default()
        },
    )?;
    bring_into_force(
        conn,
        seal,
        &ioev,
        date!(2022 - 03 - 15),
        date!(2022 - 04 - 01),
    )?;
    let wohngeld_avv = avv_for(
        &wohngeld.name,
        &[
            "Name, Vorname, Geburtsdatum, Anschrift und Kontaktdaten",
            "Angaben zu Haushaltsmitgliedern",
            "Einkommens- und Vermögensverhältnisse",
            "Miete bzw. Belastung und Wohnverhältnisse",
            "Bankverbindung",
        ],
        &[
            "Antragstellende Personen",
            "Haushaltsmitglieder",
            "Vermieterinnen und Vermieter",
        ],
    );
    let ekv = create(conn, NewAgreement {
        kind: "ekv".into(),
        counterparty_id: Some(dataport.id.clone()),
        service_id: Some(wohngeld.id.clone()),
        notice_period_months: Some(6),
        avv: Some(wohngeld_avv.clone()),
        costs: Some("Nachnutzung nach dem Kostenverteilungsschlüssel der Länder; keine Einzelentgelte je Kommune.".into()),
        ..Default::default()
    })?;
    bring_into_force(
        conn,
        seal,
        &ekv,
        date!(2022 - 06 - 20),
        date!(2022 - 07 - 01),
    )?;
    let rv = create(
        conn,
        NewAgreement {
            kind: "rv".into(),
            municipality_id: Some(dortmund.id.clone()),
            notice_period_months: Some(6),
            ..Default::default()
        },
    )?;
    bring_into_force(
        conn,
        seal,
        &rv,
        date!(2022 - 09 - 05),
        date!(2022 - 10 - 01),
    )?;
    let mut parameters = BTreeMap::new();
    parameters.insert(
        "zustaendige_stelle_url".to_string(),
        json!("https://www.dortmund.de/themen/soziales/wohngeld/"),
    );
    parameters.insert("kontakt_email".to_string(), json!("wohngeld@stadtdo.de"));
    let ea = create(
        conn,
        NewAgreement {
            kind: "ea".into(),
            municipality_id: Some(dortmund.id.clone()),
            service_id: Some(wohngeld.id.clone()),
            notice_period_months: Some(3),
            avv: Some(wohngeld_avv),
            parameters,
            ..Default::default()
        },
    )?;
    bring_into_force(
        conn,
        seal,
        &ea,
        date!(2022 - 11 - 14),
        date!(2022 - 12 - 01),
    )?;
    // It went live before the registry: its go-live plan is recorded as done outside.
    crate::store::task::Task::record_done_outside(conn, &ea, date!(2022 - 12 - 19), ACTOR)?;

    // Outbound: Hannover (Niedersachsen) re-uses the NRW Sozialplattform (HzL) through
    // GovConnect; the RV and EA in Niedersachsen are GovConnect's, d-NRW records the call.
    let ioev = create(
        conn,
        NewAgreement {
            kind: "ioev".into(),
            counterparty_id: Some(govconnect.id.clone()),
            notice_period_months: Some(12),
            ..Default::default()
        },
    )?;
    bring_into_force(
        conn,
        seal,
        &ioev,
        date!(2023 - 02 - 01),
        date!(2023 - 03 - 01),
    )?;
    let hzl_avv = avv_for(
        "Hilfe zum Lebensunterhalt (Sozialplattform)",
        &[
            "Name, Vorname, Geburtsdatum, Anschrift und Kontaktdaten",
            "Angaben zur Bedarfsgemeinschaft",
            "Einkommens- und Vermögensverhältnisse",
            "Gesundheitsdaten, soweit für Mehrbedarfe angegeben (Art. 9 DSGVO)",
            "Bankverbindung",
        ],
        &[
            "Antragstellende Personen",
            "Mitglieder der Bedarfs- und Haushaltsgemeinschaft",
        ],
    );
    let ekv = create(
        conn,
        NewAgreement {
            kind: "ekv".into(),
            counterparty_id: Some(govconnect.id.clone()),
            service_id: Some(hzl.id.clone()),
            notice_period_months: Some(6),
            avv: Some(hzl_avv.clone()),
            ..Default::default()
        },
    )?;
    bring_into_force(
        conn,
        seal,
        &ekv,
        date!(2023 - 05 - 10),
        date!(2023 - 06 - 01),
    )?;
    let mut parameters = BTreeMap::new();
    parameters.insert(
        "zustaendige_stelle_url".to_string(),
        json!("https://www.hannover.de/Leben-in-der-Region-Hannover/Soziales"),
    );
    parameters.insert(
        "kontakt_email".to_string(),
        json!("sozialamt@hannover-stadt.de"),
    );
    let ea = create(
        conn,
        NewAgreement {
            kind: "ea".into(),
            counterparty_id: Some(govconnect.id),
            service_id: Some(hzl.id),
            external_party_name: Some("Landeshauptstadt Hannover".into()),
            external_party_ags: Some("03241001".into()),
            avv: Some(hzl_avv),
            parameters,
            ..Default::default()
        },
    )?;
    bring_into_force(
        conn,
        seal,
        &ea,
        date!(2023 - 07 - 03),
        date!(2023 - 08 - 01),
    )?;
    crate::store::task::Task::record_done_outside(conn, &ea, date!(2023 - 08 - 28), ACTOR)?;

    // Signed in the registry: Düsseldorf's RV through the signing workflow, and an EA for
    // Wohngeld that waits for its signatures.
    let duesseldorf = Municipality::find_by_ags(conn, "05111000")?
        .ok_or_else(|| AppError::internal("seed: Düsseldorf missing"))?;
    let dnrw = Organisation::kommunalvertreter(conn)?;
    let for_dnrw = signatory(
        conn,
        None,
        Some(dnrw.id),
        "Demo-Zeichnungsberechtigte d-NRW",
        "Vorstand",
    )?;
    let for_duesseldorf = signatory(
        conn,
        Some(duesseldorf.id.clone()),
        None,
        "Demo-Zeichnungsberechtigter Düsseldorf",
        "Beigeordneter für Digitalisierung",
    )?;
    signatory(
        conn,
        Some(dortmund.id),
        None,
        "Demo-Zeichnungsberechtigte Dortmund",
        "Stadtdirektorin",
    )?;
    let rv = create(
        conn,
        NewAgreement {
            kind: "rv".into(),
            municipality_id: Some(duesseldorf.id.clone()),
            notice_period_months: Some(6),
            ..Default::default()
        },
    )?;
    step(conn, &rv, "submit", None)?;
    // In force with the last signature, as its text says.
    sign(conn, seal, &rv, [&for_duesseldorf, &for_dnrw])?;
    let mut parameters = BTreeMap::new();
    parameters.insert(
        "zustaendige_stelle_url".to_string(),
        json!("https://www.duesseldorf.de/wohnungswesen/wohngeld"),
    );
    parameters.insert(
        "kontakt_email".to_string(),
        json!("wohngeld@duesseldorf.de"),
    );
    let ea = create(
        conn,
        NewAgreement {
            kind: "ea".into(),
            municipality_id: Some(duesseldorf.id),
            service_id: Some(wohngeld.id),
            notice_period_months: Some(3),
            avv: Some(avv_for(
                "Wohngeld (Online-Dienst Wohngeld)",
                &[
                    "Name, Vorname, Geburtsdatum, Anschrift und Kontaktdaten",
                    "Einkommens- und Vermögensverhältnisse",
                ],
                &["Antragstellende Personen", "Haushaltsmitglieder"],
            )),
            parameters,
            ..Default::default()
        },
    )?;
    step(conn, &ea, "submit", None)?;
    Ok(())
}
