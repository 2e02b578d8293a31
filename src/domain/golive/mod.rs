//! From an Einzelabruf in force to a service citizens can use: the go-live plan, the
//! lifecycle of its tasks and the evidence each task records when it is done.
//!
//! The plan has five tasks (domain.md, "Going live after an Einzelabruf"): the VSM entry,
//! the DVDV entry with the encryption certificate, the parameters, the receiving side and
//! the configuration handed to the provider. The requesting side (the municipality, or for
//! another Land's municipality the intermediary acting for it) owns the first four; d-NRW
//! owns the last. When all five are done the EA is live.

mod evidence;

use serde::Serialize;
use time::{Date, Duration};

use crate::domain::DomainError;

pub use evidence::*;

/// Default days from an EA coming into force to the due date of its tasks (the seeds:
/// "live within 4 weeks once all documents are there"); configurable per service.
pub const DEFAULT_DAYS: i32 = 28;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    Vsm,
    Dvdv,
    Parameters,
    Receiving,
    Provider,
}

/// Who does a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Owner {
    /// The municipality that called the service (or the intermediary acting for another
    /// Land's municipality).
    Requester,
    /// d-NRW as Kommunalvertreter.NRW.
    Dnrw,
}

impl TaskKind {
    pub const ALL: [TaskKind; 5] = [
        TaskKind::Vsm,
        TaskKind::Dvdv,
        TaskKind::Parameters,
        TaskKind::Receiving,
        TaskKind::Provider,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Vsm => "vsm",
            TaskKind::Dvdv => "dvdv",
            TaskKind::Parameters => "parameters",
            TaskKind::Receiving => "receiving",
            TaskKind::Provider => "provider",
        }
    }
    pub fn parse(s: &str) -> Option<TaskKind> {
        TaskKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
    pub fn title(self) -> &'static str {
        match self {
            TaskKind::Vsm => "Eintrag in die Verwaltungssuchmaschine (VSM) / Portalverbund",
            TaskKind::Dvdv => "DVDV-Eintrag mit Verschlüsselungszertifikat",
            TaskKind::Parameters => "Parameter des Dienstes",
            TaskKind::Receiving => "Empfang im Fachverfahren über Dataclearing.NRW",
            TaskKind::Provider => {
                "Konfiguration an den Anbieter übergeben, Freischaltung bestätigt"
            }
        }
    }
    /// What is to be done, as the task page explains it.
    pub fn description(self) -> &'static str {
        match self {
            TaskKind::Vsm => "Die Kommune trägt in der VSM ein, welche Leika-Leistung sie mit welcher zuständigen Stelle und welcher Adresse des Online-Dienstes anbietet; die d-NRW unterstützt. Ohne den Eintrag finden Bürgerinnen und Bürger den Dienst nicht.",
            TaskKind::Dvdv => "Die Kommune lässt sich mit dem Organisationsschlüssel der Behördenkategorie des Dienstes im DVDV eintragen und hinterlegt ein Verschlüsselungszertifikat, damit Anträge (XÖV-Nachrichten über OSCI) sie über Dataclearing.NRW erreichen.",
            TaskKind::Parameters => "Die Kommune gibt die Parameter des Dienstes an (z. B. ePayment-Daten oder Gebühr 0 €, die die Bezahlung überspringt, Wappen); die d-NRW gibt sie an den Anbieter weiter.",
            TaskKind::Receiving => "Die Kommune und ihr IT-Dienstleister sorgen dafür, dass das Fachverfahren Anträge aus Dataclearing.NRW abholt (ggf. ein Update), und bestätigen einen Testempfang.",
            TaskKind::Provider => "Die d-NRW übergibt die Konfiguration dem Anbieter des Dienstes; der Anbieter schaltet die Kommune frei und bestätigt es.",
        }
    }
    pub fn owner(self) -> Owner {
        match self {
            TaskKind::Provider => Owner::Dnrw,
            _ => Owner::Requester,
        }
    }
    /// The tasks that must be done before this one can be done.
    pub fn depends_on(self) -> &'static [TaskKind] {
        match self {
            TaskKind::Vsm | TaskKind::Dvdv | TaskKind::Parameters => &[],
            // Applications can only be fetched once the DVDV entry routes them.
            TaskKind::Receiving => &[TaskKind::Dvdv],
            // The provider switches on a municipality that is reachable and configured.
            TaskKind::Provider => &[TaskKind::Dvdv, TaskKind::Parameters, TaskKind::Receiving],
        }
    }
    /// The evidence fields a task records: (key, German label, kind).
    pub fn evidence_fields(self) -> &'static [(&'static str, &'static str, FieldKind)] {
        match self {
            TaskKind::Vsm => &[
                (
                    "leika_keys",
                    "Leika-Schlüssel (einer je Zeile)",
                    FieldKind::LeikaList,
                ),
                ("zustaendige_stelle", "Zuständige Stelle", FieldKind::Text),
                (
                    "service_url",
                    "Adresse des Online-Dienstes (URL)",
                    FieldKind::Url,
                ),
            ],
            TaskKind::Dvdv => &[(
                "organisation_key",
                "DVDV-Organisationsschlüssel",
                FieldKind::Text,
            )],
            TaskKind::Parameters => &[],
            TaskKind::Receiving => &[
                (
                    "fachverfahren",
                    "Fachverfahren (Produkt, Version)",
                    FieldKind::Text,
                ),
                (
                    "it_dienstleister",
                    "IT-Dienstleister (optional)",
                    FieldKind::OptionalText,
                ),
                ("test_received_on", "Testempfang am", FieldKind::Date),
            ],
            TaskKind::Provider => &[
                (
                    "handed_over_on",
                    "Konfiguration übergeben am",
                    FieldKind::Date,
                ),
                (
                    "confirmed_on",
                    "Freischaltung vom Anbieter bestätigt am",
                    FieldKind::Date,
                ),
                (
                    "provider_reference",
                    "Zeichen des Anbieters (optional)",
                    FieldKind::OptionalText,
                ),
            ],
        }
    }
}

