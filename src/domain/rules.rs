//! The preconditions of the Nachnutzungsmodell. The model layer gathers the facts (which
//! agreements exist, in which status); these functions decide and say, in German, exactly
//! what is missing.

use super::agreement::{AgreementKind, Status};
use super::service::Availability;
use super::DomainError;

/// An existing agreement found for a precondition (the in-force one if there is one,
/// otherwise the most recent active one, so the message can say how far it got).
#[derive(Debug, Clone, Copy)]
pub struct Found<'a> {
    pub reference: &'a str,
    pub status: Status,
}

/// What the rules need to know about a service.
#[derive(Debug, Clone, Copy)]
pub struct ServiceFacts<'a> {
    pub name: &'a str,
    pub availability: Availability,
}

fn require_in_force(missing: &mut Vec<String>, what: String, found: Option<Found<'_>>) {
    match found {
        Some(f) if f.status == Status::InForce => {}
        Some(f) => missing.push(format!(
            "{what} ist nicht in Kraft ({} hat den Status „{}“)",
            f.reference,
            f.status.label()
        )),
        None => missing.push(format!("{what} fehlt")),
    }
}

fn require_available(missing: &mut Vec<String>, service: ServiceFacts<'_>) {
    if service.availability != Availability::Available {
        missing.push(format!(
            "der Dienst „{}“ ist nicht verfügbar (Status „{}“)",
            service.name,
            service.availability.label()
        ));
    }
}

fn refuse(kind: AgreementKind, missing: Vec<String>) -> Result<(), DomainError> {
    if missing.is_empty() {
        return Ok(());
    }
    Err(DomainError::Rule(format!(
        "{} nicht möglich: {}.",
        match kind {
            AgreementKind::Ioev => "Interöffentliche Vereinbarung",
            AgreementKind::Ekv => "Einzelkooperationsvereinbarung",
            AgreementKind::Rv => "Rahmenvereinbarung",
            AgreementKind::Ea => "Einzelabruf",
        },
        missing.join("; ")
    )))
}

/// An EKV needs an IÖV in force with that counterparty.
pub fn check_ekv(counterparty: &str, ioev: Option<Found<'_>>) -> Result<(), DomainError> {
    let mut missing = Vec::new();
    require_in_force(
        &mut missing,
        format!("die Interöffentliche Vereinbarung (IÖV) mit {counterparty}"),
        ioev,
    );
    refuse(AgreementKind::Ekv, missing)
}

/// An inbound EA needs the municipality's RV in force, an EKV for the service in force and
/// the service available.
pub fn check_ea_inbound(
    municipality: &str,
    rv: Option<Found<'_>>,
    service: ServiceFacts<'_>,
    ekv: Option<Found<'_>>,
) -> Result<(), DomainError> {
    let mut missing = Vec::new();
    require_in_force(
        &mut missing,
        format!("die Rahmenvereinbarung (RV) mit {municipality}"),
        rv,
    );
    require_in_force(
        &mut missing,
        format!(
            "die Einzelkooperationsvereinbarung (EKV) für „{}“",
            service.name
        ),
        ekv,
    );
    require_available(&mut missing, service);
    refuse(AgreementKind::Ea, missing)
}

/// Outbound re-use by another Land's municipality is recorded against that Land's
/// intermediary, which needs an IÖV and an EKV for the service in force.
pub fn check_ea_outbound(
    intermediary: &str,
    ioev: Option<Found<'_>>,
    service: ServiceFacts<'_>,
    ekv: Option<Found<'_>>,
) -> Result<(), DomainError> {
    let mut missing = Vec::new();
    require_in_force(
        &mut missing,
        format!("die Interöffentliche Vereinbarung (IÖV) mit {intermediary}"),
        ioev,
    );
    require_in_force(
        &mut missing,
        format!(
            "die Einzelkooperationsvereinbarung (EKV) mit {intermediary} für „{}“",
            service.name
        ),
        ekv,
    );
    require_available(&mut missing, service);
    refuse(AgreementKind::Ea, missing)
}

/// Terminating an agreement others rest on is refused while they are active, unless the
/// caller asks to terminate them too (`cascade`). See README, "Termination".
pub fn check_dependants(
    reference: &str,
    dependants: &[Found<'_>],
    cascade: bool,
) -> Result<(), DomainError> {
    if dependants.is_empty() || cascade {
        return Ok(());
    }
    let list = dependants
        .iter()
        .map(|d| format!("{} ({})", d.reference, d.status.label()))
        .collect::<Vec<_>>()
        .join(", ");
    Err(DomainError::Conflict(format!(
        "{reference} kann nicht beendet werden, solange darauf beruhende Vereinbarungen aktiv sind: {list}. \
         Beenden Sie diese zuerst, oder wiederholen Sie den Schritt mit \"cascade\": true, um sie mit zu beenden."
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WOHNGELD: ServiceFacts<'static> = ServiceFacts {
        name: "Wohngeld",
        availability: Availability::Available,
    };

    fn in_force(r: &str) -> Option<Found<'_>> {
        Some(Found {
            reference: r,
            status: Status::InForce,
        })
    }

    #[test]
    fn ea_names_every_missing_precondition() {
        let err = check_ea_inbound("Dortmund", None, WOHNGELD, None).unwrap_err();
        let DomainError::Rule(m) = err else { panic!() };
        assert!(
            m.contains("Rahmenvereinbarung (RV) mit Dortmund fehlt"),
            "{m}"
        );
        assert!(m.contains("EKV) für „Wohngeld“ fehlt"), "{m}");
        let draft_rv = Some(Found {
            reference: "RV-2026-00001",
            status: Status::Draft,
        });
        let DomainError::Rule(m) =
            check_ea_inbound("Dortmund", draft_rv, WOHNGELD, in_force("EKV-2026-00001"))
                .unwrap_err()
        else {
            panic!()
        };
        assert!(m.contains("RV-2026-00001 hat den Status „Entwurf“"), "{m}");
        assert!(!m.contains("EKV"), "{m}");
        assert!(check_ea_inbound("Dortmund", in_force("RV"), WOHNGELD, in_force("EKV")).is_ok());
        let soon = ServiceFacts {
            name: "Wohngeld",
            availability: Availability::ComingSoon,
        };
        let DomainError::Rule(m) =
            check_ea_inbound("Dortmund", in_force("RV"), soon, in_force("EKV")).unwrap_err()
        else {
            panic!()
        };
        assert!(m.contains("nicht verfügbar"), "{m}");
    }

    #[test]
    fn ekv_needs_ioev_in_force() {
        assert!(check_ekv("Dataport AöR", None).is_err());
        assert!(check_ekv("Dataport AöR", in_force("IOEV-2026-00001")).is_ok());
    }

    #[test]
    fn dependants_block_unless_cascading() {
        let deps = [Found {
            reference: "EA-2026-00001",
            status: Status::InForce,
        }];
        let err = check_dependants("RV-2026-00001", &deps, false).unwrap_err();
        assert!(matches!(err, DomainError::Conflict(m) if m.contains("EA-2026-00001")));
        assert!(check_dependants("RV-2026-00001", &deps, true).is_ok());
        assert!(check_dependants("RV-2026-00001", &[], false).is_ok());
    }
}
