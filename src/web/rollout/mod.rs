//! The roll-out matrix (staff): `/rollout` and `/rollout.csv`.

use rocket::http::{ContentType, Header};
use rocket::{get, Responder, State};
use serde_json::{json, Value};

use crate::actions::rollout::{overview, snapshot, Cell, RolloutFilter};
use crate::domain::text::Checked;
use crate::error::{AppError, AppResult};
use crate::http::respond::{AcceptsGzip, CachedGzip, CachedText};
use crate::http::state::AppState;

mod charts;
use crate::web::{page_context, signed_in, Page, Session};

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![matrix, matrix_csv,]
}

fn rollout_filter(rb: Option<&str>, kreis: Option<&str>) -> AppResult<Checked<RolloutFilter>> {
    crate::http::params::rollout_filter(rb, kreis, None)
}

/// Parameters of `/rollout`, as the forms and links name them.
#[derive(rocket::FromForm, Default)]
struct PageQuery<'r> {
    land: Option<&'r str>,
    rb: Option<&'r str>,
    kreis: Option<&'r str>,
    q: Option<&'r str>,
    dienst: Option<&'r str>,
    seite: Option<usize>,
    dseite: Option<usize>,
}

/// d-NRW's roll-out: charts (state per service, share live per area, go-lives per
/// month) with their data, and the table drilled down from Land or Regierungsbezirk to
/// the municipalities of a Kreis. Served from the snapshot in memory.
#[get("/rollout?<query..>")]
async fn matrix(
    state: &State<AppState>,
    session: Option<Session>,
    query: PageQuery<'_>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    session.staff()?;
    let nonempty = |s: Option<&str>| {
        s.map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let asked = overview::Query {
        land: nonempty(query.land),
        rb: nonempty(query.rb),
        kreis: nonempty(query.kreis),
        q: nonempty(query.q),
        dienst: nonempty(query.dienst),
        seite: query.seite.unwrap_or(1),
        dienste_seite: query.dseite.unwrap_or(1),
    };
    let checked = Checked::new(asked).map_err(AppError::from).and_then(|q| {
        q.check_keys().map_err(|(f, m)| AppError::field(f, m))?;
        Ok(q)
    });
    let asked = match checked {
        Ok(q) => q.into_inner(),
        Err(e) => return Ok(session.refused_by(&e, "Filter ungültig", "/rollout")),
    };
    let cache = state.rollout.clone();
    let snapshot = state.db.read(move |conn| cache.get(conn)).await?;
    let today = crate::store::today();
    // The content depends on the snapshot, the day and the query only: kept per query
    // until the roll-out changes (the page around it is the user's).
    let key = format!("{asked:?}");
    let body = state.rollout.page(&snapshot, today, &key, || {
        let o = overview::build(&snapshot, &asked, today);
        let mut ctx = json!({});
        ctx["charts"] = charts::all(&o);
        ctx["o"] = json!(o);
        ctx["states"] = json!(Cell::ALL
            .into_iter()
            .filter(|c| *c != Cell::Nothing)
            .map(|c| json!({ "state": c.as_str(), "label": c.label() }))
            .collect::<Vec<_>>());
        ctx["filter"] = json!({
            "land": asked.land, "rb": asked.rb, "kreis": asked.kreis,
            "q": asked.q, "dienst": asked.dienst,
        });
        ctx["query"] = json!(asked.with(&[]));
        ctx["rows_query"] = json!(asked.with(&[("dseite", &o.services_page.to_string())]));
        ctx["services_query"] = json!(asked.with(&[("seite", &o.rows_page.to_string())]));
        ctx["csv_query"] = json!(format!(
            "rb={}&kreis={}",
            crate::web::fields::urlencode(asked.rb.as_deref().unwrap_or("")),
            crate::web::fields::urlencode(asked.kreis.as_deref().unwrap_or(""))
        ));
        crate::web::render_html("rollout_body.html", ctx)
    })?;
    let mut ctx = page_context(&session, "Roll-out")?;
    ctx["body"] = json!(body.as_str());
    Ok(crate::web::render("rollout.html", ctx))
}

#[derive(Responder)]
pub(crate) enum CsvOrPage {
    Csv(Vec<u8>, ContentType, Header<'static>),
    /// A CSV kept in memory (the roll-out's), written without a copy; `Vary`, since the
    /// same address answers gzipped to clients that take it.
    Cached(CachedText, Header<'static>, Header<'static>),
    /// The same, gzipped.
    Gzipped(CachedGzip, Header<'static>, Header<'static>),
    Page(Page),
}

fn csv_type() -> ContentType {
    ContentType::new("text", "csv").with_params(("charset", "utf-8"))
}

fn vary() -> Header<'static> {
    Header::new("Vary", "Accept-Encoding")
}

fn attachment(name: &str) -> Header<'static> {
    Header::new(
        "Content-Disposition",
        format!("attachment; filename=\"{name}\""),
    )
}

