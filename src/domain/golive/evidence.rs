//! What a completed go-live task must show: the evidence fields checked against the facts
//! (DVDV organisation key, certificate, web addresses, dates), and the go-live date.

use serde_json::{json, Map, Value};
use time::Date;

use super::*;
use crate::domain::agreement::german_date;
use crate::domain::{codes, DomainError, Problems};

/// The DVDV category prefix ("wgb") of a service's category text ("wgb (Wohngeldbehörde)",
/// "bab: + AGS …"): its leading lower-case letters, when there are two to five.
pub fn dvdv_prefix(category: Option<&str>) -> Option<String> {
    let text = category?.trim();
    let prefix: String = text
        .chars()
        .take_while(|c| c.is_ascii_lowercase())
        .collect();
    let rest = &text[prefix.len()..];
    let ends_well = rest.is_empty() || rest.starts_with([' ', ':', '(']);
    ((2..=5).contains(&prefix.len()) && ends_well).then_some(prefix)
}

/// The organisation key the DVDV entry should carry: category prefix and AGS.
pub fn organisation_key(prefix: &str, ags: &str) -> String {
    format!("{prefix}:{ags}")
}

/// Checks a DVDV organisation key: `prefix:` and the municipality's AGS, optionally followed
/// by further digits (some categories append a suffix, e.g. "00", or use the 12-digit ARS).
pub fn check_organisation_key(key: &str, prefix: Option<&str>, ags: &str) -> Result<(), String> {
    let Some((p, digits)) = key.split_once(':') else {
        return Err(format!(
            "„{key}“ ist kein DVDV-Organisationsschlüssel: er hat die Form Kategorie:AGS, z. B. {}.",
            organisation_key(prefix.unwrap_or("wgb"), ags)
        ));
    };
    if !(2..=5).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(format!(
            "„{p}“ ist keine DVDV-Behördenkategorie (2 bis 5 Kleinbuchstaben)."
        ));
    }
    if let Some(expected) = prefix {
        if p != expected {
            return Err(format!(
                "Der Dienst verlangt die DVDV-Behördenkategorie „{expected}“, nicht „{p}“."
            ));
        }
    }
    let ars_form = digits.len() == 12 && digits[..5] == ags[..5.min(ags.len())];
    if !digits.bytes().all(|b| b.is_ascii_digit())
        || digits.len() > 14
        || !(digits.starts_with(ags) || ars_form)
    {
        return Err(format!(
            "Nach der Kategorie folgt der Gemeindeschlüssel der Kommune ({ags}), z. B. {}.",
            organisation_key(p, ags)
        ));
    }
    Ok(())
}

/// The certificate on file for the DVDV task, as the model found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    pub attachment_id: String,
    pub subject: String,
    pub fingerprint_sha256: String,
    pub not_after: Date,
}

/// What the evidence check needs to know besides the input.
#[derive(Debug, Clone)]
pub struct EvidenceContext<'a> {
    /// The service's Leika keys: the VSM entry may name only these.
    pub service_leika_keys: &'a [String],
    /// The DVDV category prefix of the service, if it prescribes one.
    pub dvdv_prefix: Option<&'a str>,
    /// The AGS of the municipality the service goes live for.
    pub ags: &'a str,
    pub today: Date,
    /// DVDV: the newest certificate handed in with the EA.
    pub certificate: Option<CertificateFacts>,
    /// Parameters: the EA's parameter values, and why they are incomplete (if they are).
    pub parameters: &'a Value,
    pub parameters_problem: Option<String>,
}

