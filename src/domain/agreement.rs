//! The four agreements, their lifecycle and their terms (AVV, parameters, costs).

use serde::{Deserialize, Serialize};
use time::Date;

pub use super::terms::{Avv, SubProcessor, Terms};
use super::DomainError;

/// IÖV, EKV, RV or EA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgreementKind {
    /// Interöffentliche Vereinbarung: d-NRW ↔ provider or another Land's intermediary.
    Ioev,
    /// Einzelkooperationsvereinbarung incl. AVV: d-NRW ↔ that counterparty, per service.
    Ekv,
    /// Rahmenvereinbarung: d-NRW ↔ one municipality.
    Rv,
    /// Einzelabruf incl. AVV: a municipality calls one service through d-NRW.
    Ea,
}

impl AgreementKind {
    pub const ALL: [AgreementKind; 4] = [
        AgreementKind::Ioev,
        AgreementKind::Ekv,
        AgreementKind::Rv,
        AgreementKind::Ea,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AgreementKind::Ioev => "ioev",
            AgreementKind::Ekv => "ekv",
            AgreementKind::Rv => "rv",
            AgreementKind::Ea => "ea",
        }
    }
    pub fn parse(s: &str) -> Option<AgreementKind> {
        AgreementKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
    /// Prefix of the human reference number (`EA-2026-00042`).
    pub fn prefix(self) -> &'static str {
        match self {
            AgreementKind::Ioev => "IOEV",
            AgreementKind::Ekv => "EKV",
            AgreementKind::Rv => "RV",
            AgreementKind::Ea => "EA",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            AgreementKind::Ioev => "Interöffentliche Vereinbarung (IÖV)",
            AgreementKind::Ekv => "Einzelkooperationsvereinbarung (EKV)",
            AgreementKind::Rv => "Rahmenvereinbarung (RV)",
            AgreementKind::Ea => "Einzelabruf (EA)",
        }
    }
    /// EKV and EA carry an AVV (Art. 28 DSGVO) and concern one service.
    pub fn has_avv(self) -> bool {
        matches!(self, AgreementKind::Ekv | AgreementKind::Ea)
    }
}

/// Inbound: an NRW municipality re-uses another Land's service.
/// Outbound: another Land re-uses an NRW service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "inbound" => Some(Direction::Inbound),
            "outbound" => Some(Direction::Outbound),
            _ => None,
        }
    }
}

/// draft → awaiting_signatures → signed → in_force → terminated | expired;
/// a draft or an agreement awaiting signatures can be cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
    AwaitingSignatures,
    Signed,
    InForce,
    Terminated,
    Expired,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Draft,
        Status::AwaitingSignatures,
        Status::Signed,
        Status::InForce,
        Status::Terminated,
        Status::Expired,
        Status::Cancelled,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::AwaitingSignatures => "awaiting_signatures",
            Status::Signed => "signed",
            Status::InForce => "in_force",
            Status::Terminated => "terminated",
            Status::Expired => "expired",
            Status::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|k| k.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            Status::Draft => "Entwurf",
            Status::AwaitingSignatures => "wartet auf Unterschriften",
            Status::Signed => "unterzeichnet",
            Status::InForce => "in Kraft",
            Status::Terminated => "gekündigt",
            Status::Expired => "ausgelaufen",
            Status::Cancelled => "verworfen",
        }
    }
    /// Active agreements count for "at most one per parties" and block dependants.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            Status::Draft | Status::AwaitingSignatures | Status::Signed | Status::InForce
        )
    }
    /// Terms may be edited in place only before anybody signs.
    pub fn is_editable(self) -> bool {
        matches!(self, Status::Draft)
    }
}

/// The status of one version of an agreement's terms: the first version follows the
/// agreement; an amendment is drafted, signed and put in force on its own, and the
/// version it replaces is then superseded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionStatus {
    Draft,
    Signed,
    InForce,
    Superseded,
    Cancelled,
}

impl VersionStatus {
    pub const ALL: [VersionStatus; 5] = [
        VersionStatus::Draft,
        VersionStatus::Signed,
        VersionStatus::InForce,
        VersionStatus::Superseded,
        VersionStatus::Cancelled,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            VersionStatus::Draft => "draft",
            VersionStatus::Signed => "signed",
            VersionStatus::InForce => "in_force",
            VersionStatus::Superseded => "superseded",
            VersionStatus::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<VersionStatus> {
        VersionStatus::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A step in the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Submit,
    Sign,
    Activate,
    Terminate,
    Expire,
    Cancel,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Submit => "submit",
            Action::Sign => "sign",
            Action::Activate => "activate",
            Action::Terminate => "terminate",
            Action::Expire => "expire",
            Action::Cancel => "cancel",
        }
    }

