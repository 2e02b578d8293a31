//! User accounts (admins only): `/benutzer`, locking and new initial passwords.

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
use crate::store::organisation::{self, Organisation};
use crate::store::user::User;
use crate::web::{form_errors, form_outcome, form_session, page_context, signed_in, Page, Session};

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![users, create, lock, signing, reset,]
}

fn admin(session: &Session) -> AppResult<()> {
    crate::domain::policy::manage_users(session.role()).map_err(AppError::forbidden)
}

async fn page(
    state: &State<AppState>,
    session: &Session,
    values: serde_json::Value,
    errors: Option<(serde_json::Value, serde_json::Value)>,
    created: Option<serde_json::Value>,
) -> AppResult<Page> {
    let (users, intermediaries) = state
        .db
        .read(|conn| {
            let users = User::list(conn)?;
            let intermediaries: Vec<Organisation> =
                Organisation::list(conn, organisation::Role::Intermediary)?
                    .into_iter()
                    .filter(|o| !o.is_self)
                    .collect();
            Ok((users, intermediaries))
        })
        .await?;
    let mut ctx = page_context(session, "Benutzer")?;
    ctx["users"] = json!(users);
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
    Ok(crate::web::render("users.html", ctx))
}

/// The empty form.
fn blank() -> serde_json::Value {
    json!({ "email": "", "name": "", "role": "municipality", "municipality_ags": "", "organisation_id": "", "may_sign": false })
}

#[get("/benutzer")]
async fn users(state: &State<AppState>, session: Option<Session>) -> AppResult<Page> {
    let session = signed_in!(session);
    admin(&session)?;
    page(state, &session, blank(), None, None).await
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
    #[field(default = String::new())]
    municipality_ags: String,
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
    let input = NewUser {
        email: form.email,
        name: form.name,
        role: form.role,
        municipality_ags: Some(form.municipality_ags.trim().to_string())
            .filter(|a| role == Some(Role::Municipality) && !a.is_empty()),
        organisation_id: (role == Some(Role::Intermediary) && !form.organisation_id.is_empty())
            .then_some(form.organisation_id),
        may_sign: form.may_sign,
        ..NewUser::default()
    };
    let actor = session.actor();
    let result = state
        .db
        .write(move |conn| Checked::new(input)?.create(conn, &actor))
        .await;
    match form_outcome(result)? {
        Ok(created) => page(state, &session, blank(), None, Some(json!(created))).await,
        Err(e) => Ok(page(
            state,
            &session,
            values,
            Some(form_errors(&e, |f| {
                match f {
                    "municipality_id" => "municipality_ags",
                    "password" => "email",
                    other => other,
                }
                .to_string()
            })),
            None,
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

/// Sets a new initial password and shows it once.
#[post("/benutzer/<id>/passwort", data = "<form>")]
async fn reset(
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
        .write(move |conn| User::reset_password(conn, &actor, &id))
        .await;
    match form_outcome(result)? {
        Ok((user, password)) => {
            let created =
                json!({ "user": user.view()?, "initial_password": password, "reset": true });
            page(state, &session, blank(), None, Some(created)).await
        }
        Err(e) => Ok(session.refused(
            crate::http::respond::status(&e),
            "Nicht möglich",
            &crate::web::plain(&e),
            "/benutzer",
        )),
    }
}
