//! The one place where an `AppError` becomes a response: JSON on `/api`, the German error
//! page everywhere else. The page itself belongs to `web/`, which registers it as
//! `ErrorPages` (managed state), so this floor does not import the pages.

use std::io::Cursor;
use std::sync::Arc;

use rocket::http::{ContentType, Status};
use rocket::request::Request;
use rocket::response::content::RawHtml;
use rocket::response::{self, Responder, Response};

use crate::error::AppError;

/// Renders the German error page for a status and the message users may read (none: the
/// status's own text).
pub type ErrorPage = fn(&Request<'_>, Status, Option<&str>) -> (Status, RawHtml<String>);

/// How a web page answers an error (`web::error_html`), registered by `app::build`.
pub struct ErrorPages(pub ErrorPage);

/// The HTTP status of an error.
pub fn status(err: &AppError) -> Status {
    Status::from_code(err.http_status()).unwrap_or(Status::InternalServerError)
}

impl<'r> Responder<'r, 'static> for AppError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let status = status(&self);
        if let Some(cause) = &self.cause {
            if status.code >= 500 {
                log::error!("{} ({status}): {cause}", self.code());
            } else {
                log::info!("{} ({status}): {cause}", self.code());
            }
        }
        if !req.uri().path().starts_with("/api") {
            return match req.rocket().state::<ErrorPages>() {
                Some(pages) => (pages.0)(req, status, self.user_message()).respond_to(req),
                None => (status, RawHtml(format!("<!DOCTYPE html><html lang=\"de\"><title>Fehler {}</title><h1>Fehler {}</h1></html>", status.code, status.code))).respond_to(req),
            };
        }
        let body = self.body().to_string();
        Response::build()
            .status(status)
            .header(ContentType::JSON)
            .sized_body(body.len(), Cursor::new(body))
            .ok()
    }
}

/// A cached text as a response: no copy, written in one piece (Rocket's default would
/// write it in 4 KiB chunks).
pub struct CachedText(pub Arc<String>, pub ContentType);

/// Gzipped bytes kept in memory (the roll-out's CSV), sent as they are with
/// `Content-Encoding: gzip` to a client that takes it ([`AcceptsGzip`]), like
/// [`CachedText`].
pub struct CachedGzip(pub Arc<Vec<u8>>, pub ContentType);

/// Kept bytes as a body, without a copy.
struct Shared<T>(Arc<T>);

impl<T: AsRef<[u8]>> AsRef<[u8]> for Shared<T> {
    fn as_ref(&self) -> &[u8] {
        (*self.0).as_ref()
    }
}

/// A response of kept bytes, written in one piece.
fn shared<T: AsRef<[u8]> + Send + Sync + 'static>(
    bytes: Arc<T>,
    content_type: ContentType,
) -> rocket::response::Builder<'static> {
    let len = (*bytes).as_ref().len();
    let mut response = rocket::Response::build();
    response
        .header(content_type)
        .sized_body(len, std::io::Cursor::new(Shared(bytes)))
        .max_chunk_size(len.max(4096));
    response
}

impl<'r> Responder<'r, 'static> for CachedText {
    fn respond_to(self, _req: &'r rocket::Request<'_>) -> rocket::response::Result<'static> {
        shared(self.0, self.1).ok()
    }
}

impl<'r> Responder<'r, 'static> for CachedGzip {
    fn respond_to(self, _req: &'r rocket::Request<'_>) -> rocket::response::Result<'static> {
        shared(self.0, self.1)
            .raw_header("Content-Encoding", "gzip")
            .ok()
    }
}

/// Whether the client takes gzip: `Accept-Encoding` names `gzip` with a weight above
/// zero, or does not name it and allows `*` (RFC 9110, 12.5.3). Browsers always do.
pub struct AcceptsGzip(pub bool);

impl AcceptsGzip {
    pub fn of(header: &str) -> bool {
        // Each coding with its weight (1 without `q=`).
        let weights: Vec<(&str, f32)> = header
            .split(',')
            .map(|item| {
                let mut parts = item.split(';').map(str::trim);
                let coding = parts.next().unwrap_or("");
                let q = parts
                    .find_map(|p| {
                        let (k, v) = p.split_once('=')?;
                        k.trim()
                            .eq_ignore_ascii_case("q")
                            .then(|| v.trim().parse::<f32>().ok())?
                    })
                    .unwrap_or(1.0);
                (coding, q)
            })
            .collect();
        let weight = |name: &str| {
            weights
                .iter()
                .find(|(c, _)| c.eq_ignore_ascii_case(name))
                .map(|(_, q)| *q)
        };
        weight("gzip")
            .or_else(|| weight("*"))
            .is_some_and(|q| q > 0.0)
    }
}

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for AcceptsGzip {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> rocket::request::Outcome<Self, Self::Error> {
        rocket::request::Outcome::Success(AcceptsGzip(
            req.headers().get("Accept-Encoding").any(AcceptsGzip::of),
        ))
    }
}

/// A sealed PDF as stored: that of the version in force (the current one), or of
/// `?version=n` (e.g. a signed amendment that does not apply yet).
pub struct SealedPdf {
    pub bytes: Vec<u8>,
    pub file_name: String,
}

impl<'r> rocket::response::Responder<'r, 'static> for SealedPdf {
    fn respond_to(self, _req: &'r rocket::Request<'_>) -> rocket::response::Result<'static> {
        rocket::Response::build()
            .header(ContentType::PDF)
            .raw_header(
                "Content-Disposition",
                format!("attachment; filename=\"{}\"", self.file_name),
            )
            .raw_header("Cache-Control", "private, no-store")
            .sized_body(self.bytes.len(), std::io::Cursor::new(self.bytes))
            .ok()
    }
}

#[cfg(test)]
mod gzip_tests {
    use super::AcceptsGzip;

    #[test]
    fn gzip_is_taken_when_named_without_q_zero() {
        assert!(AcceptsGzip::of("gzip, deflate, br"));
        assert!(AcceptsGzip::of("br;q=1.0, GZIP;q=0.5"));
        assert!(AcceptsGzip::of("*"));
        assert!(!AcceptsGzip::of("gzip;q=0"));
        assert!(!AcceptsGzip::of("gzip;Q=0.0"));
        assert!(
            !AcceptsGzip::of("gzip;q=0, *"),
            "gzip's own weight wins over *"
        );
        assert!(!AcceptsGzip::of("*;q=0"));
        assert!(!AcceptsGzip::of("deflate, br"));
        assert!(!AcceptsGzip::of("identity"));
        assert!(!AcceptsGzip::of(""));
    }
}
