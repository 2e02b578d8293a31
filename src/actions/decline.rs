//! A signatory declines to sign, with a reason: the text they were asked to sign is set
//! aside (its version cancelled, the signatures given on it stay on record), the
//! agreement becomes a draft again (a new version with the same terms, to be corrected
//! and submitted again), and whoever asked for it is told, by mail and on its page. An
//! amendment waiting for signatures is declined the same way; it is cancelled and the
//! agreement goes on in the version in force.

use diesel::prelude::*;
use serde::Deserialize;

use crate::db::schema::agreement_versions;
use crate::db::DbConn;
use crate::domain::text::{Checked, Inspect, Kind, TextCheck};
use crate::domain::{DomainError, Status, VersionStatus};
use crate::error::{AppError, AppResult};
use crate::store::agreement::{Agreement, AgreementVersion};
use crate::store::audit::{self, Change};
use crate::store::signature::{party_name, Signature};
use crate::store::user::User;
use crate::store::{new_id, now};

/// Why the signatory declines (shown to the requester and kept in the history).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclineInput {
    pub reason: String,
}

impl Inspect for DeclineInput {
    fn inspect(&mut self, t: &mut TextCheck) {
        t.text("reason", Kind::Note, &mut self.reason);
    }
}

impl Checked<DeclineInput> {
    /// `user` declines to sign agreement `id` (waiting for signatures, their side not
    /// signed yet). Returns the agreement, a draft again.
    pub fn apply(self, conn: &mut DbConn, user: &User, id: &str) -> AppResult<Agreement> {
        let input = self.into_inner();
        let mut a = Agreement::find(conn, id)?;
        if a.status != Status::AwaitingSignatures {
            if let Some(no) = open_amendment(conn, &a)? {
                return decline_amendment(conn, a, no, user, input.reason.trim());
            }
            return Err(DomainError::Transition(format!(
                "{} wartet nicht auf Unterschriften; ablehnen lässt sich nur, was zur Unterschrift vorliegt.",
                a.reference
            ))
            .into());
        }
        let party = crate::actions::sign::party_of_user(conn, &a, user)?;
        let no = a.current_version;
        if Signature::has_signed(conn, &a.id, no, party)? {
            return Err(DomainError::Conflict(format!(
                "Für {} liegt die Unterschrift schon vor; ablehnen kann nur, wer noch nicht unterzeichnet hat.",
                party_name(conn, &a, party)?
            ))
            .into());
        }
        if input.reason.trim().is_empty() {
            return Err(AppError::field(
                "reason",
                "Bitte nennen Sie den Grund der Ablehnung, damit der Entwurf korrigiert werden kann.",
            ));
        }
        let side = party_name(conn, &a, party)?;
        let note = format!(
            "Unterschrift abgelehnt von {} für {side}: {}",
            user.name,
            input.reason.trim()
        );
        let before = a.snapshot();
        let expected = a.lock_version;
        let old = a.version(conn, no)?;
        // The declined text stays on record as a cancelled version …
        cancel_version(conn, &a.id, no, &note)?;
        // … and the same terms become the next version, a draft to correct.
        let actor = format!("user:{}", user.email);
        diesel::insert_into(agreement_versions::table)
            .values(&AgreementVersion {
                id: new_id(),
                agreement_id: a.id.clone(),
                version_no: no + 1,
                terms: old.terms.clone(),
                change_note: Some(format!("Neuer Entwurf nach Ablehnung der Fassung {no}")),
                status: VersionStatus::Draft,
                signed_on: None,
                effective_from: None,
                created_at: now(),
                created_by: actor.clone(),
                text: None,
                text_sha256: None,
                text_templates: None,
            })
            .execute(conn)?;
        a.current_version = no + 1;
        a.status = Status::Draft;
        a.submitted_at = None;
        a.submitted_by = None;
        a.save(conn, expected)?;
        audit::record(
            conn,
            Change {
                actor: &actor,
                action: "decline",
                entity_type: "agreement",
                entity_id: &a.id,
                before: Some(before),
                after: Some(a.snapshot()),
                note: Some(note.clone()),
            },
        )?;
        crate::actions::notify::declined(conn, &a, &user.name, party, input.reason.trim(), None)?;
        Ok(a)
    }
}