    /// The status this action leads to from `from`, if the lifecycle allows it.
    pub fn target(self, from: Status) -> Option<Status> {
        Some(match (self, from) {
            (Action::Submit, Status::Draft) => Status::AwaitingSignatures,
            (Action::Sign, Status::AwaitingSignatures) => Status::Signed,
            (Action::Activate, Status::Signed) => Status::InForce,
            (Action::Terminate, Status::Signed | Status::InForce) => Status::Terminated,
            (Action::Expire, Status::InForce) => Status::Expired,
            (Action::Cancel, Status::Draft | Status::AwaitingSignatures) => Status::Cancelled,
            _ => return None,
        })
    }

    /// The status this action leads to from `from`, or why it is not allowed.
    pub fn apply(self, from: Status) -> Result<Status, DomainError> {
        self.target(from).ok_or_else(|| {
            let allowed = Status::ALL
                .into_iter()
                .filter(|s| self.target(*s).is_some())
                .map(Status::label)
                .collect::<Vec<_>>()
                .join(", ");
            DomainError::Transition(format!(
                "„{}“ ist im Status „{}“ nicht möglich (nur aus: {allowed}).",
                self.label(),
                from.label(),
            ))
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Action::Submit => "Zur Unterschrift vorlegen",
            Action::Sign => "Unterzeichnen",
            Action::Activate => "In Kraft setzen",
            Action::Terminate => "Kündigen",
            Action::Expire => "Auslaufen lassen",
            Action::Cancel => "Verwerfen",
        }
    }
}

/// The human reference number, e.g. `EA-2026-00042`.
pub fn reference(kind: AgreementKind, year: i32, number: i64) -> String {
    format!("{}-{year}-{number:05}", kind.prefix())
}

/// Adds whole months to a date, clamping the day to the target month's length.
pub fn add_months(date: Date, months: i32) -> Date {
    let total = date.year() * 12 + (date.month() as i32 - 1) + months;
    let (year, month0) = (total.div_euclid(12), total.rem_euclid(12));
    let month = time::Month::try_from(month0 as u8 + 1).unwrap_or(time::Month::January);
    let last = time::util::days_in_month(month, year);
    Date::from_calendar_date(year, month, date.day().min(last)).unwrap_or(date)
}

/// Checks a termination: the end date respects the notice period.
pub fn check_termination(
    notice_given_on: Date,
    ends_on: Date,
    notice_period_months: Option<i32>,
) -> Result<(), DomainError> {
    let earliest = add_months(notice_given_on, notice_period_months.unwrap_or(0));
    if ends_on < earliest {
        return Err(DomainError::invalid(
            "ends_on",
            format!(
                "Die Kündigungsfrist von {} Monat(en) ist nicht gewahrt: frühestes Ende ist der {}.",
                notice_period_months.unwrap_or(0),
                german_date(earliest)
            ),
        ));
    }
    Ok(())
}

/// `23.11.2026`
/// How a signature given outside the registry (on paper, before it kept signatures) is
/// stated, on the agreement's page and in its sealed document alike.
pub fn signed_outside(on: Date, by: Option<&str>) -> String {
    match by.map(str::trim).filter(|b| !b.is_empty()) {
        Some(by) => format!(
            "Außerhalb des Registers unterzeichnet am {} von {by}.",
            german_date(on)
        ),
        None => format!(
            "Außerhalb des Registers unterzeichnet am {}.",
            german_date(on)
        ),
    }
}

/// What an audit log entry of an agreement did, as the agreement page's history and the
/// evidence page of the sealed document both name it (one list for both).
pub fn audit_action_label(action: &str) -> &'static str {
    match action {
        "create" => "angelegt",
        "update" => "geändert",
        "edit" => "Entwurf geändert",
        "submit" => "zur Unterschrift vorgelegt",
        "signature" => "Unterschrift geleistet",
        "sign" => "unterzeichnet",
        "decline" => "Unterschrift abgelehnt",
        "seal" => "Dokument gesiegelt",
        "qes" => "qualifizierte elektronische Signatur hochgeladen",
        "activate" => "in Kraft gesetzt",
        "terminate" => "gekündigt",
        "terminate_cascade" => "mitgekündigt",
        "expire" => "ausgelaufen",
        "expire_cascade" => "mit ausgelaufen",
        "cancel" => "verworfen",
        "amend" => "Änderungsfassung (Nachtrag) angelegt",
        "amendment_activate" => "Änderungsfassung in Kraft gesetzt",
        "amendment_cancel" => "Änderungsfassung verworfen",
        "amendment_decline" => "Unterschrift unter der Änderungsfassung abgelehnt",
        "attach" => "Anlage hochgeladen",
        "golive_plan" => "Aufgaben zur Inbetriebnahme angelegt",
        "live" => "live: alle Aufgaben zur Inbetriebnahme erledigt",
        "not_live" => "nicht mehr live: eine Aufgabe wurde wieder geöffnet",
        _ => "bearbeitet",
    }
}

