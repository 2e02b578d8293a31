//! Go-live tasks: `/api/v1/tasks`, `/api/v1/agreements/{id}/tasks`, and the DVDV
//! certificate of an Einzelabruf (`/api/v1/agreements/{id}/certificate`), which the DVDV
//! task records.

use rocket::data::{Data, ToByteUnit};
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{get, patch, post, routes, FromForm, Route, State};
use serde::Serialize;
use serde_json::Value;

use super::{body, Body, Caller, Staff};
use crate::actions::golive::{TaskPatch, TaskStep};
use crate::domain::golive::TaskStatus;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::http::state::AppState;
use crate::store::agreement::Agreement;
use crate::store::attachment::{self, CheckedUpload};
use crate::store::task::{self, Task, TaskFilter, TaskView};
use crate::store::{Page, Paged};

pub fn routes() -> Vec<Route> {
    routes![list, show, of_agreement, step, update, certificate]
}

use super::query_id as uuid;
use crate::http::params::{AgreementId, TaskId};

/// Reads `overdue=true|false` and the like.
pub fn flag(field: &str, v: Option<&str>) -> AppResult<bool> {
    match v {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(other) => Err(AppError::field(
            field,
            format!("„{other}“ ist kein Wahrheitswert (true, false)."),
        )),
    }
}

/// The tasks the caller may see (of Einzelabrufe in force), due first.
#[get("/api/v1/tasks?<query..>")]
async fn list(
    caller: Caller,
    state: &State<AppState>,
    query: TasksQuery<'_>,
) -> AppResult<Json<Paged<TaskView>>> {
    let (filter, page) = query.filter()?;
    Ok(Json(
        state
            .db
            .read(move |conn| task::list(conn, &caller.scope, &filter, page))
            .await?,
    ))
}

/// The query of the task list, as documented.
#[derive(FromForm)]
struct TasksQuery<'r> {
    status: Option<&'r str>,
    overdue: Option<&'r str>,
    pending: Option<&'r str>,
    agreement_id: Option<&'r str>,
    municipality_id: Option<&'r str>,
    service_id: Option<&'r str>,
    page: Option<&'r str>,
    per_page: Option<&'r str>,
}

impl TasksQuery<'_> {
    /// The list's filter and page; a value that is none a 422 naming its field.
    fn filter(&self) -> AppResult<(TaskFilter, Page)> {
        let status = self
            .status
            .map(|s| {
                TaskStatus::parse(s).ok_or_else(|| {
                    AppError::field(
                        "status",
                        format!(
                            "„{s}“ ist kein Status einer Aufgabe (open, in_progress, done, blocked)."
                        ),
                    )
                })
            })
            .transpose()?;
        let filter = TaskFilter {
            status,
            overdue: flag("overdue", self.overdue)?,
            pending: flag("pending", self.pending)?,
            agreement_id: uuid("agreement_id", self.agreement_id)?,
            municipality_id: uuid("municipality_id", self.municipality_id)?,
            service_id: uuid("service_id", self.service_id)?,
        };
        Ok((filter, super::page(self.page, self.per_page)?))
    }
}

/// A task with what the caller may do and what is known for its evidence in advance.
#[derive(Debug, Serialize)]
pub struct TaskDetail {
    #[serde(flatten)]
    pub task: TaskView,
    /// The caller acts for the task's owner (d-NRW staff act for all).
    pub may_act: bool,
    /// Evidence known in advance (the service's Leika keys, the DVDV key its category
    /// prescribes), to fill in.
    pub suggested_evidence: Value,
}

fn detail(
    conn: &mut crate::db::DbConn,
    scope: &crate::store::Scope,
    t: Task,
) -> AppResult<TaskDetail> {
    let may_act = t.owned_by(scope);
    let suggested_evidence = task::suggested_evidence(conn, &t)?;
    let view = task::views(conn, vec![t])?
        .pop()
        .ok_or_else(|| AppError::internal("task view missing"))?;
    Ok(TaskDetail {
        task: view,
        may_act,
        suggested_evidence,
    })
}

#[get("/api/v1/tasks/<id>")]
async fn show(
    caller: Caller,
    state: &State<AppState>,
    id: Result<TaskId, AppError>,
) -> AppResult<Json<TaskDetail>> {
    let id = id?;
    Ok(Json(
        state
            .db
            .read(move |conn| {
                let t = Task::find_in(conn, &caller.scope, &id)?;
                detail(conn, &caller.scope, t)
            })
            .await?,
    ))
}

