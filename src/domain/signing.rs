//! Who signs an agreement, and in which order.
//!
//! Every agreement has two parties: d-NRW and its partner, which is the municipality for
//! RV and EA and the provider or intermediary for IÖV and EKV. Each signs once per version,
//! through a contact person marked as authorised signatory. The order is configurable.

use serde::{Deserialize, Serialize};

use super::{AgreementKind, Direction, DomainError};

/// A signing party.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The municipality (RV, EA) or the counterparty (IÖV, EKV).
    Partner,
    /// d-NRW AöR as Kommunalvertreter.NRW.
    Dnrw,
}

impl Party {
    pub fn as_str(self) -> &'static str {
        match self {
            Party::Partner => "partner",
            Party::Dnrw => "dnrw",
        }
    }

    pub fn parse(s: &str) -> Option<Party> {
        match s {
            "partner" => Some(Party::Partner),
            "dnrw" => Some(Party::Dnrw),
            _ => None,
        }
    }

    /// The heading of the party's signature block, in the contract's own terms ("Kommune",
    /// "Partnerin", "d-NRW"); another Land's municipality signs through its intermediary.
    pub fn label(self, kind: AgreementKind, direction: Direction) -> &'static str {
        match (self, kind, direction) {
            (Party::Dnrw, _, _) => "Für d-NRW AöR (Kommunalvertreter.NRW)",
            (Party::Partner, AgreementKind::Ea, Direction::Outbound) => {
                "Für die Kommune, vertreten durch den Kommunalvertreter ihres Landes"
            }
            (Party::Partner, AgreementKind::Rv | AgreementKind::Ea, _) => "Für die Kommune",
            (Party::Partner, _, _) => "Für die Partnerin",
        }
    }

    fn who(self, kind: AgreementKind) -> &'static str {
        match (self, kind) {
            (Party::Dnrw, _) => "d-NRW",
            (Party::Partner, AgreementKind::Rv | AgreementKind::Ea) => "die Kommune",
            (Party::Partner, _) => "die Partnerin",
        }
    }
}

/// The order in which the parties sign (setting `signing_order`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SigningOrder {
    /// The municipality or counterparty first, then d-NRW countersigns (default).
    #[default]
    PartnerFirst,
    /// d-NRW first, then the partner.
    DnrwFirst,
    /// Either may sign first.
    Any,
}

impl SigningOrder {
    /// The parties in the order they sign.
    pub fn parties(self) -> [Party; 2] {
        match self {
            SigningOrder::PartnerFirst | SigningOrder::Any => [Party::Partner, Party::Dnrw],
            SigningOrder::DnrwFirst => [Party::Dnrw, Party::Partner],
        }
    }

    /// Whether `party` may sign now, given who has signed already.
    pub fn check(
        self,
        kind: AgreementKind,
        party: Party,
        signed: &[Party],
    ) -> Result<(), DomainError> {
        if signed.contains(&party) {
            return Err(DomainError::Conflict(format!(
                "Für {} liegt die Unterschrift bereits vor.",
                party.who(kind)
            )));
        }
        if self == SigningOrder::Any {
            return Ok(());
        }
        let [first, _] = self.parties();
        if party != first && !signed.contains(&first) {
            return Err(DomainError::Transition(format!(
                "Zuerst unterschreibt {}, dann {}.",
                first.who(kind),
                party.who(kind)
            )));
        }
        Ok(())
    }

    /// Whether these signatures complete the agreement.
    pub fn complete(self, signed: &[Party]) -> bool {
        self.parties().iter().all(|p| signed.contains(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partner_first_refuses_dnrw_before_the_municipality_and_any_repeat() {
        let o = SigningOrder::PartnerFirst;
        let err = o.check(AgreementKind::Ea, Party::Dnrw, &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Zuerst unterschreibt die Kommune, dann d-NRW."
        );
        assert!(o.check(AgreementKind::Ea, Party::Partner, &[]).is_ok());
        assert!(o
            .check(AgreementKind::Ea, Party::Dnrw, &[Party::Partner])
            .is_ok());
        assert!(o
            .check(AgreementKind::Ea, Party::Partner, &[Party::Partner])
            .is_err());
        assert!(!o.complete(&[Party::Partner]));
        assert!(o.complete(&[Party::Dnrw, Party::Partner]));
    }

    #[test]
    fn dnrw_first_and_any_orders() {
        let err = SigningOrder::DnrwFirst
            .check(AgreementKind::Ekv, Party::Partner, &[])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Zuerst unterschreibt d-NRW, dann die Partnerin."
        );
        assert!(SigningOrder::Any
            .check(AgreementKind::Ekv, Party::Dnrw, &[])
            .is_ok());
        // Accusative after "Für": the same word as the nominative for every party.
        let err = SigningOrder::Any
            .check(AgreementKind::Ekv, Party::Partner, &[Party::Partner])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Für die Partnerin liegt die Unterschrift bereits vor."
        );
    }

    #[test]
    fn signature_blocks_use_the_contracts_terms() {
        use Direction::*;
        assert_eq!(
            Party::Partner.label(AgreementKind::Ioev, Inbound),
            "Für die Partnerin"
        );
        assert_eq!(
            Party::Partner.label(AgreementKind::Rv, Inbound),
            "Für die Kommune"
        );
        assert_eq!(
            Party::Partner.label(AgreementKind::Ea, Outbound),
            "Für die Kommune, vertreten durch den Kommunalvertreter ihres Landes"
        );
        assert_eq!(
            Party::Dnrw.label(AgreementKind::Ea, Inbound),
            "Für d-NRW AöR (Kommunalvertreter.NRW)"
        );
    }
}
