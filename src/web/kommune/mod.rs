//! "Meine Kommune": a municipality user's own agreements, the RV request, and the guided
//! Einzelabruf form (`einzelabruf`).

mod einzelabruf;

use rocket::form::{Form, FromForm};
use rocket::{get, post, State};
use serde::Serialize;
use serde_json::{json, Value};

use crate::actions::agreement::{NewAgreement, Submit};
use crate::db::DbConn;
use crate::domain::text::Checked;
use crate::domain::{AgreementKind, Availability, Status as AgreementStatus};
use crate::error::{AppError, AppResult};
use crate::http::state::AppState;
use crate::store::agreement::{Agreement, AgreementRow, Filter};
use crate::store::membership::Membership;
use crate::store::municipality::Municipality;
use crate::store::service::Service;
use crate::store::{Page as Paging, Scope};
use crate::web::{form_outcome, form_session, page_context, signed_in, Page, Session};

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![einzelabruf::ea_form, einzelabruf::file_ea, home, request_rv,]
}

/// The municipality of a municipality user; everyone else is refused.
pub(super) fn own_municipality(session: &Session) -> AppResult<String> {
    crate::domain::policy::own_municipality(session.role(), session.user.municipality_id.as_deref())
        .map(str::to_string)
        .map_err(AppError::forbidden)
}

/// All agreements of the municipality (a municipality has a handful, never hundreds).
pub(super) fn own_agreements(conn: &mut DbConn, scope: &Scope) -> AppResult<Vec<AgreementRow>> {
    let page = Paging::new(Some(1), Some(Paging::MAX_PER_PAGE))?;
    Ok(Agreement::rows(conn, scope, &Filter::default(), page, None)?.items)
}

/// Services one can still call, per page of `/kommune`.
const SERVICES_PER_PAGE: usize = 20;

/// Which of the services one can still call `/kommune` shows: those matching a search,
/// one page of them.
#[derive(Debug, Clone, Default)]
pub(super) struct ServiceChoice {
    pub q: String,
    pub page: usize,
}

/// `/kommune?suche=&seite=`: the RV, the Einzelabrufe, and the services one can still
/// call (searchable, 20 per page).
#[get("/kommune?<suche>&<seite>")]
async fn home(
    state: &State<AppState>,
    session: Option<Session>,
    suche: Option<String>,
    seite: Option<usize>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    let q = match crate::web::search_text("suche", "Suchbegriff", suche.as_deref()) {
        Ok(q) => q,
        Err(e) => return Ok(session.refused_by(&e, "Suche nicht möglich", "/kommune")),
    };
    let choice = ServiceChoice {
        q,
        page: seite.unwrap_or(1).max(1),
    };
    home_view(state, &session, json!({}), None, choice).await
}

