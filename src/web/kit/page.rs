//! Rendering the pages: the Tera templates compiled into the binary, `Page` (HTML,
//! redirect or refusal) and the context every page starts from.

use std::sync::OnceLock;

use rocket::http::Status;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::Responder;
use serde_json::{json, Value};

use super::session::Session;
use crate::domain::account::Role;
use crate::error::AppResult;

static PAGES: OnceLock<tera::Tera> = OnceLock::new();

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("../../../templates/web/", $name)))),*]
    };
}

pub(crate) fn pages() -> &'static tera::Tera {
    PAGES.get_or_init(|| {
        let mut t = tera::Tera::default();
        t.add_raw_templates(templates![
            "base.html",
            "macros.html",
            "login.html",
            "password.html",
            "message.html",
            "catalog.html",
            "catalog_body.html",
            "service.html",
            "kommune.html",
            "ea_form.html",
            "agreement.html",
            "agreements.html",
            "dashboard.html",
            "municipalities.html",
            "municipality.html",
            "service_status.html",
            "tasks.html",
            "task.html",
            "rollout.html",
            "rollout_body.html",
            "calendar.html",
            "draft_form.html",
            "ea_draft_form.html",
            "amendment_form.html",
            "services.html",
            "partners.html",
            "partner.html",
            "partner_form.html",
            "service_form.html",
            "intermediary.html",
            "users.html",
            "verify.html",
            "receipt.html",
            "legal.html",
            "welcome.html",
            "invitation.html",
            "confirm_end.html",
            "confirm_lock.html",
            "outbox.html",
        ])
        .expect("web templates compile");
        t.register_filter("datum", datum);
        t.register_filter("zeit", zeit);
        t.register_filter("anzahl", anzahl);
        t.register_filter("tausender", tausender);
        t.register_filter("ton", ton);
        t.register_filter("mailfehler", mailfehler);
        t
    })
}

/// A timestamp as the API and the store serialize it (RFC 3339, UTC).
fn utc_instant(s: &str) -> Option<time::PrimitiveDateTime> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    let t = t.to_offset(time::UtcOffset::UTC);
    Some(time::PrimitiveDateTime::new(t.date(), t.time()))
}

/// `{{ date | datum }}`: an ISO date, or a timestamp's day in Berlin, as a German date
/// ("01.12.2022").
pub(crate) fn datum(
    value: &Value,
    _: &std::collections::HashMap<String, Value>,
) -> tera::Result<Value> {
    let Some(s) = value.as_str() else {
        return Ok(value.clone());
    };
    if let Some(t) = utc_instant(s) {
        return Ok(Value::String(crate::domain::agreement::german_date(
            crate::domain::berlin::local_date(t),
        )));
    }
    let date = s.get(..10).unwrap_or(s);
    let parts: Vec<&str> = date.split('-').collect();
    Ok(Value::String(match parts[..] {
        [y, m, d] if y.len() == 4 => format!("{d}.{m}.{y}"),
        _ => s.to_string(),
    }))
}

/// `{{ timestamp | zeit }}`: a timestamp as Berlin date and time with the zone
/// ("29.11.2026, 19:10 Uhr (MEZ)").
pub(crate) fn zeit(
    value: &Value,
    _: &std::collections::HashMap<String, Value>,
) -> tera::Result<Value> {
    Ok(match value.as_str().and_then(utc_instant) {
        Some(t) => Value::String(crate::domain::berlin::german_date_time(t)),
        None => value.clone(),
    })
}

/// `{{ n | anzahl(eins="Vereinbarung", mehr="Vereinbarungen") }}`: "1 Vereinbarung",
/// "1.250 Vereinbarungen".
pub(crate) fn anzahl(
    value: &Value,
    args: &std::collections::HashMap<String, Value>,
) -> tera::Result<Value> {
    let n = value
        .as_i64()
        .ok_or_else(|| tera::Error::msg(format!("anzahl: {value} ist keine ganze Zahl")))?;
    let word = |key: &str| {
        args.get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| tera::Error::msg(format!("anzahl braucht {key}=")))
    };
    Ok(Value::String(crate::domain::grammar::counted(
        n,
        &word("eins")?,
        &word("mehr")?,
    )))
}

/// `{{ n | tausender }}`: "10.000".
pub(crate) fn tausender(
    value: &Value,
    _: &std::collections::HashMap<String, Value>,
) -> tera::Result<Value> {
    let n = value
        .as_i64()
        .ok_or_else(|| tera::Error::msg(format!("tausender: {value} ist keine ganze Zahl")))?;
    Ok(Value::String(crate::domain::grammar::number(n)))
}

/// The KERN badge tone of a state (`m::status`): green when it holds or is done, amber
/// while it waits for someone, red when it ended or is stuck, grey for a draft or an open
/// task. (A filter, not a lookup in the macro: a list of ninety agreements asks it ninety
/// times, and Tera builds a template's list literals at each asking.)
pub(crate) fn tone(state: &str) -> &'static str {
    match state {
        "in_force" | "available" | "done" | "live" => "success",
        "awaiting_signatures" | "signed" | "coming_soon" | "in_progress" | "requested" => "warning",
        "terminated" | "expired" | "cancelled" | "withdrawn" | "blocked" => "danger",
        _ => "info",
    }
}

