//! The JSON API under `/api/v1`. Handlers are thin: guard (who) → parsed input (what) →
//! one model call (which applies the domain rules) → JSON.

mod agreements;
mod audit;
mod catalog;
mod documents;
mod municipalities;
mod openapi;
mod organisations;
mod services;

use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::serde::json::{Error as JsonError, Json};
use rocket::{Catcher, Route};

pub use catalog::CatalogCache;

use crate::app::{token_hash, AppState};
use crate::error::{AppError, AppResult};

pub fn routes() -> Vec<Route> {
    let mut routes = Vec::new();
    routes.extend(catalog::routes());
    routes.extend(municipalities::routes());
    routes.extend(organisations::routes());
    routes.extend(services::routes());
    routes.extend(agreements::routes());
    routes.extend(documents::routes());
    routes.extend(audit::routes());
    routes.extend(openapi::routes());
    routes
}

pub fn catchers() -> Vec<Catcher> {
    rocket::catchers![default_catcher]
}

/// Every error without a handler-made body becomes the documented JSON error.
#[rocket::catch(default)]
fn default_catcher(status: Status, req: &Request<'_>) -> AppError {
    if let Some(err) = req.local_cache(|| None::<AppError>) {
        return err.clone();
    }
    match status.code {
        404 => AppError::not_found("Diese Adresse gibt es nicht."),
        401 => AppError::unauthorized("Anmeldung erforderlich."),
        413 => AppError::new(status, "too_large", "Die Anfrage ist zu groß."),
        422 => AppError::new(status, "validation_failed", "Die Eingaben sind ungültig."),
        400..=499 => AppError::new(status, "bad_request", "Die Anfrage ist fehlerhaft."),
        _ => AppError::internal(format!("unhandled status {status}")),
    }
}

/// A caller holding the staff token. `actor` is what the audit log records: the name from
/// the `X-Actor` header (trimmed, at most 100 characters) or "staff-token".
pub struct Staff {
    pub actor: String,
    /// What a signature records about the session it was given in.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Staff {
    pub const AUTH_METHOD: &'static str = "Staff-Token (Bearer) über die JSON-API";
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Staff {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let fail = |err: AppError| {
            let status = err.status;
            req.local_cache(|| Some(err));
            Outcome::Error((status, ()))
        };
        let Some(state) = req.rocket().state::<AppState>() else {
            return fail(AppError::internal("application state missing"));
        };
        let Some(expected) = state.staff_token_hash else {
            return fail(AppError::forbidden(
                "Für diese Instanz ist kein Staff-Token eingerichtet; die API ist nur lesbar (siehe README, staff_token).",
            ));
        };
        let Some(header) = req.headers().get_one("Authorization") else {
            return fail(AppError::unauthorized(
                "Anmeldung erforderlich: senden Sie „Authorization: Bearer <Token>“.",
            ));
        };
        let token = header.strip_prefix("Bearer ").unwrap_or("").trim();
        // Comparing fixed-length digests keeps the comparison independent of the token.
        if token.is_empty() || token_hash(token) != expected {
            return fail(AppError::unauthorized("Das Token ist ungültig."));
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
        let user_agent = req
            .headers()
            .get_one("User-Agent")
            .map(|ua| ua.chars().filter(|c| !c.is_control()).take(300).collect());
        Outcome::Success(Staff {
            actor,
            ip: req.client_ip().map(|ip| ip.to_string()),
            user_agent,
        })
    }
}

/// A JSON request body, with parse errors kept for a clear message.
pub type Body<'r, T> = Result<Json<T>, JsonError<'r>>;

/// Unwraps a JSON body: malformed JSON is a 400, JSON of the wrong shape a 422.
pub fn body<T>(body: Body<'_, T>) -> AppResult<T> {
    match body {
        Ok(json) => Ok(json.into_inner()),
        Err(JsonError::Io(e)) => Err(AppError::bad_request(format!(
            "Der Inhalt der Anfrage ist nicht lesbar: {e}"
        ))),
        Err(JsonError::Parse(_, e)) if e.is_syntax() || e.is_eof() => Err(AppError::new(
            Status::BadRequest,
            "malformed_json",
            format!("Der Inhalt ist kein gültiges JSON: {e}"),
        )),
        Err(JsonError::Parse(_, e)) => Err(AppError::new(
            Status::UnprocessableEntity,
            "validation_failed",
            format!("Der Inhalt passt nicht zum erwarteten Format: {e}"),
        )),
    }
}

/// Ids are UUIDs; anything else cannot name a record.
pub fn id(raw: &str) -> AppResult<String> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.to_string())
        .map_err(|_| AppError::not_found(format!("„{raw}“ ist keine gültige Id.")))
}

pub fn db(state: &AppState) -> &crate::db::Db {
    &state.db
}

/// Reads `page` and `per_page` from the query; non-numbers are a 422, not a 404.
pub fn page(page: Option<&str>, per_page: Option<&str>) -> AppResult<crate::models::Page> {
    let int = |name: &str, raw: Option<&str>| -> AppResult<Option<i64>> {
        raw.map(|r| {
            r.trim()
                .parse::<i64>()
                .map_err(|_| AppError::field(name, format!("„{r}“ ist keine ganze Zahl.")))
        })
        .transpose()
    };
    crate::models::Page::new(int("page", page)?, int("per_page", per_page)?)
}

pub use crate::models::nullable;
