//! User accounts (admins only): `/benutzer` (search, 50 per page, the organisation of
//! each), adding a user by invitation (a mail with a one-time link to set the password,
//! `actions::invitation`), locking, the right to sign, inviting again.

use rocket::form::{Form, FromForm};
use rocket::http::Status;
use rocket::{get, post, State};
use serde::Serialize;
use serde_json::json;

use crate::actions::accounts::NewUser;
use crate::domain::account::Role;
use crate::domain::text::Checked;
use crate::error::{AppError, AppResult};
use crate::http::params::UserId;
use crate::http::state::AppState;
use crate::store::municipality::Municipality;
use crate::store::organisation::{self, Organisation};
use crate::store::user::User;
use crate::web::{form_errors, form_outcome, form_session, page_context, signed_in, Page, Session};

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![users, create, lock, signing, invite_again,]
}

fn admin(session: &Session) -> AppResult<()> {
    crate::domain::policy::manage_users(session.role()).map_err(AppError::forbidden)
}

/// Users per page of `/benutzer`.
const PER_PAGE: usize = 50;

/// Which users the list shows.
#[derive(Debug, Clone, Default)]
struct Listing {
    q: String,
    page: usize,
}

async fn page(
    state: &State<AppState>,
    session: &Session,
    values: serde_json::Value,
    errors: Option<(serde_json::Value, serde_json::Value)>,
    created: Option<serde_json::Value>,
    listing: Listing,
) -> AppResult<Page> {
    let search = crate::domain::Search::new(&listing.q);
    let (rows, total, intermediaries) = state
        .db
        .read(move |conn| {
            let all = User::list(conn)?;
            let orgs = organisation_names(conn, &all)?;
            let rows: Vec<serde_json::Value> = all
                .into_iter()
                .map(|u| {
                    let org = u
                        .municipality_id
                        .as_ref()
                        .or(u.organisation_id.as_ref())
                        .and_then(|id| orgs.get(id).cloned())
                        .unwrap_or_else(|| match u.role {
                            Role::Admin | Role::Clerk => "d-NRW AöR".to_string(),
                            _ => "–".to_string(),
                        });
                    (u, org)
                })
                .filter(|(u, org)| {
                    search.matches([
                        u.name.as_str(),
                        u.email.as_str(),
                        org.as_str(),
                        u.role_label,
                    ])
                })
                .map(|(u, org)| json!({ "u": u, "organisation": org }))
                .collect();
            let intermediaries: Vec<Organisation> =
                Organisation::list(conn, organisation::Role::Intermediary)?
                    .into_iter()
                    .filter(|o| !o.is_self)
                    .collect();
            let total = rows.len();
            Ok((rows, total, intermediaries))
        })
        .await?;
    let pages = total.div_ceil(PER_PAGE).max(1);
    let page = listing.page.clamp(1, pages);
    let shown: Vec<&serde_json::Value> = rows
        .iter()
        .skip((page - 1) * PER_PAGE)
        .take(PER_PAGE)
        .collect();
    let mut ctx = page_context(session, "Benutzer")?;
    ctx["rows"] = json!(shown);
    ctx["total"] = json!(total);
    ctx["page"] = json!(page);
    ctx["pages"] = json!(pages);
    ctx["suche"] = json!(listing.q);
    ctx["suche_url"] = json!(crate::domain::urlencode(&listing.q));
    ctx["intermediaries"] = json!(intermediaries
        .iter()
        .map(|o| json!({ "id": o.id, "name": o.name }))
        .collect::<Vec<_>>());
    ctx["roles"] = json!(Role::ALL
        .iter()
        .map(|r| json!({ "value": r.as_str(), "label": r.label() }))
        .collect::<Vec<_>>());
    ctx["values"] = values;
    crate::web::set_errors(&mut ctx, errors);
    ctx["created"] = json!(created);
    ctx["invitation_days"] = json!(crate::actions::invitation::INVITATION_DAYS);
    Ok(crate::web::render("users.html", ctx))
}

