//! Who may do what, decided in one place: pure functions over the caller's role or scope
//! and the parties of what they act on, each refusal in the German words users read. The
//! stores, the API guards and the pages ask here (a refusal becomes 403); the rules of
//! the contract model itself (what must exist first) are in `rules`.

use super::account::Role;
use super::signing::Party;
use super::AgreementKind;

/// Whose agreements a caller may see: tenant isolation, applied below the routes for
/// every query a municipality or intermediary user makes. Outside its scope an agreement
/// is "not found", exactly as if it did not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// d-NRW staff.
    All,
    /// A municipality user: the agreements of that municipality (RV, EA).
    Municipality(String),
    /// Another Land's intermediary: the agreements d-NRW has with it (IÖV, EKV, the
    /// outbound Einzelabrufe recorded against it).
    Intermediary(String),
}

/// The parties of an agreement or a task, as far as who may act on it is concerned.
#[derive(Debug, Clone, Copy, Default)]
pub struct Parties<'a> {
    /// The NRW municipality it is with (RV, EA).
    pub municipality: Option<&'a str>,
    /// The intermediary or provider it is with (IÖV, EKV, an outbound EA).
    pub organisation: Option<&'a str>,
}

impl Scope {
    /// Whether the caller sees something with these parties.
    pub fn sees(&self, parties: Parties<'_>) -> bool {
        match self {
            Scope::All => true,
            Scope::Municipality(m) => parties.municipality == Some(m.as_str()),
            Scope::Intermediary(o) => parties.organisation == Some(o.as_str()),
        }
    }
}

/// d-NRW's own pages and operations.
pub fn staff_only(role: Role) -> Result<(), String> {
    if role.is_staff() {
        Ok(())
    } else {
        Err("Dieser Bereich ist d-NRW vorbehalten.".into())
    }
}

/// Asking d-NRW to re-use an NRW service (an EKV request): another Land's intermediary,
/// for itself. d-NRW writes EKVs itself; municipalities re-use through Einzelabrufe.
pub fn request_reuse(scope: &Scope) -> Result<&str, String> {
    match scope {
        Scope::Intermediary(o) => Ok(o),
        _ => Err(
            "Die Nachnutzung eines NRW-Dienstes fragen die Kommunalvertreter anderer Länder an."
                .into(),
        ),
    }
}

/// The municipality's own pages ("Meine Kommune", the Einzelabruf form): its users only.
pub fn own_municipality(role: Role, municipality: Option<&str>) -> Result<&str, String> {
    match (role, municipality) {
        (Role::Municipality, Some(m)) => Ok(m),
        _ => Err("Diese Seite ist für Benutzerinnen und Benutzer einer Kommune.".into()),
    }
}

/// Managing user accounts.
pub fn manage_users(role: Role) -> Result<(), String> {
    if role == Role::Admin {
        Ok(())
    } else {
        Err(
            "Benutzer verwalten dürfen nur Administratorinnen und Administratoren von d-NRW."
                .into(),
        )
    }
}

/// What an agreement to be created looks like, as far as who may create it is concerned.
#[derive(Debug, Clone, Copy)]
pub struct NewAgreementShape<'a> {
    /// `None`: a kind that does not exist (refused later, or here for a municipality).
    pub kind: Option<AgreementKind>,
    pub municipality: Option<&'a str>,
    /// A counterparty, an external party or a direction other than inbound is named.
    pub names_partner_or_direction: bool,
}

/// Who may create which agreement: d-NRW any; a municipality its own RV and its own
/// inbound Einzelabrufe (the partner and direction follow from the catalogue); another
/// Land's intermediary none.
pub fn create_agreement(scope: &Scope, shape: NewAgreementShape<'_>) -> Result<(), String> {
    let own = match scope {
        Scope::All => return Ok(()),
        Scope::Intermediary(_) => {
            return Err("Vereinbarungen legen d-NRW und die Kommunen an, nicht die Kommunalvertreter anderer Länder.".into())
        }
        Scope::Municipality(m) => m,
    };
    if !matches!(shape.kind, Some(AgreementKind::Rv | AgreementKind::Ea)) {
        return Err("Eine Kommune beantragt ihre Rahmenvereinbarung (rv) und ihre Einzelabrufe (ea); alles andere legt d-NRW an.".into());
    }
    if shape.municipality.is_some_and(|m| m != own) {
        return Err("Eine Kommune beantragt nur für sich selbst.".into());
    }
    if shape.names_partner_or_direction {
        return Err("Eine Kommune ruft Dienste für sich selbst ab; Vertragspartner und Richtung bestimmt d-NRW.".into());
    }
    Ok(())
}

