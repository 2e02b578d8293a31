//! HTTP rules that hold for every route, whatever area mounts it: which methods a path
//! allows (for 405 with `Allow`), and the gate that refuses a query parameter given twice
//! on the API.

use std::collections::BTreeSet;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::uri::Origin;
use rocket::http::{Header, Method};
use rocket::{Data, Request};

use crate::error::AppError;

pub mod ops;
pub mod params;
pub mod respond;
pub mod state;
pub mod telemetry;

pub use respond::ErrorPages;

/// Where the gate sends a request it refused: no route is mounted here, so the catcher
/// answers with the refusal the gate left in the request's cache.
const REFUSED: &str = "/api/v1/__refused";

/// Whether a mounted route's path template (`/api/v1/agreements/<id>`) matches `path`.
fn template_matches(template: &str, path: &str) -> bool {
    let mut want = template.trim_end_matches('/').split('/');
    let mut have = path.trim_end_matches('/').split('/');
    loop {
        match (want.next(), have.next()) {
            (None, None) => return true,
            (Some(w), _) if w.starts_with('<') && w.ends_with("..>") => return true,
            (Some(w), Some(h)) if w.starts_with('<') && w.ends_with('>') => {
                if h.is_empty() {
                    return false;
                }
            }
            (Some(w), Some(h)) => {
                // A segment with a dynamic suffix, like `<secret>.ics`, or a literal one.
                match w.split_once('<') {
                    Some((prefix, rest)) => {
                        let suffix = rest.split_once('>').map_or("", |(_, s)| s);
                        if !(h.starts_with(prefix)
                            && h.ends_with(suffix)
                            && h.len() > prefix.len() + suffix.len())
                        {
                            return false;
                        }
                    }
                    None if w == h => {}
                    None => return false,
                }
            }
            _ => return false,
        }
    }
}

/// The methods other routes allow on this request's path, when none allows the
/// request's own method: then the answer is 405 with `Allow`, not 404.
pub fn allowed_methods(req: &Request<'_>) -> Option<Header<'static>> {
    let path = req.uri().path().as_str();
    let mut methods = BTreeSet::new();
    for route in req.rocket().routes() {
        if template_matches(route.uri.path(), path) {
            if route.method == req.method()
                || (req.method() == Method::Head && route.method == Method::Get)
            {
                return None;
            }
            methods.insert(route.method.as_str());
            if route.method == Method::Get {
                methods.insert("HEAD");
            }
        }
    }
    (!methods.is_empty())
        .then(|| Header::new("Allow", methods.into_iter().collect::<Vec<_>>().join(", ")))
}

/// An answer with `Allow` when the method is the problem (405).
pub struct WithAllow<R> {
    pub inner: R,
    pub allow: Option<Header<'static>>,
}

impl<'r, R: rocket::response::Responder<'r, 'static>> rocket::response::Responder<'r, 'static>
    for WithAllow<R>
{
    fn respond_to(self, req: &'r Request<'_>) -> rocket::response::Result<'static> {
        let mut res = self.inner.respond_to(req)?;
        if let Some(allow) = self.allow {
            res.set_header(allow);
        }
        Ok(res)
    }
}

/// Refuses an API request that names a query parameter twice (`?page=1&page=2`): every
/// parameter of the API is a single value, and silently taking one of two would answer a
/// question that was not asked. The refusal is a 422 naming the parameter.
pub struct QueryGate;

#[rocket::async_trait]
impl Fairing for QueryGate {
    fn info(&self) -> Info {
        Info {
            name: "API query gate",
            kind: Kind::Request,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        if !req.uri().path().starts_with("/api/") {
            return;
        }
        let Some(query) = req.uri().query() else {
            return;
        };
        let mut seen = BTreeSet::new();
        let mut twice = None;
        for (name, _) in query.segments() {
            if !seen.insert(name.to_string()) {
                twice = Some(
                    name.chars()
                        .filter(|c| !c.is_control())
                        .take(50)
                        .collect::<String>(),
                );
                break;
            }
        }
        if let Some(name) = twice {
            let err = AppError::field(
                &name,
                format!("Der Parameter „{name}“ ist mehrfach angegeben; jeder Parameter darf nur einmal vorkommen."),
            );
            req.local_cache(|| Some(err));
            if let Ok(uri) = Origin::parse(REFUSED) {
                req.set_uri(uri);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::template_matches;

    #[test]
    fn templates_match_paths() {
        assert!(template_matches(
            "/api/v1/agreements/<id>",
            "/api/v1/agreements/x"
        ));
        assert!(!template_matches(
            "/api/v1/agreements/<id>",
            "/api/v1/agreements"
        ));
        assert!(!template_matches(
            "/api/v1/agreements/<id>",
            "/api/v1/agreements/x/text"
        ));
        assert!(template_matches("/static/<path..>", "/static/a/b.css"));
        assert!(template_matches(
            "/kalender/<secret>.ics",
            "/kalender/abc.ics"
        ));
        assert!(!template_matches(
            "/kalender/<secret>.ics",
            "/kalender/abc.txt"
        ));
        assert!(template_matches("/", "/"));
    }
}
