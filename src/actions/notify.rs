//! Who is told what, by mail: each function is called inside the transaction of its event
//! and queues the mails in the outbox (`store::outbox`). Links point into the registry;
//! no mail carries a contract document.

use diesel::prelude::*;
use serde_json::{json, Value};

use crate::db::schema::users;
use crate::db::DbConn;
use crate::domain::agreement::german_date;
use crate::domain::grammar::{counted, Article, Case};
use crate::domain::signing::{Party, SigningOrder};
use crate::error::AppResult;
use crate::store::agreement::Agreement;
use crate::store::contact::Contact;
use crate::store::municipality::Municipality;
use crate::store::organisation::Organisation;
use crate::store::outbox;
use crate::store::service::Service;
use crate::store::task::Task;
use crate::store::user::User;

/// A link into the registry; the mailer completes it with its `base_url` when it sends
/// the mail (`mail::LINK_BASE`).
fn link(path: &str) -> String {
    format!("{}{path}", crate::mail::LINK_BASE)
}

fn active_users(conn: &mut DbConn) -> AppResult<Vec<User>> {
    Ok(users::table
        .filter(users::disabled.eq(false))
        .select(User::as_select())
        .load(conn)?)
}

/// d-NRW staff (admins and clerks).
pub fn staff_emails(conn: &mut DbConn) -> AppResult<Vec<String>> {
    Ok(active_users(conn)?
        .into_iter()
        .filter(|u| matches!(u.role.as_str(), "admin" | "clerk"))
        .map(|u| u.email)
        .collect())
}

/// The users of the partner of `a`: its municipality's, or its counterparty's.
fn partner_users(conn: &mut DbConn, a: &Agreement) -> AppResult<Vec<User>> {
    Ok(active_users(conn)?
        .into_iter()
        .filter(|u| match (&a.municipality_id, &a.counterparty_id) {
            (Some(m), _) => u.municipality_id.as_deref() == Some(m.as_str()),
            (None, Some(o)) => u.organisation_id.as_deref() == Some(o.as_str()),
            _ => false,
        })
        .collect())
}

/// Who may sign for `party`: the users of that side (d-NRW's staff, or the partner's)
/// with signing authority; if none has it, all of them, who need to know as well.
fn signer_emails(conn: &mut DbConn, a: &Agreement, party: Party) -> AppResult<Vec<String>> {
    let side: Vec<User> = match party {
        Party::Partner => partner_users(conn, a)?,
        Party::Dnrw => active_users(conn)?
            .into_iter()
            .filter(|u| u.role.is_staff())
            .collect(),
    };
    let signers: Vec<String> = side
        .iter()
        .filter(|u| u.may_sign)
        .map(|u| u.email.clone())
        .collect();
    Ok(if signers.is_empty() {
        side.into_iter().map(|u| u.email).collect()
    } else {
        signers
    })
}

/// What the mails say about an agreement.
fn describe(conn: &mut DbConn, a: &Agreement) -> AppResult<Value> {
    let kind = a.kind;
    let partner = crate::store::signature::party_name(conn, a, Party::Partner)?;
    let service = match &a.service_id {
        Some(s) => Service::find(conn, s)?.name,
        None => String::new(),
    };
    Ok(json!({
        "reference": a.reference,
        "kind": kind.label(),
        // "der Einzelabruf (EA)", "die Rahmenvereinbarung (RV)"
        "the_kind": kind.phrase(Case::Nominative, Article::Definite, None),
        "the_kind_acc": kind.phrase(Case::Accusative, Article::Definite, None),
        "municipality": partner,
        "parties": format!("d-NRW und {partner}"),
        "service": service,
        "link": link(&format!("/vereinbarungen/{}", a.id)),
    }))
}

/// A municipality filed an Einzelabruf itself: d-NRW's staff are told.
pub fn ea_filed(conn: &mut DbConn, a: &Agreement) -> AppResult<()> {
    let to = staff_emails(conn)?;
    let ctx = describe(conn, a)?;
    outbox::enqueue(conn, "ea_filed", &to, &ctx)?;
    Ok(())
}

/// `a` waits for the signature of `party` (after submission, or after the other side
/// signed); `reminder` after `days` of waiting.
pub fn signature_waiting(
    conn: &mut DbConn,
    a: &Agreement,
    party: Party,
    reminder: Option<i64>,
) -> AppResult<usize> {
    let to = signer_emails(conn, a, party)?;
    let mut ctx = describe(conn, a)?;
    ctx["party"] = json!(crate::store::signature::party_name(conn, a, party)?);
    ctx["reminder"] = json!(reminder.is_some());
    ctx["days"] = json!(reminder.unwrap_or(0));
    ctx["days_text"] = json!(counted(reminder.unwrap_or(0), "Tag", "Tagen"));
    outbox::enqueue(conn, "signature_waiting", &to, &ctx)
}

