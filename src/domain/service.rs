//! The EfA catalogue: availability and the parameters a municipality may set.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{codes, DomainError, Problems};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    Available,
    ComingSoon,
    Withdrawn,
}

impl Availability {
    pub fn as_str(self) -> &'static str {
        match self {
            Availability::Available => "available",
            Availability::ComingSoon => "coming_soon",
            Availability::Withdrawn => "withdrawn",
        }
    }
    pub fn parse(s: &str) -> Option<Availability> {
        Some(match s {
            "available" => Availability::Available,
            "coming_soon" => Availability::ComingSoon,
            "withdrawn" => Availability::Withdrawn,
            _ => return None,
        })
    }
    pub fn label(self) -> &'static str {
        match self {
            Availability::Available => "verfügbar",
            Availability::ComingSoon => "in Kürze verfügbar",
            Availability::Withdrawn => "eingestellt",
        }
    }
}

/// Who is responsible for data protection when a service is re-used, as d-NRW records it
/// per service (a fact of the service, not a legal conclusion in code). Since the OZG
/// amendment of 2024, § 8a OZG makes the authority that runs an online service
/// responsible, so some providers no longer ask for an AVV; others keep one, or agree on
/// joint control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DataProtection {
    /// Processing on behalf (Art. 28 DSGVO): EKV and EA carry an AVV (the default of
    /// every service recorded before the model was).
    #[default]
    Avv,
    /// The operator is responsible under § 8a OZG: no AVV, an information sheet.
    Ozg8a,
    /// Joint controllers (Art. 26 DSGVO): an agreement on their responsibilities.
    JointControl,
}

impl DataProtection {
    pub const ALL: [DataProtection; 3] = [
        DataProtection::Avv,
        DataProtection::Ozg8a,
        DataProtection::JointControl,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            DataProtection::Avv => "avv",
            DataProtection::Ozg8a => "ozg8a",
            DataProtection::JointControl => "joint_control",
        }
    }
    pub fn parse(s: &str) -> Option<DataProtection> {
        DataProtection::ALL.into_iter().find(|d| d.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            DataProtection::Avv => "Auftragsverarbeitung (Art. 28 DSGVO): mit AVV",
            DataProtection::Ozg8a => "Verantwortung des Betreibers nach § 8a OZG: ohne AVV",
            DataProtection::JointControl => "Gemeinsame Verantwortlichkeit (Art. 26 DSGVO)",
        }
    }
    /// Whether EKV and EA of the service carry an AVV.
    pub fn requires_avv(self) -> bool {
        self == DataProtection::Avv
    }
}

/// The type of a parameter a municipality sets when it calls a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParameterKind {
    /// ePayment data: an object with at least `provider` and `merchant_id`.
    Epayment,
    /// A fee in euro cents (0 skips payment).
    FeeCents,
    /// A coat of arms (reference to an uploaded image).
    CoatOfArms,
    /// A URL (e.g. the responsible office's page).
    Url,
    /// An e-mail address.
    Email,
    /// Free text.
    Text,
    /// Yes / no.
    Boolean,
}

/// One parameter of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParameterDef {
    pub key: String,
    pub label: String,
    pub kind: ParameterKind,
    #[serde(default)]
    pub required: bool,
}

/// Checks the parameter list of a service (keys unique and well-formed).
pub fn check_parameter_defs(problems: &mut Problems, defs: &[ParameterDef]) {
    let mut seen = std::collections::BTreeSet::new();
    for (i, d) in defs.iter().enumerate() {
        let ok = !d.key.is_empty()
            && d.key.len() <= 40
            && d.key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            problems.add(
                &format!("parameters[{i}].key"),
                format!("„{}“ ist kein gültiger Parameterschlüssel (a–z, 0–9, _; höchstens 40 Zeichen).", d.key),
            );
        }
        if !seen.insert(d.key.clone()) {
            problems.add(
                &format!("parameters[{i}].key"),
                format!("Der Parameter „{}“ ist doppelt.", d.key),
            );
        }
        if d.label.trim().is_empty() {
            problems.add(
                &format!("parameters[{i}].label"),
                "Die Bezeichnung darf nicht leer sein.",
            );
        }
    }
}

