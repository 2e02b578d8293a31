//! The web pages: every page × every role from one table (with a check that the table
//! covers every mounted page), CSRF on every form, and the municipality's way from the
//! Rahmenvereinbarung through the guided Einzelabruf (parameters, coat of arms, DVDV
//! certificate) to the sealed PDF both sides download, with the uploads checked.
//! Through Rocket's client on both backends; the same story runs in a real browser in
//! tests/browser.rs.

use crate::common::*;
use rocket::http::Status;
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
            json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }),
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

/// Files Köln's Einzelabruf for Wohngeld through the form.
fn file_wohngeld(app: &TestApp, user: &WebUser, wohngeld: &str, cert: &str) -> WebPage {
    app.web_multipart(
        user,
        "/kommune/einzelabruf",
        &[
            ("dienst", Part::Text(wohngeld)),
            (
                "p[zustaendige_stelle_url]",
                Part::Text("https://www.stadt-koeln.de/wohngeld"),
            ),
            ("p[kontakt_email]", Part::Text("wohngeld@stadt-koeln.de")),
            (
                "wappen",
                Part::File("Wappen Köln.svg", WAPPEN_SVG.as_bytes()),
            ),
            ("zertifikat", Part::File("dvdv.pem", cert.as_bytes())),
            ("kontakt_name", Part::Text("Erika Mustermann")),
            (
                "kontakt_email",
                Part::Text("erika.mustermann@stadt-koeln.de"),
            ),
            ("kontakt_telefon", Part::Text("0221 221-0")),
        ],
    )
}

