//! The outbox for d-NRW staff (`/post`): mail that waits, failed (with the last error and
//! the attempts) or was sent, filtered by kind and recipient, 50 per page; "Erneut
//! senden" makes a failed mail due at once (`actions::outbox::retry`, audited).

use rocket::form::{Form, FromForm};
use rocket::{get, post, State};
use serde_json::json;

use crate::error::{AppError, AppResult};
use crate::http::params::MailId;
use crate::http::state::AppState;
use crate::store::outbox::{MailFilter, MailRow, MailState};
use crate::web::{form_session, page_context, signed_in, Page, Session};

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![outbox, retry]
}

/// Mails per page of `/post`.
const PER_PAGE: i64 = 50;

fn staff(session: &Session) -> AppResult<()> {
    crate::domain::policy::staff_only(session.role()).map_err(AppError::forbidden)
}

/// The filter from the page's address; a value it cannot be is a 422 naming the field.
fn filter(zustand: Option<&str>, art: Option<&str>, an: Option<&str>) -> AppResult<MailFilter> {
    let state = match zustand.map(str::trim).filter(|z| !z.is_empty()) {
        None => MailState::Failed,
        Some(z) => MailState::parse(z).ok_or_else(|| {
            AppError::field(
                "zustand",
                format!("„{z}“ ist kein Zustand (wartend, fehlgeschlagen oder versandt)."),
            )
        })?,
    };
    let kind = match art.map(str::trim).filter(|a| !a.is_empty()) {
        None => None,
        Some(a) if crate::mail::KINDS.contains(&a) => Some(a.to_string()),
        Some(a) => {
            return Err(AppError::field(
                "art",
                format!("„{a}“ ist keine Art von E-Mail."),
            ))
        }
    };
    let recipient = crate::web::search_text("an", "Empfänger", an)?;
    Ok(MailFilter {
        state,
        kind,
        recipient,
    })
}

/// `/post?zustand=&art=&an=&seite=`: failed mail first (the default), waiting and sent.
#[get("/post?<zustand>&<art>&<an>&<seite>")]
async fn outbox(
    state: &State<AppState>,
    session: Option<Session>,
    zustand: Option<String>,
    art: Option<String>,
    an: Option<String>,
    seite: Option<i64>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    staff(&session)?;
    let filter = match filter(zustand.as_deref(), art.as_deref(), an.as_deref()) {
        Ok(f) => f,
        Err(e) => return Ok(session.refused_by(&e, "Filter nicht möglich", "/post")),
    };
    let page = crate::store::Page::new(Some(seite.unwrap_or(1).max(1)), Some(PER_PAGE))?;
    let shown = filter.clone();
    let (counts, listed) = state
        .db
        .read(move |conn| {
            Ok((
                crate::store::outbox::state_counts(conn)?,
                crate::store::outbox::list(conn, &shown, page)?,
            ))
        })
        .await?;
    let cap = crate::store::outbox::COUNT_CAP;
    let pages = ((listed.total.min(cap) + PER_PAGE - 1) / PER_PAGE).max(1);
    let query = |state: MailState| {
        format!(
            "zustand={}&art={}&an={}",
            state.key(),
            filter.kind.as_deref().unwrap_or(""),
            crate::domain::urlencode(&filter.recipient)
        )
    };
    let mut ctx = page_context(&session, "Postausgang")?;
    ctx["tabs"] = json!(MailState::ALL
        .iter()
        .zip(counts)
        .map(|(s, n)| json!({
            "key": s.key(),
            "label": s.label(),
            "n": n.min(cap),
            "more": n > cap,
            "current": *s == filter.state,
            "query": query(*s),
        }))
        .collect::<Vec<_>>());
    ctx["state"] = json!({ "key": filter.state.key(), "label": filter.state.label() });
    ctx["kinds"] = json!(crate::mail::KINDS
        .iter()
        .map(|k| json!({
            "value": k,
            "label": crate::mail::kind_label(k),
            "selected": filter.kind.as_deref() == Some(*k),
        }))
        .collect::<Vec<_>>());
    ctx["an"] = json!(filter.recipient);
    ctx["filtered"] = json!(filter.kind.is_some() || !filter.recipient.is_empty());
    ctx["rows"] = json!(listed.items.iter().map(row).collect::<Vec<_>>());
    ctx["total"] = json!(listed.total.min(cap));
    ctx["more"] = json!(listed.total > cap);
    ctx["page"] = json!(listed.page);
    ctx["pages"] = json!(pages);
    ctx["query"] = json!(query(filter.state));
    Ok(crate::web::render("outbox.html", ctx))
}

/// A mail as the page shows it.
fn row(m: &MailRow) -> serde_json::Value {
    json!({
        "mail": m,
        "kind_label": crate::mail::kind_label(&m.kind),
        "in_delivery": m.in_delivery(),
        "retry": m.state() == MailState::Failed && !m.in_delivery(),
    })
}

#[derive(FromForm)]
struct RetryForm {
    #[field(default = String::new())]
    csrf: String,
}

/// "Erneut senden": the failed mail is due now; back to the failed mail with a note.
#[post("/post/<id>/erneut", data = "<form>")]
async fn retry(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<MailId, AppError>,
    form: Form<RetryForm>,
) -> AppResult<Page> {
    let session = form_session!(session, &form.csrf);
    staff(&session)?;
    let id = id?.into_string();
    let actor = session.actor();
    let result = state
        .db
        .write(move |conn| crate::actions::outbox::retry(conn, &id, &actor))
        .await;
    match crate::web::form_outcome(result)? {
        Ok(mail) => {
            let mut ctx = page_context(&session, "E-Mail wird erneut gesendet")?;
            ctx["message"] = json!(format!(
                "„{}“ an {} wird beim nächsten Durchgang des Postausgangs erneut gesendet.",
                mail.subject, mail.recipient
            ));
            ctx["back"] = json!("/post?zustand=fehlgeschlagen");
            Ok(crate::web::render("message.html", ctx))
        }
        Err(e) => Ok(session.refused_by(&e, "Nicht erneut gesendet", "/post")),
    }
}