/// The page, with the RV request's typed `values` and `errors` when it was refused.
async fn home_view(
    state: &State<AppState>,
    session: &Session,
    values: Value,
    errors: Option<(Value, Value)>,
    choice: ServiceChoice,
) -> AppResult<Page> {
    let municipality_id = own_municipality(session)?;
    let scope = session.scope();
    let offered = state.offered_services.clone();
    let (municipality, standing, agreements, services, tasks, rv_signed_by_us, to_sign) = state
        .db
        .read(move |conn| {
            let m = Municipality::find(conn, &municipality_id)?;
            let standing = Membership::standing(conn, &m.id)?;
            let agreements = own_agreements(conn, &scope)?;
            // What waits for the municipality's signature (its side not signed yet), and
            // whether it has signed the RV that waits for signatures.
            let mut to_sign = Vec::new();
            let mut rv_signed_by_us = false;
            let awaiting: Vec<&AgreementRow> = agreements
                .iter()
                .filter(|a| a.status == AgreementStatus::AwaitingSignatures)
                .collect();
            let signed = crate::store::signature::partner_signed(
                conn,
                &awaiting.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
            )?;
            for a in awaiting {
                let ours = signed.contains(&(a.id.clone(), a.current_version));
                if a.kind == AgreementKind::Rv {
                    rv_signed_by_us = ours;
                }
                if !ours {
                    to_sign.push(a.clone());
                }
            }
            let services = offered.get(conn, |c| Service::list_with_operator(c, true))?;
            let pending = crate::store::task::TaskFilter {
                pending: true,
                ..Default::default()
            };
            let tasks = crate::store::task::list(
                conn,
                &scope,
                &pending,
                crate::store::Page::new(Some(1), Some(20))?,
            )?;
            Ok((
                m,
                standing,
                agreements,
                services,
                tasks,
                rv_signed_by_us,
                to_sign,
            ))
        })
        .await?;
    let rv = agreements
        .iter()
        .find(|a| a.kind == AgreementKind::Rv && a.status.is_active());
    let rv_in_force = rv.is_some_and(|a| a.status == AgreementStatus::InForce);
    let eas: Vec<&AgreementRow> = agreements
        .iter()
        .filter(|a| a.kind == AgreementKind::Ea)
        .collect();
    let search = crate::domain::Search::new(&choice.q);
    let active: std::collections::HashSet<&str> = eas
        .iter()
        .filter(|a| a.status.is_active())
        .filter_map(|a| a.service.as_ref().map(|s| s.id.as_str()))
        .collect();
    let mut callable = Vec::new();
    for (s, operator) in services.iter() {
        // NRW's own services are not called through d-NRW by NRW municipalities; those
        // with an active Einzelabruf are in the table above.
        if s.availability()? != Availability::Available || s.is_nrw_service() {
            continue;
        }
        if active.contains(s.id.as_str()) || !search.matches([s.name.as_str()]) {
            continue;
        }
        callable.push((s, operator));
    }
    let callable_total = callable.len();
    let pages = callable_total.div_ceil(SERVICES_PER_PAGE).max(1);
    let page = choice.page.clamp(1, pages);
    let shown: Vec<Value> = callable
        .into_iter()
        .skip((page - 1) * SERVICES_PER_PAGE)
        .take(SERVICES_PER_PAGE)
        .map(|(s, operator)| {
            json!({
                "id": s.id,
                "name": s.name,
                "operator": operator,
                "providing_state": s.providing_state,
            })
        })
        .collect();
    let mut ctx = page_context(session, "Meine Kommune")?;
    ctx["traegerschaft"] = json!({ "code": standing.code(), "label": standing.label() });
    ctx["values"] = json!({
        "non_member_reason": values["non_member_reason"].as_str().unwrap_or(""),
    });
    crate::web::set_errors(&mut ctx, errors);
    ctx["municipality"] = json!({
        "id": municipality.id,
        "name": municipality.display_name(),
        "ags": municipality.ags,
        "kreis": municipality.kreis_name,
        "regierungsbezirk": municipality.regierungsbezirk,
    });
    ctx["rv"] = json!(rv);
    ctx["rv_in_force"] = json!(rv_in_force);
    ctx["rv_signed_by_us"] = json!(rv_signed_by_us);
    ctx["eas"] = json!(eas);
    ctx["services"] = json!(shown);
    ctx["services_total"] = json!(callable_total);
    ctx["services_page"] = json!(page);
    ctx["services_pages"] = json!(pages);
    ctx["suche"] = json!(choice.q);
    ctx["suche_url"] = json!(crate::domain::urlencode(&choice.q));
    ctx["may_sign"] = json!(session.user.may_sign);
    // What the municipality has to do: sign, submit its drafts, its own go-live tasks
    // (most urgent first; those of d-NRW and the provider are shown as information).
    let drafts: Vec<&AgreementRow> = agreements
        .iter()
        .filter(|a| a.status == AgreementStatus::Draft)
        .collect();
    let (ours, others): (Vec<_>, Vec<_>) = tasks
        .items
        .iter()
        .partition(|t| t.owner_type == "municipality" && t.owner.id == municipality.id);
    ctx["todo"] = json!({
        "to_sign": to_sign,
        "drafts": drafts,
        "tasks": ours,
        "nothing": to_sign.is_empty() && drafts.is_empty() && ours.is_empty(),
    });
    ctx["other_tasks"] = json!(others);
    ctx["tasks"] = json!(tasks.items);
    ctx["tasks_total"] = json!(tasks.total);
    Ok(crate::web::render("kommune.html", ctx))
}

/// The RV request of `/kommune`.
#[derive(FromForm, Serialize)]
struct RvRequestForm {
    #[field(default = String::new())]
    #[serde(skip)]
    csrf: String,
    /// Why the municipality may re-use without being Träger of d-NRW.
    #[field(default = String::new())]
    non_member_reason: String,
}

/// Requests the municipality's RV: a draft whose page shows the contract text; submitting
/// it is the next, separate step there.
#[post("/kommune/rahmenvereinbarung", data = "<form>")]
async fn request_rv(
    state: &State<AppState>,
    session: Option<Session>,
    form: Form<RvRequestForm>,
) -> AppResult<Page> {
    let session = form_session!(session, &form.csrf);
    own_municipality(&session)?;
    let form = form.into_inner();
    let values = json!(form);
    let (scope, actor) = (session.scope(), session.actor());
    let order = state.signing_order;
    let result = state
        .db
        .write(move |conn| {
            Checked::new(NewAgreement {
                kind: "rv".into(),
                notice_period_months: Some(6),
                non_member_reason: Some(form.non_member_reason),
                ..NewAgreement::default()
            })?
            .create_as(conn, &scope, &actor, Vec::new(), order, Submit::AfterReview)
        })
        .await;
    match form_outcome(result)? {
        Ok(a) => Ok(Page::to(format!("/vereinbarungen/{}", a.id))),
        Err(e) if !e.fields.is_empty() => Ok(home_view(
            state,
            &session,
            values,
            Some(crate::web::form_errors(&e, str::to_string)),
            ServiceChoice::default(),
        )
        .await?
        .with_status(rocket::http::Status::UnprocessableEntity)),
        Err(e) => Ok(session.refused_by(&e, "Rahmenvereinbarung nicht angelegt", "/kommune")),
    }
}