/// How an evidence field is entered and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    OptionalText,
    Url,
    Date,
    LeikaList,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Open,
    InProgress,
    Done,
    Blocked,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 4] = [
        TaskStatus::Open,
        TaskStatus::InProgress,
        TaskStatus::Done,
        TaskStatus::Blocked,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Open => "open",
            TaskStatus::InProgress => "in_progress",
            TaskStatus::Done => "done",
            TaskStatus::Blocked => "blocked",
        }
    }
    pub fn parse(s: &str) -> Option<TaskStatus> {
        TaskStatus::ALL.into_iter().find(|k| k.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            TaskStatus::Open => "offen",
            TaskStatus::InProgress => "in Arbeit",
            TaskStatus::Done => "erledigt",
            TaskStatus::Blocked => "blockiert",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskAction {
    /// Work has begun (also lifts a block).
    Start,
    /// Done, with the evidence.
    Complete,
    /// Cannot go on; a reason is required.
    Block,
    /// d-NRW staff take a done task back (wrong evidence); the EA is no longer live.
    Reopen,
}

impl TaskAction {
    pub const ALL: [TaskAction; 4] = [
        TaskAction::Start,
        TaskAction::Complete,
        TaskAction::Block,
        TaskAction::Reopen,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            TaskAction::Start => "start",
            TaskAction::Complete => "complete",
            TaskAction::Block => "block",
            TaskAction::Reopen => "reopen",
        }
    }
    pub fn parse(s: &str) -> Option<TaskAction> {
        TaskAction::ALL.into_iter().find(|k| k.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            TaskAction::Start => "In Arbeit nehmen",
            TaskAction::Complete => "Als erledigt melden",
            TaskAction::Block => "Als blockiert melden",
            TaskAction::Reopen => "Wieder öffnen",
        }
    }

    /// The status after this step, or why it is not allowed. `open_dependencies` are the
    /// titles of the tasks this one waits for that are not done yet.
    pub fn apply(
        self,
        from: TaskStatus,
        open_dependencies: &[&str],
        reason: Option<&str>,
    ) -> Result<TaskStatus, DomainError> {
        use TaskStatus::*;
        let refuse = |what: &str| {
            Err(DomainError::Transition(format!(
                "Eine Aufgabe mit dem Status „{}“ kann nicht {what}.",
                from.label()
            )))
        };
        match self {
            TaskAction::Start => match from {
                Open | Blocked => Ok(InProgress),
                _ => refuse("in Arbeit genommen werden"),
            },
            TaskAction::Complete => match from {
                Open | InProgress => {
                    if open_dependencies.is_empty() {
                        Ok(Done)
                    } else {
                        Err(DomainError::Rule(format!(
                            "Die Aufgabe kann erst erledigt werden, wenn diese erledigt sind: {}.",
                            open_dependencies.join("; ")
                        )))
                    }
                }
                Blocked => Err(DomainError::Transition(
                    "Die Aufgabe ist blockiert; nehmen Sie sie zuerst wieder in Arbeit.".into(),
                )),
                Done => refuse("noch einmal erledigt werden"),
            },
            TaskAction::Block => match from {
                Open | InProgress => {
                    if reason.is_none_or(|r| r.trim().is_empty()) {
                        Err(DomainError::invalid(
                            "reason",
                            "Bitte geben Sie an, was die Aufgabe blockiert.",
                        ))
                    } else {
                        Ok(Blocked)
                    }
                }
                _ => refuse("blockiert werden"),
            },
            TaskAction::Reopen => match from {
                Done => Ok(InProgress),
                _ => refuse("wieder geöffnet werden"),
            },
        }
    }
}

/// One task of a new plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTask {
    pub kind: TaskKind,
    pub position: i32,
    pub owner: Owner,
    pub due_on: Date,
}

