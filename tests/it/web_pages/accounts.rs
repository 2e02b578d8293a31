//! Admins adding (by invitation), locking and inviting accounts again on the pages.

use super::*;
use crate::common::*;
use rocket::http::Status;
use serde_json::json;

#[test]
fn an_admin_adds_a_user_by_name_of_the_municipality_who_sets_the_password_with_a_one_time_link() {
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
            ("kommune", ""),
        ],
    );
    assert_eq!(bad.status, Status::UnprocessableEntity);
    assert!(
        bad.text().contains("Bitte prüfen Sie Ihre Angaben"),
        "{}",
        bad.text()
    );
    assert!(bad.body.contains("href=\"#email\""), "{}", bad.body);
    // The municipality by AGS or by name; none or several are refused at the field, with
    // the candidates and their AGS.
    let person = |kommune: &'static str| {
        [
            ("email", "neu@stadt-kleve.de"),
            ("name", "Neue Nutzerin"),
            ("role", "municipality"),
            ("kommune", kommune),
            ("may_sign", "true"),
        ]
    };
    for (kommune, says) in [
        ("05999999", "Keine Kommune mit dem AGS 05999999."),
        ("Atlantis", "Keine Kommune passt zu „Atlantis“"),
        (
            "Kleve",
            "Mehrere Kommunen passen zu „Kleve“: Kreis Kleve (05154000), Stadt Kleve (05154036)",
        ),
    ] {
        let refused = app.web_post(Some(&admin), "/benutzer", &person(kommune));
        assert_eq!(refused.status, Status::UnprocessableEntity, "{kommune}");
        assert!(
            refused.body.contains("href=\"#kommune\""),
            "{}",
            refused.text()
        );
        assert!(
            refused.text().contains(says),
            "{kommune}: {}",
            refused.text()
        );
        assert!(
            refused.body.contains(&format!("value=\"{kommune}\"")),
            "kept in the field"
        );
    }
    let ok = app.web_post(Some(&admin), "/benutzer", &person("Stadt Kleve"));
    assert_eq!(ok.status, Status::Ok, "{}", ok.text());
    assert!(
        ok.text().contains("Benutzer angelegt und eingeladen"),
        "{}",
        ok.text()
    );
    assert!(
        !ok.body.contains("class=\"passwort\""),
        "no password is shown"
    );
    // A city by its plain name ("Köln, Stadt" in the register), also where other names
    // may contain it too ("Hagen, Stadt der FernUniversität").
    for (email, kommune, shown) in [
        ("k@stadt-koeln.de", "Köln", "Stadt Köln"),
        ("h@hagen.de", "Hagen", "Hagen"),
    ] {
        let ok = app.web_post(
            Some(&admin),
            "/benutzer",
            &[
                ("email", email),
                ("name", "Nutzer"),
                ("role", "municipality"),
                ("kommune", kommune),
            ],
        );
        assert_eq!(ok.status, Status::Ok, "{kommune}: {}", ok.text());
        let row = app
            .web_get(Some(&admin), &format!("/benutzer?suche={email}"))
            .text();
        assert!(row.contains(shown), "{row}");
    }
    // The list: organisation and role columns, a search.
    let list = app.web_get(Some(&admin), "/benutzer?suche=kleve").text();
    assert!(
        list.contains("Neue Nutzerin neu@stadt-kleve.de Stadt Kleve Kommune zeichnungsberechtigt noch nicht angemeldet"),
        "{list}"
    );
    assert!(!list.contains("admin@d-nrw.de"), "{list}");
    let all = app.web_get(Some(&admin), "/benutzer").text();
    assert!(
        all.contains("Ada Admin admin@d-nrw.de d-NRW AöR Administration")
            || all.contains("Ada Admin admin@d-nrw.de d-NRW AöR"),
        "{all}"
    );
    assert!(app
        .web_get(Some(&admin), "/benutzer?suche=Raumfahrt")
        .text()
        .contains("Kein Benutzer passt zur Suche"));

    // The mail's link: only its hash is stored.
    let secret = app.invitation_secret("neu@stadt-kleve.de");
    let stored: Vec<String> = app
        .db()
        .read_blocking(|c| {
            use diesel::prelude::*;
            use nachnutzung::db::schema::invitations;
            Ok(invitations::table
                .select(invitations::token_hash)
                .load::<String>(c)?)
        })
        .unwrap();
    use sha2::Digest;
    assert!(!stored.contains(&secret), "the secret itself is not stored");
    assert!(
        stored.contains(&hex::encode(sha2::Sha256::digest(secret.as_bytes()))),
        "its SHA-256 is"
    );

    // The link's page: the form; a short password and a wrong repetition are refused at
    // their fields; a forged form is refused.
    let link = format!("/einladung/{secret}");
    let secret = secret.clone();
    let form = app.web_get(None, &link);
    assert_eq!(form.status, Status::Ok);
    assert!(
        form.text().contains("neu@stadt-kleve.de"),
        "{}",
        form.text()
    );
    let csrf = form.csrf();
    let forged = app.web_post(
        None,
        &link,
        &[
            ("new", "Kleve-Passwort-2026"),
            ("repeat", "Kleve-Passwort-2026"),
        ],
    );
    assert_eq!(forged.status, Status::Forbidden);
    let short = app.web_post(
        None,
        &link,
        &[("csrf", &csrf), ("new", "kurz"), ("repeat", "kurz")],
    );
    assert_eq!(short.status, Status::UnprocessableEntity);
    assert!(short.body.contains("href=\"#new\""), "{}", short.text());
    let mismatch = app.web_post(
        None,
        &link,
        &[
            ("csrf", &csrf),
            ("new", "Kleve-Passwort-2026"),
            ("repeat", "Kleve-Passwort-2027"),
        ],
    );
    assert_eq!(mismatch.status, Status::UnprocessableEntity);
    assert!(
        mismatch.body.contains("href=\"#repeat\""),
        "{}",
        mismatch.text()
    );
    // Set: signed in, and the password works.
    let set = app.web_post(
        None,
        &link,
        &[
            ("csrf", &csrf),
            ("new", "Kleve-Passwort-2026"),
            ("repeat", "Kleve-Passwort-2026"),
        ],
    );
    assert_eq!(set.status, Status::SeeOther, "{}", set.text());
    assert_eq!(set.location.as_deref(), Some("/"));
    assert_eq!(
        app.web_get(None, "/").location.as_deref(),
        Some("/kommune"),
        "signed in as the municipality's user"
    );
    let user = app
        .db()
        .read_blocking(|c| nachnutzung::store::user::User::find_by_email(c, "neu@stadt-kleve.de"))
        .unwrap()
        .unwrap();
    assert!(!user.must_change_password);
    assert!(nachnutzung::store::user::verify_password(
        &user.password_hash,
        "Kleve-Passwort-2026"
    ));
    // Once only.
    let again = app.web_get(None, &link);
    assert_eq!(again.status, Status::NotFound);
    assert!(again.text().contains("gilt nicht mehr"), "{}", again.text());
    let replay = app.web_post(
        None,
        &link,
        &[
            ("csrf", &csrf),
            ("new", "Anderes-Passwort-2026"),
            ("repeat", "Anderes-Passwort-2026"),
        ],
    );
    assert!(
        [Status::NotFound, Status::Forbidden].contains(&replay.status),
        "{}",
        replay.text()
    );
    // And through the use case itself (another form's token): once only.
    let used = app
        .db()
        .write_blocking(move |c| {
            nachnutzung::actions::invitation::accept(
                c,
                &secret,
                "Anderes-Passwort-2026",
                "Anderes-Passwort-2026",
            )
        })
        .unwrap_err();
    assert_eq!(used.http_status(), 404, "{used:?}");
    let audit = app.get("/api/v1/audit?per_page=100").1.to_string();
    assert!(audit.contains("invite_user") && audit.contains("accept_invitation"));
}

