//! The facts a contract text states, gathered from the registry for one version of an
//! agreement; `documents::text` turns them into the text.

use diesel::prelude::*;
use serde_json::{json, Value};

use super::Agreement;
use crate::db::DbConn;
use crate::documents::text::{known, parameter_value, render, ContractData, ContractText};
use crate::domain::agreement::german_date;
use crate::domain::membership::Standing;
use crate::domain::{AgreementKind, Terms};
use crate::error::AppResult;
use crate::store::membership::Membership;
use crate::store::municipality::Municipality;
use crate::store::organisation::Organisation;
use crate::store::service::Service;

/// The contract text of version `no` (an amendment has its own terms): as fixed when it
/// went to signature, or (a draft) as the registry's data make it now.
pub fn contract_text(conn: &mut DbConn, a: &Agreement, no: i32) -> AppResult<ContractText> {
    let version = a.version(conn, no)?;
    contract_text_of(conn, a, &version)
}

/// As `contract_text`, of a version read already.
pub fn contract_text_of(
    conn: &mut DbConn,
    a: &Agreement,
    version: &super::AgreementVersion,
) -> AppResult<ContractText> {
    if let (Some(text), Some(sha256)) = (&version.text, &version.text_sha256) {
        return Ok(ContractText {
            agreement_id: a.id.clone(),
            reference: a.reference.clone(),
            version_no: version.version_no,
            templates: serde_json::from_str(version.text_templates.as_deref().unwrap_or("[]"))?,
            text: text.clone(),
            sha256: sha256.clone(),
        });
    }
    render(&contract_data(conn, a, version.version_no)?)
}

/// Writes the fixed text of version `no` again: for an agreement recorded as signed
/// outside the registry (on paper), whose text then says so instead of describing the
/// registry's electronic form.
pub fn refreeze(conn: &mut DbConn, a: &Agreement, no: i32) -> AppResult<ContractText> {
    use crate::db::schema::agreement_versions as v;
    diesel::update(
        v::table
            .filter(v::agreement_id.eq(&a.id))
            .filter(v::version_no.eq(no)),
    )
    .set((
        v::text.eq(None::<String>),
        v::text_sha256.eq(None::<String>),
        v::text_templates.eq(None::<String>),
    ))
    .execute(conn)?;
    freeze(conn, a, no)
}

/// Fixes the contract text of version `no` (once): from then on the page shows, the
/// parties sign and the seal covers this text, even if a party's name, its Trägerschaft
/// or another fact in the registry changes. Called when a version goes to signature and,
/// for versions submitted before texts were fixed, at the first signature.
pub fn freeze(conn: &mut DbConn, a: &Agreement, no: i32) -> AppResult<ContractText> {
    use crate::db::schema::agreement_versions as v;
    let version = a.version(conn, no)?;
    if version.text.is_some() {
        return contract_text(conn, a, no);
    }
    let text = render(&contract_data(conn, a, no)?)?;
    diesel::update(
        v::table
            .filter(v::agreement_id.eq(&a.id))
            .filter(v::version_no.eq(no))
            .filter(v::text.is_null()),
    )
    .set((
        v::text.eq(&text.text),
        v::text_sha256.eq(&text.sha256),
        v::text_templates.eq(serde_json::to_string(&text.templates)?),
    ))
    .execute(conn)?;
    Ok(text)
}

