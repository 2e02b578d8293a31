//! Resolving a new agreement's parties: which fields its kind needs, which ids exist,
//! which direction it has, and what the rules of the model say about it.

use crate::actions::agreement::create::NewAgreement;
use crate::db::DbConn;
use crate::domain::grammar::{Article, Case};
use crate::domain::{codes, AgreementKind, Direction, Problems};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::store::municipality::Municipality;
use crate::store::organisation::Organisation;
use crate::store::service::Service;

/// The parties and links a new agreement gets, once the rules allow it.
pub(super) struct Resolved {
    pub(super) direction: Direction,
    pub(super) counterparty: Option<Organisation>,
    pub(super) municipality: Option<Municipality>,
    pub(super) service: Option<Service>,
    pub(super) ioev_id: Option<String>,
    pub(super) rv_id: Option<String>,
    pub(super) ekv_id: Option<String>,
    pub(super) active_key: String,
    /// How the duplicate refusal names the parties.
    pub(super) parties_label: String,
}

fn required<T>(problems: &mut Problems, field: &str, value: Option<T>, what: &str) -> Option<T> {
    if value.is_none() {
        problems.add(field, format!("{what} ist anzugeben."));
    }
    value
}

fn forbidden<T>(problems: &mut Problems, field: &str, value: &Option<T>, kind: AgreementKind) {
    if value.is_some() {
        problems.add(
            field,
            format!(
                "Dieses Feld gehört nicht zu {}.",
                kind.phrase(Case::Dative, Article::Indefinite, None)
            ),
        );
    }
}