impl CsvOrPage {
    /// A CSV download named `name`.
    pub(crate) fn file(bytes: Vec<u8>, name: &str) -> CsvOrPage {
        CsvOrPage::Csv(bytes, csv_type(), attachment(name))
    }

    /// A cached CSV download named `name`.
    fn cached(text: std::sync::Arc<String>, name: &str) -> CsvOrPage {
        CsvOrPage::Cached(CachedText(text, csv_type()), attachment(name), vary())
    }

    /// A cached, gzipped CSV download named `name`.
    fn gzipped(bytes: std::sync::Arc<Vec<u8>>, name: &str) -> CsvOrPage {
        CsvOrPage::Gzipped(CachedGzip(bytes, csv_type()), attachment(name), vary())
    }
}

#[get("/rollout.csv?<rb>&<kreis>")]
async fn matrix_csv(
    state: &State<AppState>,
    session: Option<Session>,
    rb: Option<&str>,
    kreis: Option<&str>,
    gzip: AcceptsGzip,
) -> AppResult<CsvOrPage> {
    let Some(session) = session else {
        return Ok(CsvOrPage::Page(Page::to("/anmelden")));
    };
    session.staff()?;
    let filter = rollout_filter(rb, kreis)?.into_inner();
    let filter = snapshot::CsvFilter {
        regierungsbezirk: filter.regierungsbezirk,
        kreis: filter.kreis_ags,
    };
    let cache = state.rollout.clone();
    if gzip.0 {
        let bytes = state
            .db
            .read(move |conn| cache.csv_gzip(conn, &filter))
            .await?;
        return Ok(CsvOrPage::gzipped(bytes, "rollout.csv"));
    }
    let bytes = state.db.read(move |conn| cache.csv(conn, &filter)).await?;
    Ok(CsvOrPage::cached(bytes, "rollout.csv"))
}

/// The state of each service for one municipality (its row of the roll-out, from the
/// snapshot), for the municipality pages: (service id, name, state, label) of the services
/// it has anything with.
pub fn municipality_row(snapshot: &snapshot::Snapshot, municipality_id: &str) -> Vec<Value> {
    snapshot
        .row_of(municipality_id)
        .into_iter()
        .map(
            |(s, c)| json!({ "id": s.id, "name": s.name, "state": c.as_str(), "label": c.label() }),
        )
        .collect()
}

/// A service's column of the roll-out (counts by state, from the snapshot), for the
/// service page.
pub fn service_counts(snapshot: &snapshot::Snapshot, service_id: &str) -> Vec<Value> {
    let ids = std::collections::HashSet::from([service_id.to_string()]);
    snapshot
        .service_totals(&ids)
        .first()
        .map(|s| {
            Cell::ALL
                .into_iter()
                .map(|c| json!({ "state": c.as_str(), "label": if c == Cell::Nothing { "ohne Einzelabruf" } else { c.label() }, "n": s.counts.get(c) }))
                .collect()
        })
        .unwrap_or_default()
}
