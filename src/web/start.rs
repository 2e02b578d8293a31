//! `/`: the start page of each group: the staff dashboard, "Meine Kommune" (a redirect),
//! the agreements an intermediary holds with d-NRW, and for visitors what the registry
//! is and how to get an account.

use std::collections::BTreeMap;

use rocket::{get, State};
use serde_json::{json, Value};

use crate::domain::account::Role;
use crate::domain::text::Checked;
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

/// The start page of an intermediary user: the agreements it holds with d-NRW.
pub async fn intermediary_start(state: &State<AppState>, session: &Session) -> AppResult<Page> {
    let scope = session.scope();
    let org = session.user.organisation_id.clone().ok_or_else(|| {
        AppError::internal(format!(
            "intermediary {} has no organisation",
            session.user.id
        ))
    })?;
    let (name, agreements, documents, rollout, to_sign) = state
        .db
        .read(move |conn| {
            let name = crate::store::organisation::Organisation::find(conn, &org)?.name;
            // The roll-out in NRW of the services it provides, aggregated.
            let rollout = crate::actions::rollout::compute(
                conn,
                &scope,
                &Checked::new(crate::actions::rollout::RolloutFilter::default())?,
            )?;
            let page = Paging::new(Some(1), Some(Paging::MAX_PER_PAGE))?;
            let items = Agreement::list(conn, &scope, &Filter::default(), page)?.items;
            let mut documents = Vec::new();
            let mut to_sign = Vec::new();
            for a in &items {
                documents.push(Document::list(conn, &a.id)?.len());
                if a.status == AgreementStatus::AwaitingSignatures
                    && !crate::store::signature::Signature::has_signed(
                        conn,
                        &a.id,
                        a.current_version,
                        crate::domain::signing::Party::Partner,
                    )?
                {
                    to_sign.push(a.clone());
                }
            }
            Ok((name, items, documents, rollout.services, to_sign))
        })
        .await?;
    // The NRW services the Land's municipalities re-use through this intermediary
    // (outbound Einzelabrufe), by service and state.
    let mut outbound: BTreeMap<String, [i64; 4]> = BTreeMap::new();
    for a in agreements
        .iter()
        .filter(|a| a.kind == AgreementKind::Ea && a.external_party.is_some())
    {
        let name = a
            .service
            .as_ref()
            .map(|s| s.name.clone())
            .unwrap_or_default();
        let c = outbound.entry(name).or_default();
        match a.status {
            AgreementStatus::InForce if a.live_on.is_some() => c[0] += 1,
            AgreementStatus::InForce => c[1] += 1,
            AgreementStatus::Draft
            | AgreementStatus::AwaitingSignatures
            | AgreementStatus::Signed => c[2] += 1,
            _ => c[3] += 1,
        }
    }
    let rows: Vec<Value> = agreements
        .iter()
        .zip(documents)
        .map(|(a, n)| json!({ "a": a, "documents": n }))
        .collect();
    let mut ctx = page_context(session, &format!("Vereinbarungen von {name}"))?;
    ctx["organisation"] = json!(name);
    ctx["rows"] = json!(rows);
    ctx["rollout"] = json!(rollout);
    ctx["to_sign"] = json!(to_sign);
    ctx["outbound"] = json!(outbound
        .iter()
        .map(|(name, c)| json!({ "name": name, "live": c[0], "in_force": c[1], "requested": c[2], "ended": c[3] }))
        .collect::<Vec<_>>());
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
