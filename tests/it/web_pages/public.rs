//! What visitors see without an account: the start page that says what the registry is
//! and how to get an account, the Impressum, the privacy statement and the accessibility
//! statement with its feedback form, all linked from every page's footer.

use crate::common::*;
use rocket::http::Status;
use serde_json::json;

#[test]
fn a_visitor_learns_what_the_registry_is_and_whom_to_ask_for_an_account() {
    let app = TestApp::new();
    let start = app.web_get(None, "/");
    assert_eq!(start.status, Status::Ok, "no redirect to the login form");
    let text = start.text();
    for part in [
        "Nachnutzungsregister der d-NRW AöR",
        "Kommunen und Kreise in NRW",
        "Kommunalvertreter anderer Länder",
        "Zugänge vergibt die d-NRW AöR",
        "kommunalvertreter@d-nrw.de",
        "Katalog der Online-Dienste",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
    assert!(start
        .body
        .contains("href=\"mailto:kommunalvertreter@d-nrw.de\""));
    // Every page links the three public texts; each is a page of its own.
    for (path, title) in [
        ("/impressum", "Impressum"),
        ("/datenschutz", "Datenschutzerklärung"),
        ("/barrierefreiheit", "Erklärung zur Barrierefreiheit"),
    ] {
        assert!(start.body.contains(&format!("href=\"{path}\"")), "{path}");
        let page = app.web_get(None, path);
        assert_eq!(page.status, Status::Ok, "{path}");
        assert!(
            page.body.contains(&format!("<h1>{title}</h1>")),
            "{path}: {}",
            page.body
        );
        assert!(page.text().contains("Rheinische Straße 1") || path == "/barrierefreiheit");
    }
    let catalogue = app.web_get(None, "/katalog");
    assert!(catalogue.body.contains("href=\"/impressum\""));
    // A signed-in user still gets their start page.
    let clerk =
        app.signed_in(json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }));
    let dashboard = app.web_get(Some(&clerk), "/");
    assert!(
        !dashboard.text().contains("Zugang erhalten"),
        "{}",
        dashboard.text()
    );
}

#[test]
fn the_public_texts_come_from_the_configured_folder() {
    let dir = std::env::temp_dir().join(format!("legal-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("impressum.md"),
        "# Impressum\n\n## Anbieter\n\nd-NRW AöR, vertreten durch den Vorstand Erika Beispiel.\n",
    )
    .unwrap();
    let app = TestApp::with_settings(
        false,
        &[
            ("legal_texts_dir", dir.to_str().unwrap()),
            ("contact_email", "register@d-nrw.de"),
        ],
    );
    let page = app.web_get(None, "/impressum").text();
    assert!(
        page.contains("vertreten durch den Vorstand Erika Beispiel"),
        "{page}"
    );
    // Not replaced there: the shipped text.
    let privacy = app.web_get(None, "/datenschutz").text();
    assert!(
        privacy.contains("Art. 6 Abs. 1 Buchst. e DSGVO"),
        "{privacy}"
    );
    assert!(app.web_get(None, "/").text().contains("register@d-nrw.de"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn accessibility_feedback_reaches_staff_and_bad_input_is_told_at_the_field() {
    let app = TestApp::new();
    let form = app.web_get(None, "/barrierefreiheit");
    let csrf = form.csrf();
    // Without the form's token: refused, nothing sent.
    let forged = app.web_post(None, "/barrierefreiheit", &[("message", "x")]);
    assert_eq!(forged.status, Status::Forbidden);
    let empty = app.web_post(
        None,
        "/barrierefreiheit",
        &[("csrf", &csrf), ("message", " "), ("email", "keine")],
    );
    assert_eq!(empty.status, Status::UnprocessableEntity);
    assert!(empty.body.contains("href=\"#message\""), "{}", empty.text());
    assert!(empty.body.contains("href=\"#email\""), "{}", empty.text());
    assert!(empty.body.contains("value=\"keine\""), "typed values stay");
    let too_long = "x".repeat(4001);
    let long = app.web_post(
        None,
        "/barrierefreiheit",
        &[("csrf", &csrf), ("message", &too_long)],
    );
    assert_eq!(long.status, Status::UnprocessableEntity);
    let sent = app.web_post(
        None,
        "/barrierefreiheit",
        &[
            ("csrf", &csrf),
            (
                "message",
                "Die Tabelle im Katalog lässt sich mit der Tastatur nicht scrollen.",
            ),
            ("page", "/katalog"),
            ("name", "Maria Muster"),
            ("email", "maria@example.org"),
        ],
    );
    assert_eq!(sent.status, Status::SeeOther, "{}", sent.text());
    assert_eq!(sent.location.as_deref(), Some("/barrierefreiheit/danke"));
    assert!(app
        .web_get(None, "/barrierefreiheit/danke")
        .text()
        .contains("Vielen Dank"));
    let mails: Vec<(String, String, String)> = app
        .db()
        .read_blocking(|c| {
            use diesel::prelude::*;
            use nachnutzung::db::schema::outbox;
            Ok(outbox::table
                .filter(outbox::kind.eq("accessibility_feedback"))
                .select((outbox::recipient, outbox::subject, outbox::body_text))
                .load(c)?)
        })
        .unwrap();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let (to, subject, body) = &mails[0];
    assert_eq!(to, "kommunalvertreter@d-nrw.de");
    assert!(subject.contains("Barrierefreiheit"), "{subject}");
    assert!(
        body.contains("Maria Muster <maria@example.org>")
            && body.contains("Seite: /katalog")
            && body.contains("mit der Tastatur nicht scrollen"),
        "{body}"
    );
}

#[test]
fn the_public_catalogue_is_german_without_research_notes_or_internal_sources() {
    let app = TestApp::new();
    let (_, json) = app.get_anon("/api/v1/catalog");
    let mut pages = vec![("/api/v1/catalog".to_string(), json.to_string())];
    pages.push(("/katalog".into(), app.web_get(None, "/katalog").text()));
    for s in json["services"].as_array().unwrap() {
        let path = format!("/katalog/{}", s["id"].as_str().unwrap());
        pages.push((path.clone(), app.web_get(None, &path).text()));
    }
    for (path, text) in &pages {
        for forbidden in [
            "unverified",
            "closest",
            "symfony",
            ".sql",
            "doc-dev",
            "confidence",
            "bereitgestellt von unbekannt",
            "Quellen:",
            "nicht angegeben",
        ] {
            assert!(!text.contains(forbidden), "{path}: {forbidden:?} in {text}");
        }
    }
    assert!(
        pages[1].1.contains("Betreiber: noch nicht bekannt"),
        "{}",
        pages[1].1
    );
    // Staff still see where the facts come from.
    let clerk =
        app.signed_in(json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }));
    let wohngeld = app.service("Wohngeld (Online-Dienst");
    let staff = app
        .web_get(Some(&clerk), &format!("/katalog/{wohngeld}"))
        .text();
    assert!(
        staff.contains("Quellen (nur für d-NRW sichtbar)")
            && staff.contains("docs.osi.dataport.de"),
        "{staff}"
    );
}