#[test]
fn every_page_answers_every_role_as_the_table_says() {
    let app = TestApp::new();
    let f = fixture(&app);
    let a_user = f.users[3].clone().unwrap();
    let cert = certificate("Wohngeldstelle Köln", -1, 365, &["keyEncipherment"]);
    let filed = file_wohngeld(&app, &a_user, &f.wohngeld, &cert);
    assert_eq!(filed.status, Status::SeeOther, "{}", filed.text());
    let ea_a = id_after(filed.location.as_deref().unwrap(), "/vereinbarungen/");
    let wappen = id_after(
        &app.web_get(Some(&a_user), &format!("/vereinbarungen/{ea_a}"))
            .body,
        "/anlagen/",
    );
    let (a, b, i, s, m) = (&f.rv_a, &f.rv_b, &f.ioev, &f.wohngeld, &f.koeln);
    let d = &app.organisation("intermediaries", "Dataport AöR");
    // Köln's EA in force, with its go-live tasks.
    app.sign_all(&ea_a);
    assert_eq!(app.step(&ea_a, "activate").0, Status::Ok);
    let plan = app.ok("GET", &format!("/api/v1/agreements/{ea_a}/tasks"), None);
    let task = plan["tasks"][0]["id"].as_str().unwrap().to_string();
    let complete = [("aktion", "complete"), ("lock_version", "1")];

    const PUBLIC: [u16; 6] = [200; 6];
    const LOGGED_IN: [u16; 6] = [303, 200, 200, 200, 200, 200];
    const STAFF: [u16; 6] = [303, 200, 200, 403, 403, 403];
    const STAFF_FORM: [u16; 6] = [303, 422, 422, 403, 403, 403];
    const ADMIN: [u16; 6] = [303, 200, 403, 403, 403, 403];
    const MUNICIPALITY: [u16; 6] = [303, 403, 403, 200, 200, 403];
    const OF_A: [u16; 6] = [303, 200, 200, 200, 404, 404];
    const OF_B: [u16; 6] = [303, 200, 200, 404, 200, 404];
    const OF_INTERMEDIARY: [u16; 6] = [303, 200, 200, 404, 404, 200];
    let none: &[(&str, &str)] = &[];
    let dienst = [("dienst", s.as_str())];
    let ioev_form = [("art", "ioev")];
    let lock_form = [("sperren", "true")];
    let activate = [("action", "activate")];
    let (target, _) =
        app.user(json!({ "email": "ziel@d-nrw.de", "name": "Ziel", "role": "clerk" }));
    let bogus_step = [("action", "bogus")];
    let table: Vec<Row> = vec![
        ("GET", "/".into(), none, [303, 200, 200, 303, 303, 200]),
        (
            "GET",
            "/anmelden".into(),
            none,
            [200, 303, 303, 303, 303, 303],
        ),
        // The login form's token comes from the pre-login cookie: none here, so refused.
        ("POST", "/anmelden".into(), none, [403; 6]),
        ("GET", "/passwort".into(), none, LOGGED_IN),
        (
            "POST",
            "/passwort".into(),
            none,
            [303, 422, 422, 422, 422, 422],
        ),
        ("POST", "/abmelden".into(), none, [303; 6]),
        ("GET", "/katalog".into(), none, PUBLIC),
        ("GET", format!("/katalog/{s}"), none, PUBLIC),
        ("GET", "/kommune".into(), none, MUNICIPALITY),
        // A has its RV already, B a draft one: both refused as duplicates (409).
        (
            "POST",
            "/kommune/rahmenvereinbarung".into(),
            none,
            [303, 403, 403, 409, 409, 403],
        ),
        (
            "GET",
            format!("/kommune/einzelabruf?dienst={s}"),
            none,
            MUNICIPALITY,
        ),
        // Let in, then refused for the missing contact person (422).
        (
            "POST",
            "/kommune/einzelabruf".into(),
            &dienst,
            [303, 403, 403, 422, 422, 403],
        ),
        ("GET", "/vereinbarungen".into(), none, LOGGED_IN),
        // Go-live tasks: seen within the EA's tenant; the owner (A) and staff get to the
        // evidence check (422, the form again with its messages); planning is staff's.
        ("GET", "/aufgaben".into(), none, LOGGED_IN),
        ("GET", format!("/aufgaben/{task}"), none, OF_A),
        (
            "POST",
            format!("/aufgaben/{task}/schritt"),
            &complete,
            [303, 422, 422, 422, 404, 404],
        ),
        // Without the lock_version the form is stale (409).
        (
            "POST",
            format!("/aufgaben/{task}/planung"),
            none,
            [303, 409, 409, 403, 403, 403],
        ),
        ("GET", "/rollout".into(), none, STAFF),
        ("GET", "/rollout.csv".into(), none, STAFF),
        // Exports: the VSM data of A's live services; everyone's own calendar feed.
        ("GET", format!("/kommunen/{m}/vsm.csv"), none, OF_A),
        ("GET", "/kalender".into(), none, LOGGED_IN),
        (
            "POST",
            "/kalender".into(),
            none,
            [303, 200, 200, 200, 200, 200],
        ),
        // The feed needs no session (calendar programs subscribe); a wrong secret is 404.
        (
            "GET",
            format!("/kalender/{}.ics", "0".repeat(64)),
            none,
            [404; 6],
        ),
        ("GET", format!("/vereinbarungen/{a}"), none, OF_A),
        ("GET", format!("/vereinbarungen/{b}"), none, OF_B),
        ("GET", format!("/vereinbarungen/{i}"), none, OF_INTERMEDIARY),
        (
            "GET",
            format!("/vereinbarungen/{a}/dokument.pdf"),
            none,
            OF_A,
        ),
        (
            "GET",
            format!("/vereinbarungen/{b}/entwurf.pdf"),
            none,
            OF_B,
        ),
        ("GET", format!("/anlagen/{wappen}"), none, OF_A),
        // Let in, then refused for the missing file (422); others do not see the EA.
        (
            "POST",
            format!("/vereinbarungen/{ea_a}/zertifikat"),
            none,
            [303, 422, 422, 422, 404, 404],
        ),
        // B's RV is a draft: nobody can sign it yet (409); others do not see it (404).
        (
            "POST",
            format!("/vereinbarungen/{b}/unterschreiben"),
            none,
            [303, 409, 409, 404, 409, 404],
        ),
        // Only staff activate; a draft cannot be put into force (409).
        (
            "POST",
            format!("/vereinbarungen/{b}/inkraft"),
            none,
            [303, 409, 409, 403, 403, 403],
        ),
        ("GET", "/vereinbarungen/neu?art=ioev".into(), none, STAFF),
        // Let in, then refused for the missing counterparty (422).
        ("POST", "/vereinbarungen/neu".into(), &ioev_form, STAFF_FORM),
        (
            "POST",
            format!("/vereinbarungen/{b}/schritt"),
            &bogus_step,
            STAFF_FORM,
        ),
        (
            "POST",
            format!("/vereinbarungen/{b}/unterschrift-erfassen"),
            none,
            STAFF_FORM,
        ),
        (
            "GET",
            format!("/vereinbarungen/neu-ea?dienst={s}"),
            none,
            STAFF,
        ),
        ("POST", "/vereinbarungen/neu-ea".into(), &dienst, STAFF_FORM),
        ("GET", format!("/vereinbarungen/{a}/aenderung"), none, STAFF),
        (
            "POST",
            format!("/vereinbarungen/{a}/aenderung"),
            none,
            STAFF_FORM,
        ),
        // There is no version 2 yet (404 for staff).
        (
            "POST",
            format!("/vereinbarungen/{a}/aenderung/2/schritt"),
            &activate,
            [303, 404, 404, 403, 403, 403],
        ),
        ("GET", "/kommunen".into(), none, STAFF),
        (
            "GET",
            format!("/vereinbarungen/{b}/bearbeiten"),
            none,
            STAFF,
        ),
        // A form without lock_version is stale: shown again with the message (422).
        (
            "POST",
            format!("/vereinbarungen/{b}/bearbeiten"),
            none,
            STAFF_FORM,
        ),
        // A form without lock_version is stale: shown again with the message (422).
        ("POST", format!("/kommunen/{m}"), none, STAFF_FORM),
        (
            "POST",
            format!("/kommunen/{m}/ansprechpersonen"),
            none,
            STAFF_FORM,
        ),
        ("GET", format!("/kommunen/{m}"), none, STAFF),
        ("GET", format!("/dienste/{s}"), none, STAFF),
        ("GET", "/dienste".into(), none, STAFF),
        ("GET", "/partner".into(), none, STAFF),
        ("GET", "/partner/neu".into(), none, STAFF),
        ("POST", "/partner/neu".into(), none, STAFF_FORM),
        ("GET", format!("/partner/{d}"), none, STAFF),
        ("POST", format!("/partner/{d}"), none, STAFF_FORM),
        (
            "POST",
            format!("/partner/{d}/ansprechpersonen"),
            none,
            STAFF_FORM,
        ),
        ("GET", "/dienste/neu".into(), none, STAFF),
        ("POST", "/dienste/neu".into(), none, STAFF_FORM),
        ("GET", format!("/dienste/{s}/bearbeiten"), none, STAFF),
        ("POST", format!("/dienste/{s}/bearbeiten"), none, STAFF_FORM),
        ("GET", "/benutzer".into(), none, ADMIN),
        (
            "POST",
            format!("/benutzer/{target}/sperre"),
            &lock_form,
            [303, 303, 403, 403, 403, 403],
        ),
        (
            "POST",
            format!("/benutzer/{target}/passwort"),
            none,
            [303, 200, 403, 403, 403, 403],
        ),
        (
            "POST",
            "/benutzer".into(),
            none,
            [303, 422, 403, 403, 403, 403],
        ),
    ];

    let template = |path: &str| {
        let mut t = path
            .split('?')
            .next()
            .unwrap()
            .replace("/aenderung/2/", "/aenderung/<no>/");
        for id in [a, b, i, s, m, d, &ea_a, &wappen, &target, &task] {
            t = t.replace(id.as_str(), "<id>");
        }
        t = t.replace(&format!("{}.ics", "0".repeat(64)), "<file>");
        t
    };
    let covered: std::collections::BTreeSet<String> = table
        .iter()
        .map(|(method, path, _, _)| format!("{method} {}", template(path)))
        .collect();
    let mounted: std::collections::BTreeSet<String> = app
        .client
        .rocket()
        .routes()
        .filter(|r| !r.uri.path().starts_with("/api/") && !r.uri.path().starts_with("/static"))
        .map(|r| format!("{} {}", r.method, r.uri.path()))
        .collect();
    let missing: Vec<&String> = mounted.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "pages not in the access table: {missing:?}"
    );

    let mut wrong = Vec::new();
    for (method, path, fields, expected) in &table {
        for (r, role) in ROLES.iter().enumerate() {
            let user = f.users[r].as_ref();
            let page = match *method {
                "GET" => app.web_get(user, path),
                _ => app.web_post(user, path, fields),
            };
            if page.status.code != expected[r] {
                wrong.push(format!(
                    "{method} {path} as {role}: {}, expected {}",
                    page.status.code, expected[r]
                ));
            }
            // Anonymous visitors of a page for users are sent to the login.
            if r == 0 && page.status.code == 303 && *path != "/abmelden" {
                assert_eq!(
                    page.location.as_deref(),
                    Some("/anmelden"),
                    "{method} {path}"
                );
            }
            // Refusals are German pages that name no internals.
            if page.status.code >= 400 && !path.ends_with(".pdf") {
                assert!(
                    page.body.contains("lang=\"de\""),
                    "{method} {path}: {}",
                    page.body
                );
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn every_form_refuses_a_missing_or_wrong_csrf_token_and_changes_nothing() {
    let app = TestApp::new();
    let f = fixture(&app);
    let admin = f.users[1].as_ref().unwrap();
    let koeln = f.users[3].as_ref().unwrap();
    let essen = f.users[4].as_ref().unwrap();
    let (rv_a, rv_b, k, d) = (&f.rv_a, &f.rv_b, &f.koeln, &f.dataport);
    let ea = app.in_force(json!({
        "kind": "ea", "municipality_id": k, "service_id": f.wohngeld, "avv": avv(),
        "parameters": { "zustaendige_stelle_url": "https://www.stadt-koeln.de/wohngeld", "kontakt_email": "wohngeld@stadt-koeln.de" }
    }));
    let ea = ea["id"].as_str().unwrap().to_string();
    let plan = app.ok("GET", &format!("/api/v1/agreements/{ea}/tasks"), None);
    let task = plan["tasks"][0]["id"].as_str().unwrap().to_string();
    let forms: Vec<FormPost> = vec![
        (
            koeln,
            format!("/aufgaben/{task}/schritt"),
            vec![("aktion", "start")],
        ),
        (koeln, "/kalender".into(), vec![]),
        (
            admin,
            format!("/aufgaben/{task}/planung"),
            vec![("lock_version", "1"), ("due_on", "2030-01-01")],
        ),
        (koeln, "/kommune/rahmenvereinbarung".into(), vec![]),
        (
            essen,
            format!("/vereinbarungen/{rv_b}/unterschreiben"),
            vec![],
        ),
        (admin, format!("/vereinbarungen/{rv_a}/inkraft"), vec![]),
        (
            admin,
            "/benutzer".into(),
            vec![
                ("email", "neu@d-nrw.de"),
                ("name", "Neu"),
                ("role", "clerk"),
            ],
        ),
        (admin, "/passwort".into(), vec![]),
        (
            admin,
            format!("/vereinbarungen/{rv_a}/aenderung"),
            vec![("lock_version", "1"), ("change_note", "x")],
        ),
        (
            admin,
            format!("/vereinbarungen/{rv_a}/aenderung/2/schritt"),
            vec![("action", "cancel")],
        ),
        (
            admin,
            "/vereinbarungen/neu-ea".into(),
            vec![("dienst", f.wohngeld.as_str()), ("ags", "05113000")],
        ),
        (
            admin,
            format!("/vereinbarungen/{rv_b}/bearbeiten"),
            vec![("lock_version", "1"), ("notice", "3")],
        ),
        (admin, "/abmelden".into(), vec![]),
        (
            koeln,
            "/kommune/einzelabruf".into(),
            vec![("dienst", f.wohngeld.as_str())],
        ),
        (koeln, format!("/vereinbarungen/{rv_a}/zertifikat"), vec![]),
        (
            admin,
            "/vereinbarungen/neu".into(),
            vec![("art", "rv"), ("ags", "05113000")],
        ),
        (
            admin,
            format!("/vereinbarungen/{rv_b}/schritt"),
            vec![("action", "submit")],
        ),
        (
            admin,
            format!("/vereinbarungen/{rv_b}/unterschrift-erfassen"),
            vec![],
        ),
        (
            admin,
            format!("/kommunen/{k}"),
            vec![("lock_version", "1"), ("address", "x")],
        ),
        (
            admin,
            format!("/kommunen/{k}/ansprechpersonen"),
            vec![("name", "Neu")],
        ),
        (
            admin,
            format!("/benutzer/{}/sperre", koeln.id),
            vec![("sperren", "true")],
        ),
        (admin, format!("/benutzer/{}/passwort", koeln.id), vec![]),
        (
            admin,
            "/dienste/neu".into(),
            vec![
                ("name", "Neu"),
                ("leika_keys", "99107023000000"),
                ("availability", "available"),
            ],
        ),
        (
            admin,
            format!("/dienste/{}/bearbeiten", f.wohngeld),
            vec![("name", "Umbenannt")],
        ),
        (
            admin,
            "/partner/neu".into(),
            vec![("name", "Neuer KV"), ("is_intermediary", "true")],
        ),
        (
            admin,
            format!("/partner/{d}"),
            vec![("name", "Umbenannt"), ("is_intermediary", "true")],
        ),
        (
            admin,
            format!("/partner/{d}/ansprechpersonen"),
            vec![("name", "Neu")],
        ),
    ];
    // Every form of the application is in the list (the login form has its own test).
    let template = |path: &str| {
        let mut t = path.replace("/aenderung/2/", "/aenderung/<no>/");
        for id in [rv_a, rv_b, k, d, &f.wohngeld, &koeln.id, &task] {
            t = t.replace(id.as_str(), "<id>");
        }
        t
    };
    let covered: std::collections::BTreeSet<String> =
        forms.iter().map(|(_, path, _)| template(path)).collect();
    let mounted: std::collections::BTreeSet<String> = app
        .client
        .rocket()
        .routes()
        .filter(|r| r.method == rocket::http::Method::Post && !r.uri.path().starts_with("/api/"))
        .map(|r| r.uri.path().to_string())
        .filter(|p| p != "/anmelden")
        .collect();
    let missing: Vec<&String> = mounted.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "forms without a CSRF check in this test: {missing:?}"
    );
    let before = app.get("/api/v1/audit?per_page=500").1["total"].clone();
    for (user, path, fields) in &forms {
        for token in ["", &"0".repeat(64)] {
            let mut with = fields.clone();
            with.push(("csrf", token));
            let page = app.web_post(Some(user), path, &with);
            assert_eq!(
                page.status,
                Status::Forbidden,
                "POST {path} with csrf={token:?}"
            );
            assert!(page.text().contains("Anfrage abgelehnt"), "{}", page.text());
        }
    }
    assert_eq!(
        app.get("/api/v1/audit?per_page=500").1["total"],
        before,
        "nothing written"
    );
    let (_, users) = app.get("/api/v1/users");
    assert!(!users.to_string().contains("neu@d-nrw.de"));
}

#[test]
fn a_municipality_signs_its_rv_files_an_einzelabruf_and_both_sides_download_the_sealed_pdf() {
    let app = TestApp::new();
    let (_, _, wohngeld) = wohngeld_supply(&app);
    let koeln = app.municipality("05315000");
    let erika = web_user(
        &app,
        json!({ "email": "erika@stadt-koeln.de", "name": "Erika Köln", "role": "municipality", "municipality_id": koeln, "may_sign": true }),
    );
    let carl = web_user(
        &app,
        json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }),
    );
    let essen = app.municipality("05113000");
    let bernd = web_user(
        &app,
        json!({ "email": "bernd@essen.de", "name": "Bernd Essen", "role": "municipality", "municipality_id": essen, "may_sign": true }),
    );

    // The start page leads to "Meine Kommune", which offers the RV.
    let start = app.web_get(Some(&erika), "/");
    assert_eq!(start.location.as_deref(), Some("/kommune"));
    let home = app.web_get(Some(&erika), "/kommune");
    assert!(
        home.text().contains("Meine Kommune: Stadt Köln"),
        "{}",
        home.text()
    );
    assert!(home.text().contains("noch keine Rahmenvereinbarung"));
    assert!(
        !home.body.contains("einzelabruf?dienst="),
        "no EA before the RV is in force"
    );

    // Request the RV, sign it; d-NRW countersigns and puts it into force.
    let rv = app.web_post(Some(&erika), "/kommune/rahmenvereinbarung", &[]);
    assert_eq!(rv.status, Status::SeeOther);
    let rv_id = id_after(rv.location.as_deref().unwrap(), "/vereinbarungen/");
    let page = app.web_get(Some(&erika), &format!("/vereinbarungen/{rv_id}"));
    assert!(
        page.text().contains("wartet auf Unterschriften"),
        "{}",
        page.text()
    );
    assert!(page.text().contains("Jetzt unterzeichnen"));
    let clerk_early = app.web_get(Some(&carl), &format!("/vereinbarungen/{rv_id}"));
    assert!(
        !clerk_early.text().contains("Jetzt unterzeichnen"),
        "the municipality signs first"
    );
    assert!(
        clerk_early.text().contains("Zuerst unterschreibt"),
        "{}",
        clerk_early.text()
    );
    let signed = app.web_post(
        Some(&erika),
        &format!("/vereinbarungen/{rv_id}/unterschreiben"),
        &[],
    );
    assert_eq!(signed.status, Status::SeeOther);
    let again = app.web_post(
        Some(&erika),
        &format!("/vereinbarungen/{rv_id}/unterschreiben"),
        &[],
    );
    assert_eq!(
        again.status,
        Status::Conflict,
        "once only: {}",
        again.text()
    );
    let dashboard = app.web_get(Some(&carl), "/");
    assert!(
        dashboard
            .text()
            .contains("Gegenzeichnung durch d-NRW möglich"),
        "{}",
        dashboard.text()
    );
    assert_eq!(
        app.web_post(
            Some(&carl),
            &format!("/vereinbarungen/{rv_id}/unterschreiben"),
            &[]
        )
        .status,
        Status::SeeOther
    );
    assert_eq!(
        app.web_post(
            Some(&carl),
            &format!("/vereinbarungen/{rv_id}/inkraft"),
            &[("ab", "")]
        )
        .status,
        Status::SeeOther
    );
    let home = app.web_get(Some(&erika), "/kommune");
    assert!(home.text().contains("in Kraft"), "{}", home.text());
    assert!(home
        .body
        .contains(&format!("einzelabruf?dienst={wohngeld}")));

    // The guided form shows the service's parameters; bad uploads are refused with
    // their reasons at the fields, and nothing is filed.
    let form = app.web_get(
        Some(&erika),
        &format!("/kommune/einzelabruf?dienst={wohngeld}"),
    );
    assert_eq!(form.status, Status::Ok);
    for label in [
        "Web-Adresse der zuständigen Stelle",
        "E-Mail-Adresse für Rückfragen",
        "Wappen der Kommune",
        "Verschlüsselungszertifikat",
        "Fachliche Ansprechperson",
    ] {
        assert!(form.text().contains(label), "{label}: {}", form.text());
    }
    // NRW's own services and those not yet available are not called through d-NRW.
    let bauportal = app.service("Bauportal");
    let own = app.web_get(
        Some(&erika),
        &format!("/kommune/einzelabruf?dienst={bauportal}"),
    );
    assert_eq!(own.status, Status::UnprocessableEntity);
    assert!(
        own.text().contains("direkt, ohne Einzelabruf"),
        "{}",
        own.text()
    );
    let elterngeld = app.service("ElterngeldDigital");
    let soon = app.web_get(
        Some(&erika),
        &format!("/kommune/einzelabruf?dienst={elterngeld}"),
    );
    assert_eq!(soon.status, Status::UnprocessableEntity);
    assert!(
        soon.text().contains("in Kürze verfügbar"),
        "{}",
        soon.text()
    );
    let signing_only = certificate("Signatur Köln", -1, 365, &["digitalSignature"]);
    let expired = certificate("Alt Köln", -400, -10, &["keyEncipherment"]);
    let future = certificate("Künftig Köln", 10, 400, &["keyEncipherment"]);
    let key_pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----\n";
    let cases: [(&[u8], &str, &str); 5] = [
        (
            signing_only.as_bytes(),
            WAPPEN_SVG,
            "erlaubt keine Verschlüsselung",
        ),
        (expired.as_bytes(), WAPPEN_SVG, "abgelaufen"),
        (future.as_bytes(), WAPPEN_SVG, "gilt erst ab"),
        (key_pem.as_bytes(), WAPPEN_SVG, "als kompromittiert"),
        (
            b"kein Zertifikat",
            r#"<!DOCTYPE svg [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg">&x;</svg>"#,
            "kein gültiges XML ohne DTD",
        ),
    ];
    for (cert, svg, message) in cases {
        let page = app.web_multipart(
            &erika,
            "/kommune/einzelabruf",
            &[
                ("dienst", Part::Text(&wohngeld)),
                ("p[zustaendige_stelle_url]", Part::Text("keine Adresse")),
                ("wappen", Part::File("wappen.svg", svg.as_bytes())),
                ("zertifikat", Part::File("dvdv.pem", cert)),
            ],
        );
        assert_eq!(page.status, Status::UnprocessableEntity);
        let text = page.text();
        assert!(text.contains(message), "{message}: {text}");
        assert!(text.contains("Bitte prüfen Sie Ihre Angaben"));
        assert!(
            text.contains("Web-Adresse"),
            "parameter errors shown at once: {text}"
        );
        assert!(text.contains("Bitte den Namen der fachlichen Ansprechperson angeben"));
        assert!(
            page.body.contains("href=\"#zertifikat\"") || page.body.contains("href=\"#wappen\"")
        );
    }
    let (_, list) = app.get(&format!(
        "/api/v1/agreements?kind=ea&municipality_id={koeln}"
    ));
    assert_eq!(list["total"], 0, "nothing filed by refused forms");

    // Filed: the EA waits for signatures, shows the parameters, the coat of arms and the
    // certificate's details.
    let cert = certificate(
        "Wohngeldstelle Köln",
        -1,
        365,
        &["keyEncipherment", "dataEncipherment"],
    );
    let filed = file_wohngeld(&app, &erika, &wohngeld, &cert);
    assert_eq!(filed.status, Status::SeeOther, "{}", filed.text());
    let ea = id_after(filed.location.as_deref().unwrap(), "/vereinbarungen/");
    let page = app.web_get(Some(&erika), filed.location.as_deref().unwrap());
    let text = page.text();
    for expected in [
        "Einzelabruf (EA) angelegt",
        "wartet auf Unterschriften",
        "https://www.stadt-koeln.de/wohngeld",
        "Erika Mustermann",
        "CN=Wohngeldstelle Köln",
        "keyEncipherment, dataEncipherment",
        "Fingerabdruck (SHA-256)",
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
    let (_, detail) = app.get(&format!("/api/v1/agreements/{ea}"));
    assert!(
        detail["terms"]["avv"]["subject"].as_str().is_some(),
        "the EKV's AVV applies"
    );
    assert!(detail["terms"]["parameters"]["wappen"]
        .as_str()
        .unwrap()
        .starts_with("anlage:"));
    let (_, text) = app.get(&format!("/api/v1/agreements/{ea}/text"));
    assert!(
        text["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Wappen der Kommune: als Datei im Register hinterlegt (Anlage "),
        "the contract names the coat of arms as a file: {text}"
    );
    let wappen = id_after(&page.body, "/anlagen/");
    let image = app.web_get(Some(&erika), &format!("/anlagen/{wappen}"));
    assert_eq!(image.status, Status::Ok);
    // Only the sanitised copy is stored and served, and the page says what was removed.
    assert!(image
        .body
        .contains(r##"<path d="M0 0h10v8l-5 4-5-4z" fill="#c00"></path>"##));
    assert!(
        !image.body.contains("script") && !image.body.contains("onload"),
        "{}",
        image.body
    );
    let shown = page.text();
    assert!(
        shown.contains("bereinigte Fassung der SVG-Datei"),
        "{shown}"
    );
    assert!(shown.contains("Attribut onload"), "{shown}");
    assert_eq!(
        app.web_get(Some(&bernd), &format!("/anlagen/{wappen}"))
            .status,
        Status::NotFound
    );
    // Another municipality's EA is "not found", on a page that still knows who is there.
    let other = app.web_get(Some(&bernd), &format!("/vereinbarungen/{ea}"));
    assert_eq!(other.status, Status::NotFound);
    assert!(
        other.text().contains("Bernd Essen") && other.text().contains("Meine Kommune"),
        "{}",
        other.text()
    );
    assert!(
        !other.text().contains("Köln"),
        "nothing of Köln: {}",
        other.text()
    );
    let duplicate = file_wohngeld(&app, &erika, &wohngeld, &cert);
    assert_eq!(duplicate.status, Status::UnprocessableEntity);
    assert!(duplicate.text().contains("bereits"), "{}", duplicate.text());

    // The certificate is renewed later (operational data, not part of the signed terms);
    // an expired one is refused, another municipality cannot see the EA.
    let renewed = certificate("Wohngeldstelle Köln 2027", -1, 730, &["keyAgreement"]);
    let page = app.web_multipart(
        &erika,
        &format!("/vereinbarungen/{ea}/zertifikat"),
        &[("zertifikat", Part::File("neu.pem", renewed.as_bytes()))],
    );
    assert_eq!(page.status, Status::SeeOther, "{}", page.text());
    let old = certificate("Alt", -400, -1, &["keyEncipherment"]);
    let page = app.web_multipart(
        &erika,
        &format!("/vereinbarungen/{ea}/zertifikat"),
        &[("zertifikat", Part::File("alt.pem", old.as_bytes()))],
    );
    assert_eq!(page.status, Status::UnprocessableEntity);
    assert!(page.text().contains("abgelaufen"), "{}", page.text());
    let page = app.web_multipart(
        &bernd,
        &format!("/vereinbarungen/{ea}/zertifikat"),
        &[("zertifikat", Part::File("neu.pem", renewed.as_bytes()))],
    );
    assert_eq!(page.status, Status::NotFound);
    let text = app
        .web_get(Some(&erika), &format!("/vereinbarungen/{ea}"))
        .text();
    assert!(
        text.contains("CN=Wohngeldstelle Köln 2027") && text.contains("keyAgreement"),
        "{text}"
    );
    assert!(
        text.find("Köln 2027").unwrap() < text.find("keyEncipherment, dataEncipherment").unwrap(),
        "newest first: {text}"
    );
    assert!(text.contains("DVDV-Zertifikat erneuern"));

    // Both sign; both download the same sealed PDF, which verifies as issued here.
    assert_eq!(
        app.web_post(
            Some(&erika),
            &format!("/vereinbarungen/{ea}/unterschreiben"),
            &[]
        )
        .status,
        Status::SeeOther
    );
    assert_eq!(
        app.web_post(
            Some(&carl),
            &format!("/vereinbarungen/{ea}/unterschreiben"),
            &[]
        )
        .status,
        Status::SeeOther
    );
    let fetch = |u: &WebUser| {
        let res = app
            .client
            .get(format!("/vereinbarungen/{ea}/dokument.pdf"))
            .private_cookie(rocket::http::Cookie::new("nnr_sitzung", u.cookie_value()))
            .dispatch();
        (res.status(), res.into_bytes().unwrap_or_default())
    };
    let (status, pdf) = fetch(&erika);
    assert_eq!(status, Status::Ok);
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(fetch(&carl), (Status::Ok, pdf.clone()));
    assert_eq!(
        fetch(&bernd).0,
        Status::NotFound,
        "another municipality gets nothing"
    );
    let (status, v) = app.verify(&pdf);
    assert_eq!(status, Status::Ok);
    assert_eq!(v["seal_valid"], true, "{v}");
    assert_eq!(v["issued_as"]["agreement_id"], ea.as_str(), "{v}");
    let page = app.web_get(Some(&erika), &format!("/vereinbarungen/{ea}"));
    assert!(
        page.text().contains("Gesiegeltes Dokument, Fassung 1"),
        "{}",
        page.text()
    );
    assert!(page.text().contains("unterzeichnet von Erika Köln"));
    assert!(page.text().contains("unterzeichnet von Carl Clerk"));
}

#[test]
fn staff_pages_filter_municipalities_and_show_a_services_einzelabrufe() {
    let app = TestApp::with_demo();
    let clerk = web_user(
        &app,
        json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }),
    );
    let all = app.web_get(Some(&clerk), "/kommunen");
    assert_eq!(all.status, Status::Ok);
    assert!(all.text().contains("Kommunen und Kreise"), "{}", all.text());
    let in_force = app.web_get(Some(&clerk), "/kommunen?rv=in_kraft");
    let text = in_force.text();
    assert!(
        text.contains("2 Kommunen und Kreise"),
        "Dortmund and Düsseldorf: {text}"
    );
    assert!(text.contains("Dortmund") && text.contains("Düsseldorf"));
    let arnsberg = app.web_get(Some(&clerk), "/kommunen?rv=in_kraft&rb=Arnsberg");
    assert!(
        arnsberg.text().contains("1 Kommunen und Kreise"),
        "{}",
        arnsberg.text()
    );
    let none = app.web_get(Some(&clerk), "/kommunen?rv=keine&q=dortmund");
    assert!(
        none.text().contains("0 Kommunen und Kreise"),
        "{}",
        none.text()
    );
    let wohngeld = app.service("Wohngeld (Online-Dienst");
    let service = app.web_get(Some(&clerk), &format!("/dienste/{wohngeld}"));
    let text = service.text();
    assert!(
        text.contains("1 Kommunen in NRW nutzen den Dienst"),
        "{text}"
    );
    assert!(
        text.contains("Dortmund") && text.contains("Düsseldorf"),
        "{text}"
    );
    let dashboard = app.web_get(Some(&clerk), "/");
    assert!(
        dashboard.text().contains("Warten auf Unterschriften (1)"),
        "{}",
        dashboard.text()
    );
}

#[test]
fn the_catalogue_is_public_and_follows_changes_of_the_services() {
    let app = TestApp::new();
    let page = app.web_get(None, "/katalog");
    assert_eq!(page.status, Status::Ok);
    let text = page.text();
    assert!(text.contains("Jetzt verfügbar"), "{text}");
    assert!(text.contains("Wohngeld (Online-Dienst Wohngeld)"));
    let wohngeld = app.service("Wohngeld (Online-Dienst");
    let detail = app.web_get(None, &format!("/katalog/{wohngeld}"));
    assert!(
        detail.text().contains("99107023000000"),
        "Leika keys: {}",
        detail.text()
    );
    assert!(detail
        .text()
        .contains("Web-Adresse der zuständigen Stelle (Pflichtangabe)"));
    // A change of the service shows at once, though the page is cached.
    let (_, s) = app.get(&format!("/api/v1/services/{wohngeld}"));
    let (status, _) = app.patch(
        &format!("/api/v1/services/{wohngeld}"),
        json!({ "name": "Wohngeld digital", "lock_version": s["lock_version"] }),
    );
    assert_eq!(status, Status::Ok);
    let text = app.web_get(None, "/katalog").text();
    assert!(text.contains("Wohngeld digital"), "{text}");
    let found = app.web_get(None, "/katalog?q=wohngeld").text();
    assert!(
        found.contains("Wohngeld digital") && !found.contains("Einbürgerung"),
        "{found}"
    );
}

#[test]
fn an_admin_adds_a_user_and_sees_the_initial_password_once() {
    let app = TestApp::new();
    let admin = web_user(
        &app,
        json!({ "email": "admin@d-nrw.de", "name": "Ada Admin", "role": "admin" }),
    );
    let bad = app.web_post(
        Some(&admin),
        "/benutzer",
        &[
            ("email", "kein"),
            ("name", ""),
            ("role", "municipality"),
            ("ags", ""),
        ],
    );
    assert_eq!(bad.status, Status::UnprocessableEntity);
    assert!(
        bad.text().contains("Bitte prüfen Sie Ihre Angaben"),
        "{}",
        bad.text()
    );
    assert!(bad.body.contains("href=\"#email\""), "{}", bad.body);
    let ok = app.web_post(
        Some(&admin),
        "/benutzer",
        &[
            ("email", "neu@stadt-koeln.de"),
            ("name", "Neue Nutzerin"),
            ("role", "municipality"),
            ("ags", "05315000"),
            ("may_sign", "true"),
        ],
    );
    assert_eq!(ok.status, Status::Ok, "{}", ok.text());
    assert!(ok.text().contains("Benutzer angelegt"));
    let at = ok.body.find("class=\"passwort\">").unwrap() + 17;
    let password = &ok.body[at..at + 20];
    assert!(
        password.chars().all(|c| c.is_ascii_alphanumeric()),
        "{password}"
    );
    let list = app.web_get(Some(&admin), "/benutzer");
    assert!(list.text().contains("neu@stadt-koeln.de"));
    assert!(!list.body.contains(password), "shown once");
}

#[test]
fn staff_draft_an_ekv_with_its_avv_submit_it_record_the_partners_signature_and_terminate() {
    let app = TestApp::new();
    let clerk = web_user(
        &app,
        json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }),
    );
    let dataport = app.organisation("intermediaries", "Dataport AöR");
    let wohngeld = app.service("Wohngeld (Online-Dienst");

    // An EKV needs an IÖV in force: the refusal says so at the form.
    let form = app.web_get(Some(&clerk), "/vereinbarungen/neu?art=ekv");
    assert_eq!(form.status, Status::Ok);
    assert!(
        form.text().contains("Art der personenbezogenen Daten"),
        "{}",
        form.text()
    );
    let fields = [
        ("art", "ekv"),
        ("counterparty", dataport.as_str()),
        ("service", wohngeld.as_str()),
        ("notice", "6"),
        ("avv_subject", "Betrieb des Online-Dienstes Wohngeld"),
        ("avv_duration", "Laufzeit der Vereinbarung"),
        (
            "avv_purpose",
            "Entgegennahme und Weiterleitung von Anträgen",
        ),
        ("avv_data", "Name, Anschrift\nEinkommen\n\n"),
        ("avv_subjects", "Antragstellende Personen"),
        ("avv_measures", "TLS\nVerschlüsselte Übermittlung (OSCI)"),
    ];
    let refused = app.web_post(Some(&clerk), "/vereinbarungen/neu", &fields);
    assert_eq!(refused.status, Status::UnprocessableEntity);
    assert!(refused.text().contains("IÖV"), "{}", refused.text());
    assert!(
        refused
            .body
            .contains("Betrieb des Online-Dienstes Wohngeld"),
        "values kept"
    );

    // With the IÖV drafted, submitted, signed and in force through the pages …
    let ioev = app.web_post(
        Some(&clerk),
        "/vereinbarungen/neu",
        &[
            ("art", "ioev"),
            ("counterparty", dataport.as_str()),
            ("notice", "12"),
        ],
    );
    assert_eq!(ioev.status, Status::SeeOther, "{}", ioev.text());
    let ioev_id = id_after(ioev.location.as_deref().unwrap(), "/vereinbarungen/");
    assert!(app
        .web_get(Some(&clerk), &format!("/vereinbarungen/{ioev_id}"))
        .text()
        .contains("Entwurf"));
    assert_eq!(
        app.web_post(
            Some(&clerk),
            &format!("/vereinbarungen/{ioev_id}/schritt"),
            &[("action", "submit")]
        )
        .status,
        Status::SeeOther
    );
    // The partner's authorised contact signs on paper; staff record it, then countersign.
    let contact = app.signatory(&format!("organisations/{dataport}"), "Dora Dataport");
    let page = app.web_get(Some(&clerk), &format!("/vereinbarungen/{ioev_id}"));
    assert!(
        page.text().contains("Unterschrift erfassen"),
        "{}",
        page.text()
    );
    assert!(page.body.contains(&contact));
    assert_eq!(
        app.web_post(
            Some(&clerk),
            &format!("/vereinbarungen/{ioev_id}/unterschrift-erfassen"),
            &[("contact", contact.as_str())]
        )
        .status,
        Status::SeeOther
    );
    assert_eq!(
        app.web_post(
            Some(&clerk),
            &format!("/vereinbarungen/{ioev_id}/unterschreiben"),
            &[]
        )
        .status,
        Status::SeeOther
    );
    assert_eq!(
        app.web_post(
            Some(&clerk),
            &format!("/vereinbarungen/{ioev_id}/inkraft"),
            &[("ab", "")]
        )
        .status,
        Status::SeeOther
    );
    let text = app
        .web_get(Some(&clerk), &format!("/vereinbarungen/{ioev_id}"))
        .text();
    assert!(
        text.contains("unterzeichnet von Dora Dataport") && text.contains("in Kraft"),
        "{text}"
    );

    // … the EKV is drafted with its AVV, one entry per line.
    let ekv = app.web_post(Some(&clerk), "/vereinbarungen/neu", &fields);
    assert_eq!(ekv.status, Status::SeeOther, "{}", ekv.text());
    let ekv_id = id_after(ekv.location.as_deref().unwrap(), "/vereinbarungen/");
    let (_, v) = app.get(&format!("/api/v1/agreements/{ekv_id}"));
    assert_eq!(
        v["terms"]["avv"]["data_types"],
        json!(["Name, Anschrift", "Einkommen"])
    );
    assert_eq!(v["notice_period_months"], 6);

    // The draft is edited before it goes to signature: the form shows what is stored.
    let edit = app.web_get(
        Some(&clerk),
        &format!("/vereinbarungen/{ekv_id}/bearbeiten"),
    );
    assert_eq!(edit.status, Status::Ok);
    assert!(
        edit.body.contains(">Name, Anschrift\nEinkommen</textarea>"),
        "{}",
        edit.body
    );
    let lock = v["lock_version"].to_string();
    let mut changed: Vec<(&str, &str)> = fields
        .iter()
        .filter(|(k, _)| k.starts_with("avv_") && *k != "avv_data")
        .cloned()
        .collect();
    changed.extend([
        ("lock_version", lock.as_str()),
        ("notice", "9"),
        ("avv_data", "Name, Anschrift\nEinkommen\nBankverbindung"),
    ]);
    let saved = app.web_post(
        Some(&clerk),
        &format!("/vereinbarungen/{ekv_id}/bearbeiten"),
        &changed,
    );
    assert_eq!(saved.status, Status::SeeOther, "{}", saved.text());
    let (_, v) = app.get(&format!("/api/v1/agreements/{ekv_id}"));
    assert_eq!(v["terms"]["avv"]["data_types"][2], "Bankverbindung");
    assert_eq!(v["notice_period_months"], 9);
    let stale = app.web_post(
        Some(&clerk),
        &format!("/vereinbarungen/{ekv_id}/bearbeiten"),
        &changed,
    );
    assert_eq!(stale.status, Status::UnprocessableEntity);
    assert!(
        stale.text().contains("inzwischen geändert"),
        "{}",
        stale.text()
    );

    // Terminating the IÖV while the EKV rests on it is refused with the dependant named;
    // with "auch die Vereinbarungen kündigen …" both end.
    let ekv_ref = v["reference"].as_str().unwrap().to_string();
    assert_eq!(
        app.web_post(
            Some(&clerk),
            &format!("/vereinbarungen/{ekv_id}/schritt"),
            &[("action", "submit")]
        )
        .status,
        Status::SeeOther
    );
    app.sign_all(&ekv_id);
    app.step(&ekv_id, "activate");
    let frozen = app.web_get(
        Some(&clerk),
        &format!("/vereinbarungen/{ekv_id}/bearbeiten"),
    );
    assert_eq!(frozen.status, Status::Conflict, "no longer a draft");
    let blocked = app.web_post(
        Some(&clerk),
        &format!("/vereinbarungen/{ioev_id}/schritt"),
        &[("action", "terminate"), ("grund", "Test")],
    );
    assert_eq!(blocked.status, Status::Conflict);
    assert!(blocked.text().contains(&ekv_ref), "{}", blocked.text());
    let done = app.web_post(
        Some(&clerk),
        &format!("/vereinbarungen/{ioev_id}/schritt"),
        &[
            ("action", "terminate"),
            ("grund", "Anbieterwechsel"),
            ("kaskade", "true"),
            ("ende", "2028-06-30"),
        ],
    );
    assert_eq!(done.status, Status::SeeOther, "{}", done.text());
    let (_, v) = app.get(&format!("/api/v1/agreements/{ekv_id}"));
    assert_eq!(v["ends_on"], "2028-06-30", "{v}");
    assert!(v["notice_given_on"].is_string(), "{v}");
}

