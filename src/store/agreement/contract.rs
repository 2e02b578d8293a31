//! The facts a contract text states, gathered from the registry for one version of an
//! agreement; `documents::text` turns them into the text.

use serde_json::{json, Value};

use super::Agreement;
use crate::db::DbConn;
use crate::documents::text::{or_unknown, parameter_value, render, ContractData, ContractText};
use crate::domain::agreement::german_date;
use crate::domain::Terms;
use crate::error::AppResult;
use crate::store::municipality::Municipality;
use crate::store::organisation::Organisation;
use crate::store::service::Service;

/// The contract text of version `no` (an amendment has its own terms).
pub fn contract_text(conn: &mut DbConn, a: &Agreement, no: i32) -> AppResult<ContractText> {
    render(&contract_data(conn, a, no)?)
}

/// What the contract text of version `no` states, from the registry.
pub fn contract_data(conn: &mut DbConn, a: &Agreement, no: i32) -> AppResult<ContractData> {
    let kind = a.kind;
    let terms: Terms = a.version(conn, no)?.terms()?;
    let dnrw = Organisation::kommunalvertreter(conn)?;
    let reference_of = |conn: &mut DbConn, id: &Option<String>| -> AppResult<Option<String>> {
        id.as_deref()
            .map(|id| Agreement::find(conn, id).map(|l| l.reference))
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
            json!({ "name": o.name, "legal_form": o.legal_form, "address": o.address, "states": states })
        }
        None => Value::Null,
    };
    let municipality = match &a.municipality_id {
        Some(id) => {
            let m = Municipality::find(conn, id)?;
            json!({
                "name": m.name, "display_name": m.display_name(), "ags": m.ags, "ars": m.ars,
                "kreis_name": m.kreis_name, "regierungsbezirk": m.regierungsbezirk, "address": m.address,
            })
        }
        None => Value::Null,
    };
    let (service, parameters) = match &a.service_id {
        Some(id) => {
            let s = Service::find(conn, id)?;
            let operator = match &s.operator_id {
                Some(op) => Some(Organisation::find(conn, op)?.name),
                None => s.operator_note.clone(),
            };
            let parameters: Vec<Value> =
                s.parameter_defs()?
                    .iter()
                    .filter_map(|d| {
                        terms.parameters.get(&d.key).map(
                            |v| json!({ "label": d.label, "value": parameter_value(d.kind, v) }),
                        )
                    })
                    .collect();
            let view = json!({
                "name": s.name, "ozg_id": s.ozg_id, "ozg_name": s.ozg_name, "leika_keys": s.leika_keys()?,
                "providing_state": or_unknown(s.providing_state.as_deref()),
                "operator": or_unknown(operator.as_deref()),
                "data_standard": or_unknown(s.data_standard.as_deref()),
                "dvdv_category": s.dvdv_category,
            });
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
        "dnrw": { "name": dnrw.name, "address": or_unknown(dnrw.address.as_deref()) },
        "agreement": {
            "reference": a.reference, "version": no, "kind_label": kind.label(),
            "effective_from": a.effective_from.map(german_date), "signed_on": a.signed_on.map(german_date),
            "ends_on": a.ends_on.map(german_date), "notice": notice, "costs": terms.costs, "notes": terms.notes,
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
    });
    Ok(ContractData {
        agreement_id: a.id.clone(),
        reference: a.reference.clone(),
        version_no: no,
        kind,
        context,
    })
}
