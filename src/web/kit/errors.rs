//! The German error pages (404, 403, 405 with `Allow`, …) that name no internals.

use rocket::http::Status;
use rocket::request::Request;
use rocket::response::content::RawHtml;
use serde_json::json;

use super::page::{page_context, render, Page};
use super::session::Session;
use crate::error::AppError;

pub fn catchers() -> Vec<rocket::Catcher> {
    rocket::catchers![error_page]
}

/// An error page, with `Allow` when the method is the problem (405).
pub(crate) type ErrorPage = crate::http::WithAllow<(Status, RawHtml<String>)>;

/// Errors outside `/api` are German HTML pages that name no internals. A path that
/// exists with other methods answers 405 with `Allow`.
#[rocket::catch(default)]
pub(crate) fn error_page(status: Status, req: &Request<'_>) -> ErrorPage {
    let err = req.local_cache(|| None::<AppError>);
    if status.code >= 500 {
        if let Some(err) = err {
            log::error!("{} {}: {:?}", req.method(), req.uri(), err.cause);
        }
    }
    if status.code == 404 && err.is_none() {
        if let Some(allow) = crate::http::allowed_methods(req) {
            let message = format!(
                "Diese Adresse nimmt keine {}-Anfragen an (erlaubt: {}).",
                req.method(),
                allow.value()
            );
            return ErrorPage {
                inner: error_html(req, Status::MethodNotAllowed, Some(&message)),
                allow: Some(allow),
            };
        }
    }
    ErrorPage {
        inner: error_html(req, status, err.as_ref().and_then(|e| e.user_message())),
        allow: None,
    }
}

/// A German error page; `message` (a client error's own words) replaces the default text.
/// A logged-in user (whose session a guard of this request read) keeps their navigation.
pub fn error_html(
    req: &Request<'_>,
    status: Status,
    message: Option<&str>,
) -> (Status, RawHtml<String>) {
    let (title, default) = match status.code {
        404 => ("Seite nicht gefunden", "Diese Seite gibt es nicht (mehr). Bitte prüfen Sie die Adresse."),
        403 => ("Kein Zugriff", "Dafür fehlt Ihnen die Berechtigung."),
        401 => ("Anmeldung erforderlich", "Bitte melden Sie sich an."),
        413 => ("Zu groß", "Die gesendeten Daten sind zu groß."),
        405 => ("Methode nicht erlaubt", "Diese Adresse nimmt solche Anfragen nicht an."),
        // A refusal in its own words (a rule of the model) is no unreadable input.
        422 if message.is_some() => ("Nicht möglich", "Das ist so nicht möglich."),
        422 | 400 => ("Eingabe nicht lesbar", "Die gesendeten Daten konnten nicht gelesen werden."),
        500..=599 => ("Interner Fehler", "Ein interner Fehler ist aufgetreten. Er wurde protokolliert; bitte versuchen Sie es später erneut."),
        _ => ("Fehler", "Die Anfrage konnte nicht bearbeitet werden."),
    };
    let message = if status.code >= 500 {
        default.to_string()
    } else {
        message
            .map(without_ids)
            .unwrap_or_else(|| default.to_string())
    };
    let session = req.local_cache(|| None::<Session>);
    let mut context = session
        .as_ref()
        .and_then(|s| page_context(s, title).ok())
        .unwrap_or_else(|| json!({ "title": title, "user": null, "nav": {} }));
    context["message"] = json!(message);
    context["back"] = json!("/");
    let html = match render("message.html", context) {
        Page::Html(html) => html,
        _ => RawHtml(format!(
            "<!DOCTYPE html><html lang=\"de\"><title>{title}</title><h1>{title}</h1></html>"
        )),
    };
    (status, html)
}

/// A message for a page: " mit der Id <internal id>" (the store's words, which the API
/// keeps) left out, since users never see or type those ids.
fn without_ids(message: &str) -> String {
    const MARK: &str = " mit der Id ";
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at]);
        let after = &rest[at + MARK.len()..];
        let id_len = after
            .find(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
            .unwrap_or(after.len());
        rest = &after[id_len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn pages_leave_internal_ids_out() {
        assert_eq!(
            super::without_ids(
                "Es gibt keine Vereinbarung mit der Id 00000000-0000-4000-8000-000000000000."
            ),
            "Es gibt keine Vereinbarung."
        );
        assert_eq!(super::without_ids("Nicht gefunden."), "Nicht gefunden.");
    }
}