/// The go-live plan of an Einzelabruf.
#[derive(Debug, Serialize)]
pub struct Plan {
    pub agreement_id: String,
    pub reference: String,
    /// The day the last task was done: the service is live there.
    pub live_on: Option<time::Date>,
    pub tasks: Vec<TaskView>,
}

#[get("/api/v1/agreements/<id>/tasks")]
async fn of_agreement(
    caller: Caller,
    state: &State<AppState>,
    id: Result<AgreementId, AppError>,
) -> AppResult<Json<Plan>> {
    let id = id?;
    Ok(Json(
        state
            .db
            .read(move |conn| {
                let a = Agreement::find_in(conn, &caller.scope, &id)?;
                Ok(Plan {
                    tasks: task::of_agreement_views(conn, &a.id)?,
                    agreement_id: a.id,
                    reference: a.reference,
                    live_on: a.live_on,
                })
            })
            .await?,
    ))
}

/// start, complete (with the evidence), block (with a reason), reopen (d-NRW).
#[post("/api/v1/tasks/<id>/transitions", data = "<input>")]
async fn step(
    caller: Caller,
    state: &State<AppState>,
    id: Result<TaskId, AppError>,
    input: Body<'_, TaskStep>,
) -> AppResult<Json<TaskDetail>> {
    let id = id?;
    let input = body(input)?;
    Ok(Json(
        state
            .db
            .write(move |conn| {
                let t = input.apply(conn, &caller.scope, &caller.actor, &id)?;
                detail(conn, &caller.scope, t)
            })
            .await?,
    ))
}

/// d-NRW staff: due date and responsible contact.
#[patch("/api/v1/tasks/<id>", data = "<input>")]
async fn update(
    staff: Staff,
    state: &State<AppState>,
    id: Result<TaskId, AppError>,
    input: Body<'_, TaskPatch>,
) -> AppResult<Json<TaskDetail>> {
    let id = id?;
    let input = body(input)?;
    Ok(Json(
        state
            .db
            .write(move |conn| {
                let t = input.apply(conn, &staff.actor, &id)?;
                detail(conn, &crate::store::Scope::All, t)
            })
            .await?,
    ))
}

/// The certificate as recorded.
#[derive(Debug, Serialize)]
pub struct CertificateView {
    pub id: String,
    pub sha256: String,
    pub details: Value,
    #[serde(with = "crate::store::ts::option")]
    pub expires_at: Option<time::PrimitiveDateTime>,
}

/// Hands in (or renews) the DVDV encryption certificate of an Einzelabruf: the body is
/// the certificate, PEM or DER (at most 64 KiB).
#[post("/api/v1/agreements/<id>/certificate", data = "<data>")]
async fn certificate(
    caller: Caller,
    state: &State<AppState>,
    id: Result<AgreementId, AppError>,
    data: Data<'_>,
) -> AppResult<(Status, Json<CertificateView>)> {
    let id = id?;
    // Another tenant's agreement is "not found" before anything is read.
    let scope = caller.scope.clone();
    let found = id.clone();
    state
        .db
        .read(move |conn| Agreement::find_in(conn, &scope, &found))
        .await?;
    let bytes = data
        .open(65.kibibytes())
        .into_bytes()
        .await
        .map_err(|e| AppError::bad_request(format!("Der Inhalt ist nicht lesbar: {e}")))?;
    if !bytes.is_complete() {
        return Err(AppError::new(
            ErrorKind::TooLarge,
            "Die Zertifikatsdatei ist größer als 64 KiB.",
        ));
    }
    let upload = CheckedUpload::dvdv_certificate("dvdv-zertifikat.cer", bytes.into_inner())
        .map_err(|message| AppError::field("certificate", message))?;
    let view = state
        .db
        .write(move |conn| {
            let info =
                attachment::store_certificate(conn, &caller.scope, &id, upload, &caller.actor)?;
            Ok(CertificateView {
                details: info.details(),
                id: info.id,
                sha256: info.sha256,
                expires_at: info.expires_at,
            })
        })
        .await?;
    Ok((Status::Created, Json(view)))
}