/// The names of the users' municipalities ("Stadt Köln") and organisations, by id.
fn organisation_names(
    conn: &mut crate::db::DbConn,
    users: &[crate::store::user::UserView],
) -> AppResult<std::collections::HashMap<String, String>> {
    use crate::db::schema::{municipalities, organisations};
    use diesel::prelude::*;
    let munis: Vec<String> = users
        .iter()
        .filter_map(|u| u.municipality_id.clone())
        .collect();
    let orgs: Vec<String> = users
        .iter()
        .filter_map(|u| u.organisation_id.clone())
        .collect();
    let mut names = std::collections::HashMap::new();
    for chunk in munis.chunks(500) {
        let rows: Vec<(String, String, crate::domain::MunicipalityKind)> = municipalities::table
            .filter(municipalities::id.eq_any(chunk))
            .select((
                municipalities::id,
                municipalities::name,
                municipalities::kind,
            ))
            .load(conn)?;
        for (id, name, kind) in rows {
            names.insert(id, crate::domain::party::display_name(&name, kind));
        }
    }
    for chunk in orgs.chunks(500) {
        let rows: Vec<(String, String)> = organisations::table
            .filter(organisations::id.eq_any(chunk))
            .select((organisations::id, organisations::name))
            .load(conn)?;
        names.extend(rows);
    }
    Ok(names)
}

/// The empty form.
fn blank() -> serde_json::Value {
    json!({ "email": "", "name": "", "role": "municipality", "kommune": "", "organisation_id": "", "may_sign": false })
}

/// `/benutzer?suche=&seite=`: the form to add a user and the users (by name, e-mail,
/// organisation or role), 50 per page.
#[get("/benutzer?<suche>&<seite>")]
async fn users(
    state: &State<AppState>,
    session: Option<Session>,
    suche: Option<String>,
    seite: Option<usize>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    admin(&session)?;
    let q = match crate::web::search_text("suche", "Suchbegriff", suche.as_deref()) {
        Ok(q) => q,
        Err(e) => return Ok(session.refused_by(&e, "Suche nicht möglich", "/benutzer")),
    };
    let listing = Listing {
        q,
        page: seite.unwrap_or(1),
    };
    page(state, &session, blank(), None, None, listing).await
}

#[derive(FromForm, Serialize)]
struct UserForm {
    #[field(default = String::new())]
    #[serde(skip)]
    csrf: String,
    #[field(default = String::new())]
    email: String,
    #[field(default = String::new())]
    name: String,
    #[field(default = String::new())]
    role: String,
    /// The municipality by name ("Köln", "Stadt Köln") or AGS.
    #[field(default = String::new())]
    kommune: String,
    #[field(default = String::new())]
    organisation_id: String,
    #[field(default = false)]
    may_sign: bool,
}

#[post("/benutzer", data = "<form>")]
async fn create(
    state: &State<AppState>,
    session: Option<Session>,
    form: Form<UserForm>,
) -> AppResult<Page> {
    let session = form_session!(session, &form.csrf);
    admin(&session)?;
    let form = form.into_inner();
    let values = json!(form);
    let role = Role::parse(&form.role);
    let kommune = form.kommune.trim().to_string();
    let input = NewUser {
        email: form.email,
        name: form.name,
        role: form.role,
        organisation_id: (role == Some(Role::Intermediary) && !form.organisation_id.is_empty())
            .then_some(form.organisation_id),
        may_sign: form.may_sign,
        invite: true,
        ..NewUser::default()
    };
    let actor = session.actor();
    let result = state
        .db
        .write(move |conn| {
            let mut input = Checked::new(input)?;
            if role == Some(Role::Municipality) && !kommune.is_empty() {
                // Checked like every text (no control characters, a sane length).
                let kommune = crate::domain::text::clean(crate::domain::text::Kind::Name, &kommune)
                    .map_err(|why| AppError::field("municipality_id", why))?;
                let found = Municipality::resolve(conn, &kommune)?;
                input = input.amend(|i| i.municipality_id = Some(found.id))?;
            }
            input.create(conn, &actor)
        })
        .await;
    match form_outcome(result)? {
        Ok(created) => {
            page(
                state,
                &session,
                blank(),
                None,
                Some(json!(created)),
                Listing::default(),
            )
            .await
        }
        Err(e) => Ok(page(
            state,
            &session,
            values,
            Some(form_errors(&e, |f| {
                match f {
                    "municipality_id" | "municipality_ags" => "kommune",
                    "password" => "email",
                    other => other,
                }
                .to_string()
            })),
            None,
            Listing::default(),
        )
        .await?
        .with_status(Status::UnprocessableEntity)),
    }
}

