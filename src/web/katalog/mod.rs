//! The public catalogue: `/katalog` in two parts (other Länder's services for NRW
//! municipalities, NRW's services for other Länder; each available now or coming soon),
//! `/katalog/<id>` with the route to start that fits the service, and for another Land's
//! intermediary the request to re-use an NRW service (`POST /katalog/<id>/anfrage`).

use rocket::form::{Form, FromForm};
use rocket::{get, post, State};
use serde::Serialize;
use serde_json::json;

use crate::actions::catalog::{catalog, Catalog};
use crate::actions::reuse::ReuseRequest;
use crate::db::DbConn;
use crate::domain::text::Checked;
use crate::domain::{AgreementKind, Availability, Status as AgreementStatus};
use crate::error::{AppError, AppResult};
use crate::http::params::ServiceId;
use crate::http::state::AppState;
use crate::store::agreement::Agreement;
use crate::store::organisation::Organisation;
use crate::store::service::{Service, ServiceView};
use crate::store::Scope;
use crate::web::{csrf_refused, public_context, render, same, signed_in, Page, Session};

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![catalog_page, service_page, request]
}

/// The catalogue's content (without the page around it, which names the user): other
/// Länder's services for NRW municipalities and NRW's for other Länder, each available
/// now or coming soon, those matching `q`.
fn body(catalog: &Catalog, q: &str) -> AppResult<String> {
    let search = crate::domain::Search::new(q);
    let mut groups: [Vec<&ServiceView>; 4] = Default::default();
    let (mut inbound, mut outbound) = (0, 0);
    for s in &catalog.services {
        let nrw = s.providing_land_key.as_deref() == Some(crate::store::service::NRW_LAND_KEY);
        if nrw {
            outbound += 1;
        } else {
            inbound += 1;
        }
        if !search.matches(
            [Some(s.name.as_str()), s.ozg_name.as_deref()]
                .into_iter()
                .flatten(),
        ) {
            continue;
        }
        let group = match (nrw, s.availability) {
            (false, Availability::Available) => 0,
            (false, Availability::ComingSoon) => 1,
            (true, Availability::Available) => 2,
            (true, Availability::ComingSoon) => 3,
            (_, Availability::Withdrawn) => continue,
        };
        groups[group].push(s);
    }
    let [inbound_available, inbound_soon, outbound_available, outbound_soon] = groups;
    crate::web::render_html(
        "catalog_body.html",
        json!({
            "inbound_available": inbound_available,
            "inbound_soon": inbound_soon,
            "outbound_available": outbound_available,
            "outbound_soon": outbound_soon,
            "inbound_total": inbound,
            "outbound_total": outbound,
            "q": q,
        }),
    )
}

/// The catalogue page around its content.
fn page(session: Option<&Session>, body: &str) -> AppResult<Page> {
    let mut ctx = public_context(session, "Katalog der Online-Dienste")?;
    ctx["body"] = json!(body);
    Ok(render("catalog.html", ctx))
}

/// `/katalog?q=`: offered services, other Länder's for NRW municipalities first, then
/// NRW's for other Länder. Without a search the content is kept (`CatalogCache`) and
/// only the page around it is rendered per request.
#[get("/katalog?<q>")]
async fn catalog_page(
    state: &State<AppState>,
    session: Option<Session>,
    q: Option<String>,
) -> AppResult<Page> {
    let q = match crate::web::search_text("q", "Suchbegriff", q.as_deref()) {
        Ok(q) => q,
        Err(e) => {
            let back = "/katalog";
            let title = "Suche nicht möglich";
            return Ok(match session {
                Some(s) => s.refused_by(&e, title, back),
                None => crate::web::refused(
                    crate::http::respond::status(&e),
                    title,
                    &crate::web::plain(&e),
                    back,
                ),
            });
        }
    };
    if q.is_empty() {
        let html = match state.catalog.fresh_page() {
            Some(html) => html,
            None => {
                let cache = state.catalog.clone();
                state
                    .db
                    .read(move |conn| {
                        cache.page(conn, |conn: &mut DbConn| body(&catalog(conn)?, ""))
                    })
                    .await?
            }
        };
        return page(session.as_ref(), &html);
    }
    let data = state.db.read(catalog).await?;
    page(session.as_ref(), &body(&data, &q)?)
}