/// A signatory of `party` declined to sign `a`: whoever asked for it (its creator) and
/// the other side are told, with the reason.
pub fn declined(
    conn: &mut DbConn,
    a: &Agreement,
    by: &str,
    party: Party,
    reason: &str,
    amendment: Option<i32>,
) -> AppResult<usize> {
    let side = crate::store::signature::party_name(conn, a, party)?;
    let mut to = match party {
        Party::Dnrw => partner_users(conn, a)?
            .into_iter()
            .map(|u| u.email)
            .collect(),
        Party::Partner => staff_emails(conn)?,
    };
    if let Some(email) = a.created_by.strip_prefix("user:") {
        if let Some(u) = User::find_by_email(conn, email)? {
            if !u.disabled && !to.contains(&u.email) {
                to.push(u.email);
            }
        }
    }
    let mut ctx = describe(conn, a)?;
    ctx["by"] = json!(by);
    ctx["side"] = json!(side);
    ctx["reason"] = json!(reason);
    ctx["amendment"] = json!(amendment);
    outbox::enqueue(conn, "signature_declined", &to, &ctx)
}

/// Who signs first once `a` was submitted: the first party of the order (both with `any`).
pub fn submitted(conn: &mut DbConn, a: &Agreement, order: SigningOrder) -> AppResult<()> {
    let parties: &[Party] = match order {
        SigningOrder::PartnerFirst => &[Party::Partner],
        SigningOrder::DnrwFirst => &[Party::Dnrw],
        SigningOrder::Any => &[Party::Partner, Party::Dnrw],
    };
    for p in parties {
        signature_waiting(conn, a, *p, None)?;
    }
    Ok(())
}

/// Who hears of a concluded agreement: the partner's users and d-NRW's signatories.
fn both_sides(conn: &mut DbConn, a: &Agreement) -> AppResult<Vec<String>> {
    let mut to: Vec<String> = partner_users(conn, a)?
        .into_iter()
        .map(|u| u.email)
        .collect();
    to.extend(signer_emails(conn, a, Party::Dnrw)?);
    Ok(to)
}

/// `a` came into force (at its last signature, on its date, or put into force by d-NRW):
/// every party is told.
pub fn in_force(conn: &mut DbConn, a: &Agreement) -> AppResult<()> {
    let to = both_sides(conn, a)?;
    let mut ctx = describe(conn, a)?;
    ctx["effective_from"] = json!(a.effective_from.map(german_date));
    outbox::enqueue(conn, "in_force", &to, &ctx)?;
    Ok(())
}

/// All have signed and the document is sealed: both sides are told, with a link.
pub fn sealed(conn: &mut DbConn, a: &Agreement) -> AppResult<()> {
    let to = both_sides(conn, a)?;
    let ctx = describe(conn, a)?;
    outbox::enqueue(conn, "sealed", &to, &ctx)?;
    Ok(())
}

/// The users and the responsible contact of a task's owner: a municipality's or another
/// Land's intermediary's users; for d-NRW's own tasks (`dnrw` is its id) its staff, whose
/// accounts name no organisation.
fn owner_emails(conn: &mut DbConn, t: &Task, dnrw: &str) -> AppResult<Vec<String>> {
    let mut to: Vec<String> = if t.owner_organisation_id.as_deref() == Some(dnrw) {
        staff_emails(conn)?
    } else {
        active_users(conn)?
            .into_iter()
            .filter(
                |u| match (&t.owner_municipality_id, &t.owner_organisation_id) {
                    (Some(m), _) => u.municipality_id.as_deref() == Some(m.as_str()),
                    (_, Some(o)) => u.organisation_id.as_deref() == Some(o.as_str()),
                    _ => false,
                },
            )
            .map(|u| u.email)
            .collect()
    };
    if let Some(c) = &t.contact_id {
        to.extend(Contact::find(conn, c)?.email);
    }
    Ok(to)
}

