//! The Nachnutzung rules as plain Rust: kinds, codes, lifecycle, preconditions.
//! Nothing here knows Rocket or Diesel, so every rule is unit-testable in microseconds and
//! the JSON API, the CLI and (later) the web forms all call the same functions.

pub mod account;
pub mod agreement;
pub mod berlin;
pub mod codes;
pub mod golive;
pub mod grammar;
pub mod membership;
pub mod party;
pub mod policy;
pub mod rules;
pub mod service;
pub mod signing;
pub mod terms;
pub mod text;
pub mod upload;

pub use agreement::{Action, AgreementKind, Avv, Direction, Status, Terms, VersionStatus};
pub use party::MunicipalityKind;
pub use service::{Availability, ParameterDef, ParameterKind};

/// Why the domain refuses something. Messages are German: users read them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// Input that is malformed: (field, message) pairs.
    #[error("invalid input: {0:?}")]
    Invalid(Vec<(String, String)>),
    /// A rule of the Nachnutzungsmodell forbids it; the message names what is missing.
    #[error("{0}")]
    Rule(String),
    /// The lifecycle does not allow this step from the current status.
    #[error("{0}")]
    Transition(String),
    /// It would contradict existing data (duplicate, dependants).
    #[error("{0}")]
    Conflict(String),
}

impl DomainError {
    pub fn invalid(field: &str, message: impl Into<String>) -> DomainError {
        DomainError::Invalid(vec![(field.to_string(), message.into())])
    }
}

/// Collects field errors so a form or API call can report all of them at once.
#[derive(Debug, Default)]
pub struct Problems(Vec<(String, String)>);

impl Problems {
    pub fn new() -> Problems {
        Problems(Vec::new())
    }
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push((field.to_string(), message.into()));
    }
    /// Records the error of a check, if any.
    pub fn check(&mut self, field: &str, result: Result<(), String>) {
        if let Err(message) = result {
            self.add(field, message);
        }
    }
    pub fn into_result(self) -> Result<(), DomainError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(self.0))
        }
    }
}

/// Lower-cased, umlaut-folded form of a name for portable case-insensitive search
/// (PostgreSQL's LIKE is case-sensitive, SQLite's only for ASCII).
pub fn search_key(text: &str) -> String {
    text.to_lowercase()
        .replace('ä', "ae")
        .replace('ö', "oe")
        .replace('ü', "ue")
        .replace('ß', "ss")
}

/// A search as people type it in a list's search field: it matches a text that contains
/// it, compared by `search_key` (case and umlauts aside); an empty search matches all.
#[derive(Debug, Clone)]
pub struct Search(String);

impl Search {
    pub fn new(q: &str) -> Search {
        Search(search_key(q))
    }

    /// Whether any of `texts` contains the search.
    pub fn matches<'a>(&self, texts: impl IntoIterator<Item = &'a str>) -> bool {
        self.0.is_empty() || texts.into_iter().any(|t| search_key(t).contains(&self.0))
    }
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn search_key_folds_case_and_umlauts() {
        assert_eq!(super::search_key("Düsseldorf, Stadt"), "duesseldorf, stadt");
        assert_eq!(super::search_key("GROßE"), "grosse");
    }

    #[test]
    fn a_search_matches_any_text_that_contains_it_and_an_empty_one_all() {
        let koeln = super::Search::new("KÖLN");
        assert!(koeln.matches(["Wohngeld", "Stadt Köln"]));
        assert!(!koeln.matches(["Wohngeld", "Stadt Bonn"]));
        assert!(super::Search::new("").matches(std::iter::empty::<&str>()));
    }
}