/// Looks up an id given in the request body; unknown ids are input errors (422).
fn lookup<T>(problems: &mut Problems, field: &str, result: AppResult<T>) -> AppResult<Option<T>> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind == ErrorKind::NotFound => {
            problems.add(field, e.message);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

impl NewAgreement {
    pub(super) fn resolve(&self, conn: &mut DbConn, kind: AgreementKind) -> AppResult<Resolved> {
        let mut p = Problems::new();
        let counterparty = match &self.counterparty_id {
            Some(id) => lookup(&mut p, "counterparty_id", Organisation::find(conn, id))?,
            None => None,
        };
        let municipality = match &self.municipality_id {
            Some(id) => lookup(&mut p, "municipality_id", Municipality::find(conn, id))?,
            None => None,
        };
        let service = match &self.service_id {
            Some(id) => lookup(&mut p, "service_id", Service::find(conn, id))?,
            None => None,
        };
        if let Some(c) = &counterparty {
            if c.is_self {
                p.add(
                    "counterparty_id",
                    "d-NRW ist immer selbst Vertragspartei und kann nicht Gegenpartei sein.",
                );
            }
        }
        let direction = match self.direction.as_deref() {
            None => None,
            Some(d) => match Direction::parse(d) {
                Some(d) => Some(d),
                None => {
                    p.add(
                        "direction",
                        format!("„{d}“ ist keine Richtung (inbound, outbound)."),
                    );
                    None
                }
            },
        };
        let outbound_ea = kind == AgreementKind::Ea
            && (direction == Some(Direction::Outbound)
                || (direction.is_none()
                    && self.municipality_id.is_none()
                    && self.external_party_ags.is_some()));

        match kind {
            AgreementKind::Ioev | AgreementKind::Rv => {
                forbidden(&mut p, "service_id", &self.service_id, kind);
                forbidden(&mut p, "external_party_ags", &self.external_party_ags, kind);
            }
            _ => {}
        }
        match kind {
            AgreementKind::Ioev => {
                required(
                    &mut p,
                    "counterparty_id",
                    self.counterparty_id.as_ref(),
                    "Die Gegenpartei (counterparty_id)",
                );
                forbidden(&mut p, "municipality_id", &self.municipality_id, kind);
            }
            AgreementKind::Ekv => {
                required(
                    &mut p,
                    "counterparty_id",
                    self.counterparty_id.as_ref(),
                    "Die Gegenpartei (counterparty_id)",
                );
                required(
                    &mut p,
                    "service_id",
                    self.service_id.as_ref(),
                    "Der Dienst (service_id)",
                );
                forbidden(&mut p, "municipality_id", &self.municipality_id, kind);
            }
            AgreementKind::Rv => {
                required(
                    &mut p,
                    "municipality_id",
                    self.municipality_id.as_ref(),
                    "Die Kommune (municipality_id)",
                );
                forbidden(&mut p, "counterparty_id", &self.counterparty_id, kind);
            }
            AgreementKind::Ea if outbound_ea => {
                required(
                    &mut p,
                    "counterparty_id",
                    self.counterparty_id.as_ref(),
                    "Der Kommunalvertreter des anderen Landes (counterparty_id)",
                );
                required(
                    &mut p,
                    "service_id",
                    self.service_id.as_ref(),
                    "Der Dienst (service_id)",
                );
                required(
                    &mut p,
                    "external_party_name",
                    self.external_party_name.as_ref(),
                    "Die nachnutzende Kommune (external_party_name)",
                );
                if let Some(ags) = required(
                    &mut p,
                    "external_party_ags",
                    self.external_party_ags.as_ref(),
                    "Der AGS der nachnutzenden Kommune (external_party_ags)",
                ) {
                    p.check("external_party_ags", codes::check_ags(ags));
                    if ags.starts_with("05") {
                        p.add("external_party_ags", "Eine Kommune in NRW ruft Dienste über ihre eigene RV ab, nicht als Nachnutzung eines anderen Landes.");
                    }
                }
                forbidden(&mut p, "municipality_id", &self.municipality_id, kind);
                if let Some(c) = &counterparty {
                    if !c.is_intermediary {
                        p.add(
                            "counterparty_id",
                            format!("{} ist kein Kommunalvertreter eines Landes.", c.name),
                        );
                    }
                }
            }
            AgreementKind::Ea => {
                required(
                    &mut p,
                    "municipality_id",
                    self.municipality_id.as_ref(),
                    "Die Kommune (municipality_id)",
                );
                required(
                    &mut p,
                    "service_id",
                    self.service_id.as_ref(),
                    "Der Dienst (service_id)",
                );
                forbidden(&mut p, "counterparty_id", &self.counterparty_id, kind);
                forbidden(&mut p, "external_party_ags", &self.external_party_ags, kind);
            }
        }
        // Outbound re-use exists only for NRW services. An NRW service is also obtained
        // inbound (from its provider) for NRW's own municipalities, so an EKV on an NRW
        // service defaults by its counterparty: another Land's intermediary that does not
        // operate the service re-uses it (outbound); anybody else provides it (inbound).
        let nrw_service = service.as_ref().is_some_and(Service::is_nrw_service);
        if (outbound_ea || direction == Some(Direction::Outbound))
            && service.is_some()
            && !nrw_service
        {
            let s = service.as_ref().map(|s| s.name.as_str()).unwrap_or("");
            p.add(
                "direction",
                format!("„{s}“ ist ein Dienst eines anderen Landes: nur Dienste aus NRW werden anderen Ländern angeboten (outbound)."),
            );
        }
        let direction = match (kind, direction) {
            (AgreementKind::Ea, _) if outbound_ea => Direction::Outbound,
            (AgreementKind::Ea, _) => Direction::Inbound,
            (_, Some(given)) => given,
            (AgreementKind::Ekv, None) if nrw_service => {
                let operator = service.as_ref().and_then(|s| s.operator_id.as_deref());
                match &counterparty {
                    Some(c) if c.is_intermediary && operator != Some(c.id.as_str()) => {
                        Direction::Outbound
                    }
                    _ => Direction::Inbound,
                }
            }
            (_, None) => Direction::Inbound,
        };
        p.into_result()?;

        // The parties are known and well-formed: now the rules of the model.
        let basis = crate::actions::agreement::basis::check(
            conn,
            &crate::actions::agreement::basis::Parties {
                kind,
                direction,
                counterparty: counterparty.as_ref(),
                municipality: municipality.as_ref(),
                service: service.as_ref(),
            },
        )?;
        let cp = counterparty
            .as_ref()
            .map(|c| (c.id.as_str(), c.name.as_str()))
            .unwrap_or_default();
        let m = municipality
            .as_ref()
            .map(|m| (m.id.as_str(), m.display_name()));
        let s = service
            .as_ref()
            .map(|s| (s.id.as_str(), s.name.as_str()))
            .unwrap_or_default();
        let (active_key, parties_label) = match (kind, m) {
            (AgreementKind::Ioev, _) => (format!("ioev:{}", cp.0), cp.1.to_string()),
            (AgreementKind::Rv, Some((m_id, m_name))) => (format!("rv:{m_id}"), m_name),
            (AgreementKind::Ekv, _) => (
                format!("ekv:{}:{}", cp.0, s.0),
                format!("{} und „{}“", cp.1, s.1),
            ),
            (AgreementKind::Ea, _) if outbound_ea => {
                let ags = self.external_party_ags.as_deref().unwrap_or_default();
                let name = self.external_party_name.as_deref().unwrap_or_default();
                (
                    format!("ea:{}:{ags}:{}", cp.0, s.0),
                    format!("{name} (über {}) und „{}“", cp.1, s.1),
                )
            }
            (AgreementKind::Ea, Some((m_id, m_name))) => (
                format!("ea:{m_id}:{}", s.0),
                format!("{m_name} und „{}“", s.1),
            ),
            (AgreementKind::Rv | AgreementKind::Ea, None) => {
                return Err(AppError::internal("municipality resolved"))
            }
        };
        Ok(Resolved {
            direction,
            counterparty,
            municipality,
            service,
            ioev_id: basis.ioev_id,
            rv_id: basis.rv_id,
            ekv_id: basis.ekv_id,
            active_key,
            parties_label,
        })
    }
}
