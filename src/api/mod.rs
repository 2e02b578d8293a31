//! The JSON API under `/api/v1`. Handlers are thin: guard (who) → parsed input (what) →
//! one model call (which applies the domain rules) → JSON.

mod agreements;
mod audit;
mod catalog;
mod documents;
mod municipalities;
mod openapi;
mod organisations;
mod rollout;
mod services;
mod tasks;
mod users;

use rocket::data::{self, Data, FromData, Limits};
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::{Catcher, Route};
use serde::de::DeserializeOwned;

use crate::domain::account::Role;
use crate::domain::text::{Checked, Inspect};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::http::params::{page, query_id};
use crate::http::state::{token_hash, AppState};
use crate::store::Scope;

pub fn routes() -> Vec<Route> {
    let mut routes = Vec::new();
    routes.extend(catalog::routes());
    routes.extend(municipalities::routes());
    routes.extend(organisations::routes());
    routes.extend(services::routes());
    routes.extend(agreements::routes());
    routes.extend(documents::routes());
    routes.extend(tasks::routes());
    routes.extend(rollout::routes());
    routes.extend(audit::routes());
    routes.extend(users::routes());
    routes.extend(openapi::routes());
    routes
}

pub fn catchers() -> Vec<Catcher> {
    rocket::catchers![default_catcher]
}

/// An error answer, with `Allow` when the method is the problem (405).
type Refusal = crate::http::WithAllow<AppError>;

/// Every error without a handler-made body becomes the documented JSON error. A path
/// that exists with other methods answers 405 with `Allow`.
#[rocket::catch(default)]
fn default_catcher(status: Status, req: &Request<'_>) -> Refusal {
    if let Some(err) = req.local_cache(|| None::<AppError>) {
        return Refusal {
            inner: err.clone(),
            allow: None,
        };
    }
    if status.code == 404 {
        if let Some(allow) = crate::http::allowed_methods(req) {
            return Refusal {
                inner: AppError::new(
                    ErrorKind::MethodNotAllowed,
                    format!(
                        "{} ist für diese Adresse nicht vorgesehen (erlaubt: {}).",
                        req.method(),
                        allow.value()
                    ),
                ),
                allow: Some(allow),
            };
        }
    }
    let error = match status.code {
        404 => AppError::not_found("Diese Adresse gibt es nicht."),
        401 => AppError::unauthorized("Anmeldung erforderlich."),
        413 => AppError::new(ErrorKind::TooLarge, "Die Anfrage ist zu groß."),
        422 => AppError::new(ErrorKind::Validation, "Die Eingaben sind ungültig."),
        // Any other client error keeps its status where a kind has it (403, 409, …).
        400..=499 => AppError::new(
            ErrorKind::for_status(status.code),
            "Die Anfrage ist fehlerhaft.",
        ),
        _ => AppError::internal(format!("unhandled status {status}")),
    };
    Refusal {
        inner: error,
        allow: None,
    }
}