#[test]
fn staff_change_a_municipalitys_traeger_status_and_add_a_contact_with_messages_at_the_fields() {
    let app = TestApp::new();
    let clerk = web_user(
        &app,
        json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }),
    );
    let koeln = app.municipality("05315000");
    let path = format!("/kommunen/{koeln}");
    let page = app.web_get(Some(&clerk), &path);
    let lock = {
        let at = page.body.find("name=\"lock_version\" value=\"").unwrap() + 27;
        page.body[at..].split('"').next().unwrap().to_string()
    };
    let bad = app.web_post(
        Some(&clerk),
        &path,
        &[
            ("lock_version", &lock),
            ("traeger_since", "2099-01-01"),
            ("capital", "viel"),
        ],
    );
    assert_eq!(bad.status, Status::UnprocessableEntity);
    assert!(
        bad.text().contains("Stammeinlage als Betrag in Euro"),
        "{}",
        bad.text()
    );
    let future = app.web_post(
        Some(&clerk),
        &path,
        &[
            ("lock_version", &lock),
            ("traeger_since", "2099-01-01"),
            ("capital", "1.250,00"),
        ],
    );
    assert!(
        future.text().contains("nicht in der Zukunft"),
        "{}",
        future.text()
    );
    assert!(future.body.contains("href=\"#traeger_since\""));
    let ok = app.web_post(
        Some(&clerk),
        &path,
        &[
            ("lock_version", &lock),
            ("traeger_since", "2021-03-15"),
            ("capital", "1.250,00"),
            ("address", "Willy-Brandt-Platz 2, 50679 Köln"),
        ],
    );
    assert_eq!(ok.status, Status::SeeOther, "{}", ok.text());
    let (_, m) = app.get(&format!("/api/v1/municipalities/{koeln}"));
    assert_eq!(m["traeger_since"], "2021-03-15");
    assert_eq!(m["capital_contribution_cents"], 125_000);
    let stale = app.web_post(
        Some(&clerk),
        &path,
        &[("lock_version", &lock), ("address", "alt")],
    );
    assert_eq!(
        stale.status,
        Status::UnprocessableEntity,
        "a stale form is refused"
    );
    assert!(
        stale.text().contains("inzwischen geändert"),
        "{}",
        stale.text()
    );

    let bad = app.web_post(
        Some(&clerk),
        &format!("{path}/ansprechpersonen"),
        &[("name", ""), ("email", "keine")],
    );
    assert_eq!(bad.status, Status::UnprocessableEntity);
    assert!(
        bad.body.contains("href=\"#contact-email\""),
        "{}",
        bad.text()
    );
    let ok = app.web_post(
        Some(&clerk),
        &format!("{path}/ansprechpersonen"),
        &[
            ("name", "Henriette Reker"),
            ("function", "Oberbürgermeisterin"),
            ("email", "ob@stadt-koeln.de"),
            ("may_sign", "true"),
        ],
    );
    assert_eq!(ok.status, Status::SeeOther);
    let text = app.web_get(Some(&clerk), &path).text();
    assert!(
        text.contains("Henriette Reker, Oberbürgermeisterin")
            && text.contains("(zeichnungsberechtigt)"),
        "{text}"
    );
}

