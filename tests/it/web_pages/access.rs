//! Every page against every role from one table, and the CSRF check of every form.

use super::*;
use crate::common::*;
use rocket::http::Status;
use serde_json::json;

#[test]
fn every_page_answers_every_role_as_the_table_says() {
    let app = TestApp::new();
    let f = fixture(&app);
    let a_user = f.users[3].clone().unwrap();
    let cert = certificate("Wohngeldstelle Köln", -1, 365, &["keyEncipherment"]);
    let filed = file_wohngeld(&app, &a_user, &f.wohngeld, &cert);
    assert_eq!(filed.status, Status::SeeOther, "{}", filed.text());
    let ea_a = id_after(filed.location.as_deref().unwrap(), "/vereinbarungen/");
    submit_own(&app, &a_user, &ea_a);
    let wappen = id_after(
        &app.web_get(Some(&a_user), &format!("/vereinbarungen/{ea_a}"))
            .body,
        "/anlagen/",
    );
    let (a, b, i, s, m) = (&f.rv_a, &f.rv_b, &f.ioev, &f.wohngeld, &f.koeln);
    let d = &app.organisation("intermediaries", "Dataport AöR");
    // Köln's EA in force, with its go-live tasks.
    app.sign_all(&ea_a);
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
    let lock_form = [("sperren", "true"), ("bestaetigt", "true")];
    let signing_form = [("zeichnen", "true")];
    let activate = [("action", "activate")];
    let (target, _) =
        app.user(json!({ "email": "ziel@d-nrw.de", "name": "Ziel", "role": "clerk" }));
    let bogus_step = [("action", "bogus")];
    let table: Vec<Row> = vec![
        // Visitors get the public start page; municipalities go to "Meine Kommune".
        ("GET", "/".into(), none, [200, 200, 200, 303, 303, 200]),
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
        // Asking to re-use a service: another Land's intermediary only; Wohngeld is not an
        // NRW service, so Dataport's request is refused at the field (422).
        (
            "POST",
            format!("/katalog/{s}/anfrage"),
            none,
            [303, 403, 403, 403, 403, 422],
        ),
        // Checking a document is public and changes nothing; without a file it is 422.
        ("GET", "/pruefen".into(), none, PUBLIC),
        ("GET", "/impressum".into(), none, PUBLIC),
        ("GET", "/datenschutz".into(), none, PUBLIC),
        ("GET", "/barrierefreiheit".into(), none, PUBLIC),
        ("GET", "/barrierefreiheit/danke".into(), none, PUBLIC),
        // The operator's: health for the load balancer; the metrics not to a client
        // from elsewhere, logged in or not (tests/it/ops.rs).
        ("GET", "/health/live".into(), none, PUBLIC),
        ("GET", "/health/ready".into(), none, PUBLIC),
        ("GET", "/metrics".into(), none, [403; 6]),
        // The feedback form: users' session token lets them in (422: no message); a
        // visitor without the form's cookie token is refused.
        (
            "POST",
            "/barrierefreiheit".into(),
            none,
            [403, 422, 422, 422, 422, 422],
        ),
        ("POST", "/pruefen".into(), none, [422; 6]),
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
        // The receipt of one's own signature; without one, back to the agreement (303).
        (
            "GET",
            format!("/vereinbarungen/{a}/quittung"),
            none,
            [303, 303, 303, 303, 404, 404],
        ),
        (
            "GET",
            format!("/vereinbarungen/{a}/dokument.pdf"),
            none,
            OF_A,
        ),
        // Written form: let in, then refused for the missing file (422).
        (
            "POST",
            format!("/vereinbarungen/{a}/schriftform"),
            none,
            [303, 422, 422, 422, 404, 404],
        ),
        (
            "GET",
            format!("/vereinbarungen/{a}/schriftform/{}", uuid::Uuid::nil()),
            none,
            [303, 404, 404, 404, 404, 404],
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
        // A municipality submits or discards its own draft, nothing else (403 for an
        // unknown step); staff are let in (422); others do not see B's RV (404).
        (
            "POST",
            format!("/vereinbarungen/{b}/antrag"),
            &bogus_step,
            [303, 422, 422, 404, 403, 404],
        ),
        // Declining needs an agreement waiting for signatures (409 for B's draft).
        (
            "POST",
            format!("/vereinbarungen/{b}/ablehnen"),
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
            format!("/kommunen/{m}/traegerschaft"),
            none,
            STAFF_FORM,
        ),
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
        ("GET", "/post".into(), none, STAFF),
        ("GET", "/post?zustand=versandt".into(), none, STAFF),
        // Sending again a mail that does not exist (a user's id is no mail's).
        (
            "POST",
            format!("/post/{target}/erneut"),
            none,
            [303, 404, 404, 403, 403, 403],
        ),
        // Inviting again (before the lock below: a locked account is not invited).
        (
            "POST",
            format!("/benutzer/{target}/einladung"),
            none,
            [303, 200, 403, 403, 403, 403],
        ),
        // An invitation link that does not exist: the same German 404 for everyone; its
        // form without the pre-login token is refused.
        (
            "GET",
            format!("/einladung/{}", "ab".repeat(32)),
            none,
            [404; 6],
        ),
        (
            "POST",
            format!("/einladung/{}", "ab".repeat(32)),
            none,
            [403; 6],
        ),
        (
            "POST",
            format!("/benutzer/{target}/sperre"),
            &lock_form,
            [303, 303, 403, 403, 403, 403],
        ),
        (
            "POST",
            format!("/benutzer/{target}/zeichnung"),
            &signing_form,
            [303, 303, 403, 403, 403, 403],
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
        t = t.replace(&"ab".repeat(32), "<secret>");
        t.replace(
            "/schriftform/00000000-0000-0000-0000-000000000000",
            "/schriftform/<qes>",
        )
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
        (
            essen,
            format!("/vereinbarungen/{rv_b}/ablehnen"),
            vec![("reason", "Frist zu kurz")],
        ),
        (
            essen,
            format!("/vereinbarungen/{rv_b}/antrag"),
            vec![("action", "submit")],
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
            vec![("lock_version", "1"), ("notice_period_months", "3")],
        ),
        (admin, "/abmelden".into(), vec![]),
        (
            koeln,
            "/kommune/einzelabruf".into(),
            vec![("dienst", f.wohngeld.as_str())],
        ),
        (koeln, format!("/vereinbarungen/{rv_a}/zertifikat"), vec![]),
        (koeln, format!("/vereinbarungen/{rv_a}/schriftform"), vec![]),
        (
            koeln,
            "/barrierefreiheit".into(),
            vec![("message", "Zu kleine Schrift")],
        ),
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
            format!("/kommunen/{k}/traegerschaft"),
            vec![("lock_version", "1"), ("stand", "kein_traeger")],
        ),
        (
            admin,
            format!("/benutzer/{}/sperre", koeln.id),
            vec![("sperren", "true")],
        ),
        (
            admin,
            format!("/benutzer/{}/zeichnung", koeln.id),
            vec![("zeichnen", "true")],
        ),
        (admin, format!("/benutzer/{}/einladung", koeln.id), vec![]),
        (admin, format!("/post/{task}/erneut"), vec![]),
        (
            admin,
            format!("/einladung/{}", "ab".repeat(32)),
            vec![
                ("new", "Neues-Passwort-2026"),
                ("repeat", "Neues-Passwort-2026"),
            ],
        ),
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
            f.users[5].as_ref().unwrap(),
            format!("/katalog/{}/anfrage", f.wohngeld),
            vec![("note", "Ab 2027")],
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
    // Every form of the application is in the list (the login form has its own test;
    // checking a document at /pruefen has no token: web_pages/verify.rs shows it changes
    // nothing).
    let template = |path: &str| {
        let mut t = path.replace("/aenderung/2/", "/aenderung/<no>/");
        for id in [rv_a, rv_b, k, d, &f.wohngeld, &koeln.id, &task] {
            t = t.replace(id.as_str(), "<id>");
        }
        t.replace(&"ab".repeat(32), "<secret>")
    };
    let covered: std::collections::BTreeSet<String> =
        forms.iter().map(|(_, path, _)| template(path)).collect();
    let mounted: std::collections::BTreeSet<String> = app
        .client
        .rocket()
        .routes()
        .filter(|r| r.method == rocket::http::Method::Post && !r.uri.path().starts_with("/api/"))
        .map(|r| r.uri.path().to_string())
        .filter(|p| p != "/anmelden" && p != "/pruefen")
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
