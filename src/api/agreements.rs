//! `/api/v1/agreements`: IÖV, EKV, RV and EA with their lifecycle and amendments.

use rocket::http::{ContentType, Status};
use rocket::serde::json::Json;
use rocket::{get, patch, post, routes, FromForm, Route, State};

use super::{body, Body, Caller, Staff};
use crate::actions::agreement::{
    AmendmentInput, AmendmentStep, EditInput, NewAgreement, Submit, TransitionInput,
};
use crate::actions::ea;
use crate::documents::text::ContractText;
use crate::domain::{AgreementKind, Status as AgreementStatus};
use crate::error::{AppError, AppResult};
use crate::http::params::AgreementId;
use crate::http::state::AppState;
use crate::store::agreement::contract::contract_text;
use crate::store::agreement::{Agreement, AgreementView, Filter};
use crate::store::{Page, Paged, Scope};

pub fn routes() -> Vec<Route> {
    routes![
        list,
        create,
        show,
        text,
        preview,
        edit,
        transition,
        amend,
        amendment_step
    ]
}

#[get("/api/v1/agreements?<query..>")]
async fn list(
    caller: Caller,
    state: &State<AppState>,
    query: AgreementsQuery<'_>,
) -> AppResult<Json<Paged<AgreementView>>> {
    let (filter, page) = query.filter()?;
    Ok(Json(
        state
            .db
            .read(move |conn| Agreement::list(conn, &caller.scope, &filter, page))
            .await?,
    ))
}

/// The query of the agreement list, as documented.
#[derive(FromForm)]
struct AgreementsQuery<'r> {
    kind: Option<&'r str>,
    status: Option<&'r str>,
    municipality_id: Option<&'r str>,
    service_id: Option<&'r str>,
    counterparty_id: Option<&'r str>,
    page: Option<&'r str>,
    per_page: Option<&'r str>,
}

impl AgreementsQuery<'_> {
    /// The list's filter and page; a value that is none a 422 naming its field.
    fn filter(&self) -> AppResult<(Filter, Page)> {
        let kind = self
            .kind
            .map(|k| {
                AgreementKind::parse(k).ok_or_else(|| {
                    AppError::field(
                        "kind",
                        format!("„{k}“ ist keine Vereinbarungsart (ioev, ekv, rv, ea)."),
                    )
                })
            })
            .transpose()?;
        let status = self
            .status
            .map(|s| {
                AgreementStatus::parse(s).ok_or_else(|| {
                    AppError::field("status", format!("„{s}“ ist kein Status (draft, awaiting_signatures, signed, in_force, terminated, expired, cancelled)."))
                })
            })
            .transpose()?;
        let uuid = super::query_id;
        let filter = Filter {
            kind,
            status,
            municipality_id: uuid("municipality_id", self.municipality_id)?,
            service_id: uuid("service_id", self.service_id)?,
            counterparty_id: uuid("counterparty_id", self.counterparty_id)?,
        };
        Ok((filter, super::page(self.page, self.per_page)?))
    }
}

/// Staff create any agreement as a draft; a municipality user requests its own RV or
/// files its own EA, which goes straight to signature (see `NewAgreement::create_as`).
#[post("/api/v1/agreements", data = "<input>")]
async fn create(
    caller: Caller,
    state: &State<AppState>,
    input: Body<'_, NewAgreement>,
) -> AppResult<(Status, Json<AgreementView>)> {
    let order = state.signing_order;
    let input = body(input)?;
    let view = state
        .db
        .write(move |conn| {
            // A municipality's Einzelabruf is a filing: the form's path, without contact
            // person and uploads (those come as attachments).
            let a = match &caller.scope {
                Scope::Municipality(_) if input.kind == AgreementKind::Ea.as_str() => {
                    let filing = ea::Filing {
                        agreement: input,
                        unreadable: Vec::new(),
                        contact: None,
                        uploads: Vec::new(),
                        submit: Submit::Now,
                    };
                    ea::file(conn, &caller.scope, &caller.actor, order, filing)?
                }
                _ => input.create_as(
                    conn,
                    &caller.scope,
                    &caller.actor,
                    Vec::new(),
                    order,
                    Submit::Now,
                )?,
            };
            a.view(conn, true)
        })
        .await?;
    Ok((Status::Created, Json(view)))
}