#[test]
fn an_admin_locks_an_account_or_resets_its_password_and_its_sessions_and_tokens_end() {
    let app = TestApp::new();
    let admin = web_user(
        &app,
        json!({ "email": "admin@d-nrw.de", "name": "Ada Admin", "role": "admin" }),
    );
    let koeln = app.municipality("05315000");
    let erika = web_user(
        &app,
        json!({ "email": "erika@stadt-koeln.de", "name": "Erika Köln", "role": "municipality", "municipality_id": koeln }),
    );
    let token = app.token_for("erika@stadt-koeln.de");
    assert_eq!(app.web_get(Some(&erika), "/kommune").status, Status::Ok);
    assert_eq!(app.send_as(&token, "GET", "/api/v1/me", None).0, Status::Ok);

    // Locked: the session and the API token stop at once.
    let locked = app.web_post(
        Some(&admin),
        &format!("/benutzer/{}/sperre", erika.id),
        &[("sperren", "true")],
    );
    assert_eq!(locked.status, Status::SeeOther);
    assert_eq!(
        app.web_get(Some(&erika), "/kommune").location.as_deref(),
        Some("/anmelden")
    );
    assert_eq!(
        app.send_as(&token, "GET", "/api/v1/me", None).0,
        Status::Unauthorized
    );
    assert!(app
        .web_get(Some(&admin), "/benutzer")
        .text()
        .contains("gesperrt"));
    // Unlocked: the token works again; the old session stays over (it predates the change).
    app.web_post(Some(&admin), &format!("/benutzer/{}/sperre", erika.id), &[]);
    assert_eq!(app.send_as(&token, "GET", "/api/v1/me", None).0, Status::Ok);
    assert_eq!(
        app.web_get(Some(&erika), "/kommune").location.as_deref(),
        Some("/anmelden")
    );

    // A new initial password: shown once, the next login must change it.
    let reset = app.web_post(
        Some(&admin),
        &format!("/benutzer/{}/passwort", erika.id),
        &[],
    );
    assert_eq!(reset.status, Status::Ok);
    assert!(
        reset.text().contains("Neues Startpasswort gesetzt"),
        "{}",
        reset.text()
    );
    let at = reset.body.find("class=\"passwort\">").unwrap() + 17;
    let password = reset.body[at..at + 20].to_string();
    let url = nachnutzung::db::DbUrl::parse(&app.database_url).unwrap();
    let db = nachnutzung::db::Db::open(&url, 1).unwrap();
    let id = erika.id.clone();
    let user = db
        .read_blocking(move |c| nachnutzung::models::user::User::find(c, &id))
        .unwrap();
    assert!(user.must_change_password);
    assert!(nachnutzung::models::user::verify_password(
        &user.password_hash,
        &password
    ));

    // Nobody locks or resets their own account here.
    let own = app.web_post(
        Some(&admin),
        &format!("/benutzer/{}/sperre", admin.id),
        &[("sperren", "true")],
    );
    assert_eq!(own.status, Status::Conflict);
    assert!(own.text().contains("eigene Konto"), "{}", own.text());
}

