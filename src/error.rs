//! One error type for the whole application: what went wrong (`ErrorKind`, which also
//! names the JSON code and the HTTP status), the German message users read, the fields it
//! concerns and the cause that is only logged. No Rocket or web types: `http::respond`
//! turns an error into a JSON or German HTML response.

use serde::Serialize;

use crate::domain::DomainError;

pub type AppResult<T> = Result<T, AppError>;

/// One problem with one input field.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// What went wrong, as a caller can act on it. Each kind has one code (the `error` of the
/// JSON body, documented in the OpenAPI document) and one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    MalformedJson,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    /// A record like this exists already (a unique rule).
    Duplicate,
    Conflict,
    /// The record changed since the caller read it (`lock_version`).
    Stale,
    InvalidTransition,
    Immutable,
    Incomplete,
    NotEmpty,
    /// The bootstrap staff token cannot do this (it is nobody's own).
    Bootstrap,
    TooLarge,
    Validation,
    /// A rule of the contract model refuses it.
    Rule,
    Internal,
    Unavailable,
    TsaUnavailable,
}

impl ErrorKind {
    /// The code in the JSON body (`{"error": "<code>"}`).
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::MalformedJson => "malformed_json",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not_found",
            ErrorKind::MethodNotAllowed => "method_not_allowed",
            ErrorKind::Duplicate => "duplicate",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Stale => "stale",
            ErrorKind::InvalidTransition => "invalid_transition",
            ErrorKind::Immutable => "immutable",
            ErrorKind::Incomplete => "incomplete",
            ErrorKind::NotEmpty => "not_empty",
            ErrorKind::Bootstrap => "bootstrap",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Validation => "validation_failed",
            ErrorKind::Rule => "rule_violation",
            ErrorKind::Internal => "internal",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::TsaUnavailable => "tsa_unavailable",
        }
    }

    /// The HTTP status code of the answer.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::BadRequest | ErrorKind::MalformedJson => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::Duplicate
            | ErrorKind::Conflict
            | ErrorKind::Stale
            | ErrorKind::InvalidTransition
            | ErrorKind::Immutable
            | ErrorKind::Incomplete
            | ErrorKind::NotEmpty
            | ErrorKind::Bootstrap => 409,
            ErrorKind::TooLarge => 413,
            ErrorKind::Validation | ErrorKind::Rule => 422,
            ErrorKind::Internal => 500,
            ErrorKind::Unavailable | ErrorKind::TsaUnavailable => 503,
        }
    }

    /// The kind a bare HTTP status stands for (a catcher's answer without our own error).
    pub fn for_status(code: u16) -> ErrorKind {
        match code {
            401 => ErrorKind::Unauthorized,
            403 => ErrorKind::Forbidden,
            404 => ErrorKind::NotFound,
            405 => ErrorKind::MethodNotAllowed,
            409 => ErrorKind::Conflict,
            413 => ErrorKind::TooLarge,
            422 => ErrorKind::Validation,
            400..=499 => ErrorKind::BadRequest,
            503 => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {message}", kind.code())]
pub struct AppError {
    pub kind: ErrorKind,
    pub message: String,
    pub fields: Vec<FieldError>,
    /// Logged, never shown to the user.
    pub cause: Option<String>,
}

impl AppError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> AppError {
        AppError {
            kind,
            message: message.into(),
            fields: Vec::new(),
            cause: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::BadRequest, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::Unauthorized, message)
    }
    pub fn forbidden(message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::Forbidden, message)
    }
    pub fn not_found(message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::Conflict, message)
    }
    /// The HTTP status code of the answer.
    pub fn http_status(&self) -> u16 {
        self.kind.http_status()
    }
    /// The code in the JSON body.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }
    pub fn stale() -> AppError {
        AppError::new(
            ErrorKind::Stale,
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
            kind: ErrorKind::Validation,
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
        (self.http_status() < 500).then_some(self.message.as_str())
    }

    pub fn internal(cause: impl Into<String>) -> AppError {
        AppError {
            kind: ErrorKind::Internal,
            message: "Ein interner Fehler ist aufgetreten. Er wurde protokolliert.".into(),
            fields: Vec::new(),
            cause: Some(cause.into()),
        }
    }
    pub fn unavailable(cause: impl Into<String>) -> AppError {
        AppError {
            kind: ErrorKind::Unavailable,
            message: "Der Dienst ist vorübergehend nicht verfügbar. Bitte später erneut versuchen."
                .into(),
            fields: Vec::new(),
            cause: Some(cause.into()),
        }
    }

    /// The JSON body users see.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({ "error": self.code(), "message": self.message });
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
                let mut err = AppError::new(
                    ErrorKind::Duplicate,
                    "Ein gleichartiger Datensatz existiert bereits.",
                );
                err.cause = Some(info.message().to_string());
                err
            }
            E::DatabaseError(K::SerializationFailure, _) => {
                let mut err =
                    AppError::conflict("Gleichzeitige Änderung erkannt. Bitte erneut versuchen.");
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
            DomainError::Rule(message) => AppError::new(ErrorKind::Rule, message),
            DomainError::Transition(message) => {
                AppError::new(ErrorKind::InvalidTransition, message)
            }
            DomainError::Conflict(message) => AppError::conflict(message),
        }
    }
}

impl From<serde_json::Error> for AppError {
    fn from(e: serde_json::Error) -> AppError {
        AppError::internal(format!("stored JSON is unreadable: {e}"))
    }
}