/// Who may take a lifecycle step (`submit`, `cancel`, …) on an agreement: d-NRW any; a
/// municipality only submits (after reviewing its text) or discards its own RV or
/// Einzelabruf while it is a draft; an intermediary none.
pub fn step_agreement(
    scope: &Scope,
    action: &str,
    kind: AgreementKind,
    municipality: Option<&str>,
    draft: bool,
) -> Result<(), String> {
    let own = match scope {
        Scope::All => return Ok(()),
        Scope::Intermediary(_) => {
            return Err("Schritte an Vereinbarungen gehen d-NRW und die Kommunen, nicht die Kommunalvertreter anderer Länder.".into())
        }
        Scope::Municipality(m) => m,
    };
    if !matches!(kind, AgreementKind::Rv | AgreementKind::Ea) || municipality != Some(own.as_str())
    {
        return Err("Eine Kommune legt nur ihre eigene Rahmenvereinbarung und ihre eigenen Einzelabrufe vor.".into());
    }
    if !matches!(action, "submit" | "cancel") {
        return Err("Eine Kommune legt ihren Entwurf zur Unterschrift vor oder verwirft ihn; alle weiteren Schritte geht d-NRW.".into());
    }
    if !draft {
        return Err("Vorlegen oder verwerfen lässt sich nur ein Entwurf.".into());
    }
    Ok(())
}

/// Why a person may not sign an agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignRefusal {
    /// They belong neither to the partner nor to d-NRW.
    NotAParty,
    /// They belong to a party but are not recorded as authorised to sign.
    NotSignatory,
}

/// The party a signed-in user signs for: d-NRW for staff; the partner for an authorised
/// user of the municipality, or of the intermediary an agreement without municipality is
/// with.
pub fn user_signs_for(
    role: Role,
    may_sign: bool,
    user: Parties<'_>,
    agreement: Parties<'_>,
) -> Result<Party, SignRefusal> {
    // A user stands for the side of their role only, and signs only when their account
    // says they may: staff included (the right to sign for d-NRW is given per person).
    let side = match role {
        Role::Admin | Role::Clerk if may_sign => return Ok(Party::Dnrw),
        Role::Admin | Role::Clerk => return Err(SignRefusal::NotSignatory),
        Role::Municipality => Parties {
            municipality: user.municipality,
            organisation: None,
        },
        Role::Intermediary => Parties {
            municipality: None,
            organisation: user.organisation,
        },
    };
    if !on_partner_side(side, agreement) {
        return Err(SignRefusal::NotAParty);
    }
    if !may_sign {
        return Err(SignRefusal::NotSignatory);
    }
    Ok(Party::Partner)
}

/// Whether someone belongs to the partner of an agreement: its municipality, or (for one
/// without municipality) the organisation it is with.
fn on_partner_side(someone: Parties<'_>, agreement: Parties<'_>) -> bool {
    match (agreement.municipality, agreement.organisation) {
        (Some(m), _) => someone.municipality == Some(m),
        (None, Some(o)) => someone.organisation == Some(o),
        (None, None) => false,
    }
}

/// The party a contact person signs for (a signature d-NRW records): d-NRW's own
/// contacts for d-NRW, the partner's for the partner; only those marked as signatories.
pub fn contact_signs_for(
    contact_is_dnrw: bool,
    may_sign: bool,
    contact: Parties<'_>,
    agreement: Parties<'_>,
) -> Result<Party, SignRefusal> {
    let party = if contact_is_dnrw {
        Party::Dnrw
    } else {
        if !on_partner_side(contact, agreement) {
            return Err(SignRefusal::NotAParty);
        }
        Party::Partner
    };
    if !may_sign {
        return Err(SignRefusal::NotSignatory);
    }
    Ok(party)
}

/// Recording a signature given elsewhere (on paper, by a contact person).
pub fn record_signature(staff: bool) -> Result<(), String> {
    match staff {
        true => Ok(()),
        false => Err("Unterschriften von Ansprechpersonen erfasst nur d-NRW; unterschreiben Sie selbst (ohne contact_id).".into()),
    }
}

