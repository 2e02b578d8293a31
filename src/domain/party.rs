//! Parties: municipalities (their Trägerschaft: `domain::membership`), organisations (intermediaries of the
//! Länder, providers and operators), contacts.

use serde::{Deserialize, Serialize};

use super::codes;
use super::Problems;

/// What kind of local authority a municipality is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MunicipalityKind {
    Gemeinde,
    Stadt,
    KreisfreieStadt,
    Kreis,
}

impl MunicipalityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MunicipalityKind::Gemeinde => "gemeinde",
            MunicipalityKind::Stadt => "stadt",
            MunicipalityKind::KreisfreieStadt => "kreisfreie_stadt",
            MunicipalityKind::Kreis => "kreis",
        }
    }
    pub fn parse(s: &str) -> Option<MunicipalityKind> {
        Some(match s {
            "gemeinde" => MunicipalityKind::Gemeinde,
            "stadt" => MunicipalityKind::Stadt,
            "kreisfreie_stadt" => MunicipalityKind::KreisfreieStadt,
            "kreis" => MunicipalityKind::Kreis,
            _ => return None,
        })
    }
    pub fn label(self) -> &'static str {
        match self {
            MunicipalityKind::Gemeinde => "Gemeinde",
            MunicipalityKind::Stadt => "Stadt",
            MunicipalityKind::KreisfreieStadt => "kreisfreie Stadt",
            MunicipalityKind::Kreis => "Kreis",
        }
    }
}

/// "Kleve, Stadt" → "Stadt Kleve"; a Kreis "Kleve" → "Kreis Kleve" for use in sentences and lists.
pub fn display_name(name: &str, kind: MunicipalityKind) -> String {
    match name.split_once(", ") {
        Some((name, kind)) => format!("{kind} {name}"),
        None if kind == MunicipalityKind::Kreis
            && !name.contains("Kreis")
            && !name.contains("kreis")
            && !name.contains("region") =>
        {
            format!("Kreis {name}")
        }
        None => name.to_string(),
    }
}

/// A Land an intermediary acts for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRef {
    pub land_key: String,
    pub state: String,
}

/// Checks the Länder an intermediary acts for.
pub fn check_states(problems: &mut Problems, states: &[StateRef]) {
    for (i, s) in states.iter().enumerate() {
        let field = format!("states[{i}].land_key");
        match codes::check_land_key(&s.land_key) {
            Err(e) => problems.add(&field, e),
            Ok(()) => {
                if codes::land_name(&s.land_key) != Some(s.state.as_str()) {
                    problems.add(
                        &format!("states[{i}].state"),
                        format!(
                            "Der Länderschlüssel {} gehört zu {}, nicht zu „{}“.",
                            s.land_key,
                            codes::land_name(&s.land_key).unwrap_or("?"),
                            s.state
                        ),
                    );
                }
            }
        }
    }
}

/// Checks a municipality's keys and figures.
pub fn check_municipality(
    problems: &mut Problems,
    ags: &str,
    ars: &str,
    name: &str,
    population: Option<i64>,
) {
    problems.check("ags", codes::check_nrw_ags(ags));
    problems.check("ars", codes::check_ars(ars, ags));
    if name.trim().is_empty() {
        problems.add("name", "Der Name darf nicht leer sein.");
    }
    if population.is_some_and(|p| p < 0) {
        problems.add("population", "Die Einwohnerzahl darf nicht negativ sein.");
    }
}

/// Checks a contact person.
pub fn check_contact(problems: &mut Problems, name: &str, email: Option<&str>) {
    if name.trim().is_empty() {
        problems.add("name", "Der Name der Ansprechperson darf nicht leer sein.");
    }
    if let Some(email) = email {
        problems.check("email", codes::check_email(email));
    }
}

impl crate::domain::text::Inspect for StateRef {
    fn inspect(&mut self, t: &mut crate::domain::text::TextCheck) {
        use crate::domain::text::Kind;
        t.text("land_key", Kind::Code, &mut self.land_key);
        t.text("state", Kind::Name, &mut self.state);
    }
}
