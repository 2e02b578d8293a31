//! The web pages: every page × every role from one table (with a check that the table
//! covers every mounted page), CSRF on every form, and the municipality's way from the
//! Rahmenvereinbarung through the guided Einzelabruf (parameters, coat of arms, DVDV
//! certificate) to the sealed PDF both sides download, with the uploads checked.
//! Through Rocket's client on both backends; the same story runs in a real browser in
//! tests/it/browser.rs.

mod access;
mod accounts;
mod agreements;
mod municipality;
mod public;
mod queries;
mod reuse;
mod signing;
mod staff;
mod todo;
mod verify;

use crate::common::*;
use serde_json::json;

const ROLES: [&str; 6] = [
    "anonymous",
    "admin",
    "clerk",
    "kommune A",
    "kommune B",
    "kommunalvertreter",
];

/// (method, path, form fields, expected status per role)
type Row<'a> = (&'a str, String, &'a [(&'a str, &'a str)], [u16; 6]);

/// (who posts, where, which fields)
type FormPost<'a> = (&'a WebUser, String, Vec<(&'a str, &'a str)>);

/// A coat of arms as drawing programs and attackers make them: the drawing, plus a script
/// hidden in `<metadata>` and an event handler, which the stored copy must not carry.
const WAPPEN_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 12" onload="alert(1)"><metadata><script>alert(document.domain)</script></metadata><title>Wappen</title><path d="M0 0h10v8l-5 4-5-4z" fill="#c00"/></svg>"##;

/// A user created through the API who has set their own password (pages otherwise send
/// them to the password change first).
fn web_user(app: &TestApp, body: serde_json::Value) -> WebUser {
    app.signed_in(body)
}

struct Fixture {
    users: [Option<WebUser>; 6],
    dataport: String,
    koeln: String,
    wohngeld: String,
    rv_a: String,
    rv_b: String,
    ioev: String,
}

/// Wohngeld supplied by Dataport (IÖV, EKV in force); Köln (A) with its RV in force,
/// Essen (B) with a draft RV; one user per role.
fn fixture(app: &TestApp) -> Fixture {
    let (ioev, _, wohngeld) = wohngeld_supply(app);
    let koeln = app.municipality("05315000");
    let essen = app.municipality("05113000");
    let rv_a = app.in_force(json!({ "kind": "rv", "municipality_id": koeln }));
    let rv_b = app.create(json!({ "kind": "rv", "municipality_id": essen }));
    let dataport = app.organisation("intermediaries", "Dataport AöR");
    let users = [
        None,
        Some(web_user(
            app,
            json!({ "email": "admin@d-nrw.de", "name": "Ada Admin", "role": "admin" }),
        )),
        Some(web_user(
            app,
            json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk", "may_sign": true }),
        )),
        Some(web_user(
            app,
            json!({ "email": "erika@stadt-koeln.de", "name": "Erika Köln", "role": "municipality", "municipality_id": koeln, "may_sign": true }),
        )),
        Some(web_user(
            app,
            json!({ "email": "bernd@essen.de", "name": "Bernd Essen", "role": "municipality", "municipality_id": essen, "may_sign": true }),
        )),
        Some(web_user(
            app,
            json!({ "email": "ina@dataport.de", "name": "Ina Dataport", "role": "intermediary", "organisation_id": dataport }),
        )),
    ];
    Fixture {
        users,
        dataport: app.organisation("intermediaries", "Dataport AöR"),
        koeln,
        wohngeld,
        rv_a: rv_a["id"].as_str().unwrap().to_string(),
        rv_b: rv_b["id"].as_str().unwrap().to_string(),
        ioev: ioev["id"].as_str().unwrap().to_string(),
    }
}

/// The id after `prefix` in a redirect target or page.
fn id_after(text: &str, prefix: &str) -> String {
    let at = text
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix} in {text}"))
        + prefix.len();
    text[at..at + 36].to_string()
}

/// Submits a municipality's own draft (RV or EA) on its page, after reading it there.
fn submit_own(app: &TestApp, user: &WebUser, id: &str) {
    let page = app.web_get(Some(user), &format!("/vereinbarungen/{id}"));
    assert!(
        page.text().contains("Prüfen und verbindlich beantragen")
            && page.text().contains("§ 1 Gegenstand"),
        "the draft's text and the step to submit it: {}",
        page.text()
    );
    let submitted = app.web_post(
        Some(user),
        &format!("/vereinbarungen/{id}/antrag"),
        &[("action", "submit")],
    );
    assert_eq!(
        submitted.status,
        rocket::http::Status::SeeOther,
        "{}",
        submitted.text()
    );
}

/// The fields of Köln's Wohngeld form: the service's parameters, then `files` (the
/// uploads, or the ids of files kept from a refused try), then the contact person unless
/// `contact` is false.
fn wohngeld_form<'a>(
    wohngeld: &'a str,
    files: [(&'a str, Part<'a>); 2],
    contact: bool,
) -> Vec<(&'a str, Part<'a>)> {
    let mut parts = vec![
        ("dienst", Part::Text(wohngeld)),
        (
            "p[zustaendige_stelle_url]",
            Part::Text("https://www.stadt-koeln.de/wohngeld"),
        ),
        ("p[kontakt_email]", Part::Text("wohngeld@stadt-koeln.de")),
    ];
    parts.extend(files);
    if contact {
        parts.extend([
            ("kontakt_name", Part::Text("Erika Mustermann")),
            (
                "kontakt_email",
                Part::Text("erika.mustermann@stadt-koeln.de"),
            ),
            ("kontakt_telefon", Part::Text("0221 221-0")),
        ]);
    }
    parts
}

/// The coat of arms and certificate Köln uploads with its Einzelabruf.
fn wohngeld_files(cert: &str) -> [(&'static str, Part<'_>); 2] {
    [
        (
            "wappen",
            Part::File("Wappen Köln.svg", WAPPEN_SVG.as_bytes()),
        ),
        ("zertifikat", Part::File("dvdv.pem", cert.as_bytes())),
    ]
}

/// Files Köln's Einzelabruf for Wohngeld through the form (a draft on its page).
fn file_wohngeld(app: &TestApp, user: &WebUser, wohngeld: &str, cert: &str) -> WebPage {
    app.web_multipart(
        user,
        "/kommune/einzelabruf",
        &wohngeld_form(wohngeld, wohngeld_files(cert), true),
    )
}
