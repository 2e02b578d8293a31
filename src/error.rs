//! One error type for the whole application and the single place where errors become
//! HTTP responses: `{"error": "<code>", "message": "<German text>"}` with the right status.

use std::io::Cursor;

use rocket::http::{ContentType, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use serde::Serialize;

use crate::domain::DomainError;

pub type AppResult<T> = Result<T, AppError>;

/// One problem with one input field.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AppError {
    pub status: Status,
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<FieldError>,
    /// Logged, never shown to the user.
    pub cause: Option<String>,
}

impl AppError {
    pub fn new(status: Status, code: &'static str, message: impl Into<String>) -> AppError {
        AppError {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
            cause: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> AppError {
        AppError::new(Status::BadRequest, "bad_request", message)
    }
    pub fn unauthorized(message: impl Into<String>) -> AppError {
        AppError::new(Status::Unauthorized, "unauthorized", message)
    }
    pub fn forbidden(message: impl Into<String>) -> AppError {
        AppError::new(Status::Forbidden, "forbidden", message)
    }
    pub fn not_found(message: impl Into<String>) -> AppError {
        AppError::new(Status::NotFound, "not_found", message)
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(Status::Conflict, code, message)
    }
    pub fn stale() -> AppError {
        AppError::conflict(
            "stale",
            "Der Datensatz wurde inzwischen geändert. Bitte neu laden und die Änderung erneut vornehmen.",
        )
    }
    pub fn validation(fields: Vec<FieldError>) -> AppError {
        let message = fields
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; ");
        AppError {
            status: Status::UnprocessableEntity,
            code: "validation_failed",
            message: format!("Die Eingaben sind ungültig. {message}"),
            fields,
            cause: None,
        }
    }
    pub fn field(field: &str, message: impl Into<String>) -> AppError {
        AppError::validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }
    /// The message a person may read: ours for client errors, a generic one for 5xx.
    pub fn user_message(&self) -> Option<&str> {
        (self.status.code < 500).then_some(self.message.as_str())
    }

    pub fn internal(cause: impl Into<String>) -> AppError {
        AppError {
            status: Status::InternalServerError,
            code: "internal",
            message: "Ein interner Fehler ist aufgetreten. Er wurde protokolliert.".into(),
            fields: Vec::new(),
            cause: Some(cause.into()),
        }
    }
    pub fn unavailable(cause: impl Into<String>) -> AppError {
        AppError {
            status: Status::ServiceUnavailable,
            code: "unavailable",
            message: "Der Dienst ist vorübergehend nicht verfügbar. Bitte später erneut versuchen."
                .into(),
            fields: Vec::new(),
            cause: Some(cause.into()),
        }
    }

    /// The JSON body users see.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({ "error": self.code, "message": self.message });
        if !self.fields.is_empty() {
            body["fields"] = serde_json::to_value(&self.fields).unwrap_or_default();
        }
        body
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> AppError {
        use diesel::result::{DatabaseErrorKind as K, Error as E};
        match &e {
            E::NotFound => AppError::not_found("Der Datensatz wurde nicht gefunden."),
            E::DatabaseError(K::UniqueViolation, info) => {
                let mut err = AppError::conflict(
                    "duplicate",
                    "Ein gleichartiger Datensatz existiert bereits.",
                );
                err.cause = Some(info.message().to_string());
                err
            }
            E::DatabaseError(K::SerializationFailure, _) => {
                let mut err = AppError::conflict(
                    "conflict",
                    "Gleichzeitige Änderung erkannt. Bitte erneut versuchen.",
                );
                err.cause = Some(e.to_string());
                err
            }
            _ => AppError::internal(e.to_string()),
        }
    }
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> AppError {
        match e {
            DomainError::Invalid(fields) => AppError::validation(
                fields
                    .into_iter()
                    .map(|(field, message)| FieldError { field, message })
                    .collect(),
            ),
            DomainError::Rule(message) => {
                AppError::new(Status::UnprocessableEntity, "rule_violation", message)
            }
            DomainError::Transition(message) => AppError::conflict("invalid_transition", message),
            DomainError::Conflict(message) => AppError::conflict("conflict", message),
        }
    }
}

impl From<serde_json::Error> for AppError {
    fn from(e: serde_json::Error) -> AppError {
        AppError::internal(format!("stored JSON is unreadable: {e}"))
    }
}

impl<'r> Responder<'r, 'static> for AppError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        if let Some(cause) = &self.cause {
            if self.status.code >= 500 {
                log::error!("{} ({}): {cause}", self.code, self.status);
            } else {
                log::info!("{} ({}): {cause}", self.code, self.status);
            }
        }
        // The web pages answer errors as German HTML; the API as JSON.
        if !req.uri().path().starts_with("/api") {
            return crate::web::error_html(req, self.status, self.user_message()).respond_to(req);
        }
        let body = self.body().to_string();
        Response::build()
            .status(self.status)
            .header(ContentType::JSON)
            .sized_body(body.len(), Cursor::new(body))
            .ok()
    }
}
