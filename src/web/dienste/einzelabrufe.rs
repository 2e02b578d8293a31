//! `/dienste/<id>`: one service's Einzelabrufe across NRW, with its roll-out counts.

use rocket::{get, State};
use serde_json::{json, Value};

use crate::domain::{AgreementKind, Status as AgreementStatus};
use crate::error::AppError;
use crate::error::AppResult;
use crate::http::params::ServiceId;
use crate::http::state::AppState;
use crate::store::agreement::{Agreement, Filter};
use crate::store::service::Service;
use crate::store::{Page as Paging, Scope};
use crate::web::{page_context, signed_in, Page, Session};

/// Einzelabrufe per page of the service page.
const PER_PAGE: i64 = 50;

/// `/dienste/<id>?seite=`: which municipalities have an Einzelabruf for a service, in which state.
#[get("/dienste/<id>?<seite>")]
pub(super) async fn service_page(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<ServiceId, AppError>,
    seite: Option<i64>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    session.staff()?;
    let id = id?;
    let page = Paging::new(Some(seite.unwrap_or(1).max(1)), Some(PER_PAGE))?;
    let cache = state.rollout.clone();
    let (service, status, eas, rollout, lead) = state
        .db
        .read(move |conn| {
            let s = Service::find(conn, &id)?;
            let status = s.status(conn)?;
            let eas = Agreement::rows(
                conn,
                &Scope::All,
                &Filter {
                    kind: Some(AgreementKind::Ea),
                    service_id: Some(s.id.clone()),
                    ..Filter::default()
                },
                page,
                None,
            )?;
            let current = cache.get(conn)?;
            let rollout = crate::web::rollout::service_counts(&current, &s.id);
            let lead = crate::actions::rollout::lead::of_service(conn, &cache, &current, &s.id)?;
            Ok((s.view(None)?, status, eas, rollout, lead))
        })
        .await?;
    let counts: Vec<Value> = AgreementStatus::ALL
        .iter()
        .map(|s| {
            json!({
                "label": s.label(),
                "n": status.einzelabrufe.get(s.as_str()).copied().unwrap_or(0),
            })
        })
        .collect();
    let mut ctx = page_context(&session, &service.name)?;
    ctx["service"] = json!(service);
    ctx["status"] = json!(status);
    ctx["counts"] = json!(counts);
    ctx["eas"] = json!(eas.items);
    ctx["eas_total"] = json!(eas.total);
    ctx["page"] = json!(eas.page);
    ctx["pages"] = json!(((eas.total + PER_PAGE - 1) / PER_PAGE).max(1));
    ctx["rollout"] = json!(rollout);
    ctx["lead"] = json!(lead);
    Ok(crate::web::render("service_status.html", ctx))
}
