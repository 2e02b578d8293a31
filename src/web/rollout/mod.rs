//! The roll-out matrix (staff): `/rollout` and `/rollout.csv`.

use rocket::http::{ContentType, Header};
use rocket::{get, Responder, State};
use serde_json::{json, Value};

use crate::actions::rollout::{self, Cell, RolloutFilter};
use crate::domain::text::Checked;
use crate::error::AppResult;
use crate::http::state::AppState;
use crate::store::municipality::Municipality;
use crate::store::Scope;
use crate::web::{page_context, signed_in, Page, Session};

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![matrix, matrix_csv,]
}

fn rollout_filter(rb: Option<&str>, kreis: Option<&str>) -> AppResult<Checked<RolloutFilter>> {
    crate::http::params::rollout_filter(rb, kreis, None)
}

/// d-NRW's roll-out matrix: municipality × service, with counts and filters.
#[get("/rollout?<rb>&<kreis>")]
async fn matrix(
    state: &State<AppState>,
    session: Option<Session>,
    rb: Option<&str>,
    kreis: Option<&str>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    session.staff()?;
    let filter = match rollout_filter(rb, kreis) {
        Ok(f) => f,
        Err(e) => return Ok(session.refused_by(&e, "Filter ungültig", "/rollout")),
    };
    let (r, (districts, kreise)) = state
        .db
        .read(move |conn| {
            Ok((
                rollout::compute(conn, &Scope::All, &filter)?,
                Municipality::districts(conn)?,
            ))
        })
        .await?;
    let rows: Vec<Value> = r
        .municipalities
        .iter()
        .flatten()
        .map(|m| {
            json!({
                "id": m.id, "name": m.name, "ags": m.ags,
                "cells": r.services.iter().map(|s| {
                    let c = r.cell(m, &s.id);
                    json!({ "state": c.as_str(), "label": c.label() })
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut ctx = page_context(&session, "Roll-out")?;
    ctx["services"] = json!(r.services);
    ctx["rows"] = json!(rows);
    ctx["counts"] = json!(Cell::ALL
        .into_iter()
        .filter(|c| *c != Cell::Nothing)
        .map(|c| json!({ "state": c.as_str(), "label": c.label(), "n": r.counts.get(c) }))
        .collect::<Vec<_>>());
    ctx["municipality_count"] = json!(r.municipality_count);
    ctx["districts"] = json!(districts);
    ctx["kreise"] = json!(kreise
        .iter()
        .map(|(ags, name)| json!({ "ags": ags, "name": name }))
        .collect::<Vec<_>>());
    ctx["filter"] = json!({ "rb": rb.unwrap_or(""), "kreis": kreis.unwrap_or("") });
    ctx["query"] = json!(format!(
        "rb={}&kreis={}",
        crate::web::fields::urlencode(rb.unwrap_or("")),
        crate::web::fields::urlencode(kreis.unwrap_or(""))
    ));
    Ok(crate::web::render("rollout.html", ctx))
}

#[derive(Responder)]
#[expect(
    clippy::large_enum_variant,
    reason = "a response value, built once per request and written out at once"
)]
pub(crate) enum CsvOrPage {
    Csv(Vec<u8>, ContentType, Header<'static>),
    Page(Page),
}

impl CsvOrPage {
    /// A CSV download named `name`.
    pub(crate) fn file(bytes: Vec<u8>, name: &str) -> CsvOrPage {
        CsvOrPage::Csv(
            bytes,
            ContentType::new("text", "csv").with_params(("charset", "utf-8")),
            Header::new(
                "Content-Disposition",
                format!("attachment; filename=\"{name}\""),
            ),
        )
    }
}

#[get("/rollout.csv?<rb>&<kreis>")]
async fn matrix_csv(
    state: &State<AppState>,
    session: Option<Session>,
    rb: Option<&str>,
    kreis: Option<&str>,
) -> AppResult<CsvOrPage> {
    let Some(session) = session else {
        return Ok(CsvOrPage::Page(Page::to("/anmelden")));
    };
    session.staff()?;
    let filter = rollout_filter(rb, kreis)?;
    let bytes = state
        .db
        .read(move |conn| rollout::to_csv(&rollout::compute(conn, &Scope::All, &filter)?))
        .await?;
    Ok(CsvOrPage::file(bytes, "rollout.csv"))
}

/// The state of each service for one municipality (its row of the roll-out), for the
/// municipality pages: (service id, name, state, label) of the services it has anything with.
pub fn municipality_row(
    conn: &mut crate::db::DbConn,
    municipality_id: &str,
) -> AppResult<Vec<Value>> {
    let r = rollout::compute(
        conn,
        &Scope::Municipality(municipality_id.to_string()),
        &Checked::new(RolloutFilter::default())?,
    )?;
    let Some(row) = r.municipalities.as_ref().and_then(|m| m.first()) else {
        return Ok(Vec::new());
    };
    Ok(r.services
        .iter()
        .filter_map(|s| {
            let c = r.cell(row, &s.id);
            (c != Cell::Nothing).then(
                || json!({ "id": s.id, "name": s.name, "state": c.as_str(), "label": c.label() }),
            )
        })
        .collect())
}

/// A service's column of the roll-out (counts by state), for the service page.
pub fn service_counts(conn: &mut crate::db::DbConn, service_id: &str) -> AppResult<Vec<Value>> {
    let r = rollout::compute(
        conn,
        &Scope::All,
        &Checked::new(RolloutFilter {
            service_id: Some(service_id.to_string()),
            ..RolloutFilter::default()
        })?,
    )?;
    Ok(r.services
        .first()
        .map(|s| {
            Cell::ALL
                .into_iter()
                .map(|c| json!({ "state": c.as_str(), "label": if c == Cell::Nothing { "ohne Einzelabruf" } else { c.label() }, "n": s.counts.get(c) }))
                .collect()
        })
        .unwrap_or_default())
}
