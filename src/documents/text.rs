//! The contract text of an agreement: the template of its kind (and the AVV annex for EKV
//! and EA) filled with the registry's data. Every rendering records the template versions
//! and the SHA-256 of the text, so a document can be traced to its exact wording.

use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::db::DbConn;
use crate::domain::agreement::german_date;
use crate::domain::{ParameterKind, Terms};
use crate::error::{AppError, AppResult};
use crate::models::agreement::Agreement;
use crate::models::municipality::Municipality;
use crate::models::organisation::Organisation;
use crate::models::service::Service;

/// The templates, embedded at build time so a running instance cannot drift from them.
const TEMPLATES: [(&str, &str); 5] = [
    ("ioev", include_str!("../../contracts/ioev.md")),
    ("ekv", include_str!("../../contracts/ekv.md")),
    ("rv", include_str!("../../contracts/rv.md")),
    ("ea", include_str!("../../contracts/ea.md")),
    ("avv", include_str!("../../contracts/avv.md")),
];

/// A rendered contract text.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ContractText {
    pub agreement_id: String,
    pub reference: String,
    pub version_no: i32,
    /// `ea@1.0`, plus `avv@1.0` for the annex.
    pub templates: Vec<String>,
    /// In the line format described in `contracts/README.md`.
    pub text: String,
    /// SHA-256 of `text` (UTF-8), lower-case hex.
    pub sha256: String,
}

fn source(name: &str) -> AppResult<&'static str> {
    TEMPLATES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
        .ok_or_else(|| AppError::internal(format!("no contract template {name}")))
}

/// The version written in a template's first line: `{#- version: 1.0 -#}`.
pub fn template_version(source: &str) -> Option<&str> {
    let first = source.lines().next()?.trim();
    let inner = first.strip_prefix("{#-")?.strip_suffix("-#}")?.trim();
    inner
        .strip_prefix("version:")
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn render_one(name: &str, context: &tera::Context) -> AppResult<(String, String)> {
    let src = source(name)?;
    let version = template_version(src).ok_or_else(|| {
        AppError::internal(format!("contract template {name} has no version line"))
    })?;
    let mut tera = tera::Tera::default();
    tera.add_raw_template(name, src)
        .map_err(|e| AppError::internal(format!("contract template {name}: {e:?}")))?;
    let text = tera
        .render(name, context)
        .map_err(|e| AppError::internal(format!("rendering {name}: {e:?}")))?;
    Ok((text, format!("{name}@{version}")))
}

/// Trailing spaces off, at most one blank line in a row, one final newline.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = true;
    for line in text.lines().map(str::trim_end) {
        if line.is_empty() {
            if !blank {
                out.push('\n');
            }
            blank = true;
        } else {
            out.push_str(line);
            out.push('\n');
            blank = false;
        }
    }
    out.trim_end().to_string() + "\n"
}

/// How a parameter value reads in a contract.
fn parameter_value(kind: ParameterKind, value: &Value) -> String {
    match (kind, value) {
        (ParameterKind::FeeCents, Value::Number(n)) => {
            let cents = n.as_i64().unwrap_or(0);
            if cents == 0 {
                "gebührenfrei (0,00 €)".to_string()
            } else {
                format!("{},{:02} €", cents / 100, cents % 100)
            }
        }
        (ParameterKind::Boolean, Value::Bool(b)) => if *b { "ja" } else { "nein" }.to_string(),
        (ParameterKind::Epayment, v) => format!(
            "{}, Händlerkennung {}",
            v.get("provider").and_then(Value::as_str).unwrap_or(""),
            v.get("merchant_id").and_then(Value::as_str).unwrap_or("")
        ),
        (ParameterKind::CoatOfArms, Value::String(s)) if s.starts_with("anlage:") => format!(
            "als Datei im Register hinterlegt (Anlage {})",
            s.trim_start_matches("anlage:")
        ),
        (_, Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    }
}

fn or_unknown(v: Option<&str>) -> String {
    v.filter(|s| !s.trim().is_empty())
        .unwrap_or("nicht angegeben")
        .to_string()
}

/// Renders the current version of an agreement's contract text.
pub fn render(conn: &mut DbConn, a: &Agreement) -> AppResult<ContractText> {
    render_version(conn, a, a.current_version)
}

/// The text of version `no` (an amendment has its own terms).
pub fn render_version(conn: &mut DbConn, a: &Agreement, no: i32) -> AppResult<ContractText> {
    let kind = a.kind()?;
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
    let mut context = tera::Context::new();
    context.insert(
        "dnrw",
        &json!({ "name": dnrw.name, "address": or_unknown(dnrw.address.as_deref()) }),
    );
    context.insert(
        "agreement",
        &json!({
            "reference": a.reference, "version": no, "kind_label": kind.label(),
            "effective_from": a.effective_from.map(german_date), "signed_on": a.signed_on.map(german_date),
            "ends_on": a.ends_on.map(german_date), "notice": notice, "costs": terms.costs, "notes": terms.notes,
        }),
    );
    context.insert("direction", a.direction()?.as_str());
    context.insert("links", &links);
    context.insert("counterparty", &counterparty);
    context.insert("municipality", &municipality);
    context.insert(
        "external",
        &a.external_party_ags
            .as_ref()
            .map(|ags| json!({ "name": a.external_party_name, "ags": ags })),
    );
    context.insert("service", &service);
    context.insert("parameters", &parameters);
    context.insert("avv", &terms.avv);

    let (mut text, main) = render_one(kind.as_str(), &context)?;
    let mut templates = vec![main];
    if kind.has_avv() {
        if terms.avv.is_none() {
            return Err(AppError::conflict(
                "incomplete",
                format!(
                    "{} hat noch keine AVV; der Vertragstext braucht sie als Anlage 1.",
                    a.reference
                ),
            ));
        }
        let (annex, version) = render_one("avv", &context)?;
        text.push_str("\n\n");
        text.push_str(&annex);
        templates.push(version);
    }
    let text = tidy(&text);
    let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
    Ok(ContractText {
        agreement_id: a.id.clone(),
        reference: a.reference.clone(),
        version_no: no,
        templates,
        text,
        sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_has_a_version() {
        for (name, src) in TEMPLATES {
            assert!(template_version(src).is_some(), "{name}");
        }
        assert_eq!(template_version("{#- version: 2.1 -#}\n# x"), Some("2.1"));
        assert_eq!(template_version("# x"), None);
    }

    #[test]
    fn fees_and_blank_lines_read_well() {
        assert_eq!(
            parameter_value(ParameterKind::FeeCents, &json!(1250)),
            "12,50 €"
        );
        assert_eq!(
            parameter_value(ParameterKind::FeeCents, &json!(0)),
            "gebührenfrei (0,00 €)"
        );
        assert_eq!(tidy("a  \n\n\n\nb\n\n"), "a\n\nb\n");
    }
}