/// `{{ status | ton }}`: [`tone`].
pub(crate) fn ton(
    value: &Value,
    _: &std::collections::HashMap<String, Value>,
) -> tera::Result<Value> {
    Ok(Value::String(
        tone(value.as_str().unwrap_or_default()).to_string(),
    ))
}

/// `{{ mail.last_error | mailfehler }}`: what a failed send means, in German
/// ([`crate::mail::error_summary`]).
pub(crate) fn mailfehler(
    value: &Value,
    _: &std::collections::HashMap<String, Value>,
) -> tera::Result<Value> {
    Ok(Value::String(
        crate::mail::error_summary(value.as_str().unwrap_or_default()).to_string(),
    ))
}

/// What a page handler answers.
#[derive(Responder)]
pub enum Page {
    Html(RawHtml<String>),
    Redirect(Box<Redirect>),
    Refused((Status, RawHtml<String>)),
}

impl Page {
    pub fn to(uri: impl Into<String>) -> Page {
        Page::Redirect(Box::new(Redirect::to(uri.into())))
    }

    /// The same page with another status (a form shown again with its errors: 422).
    pub fn with_status(self, status: Status) -> Page {
        match self {
            Page::Html(html) => Page::Refused((status, html)),
            other => other,
        }
    }
}

pub(crate) fn render(name: &str, context: Value) -> Page {
    match tera::Context::from_value(context).and_then(|c| pages().render(name, &c)) {
        Ok(html) => Page::Html(RawHtml(html)),
        Err(e) => {
            let mut cause = String::new();
            let mut source: Option<&dyn std::error::Error> = Some(&e);
            while let Some(s) = source {
                cause.push_str(&format!(": {s}"));
                source = s.source();
            }
            log::error!("template {name}{cause}");
            Page::Refused((
                Status::InternalServerError,
                RawHtml("<!DOCTYPE html><html lang=\"de\"><title>Fehler</title><h1>Ein interner Fehler ist aufgetreten.</h1></html>".into()),
            ))
        }
    }
}

/// A part of a page (kept content: the catalogue's, the roll-out's), as text to put
/// into its page.
pub(crate) fn render_html(name: &str, ctx: Value) -> crate::error::AppResult<String> {
    let failed =
        |e: tera::Error| crate::error::AppError::internal(format!("template {name}: {e:?}"));
    pages()
        .render(name, &tera::Context::from_value(ctx).map_err(failed)?)
        .map_err(failed)
}

pub(crate) fn refused(status: Status, title: &str, message: &str, back: &str) -> Page {
    render(
        "message.html",
        json!({ "title": title, "message": message, "back": back, "user": null }),
    )
    .with_status(status)
}

impl Session {
    /// A message page for a refused action, with this user's navigation.
    pub fn refused(&self, status: Status, title: &str, message: &str, back: &str) -> Page {
        match page_context(self, title) {
            Ok(mut ctx) => {
                ctx["message"] = json!(message);
                ctx["back"] = json!(back);
                render("message.html", ctx).with_status(status)
            }
            Err(_) => refused(status, title, message, back),
        }
    }
}

/// The context every page gets: title, the user (or null) with the navigation for their
/// role, and the CSRF token for forms.
pub(crate) fn page_context(session: &Session, title: &str) -> AppResult<Value> {
    let role = session.role();
    Ok(json!({
        "title": title,
        "user": session.user.view()?,
        "csrf": session.csrf,
        "nav": {
            "staff": role.is_staff(),
            "admin": role == Role::Admin,
            "municipality": role == Role::Municipality,
            "intermediary": role == Role::Intermediary,
        },
    }))
}

/// The context of a page anyone may see (logged in or not).
pub(crate) fn public_context(session: Option<&Session>, title: &str) -> AppResult<Value> {
    match session {
        Some(s) => page_context(s, title),
        None => Ok(json!({ "title": title, "user": null, "nav": {} })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The badge of a state, as `m::status` renders it.
    fn badge(state: &str) -> String {
        let mut t = pages().clone();
        t.add_raw_template(
            "badge-test.html",
            r#"{% import "macros.html" as m %}{{ m::status(s=s, label="L") }}"#,
        )
        .expect("template");
        let mut ctx = tera::Context::new();
        ctx.insert("s", state);
        t.render("badge-test.html", &ctx).expect("render")
    }

    #[test]
    fn a_state_badge_is_green_amber_red_or_grey() {
        for (state, tone) in [
            ("in_force", "success"),
            ("live", "success"),
            ("done", "success"),
            ("awaiting_signatures", "warning"),
            ("requested", "warning"),
            ("in_progress", "warning"),
            ("terminated", "danger"),
            ("blocked", "danger"),
            ("withdrawn", "danger"),
            ("draft", "info"),
            ("open", "info"),
        ] {
            let html = badge(state);
            assert!(
                html.contains(&format!("kern-badge--{tone} status status-{state}\"")),
                "{state}: {html}"
            );
        }
    }
}
