//! Every request, as an operator sees it: a request id (taken from a proxy's
//! `X-Request-Id` if it is a plain token, else made here) that goes back in the answer's
//! `X-Request-Id`; its duration into `nnr_http_request_duration_seconds` by route template;
//! and one log line with method, route template, status, duration, user and request id
//! (never a password, token or cookie: none of them is a field of the line).

use std::sync::OnceLock;
use std::time::Instant;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::{Data, Request, Response};

use crate::metrics::METRICS;

/// When the request arrived and its id.
struct Started {
    at: Instant,
    id: String,
}

/// Who made the request, once a guard has found out (`identify`).
#[derive(Default)]
struct Who(OnceLock<String>);

/// Notes the user behind this request for its log line (called by the session and API
/// guards once they know the user).
pub fn identify(req: &Request<'_>, user_id: &str) {
    let _ = req.local_cache(Who::default).0.set(user_id.to_string());
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A proxy's request id, if it is a plain token of at most 64 letters, digits, `-` or
/// `_` (anything else could forge log lines or headers).
fn accepted_id(value: &str) -> Option<String> {
    (!value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then(|| value.to_string())
}

/// The fairing that times, counts and logs every request.
pub struct Telemetry;

#[rocket::async_trait]
impl Fairing for Telemetry {
    fn info(&self) -> Info {
        Info {
            name: "Request id, metrics and log line",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        let id = req
            .headers()
            .get_one("X-Request-Id")
            .and_then(accepted_id)
            .unwrap_or_else(new_id);
        req.local_cache(|| Started {
            at: Instant::now(),
            id,
        });
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let started = req.local_cache(|| Started {
            at: Instant::now(),
            id: new_id(),
        });
        let elapsed = started.at.elapsed();
        let route = req
            .route()
            .map(|r| r.uri.path().to_string())
            .unwrap_or_else(|| "(none)".to_string());
        let status = res.status().code;
        METRICS
            .requests
            .with_label_values(&[req.method().as_str(), &route, &status.to_string()])
            .observe(elapsed.as_secs_f64());
        res.set_header(Header::new("X-Request-Id", started.id.clone()));
        let user = req.local_cache(Who::default).0.get().map(String::as_str);
        tracing::info!(
            target: "nachnutzung::request",
            method = req.method().as_str(),
            route = route.as_str(),
            status,
            duration_ms = (elapsed.as_secs_f64() * 1000.0 * 10.0).round() / 10.0,
            user = user.unwrap_or("-"),
            request_id = started.id.as_str(),
            "request"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::accepted_id;

    #[test]
    fn a_proxys_request_id_is_taken_only_as_a_plain_token() {
        assert_eq!(accepted_id("abc-123_X").as_deref(), Some("abc-123_X"));
        assert_eq!(accepted_id(""), None);
        assert_eq!(accepted_id(&"a".repeat(65)), None);
        assert_eq!(accepted_id("a b"), None);
        assert_eq!(accepted_id("a\"}\n{\"user\":\"x"), None);
        assert_eq!(accepted_id("ä"), None);
    }
}
