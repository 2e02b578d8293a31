//! The terms of an agreement version: the AVV (Art. 28 DSGVO) with its sub-processors, the
//! service parameters, costs and notes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::grammar::{capitalised, Article, Case};
use crate::domain::service::DataProtection;
use crate::domain::{AgreementKind, DomainError, Problems};

/// A sub-processor named in an AVV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubProcessor {
    pub name: String,
    #[serde(default)]
    pub address: Option<String>,
    /// What it does for the processor.
    pub activity: String,
}

/// Auftragsverarbeitungsvereinbarung (Art. 28 Abs. 3 DSGVO) as structured data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Avv {
    /// Gegenstand der Verarbeitung.
    pub subject: String,
    /// Dauer der Verarbeitung.
    pub duration: String,
    /// Art und Zweck der Verarbeitung.
    pub nature_and_purpose: String,
    /// Art der personenbezogenen Daten.
    pub data_types: Vec<String>,
    /// Kategorien betroffener Personen.
    pub data_subjects: Vec<String>,
    /// Technische und organisatorische Maßnahmen (Art. 32 DSGVO).
    pub technical_measures: Vec<String>,
    /// Unterauftragsverarbeiter.
    #[serde(default)]
    pub sub_processors: Vec<SubProcessor>,
}

impl Avv {
    /// Reports what is missing; an AVV must be complete before anybody signs it.
    pub fn check(&self, problems: &mut Problems) {
        let text = [
            (
                "avv.subject",
                &self.subject,
                "der Gegenstand der Verarbeitung",
            ),
            ("avv.duration", &self.duration, "die Dauer der Verarbeitung"),
            (
                "avv.nature_and_purpose",
                &self.nature_and_purpose,
                "Art und Zweck der Verarbeitung",
            ),
        ];
        for (field, value, what) in text {
            if value.trim().is_empty() {
                problems.add(field, format!("In der AVV fehlt {what}."));
            }
        }
        let lists = [
            (
                "avv.data_types",
                &self.data_types,
                "die Arten personenbezogener Daten",
            ),
            (
                "avv.data_subjects",
                &self.data_subjects,
                "die Kategorien betroffener Personen",
            ),
            (
                "avv.technical_measures",
                &self.technical_measures,
                "die technischen und organisatorischen Maßnahmen",
            ),
        ];
        for (field, value, what) in lists {
            if value.iter().all(|v| v.trim().is_empty()) {
                problems.add(field, format!("In der AVV fehlen {what}."));
            }
        }
        for (i, s) in self.sub_processors.iter().enumerate() {
            if s.name.trim().is_empty() || s.activity.trim().is_empty() {
                problems.add(
                    &format!("avv.sub_processors[{i}]"),
                    "Ein Unterauftragsverarbeiter braucht Name und Tätigkeit.",
                );
            }
        }
    }
}

/// The terms of one version of an agreement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Terms {
    /// EKV and EA: the service's data-protection model when the agreement was made (it
    /// keeps its text when the service's model changes; a change is an amendment).
    /// Absent in terms made before the model was recorded: an AVV.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_protection: Option<DataProtection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avv: Option<Avv>,
    /// EA: the values of the service's parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, Value>,
    /// Agreed costs, as text (e.g. "Kostenfrei bis 31.12.2026, danach nach Kostenschlüssel").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub costs: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

impl Terms {
    /// Checks terms for an agreement of `kind`. `complete` when it goes to signature.
    pub fn check(&self, kind: AgreementKind, complete: bool) -> Result<(), DomainError> {
        let mut problems = Problems::new();
        let model = self.data_protection.unwrap_or_default();
        let required = kind.has_avv() && model.requires_avv();
        match (&self.avv, kind.has_avv(), required) {
            (Some(_), false, _) => problems.add(
                "avv",
                format!(
                    "{} enthält keine AVV; die AVV gehört zu EKV und Einzelabruf.",
                    capitalised(&kind.phrase(Case::Nominative, Article::Indefinite, None))
                ),
            ),
            (Some(_), true, false) => problems.add(
                "avv",
                format!(
                    "Für diesen Dienst gilt „{}“: {} enthält keine AVV.",
                    model.label(),
                    kind.phrase(Case::Nominative, Article::Definite, None)
                ),
            ),
            (Some(avv), true, true) if complete => avv.check(&mut problems),
            (None, _, true) if complete => problems.add(
                "avv",
                format!(
                    "Die AVV fehlt: {} kann ohne AVV nicht zur Unterschrift gehen.",
                    kind.phrase(Case::Nominative, Article::Indefinite, None)
                ),
            ),
            _ => {}
        }
        if !self.parameters.is_empty() && kind != AgreementKind::Ea {
            problems.add(
                "parameters",
                "Parameter werden nur im Einzelabruf festgelegt.",
            );
        }
        problems.into_result()
    }
}

impl crate::domain::text::Inspect for SubProcessor {
    fn inspect(&mut self, t: &mut crate::domain::text::TextCheck) {
        use crate::domain::text::Kind;
        t.text("name", Kind::Name, &mut self.name);
        t.opt("address", Kind::Note, &mut self.address);
        t.text("activity", Kind::Note, &mut self.activity);
    }
}

impl crate::domain::text::Inspect for Avv {
    fn inspect(&mut self, t: &mut crate::domain::text::TextCheck) {
        use crate::domain::text::Kind;
        t.text("subject", Kind::Note, &mut self.subject);
        t.text("duration", Kind::Note, &mut self.duration);
        t.text(
            "nature_and_purpose",
            Kind::Note,
            &mut self.nature_and_purpose,
        );
        t.list("data_types", Kind::Note, &mut self.data_types);
        t.list("data_subjects", Kind::Note, &mut self.data_subjects);
        t.list(
            "technical_measures",
            Kind::Note,
            &mut self.technical_measures,
        );
        t.each("sub_processors", &mut self.sub_processors);
    }
}