#[test]
fn staff_add_and_change_a_service_with_its_parameters_and_the_catalogue_follows() {
    let app = TestApp::new();
    let clerk = web_user(
        &app,
        json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }),
    );
    let form = app.web_get(Some(&clerk), "/dienste/neu");
    assert_eq!(form.status, Status::Ok);
    assert!(
        form.body
            .contains("zustaendige_stelle_url | Web-Adresse der zuständigen Stelle | url | ja"),
        "defaults offered: {}",
        form.text()
    );
    let mut fields = vec![
        ("name", "Hundesteuer online"),
        ("ozg_id", "10389"),
        ("leika_keys", "99013002000000\n123"),
        ("land", "03"),
        ("availability", "coming_soon"),
        ("parameters", "hundeart | Hunderasse | farbe | ja"),
    ];
    let bad = app.web_post(Some(&clerk), "/dienste/neu", &fields);
    assert_eq!(bad.status, Status::UnprocessableEntity);
    assert!(
        bad.text().contains("Zeile 1: „farbe“ ist keine Art"),
        "{}",
        bad.text()
    );
    fields[5] = (
        "parameters",
        "gebuehr_cents | Gebühr in Cent | gebuehr | ja\nkontakt_email | Rückfragen | email | nein",
    );
    let bad = app.web_post(Some(&clerk), "/dienste/neu", &fields);
    assert_eq!(bad.status, Status::UnprocessableEntity);
    assert!(
        bad.text().contains("123"),
        "the wrong Leika key is named: {}",
        bad.text()
    );
    assert!(bad.body.contains("href=\"#leika_keys\""));
    fields[2] = ("leika_keys", "99013002000000");
    let ok = app.web_post(Some(&clerk), "/dienste/neu", &fields);
    assert_eq!(ok.status, Status::SeeOther, "{}", ok.text());
    let id = id_after(ok.location.as_deref().unwrap(), "/dienste/");
    let (_, v) = app.get(&format!("/api/v1/services/{id}"));
    assert_eq!(v["providing_state"], "Niedersachsen");
    assert_eq!(v["parameters"][0]["kind"], "fee_cents");
    assert_eq!(v["parameters"][1]["required"], false);

    // Changed through the edit form (which shows what is stored); the catalogue follows.
    let edit = app.web_get(Some(&clerk), &format!("/dienste/{id}/bearbeiten"));
    assert!(
        edit.body.contains("value=\"Hundesteuer online\""),
        "{}",
        edit.text()
    );
    let lock = {
        let at = edit.body.find("name=\"lock_version\" value=\"").unwrap() + 27;
        edit.body[at..].split('"').next().unwrap().to_string()
    };
    let mut changed = fields.clone();
    changed[0] = ("name", "Hundesteuer digital");
    changed[4] = ("availability", "available");
    changed.push(("lock_version", &lock));
    let saved = app.web_post(Some(&clerk), &format!("/dienste/{id}/bearbeiten"), &changed);
    assert_eq!(saved.status, Status::SeeOther, "{}", saved.text());
    assert!(app
        .web_get(None, "/katalog")
        .text()
        .contains("Hundesteuer digital"));
    let stale = app.web_post(Some(&clerk), &format!("/dienste/{id}/bearbeiten"), &changed);
    assert_eq!(stale.status, Status::UnprocessableEntity);
    assert!(
        stale.text().contains("inzwischen geändert"),
        "{}",
        stale.text()
    );
}