/// Where another Land's intermediary stands with an NRW service: its active EKV (a
/// request or more), and whether its IÖV with d-NRW is in force (without it, d-NRW cannot
/// draft an EKV).
#[derive(Debug, Serialize)]
struct ReuseState {
    ekv: Option<crate::store::agreement::AgreementView>,
    ioev_in_force: bool,
}

fn reuse_state(conn: &mut DbConn, organisation: &str, service: &str) -> AppResult<ReuseState> {
    let ekv = Agreement::best_active(
        conn,
        AgreementKind::Ekv,
        Some(organisation),
        None,
        Some(service),
        None,
    )?
    .map(|a| a.view(conn, false))
    .transpose()?;
    let ioev = Agreement::best_active(
        conn,
        AgreementKind::Ioev,
        Some(organisation),
        None,
        None,
        None,
    )?;
    Ok(ReuseState {
        ekv,
        ioev_in_force: ioev.is_some_and(|a| a.status == AgreementStatus::InForce),
    })
}

/// The service page, with the request form's note and errors when it was refused.
async fn detail(
    state: &State<AppState>,
    session: Option<&Session>,
    id: String,
    note: &str,
    errors: Option<(serde_json::Value, serde_json::Value)>,
) -> AppResult<Page> {
    let intermediary = session.and_then(|s| match s.scope() {
        Scope::Intermediary(o) => Some(o),
        _ => None,
    });
    let (view, reuse) = state
        .db
        .read(move |conn| {
            let service = Service::find(conn, &id)?;
            let operator = match &service.operator_id {
                Some(o) => Some(Organisation::find(conn, o)?.name),
                None => None,
            };
            let reuse = match &intermediary {
                Some(o) if service.is_nrw_service() => Some(reuse_state(conn, o, &service.id)?),
                _ => None,
            };
            Ok((service.view(operator.as_deref())?, reuse))
        })
        .await?;
    let mut ctx = public_context(session, &view.name)?;
    ctx["nrw_service"] =
        json!(view.providing_land_key.as_deref() == Some(crate::store::service::NRW_LAND_KEY));
    ctx["service"] = json!(view);
    ctx["reuse"] = json!(reuse);
    ctx["note"] = json!(note);
    ctx["contact_email"] = json!(state.legal.contact_email);
    ctx["csrf"] = json!(session.map(|s| s.csrf.clone()));
    crate::web::set_errors(&mut ctx, errors);
    Ok(render("service.html", ctx))
}

/// `/katalog/<id>`: one service in detail; for another Land's intermediary and an NRW
/// service, where its re-use stands and the request form.
#[get("/katalog/<id>")]
async fn service_page(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<ServiceId, AppError>,
) -> AppResult<Page> {
    let id = id?;
    detail(state, session.as_ref(), id.to_string(), "", None).await
}

#[derive(FromForm)]
struct RequestForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = String::new())]
    note: String,
}

/// `POST /katalog/<id>/anfrage`: another Land's intermediary asks to re-use the NRW
/// service (`actions::reuse`): an EKV draft for d-NRW, which is mailed. Back on the
/// service page, which then shows the request.
#[post("/katalog/<id>/anfrage", data = "<form>")]
async fn request(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<ServiceId, AppError>,
    form: Form<RequestForm>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    let id = id?;
    if !same(&session.csrf, &form.csrf) {
        return Ok(csrf_refused());
    }
    let scope = session.scope();
    if let Err(why) = crate::domain::policy::request_reuse(&scope) {
        return Ok(session.refused_by(
            &AppError::forbidden(why),
            "Anfrage nicht möglich",
            &format!("/katalog/{id}"),
        ));
    }
    let note = form.into_inner().note;
    let checked = Checked::new(ReuseRequest {
        service_id: id.to_string(),
        note: note.clone(),
    });
    let (actor, requester) = (session.actor(), session.user.name.clone());
    let result = match checked {
        Ok(request) => {
            state
                .db
                .write(move |conn| request.draft(conn, &scope, &actor, &requester))
                .await
        }
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(_) => Ok(Page::to(format!("/katalog/{id}#nachnutzung"))),
        Err(e) if e.http_status() >= 500 => Err(e),
        Err(e) => {
            let errors = crate::web::form_errors(&e, |f| match f {
                "notes" | "note" => "note".to_string(),
                _ => String::new(),
            });
            Ok(
                detail(state, Some(&session), id.to_string(), &note, Some(errors))
                    .await?
                    .with_status(crate::http::respond::status(&e)),
            )
        }
    }
}