pub fn german_date(d: Date) -> String {
    format!("{:02}.{:02}.{}", d.day(), d.month() as u8, d.year())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_audit_action_of_an_agreement_reads_german_and_unknown_ones_no_internal_name() {
        for action in [
            "create",
            "edit",
            "submit",
            "signature",
            "sign",
            "decline",
            "seal",
            "qes",
            "activate",
            "terminate",
            "terminate_cascade",
            "expire",
            "expire_cascade",
            "cancel",
            "amend",
            "amendment_activate",
            "amendment_cancel",
            "amendment_decline",
            "attach",
            "golive_plan",
            "live",
            "not_live",
            "update",
        ] {
            let label = super::audit_action_label(action);
            assert_ne!(label, "bearbeitet", "{action} has no label");
            assert!(!label.contains('_'), "{label}");
        }
        assert_eq!(super::audit_action_label("task_start"), "bearbeitet");
        assert_eq!(
            super::audit_action_label("qes"),
            "qualifizierte elektronische Signatur hochgeladen"
        );
    }

    use super::*;
    use time::macros::date;

    #[test]
    fn lifecycle_moves_forward_and_refuses_skips() {
        let s = Action::Submit.apply(Status::Draft).unwrap();
        let s = Action::Sign.apply(s).unwrap();
        let s = Action::Activate.apply(s).unwrap();
        assert_eq!(s, Status::InForce);
        assert_eq!(Action::Terminate.apply(s).unwrap(), Status::Terminated);
        let err = Action::Activate.apply(Status::Draft).unwrap_err();
        assert!(
            matches!(&err, DomainError::Transition(m) if m.contains("Entwurf") && m.contains("unterzeichnet")),
            "{err:?}"
        );
        assert!(Action::Cancel.apply(Status::InForce).is_err());
        assert!(Action::Sign.apply(Status::Terminated).is_err());
    }

    #[test]
    fn reference_numbers_are_padded() {
        assert_eq!(reference(AgreementKind::Ea, 2026, 42), "EA-2026-00042");
        assert_eq!(reference(AgreementKind::Ioev, 2026, 1), "IOEV-2026-00001");
    }

    #[test]
    fn notice_period_is_enforced() {
        assert_eq!(add_months(date!(2026 - 01 - 31), 1), date!(2026 - 02 - 28));
        assert_eq!(add_months(date!(2026 - 11 - 15), 3), date!(2027 - 02 - 15));
        assert!(check_termination(date!(2026 - 11 - 23), date!(2027 - 05 - 23), Some(6)).is_ok());
        assert!(check_termination(date!(2026 - 11 - 23), date!(2027 - 05 - 22), Some(6)).is_err());
    }

    #[test]
    fn terms_need_a_complete_avv_for_ekv_and_ea_only() {
        assert!(Terms::default().check(AgreementKind::Ea, false).is_ok());
        assert!(Terms::default().check(AgreementKind::Ea, true).is_err());
        assert!(Terms::default().check(AgreementKind::Rv, true).is_ok());
        let avv = Avv {
            subject: "Wohngeld".into(),
            duration: "Laufzeit des Einzelabrufs".into(),
            nature_and_purpose: "Entgegennahme von Anträgen".into(),
            data_types: vec!["Name".into()],
            data_subjects: vec![],
            technical_measures: vec!["Verschlüsselung".into()],
            sub_processors: vec![],
        };
        let terms = Terms {
            avv: Some(avv),
            ..Terms::default()
        };
        let Err(DomainError::Invalid(p)) = terms.check(AgreementKind::Ea, true) else {
            panic!()
        };
        assert_eq!(p.len(), 1);
        assert!(p[0].1.contains("betroffener Personen"));
        assert!(terms.check(AgreementKind::Rv, false).is_err());
    }
}