#[test]
fn staff_add_a_partner_for_its_laender_change_it_and_add_its_signatory() {
    let app = TestApp::new();
    let clerk = web_user(
        &app,
        json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }),
    );
    let list = app.web_get(Some(&clerk), "/partner");
    assert!(
        list.text().contains("Dataport AöR") && list.text().contains("GovConnect GmbH"),
        "{}",
        list.text()
    );
    assert!(
        !list.text().contains("(Kommunalvertreter.NRW)"),
        "d-NRW is nobody's partner here"
    );
    let none = app.web_post(
        Some(&clerk),
        "/partner/neu",
        &[("name", "Kommunalvertreter Saar")],
    );
    assert_eq!(none.status, Status::UnprocessableEntity);
    assert!(
        none.text()
            .contains("Kommunalvertreter, Anbieter oder beides"),
        "{}",
        none.text()
    );
    let ok = app.web_post(
        Some(&clerk),
        "/partner/neu",
        &[
            ("name", "Kommunalvertreter Saar"),
            ("is_intermediary", "true"),
            ("laender", "10"),
            ("legal_form", "AöR"),
        ],
    );
    assert_eq!(ok.status, Status::SeeOther, "{}", ok.text());
    let id = id_after(ok.location.as_deref().unwrap(), "/partner/");
    let (_, v) = app.get(&format!("/api/v1/intermediaries/{id}"));
    assert_eq!(
        v["states"],
        json!([{ "land_key": "10", "state": "Saarland" }]),
        "{v}"
    );
    // Changed: it now also operates services and acts for Rheinland-Pfalz too.
    let page = app.web_get(Some(&clerk), &format!("/partner/{id}"));
    assert!(
        page.body
            .contains("id=\"land-10\" name=\"laender\" value=\"10\" checked"),
        "{}",
        page.body
    );
    let lock = {
        let at = page.body.find("name=\"lock_version\" value=\"").unwrap() + 27;
        page.body[at..].split('"').next().unwrap().to_string()
    };
    let saved = app.web_post(
        Some(&clerk),
        &format!("/partner/{id}"),
        &[
            ("lock_version", &lock),
            ("name", "Kommunalvertreter Saar"),
            ("is_intermediary", "true"),
            ("is_provider", "true"),
            ("laender", "07"),
            ("laender", "10"),
        ],
    );
    assert_eq!(saved.status, Status::SeeOther, "{}", saved.text());
    let (_, v) = app.get(&format!("/api/v1/providers/{id}"));
    assert_eq!(v["states"].as_array().unwrap().len(), 2, "{v}");
    let contact = app.web_post(
        Some(&clerk),
        &format!("/partner/{id}/ansprechpersonen"),
        &[
            ("name", "Sabine Saar"),
            ("function", "Vorständin"),
            ("may_sign", "true"),
        ],
    );
    assert_eq!(contact.status, Status::SeeOther);
    assert!(app
        .web_get(Some(&clerk), &format!("/partner/{id}"))
        .text()
        .contains("Sabine Saar, Vorständin (zeichnungsberechtigt)"));
    let dnrw = app.dnrw();
    assert_eq!(
        app.web_get(Some(&clerk), &format!("/partner/{dnrw}"))
            .status,
        Status::NotFound
    );
}