/// The go-live plan of an EA that came into force on `effective_from`, for a service whose
/// tasks are due `days` after that.
pub fn plan(effective_from: Date, days: i32) -> Vec<PlannedTask> {
    let due_on = effective_from.saturating_add(Duration::days(i64::from(days.clamp(1, 365))));
    TaskKind::ALL
        .into_iter()
        .enumerate()
        .map(|(i, kind)| PlannedTask {
            kind,
            position: i as i32 + 1,
            owner: kind.owner(),
            due_on,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map, Value};
    use time::macros::date;

    fn ctx<'a>(keys: &'a [String], params: &'a Value) -> EvidenceContext<'a> {
        EvidenceContext {
            service_leika_keys: keys,
            dvdv_prefix: Some("wgb"),
            ags: "05913000",
            today: date!(2026 - 11 - 24),
            certificate: None,
            parameters: params,
            parameters_problem: None,
        }
    }

    fn input(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn plan_has_five_tasks_due_four_weeks_after_coming_into_force() {
        let p = plan(date!(2026 - 11 - 02), DEFAULT_DAYS);
        assert_eq!(
            p.iter().map(|t| t.kind).collect::<Vec<_>>(),
            TaskKind::ALL.to_vec()
        );
        assert!(p.iter().all(|t| t.due_on == date!(2026 - 11 - 30)));
        assert_eq!(p[4].owner, Owner::Dnrw);
        assert!(p[..4].iter().all(|t| t.owner == Owner::Requester));
        assert_eq!(
            plan(date!(2026 - 11 - 02), 10)[0].due_on,
            date!(2026 - 11 - 12)
        );
    }

    #[test]
    fn dvdv_prefix_is_read_from_the_category_text() {
        assert_eq!(
            dvdv_prefix(Some("wgb (Wohngeldbehörde)")).as_deref(),
            Some("wgb")
        );
        assert_eq!(
            dvdv_prefix(Some("bab: + AGS (e.g. bab:05111000 Düsseldorf)")).as_deref(),
            Some("bab")
        );
        assert_eq!(dvdv_prefix(Some("Wohngeldbehörde")), None);
        assert_eq!(dvdv_prefix(None), None);
    }

    #[test]
    fn organisation_key_needs_the_category_and_the_municipalitys_ags() {
        assert!(check_organisation_key("wgb:05913000", Some("wgb"), "05913000").is_ok());
        assert!(check_organisation_key("wgb:0591300000", Some("wgb"), "05913000").is_ok());
        assert!(check_organisation_key("wgb:059130000000", Some("wgb"), "05913000").is_ok());
        let wrong_prefix = check_organisation_key("bab:05913000", Some("wgb"), "05913000");
        assert!(wrong_prefix.unwrap_err().contains("„wgb“"));
        let other_town = check_organisation_key("wgb:05315000", Some("wgb"), "05913000");
        assert!(other_town.unwrap_err().contains("05913000"));
        assert!(check_organisation_key("05913000", None, "05913000").is_err());
    }

    #[test]
    fn vsm_evidence_checks_leika_format_service_keys_and_url() {
        let keys = vec!["99107023000000".to_string()];
        let params = json!({});
        let c = ctx(&keys, &params);
        let ok = check_evidence(
            TaskKind::Vsm,
            &input(json!({"leika_keys": "99107023000000", "zustaendige_stelle": "Amt für Wohnen", "service_url": "https://www.dortmund.de/wohngeld"})),
            &c,
        )
        .unwrap();
        assert_eq!(ok["leika_keys"], json!(["99107023000000"]));
        let Err(DomainError::Invalid(errors)) = check_evidence(
            TaskKind::Vsm,
            &input(
                json!({"leika_keys": ["1234", "99099002000000"], "service_url": "dortmund.de", "extra": 1}),
            ),
            &c,
        ) else {
            panic!("accepted bad evidence")
        };
        let text = format!("{errors:?}");
        assert!(text.contains("genau 14 Ziffern"), "{text}");
        assert!(text.contains("gehört nicht zu diesem Dienst"), "{text}");
        assert!(text.contains("Zuständige Stelle ist anzugeben"), "{text}");
        assert!(text.contains("keine Web-Adresse"), "{text}");
        assert!(text.contains("„extra“"), "{text}");
    }

    #[test]
    fn dvdv_evidence_needs_a_valid_certificate() {
        let keys = vec![];
        let params = json!({});
        let mut c = ctx(&keys, &params);
        let evidence = input(json!({"organisation_key": "wgb:05913000"}));
        let err = check_evidence(TaskKind::Dvdv, &evidence, &c).unwrap_err();
        assert!(format!("{err:?}").contains("kein DVDV-Verschlüsselungszertifikat"));
        c.certificate = Some(CertificateFacts {
            attachment_id: "a1".into(),
            subject: "CN=Stadt Dortmund".into(),
            fingerprint_sha256: "AB:CD".into(),
            not_after: date!(2026 - 01 - 01),
        });
        let err = check_evidence(TaskKind::Dvdv, &evidence, &c).unwrap_err();
        assert!(format!("{err:?}").contains("abgelaufen"));
        c.certificate.as_mut().unwrap().not_after = date!(2028 - 01 - 01);
        let ok = check_evidence(TaskKind::Dvdv, &evidence, &c).unwrap();
        assert_eq!(ok["certificate_fingerprint_sha256"], "AB:CD");
        assert_eq!(ok["certificate_expires_on"], "2028-01-01");
    }

    #[test]
    fn provider_evidence_dates_are_in_order_and_not_in_the_future() {
        let keys = vec![];
        let params = json!({});
        let c = ctx(&keys, &params);
        let err = check_evidence(
            TaskKind::Provider,
            &input(json!({"handed_over_on": "2026-11-20", "confirmed_on": "2026-11-19"})),
            &c,
        )
        .unwrap_err();
        assert!(format!("{err:?}").contains("nicht vor der Übergabe"));
        let err = check_evidence(
            TaskKind::Provider,
            &input(json!({"handed_over_on": "2026-12-20", "confirmed_on": "2026-11-32"})),
            &c,
        )
        .unwrap_err();
        let text = format!("{err:?}");
        assert!(
            text.contains("Zukunft") && text.contains("kein Datum"),
            "{text}"
        );
    }

    #[test]
    fn steps_follow_the_lifecycle_and_dependencies() {
        use TaskStatus::*;
        assert_eq!(TaskAction::Start.apply(Open, &[], None), Ok(InProgress));
        assert_eq!(TaskAction::Complete.apply(InProgress, &[], None), Ok(Done));
        let waiting = TaskAction::Complete.apply(Open, &["DVDV-Eintrag"], None);
        assert!(matches!(waiting, Err(DomainError::Rule(m)) if m.contains("DVDV-Eintrag")));
        assert!(TaskAction::Block.apply(Open, &[], Some(" ")).is_err());
        assert_eq!(
            TaskAction::Block.apply(Open, &[], Some("Zertifikat fehlt")),
            Ok(Blocked)
        );
        assert!(TaskAction::Complete.apply(Blocked, &[], None).is_err());
        assert_eq!(TaskAction::Start.apply(Blocked, &[], None), Ok(InProgress));
        assert!(TaskAction::Reopen.apply(Open, &[], None).is_err());
        assert_eq!(TaskAction::Reopen.apply(Done, &[], None), Ok(InProgress));
    }

    #[test]
    fn live_once_every_task_is_done() {
        use TaskStatus::*;
        let d1 = date!(2026 - 11 - 20);
        let d2 = date!(2026 - 11 - 23);
        assert_eq!(live_on(&[(Done, Some(d1)), (Done, Some(d2))]), Some(d2));
        assert_eq!(live_on(&[(Done, Some(d1)), (Open, None)]), None);
        assert_eq!(live_on(&[]), None);
    }
}
