//! Form fields several areas share: a service's parameters (shown, read and mapped to the
//! model's field names), uploaded files, query encoding.

use std::collections::{BTreeMap, HashMap};

use rocket::fs::TempFile;
use rocket::tokio::io::AsyncReadExt;
use serde_json::{json, Value};

use crate::domain::ParameterKind;
use crate::error::{AppError, AppResult, FieldError};
use crate::store::service::Service;

/// The service's parameters as the form shows them (the coat of arms is an upload of its
/// own), with what was typed in `values["p"]`.
pub(crate) fn parameter_fields(service: &Service, values: &Value) -> AppResult<Vec<Value>> {
    Ok(service
        .parameter_defs()?
        .into_iter()
        .filter(|d| d.kind != ParameterKind::CoatOfArms)
        .map(|d| {
            let given = |k: &str| values["p"][k].as_str().unwrap_or("").to_string();
            json!({
                "key": d.key,
                "label": d.label,
                "kind": d.kind,
                "required": d.required,
                "value": given(&d.key),
                "provider": given(&format!("{}.provider", d.key)),
                "merchant_id": given(&format!("{}.merchant_id", d.key)),
            })
        })
        .collect())
}

/// A file field's name and bytes; `None` when no file was chosen.
pub(crate) async fn read_file(file: &Option<TempFile<'_>>) -> AppResult<Option<(String, Vec<u8>)>> {
    let Some(file) = file else { return Ok(None) };
    if file.len() == 0 {
        return Ok(None);
    }
    let name = file
        .raw_name()
        .map(|n| n.dangerous_unsafe_unsanitized_raw().as_str().to_string())
        .unwrap_or_default();
    let mut bytes = Vec::with_capacity(file.len() as usize);
    file.open()
        .await
        .map_err(|e| AppError::bad_request(format!("Upload nicht lesbar: {e}")))?
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| AppError::bad_request(format!("Upload nicht lesbar: {e}")))?;
    Ok(Some((name, bytes)))
}

/// The form's text for typed parameter values (what [`parameter_values`] reads back):
/// a discarded draft's values fill the form again. Files are chosen anew.
pub(crate) fn parameter_texts(
    service: &Service,
    values: &BTreeMap<String, Value>,
) -> AppResult<serde_json::Map<String, Value>> {
    let mut p = serde_json::Map::new();
    for def in service.parameter_defs()? {
        let Some(v) = values.get(&def.key) else {
            continue;
        };
        let key = def.key.clone();
        match (def.kind, v) {
            (ParameterKind::CoatOfArms, _) => {}
            (ParameterKind::Boolean, Value::Bool(true)) => {
                p.insert(key, json!("true"));
            }
            (ParameterKind::FeeCents, Value::Number(n)) => {
                p.insert(key, json!(n.to_string()));
            }
            (ParameterKind::Epayment, v) => {
                for part in ["provider", "merchant_id"] {
                    if let Some(t) = v.get(part).and_then(Value::as_str) {
                        p.insert(format!("{key}.{part}"), json!(t));
                    }
                }
            }
            (_, Value::String(s)) => {
                p.insert(key, json!(s));
            }
            _ => {}
        }
    }
    Ok(p)
}

/// Turns the form's text into typed parameter values, collecting what cannot be read.
pub(crate) fn parameter_values(
    service: &Service,
    raw: &HashMap<String, String>,
    problems: &mut Vec<FieldError>,
) -> AppResult<BTreeMap<String, Value>> {
    let mut values = BTreeMap::new();
    let text = |k: &str| raw.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    for def in service.parameter_defs()? {
        let key = def.key.clone();
        match def.kind {
            ParameterKind::CoatOfArms => {}
            ParameterKind::Boolean => {
                values.insert(key.clone(), Value::Bool(!text(&key).is_empty()));
            }
            ParameterKind::FeeCents => {
                let t = text(&key);
                if t.is_empty() {
                    continue;
                }
                match t.parse::<i64>() {
                    Ok(c) if c >= 0 => {
                        values.insert(key, json!(c));
                    }
                    _ => problems.push(FieldError {
                        field: format!("parameters.{key}"),
                        message: format!(
                            "{}: bitte eine ganze Zahl ab 0 (Cent) eingeben, z. B. 2500 für 25,00 €.",
                            def.label
                        ),
                    }),
                }
            }
            ParameterKind::Epayment => {
                let provider = text(&format!("{key}.provider"));
                let merchant = text(&format!("{key}.merchant_id"));
                if !provider.is_empty() || !merchant.is_empty() {
                    values.insert(
                        key,
                        json!({ "provider": provider, "merchant_id": merchant }),
                    );
                }
            }
            ParameterKind::Url => {
                let t = crate::domain::service::complete_url(&text(&key));
                if !t.is_empty() {
                    values.insert(key, Value::String(t));
                }
            }
            ParameterKind::Email | ParameterKind::Text => {
                let t = text(&key);
                if !t.is_empty() {
                    values.insert(key, Value::String(t));
                }
            }
        }
    }
    Ok(values)
}

pub(crate) use crate::domain::urlencode;

/// The input id of a parameter's field.
pub(crate) fn field_id(model_field: &str) -> String {
    if let Some(key) = model_field.strip_prefix("parameters.") {
        format!("p-{}", key.split('.').next().unwrap_or(key))
    } else {
        model_field.replace('.', "-")
    }
}