/// What the contract text of version `no` states, from the registry.
pub fn contract_data(conn: &mut DbConn, a: &Agreement, no: i32) -> AppResult<ContractData> {
    let kind = a.kind;
    let terms: Terms = a.version(conn, no)?.terms()?;
    let dnrw = Organisation::kommunalvertreter(conn)?;
    let reference_of = |conn: &mut DbConn, id: &Option<String>| -> AppResult<Option<String>> {
        id.as_deref()
            .map(|id| Agreement::reference_of(conn, id))
            .transpose()
    };
    let links = json!({
        "ioev": reference_of(conn, &a.ioev_id)?,
        "rv": reference_of(conn, &a.rv_id)?,
        "ekv": reference_of(conn, &a.ekv_id)?,
    });
    let counterparty = match &a.counterparty_id {
        Some(id) => {
            let o = Organisation::find(conn, id)?;
            let states = o
                .states()?
                .iter()
                .map(|s| s.state.clone())
                .collect::<Vec<_>>()
                .join(" und ");
            // "GovConnect GmbH" needs no "(GmbH)" after it.
            let legal_form = o
                .legal_form
                .as_deref()
                .and_then(|f| known(Some(f)))
                .filter(|f| !o.name.contains(f.as_str()));
            json!({ "name": o.name, "legal_form": legal_form, "address": known(o.address.as_deref()), "states": states })
        }
        None => Value::Null,
    };
    let municipality = match &a.municipality_id {
        Some(id) => {
            let m = Municipality::find(conn, id)?;
            let record = Membership::of(conn, id)?;
            let standing = Membership::standing_of(record.as_ref());
            let traegerschaft = json!({
                "stand": standing.code(),
                "since": match standing { Standing::Member { since } => Some(german_date(since)), _ => None },
                "decided_on": record.as_ref().and_then(|r| r.council_decision_on).map(german_date),
                "left_on": record.as_ref().and_then(|r| r.left_on).map(german_date),
            });
            json!({
                "name": m.name, "display_name": m.display_name(), "ags": m.ags, "ars": m.ars,
                "kreis_name": m.kreis_name, "regierungsbezirk": m.regierungsbezirk,
                "address": known(m.address.as_deref()), "traegerschaft": traegerschaft,
            })
        }
        None => Value::Null,
    };
    let mut roles = Value::Null;
    let (service, parameters) = match &a.service_id {
        Some(id) => {
            let s = Service::find(conn, id)?;
            let operator = match &s.operator_id {
                Some(op) => {
                    let o = Organisation::find(conn, op)?;
                    Some(
                        match o.address.as_deref().filter(|a| !a.trim().is_empty()) {
                            Some(address) => format!("{}, {address}", o.name),
                            None => o.name,
                        },
                    )
                }
                None => known(s.operator_note.as_deref()),
            };
            let mut parameters = Vec::new();
            for d in s.parameter_defs()? {
                if let Some(v) = terms.parameters.get(&d.key) {
                    let value = match v.as_str().and_then(|v| v.strip_prefix("anlage:")) {
                        Some(file) => attachment_value(conn, file)?,
                        None => parameter_value(d.kind, v),
                    };
                    parameters.push(json!({ "label": d.label, "value": value }));
                }
            }
            let providing_state = known(s.providing_state.as_deref());
            let view = json!({
                "name": s.name, "ozg_id": s.ozg_id, "ozg_name": s.ozg_name, "leika_keys": s.leika_keys()?,
                "providing_state": providing_state,
                "operator": operator,
                "data_standard": known(s.data_standard.as_deref()),
                "dvdv_category": known(s.dvdv_category.as_deref()),
            });
            roles = avv_roles(conn, a, operator.as_deref(), providing_state.as_deref())?;
            (view, parameters)
        }
        None => (Value::Null, Vec::new()),
    };
    let notice = match a.notice_period_months {
        Some(0) | None => "jederzeit ohne Einhaltung einer Frist".to_string(),
        Some(1) => "mit einer Frist von einem Monat".to_string(),
        Some(n) => format!("mit einer Frist von {n} Monaten"),
    };
    let context = json!({
        "dnrw": { "name": dnrw.name, "address": known(dnrw.address.as_deref()) },
        "agreement": {
            "reference": a.reference, "version": no, "kind_label": kind.label(),
            "effective_from": a.effective_from.map(german_date), "signed_on": a.signed_on.map(german_date),
            "ends_on": a.ends_on.map(german_date), "notice": notice, "costs": terms.costs, "notes": terms.notes,
            "non_member_reason": a.non_member_reason,
            "signed_outside": a.signed_on.is_some()
                && crate::store::signature::Signature::of_version(conn, &a.id, no)?.is_empty(),
        },
        "direction": a.direction.as_str(),
        "links": links,
        "counterparty": counterparty,
        "municipality": municipality,
        "external": a.external_party_ags
            .as_ref()
            .map(|ags| json!({ "name": a.external_party_name, "ags": ags })),
        "service": service,
        "parameters": parameters,
        "avv": terms.avv,
        "data_protection": terms.data_protection.unwrap_or_default().as_str(),
        "roles": roles,
    });
    Ok(ContractData {
        agreement_id: a.id.clone(),
        reference: a.reference.clone(),
        version_no: no,
        kind,
        context,
    })
}