/// Sets version `no` aside as cancelled, with the refusal as its note (its signatures
/// stay on record).
fn cancel_version(conn: &mut DbConn, agreement_id: &str, no: i32, note: &str) -> AppResult<()> {
    diesel::update(
        agreement_versions::table
            .filter(agreement_versions::agreement_id.eq(agreement_id))
            .filter(agreement_versions::version_no.eq(no)),
    )
    .set((
        agreement_versions::status.eq(VersionStatus::Cancelled),
        agreement_versions::change_note.eq(Some(note)),
    ))
    .execute(conn)?;
    Ok(())
}

/// The amendment of `a` that waits for signatures (a version after the current one, in
/// draft), if any.
fn open_amendment(conn: &mut DbConn, a: &Agreement) -> AppResult<Option<i32>> {
    Ok(agreement_versions::table
        .filter(agreement_versions::agreement_id.eq(&a.id))
        .filter(agreement_versions::version_no.gt(a.current_version))
        .filter(agreement_versions::status.eq(VersionStatus::Draft))
        .select(agreement_versions::version_no)
        .order(agreement_versions::version_no.desc())
        .first(conn)
        .optional()?)
}

/// Declines amendment `no` of `a`: it is cancelled with the reason (its signatures stay
/// on record), the agreement goes on in its current version, and the requester is told.
fn decline_amendment(
    conn: &mut DbConn,
    mut a: Agreement,
    no: i32,
    user: &User,
    reason: &str,
) -> AppResult<Agreement> {
    let party = crate::actions::sign::party_of_user(conn, &a, user)?;
    if Signature::has_signed(conn, &a.id, no, party)? {
        return Err(DomainError::Conflict(format!(
            "Für {} liegt die Unterschrift unter der Änderungsfassung {no} schon vor; ablehnen kann nur, wer noch nicht unterzeichnet hat.",
            party_name(conn, &a, party)?
        ))
        .into());
    }
    if reason.is_empty() {
        return Err(AppError::field(
            "reason",
            "Bitte nennen Sie den Grund der Ablehnung, damit die Änderung korrigiert werden kann.",
        ));
    }
    let side = party_name(conn, &a, party)?;
    let note = format!(
        "Änderungsfassung {no} abgelehnt von {} für {side}: {reason}",
        user.name
    );
    let before = a.snapshot();
    cancel_version(conn, &a.id, no, &note)?;
    // The agreement row changes only in its lock, so a page open elsewhere notices.
    let expected = a.lock_version;
    a.save(conn, expected)?;
    audit::record(
        conn,
        Change {
            actor: &format!("user:{}", user.email),
            action: "amendment_decline",
            entity_type: "agreement",
            entity_id: &a.id,
            before: Some(before),
            after: Some(a.snapshot()),
            note: Some(note),
        },
    )?;
    crate::actions::notify::declined(conn, &a, &user.name, party, reason, Some(no))?;
    Ok(a)
}

/// Whether `user` could decline `a` now (a signatory of a side that has not signed an
/// agreement waiting for signatures), for a page to offer it.
pub fn may_decline(conn: &mut DbConn, a: &Agreement, user: &User) -> AppResult<bool> {
    let no = match a.status {
        Status::AwaitingSignatures => a.current_version,
        _ => match open_amendment(conn, a)? {
            Some(no) => no,
            None => return Ok(false),
        },
    };
    let Ok(party) = crate::actions::sign::party_of_user(conn, a, user) else {
        return Ok(false);
    };
    Ok(!Signature::has_signed(conn, &a.id, no, party)?)
}