/// An authenticated caller: a user presenting a personal API token (`nnr_…`), or the
/// configured bootstrap staff token. `actor` is what the audit log records: `user:<email>`
/// for a user; for the bootstrap token the name from the `X-Actor` header (trimmed, at
/// most 100 characters) or "staff-token". `scope` is what the caller may see; the model
/// layer applies it.
pub struct Caller {
    pub actor: String,
    /// How the caller authenticated, as a signature records it.
    pub auth_method: String,
    /// The user behind a personal token (`None` for the bootstrap token).
    pub user_id: Option<String>,
    /// `None` for the bootstrap token, which acts as an admin.
    pub role: Option<Role>,
    pub scope: Scope,
    /// What a signature records about the session it was given in.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A d-NRW staff caller: a user with role admin or clerk, or the bootstrap token.
/// Everyone else gets 403.
pub struct Staff {
    pub actor: String,
    pub auth_method: String,
    pub user_id: Option<String>,
    /// Admins (and the bootstrap token) manage users.
    pub admin: bool,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Staff {
    /// Refuses a staff member who is not an admin.
    pub fn require_admin(&self) -> AppResult<()> {
        let role = if self.admin { Role::Admin } else { Role::Clerk };
        crate::domain::policy::manage_users(role).map_err(AppError::forbidden)
    }
}

async fn authenticate(req: &Request<'_>) -> AppResult<Caller> {
    let state = req
        .rocket()
        .state::<AppState>()
        .ok_or_else(|| AppError::internal("application state missing"))?;
    let header = req.headers().get_one("Authorization").ok_or_else(|| {
        AppError::unauthorized(
            "Anmeldung erforderlich: senden Sie „Authorization: Bearer <Token>“.",
        )
    })?;
    let token = header
        .strip_prefix("Bearer ")
        .unwrap_or("")
        .trim()
        .to_string();
    let ip = req.client_ip().map(|ip| ip.to_string());
    let user_agent = req
        .headers()
        .get_one("User-Agent")
        .map(|ua| ua.chars().filter(|c| !c.is_control()).take(300).collect());
    if token.starts_with(crate::store::user::TOKEN_PREFIX) {
        let (t, user) = state
            .db
            .read(move |conn| crate::store::user::ApiToken::authenticate(conn, &token))
            .await?
            .ok_or_else(|| AppError::unauthorized("Das Token ist ungültig oder widerrufen."))?;
        let role = user.role;
        let scope = user.scope()?;
        crate::http::telemetry::identify(req, &user.id);
        return Ok(Caller {
            actor: format!("user:{}", user.email),
            auth_method: format!("persönliches API-Token „{}“ von {}", t.name, user.email),
            user_id: Some(user.id),
            role: Some(role),
            scope,
            ip,
            user_agent,
        });
    }
    let expected = state.staff_token_hash.ok_or_else(|| {
        AppError::forbidden(
            "Für diese Instanz ist kein Staff-Token eingerichtet; schreiben können nur Benutzer mit persönlichem API-Token (siehe README, staff_token).",
        )
    })?;
    // Comparing fixed-length digests keeps the comparison independent of the token.
    if token.is_empty() || token_hash(&token) != expected {
        return Err(AppError::unauthorized("Das Token ist ungültig."));
    }
    let actor = req
        .headers()
        .get_one("X-Actor")
        .map(|a| {
            a.trim()
                .chars()
                .filter(|c| !c.is_control())
                .take(100)
                .collect::<String>()
        })
        .filter(|a| !a.is_empty())
        .map(|a| format!("staff:{a}"))
        .unwrap_or_else(|| "staff-token".to_string());
    crate::http::telemetry::identify(req, "staff-token");
    Ok(Caller {
        actor,
        auth_method: "Bootstrap-Staff-Token über die JSON-API".into(),
        user_id: None,
        role: None,
        scope: Scope::All,
        ip,
        user_agent,
    })
}

fn refuse<T>(req: &Request<'_>, err: AppError) -> Outcome<T, ()> {
    let status = crate::http::respond::status(&err);
    req.local_cache(|| Some(err));
    Outcome::Error((status, ()))
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Caller {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        match authenticate(req).await {
            Ok(c) => Outcome::Success(c),
            Err(e) => refuse(req, e),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Staff {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let caller = match authenticate(req).await {
            Ok(c) => c,
            Err(e) => return refuse(req, e),
        };
        // The bootstrap token (no role) acts as an admin.
        let role = caller.role.unwrap_or(Role::Admin);
        match crate::domain::policy::staff_only(role) {
            Ok(()) => Outcome::Success(Staff {
                admin: role == Role::Admin,
                actor: caller.actor,
                auth_method: caller.auth_method,
                user_id: caller.user_id,
                ip: caller.ip,
                user_agent: caller.user_agent,
            }),
            Err(message) => refuse(req, AppError::forbidden(message)),
        }
    }
}

/// A JSON request body: read within the `json` limit (over it: 413 `too_large`), parsed
/// (broken JSON: 400 `malformed_json`; the wrong shape: 422 naming the field), and its
/// text checked (`domain::text`: NFC, no control characters, lengths: 422 per field).
/// Every JSON body of the API comes through here, so the stores only ever see
/// [`Checked`] input.
pub struct Body<'r, T>(AppResult<Checked<T>>, std::marker::PhantomData<&'r ()>);

#[rocket::async_trait]
impl<'r, T: DeserializeOwned + Inspect + Send + 'static> FromData<'r> for Body<'r, T> {
    type Error = std::convert::Infallible;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        let limit = req.limits().get("json").unwrap_or(Limits::JSON);
        let read = data.open(limit).into_string().await;
        let result = match read {
            Ok(text) if text.is_complete() => parse_json::<T>(&text.into_inner()),
            Ok(_) => Err(too_large(limit)),
            Err(e) => Err(AppError::bad_request(format!(
                "Der Inhalt der Anfrage ist nicht lesbar (kein UTF-8?): {e}"
            ))),
        };
        data::Outcome::Success(Body(result, std::marker::PhantomData))
    }
}

/// The 413 every body over its limit gets.
pub fn too_large(limit: rocket::data::ByteUnit) -> AppError {
    AppError::new(
        ErrorKind::TooLarge,
        format!("Die Anfrage ist zu groß (höchstens {limit})."),
    )
}

/// Parses and checks a JSON text as `T`.
pub fn parse_json<T: DeserializeOwned + Inspect>(text: &str) -> AppResult<Checked<T>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value: T = match serde_path_to_error::deserialize(&mut de) {
        Ok(v) => match de.end() {
            Ok(()) => v,
            Err(e) => {
                return Err(AppError::new(
                    ErrorKind::MalformedJson,
                    format!("Der Inhalt ist kein gültiges JSON: {e}"),
                ))
            }
        },
        Err(e) if e.inner().is_syntax() || e.inner().is_eof() => {
            return Err(AppError::new(
                ErrorKind::MalformedJson,
                format!("Der Inhalt ist kein gültiges JSON: {}", e.inner()),
            ))
        }
        Err(e) => {
            let path = e.path().to_string();
            let message = format!("passt nicht zum erwarteten Format: {}", e.inner());
            if path == "." {
                return Err(AppError::new(
                    ErrorKind::Validation,
                    format!("Der Inhalt {message}"),
                ));
            }
            return Err(AppError::field(&path, message));
        }
    };
    Ok(Checked::new(value)?)
}

/// Unwraps a JSON body: the checked input, or the error that refused it.
pub fn body<T>(body: Body<'_, T>) -> AppResult<Checked<T>> {
    body.0
}

pub fn db(state: &AppState) -> &crate::db::Db {
    &state.db
}

pub use crate::store::nullable;
