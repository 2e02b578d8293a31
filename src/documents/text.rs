//! The contract text of an agreement: the template of its kind (and the AVV annex for EKV
//! and EA) filled with the registry's data. Every rendering records the template versions
//! and the SHA-256 of the text, so a document can be traced to its exact wording.
//! Pure: the facts come in as `ContractData` (gathered by `store::agreement::contract`).

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::domain::{AgreementKind, ParameterKind};
use crate::error::{AppError, AppResult, ErrorKind};

/// The templates, embedded at build time so a running instance cannot drift from them.
const TEMPLATES: [(&str, &str); 7] = [
    ("ioev", include_str!("../../contracts/ioev.md")),
    ("ekv", include_str!("../../contracts/ekv.md")),
    ("rv", include_str!("../../contracts/rv.md")),
    ("ea", include_str!("../../contracts/ea.md")),
    ("avv", include_str!("../../contracts/avv.md")),
    ("ozg8a", include_str!("../../contracts/ozg8a.md")),
    ("joint", include_str!("../../contracts/joint.md")),
];

/// A rendered contract text.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ContractText {
    pub agreement_id: String,
    pub reference: String,
    pub version_no: i32,
    /// `ea@2.0`, plus `avv@2.0` for the annex.
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

/// All contract templates, parsed once per process (parsing them took more time than
/// rendering on the agreement page).
fn compiled() -> AppResult<&'static tera::Tera> {
    static COMPILED: std::sync::OnceLock<Result<tera::Tera, String>> = std::sync::OnceLock::new();
    COMPILED
        .get_or_init(|| {
            let mut tera = tera::Tera::default();
            tera.add_raw_templates(TEMPLATES.iter().copied())
                .map_err(|e| format!("contract templates: {e:?}"))?;
            Ok(tera)
        })
        .as_ref()
        .map_err(|e| AppError::internal(e.clone()))
}

fn render_one(name: &str, context: &tera::Context) -> AppResult<(String, String)> {
    let src = source(name)?;
    let version = template_version(src).ok_or_else(|| {
        AppError::internal(format!("contract template {name} has no version line"))
    })?;
    let text = compiled()?
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
pub fn parameter_value(kind: ParameterKind, value: &Value) -> String {
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
        (ParameterKind::Epayment, v) => {
            let field = |k: &str| known(v.get(k).and_then(Value::as_str));
            match (field("provider"), field("merchant_id")) {
                (Some(p), Some(m)) => format!("{p}, Händlerkennung {m}"),
                (Some(p), None) => p,
                (None, Some(m)) => format!("Händlerkennung {m}"),
                (None, None) => "ohne Angaben".to_string(),
            }
        }
        (_, Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    }
}

/// A fact the registry may not know: `None` when it is empty, so the template rephrases
/// the sentence instead of writing a gap into it.
pub fn known(v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The facts of one version of an agreement that its contract text states, gathered from
/// the registry (`store::agreement::contract`): the template's context as JSON.
#[derive(Debug, Clone)]
pub struct ContractData {
    pub agreement_id: String,
    pub reference: String,
    pub version_no: i32,
    pub kind: AgreementKind,
    pub context: Value,
}

/// The contract text of these facts: the kind's template, and the AVV annex where the
/// kind has one.
pub fn render(data: &ContractData) -> AppResult<ContractText> {
    let kind = data.kind;
    let context = tera::Context::from_value(data.context.clone())
        .map_err(|e| AppError::internal(format!("contract context: {e}")))?;
    let (mut text, main) = render_one(kind.as_str(), &context)?;
    let mut templates = vec![main];
    // The annex of EKV and EA follows the service's data-protection model (recorded in
    // the terms): the AVV, the § 8a OZG sheet or the Art. 26 agreement.
    let annex = match data.context["data_protection"].as_str() {
        Some("ozg8a") => "ozg8a",
        Some("joint_control") => "joint",
        _ => "avv",
    };
    if kind.has_avv() && annex != "avv" {
        let (text_annex, version) = render_one(annex, &context)?;
        text.push_str("\n\n");
        text.push_str(&text_annex);
        templates.push(version);
    } else if kind.has_avv() {
        if data.context["avv"].is_null() {
            return Err(AppError::new(
                ErrorKind::Incomplete,
                format!(
                    "{} hat noch keine AVV; der Vertragstext braucht sie als Anlage 1.",
                    data.reference
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
        agreement_id: data.agreement_id.clone(),
        reference: data.reference.clone(),
        version_no: data.version_no,
        templates,
        text,
        sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
