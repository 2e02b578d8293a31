//! Trägerschaft at d-NRW: a municipality becomes a Träger by its council's decision, a
//! declaration of accession and a capital contribution of 1.000 € (refunded without
//! interest when it leaves). Only Träger obtain d-NRW's services in-house; an RV or
//! Einzelabruf for a municipality recorded as not being one needs a stated reason.
//!
//! The registry records what it knows: no record is "nicht erfasst" (the sources give
//! only counts of Träger, not their names), which is neither "ja" nor "nein".

use time::Date;

use super::agreement::german_date;
use super::grammar::capitalised;
use super::{AgreementKind, DomainError, Problems};

/// The capital contribution a Träger pays (the seeds: "einmalige Stammkapitaleinlage in
/// Höhe von 1.000 €"), in euro cents.
pub const CAPITAL_CENTS: i64 = 100_000;

/// The longest reason for an agreement without Trägerschaft, in characters.
pub const REASON_MAX: usize = 1000;

/// The shortest: it becomes contract text, so a sentence, not "x".
pub const REASON_MIN: usize = 20;

/// What is recorded about a municipality's Trägerschaft.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub is_member: bool,
    pub council_decision_on: Option<Date>,
    pub accession_declared_on: Option<Date>,
    pub capital_cents: Option<i64>,
    pub capital_paid_on: Option<Date>,
    pub left_on: Option<Date>,
    pub capital_refunded_on: Option<Date>,
}

/// A municipality's standing as Träger of d-NRW.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Nothing recorded.
    Unknown,
    /// Träger since the declaration of accession.
    Member { since: Date },
    /// Recorded as not a Träger: never joined, joined and left, or decided to join
    /// without having declared the accession yet.
    NotMember {
        decided_on: Option<Date>,
        left_on: Option<Date>,
    },
}

impl Standing {
    /// From a record, if there is one.
    pub fn of(facts: Option<&Facts>) -> Standing {
        match facts {
            None => Standing::Unknown,
            Some(f) => match (f.is_member, f.accession_declared_on) {
                (true, Some(since)) => Standing::Member { since },
                _ => Standing::NotMember {
                    decided_on: f.council_decision_on.filter(|_| f.left_on.is_none()),
                    left_on: f.left_on,
                },
            },
        }
    }

    /// The code of the API and of the filters: `traeger`, `kein_traeger`, `nicht_erfasst`.
    pub fn code(self) -> &'static str {
        match self {
            Standing::Unknown => "nicht_erfasst",
            Standing::Member { .. } => "traeger",
            Standing::NotMember { .. } => "kein_traeger",
        }
    }

    /// Short, for lists: "ja", "nein", "nicht erfasst".
    pub fn short(self) -> &'static str {
        match self {
            Standing::Unknown => "nicht erfasst",
            Standing::Member { .. } => "ja",
            Standing::NotMember { .. } => "nein",
        }
    }

    /// In full, for a page: "Träger seit 01.02.2021", "kein Träger (ausgetreten am …)".
    pub fn label(self) -> String {
        match self {
            Standing::Unknown => "nicht erfasst".into(),
            Standing::Member { since } => format!("Träger seit {}", german_date(since)),
            Standing::NotMember {
                left_on: Some(d), ..
            } => format!("kein Träger (ausgetreten am {})", german_date(d)),
            Standing::NotMember {
                decided_on: Some(d),
                ..
            } => format!(
                "kein Träger (Beitritt am {} beschlossen, die Beitrittserklärung steht aus)",
                german_date(d)
            ),
            Standing::NotMember { .. } => "kein Träger".into(),
        }
    }

    pub fn is_member(self) -> bool {
        matches!(self, Standing::Member { .. })
    }
}

/// Whether an agreement of `kind` for a municipality needs the reason rule at all: the
/// RV and the (inbound) Einzelabruf, which name an NRW municipality.
pub fn applies_to(kind: AgreementKind, names_municipality: bool) -> bool {
    names_municipality && matches!(kind, AgreementKind::Rv | AgreementKind::Ea)
}