#[get("/api/v1/agreements/<id>")]
async fn show(
    caller: Caller,
    state: &State<AppState>,
    id: Result<AgreementId, AppError>,
) -> AppResult<Json<AgreementView>> {
    let id = id?;
    Ok(Json(
        state
            .db
            .read(move |conn| Agreement::find_in(conn, &caller.scope, &id)?.view(conn, true))
            .await?,
    ))
}

/// The contract text of the current version (unsealed preview), with template versions
/// and SHA-256.
#[get("/api/v1/agreements/<id>/text")]
async fn text(
    caller: Caller,
    state: &State<AppState>,
    id: Result<AgreementId, AppError>,
) -> AppResult<Json<ContractText>> {
    let id = id?;
    Ok(Json(
        state
            .db
            .read(move |conn| {
                let a = Agreement::find_in(conn, &caller.scope, &id)?;
                contract_text(conn, &a, a.current_version)
            })
            .await?,
    ))
}

/// The contract as an unsealed PDF, every page marked ENTWURF, with the signatures given
/// so far.
#[get("/api/v1/agreements/<id>/preview.pdf")]
async fn preview(
    caller: Caller,
    state: &State<AppState>,
    id: Result<AgreementId, AppError>,
) -> AppResult<(ContentType, Vec<u8>)> {
    let id = id?;
    let pdf = crate::actions::documents::draft_pdf(
        &state.db,
        state.signing_order,
        caller.scope,
        id.into_string(),
    )
    .await?;
    Ok((ContentType::PDF, pdf))
}

#[patch("/api/v1/agreements/<id>", data = "<input>")]
async fn edit(
    staff: Staff,
    state: &State<AppState>,
    id: Result<AgreementId, AppError>,
    input: Body<'_, EditInput>,
) -> AppResult<Json<AgreementView>> {
    let id = id?;
    let input = body(input)?;
    Ok(Json(
        state
            .db
            .write(move |conn| input.apply(conn, &staff.actor, &id)?.view(conn, true))
            .await?,
    ))
}

/// d-NRW's steps; a municipality submits or discards its own RV or EA draft.
#[post("/api/v1/agreements/<id>/transitions", data = "<input>")]
async fn transition(
    caller: Caller,
    state: &State<AppState>,
    id: Result<AgreementId, AppError>,
    input: Body<'_, TransitionInput>,
) -> AppResult<Json<AgreementView>> {
    if let Scope::Intermediary(_) = caller.scope {
        return Err(AppError::forbidden(
            "Schritte an Vereinbarungen gehen d-NRW und die Kommunen, nicht die Kommunalvertreter anderer Länder.",
        ));
    }
    let id = id?;
    let order = state.signing_order;
    let input = body(input)?;
    Ok(Json(
        state
            .db
            .write(move |conn| {
                input
                    .apply_as(conn, &caller.scope, &caller.actor, &id, order)?
                    .view(conn, true)
            })
            .await?,
    ))
}

#[post("/api/v1/agreements/<id>/amendments", data = "<input>")]
async fn amend(
    staff: Staff,
    state: &State<AppState>,
    id: Result<AgreementId, AppError>,
    input: Body<'_, AmendmentInput>,
) -> AppResult<(Status, Json<AgreementView>)> {
    let id = id?;
    let input = body(input)?;
    let view = state
        .db
        .write(move |conn| {
            input.apply(conn, &staff.actor, &id)?;
            Agreement::find(conn, &id)?.view(conn, true)
        })
        .await?;
    Ok((Status::Created, Json(view)))
}

#[post(
    "/api/v1/agreements/<id>/amendments/<no>/transitions",
    data = "<input>"
)]
async fn amendment_step(
    staff: Staff,
    state: &State<AppState>,
    id: Result<AgreementId, AppError>,
    no: i32,
    input: Body<'_, AmendmentStep>,
) -> AppResult<Json<AgreementView>> {
    let id = id?;
    let input = body(input)?;
    Ok(Json(
        state
            .db
            .write(move |conn| {
                input.apply(conn, &staff.actor, &id, no)?;
                Agreement::find(conn, &id)?.view(conn, true)
            })
            .await?,
    ))
}
