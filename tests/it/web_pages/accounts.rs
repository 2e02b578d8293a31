//! Admins adding, locking and resetting accounts on the pages.

use super::*;
use crate::common::*;
use rocket::http::Status;
use serde_json::json;

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
            ("municipality_ags", ""),
        ],
    );
    assert_eq!(bad.status, Status::UnprocessableEntity);
    assert!(
        bad.text().contains("Bitte prüfen Sie Ihre Angaben"),
        "{}",
        bad.text()
    );
    assert!(bad.body.contains("href=\"#email\""), "{}", bad.body);
    // The form's fields are named like the command's: an unknown AGS is refused at its field.
    let bad = app.web_post(
        Some(&admin),
        "/benutzer",
        &[
            ("email", "neu@stadt-koeln.de"),
            ("name", "Neue Nutzerin"),
            ("role", "municipality"),
            ("municipality_ags", "05999999"),
        ],
    );
    assert_eq!(bad.status, Status::UnprocessableEntity);
    assert!(
        bad.body.contains("href=\"#municipality_ags\""),
        "{}",
        bad.text()
    );
    let ok = app.web_post(
        Some(&admin),
        "/benutzer",
        &[
            ("email", "neu@stadt-koeln.de"),
            ("name", "Neue Nutzerin"),
            ("role", "municipality"),
            ("municipality_ags", "05315000"),
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
    let db = app.db();
    let id = erika.id.clone();
    let user = db
        .read_blocking(move |c| nachnutzung::store::user::User::find(c, &id))
        .unwrap();
    assert!(user.must_change_password);
    assert!(nachnutzung::store::user::verify_password(
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

/// Who signs for d-NRW is a flag on the account an admin sets, never their own.
#[test]
fn an_admin_grants_and_withdraws_the_right_to_sign_but_not_for_herself() {
    let app = TestApp::new();
    let admin = web_user(
        &app,
        json!({ "email": "admin@d-nrw.de", "name": "Ada Admin", "role": "admin" }),
    );
    let carl = web_user(
        &app,
        json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }),
    );
    let dortmund = app.municipality("05913000");
    let rv = app.create(json!({ "kind": "rv", "municipality_id": dortmund }));
    let id = rv["id"].as_str().unwrap();
    assert_eq!(app.step(id, "submit").0, Status::Ok);
    app.sign_as(
        id,
        &app.signatory(
            &format!("municipalities/{dortmund}"),
            "Olga Oberbürgermeisterin",
        ),
    );

    // Without the flag the page explains why there is no button.
    let page = app.web_get(Some(&carl), &format!("/vereinbarungen/{id}"));
    assert!(!page.body.contains("/unterschreiben"), "{}", page.text());
    assert!(
        page.text()
            .contains("Carl Clerk ist nicht als zeichnungsberechtigt hinterlegt"),
        "{}",
        page.text()
    );

    let granted = app.web_post(
        Some(&admin),
        &format!("/benutzer/{}/zeichnung", carl.id),
        &[("zeichnen", "true")],
    );
    assert_eq!(granted.status, Status::SeeOther);
    let page = app.web_get(Some(&carl), &format!("/vereinbarungen/{id}"));
    assert!(page.body.contains("/unterschreiben"), "{}", page.text());
    let list = app.web_get(Some(&admin), "/benutzer").text();
    assert!(
        list.contains("Zeichnungsberechtigung entziehen clerk@d-nrw.de"),
        "{list}"
    );

    // Withdrawn again; and nobody grants it to themselves.
    app.web_post(
        Some(&admin),
        &format!("/benutzer/{}/zeichnung", carl.id),
        &[],
    );
    let page = app.web_get(Some(&carl), &format!("/vereinbarungen/{id}"));
    assert!(!page.body.contains("/unterschreiben"));
    let own = app.web_post(
        Some(&admin),
        &format!("/benutzer/{}/zeichnung", admin.id),
        &[("zeichnen", "true")],
    );
    assert_eq!(own.status, Status::Conflict, "{}", own.text());
    assert!(
        own.text().contains("Die eigene Zeichnungsberechtigung"),
        "{}",
        own.text()
    );
    let audit = app.get("/api/v1/audit?per_page=100").1;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"grant_signing") && actions.contains(&"revoke_signing"),
        "{actions:?}"
    );
}
