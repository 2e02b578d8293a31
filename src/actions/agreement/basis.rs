//! What an agreement rests on (EKV → IÖV; EA → RV and EKV, or IÖV and EKV when outbound),
//! found among the active agreements and checked against the rules, and the Trägerschaft
//! rule. Used when an agreement is created and again when it is submitted and activated.

use crate::db::DbConn;
use crate::domain::membership;
use crate::domain::rules::{self, Found, ServiceFacts};
use crate::domain::{AgreementKind, Direction};
use crate::error::{AppError, AppResult};
use crate::store::agreement::Agreement;
use crate::store::membership::Membership;
use crate::store::municipality::Municipality;
use crate::store::organisation::Organisation;
use crate::store::service::Service;

/// The links of an agreement to those it rests on.
#[derive(Debug, Default)]
pub(super) struct Basis {
    pub ioev_id: Option<String>,
    pub rv_id: Option<String>,
    pub ekv_id: Option<String>,
}

/// The parties of the agreement being checked.
pub(super) struct Parties<'a> {
    pub kind: AgreementKind,
    pub direction: Direction,
    pub counterparty: Option<&'a Organisation>,
    pub municipality: Option<&'a Municipality>,
    pub service: Option<&'a Service>,
}

fn found(a: &Option<Agreement>) -> AppResult<Option<Found<'_>>> {
    a.as_ref().map(Agreement::found).transpose()
}

fn need<'a, T>(value: Option<&'a T>, what: &str) -> AppResult<&'a T> {
    value.ok_or_else(|| AppError::internal(format!("{what} missing for the precondition check")))
}

/// Finds what the agreement rests on, or says (in German) what is missing.
pub(super) fn check(conn: &mut DbConn, p: &Parties<'_>) -> AppResult<Basis> {
    let mut basis = Basis::default();
    match p.kind {
        AgreementKind::Ioev | AgreementKind::Rv => {}
        AgreementKind::Ekv => {
            let cp = need(p.counterparty, "counterparty")?;
            let ioev =
                Agreement::best_active(conn, AgreementKind::Ioev, Some(&cp.id), None, None, None)?;
            rules::check_ekv(&cp.name, found(&ioev)?)?;
            basis.ioev_id = ioev.map(|a| a.id);
        }
        AgreementKind::Ea => {
            let s = need(p.service, "service")?;
            let facts = ServiceFacts {
                name: &s.name,
                availability: s.availability()?,
            };
            if p.direction == Direction::Outbound {
                let cp = need(p.counterparty, "counterparty")?;
                let ioev = Agreement::best_active(
                    conn,
                    AgreementKind::Ioev,
                    Some(&cp.id),
                    None,
                    None,
                    None,
                )?;
                let ekv = Agreement::best_active(
                    conn,
                    AgreementKind::Ekv,
                    Some(&cp.id),
                    None,
                    Some(&s.id),
                    Some(Direction::Outbound),
                )?;
                rules::check_ea_outbound(&cp.name, found(&ioev)?, facts, found(&ekv)?)?;
                basis.ioev_id = ioev.map(|a| a.id);
                basis.ekv_id = ekv.map(|a| a.id);
            } else {
                let m = need(p.municipality, "municipality")?;
                let rv =
                    Agreement::best_active(conn, AgreementKind::Rv, None, Some(&m.id), None, None)?;
                let ekv = Agreement::best_active(
                    conn,
                    AgreementKind::Ekv,
                    None,
                    None,
                    Some(&s.id),
                    Some(Direction::Inbound),
                )?;
                rules::check_ea_inbound(&m.display_name(), found(&rv)?, facts, found(&ekv)?)?;
                basis.rv_id = rv.map(|a| a.id);
                basis.ekv_id = ekv.map(|a| a.id);
            }
        }
    }
    Ok(basis)
}

/// The Trägerschaft rule (`domain::membership`): an RV or Einzelabruf for a municipality
/// recorded as not being Träger of d-NRW needs a reason; other agreements take none.
/// `reason_is_new`: the reason is being given now (not one recorded earlier).
pub(super) fn check_membership(
    conn: &mut DbConn,
    kind: AgreementKind,
    municipality: Option<&Municipality>,
    reason: Option<&str>,
    reason_is_new: bool,
) -> AppResult<()> {
    match municipality {
        Some(m) if membership::applies_to(kind, true) => {
            let standing = Membership::standing(conn, &m.id)?;
            membership::check_reason(standing, reason, reason_is_new, &m.display_name())?;
        }
        _ if reason.is_some_and(|r| !r.trim().is_empty()) => {
            return Err(AppError::field(
                "non_member_reason",
                "Eine Begründung ohne Trägerschaft gehört nur zu einer Rahmenvereinbarung oder \
                 einem Einzelabruf einer NRW-Kommune.",
            ))
        }
        _ => {}
    }
    Ok(())
}

/// The Trägerschaft rule for a stored agreement that goes to signature: its text is
/// fixed then, so a reason recorded since must be there (not checked again later: the
/// signed text governs).
pub(super) fn recheck_membership(conn: &mut DbConn, a: &Agreement) -> AppResult<()> {
    let municipality = a
        .municipality_id
        .as_deref()
        .map(|id| Municipality::find(conn, id))
        .transpose()?;
    check_membership(
        conn,
        a.kind,
        municipality.as_ref(),
        a.non_member_reason.as_deref(),
        false,
    )
}

/// Loads the parties of a stored agreement and checks its basis again.
pub(super) fn recheck(conn: &mut DbConn, a: &Agreement) -> AppResult<Basis> {
    let counterparty = a
        .counterparty_id
        .as_deref()
        .map(|id| Organisation::find(conn, id))
        .transpose()?;
    let municipality = a
        .municipality_id
        .as_deref()
        .map(|id| Municipality::find(conn, id))
        .transpose()?;
    let service = a
        .service_id
        .as_deref()
        .map(|id| Service::find(conn, id))
        .transpose()?;
    check(
        conn,
        &Parties {
            kind: a.kind,
            direction: a.direction,
            counterparty: counterparty.as_ref(),
            municipality: municipality.as_ref(),
            service: service.as_ref(),
        },
    )
}
