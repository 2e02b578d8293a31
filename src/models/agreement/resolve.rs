//! Resolving a new agreement's parties: which fields its kind needs, which ids exist,
//! which direction it has, and what the rules of the model say about it.

use super::create::NewAgreement;
use super::Agreement;
use crate::db::DbConn;
use crate::domain::rules::{self, ServiceFacts};
use crate::domain::{codes, AgreementKind, Direction, Problems};
use crate::error::{AppError, AppResult};
use crate::models::municipality::Municipality;
use crate::models::organisation::Organisation;
use crate::models::service::Service;

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
            format!("Dieses Feld gehört nicht zu einer {}.", kind.label()),
        );
    }
}

/// Looks up an id given in the request body; unknown ids are input errors (422).
fn lookup<T>(problems: &mut Problems, field: &str, result: AppResult<T>) -> AppResult<Option<T>> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.status.code == 404 => {
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
        let cp_name = counterparty
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_default();
        let cp_id = counterparty
            .as_ref()
            .map(|c| c.id.clone())
            .unwrap_or_default();
        let (mut ioev_id, mut rv_id, mut ekv_id) = (None, None, None);
        let (active_key, parties_label) = match kind {
            AgreementKind::Ioev => (format!("ioev:{cp_id}"), cp_name.clone()),
            AgreementKind::Rv => {
                let m = municipality
                    .as_ref()
                    .ok_or_else(|| AppError::internal("municipality resolved"))?;
                (format!("rv:{}", m.id), m.display_name())
            }
            AgreementKind::Ekv => {
                let s = service
                    .as_ref()
                    .ok_or_else(|| AppError::internal("service resolved"))?;
                let ioev = Agreement::best_active(
                    conn,
                    AgreementKind::Ioev,
                    Some(&cp_id),
                    None,
                    None,
                    None,
                )?;
                rules::check_ekv(&cp_name, ioev.as_ref().map(Agreement::found).transpose()?)?;
                ioev_id = ioev.map(|a| a.id);
                (
                    format!("ekv:{cp_id}:{}", s.id),
                    format!("{cp_name} und „{}“", s.name),
                )
            }
            AgreementKind::Ea => {
                let s = service
                    .as_ref()
                    .ok_or_else(|| AppError::internal("service resolved"))?;
                let facts = ServiceFacts {
                    name: &s.name,
                    availability: s.availability()?,
                };
                if outbound_ea {
                    let ioev = Agreement::best_active(
                        conn,
                        AgreementKind::Ioev,
                        Some(&cp_id),
                        None,
                        None,
                        None,
                    )?;
                    let ekv = Agreement::best_active(
                        conn,
                        AgreementKind::Ekv,
                        Some(&cp_id),
                        None,
                        Some(&s.id),
                        Some(Direction::Outbound),
                    )?;
                    rules::check_ea_outbound(
                        &cp_name,
                        ioev.as_ref().map(Agreement::found).transpose()?,
                        facts,
                        ekv.as_ref().map(Agreement::found).transpose()?,
                    )?;
                    ioev_id = ioev.map(|a| a.id);
                    ekv_id = ekv.map(|a| a.id);
                    let ags = self.external_party_ags.clone().unwrap_or_default();
                    let name = self.external_party_name.clone().unwrap_or_default();
                    (
                        format!("ea:{cp_id}:{ags}:{}", s.id),
                        format!("{name} (über {cp_name}) und „{}“", s.name),
                    )
                } else {
                    let m = municipality
                        .as_ref()
                        .ok_or_else(|| AppError::internal("municipality resolved"))?;
                    let rv = Agreement::best_active(
                        conn,
                        AgreementKind::Rv,
                        None,
                        Some(&m.id),
                        None,
                        None,
                    )?;
                    let ekv = Agreement::best_active(
                        conn,
                        AgreementKind::Ekv,
                        None,
                        None,
                        Some(&s.id),
                        Some(Direction::Inbound),
                    )?;
                    rules::check_ea_inbound(
                        &m.display_name(),
                        rv.as_ref().map(Agreement::found).transpose()?,
                        facts,
                        ekv.as_ref().map(Agreement::found).transpose()?,
                    )?;
                    rv_id = rv.map(|a| a.id);
                    ekv_id = ekv.map(|a| a.id);
                    (
                        format!("ea:{}:{}", m.id, s.id),
                        format!("{} und „{}“", m.display_name(), s.name),
                    )
                }
            }
        };
        Ok(Resolved {
            direction,
            counterparty,
            municipality,
            service,
            ioev_id,
            rv_id,
            ekv_id,
            active_key,
            parties_label,
        })
    }
}