/// A new go-live plan: each owner is told its tasks, once, with the due date.
pub fn tasks_assigned(conn: &mut DbConn, a: &Agreement, tasks: &[Task]) -> AppResult<()> {
    let base = describe(conn, a)?;
    let dnrw = Organisation::kommunalvertreter(conn)?.id;
    let mut owners: Vec<(Option<String>, Option<String>)> = tasks
        .iter()
        .map(|t| {
            (
                t.owner_municipality_id.clone(),
                t.owner_organisation_id.clone(),
            )
        })
        .collect();
    owners.dedup();
    for owner in owners {
        let mine: Vec<&Task> = tasks
            .iter()
            .filter(|t| {
                (
                    t.owner_municipality_id.clone(),
                    t.owner_organisation_id.clone(),
                ) == owner
            })
            .collect();
        let Some(first) = mine.first() else { continue };
        let owner_name = match &owner {
            (Some(m), _) => Municipality::find(conn, m)?.display_name(),
            (_, Some(o)) => Organisation::find(conn, o)?.name,
            _ => continue,
        };
        let mut to = Vec::new();
        for t in &mine {
            to.extend(owner_emails(conn, t, &dnrw)?);
        }
        let mut ctx = base.clone();
        ctx["owner"] = json!(owner_name);
        ctx["due"] = json!(german_date(first.due_on));
        ctx["overview"] = json!(link("/aufgaben"));
        ctx["tasks"] = json!(mine
            .iter()
            .map(|t| {
                let title = t.kind.title();
                json!({ "title": title, "link": link(&format!("/aufgaben/{}", t.id)) })
            })
            .collect::<Vec<_>>());
        outbox::enqueue(conn, "task_assigned", &to, &ctx)?;
    }
    Ok(())
}

/// A task is overdue (the reminder job).
pub fn task_overdue(conn: &mut DbConn, a: &Agreement, t: &Task) -> AppResult<usize> {
    let dnrw = Organisation::kommunalvertreter(conn)?.id;
    let to = owner_emails(conn, t, &dnrw)?;
    let kind = t.kind;
    let mut ctx = describe(conn, a)?;
    ctx["title"] = json!(kind.title());
    ctx["due"] = json!(german_date(t.due_on));
    ctx["status"] = json!(t.status.label());
    ctx["link"] = json!(link(&format!("/aufgaben/{}", t.id)));
    outbox::enqueue(conn, "task_overdue", &to, &ctx)
}

/// The DVDV certificate of EA `a` expires on `expires` (the reminder job): the
/// municipality's users and d-NRW's staff.
pub fn certificate_expiring(
    conn: &mut DbConn,
    a: &Agreement,
    details: &Value,
    expires: time::Date,
) -> AppResult<usize> {
    let mut to: Vec<String> = partner_users(conn, a)?
        .into_iter()
        .map(|u| u.email)
        .collect();
    to.extend(staff_emails(conn)?);
    let mut ctx = describe(conn, a)?;
    ctx["expires"] = json!(german_date(expires));
    ctx["subject"] = json!(details["subject"].as_str().unwrap_or_default());
    ctx["fingerprint"] = json!(details["fingerprint_sha256"].as_str().unwrap_or_default());
    ctx["link"] = json!(link(&format!("/vereinbarungen/{}#zertifikat-titel", a.id)));
    outbox::enqueue(conn, "certificate_expiring", &to, &ctx)
}

/// Another Land's intermediary asked to re-use an NRW service (an EKV draft): d-NRW's
/// staff are told, with the note of the person who asked.
pub fn ekv_requested(
    conn: &mut DbConn,
    a: &Agreement,
    requester: &str,
    note: Option<&str>,
) -> AppResult<()> {
    let to = staff_emails(conn)?;
    let mut ctx = describe(conn, a)?;
    ctx["partner"] = ctx["municipality"].clone();
    ctx["requester"] = json!(requester);
    ctx["note"] = json!(note.unwrap_or_default());
    outbox::enqueue(conn, "ekv_requested", &to, &ctx)?;
    Ok(())
}

/// An invitation: the link with the one-time secret to set one's password, and until
/// when it works. `created`: the account is new (else: invited again).
pub fn invitation(
    conn: &mut DbConn,
    user: &User,
    secret: &str,
    expires_at: time::PrimitiveDateTime,
    created: bool,
) -> AppResult<()> {
    let ctx = json!({
        "name": user.name,
        "email": user.email,
        "role": user.role.label(),
        "created": created,
        "expires": crate::domain::berlin::german_date_time(expires_at),
        "link": link(&format!("/einladung/{secret}")),
    });
    outbox::enqueue(
        conn,
        crate::actions::invitation::MAIL_KIND,
        std::slice::from_ref(&user.email),
        &ctx,
    )?;
    Ok(())
}

/// An account was created with an initial password (the API and the CLI): the user is
/// told (never the password itself).
pub fn account_created(conn: &mut DbConn, user: &User) -> AppResult<()> {
    let ctx = json!({
        "name": user.name,
        "email": user.email,
        "role": user.role.label(),
        "link": link("/anmelden"),
    });
    outbox::enqueue(
        conn,
        "account_created",
        std::slice::from_ref(&user.email),
        &ctx,
    )?;
    Ok(())
}