/// An RV or Einzelabruf for a municipality recorded as not being a Träger is allowed
/// only with a reason; for a Träger, a reason would contradict the record. `name` is the
/// municipality as in a sentence ("Stadt Köln"). `reason_is_new`: the reason is being
/// given now (a reason recorded before the municipality joined stays on the record).
pub fn check_reason(
    standing: Standing,
    reason: Option<&str>,
    reason_is_new: bool,
    name: &str,
) -> Result<(), DomainError> {
    let mut p = Problems::new();
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    match (standing, reason) {
        (Standing::NotMember { .. }, None) => p.add(
            "non_member_reason",
            format!(
                "{} ist als „kein Träger“ der d-NRW AöR erfasst. Bitte geben Sie die Grundlage \
                 der Nachnutzung ohne Trägerschaft an (z. B. die vergaberechtliche Grundlage).",
                capitalised(name)
            ),
        ),
        (Standing::Member { .. }, Some(_)) if reason_is_new => p.add(
            "non_member_reason",
            format!(
                "{} ist als Träger der d-NRW AöR erfasst; eine Grundlage für eine Nachnutzung \
                 ohne Trägerschaft entfällt.",
                capitalised(name)
            ),
        ),
        _ => {}
    }
    match reason.map(|r| r.chars().count()) {
        Some(n) if n > REASON_MAX => p.add(
            "non_member_reason",
            format!("Bitte fassen Sie die Grundlage in höchstens {REASON_MAX} Zeichen."),
        ),
        Some(n) if n < REASON_MIN && reason_is_new => p.add(
            "non_member_reason",
            format!(
                "Die Grundlage wird Teil des Vertrags: bitte in einem ganzen Satz (mindestens {REASON_MIN} Zeichen), etwa „Horizontale Zusammenarbeit öffentlicher Auftraggeber nach § 108 Abs. 6 GWB“."
            ),
        ),
        _ => {}
    }
    p.into_result()
}

