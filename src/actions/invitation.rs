//! Invitations: an admin adds a user (or invites one again), and the user gets a mail with
//! a one-time link to set their own password. Nobody else ever sees a password.
//!
//! - The link carries a random secret (32 bytes); only its SHA-256 is stored.
//! - It works once and until it expires (`INVITATION_DAYS`); a new invitation ends the
//!   older ones of the same user; a locked account cannot use it.
//! - The mail waits in the outbox like every mail; once it is sent, its body (which holds
//!   the link) is emptied there (`actions::outbox`).

use diesel::prelude::*;
use serde::Serialize;
use time::{Duration, PrimitiveDateTime};

use crate::db::schema::{invitations, users};
use crate::db::DbConn;
use crate::domain::account;
use crate::domain::Problems;
use crate::error::{AppError, AppResult};
use crate::store::user::{hash_password, User};
use crate::store::{new_id, now, random_hex};

/// How long an invitation link works.
pub const INVITATION_DAYS: i64 = 7;

/// The mail kind that carries the link (its body is emptied once sent).
pub const MAIL_KIND: &str = "account_invitation";

/// An invitation sent: to whom, until when its link works.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    pub email: String,
    #[serde(with = "crate::store::ts")]
    pub expires_at: PrimitiveDateTime,
}

fn hash(secret: &str) -> String {
    crate::store::user::token_hash(secret)
}

/// Invites `user`: ends its open invitations, stores the new one's hash and queues the
/// mail with the link. `actor` is recorded in the invitation and the audit log;
/// `created` says whether the account is new (the mail says so).
pub fn invite(conn: &mut DbConn, actor: &str, user: &User, created: bool) -> AppResult<Sent> {
    if user.disabled {
        return Err(AppError::conflict(format!(
            "{} ist gesperrt; entsperren Sie den Zugang zuerst.",
            user.email
        )));
    }
    let at = now();
    end_open(conn, &user.id)?;
    let secret = random_hex(32);
    let expires_at = at + Duration::days(INVITATION_DAYS);
    diesel::insert_into(invitations::table)
        .values((
            invitations::id.eq(new_id()),
            invitations::user_id.eq(&user.id),
            invitations::token_hash.eq(hash(&secret)),
            invitations::created_at.eq(at),
            invitations::created_by.eq(actor),
            invitations::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    crate::store::audit::record(
        conn,
        crate::store::audit::Change {
            actor,
            action: "invite_user",
            entity_type: "user",
            entity_id: &user.id,
            before: None,
            after: None,
            note: Some(format!(
                "Einladung an {} bis {}",
                user.email,
                crate::domain::berlin::german_date_time(expires_at)
            )),
        },
    )?;
    crate::actions::notify::invitation(conn, user, &secret, expires_at, created)?;
    Ok(Sent {
        email: user.email.clone(),
        expires_at,
    })
}

/// Ends the user's open invitation links (a new invitation, or the account is locked).
pub fn end_open(conn: &mut DbConn, user_id: &str) -> AppResult<()> {
    let at = now();
    diesel::update(
        invitations::table
            .filter(invitations::user_id.eq(user_id))
            .filter(invitations::used_at.is_null())
            .filter(invitations::expires_at.gt(at)),
    )
    .set(invitations::expires_at.eq(at))
    .execute(conn)?;
    Ok(())
}

/// The refusal of a link that does not work (unknown, used, expired, or the account is
/// locked): one message for all, so the link says nothing about the account.
fn not_valid() -> AppError {
    AppError::not_found(
        "Dieser Einladungslink gilt nicht mehr: Er wurde schon benutzt, ist abgelaufen oder durch eine neuere Einladung ersetzt. Bitten Sie die Administration der d-NRW um eine neue Einladung.",
    )
}

/// The user a link invites, if the link still works.
pub fn user_of(conn: &mut DbConn, secret: &str) -> AppResult<User> {
    let user_id: String = invitations::table
        .filter(invitations::token_hash.eq(hash(secret)))
        .filter(invitations::used_at.is_null())
        .filter(invitations::expires_at.gt(now()))
        .select(invitations::user_id)
        .first(conn)
        .optional()?
        .ok_or_else(not_valid)?;
    let user = User::find(conn, &user_id)?;
    if user.disabled {
        return Err(not_valid());
    }
    Ok(user)
}

/// Sets the invited user's password from the link (once): the password rules apply, the
/// link is used up in the same transaction, and the account's other sessions end. The
/// pages check and hash first (`checked`, outside the write transaction) and then call
/// `accept_hashed`.
pub fn accept(conn: &mut DbConn, secret: &str, new: &str, repeat: &str) -> AppResult<User> {
    let (user, hash) = checked(conn, secret, new, repeat)?;
    accept_hashed(conn, secret, &user, &hash)
}

/// The invited user and the new password's hash, if the link works and the password
/// passes the rules.
pub fn checked(
    conn: &mut DbConn,
    secret: &str,
    new: &str,
    repeat: &str,
) -> AppResult<(User, String)> {
    let user = user_of(conn, secret)?;
    let mut problems = Problems::new();
    account::check_password(&mut problems, "new", new, &user.email);
    if new != repeat {
        problems.add(
            "repeat",
            "Die Wiederholung stimmt nicht mit dem Passwort überein.",
        );
    }
    problems.into_result()?;
    let hash = hash_password(new)?;
    Ok((user, hash))
}

/// Uses up the link and stores the password hash, if nothing changed since `user` was
/// read with it: the link still open and unexpired, the account unlocked and unchanged
/// (a new invitation or a lock in between wins).
pub fn accept_hashed(
    conn: &mut DbConn,
    secret: &str,
    user: &User,
    password_hash: &str,
) -> AppResult<User> {
    let at = now();
    let used = diesel::update(
        invitations::table
            .filter(invitations::token_hash.eq(hash(secret)))
            .filter(invitations::user_id.eq(&user.id))
            .filter(invitations::used_at.is_null())
            .filter(invitations::expires_at.gt(at)),
    )
    .set(invitations::used_at.eq(at))
    .execute(conn)?;
    if used != 1 {
        return Err(not_valid());
    }
    let changed = diesel::update(
        users::table
            .find(&user.id)
            .filter(users::disabled.eq(false))
            .filter(users::lock_version.eq(user.lock_version)),
    )
    .set((
        users::password_hash.eq(password_hash),
        users::must_change_password.eq(false),
        users::updated_at.eq(at),
        users::lock_version.eq(user.lock_version + 1),
    ))
    .execute(conn)?;
    if changed != 1 {
        return Err(not_valid());
    }
    crate::store::audit::record(
        conn,
        crate::store::audit::Change {
            actor: &format!("user:{}", user.email),
            action: "accept_invitation",
            entity_type: "user",
            entity_id: &user.id,
            before: None,
            after: None,
            note: None,
        },
    )?;
    User::find(conn, &user.id)
}