#[test]
fn an_invitation_expires_and_a_new_one_ends_the_old_link() {
    let app = TestApp::new();
    let admin = web_user(
        &app,
        json!({ "email": "admin@d-nrw.de", "name": "Ada Admin", "role": "admin" }),
    );
    let ok = app.web_post(
        Some(&admin),
        "/benutzer",
        &[
            ("email", "carla@d-nrw.de"),
            ("name", "Carla Clerk"),
            ("role", "clerk"),
        ],
    );
    assert_eq!(ok.status, Status::Ok, "{}", ok.text());
    let first = app.invitation_secret("carla@d-nrw.de");
    // Invited again: the first link ends, the new one works.
    let carla = app
        .db()
        .read_blocking(|c| nachnutzung::store::user::User::find_by_email(c, "carla@d-nrw.de"))
        .unwrap()
        .unwrap();
    let again = app.web_post(
        Some(&admin),
        &format!("/benutzer/{}/einladung", carla.id),
        &[],
    );
    assert_eq!(again.status, Status::Ok, "{}", again.text());
    assert!(
        again.text().contains("Neue Einladung gesendet"),
        "{}",
        again.text()
    );
    let second = app.invitation_secret("carla@d-nrw.de");
    assert_ne!(first, second);
    assert_eq!(
        app.web_get(None, &format!("/einladung/{first}")).status,
        Status::NotFound
    );
    assert_eq!(
        app.web_get(None, &format!("/einladung/{second}")).status,
        Status::Ok
    );
    // Past its day the link no longer works.
    app.db()
        .write_blocking(|c| {
            use diesel::prelude::*;
            use nachnutzung::db::schema::invitations;
            diesel::update(invitations::table)
                .set(
                    invitations::expires_at
                        .eq(nachnutzung::store::now() - time::Duration::minutes(1)),
                )
                .execute(c)?;
            Ok(())
        })
        .unwrap();
    let expired = app.web_get(None, &format!("/einladung/{second}"));
    assert_eq!(expired.status, Status::NotFound);
    assert!(expired.text().contains("abgelaufen"), "{}", expired.text());
    // A locked account cannot be invited, and its link stops working.
    let fresh = app.web_post(
        Some(&admin),
        &format!("/benutzer/{}/einladung", carla.id),
        &[],
    );
    assert_eq!(fresh.status, Status::Ok);
    let third = app.invitation_secret("carla@d-nrw.de");
    assert_eq!(
        app.web_get(None, &format!("/einladung/{third}")).status,
        Status::Ok
    );
    let own = app.web_post(
        Some(&admin),
        &format!("/benutzer/{}/einladung", admin.id),
        &[],
    );
    assert_eq!(own.status, Status::Conflict, "{}", own.text());
    app.web_post(
        Some(&admin),
        &format!("/benutzer/{}/sperre", carla.id),
        &[("sperren", "true"), ("bestaetigt", "true")],
    );
    let locked = app.web_post(
        Some(&admin),
        &format!("/benutzer/{}/einladung", carla.id),
        &[],
    );
    assert_eq!(locked.status, Status::Conflict, "{}", locked.text());
    assert!(locked.text().contains("gesperrt"), "{}", locked.text());
    // Locking ended the open link for good: unlocked again, it stays invalid.
    app.web_post(
        Some(&admin),
        &format!("/benutzer/{}/sperre", carla.id),
        &[("sperren", "false")],
    );
    assert_eq!(
        app.web_get(None, &format!("/einladung/{third}")).status,
        Status::NotFound
    );
    // Not a link at all.
    assert_eq!(
        app.web_get(None, "/einladung/kein-link").status,
        Status::NotFound
    );
}

#[test]
fn an_admin_locks_an_account_and_its_sessions_and_tokens_end() {
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

    // "Sperren" asks first, saying what it does; nothing changes yet.
    let asked = app.web_post(
        Some(&admin),
        &format!("/benutzer/{}/sperre", erika.id),
        &[("sperren", "true")],
    );
    assert_eq!(asked.status, Status::Ok);
    assert!(
        asked.text().contains("Zugang von Erika Köln sperren?")
            && asked.text().contains("API-Tokens gelten sofort nicht mehr"),
        "{}",
        asked.text()
    );
    assert_eq!(app.web_get(Some(&erika), "/kommune").status, Status::Ok);
    // Locked: the session and the API token stop at once.
    let locked = app.web_post(
        Some(&admin),
        &format!("/benutzer/{}/sperre", erika.id),
        &[("sperren", "true"), ("bestaetigt", "true")],
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

    // Nobody locks or resets their own account here.
    let own = app.web_post(
        Some(&admin),
        &format!("/benutzer/{}/sperre", admin.id),
        &[("sperren", "true"), ("bestaetigt", "true")],
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