/// A parameter that is a file (`anlage:<id>`), cited by its name and fingerprint.
fn attachment_value(conn: &mut DbConn, id: &str) -> AppResult<String> {
    let file = crate::store::attachment::Attachment::info(conn, id)?;
    Ok(format!(
        "Datei „{}“, im Register hinterlegt (SHA-256 {}…)",
        file.file_name,
        file.sha256.get(..16).unwrap_or(&file.sha256)
    ))
}

/// Who is controller and who processor in the AVV of an EKV or EA, and how d-NRW (and
/// another Land's intermediary) stand between them, as sentences for the annex.
fn avv_roles(
    conn: &mut DbConn,
    a: &Agreement,
    operator: Option<&str>,
    providing_state: Option<&str>,
) -> AppResult<Value> {
    let processor = match (operator, providing_state) {
        (Some(op), _) => op.to_string(),
        (None, Some(state)) => {
            format!("die Stelle, die den Online-Dienst im Auftrag von {state} betreibt")
        }
        (None, None) => "die Stelle, die den Online-Dienst betreibt".to_string(),
    };
    let counterparty = match &a.counterparty_id {
        Some(id) => Some(Organisation::find(conn, id)?),
        None => None,
    };
    let outbound = a.direction == crate::domain::Direction::Outbound;
    let ekv_reference = match &a.ekv_id {
        Some(id) => Some(Agreement::reference_of(conn, id)?),
        None => None,
    };
    let (controller, intermediary) = match (a.kind, outbound) {
        (AgreementKind::Ea, false) => {
            let m = match &a.municipality_id {
                Some(id) => Municipality::find(conn, id)?.display_name(),
                None => "die Kommune".to_string(),
            };
            (
                m,
                format!(
                    "Die Parteien dieses Einzelabrufs schließen diese Vereinbarung; d-NRW handelt dabei als Kommunalvertreter.NRW für den Verantwortlichen und leitet dessen Weisungen an den Auftragsverarbeiter weiter. An dieselben Regelungen ist der Auftragsverarbeiter durch die Einzelkooperationsvereinbarung{} gebunden, die d-NRW für den Online-Dienst geschlossen hat.",
                    ekv_reference.as_deref().map(|r| format!(" {r}")).unwrap_or_default()
                ),
            )
        }
        (AgreementKind::Ea, true) => {
            let name = a.external_party_name.clone().unwrap_or_else(|| "die Kommune".into());
            let via = counterparty.as_ref().map(|o| o.name.clone()).unwrap_or_else(|| "der Kommunalvertreter ihres Landes".into());
            (
                name,
                format!("{via} als Kommunalvertreter des Landes des Verantwortlichen und d-NRW schließen diese Vereinbarung für den Verantwortlichen und leiten seine Weisungen an den Auftragsverarbeiter weiter, der an dieselben Regelungen durch die Einzelkooperationsvereinbarung{} mit d-NRW gebunden ist.", ekv_reference.as_deref().map(|r| format!(" {r}")).unwrap_or_default()),
            )
        }
        (_, false) => (
            "jede Kommune in Nordrhein-Westfalen, die den Online-Dienst durch Einzelabruf über d-NRW nachnutzt, jeweils für die an sie gerichteten Anträge".to_string(),
            "d-NRW schließt diese Vereinbarung als Kommunalvertreter.NRW für die Verantwortlichen; jeder Einzelabruf bestätigt sie für die abrufende Kommune.".to_string(),
        ),
        (_, true) => {
            let states = match &counterparty {
                Some(o) => o.states()?.iter().map(|s| s.state.clone()).collect::<Vec<_>>().join(" und "),
                None => String::new(),
            };
            let partner = counterparty.as_ref().map(|o| o.name.clone()).unwrap_or_else(|| "die Partnerin".into());
            (
                if states.is_empty() {
                    format!("jede Kommune, die den Online-Dienst über {partner} nachnutzt, jeweils für die an sie gerichteten Anträge")
                } else {
                    format!("jede Kommune in {states}, die den Online-Dienst über {partner} nachnutzt, jeweils für die an sie gerichteten Anträge")
                },
                format!("{partner} schließt diese Vereinbarung als Kommunalvertreter für die Verantwortlichen; d-NRW leitet Weisungen an den Auftragsverarbeiter weiter."),
            )
        }
    };
    Ok(json!({
        "controller": controller,
        "processor": processor,
        "operator": operator.map(str::to_string).unwrap_or_else(|| processor.clone()),
        "intermediary": intermediary,
    }))
}