/// Checks a record before it is stored. `today` is the Berlin day.
pub fn check(f: &Facts, today: Date) -> Result<(), DomainError> {
    let mut p = Problems::new();
    let dates = [
        (
            "council_decision_on",
            f.council_decision_on,
            "Der Beschluss",
        ),
        (
            "accession_declared_on",
            f.accession_declared_on,
            "Die Beitrittserklärung",
        ),
        (
            "capital_paid_on",
            f.capital_paid_on,
            "Die Zahlung der Einlage",
        ),
        ("left_on", f.left_on, "Der Austritt"),
        (
            "capital_refunded_on",
            f.capital_refunded_on,
            "Die Erstattung der Einlage",
        ),
    ];
    for (field, date, what) in dates {
        if date.is_some_and(|d| d > today) {
            p.add(field, format!("{what} kann nicht in der Zukunft liegen."));
        }
    }
    if f.is_member {
        if f.accession_declared_on.is_none() {
            p.add(
                "accession_declared_on",
                "Träger wird eine Kommune durch ihre Beitrittserklärung: bitte deren Datum angeben.",
            );
        }
        if f.left_on.is_some() {
            p.add(
                "left_on",
                "Eine ausgetretene Kommune ist kein Träger mehr: bitte „kein Träger“ wählen.",
            );
        }
    }
    if let (Some(decided), Some(declared)) = (f.council_decision_on, f.accession_declared_on) {
        if declared < decided {
            p.add(
                "accession_declared_on",
                "Die Beitrittserklärung folgt dem Beschluss und kann nicht vor ihm liegen.",
            );
        }
    }
    if let (Some(declared), Some(left)) = (f.accession_declared_on, f.left_on) {
        if left < declared {
            p.add(
                "left_on",
                "Der Austritt kann nicht vor der Beitrittserklärung liegen.",
            );
        }
    }
    if let Some(refunded) = f.capital_refunded_on {
        match f.left_on {
            None => p.add(
                "capital_refunded_on",
                "Die Einlage wird erst nach einem Austritt erstattet.",
            ),
            Some(left) if refunded < left => p.add(
                "capital_refunded_on",
                "Die Erstattung der Einlage kann nicht vor dem Austritt liegen.",
            ),
            _ => {}
        }
        if f.capital_paid_on.is_some_and(|paid| refunded < paid) {
            p.add(
                "capital_refunded_on",
                "Die Erstattung kann nicht vor der Zahlung der Einlage liegen.",
            );
        }
    }
    if !f.is_member && f.accession_declared_on.is_some() && f.left_on.is_none() {
        p.add(
            "accession_declared_on",
            "Wer den Beitritt erklärt hat und nicht ausgetreten ist, ist Träger: bitte „Träger der d-NRW“ wählen oder das Datum des Austritts angeben.",
        );
    }
    if f.capital_paid_on.is_some() && f.accession_declared_on.is_none() {
        p.add(
            "capital_paid_on",
            "Die Einlage wird mit dem Beitritt gezahlt: bitte auch das Datum der Beitrittserklärung angeben.",
        );
    }
    if let (Some(decided), Some(paid)) = (f.council_decision_on, f.capital_paid_on) {
        if paid < decided {
            p.add(
                "capital_paid_on",
                "Die Einlage kann nicht vor dem Beschluss der Vertretung gezahlt worden sein.",
            );
        }
    }
    match f.capital_cents {
        Some(c) if !(0..=100_000_000).contains(&c) => p.add(
            "capital_cents",
            "Bitte eine Stammkapitaleinlage zwischen 0 und 1.000.000 Euro angeben.",
        ),
        Some(0) if f.is_member => p.add(
            "capital_cents",
            "Ein Träger leistet eine Stammkapitaleinlage (üblich sind 1.000 €): bitte den Betrag angeben oder das Feld leer lassen.",
        ),
        _ => {}
    }
    p.into_result()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 29);

    fn member() -> Facts {
        Facts {
            is_member: true,
            council_decision_on: Some(date!(2021 - 03 - 15)),
            accession_declared_on: Some(date!(2021 - 04 - 01)),
            capital_cents: Some(CAPITAL_CENTS),
            capital_paid_on: Some(date!(2021 - 05 - 03)),
            ..Facts::default()
        }
    }

    fn fields(r: Result<(), DomainError>) -> Vec<String> {
        match r {
            Ok(()) => vec![],
            Err(DomainError::Invalid(v)) => v.into_iter().map(|(f, _)| f).collect(),
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn three_standings_and_their_labels() {
        assert_eq!(Standing::of(None), Standing::Unknown);
        assert_eq!(Standing::of(None).label(), "nicht erfasst");
        let m = Standing::of(Some(&member()));
        assert!(m.is_member());
        assert_eq!(m.label(), "Träger seit 01.04.2021");
        assert_eq!(m.short(), "ja");
        let no = Standing::of(Some(&Facts::default()));
        assert_eq!(
            (no.code(), no.label().as_str()),
            ("kein_traeger", "kein Träger")
        );
        let left = Facts {
            is_member: false,
            left_on: Some(date!(2025 - 12 - 31)),
            ..member()
        };
        assert_eq!(
            Standing::of(Some(&left)).label(),
            "kein Träger (ausgetreten am 31.12.2025)"
        );
        let decided = Facts {
            council_decision_on: Some(date!(2026 - 10 - 01)),
            ..Facts::default()
        };
        assert!(Standing::of(Some(&decided))
            .label()
            .contains("Beitritt am 01.10.2026 beschlossen"));
    }

    #[test]
    fn records_are_checked_field_by_field() {
        assert!(fields(check(&member(), TODAY)).is_empty());
        let no_accession = Facts {
            accession_declared_on: None,
            capital_paid_on: None,
            ..member()
        };
        assert_eq!(
            fields(check(&no_accession, TODAY)),
            ["accession_declared_on"]
        );
        let future = Facts {
            capital_paid_on: Some(date!(2027 - 01 - 01)),
            ..member()
        };
        assert_eq!(fields(check(&future, TODAY)), ["capital_paid_on"]);
        let before_decision = Facts {
            accession_declared_on: Some(date!(2021 - 01 - 01)),
            ..member()
        };
        assert_eq!(
            fields(check(&before_decision, TODAY)),
            ["accession_declared_on"]
        );
        let member_who_left = Facts {
            left_on: Some(date!(2024 - 01 - 01)),
            ..member()
        };
        assert_eq!(fields(check(&member_who_left, TODAY)), ["left_on"]);
        let refund_without_leaving = Facts {
            is_member: false,
            capital_refunded_on: Some(date!(2024 - 01 - 01)),
            left_on: None,
            ..member()
        };
        assert!(fields(check(&refund_without_leaving, TODAY))
            .contains(&"capital_refunded_on".to_string()));
        let joined_but_not_member = Facts {
            is_member: false,
            ..member()
        };
        assert_eq!(
            fields(check(&joined_but_not_member, TODAY)),
            ["accession_declared_on"]
        );
        let paid_before_decision = Facts {
            capital_paid_on: Some(date!(2021 - 01 - 01)),
            ..member()
        };
        assert_eq!(
            fields(check(&paid_before_decision, TODAY)),
            ["capital_paid_on"]
        );
        let nothing_paid = Facts {
            capital_cents: Some(0),
            ..member()
        };
        assert_eq!(fields(check(&nothing_paid, TODAY)), ["capital_cents"]);
        let left_and_refunded = Facts {
            is_member: false,
            left_on: Some(date!(2024 - 01 - 01)),
            capital_refunded_on: Some(date!(2024 - 02 - 01)),
            ..member()
        };
        assert!(fields(check(&left_and_refunded, TODAY)).is_empty());
    }

    #[test]
    fn a_reason_is_needed_exactly_where_no_trägerschaft_is_recorded() {
        let no = Standing::NotMember {
            decided_on: None,
            left_on: None,
        };
        let yes = Standing::Member {
            since: date!(2021 - 04 - 01),
        };
        let err = check_reason(no, None, true, "Stadt Köln").unwrap_err();
        assert!(format!("{err:?}").contains("Stadt Köln ist als „kein Träger“"));
        assert_eq!(
            fields(check_reason(no, Some("  "), true, "Stadt Köln")).len(),
            1
        );
        assert!(check_reason(
            no,
            Some("Zusammenarbeit nach § 108 Abs. 6 GWB"),
            true,
            "Stadt Köln"
        )
        .is_ok());
        assert!(check_reason(Standing::Unknown, None, true, "Stadt Köln").is_ok());
        assert!(check_reason(yes, None, true, "Stadt Köln").is_ok());
        let basis = "Zusammenarbeit nach § 108 Abs. 6 GWB";
        assert_eq!(
            fields(check_reason(yes, Some(basis), true, "Stadt Köln")).len(),
            1
        );
        assert!(check_reason(yes, Some(basis), false, "Stadt Köln").is_ok());
        assert_eq!(
            fields(check_reason(no, Some("x"), true, "Stadt Köln")).len(),
            1,
            "too short for a contract"
        );
        let long = "x".repeat(REASON_MAX + 1);
        assert_eq!(
            fields(check_reason(no, Some(&long), true, "Stadt Köln")).len(),
            1
        );
        assert!(applies_to(AgreementKind::Rv, true));
        assert!(!applies_to(AgreementKind::Ea, false));
        assert!(!applies_to(AgreementKind::Ekv, true));
    }
}
