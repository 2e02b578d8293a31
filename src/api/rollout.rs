//! `GET /api/v1/rollout`: where every municipality stands with every service, as JSON or
//! (`?format=csv`) as a spreadsheet.

use rocket::http::{ContentType, Header};
use rocket::serde::json::Json;
use rocket::{get, routes, Responder, Route, State};

use super::Caller;
use crate::actions::rollout::{self, Rollout};
use crate::error::{AppError, AppResult};
use crate::http::params::MunicipalityId;
use crate::http::state::AppState;

pub fn routes() -> Vec<Route> {
    routes![matrix, vsm]
}

#[derive(Responder)]
pub enum Export {
    Json(Json<Rollout>),
    Csv(Vec<u8>, ContentType, Header<'static>),
}

/// A CSV download with its file name.
pub fn csv_download(bytes: Vec<u8>, file_name: &str) -> Export {
    Export::Csv(
        bytes,
        ContentType::new("text", "csv").with_params(("charset", "utf-8")),
        Header::new(
            "Content-Disposition",
            format!("attachment; filename=\"{file_name}\""),
        ),
    )
}

/// Staff see every municipality; a municipality its own row; another Land's intermediary
/// the services it provides to NRW, aggregated.
#[get("/api/v1/rollout?<regierungsbezirk>&<kreis>&<service_id>&<format>")]
async fn matrix(
    caller: Caller,
    state: &State<AppState>,
    regierungsbezirk: Option<&str>,
    kreis: Option<&str>,
    service_id: Option<&str>,
    format: Option<&str>,
) -> AppResult<Export> {
    let filter = crate::http::params::rollout_filter(regierungsbezirk, kreis, service_id)?;
    let csv = match format {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(AppError::field(
                "format",
                format!("„{other}“ ist kein Format (json, csv)."),
            ))
        }
    };
    let r = state
        .db
        .read(move |conn| rollout::compute(conn, &caller.scope, &filter))
        .await?;
    if csv {
        let bytes = rocket::tokio::task::spawn_blocking(move || rollout::to_csv(&r))
            .await
            .map_err(|e| AppError::internal(format!("csv task: {e}")))??;
        Ok(csv_download(bytes, "rollout.csv"))
    } else {
        Ok(Export::Json(Json(r)))
    }
}

/// The VSM data of a municipality's live services (staff, or the municipality itself).
#[get("/api/v1/municipalities/<id>/vsm.csv")]
async fn vsm(
    caller: Caller,
    state: &State<AppState>,
    id: Result<MunicipalityId, AppError>,
) -> AppResult<Export> {
    let id = id?;
    let bytes = state
        .db
        .read(move |conn| {
            let rows = crate::actions::exports::vsm_rows(conn, &caller.scope, &id)?;
            crate::actions::exports::vsm_csv(&rows)
        })
        .await?;
    Ok(csv_download(bytes, "vsm.csv"))
}