#[derive(FromForm)]
struct AccountForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = false)]
    sperren: bool,
    /// Locking happens only from its confirmation page.
    #[field(default = false)]
    bestaetigt: bool,
}

/// Locks or unlocks an account.
#[post("/benutzer/<id>/sperre", data = "<form>")]
async fn lock(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<UserId, AppError>,
    form: Form<AccountForm>,
) -> AppResult<Page> {
    let session = form_session!(session, &form.csrf);
    admin(&session)?;
    let id = id?;
    let disabled = form.sperren;
    // The own account is refused by the use case at once; another asks first.
    if disabled && !form.bestaetigt && id.to_string() != session.user.id {
        let key = id.to_string();
        let target = state
            .db
            .read(move |conn| User::find(conn, &key)?.view())
            .await?;
        let mut ctx = page_context(&session, "Zugang sperren?")?;
        ctx["target"] = json!(target);
        return Ok(crate::web::render("confirm_lock.html", ctx));
    }
    change_account(state, &session, move |conn, actor| {
        User::set_disabled(conn, actor, &id, disabled)
    })
    .await
}

/// An admin's change of another account, then back to the list; a refusal (the own
/// account, a stale form) is a message page.
async fn change_account(
    state: &State<AppState>,
    session: &Session,
    change: impl FnOnce(&mut crate::db::DbConn, &User) -> AppResult<User> + Send + 'static,
) -> AppResult<Page> {
    let actor = session.user.clone();
    let result = state.db.write(move |conn| change(conn, &actor)).await;
    match form_outcome(result)? {
        Ok(_) => Ok(Page::to("/benutzer")),
        Err(e) => Ok(session.refused(
            crate::http::respond::status(&e),
            "Nicht möglich",
            &crate::web::plain(&e),
            "/benutzer",
        )),
    }
}

#[derive(FromForm)]
struct SigningForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = false)]
    zeichnen: bool,
}

/// Grants or withdraws the right to sign.
#[post("/benutzer/<id>/zeichnung", data = "<form>")]
async fn signing(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<UserId, AppError>,
    form: Form<SigningForm>,
) -> AppResult<Page> {
    let session = form_session!(session, &form.csrf);
    admin(&session)?;
    let id = id?;
    let may_sign = form.zeichnen;
    change_account(state, &session, move |conn, actor| {
        User::set_may_sign(conn, actor, &id, may_sign)
    })
    .await
}

/// Invites the user again: a new one-time link by mail (older links end).
#[post("/benutzer/<id>/einladung", data = "<form>")]
async fn invite_again(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<UserId, AppError>,
    form: Form<AccountForm>,
) -> AppResult<Page> {
    let session = form_session!(session, &form.csrf);
    admin(&session)?;
    let id = id?;
    let actor = session.user.clone();
    let result = state
        .db
        .write(move |conn| {
            let user = User::find(conn, &id)?;
            if user.id == actor.id {
                return Err(AppError::conflict(
                    "Das eigene Passwort ändern Sie unter „Passwort ändern“.",
                ));
            }
            let sent = crate::actions::invitation::invite(
                conn,
                &format!("user:{}", actor.email),
                &user,
                false,
            )?;
            Ok((user.view()?, sent))
        })
        .await;
    match form_outcome(result)? {
        Ok((user, sent)) => {
            let created = json!({ "user": user, "invitation": sent, "again": true });
            page(
                state,
                &session,
                blank(),
                None,
                Some(created),
                Listing::default(),
            )
            .await
        }
        Err(e) => Ok(session.refused(
            crate::http::respond::status(&e),
            "Nicht möglich",
            &crate::web::plain(&e),
            "/benutzer",
        )),
    }
}
