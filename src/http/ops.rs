//! What a load balancer and an operator ask an instance: `GET /health/live` (the process
//! answers), `GET /health/ready` (it can serve: database reachable, migrations current,
//! seal loaded, mail transport configured) and `GET /metrics` (Prometheus text format,
//! to the configured `metrics_token` or from this machine without a proxy in between).

use rocket::http::{ContentType, Status};
use rocket::request::{FromRequest, Outcome};
use rocket::serde::json::Json;
use rocket::{get, routes, Request, State};
use serde_json::{json, Value};

use crate::http::state::{token_hash, AppState};
use crate::metrics::METRICS;

pub fn routes() -> Vec<rocket::Route> {
    routes![live, ready, metrics]
}

/// `GET /health/live`: the process answers (nothing else is asked).
#[get("/health/live")]
fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /health/ready`: 200 when every check passes, else 503; each check with its
/// finding, so the operator sees which one failed.
#[get("/health/ready")]
async fn ready(state: &State<AppState>) -> (Status, Json<Value>) {
    let db = state.db.clone();
    let database = db
        .read(|conn| {
            use diesel::connection::SimpleConnection;
            conn.batch_execute("SELECT 1")?;
            Ok(())
        })
        .await;
    let migrations = match &database {
        Ok(()) => state.db.clone().pending_migrations().await,
        Err(_) => Err(crate::error::AppError::unavailable("database unreachable")),
    };
    let checks = json!({
        "database": match &database {
            Ok(()) => json!({ "ok": true, "backend": format!("{:?}", state.db.backend()).to_lowercase() }),
            Err(e) => json!({ "ok": false, "error": e.message }),
        },
        "migrations": match &migrations {
            Ok(0) => json!({ "ok": true }),
            Ok(n) => json!({ "ok": false, "error": format!("{n} migrations not applied") }),
            Err(e) => json!({ "ok": false, "error": e.message }),
        },
        "seal": { "ok": true, "subject": state.sealer.subject() },
        "mail": { "ok": true, "transport": state.mail_transport },
    });
    let ok = database.is_ok() && matches!(migrations, Ok(0));
    let status = if ok {
        Status::Ok
    } else {
        Status::ServiceUnavailable
    };
    (
        status,
        Json(json!({ "status": if ok { "ready" } else { "not ready" }, "checks": checks })),
    )
}

/// Who may read `/metrics`: the bearer of `metrics_token`, or a client on this machine
/// that came without a proxy (no forwarding header: behind a proxy on the same machine
/// every request would look local).
pub struct MetricsReader;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for MetricsReader {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let Some(state) = req.rocket().state::<AppState>() else {
            return Outcome::Error((Status::InternalServerError, ()));
        };
        let bearer = req
            .headers()
            .get_one("Authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim);
        if let (Some(expected), Some(given)) = (state.metrics_token_hash, bearer) {
            // Fixed-length digests: the comparison does not depend on the token.
            if token_hash(given) == expected {
                return Outcome::Success(MetricsReader);
            }
            return Outcome::Error((Status::Unauthorized, ()));
        }
        let forwarded = ["X-Forwarded-For", "X-Real-IP", "Forwarded"]
            .iter()
            .any(|h| req.headers().contains(*h));
        let local = req.remote().is_some_and(|a| a.ip().is_loopback());
        if local && !forwarded {
            Outcome::Success(MetricsReader)
        } else {
            Outcome::Error((Status::Forbidden, ()))
        }
    }
}

/// `GET /metrics`: the counters kept as things happen, and the pool, outbox and documents
/// as they are now.
#[get("/metrics")]
async fn metrics(
    _reader: MetricsReader,
    state: &State<AppState>,
) -> Result<(ContentType, String), Status> {
    let pool = state.db.pool_state();
    METRICS
        .db_pool
        .with_label_values(&["open"])
        .set(i64::from(pool.connections));
    METRICS
        .db_pool
        .with_label_values(&["idle"])
        .set(i64::from(pool.idle));
    METRICS
        .db_pool
        .with_label_values(&["waiting"])
        .set(pool.waiting);
    let health = state
        .db
        .read(|conn| {
            Ok((
                crate::store::outbox::health(conn)?,
                crate::store::document::Document::count(conn)?,
            ))
        })
        .await;
    if let Ok((outbox, documents)) = health {
        METRICS
            .outbox
            .with_label_values(&["waiting"])
            .set(outbox.waiting);
        METRICS
            .outbox
            .with_label_values(&["failed"])
            .set(outbox.failed);
        METRICS.outbox_oldest_age.set(outbox.oldest_age_seconds);
        METRICS.documents.set(documents);
    }
    Ok((
        ContentType::new("text", "plain").with_params([("version", "0.0.4"), ("charset", "utf-8")]),
        METRICS.encode(),
    ))
}