/// Checks a list of Leika keys: at least one, each valid, none twice.
pub fn check_leika_keys(problems: &mut Problems, keys: &[String]) {
    if keys.is_empty() {
        problems.add(
            "leika_keys",
            "Mindestens ein Leika-Schlüssel ist anzugeben.",
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, k) in keys.iter().enumerate() {
        problems.check(&format!("leika_keys[{i}]"), codes::check_leika(k));
        if !seen.insert(k) {
            problems.add(
                &format!("leika_keys[{i}]"),
                format!("Der Leika-Schlüssel {k} ist doppelt."),
            );
        }
    }
}

/// A web address as people type it, completed: "www.koeln.de/wohngeld" becomes
/// "https://www.koeln.de/wohngeld" (a form field; the API takes addresses as given).
pub fn complete_url(text: &str) -> String {
    let t = text.trim();
    if t.to_ascii_lowercase().starts_with("www.") {
        format!("https://{t}")
    } else {
        t.to_string()
    }
}

/// Checks the values a municipality gives for a service's parameters. With `complete`,
/// every required parameter must be there (at submission); drafts may be partial.
pub fn check_parameter_values(
    defs: &[ParameterDef],
    values: &BTreeMap<String, Value>,
    complete: bool,
) -> Result<(), DomainError> {
    let mut problems = Problems::new();
    for (key, value) in values {
        let field = format!("parameters.{key}");
        let Some(def) = defs.iter().find(|d| &d.key == key) else {
            let known = defs
                .iter()
                .map(|d| d.key.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            problems.add(
                &field,
                format!("Der Dienst kennt den Parameter „{key}“ nicht (bekannt: {known})."),
            );
            continue;
        };
        if let Err(e) = check_value(def, value) {
            problems.add(&field, e);
        }
    }
    if complete {
        for def in defs.iter().filter(|d| d.required) {
            if !values.contains_key(&def.key) {
                problems.add(
                    &format!("parameters.{}", def.key),
                    format!(
                        "Bitte geben Sie „{}“ an; der Dienst braucht diese Angabe.",
                        def.label
                    ),
                );
            }
        }
    }
    problems.into_result()
}

fn check_value(def: &ParameterDef, value: &Value) -> Result<(), String> {
    let label = &def.label;
    match def.kind {
        ParameterKind::FeeCents => match value.as_i64() {
            Some(c) if c >= 0 => Ok(()),
            _ => Err(format!(
                "{label}: eine Gebühr in Cent (ganze Zahl ≥ 0) wird erwartet."
            )),
        },
        ParameterKind::Boolean => value
            .as_bool()
            .map(|_| ())
            .ok_or_else(|| format!("{label}: ja oder nein (true/false) wird erwartet.")),
        ParameterKind::Text | ParameterKind::CoatOfArms => match value.as_str() {
            Some(s) if !s.trim().is_empty() && s.len() <= 2000 => Ok(()),
            _ => Err(format!(
                "{label}: ein nicht leerer Text (höchstens 2000 Zeichen) wird erwartet."
            )),
        },
        ParameterKind::Url => match value.as_str() {
            Some(s)
                if (s.starts_with("https://") || s.starts_with("http://"))
                    && s.len() > 10
                    && !s.contains(' ') =>
            {
                Ok(())
            }
            _ => Err(format!(
                "{label}: eine Web-Adresse (https://…) wird erwartet."
            )),
        },
        ParameterKind::Email => match value.as_str() {
            Some(s) => codes::check_email(s).map_err(|e| format!("{label}: {e}")),
            None => Err(format!("{label}: eine E-Mail-Adresse wird erwartet.")),
        },
        ParameterKind::Epayment => {
            let provider = value.get("provider").and_then(Value::as_str).unwrap_or("");
            let merchant = value
                .get("merchant_id")
                .and_then(Value::as_str)
                .unwrap_or("");
            if provider.trim().is_empty() || merchant.trim().is_empty() {
                Err(format!(
                    "{label}: ePayment-Daten brauchen „provider“ und „merchant_id“."
                ))
            } else {
                Ok(())
            }
        }
    }
}

impl crate::domain::text::Inspect for ParameterDef {
    fn inspect(&mut self, t: &mut crate::domain::text::TextCheck) {
        use crate::domain::text::Kind;
        t.text("key", Kind::Code, &mut self.key);
        t.text("label", Kind::Name, &mut self.label);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn web_addresses_typed_with_www_are_completed() {
        assert_eq!(
            super::complete_url(" www.koeln.de/x "),
            "https://www.koeln.de/x"
        );
        assert_eq!(super::complete_url("WWW.koeln.de"), "https://WWW.koeln.de");
        assert_eq!(super::complete_url("https://koeln.de"), "https://koeln.de");
        assert_eq!(super::complete_url("koeln.de"), "koeln.de");
    }

    use super::*;
    use serde_json::json;

    fn defs() -> Vec<ParameterDef> {
        vec![
            ParameterDef {
                key: "fee".into(),
                label: "Gebühr".into(),
                kind: ParameterKind::FeeCents,
                required: true,
            },
            ParameterDef {
                key: "epayment".into(),
                label: "ePayment".into(),
                kind: ParameterKind::Epayment,
                required: false,
            },
        ]
    }

    #[test]
    fn parameter_values_are_typed_and_required_ones_checked_on_completion() {
        let mut v = BTreeMap::new();
        v.insert("fee".to_string(), json!(0));
        assert!(check_parameter_values(&defs(), &v, true).is_ok());
        v.insert("fee".to_string(), json!("zehn"));
        assert!(check_parameter_values(&defs(), &v, false).is_err());
        let empty = BTreeMap::new();
        assert!(check_parameter_values(&defs(), &empty, false).is_ok());
        let Err(DomainError::Invalid(p)) = check_parameter_values(&defs(), &empty, true) else {
            panic!()
        };
        assert!(p[0].1.contains("Gebühr"), "{p:?}");
        let mut unknown = BTreeMap::new();
        unknown.insert("farbe".to_string(), json!("blau"));
        assert!(check_parameter_values(&defs(), &unknown, false).is_err());
    }
}
