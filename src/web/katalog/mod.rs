//! The public catalogue: `/katalog` (services available now and coming soon) and
//! `/katalog/<id>`.

use rocket::http::ContentType;
use rocket::response::content::RawHtml;
use rocket::{get, Either, State};
use serde_json::json;

use crate::actions::catalog::{catalog, Catalog};
use crate::db::DbConn;
use crate::domain::Availability;
use crate::error::{AppError, AppResult};
use crate::http::params::ServiceId;
use crate::http::respond::CachedText;
use crate::http::state::AppState;
use crate::store::organisation::Organisation;
use crate::store::service::Service;
use crate::web::{public_context, render, Page, Session};

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![catalog_page, service_page,]
}

fn context(catalog: &Catalog, session: Option<&Session>, q: &str) -> AppResult<serde_json::Value> {
    let needle = crate::domain::search_key(q);
    let matches = |name: &str, ozg: Option<&str>| {
        needle.is_empty()
            || crate::domain::search_key(name).contains(&needle)
            || ozg.is_some_and(|o| crate::domain::search_key(o).contains(&needle))
    };
    let (mut available, mut soon) = (Vec::new(), Vec::new());
    for s in &catalog.services {
        if !matches(&s.name, s.ozg_name.as_deref()) {
            continue;
        }
        match s.availability {
            Availability::Available => available.push(s),
            Availability::ComingSoon => soon.push(s),
            Availability::Withdrawn => {}
        }
    }
    let mut ctx = public_context(session, "Katalog der Online-Dienste")?;
    ctx["available"] = json!(available);
    ctx["soon"] = json!(soon);
    ctx["q"] = json!(q);
    ctx["total"] = json!(catalog.services.len());
    Ok(ctx)
}

fn render_html(name: &str, ctx: serde_json::Value) -> AppResult<String> {
    match render(name, ctx) {
        Page::Html(RawHtml(html)) => Ok(html),
        _ => Err(AppError::internal(format!("template {name} failed"))),
    }
}

/// `/katalog?q=`: offered services, available ones first.
#[get("/katalog?<q>")]
async fn catalog_page(
    state: &State<AppState>,
    session: Option<Session>,
    q: Option<String>,
) -> AppResult<Either<CachedText, Page>> {
    let q = match crate::web::search_text("q", "Suchbegriff", q.as_deref()) {
        Ok(q) => q,
        Err(e) => {
            let back = "/katalog";
            let title = "Suche nicht möglich";
            return Ok(Either::Right(match session {
                Some(s) => s.refused_by(&e, title, back),
                None => crate::web::refused(
                    crate::http::respond::status(&e),
                    title,
                    &crate::web::plain(&e),
                    back,
                ),
            }));
        }
    };
    if session.is_none() && q.is_empty() {
        if let Some(html) = state.catalog.fresh_page() {
            return Ok(Either::Left(CachedText(html, ContentType::HTML)));
        }
        let cache = state.catalog.clone();
        let html = state
            .db
            .read(move |conn| {
                cache.page(conn, |conn: &mut DbConn| {
                    render_html("catalog.html", context(&catalog(conn)?, None, "")?)
                })
            })
            .await?;
        return Ok(Either::Left(CachedText(html, ContentType::HTML)));
    }
    let data = state.db.read(catalog).await?;
    Ok(Either::Right(Page::Html(RawHtml(render_html(
        "catalog.html",
        context(&data, session.as_ref(), &q)?,
    )?))))
}

/// `/katalog/<id>`: one service in detail.
#[get("/katalog/<id>")]
async fn service_page(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<ServiceId, AppError>,
) -> AppResult<Page> {
    let id = id?;
    let view = state
        .db
        .read(move |conn| {
            let service = Service::find(conn, &id)?;
            let operator = match &service.operator_id {
                Some(o) => Some(Organisation::find(conn, o)?.name),
                None => None,
            };
            service.view(operator.as_deref())
        })
        .await?;
    let mut ctx = public_context(session.as_ref(), &view.name)?;
    ctx["service"] = json!(view);
    Ok(render("service.html", ctx))
}
