//! The web application: server-rendered German pages (Tera, autoescaped, compiled into
//! the binary) that work without JavaScript. One folder per URL area:
//!
//! - `start` (`/`: each group's start page), `sitzung` (login, password, logout);
//! - everyone: the public catalogue (`katalog`), checking a document (`pruefen`), and
//!   Impressum, Datenschutz and Barrierefreiheit with its feedback form (`hinweise`);
//! - municipality users: "Meine Kommune" with the RV and the guided Einzelabruf
//!   (`kommune`);
//! - agreements (`vereinbarungen`), go-live tasks and the calendar (`aufgaben`);
//! - d-NRW staff: municipalities (`kommunen`), services (`dienste`), partners
//!   (`partner`), the roll-out (`rollout`), users (`benutzer`), the outbox (`post`).
//!
//! What the areas share is in `kit` (the session guard and CSRF, page rendering, form
//! errors, filters, error pages) and `fields` (form fields several areas use); this file
//! lists the areas and their routes.
//!
//! Agreement pages, downloads and attachments are shared; every read goes through the
//! model layer's tenant scope (`store::Scope`), so another tenant's id is a 404.
//!
//! - The session is a private (encrypted and authenticated) cookie `nnr_sitzung`: HttpOnly,
//!   SameSite=Strict, Secure outside debug builds. It holds the user id, the session's
//!   CSRF token, when it began, and the account's `lock_version` at login; it is valid
//!   for 8 hours and ends when the account changes (password, reset, disabled).
//! - Every state-changing form carries that CSRF token; the login form carries the token
//!   of a private pre-login cookie. A missing or wrong token is a 403. (`/pruefen` changes
//!   nothing and has none.)

mod aufgaben;
mod benutzer;
mod dienste;
mod fields;
mod hinweise;
mod katalog;
mod kit;
mod kommune;
mod kommunen;
mod partner;
mod post;
mod pruefen;
mod rollout;
mod sitzung;
mod start;
pub(crate) mod vereinbarungen;

use rocket::Route;

pub(crate) use kit::errors::*;
pub(crate) use kit::forms::*;
pub(crate) use kit::page::*;
pub(crate) use kit::session::*;

pub fn routes() -> Vec<Route> {
    let mut r = start::routes();
    r.extend(sitzung::routes());
    r.extend(katalog::routes());
    r.extend(kommune::routes());
    r.extend(vereinbarungen::routes());
    r.extend(kommunen::routes());
    r.extend(dienste::routes());
    r.extend(partner::routes());
    r.extend(aufgaben::routes());
    r.extend(rollout::routes());
    r.extend(benutzer::routes());
    r.extend(post::routes());
    r.extend(pruefen::routes());
    r.extend(hinweise::routes());
    r
}