#[test]
fn staff_record_einzelabrufe_for_an_nrw_municipality_and_for_another_lands_municipality() {
    let app = TestApp::new();
    let clerk = web_user(
        &app,
        json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }),
    );
    let (_, _, wohngeld) = wohngeld_supply(&app);
    let koeln = app.municipality("05315000");
    app.in_force(json!({ "kind": "rv", "municipality_id": koeln }));

    // Inbound, for Köln: the service decides which fields the form asks for.
    let form = app.web_get(
        Some(&clerk),
        &format!("/vereinbarungen/neu-ea?dienst={wohngeld}"),
    );
    assert!(
        form.text()
            .contains("Kommune in NRW (Amtlicher Gemeindeschlüssel)"),
        "{}",
        form.text()
    );
    assert!(form.body.contains("name=\"p[zustaendige_stelle_url]\""));
    let bad = app.web_post(
        Some(&clerk),
        "/vereinbarungen/neu-ea",
        &[("dienst", &wohngeld), ("ags", "05999999")],
    );
    assert_eq!(bad.status, Status::UnprocessableEntity);
    assert!(
        bad.text()
            .contains("keine Kommune in NRW mit dem AGS „05999999“"),
        "{}",
        bad.text()
    );
    assert!(bad.body.contains("href=\"#ags\""));
    let ok = app.web_post(
        Some(&clerk),
        "/vereinbarungen/neu-ea",
        &[
            ("dienst", &wohngeld),
            ("ags", "05315000"),
            (
                "p[zustaendige_stelle_url]",
                "https://www.stadt-koeln.de/wohngeld",
            ),
            ("p[kontakt_email]", "wohngeld@stadt-koeln.de"),
        ],
    );
    assert_eq!(ok.status, Status::SeeOther, "{}", ok.text());
    let ea = id_after(ok.location.as_deref().unwrap(), "/vereinbarungen/");
    let (_, v) = app.get(&format!("/api/v1/agreements/{ea}"));
    assert_eq!(v["status"], "draft");
    assert_eq!(v["municipality"]["id"], koeln.as_str());
    assert!(
        v["terms"]["avv"]["subject"].is_string(),
        "the EKV's AVV: {v}"
    );
    assert_eq!(
        app.web_post(
            Some(&clerk),
            &format!("/vereinbarungen/{ea}/schritt"),
            &[("action", "submit")]
        )
        .status,
        Status::SeeOther
    );

    // Outbound: Hannover re-uses the NRW Sozialplattform through GovConnect.
    let govconnect = app.organisation("intermediaries", "GovConnect GmbH");
    let hzl = app.service("Sozialplattform");
    app.in_force(json!({ "kind": "ioev", "counterparty_id": govconnect }));
    app.in_force(
        json!({ "kind": "ekv", "counterparty_id": govconnect, "service_id": hzl, "avv": avv() }),
    );
    let form = app.web_get(
        Some(&clerk),
        &format!("/vereinbarungen/neu-ea?dienst={hzl}"),
    );
    assert!(
        form.text().contains("ist ein Dienst aus NRW"),
        "{}",
        form.text()
    );
    let missing = app.web_post(
        Some(&clerk),
        "/vereinbarungen/neu-ea",
        &[
            ("dienst", &hzl),
            ("external_name", "Landeshauptstadt Hannover"),
        ],
    );
    assert_eq!(missing.status, Status::UnprocessableEntity);
    assert!(
        missing.body.contains("href=\"#counterparty\""),
        "{}",
        missing.text()
    );
    let ok = app.web_post(
        Some(&clerk),
        "/vereinbarungen/neu-ea",
        &[
            ("dienst", &hzl),
            ("counterparty", &govconnect),
            ("external_name", "Landeshauptstadt Hannover"),
            ("external_ags", "03241001"),
            (
                "p[zustaendige_stelle_url]",
                "https://www.hannover.de/soziales",
            ),
            ("p[kontakt_email]", "sozialamt@hannover-stadt.de"),
        ],
    );
    assert_eq!(ok.status, Status::SeeOther, "{}", ok.text());
    let ea = id_after(ok.location.as_deref().unwrap(), "/vereinbarungen/");
    let (_, v) = app.get(&format!("/api/v1/agreements/{ea}"));
    assert_eq!(v["direction"], "outbound");
    assert_eq!(v["external_party"]["name"], "Landeshauptstadt Hannover");
    assert_eq!(v["counterparty"]["id"], govconnect.as_str());
}

