//! `/einladung/<secret>`: an invited user sets their password with the one-time link from
//! the invitation mail (`actions::invitation`), and is signed in.

use rocket::form::{Form, FromForm};
use rocket::http::{CookieJar, Status};
use rocket::{get, post, State};
use serde_json::json;

use crate::actions::invitation;
use crate::error::{AppError, AppResult};
use crate::http::state::AppState;
use crate::store::random_hex;
use crate::web::{
    cookie, csrf_refused, pre_login_ok, pre_login_token, render, session_value, Page, SESSION,
};

/// The pre-login cookie with the form's token.
const INVITATION_CSRF: &str = "nnr_einladung";

/// The link's secret as it may look (64 hex digits); anything else is not looked up.
fn plausible(secret: &str) -> bool {
    secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The form, or why the link does not work (404 with the German reason).
fn form_page(
    cookies: &CookieJar<'_>,
    secret: &str,
    user: &crate::store::user::User,
    errors: Option<(serde_json::Value, serde_json::Value)>,
) -> Page {
    let csrf = pre_login_token(cookies, INVITATION_CSRF);
    let mut ctx = json!({
        "title": "Passwort festlegen",
        "user": null,
        "nav": {},
        "csrf": csrf,
        "secret": secret,
        "invited": { "name": user.name, "email": user.email, "role": user.role.label() },
    });
    crate::web::set_errors(&mut ctx, errors);
    render("invitation.html", ctx)
}

fn invalid(e: &AppError) -> Page {
    crate::web::refused(
        crate::http::respond::status(e),
        "Einladung nicht gültig",
        &crate::web::plain(e),
        "/anmelden",
    )
}

#[get("/einladung/<secret>")]
pub(super) async fn invitation_page(
    state: &State<AppState>,
    cookies: &CookieJar<'_>,
    secret: &str,
) -> AppResult<Page> {
    if !plausible(secret) {
        return Ok(invalid(&AppError::not_found(
            "Diesen Einladungslink gibt es nicht.",
        )));
    }
    let s = secret.to_string();
    match state
        .db
        .read(move |conn| invitation::user_of(conn, &s))
        .await
    {
        Ok(user) => Ok(form_page(cookies, secret, &user, None)),
        Err(e) if e.http_status() == 404 => Ok(invalid(&e)),
        Err(e) => Err(e),
    }
}

#[derive(FromForm)]
pub(super) struct InvitationForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = String::new())]
    new: String,
    #[field(default = String::new())]
    repeat: String,
}

/// Sets the password (once), then signs the user in.
#[post("/einladung/<secret>", data = "<form>")]
pub(super) async fn accept(
    state: &State<AppState>,
    cookies: &CookieJar<'_>,
    secret: &str,
    form: Form<InvitationForm>,
) -> AppResult<Page> {
    if !pre_login_ok(cookies, INVITATION_CSRF, &form.csrf) {
        return Ok(csrf_refused());
    }
    if !plausible(secret) {
        return Ok(invalid(&AppError::not_found(
            "Diesen Einladungslink gibt es nicht.",
        )));
    }
    let form = form.into_inner();
    let s = secret.to_string();
    // Checked and hashed (argon2id) outside the write transaction, then stored if nothing
    // changed in between.
    let checked = state
        .db
        .read(move |conn| invitation::checked(conn, &s, &form.new, &form.repeat))
        .await;
    let s = secret.to_string();
    let result = match checked {
        Ok((user, hash)) => {
            state
                .db
                .write(move |conn| invitation::accept_hashed(conn, &s, &user, &hash))
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(user) => {
            cookies.remove_private(INVITATION_CSRF);
            let csrf = random_hex(32);
            cookies.add_private(cookie(SESSION, session_value(&user, &csrf)));
            Ok(Page::to("/"))
        }
        Err(e) if !e.fields.is_empty() => {
            let s = secret.to_string();
            let user = state
                .db
                .read(move |conn| invitation::user_of(conn, &s))
                .await?;
            let errors = crate::web::form_errors(&e, str::to_string);
            Ok(form_page(cookies, secret, &user, Some(errors))
                .with_status(Status::UnprocessableEntity))
        }
        Err(e) if e.http_status() == 404 => Ok(invalid(&e)),
        Err(e) => Err(e),
    }
}