fn text_value(input: &Map<String, Value>, key: &str) -> Option<String> {
    match input.get(key) {
        Some(Value::String(s)) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn list_value(input: &Map<String, Value>, key: &str) -> Vec<String> {
    match input.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        Some(Value::String(s)) => s
            .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// Checks a web address: http(s), with a host, no spaces.
pub fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !url.contains(char::is_whitespace) => {
            Ok(())
        }
        _ => Err(format!(
            "„{url}“ ist keine Web-Adresse: sie beginnt mit https:// und nennt einen Server."
        )),
    }
}

const MAX_TEXT: usize = 300;

const ISO_DATE: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// Checks the evidence for completing a task of `kind` and returns what is recorded.
/// All problems are reported at once, each at its field.
pub fn check_evidence(
    kind: TaskKind,
    input: &Map<String, Value>,
    ctx: &EvidenceContext<'_>,
) -> Result<Value, DomainError> {
    let mut p = Problems::new();
    let known: Vec<&str> = kind.evidence_fields().iter().map(|f| f.0).collect();
    for key in input.keys() {
        if !known.contains(&key.as_str()) {
            p.add(
                key,
                format!("„{key}“ gehört nicht zu den Nachweisen dieser Aufgabe."),
            );
        }
    }
    let mut out = Map::new();
    for (key, label, field) in kind.evidence_fields() {
        match field {
            FieldKind::LeikaList => {
                let keys = list_value(input, key);
                if keys.is_empty() {
                    p.add(key, format!("{label}: mindestens einer ist anzugeben."));
                }
                for k in &keys {
                    match codes::check_leika(k) {
                        Err(e) => p.add(key, e),
                        Ok(()) if !ctx.service_leika_keys.contains(k) => p.add(
                            key,
                            format!("Der Leika-Schlüssel {k} gehört nicht zu diesem Dienst."),
                        ),
                        Ok(()) => {}
                    }
                }
                out.insert(key.to_string(), json!(keys));
            }
            FieldKind::Text | FieldKind::OptionalText | FieldKind::Url => {
                match text_value(input, key) {
                    None if *field == FieldKind::OptionalText => {}
                    None => p.add(key, format!("{label} ist anzugeben.")),
                    Some(v) if v.chars().count() > MAX_TEXT => {
                        p.add(key, format!("{label}: höchstens {MAX_TEXT} Zeichen."))
                    }
                    Some(v) => {
                        if *field == FieldKind::Url {
                            p.check(key, check_url(&v));
                        }
                        out.insert(key.to_string(), json!(v));
                    }
                }
            }
            FieldKind::Date => match text_value(input, key) {
                None => p.add(key, format!("{label} ist anzugeben.")),
                Some(v) => match Date::parse(&v, ISO_DATE) {
                    Err(_) => p.add(key, format!("{label}: „{v}“ ist kein Datum (JJJJ-MM-TT).")),
                    Ok(d) if d > ctx.today => {
                        p.add(key, format!("{label} darf nicht in der Zukunft liegen."))
                    }
                    Ok(_) => {
                        out.insert(key.to_string(), json!(v));
                    }
                },
            },
        }
    }
    match kind {
        TaskKind::Dvdv => {
            if let Some(key) = out.get("organisation_key").and_then(Value::as_str) {
                p.check(
                    "organisation_key",
                    check_organisation_key(key, ctx.dvdv_prefix, ctx.ags),
                );
            }
            match &ctx.certificate {
                None => p.add(
                    "certificate",
                    "Es ist kein DVDV-Verschlüsselungszertifikat hinterlegt; laden Sie es beim Einzelabruf hoch.",
                ),
                Some(c) if c.not_after < ctx.today => p.add(
                    "certificate",
                    format!(
                        "Das hinterlegte Zertifikat ist am {} abgelaufen; laden Sie ein gültiges hoch.",
                        german_date(c.not_after)
                    ),
                ),
                Some(c) => {
                    out.insert("certificate_attachment_id".into(), json!(c.attachment_id));
                    out.insert("certificate_subject".into(), json!(c.subject));
                    out.insert(
                        "certificate_fingerprint_sha256".into(),
                        json!(c.fingerprint_sha256),
                    );
                    out.insert(
                        "certificate_expires_on".into(),
                        json!(c.not_after.to_string()),
                    );
                }
            }
        }
        TaskKind::Parameters => match &ctx.parameters_problem {
            Some(problem) => p.add("parameters", problem.clone()),
            None => {
                out.insert("parameters".into(), ctx.parameters.clone());
            }
        },
        TaskKind::Provider => {
            if let (Some(handed), Some(confirmed)) = (
                out.get("handed_over_on").and_then(Value::as_str),
                out.get("confirmed_on").and_then(Value::as_str),
            ) {
                // Both are ISO dates here, so they compare as text.
                if confirmed < handed {
                    p.add(
                        "confirmed_on",
                        "Die Freischaltung kann nicht vor der Übergabe der Konfiguration bestätigt sein.",
                    );
                }
            }
        }
        TaskKind::Vsm | TaskKind::Receiving => {}
    }
    p.into_result()?;
    Ok(Value::Object(out))
}

/// The go-live date of an EA whose tasks are as given: the last completion day once every
/// task is done, otherwise none.
pub fn live_on(tasks: &[(TaskStatus, Option<Date>)]) -> Option<Date> {
    if tasks.is_empty() || tasks.iter().any(|(s, _)| *s != TaskStatus::Done) {
        return None;
    }
    tasks.iter().filter_map(|(_, d)| *d).max()
}