/// Working on a go-live task: its owner (and d-NRW) may; reopening a finished one is
/// d-NRW's alone.
pub fn work_on_task(scope: &Scope, owner: Parties<'_>, reopen: bool) -> Result<(), String> {
    if !scope.sees(owner) {
        return Err("Diese Aufgabe gehört einer anderen Partei; Sie können sie ansehen, aber nicht bearbeiten.".into());
    }
    if reopen && *scope != Scope::All {
        return Err("Erledigte Aufgaben kann nur die d-NRW wieder öffnen.".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KOELN: &str = "koeln";
    const ESSEN: &str = "essen";
    const DATAPORT: &str = "dataport";

    fn m(id: &str) -> Parties<'_> {
        Parties {
            municipality: Some(id),
            organisation: None,
        }
    }
    fn o(id: &str) -> Parties<'_> {
        Parties {
            municipality: None,
            organisation: Some(id),
        }
    }

    #[test]
    fn each_scope_sees_its_own_parties_only() {
        assert!(Scope::All.sees(m(ESSEN)));
        assert!(Scope::Municipality(KOELN.into()).sees(m(KOELN)));
        assert!(!Scope::Municipality(KOELN.into()).sees(m(ESSEN)));
        assert!(!Scope::Municipality(KOELN.into()).sees(o(DATAPORT)));
        assert!(Scope::Intermediary(DATAPORT.into()).sees(o(DATAPORT)));
        assert!(!Scope::Intermediary(DATAPORT.into()).sees(m(KOELN)));
    }

    #[test]
    fn staff_areas_and_user_management() {
        assert!(staff_only(Role::Clerk).is_ok());
        assert!(staff_only(Role::Admin).is_ok());
        assert!(staff_only(Role::Municipality).is_err());
        assert!(staff_only(Role::Intermediary).is_err());
        assert_eq!(own_municipality(Role::Municipality, Some(KOELN)), Ok(KOELN));
        assert!(own_municipality(Role::Clerk, None).is_err());
        assert!(own_municipality(Role::Municipality, None).is_err());
        assert!(manage_users(Role::Admin).is_ok());
        assert!(manage_users(Role::Clerk)
            .unwrap_err()
            .contains("Administratorinnen"));
    }

    #[test]
    fn a_municipality_requests_only_its_own_rv_and_inbound_eas() {
        let koeln = Scope::Municipality(KOELN.into());
        let shape = |kind, municipality, names| NewAgreementShape {
            kind: Some(kind),
            municipality,
            names_partner_or_direction: names,
        };
        assert!(create_agreement(&koeln, shape(AgreementKind::Rv, None, false)).is_ok());
        assert!(create_agreement(&koeln, shape(AgreementKind::Ea, Some(KOELN), false)).is_ok());
        let err = create_agreement(&koeln, shape(AgreementKind::Ekv, None, false)).unwrap_err();
        assert!(err.contains("alles andere legt d-NRW an"), "{err}");
        let err =
            create_agreement(&koeln, shape(AgreementKind::Rv, Some(ESSEN), false)).unwrap_err();
        assert!(err.contains("nur für sich selbst"), "{err}");
        let err = create_agreement(&koeln, shape(AgreementKind::Ea, None, true)).unwrap_err();
        assert!(err.contains("Richtung bestimmt d-NRW"), "{err}");
        assert!(create_agreement(&Scope::All, shape(AgreementKind::Ioev, None, true)).is_ok());
        let unknown = NewAgreementShape {
            kind: None,
            municipality: None,
            names_partner_or_direction: false,
        };
        assert!(create_agreement(&koeln, unknown).is_err());
        assert!(
            create_agreement(&Scope::All, unknown).is_ok(),
            "refused later, at the field"
        );
        let err = create_agreement(
            &Scope::Intermediary(DATAPORT.into()),
            shape(AgreementKind::Ea, None, false),
        )
        .unwrap_err();
        assert!(err.contains("nicht die Kommunalvertreter"), "{err}");
    }

    #[test]
    fn a_municipality_submits_or_discards_only_its_own_rv_or_ea_draft() {
        use AgreementKind::*;
        let koeln = Scope::Municipality(KOELN.into());
        assert!(step_agreement(&Scope::All, "activate", Ioev, None, false).is_ok());
        assert!(step_agreement(&koeln, "submit", Ea, Some(KOELN), true).is_ok());
        assert!(step_agreement(&koeln, "cancel", Rv, Some(KOELN), true).is_ok());
        for (action, kind, of, draft) in [
            ("submit", Ea, ESSEN, true),
            ("submit", Ekv, KOELN, true),
            ("activate", Rv, KOELN, true),
            ("terminate", Ea, KOELN, true),
            ("cancel", Ea, KOELN, false),
        ] {
            assert!(
                step_agreement(&koeln, action, kind, Some(of), draft).is_err(),
                "{action} {kind:?} of {of}, draft {draft}"
            );
        }
        assert!(
            step_agreement(&Scope::Intermediary("x".into()), "submit", Ea, None, true).is_err()
        );
    }

    #[test]
    fn users_sign_for_their_own_side_when_authorised() {
        let none = Parties::default();
        // Staff sign for d-NRW only when their account says so.
        assert_eq!(
            user_signs_for(Role::Clerk, true, none, m(KOELN)),
            Ok(Party::Dnrw)
        );
        assert_eq!(
            user_signs_for(Role::Clerk, false, none, m(KOELN)),
            Err(SignRefusal::NotSignatory)
        );
        assert_eq!(
            user_signs_for(Role::Admin, false, none, m(KOELN)),
            Err(SignRefusal::NotSignatory)
        );
        assert_eq!(
            user_signs_for(Role::Municipality, true, m(KOELN), m(KOELN)),
            Ok(Party::Partner)
        );
        assert_eq!(
            user_signs_for(Role::Municipality, false, m(KOELN), m(KOELN)),
            Err(SignRefusal::NotSignatory)
        );
        assert_eq!(
            user_signs_for(Role::Municipality, true, m(ESSEN), m(KOELN)),
            Err(SignRefusal::NotAParty)
        );
        assert_eq!(
            user_signs_for(Role::Intermediary, true, o(DATAPORT), o(DATAPORT)),
            Ok(Party::Partner)
        );
        // An EA of an NRW municipality recorded with an intermediary is the municipality's.
        let ea = Parties {
            municipality: Some(KOELN),
            organisation: Some(DATAPORT),
        };
        assert_eq!(
            user_signs_for(Role::Intermediary, true, o(DATAPORT), ea),
            Err(SignRefusal::NotAParty)
        );
    }

    #[test]
    fn contacts_sign_for_their_side_when_marked_as_signatories() {
        assert_eq!(
            contact_signs_for(true, true, o("dnrw"), m(KOELN)),
            Ok(Party::Dnrw)
        );
        assert_eq!(
            contact_signs_for(true, false, o("dnrw"), m(KOELN)),
            Err(SignRefusal::NotSignatory)
        );
        assert_eq!(
            contact_signs_for(false, true, m(KOELN), m(KOELN)),
            Ok(Party::Partner)
        );
        assert_eq!(
            contact_signs_for(false, true, m(ESSEN), m(KOELN)),
            Err(SignRefusal::NotAParty)
        );
        assert_eq!(
            contact_signs_for(false, true, o(DATAPORT), o(DATAPORT)),
            Ok(Party::Partner)
        );
        assert_eq!(
            contact_signs_for(false, true, o(DATAPORT), Parties::default()),
            Err(SignRefusal::NotAParty)
        );
        assert!(record_signature(true).is_ok());
        assert!(record_signature(false).unwrap_err().contains("nur d-NRW"));
    }

    #[test]
    fn task_owners_work_on_their_tasks_and_only_d_nrw_reopens() {
        let koeln = Scope::Municipality(KOELN.into());
        assert!(work_on_task(&koeln, m(KOELN), false).is_ok());
        assert!(work_on_task(&koeln, m(ESSEN), false)
            .unwrap_err()
            .contains("anderen Partei"));
        assert!(work_on_task(&koeln, m(KOELN), true)
            .unwrap_err()
            .contains("nur die d-NRW"));
        assert!(work_on_task(&Scope::All, m(KOELN), true).is_ok());
        let dataport = Scope::Intermediary(DATAPORT.into());
        assert!(work_on_task(&dataport, o(DATAPORT), false).is_ok());
    }
}
