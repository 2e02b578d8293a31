//! `/`: the start page of each group: the staff dashboard, "Meine Kommune" (a redirect),
//! the agreements an intermediary holds with d-NRW, and for visitors what the registry
//! is and how to get an account.

use std::collections::BTreeMap;

use rocket::{get, State};
use serde_json::{json, Value};

use crate::domain::account::Role;
use crate::domain::{AgreementKind, Status as AgreementStatus};
use crate::error::{AppError, AppResult};
use crate::http::state::AppState;
use crate::store::agreement::{Agreement, Filter};
use crate::store::document::Document;
use crate::store::Page as Paging;
use crate::web::{page_context, signed_in, Page, Session};

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![start]
}

/// How many of its agreements an intermediary's start page lists (newest first; the rest
/// under /vereinbarungen).
const INTERMEDIARY_ROWS: i64 = 50;

/// The start page of an intermediary user: what waits for it, the agreements it holds with
/// d-NRW, the outbound re-use it recorded and the roll-out of its services in NRW. Every
/// part is a bounded query or read from the roll-out snapshot, also for an intermediary
/// with thousands of Einzelabrufe.
pub async fn intermediary_start(state: &State<AppState>, session: &Session) -> AppResult<Page> {
    let scope = session.scope();
    let org = session.user.organisation_id.clone().ok_or_else(|| {
        AppError::internal(format!(
            "intermediary {} has no organisation",
            session.user.id
        ))
    })?;
    let cache = state.rollout.clone();
    let (name, listed, documents, rollout, to_sign, outbound) = state
        .db
        .read(move |conn| {
            let name = crate::store::organisation::Organisation::find(conn, &org)?.name;
            // The roll-out in NRW of the services it provides, from the snapshot.
            let provided = crate::actions::rollout::provided_by(conn, &org)?;
            let rollout = cache.get(conn)?.service_totals(&provided);
            let page = Paging::new(Some(1), Some(INTERMEDIARY_ROWS))?;
            let listed = Agreement::rows(conn, &scope, &Filter::default(), page, None)?;
            let documents = listed
                .items
                .iter()
                .map(|a| Ok(Document::list(conn, &a.id)?.len()))
                .collect::<AppResult<Vec<_>>>()?;
            let to_sign = Agreement::awaiting_partner(conn, &org, INTERMEDIARY_ROWS)?;
            let outbound = crate::actions::rollout::outbound_of(conn, &org)?;
            Ok((name, listed, documents, rollout, to_sign, outbound))
        })
        .await?;
    let rows: Vec<Value> = listed
        .items
        .iter()
        .zip(documents)
        .map(|(a, n)| json!({ "a": a, "documents": n }))
        .collect();
    let mut ctx = page_context(session, &format!("Vereinbarungen von {name}"))?;
    ctx["organisation"] = json!(name);
    ctx["rows"] = json!(rows);
    ctx["rows_total"] = json!(listed.total);
    ctx["rollout"] = json!(rollout);
    ctx["to_sign"] = json!(to_sign);
    ctx["outbound"] = json!(outbound);
    Ok(crate::web::render("intermediary.html", ctx))
}

/// The staff start page: what to do today, most urgent first (`actions::todo`), then the
/// counts by kind and status.
pub async fn dashboard(state: &State<AppState>, session: &Session) -> AppResult<Page> {
    let order = state.signing_order;
    let cache = state.counts.clone();
    let (counts, todos) = state
        .db
        .read(move |conn| Ok((cache.get(conn)?, crate::actions::todo::clerk(conn, order)?)))
        .await?;
    let mut table: BTreeMap<&str, BTreeMap<&str, i64>> = BTreeMap::new();
    for (kind, status, n) in counts.iter() {
        *table
            .entry(kind.as_str())
            .or_default()
            .entry(status.as_str())
            .or_default() += n;
    }
    let rows: Vec<Value> = AgreementKind::ALL
        .iter()
        .map(|k| {
            let by = table.get(k.as_str());
            json!({
                "kind": k.as_str(),
                "label": k.label(),
                "counts": AgreementStatus::ALL.iter().map(|s| json!({
                    "status": s.as_str(),
                    "label": s.label(),
                    "n": by.and_then(|b| b.get(s.as_str())).copied().unwrap_or(0),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut ctx = page_context(session, "Übersicht")?;
    ctx["statuses"] = json!(AgreementStatus::ALL
        .iter()
        .map(|s| json!({ "value": s.as_str(), "label": s.label() }))
        .collect::<Vec<_>>());
    ctx["counts"] = json!(rows);
    let nothing = [
        todos.overdue_tasks.total,
        todos.signatures_due.total,
        todos.failed_mail.total,
        todos.certificates.total,
        todos.blocked_tasks.total,
        todos.to_activate.total,
        todos.waiting_for_partner.total,
        todos.new_einzelabrufe.total,
        todos.ekv_requests.total,
    ]
    .iter()
    .all(|n| *n == 0);
    ctx["todo"] = json!(todos);
    ctx["nothing_to_do"] = json!(nothing);
    ctx["may_sign"] = json!(session.user.may_sign);
    ctx["certificate_days"] = json!(crate::actions::todo::CERTIFICATE_DAYS);
    ctx["waiting_days"] = json!(crate::actions::todo::WAITING_DAYS);
    Ok(crate::web::render("dashboard.html", ctx))
}

/// `/`: the start page of each group (staff dashboard, Meine Kommune, the intermediary's
/// agreements).
#[get("/")]
pub(crate) async fn start(state: &State<AppState>, session: Option<Session>) -> AppResult<Page> {
    let Some(session) = session else {
        // Visitors: what this is, for whom, how to get an account.
        let mut ctx = crate::web::public_context(None, "Nachnutzungsregister")?;
        ctx["contact_email"] = serde_json::json!(state.legal.contact_email);
        return Ok(crate::web::render("welcome.html", ctx));
    };
    let session = signed_in!(Some(session));
    match session.role() {
        Role::Municipality => Ok(Page::to("/kommune")),
        Role::Intermediary => intermediary_start(state, &session).await,
        Role::Admin | Role::Clerk => dashboard(state, &session).await,
    }
}