#[test]
fn staff_amend_a_signed_agreement_both_sides_sign_it_and_it_comes_into_force() {
    let app = TestApp::new();
    let clerk = web_user(
        &app,
        json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }),
    );
    let koeln = app.municipality("05315000");
    let erika = web_user(
        &app,
        json!({ "email": "erika@stadt-koeln.de", "name": "Erika Köln", "role": "municipality", "municipality_id": koeln, "may_sign": true }),
    );
    let rv = app.in_force(json!({ "kind": "rv", "municipality_id": koeln }));
    let id = rv["id"].as_str().unwrap();
    let page = app.web_get(Some(&clerk), &format!("/vereinbarungen/{id}"));
    assert!(
        page.text().contains("Änderungsfassung anlegen"),
        "{}",
        page.text()
    );
    let form = app.web_get(Some(&clerk), &format!("/vereinbarungen/{id}/aenderung"));
    assert_eq!(form.status, Status::Ok);
    let lock = rv["lock_version"].to_string();
    let bad = app.web_post(
        Some(&clerk),
        &format!("/vereinbarungen/{id}/aenderung"),
        &[("lock_version", &lock), ("change_note", "")],
    );
    assert_eq!(bad.status, Status::UnprocessableEntity);
    assert!(bad.body.contains("href=\"#change_note\""), "{}", bad.text());
    let ok = app.web_post(
        Some(&clerk),
        &format!("/vereinbarungen/{id}/aenderung"),
        &[
            ("lock_version", &lock),
            ("change_note", "Ansprechpartner der Stadt geändert"),
            ("notes", "Neue Ansprechperson: Amt für Digitalisierung"),
        ],
    );
    assert_eq!(ok.status, Status::SeeOther, "{}", ok.text());
    let text = app
        .web_get(Some(&erika), &format!("/vereinbarungen/{id}"))
        .text();
    assert!(
        text.contains("Änderungsfassung 2 (wartet auf Unterschriften)")
            && text.contains("Jetzt unterzeichnen"),
        "{text}"
    );
    assert_eq!(
        app.web_post(
            Some(&erika),
            &format!("/vereinbarungen/{id}/unterschreiben"),
            &[]
        )
        .status,
        Status::SeeOther
    );
    assert_eq!(
        app.web_post(
            Some(&clerk),
            &format!("/vereinbarungen/{id}/unterschreiben"),
            &[]
        )
        .status,
        Status::SeeOther
    );
    let text = app
        .web_get(Some(&clerk), &format!("/vereinbarungen/{id}"))
        .text();
    assert!(
        text.contains("Änderungsfassung 2 (unterzeichnet)")
            && text.contains("Gesiegeltes Dokument, Fassung 2"),
        "{text}"
    );
    let activated = app.web_post(
        Some(&clerk),
        &format!("/vereinbarungen/{id}/aenderung/2/schritt"),
        &[("action", "activate"), ("ab", "")],
    );
    assert_eq!(activated.status, Status::SeeOther, "{}", activated.text());
    let (_, v) = app.get(&format!("/api/v1/agreements/{id}"));
    assert_eq!(v["current_version"], 2, "{v}");
    assert_eq!(
        v["terms"]["notes"],
        "Neue Ansprechperson: Amt für Digitalisierung"
    );
}

#[test]
fn a_municipality_reports_its_go_live_tasks_with_evidence_and_staff_follow_the_rollout() {
    let app = TestApp::new();
    let f = fixture(&app);
    let admin = f.users[1].clone().unwrap();
    let koeln = f.users[3].clone().unwrap();
    let essen = f.users[4].clone().unwrap();
    let ea = app.in_force(json!({
        "kind": "ea", "municipality_id": f.koeln, "service_id": f.wohngeld, "avv": avv(),
        "parameters": { "zustaendige_stelle_url": "https://www.stadt-koeln.de/wohngeld", "kontakt_email": "wohngeld@stadt-koeln.de" }
    }));
    let ea = ea["id"].as_str().unwrap().to_string();
    let plan = app.ok("GET", &format!("/api/v1/agreements/{ea}/tasks"), None);
    let vsm = plan["tasks"][0]["id"].as_str().unwrap().to_string();

    // Köln's start page lists the open tasks; the EA's page the plan.
    let home = app.web_get(Some(&koeln), "/kommune").text();
    assert!(
        home.contains("Aufgaben zur Inbetriebnahme (5 offen)"),
        "{home}"
    );
    let page = app
        .web_get(Some(&koeln), &format!("/vereinbarungen/{ea}"))
        .text();
    assert!(
        page.contains("Inbetriebnahme")
            && page.contains("DVDV-Eintrag mit Verschlüsselungszertifikat")
    );

    // The VSM task's form knows Wohngeld's Leika keys; wrong evidence comes back with
    // its messages at the fields, nothing recorded.
    let form = app.web_get(Some(&koeln), &format!("/aufgaben/{vsm}"));
    assert_eq!(form.status, Status::Ok);
    assert!(form.body.contains("99107023000000"), "suggested Leika keys");
    let refused = app.web_post(
        Some(&koeln),
        &format!("/aufgaben/{vsm}/schritt"),
        &[
            ("aktion", "complete"),
            ("lock_version", "1"),
            ("leika_keys", "99107023000000"),
            ("zustaendige_stelle", "Amt für Wohnungswesen"),
            ("service_url", "stadt-koeln.de/wohngeld"),
        ],
    );
    assert_eq!(refused.status, Status::UnprocessableEntity);
    assert!(
        refused.body.contains("id=\"service_url-fehler\""),
        "{}",
        refused.body
    );
    assert!(refused.text().contains("keine Web-Adresse"));
    assert!(
        refused.body.contains("value=\"Amt für Wohnungswesen\""),
        "input kept"
    );
    let done = app.web_post(
        Some(&koeln),
        &format!("/aufgaben/{vsm}/schritt"),
        &[
            ("aktion", "complete"),
            ("lock_version", "1"),
            ("leika_keys", "99107023000000"),
            ("zustaendige_stelle", "Amt für Wohnungswesen"),
            ("service_url", "https://www.stadt-koeln.de/wohngeld"),
        ],
    );
    assert_eq!(done.status, Status::SeeOther, "{}", done.text());
    let text = app
        .web_get(Some(&koeln), &format!("/aufgaben/{vsm}"))
        .text();
    assert!(
        text.contains("erledigt") && text.contains("https://www.stadt-koeln.de/wohngeld"),
        "{text}"
    );
    // Essen neither sees nor reports it.
    assert_eq!(
        app.web_get(Some(&essen), &format!("/aufgaben/{vsm}"))
            .status,
        Status::NotFound
    );
    assert!(!app
        .web_get(Some(&essen), "/aufgaben")
        .text()
        .contains("Köln"));

    // Staff move the due date and see Köln in the roll-out, in the page and as CSV.
    let planned = app.web_post(
        Some(&admin),
        &format!("/aufgaben/{vsm}/planung"),
        &[
            ("lock_version", "2"),
            ("due_on", "2030-01-31"),
            ("contact_id", ""),
        ],
    );
    assert_eq!(planned.status, Status::SeeOther, "{}", planned.text());
    assert!(app
        .web_get(Some(&admin), &format!("/aufgaben/{vsm}"))
        .text()
        .contains("31.01.2030"));
    let matrix = app.web_get(Some(&admin), "/rollout?rb=K%C3%B6ln");
    assert_eq!(matrix.status, Status::Ok);
    let text = matrix.text();
    assert!(text.contains("Köln") && text.contains("in Kraft"), "{text}");
    assert!(
        !text.contains("Dortmund"),
        "filtered to Regierungsbezirk Köln"
    );
    let csv = app.web_get(Some(&admin), "/rollout.csv?rb=K%C3%B6ln");
    assert_eq!(csv.status, Status::Ok);
    assert!(
        csv.body.contains("05315000;") && csv.body.contains(";in Kraft"),
        "{}",
        csv.body
    );
    let muni = app
        .web_get(Some(&admin), &format!("/kommunen/{}", f.koeln))
        .text();
    assert!(
        muni.contains("Stand der Dienste VSM-Daten")
            && muni.contains("Wohngeld (Online-Dienst Wohngeld) : in Kraft"),
        "{muni}"
    );
}
