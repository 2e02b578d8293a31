//! Accounts and personal API tokens: argon2id passwords, the four roles, tokens that act
//! with their user's role and can be revoked, user management for admins only.

use crate::common::*;
use rocket::http::Status;
use serde_json::json;

#[test]
fn users_get_argon2id_passwords_and_tokens_that_act_as_them() {
    let app = TestApp::new();
    let (id, password) = app
        .user(json!({ "email": " Clara.Clerk@D-NRW.de ", "name": "Clara Clerk", "role": "clerk" }));
    assert!(password.len() >= 12);
    let users = app.ok("GET", "/api/v1/users", None);
    let clara = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == id.as_str())
        .unwrap();
    assert_eq!(
        clara["email"], "clara.clerk@d-nrw.de",
        "login names are lower case"
    );
    assert_eq!(clara["must_change_password"], true);
    assert!(
        clara.get("password_hash").is_none(),
        "the hash never leaves the server"
    );
    // Stored as argon2id with OWASP's parameters, and the initial password verifies.
    let db = app.db();
    let user = db
        .read_blocking(|conn| nachnutzung::store::user::User::find(conn, &id))
        .unwrap();
    assert!(user
        .password_hash
        .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    assert!(nachnutzung::store::user::verify_password(
        &user.password_hash,
        &password
    ));

    // Her token acts as her: the audit log names her, X-Actor cannot pretend otherwise.
    let token = app.token_for("clara.clerk@d-nrw.de");
    assert!(token.starts_with("nnr_") && token.len() == 68);
    let (status, me) = app.send_as(&token, "GET", "/api/v1/me", None);
    assert_eq!(status, Status::Ok, "{me}");
    assert_eq!(me["user"]["email"], "clara.clerk@d-nrw.de");
    assert_eq!(me["admin"], false);
    let dortmund = app.municipality("05913000");
    let (status, rv) = app.send_as(
        &token,
        "POST",
        "/api/v1/agreements",
        Some(json!({ "kind": "rv", "municipality_id": dortmund })),
    );
    assert_eq!(status, Status::Created, "{rv}");
    let log = app.ok(
        "GET",
        &format!("/api/v1/audit?entity_id={}", rv["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(log["items"][0]["actor"], "user:clara.clerk@d-nrw.de");

    // A clerk does not manage users.
    let (status, v) = app.send_as(
        &token,
        "POST",
        "/api/v1/users",
        Some(json!({ "email": "x@d-nrw.de", "name": "X", "role": "admin" })),
    );
    assert_eq!(status, Status::Forbidden, "{v}");

    // She issues herself a second token through the API, sees both without secrets, and
    // revokes the first: it stops working at once.
    let (status, issued) = app.send_as(
        &token,
        "POST",
        "/api/v1/tokens",
        Some(json!({ "name": "Skript" })),
    );
    assert_eq!(status, Status::Created, "{issued}");
    let second = issued["secret"].as_str().unwrap().to_string();
    let (_, list) = app.send_as(&second, "GET", "/api/v1/tokens", None);
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    assert!(
        list.to_string().find("nnr_").is_none(),
        "no secrets in the list: {list}"
    );
    let first_id = list[0]["id"].as_str().unwrap();
    let (status, _) = app.send_as(
        &second,
        "DELETE",
        &format!("/api/v1/tokens/{first_id}"),
        None,
    );
    assert_eq!(status, Status::NoContent);
    let (status, v) = app.send_as(&token, "GET", "/api/v1/me", None);
    assert_eq!(status, Status::Unauthorized, "{v}");
    let (status, _) = app.send_as(
        &second,
        "DELETE",
        &format!("/api/v1/tokens/{first_id}"),
        None,
    );
    assert_eq!(status, Status::NotFound, "revoked once");
    let (status, _) = app.send_as(
        "nnr_0000000000000000000000000000000000000000000000000000000000000000",
        "GET",
        "/api/v1/me",
        None,
    );
    assert_eq!(status, Status::Unauthorized);
}

#[test]
fn municipality_and_intermediary_users_are_bound_to_their_tenant_and_kept_out_of_staff_routes() {
    let app = TestApp::new();
    let (_, _) = app.user(json!({ "email": "kommune@dortmund.de", "name": "Karl Kommune", "role": "municipality", "municipality_ags": "05913000", "may_sign": true }));
    let dataport = app.organisation("intermediaries", "Dataport AöR");
    app.user(json!({ "email": "iv@dataport.de", "name": "Ina Vertreterin", "role": "intermediary", "organisation_id": dataport }));
    let users = app.ok("GET", "/api/v1/users", None);
    let karl = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "kommune@dortmund.de")
        .unwrap();
    assert_eq!(
        karl["municipality_id"],
        app.municipality("05913000").as_str()
    );
    assert_eq!(karl["may_sign"], true);
    for email in ["kommune@dortmund.de", "iv@dataport.de"] {
        let token = app.token_for(email);
        for path in ["/api/v1/municipalities", "/api/v1/users", "/api/v1/audit"] {
            let (status, v) = app.send_as(&token, "GET", path, None);
            assert_eq!(status, Status::Forbidden, "{email} {path}: {v}");
        }
        // The public catalogue stays public.
        let (status, _) = app.send_as(&token, "GET", "/api/v1/catalog", None);
        assert_eq!(status, Status::Ok);
    }
}

#[test]
fn user_input_is_checked_with_german_messages() {
    let app = TestApp::new();
    for (body, field) in [
        (
            json!({ "email": "keine-adresse", "name": "A", "role": "clerk" }),
            "email",
        ),
        (
            json!({ "email": "a@d-nrw.de", "name": "A", "role": "chef" }),
            "role",
        ),
        (
            json!({ "email": "a@d-nrw.de", "name": "A", "role": "clerk", "password": "kurz" }),
            "password",
        ),
        (
            json!({ "email": "a@d-nrw.de", "name": "A", "role": "municipality" }),
            "municipality_id",
        ),
        (
            json!({ "email": "a@d-nrw.de", "name": "A", "role": "municipality", "municipality_ags": "99999999" }),
            "municipality_ags",
        ),
        (
            json!({ "email": "a@d-nrw.de", "name": "A", "role": "clerk", "municipality_ags": "05913000" }),
            "municipality_id",
        ),
        (
            json!({ "email": "a@d-nrw.de", "name": "A", "role": "intermediary" }),
            "organisation_id",
        ),
    ] {
        let (status, v) = app.post("/api/v1/users", body.clone());
        assert_eq!(status, Status::UnprocessableEntity, "{body}: {v}");
        assert_eq!(v["fields"][0]["field"], field, "{body}: {v}");
    }
    // d-NRW itself is no other Land's intermediary.
    let (status, v) = app.post("/api/v1/users", json!({ "email": "a@d-nrw.de", "name": "A", "role": "intermediary", "organisation_id": app.dnrw() }));
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    app.user(json!({ "email": "a@d-nrw.de", "name": "A", "role": "clerk", "password": "ein langes gutes Passwort" }));
    let (status, v) = app.post(
        "/api/v1/users",
        json!({ "email": "A@d-nrw.de", "name": "B", "role": "admin" }),
    );
    assert_eq!(status, Status::Conflict, "{v}");
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("schon einen Benutzer"));
    // The bootstrap token is nobody: it has no tokens of its own.
    let (status, v) = app.post("/api/v1/tokens", json!({ "name": "x" }));
    assert_eq!(status, Status::Conflict, "{v}");
}

#[test]
fn a_municipality_signatory_signs_the_rv_a_clerk_countersigns_and_both_download_it() {
    let app = TestApp::new();
    let dortmund = app.municipality("05913000");
    app.user(json!({ "email": "ob@dortmund.de", "name": "Olga Oberbürgermeisterin", "role": "municipality", "municipality_ags": "05913000", "may_sign": true }));
    app.user(json!({ "email": "sb@dortmund.de", "name": "Sven Sachbearbeiter", "role": "municipality", "municipality_ags": "05913000" }));
    app.user(json!({ "email": "ob@essen.de", "name": "Egon Essen", "role": "municipality", "municipality_ags": "05113000", "may_sign": true }));
    app.user(json!({ "email": "clerk@d-nrw.de", "name": "Clara Clerk", "role": "clerk", "may_sign": true }));
    app.user(json!({ "email": "kollege@d-nrw.de", "name": "Kai Kollege", "role": "clerk" }));
    let (ob, sb, essen, clerk) = (
        app.token_for("ob@dortmund.de"),
        app.token_for("sb@dortmund.de"),
        app.token_for("ob@essen.de"),
        app.token_for("clerk@d-nrw.de"),
    );
    let (_, rv) = app.send_as(
        &clerk,
        "POST",
        "/api/v1/agreements",
        Some(json!({ "kind": "rv", "municipality_id": dortmund })),
    );
    let id = rv["id"].as_str().unwrap().to_string();
    app.send_as(
        &clerk,
        "POST",
        &format!("/api/v1/agreements/{id}/transitions"),
        Some(json!({ "action": "submit" })),
    );
    let sign = |token: &str| {
        app.send_as(
            token,
            "POST",
            &format!("/api/v1/agreements/{id}/signatures"),
            Some(json!({})),
        )
    };

    // The clerk waits for the city; a colleague without authority and another city cannot sign.
    assert_eq!(sign(&clerk).0, Status::Conflict);
    let (status, v) = sign(&sb);
    assert_eq!(status, Status::Forbidden, "{v}");
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("nicht als zeichnungsberechtigt"));
    assert_eq!(
        sign(&essen).0,
        Status::NotFound,
        "another city does not even see it"
    );
    // A municipality user cannot record someone else's signature.
    let contact = app.signatory(&format!("municipalities/{dortmund}"), "Jemand Anderes");
    let (status, _) = app.send_as(
        &ob,
        "POST",
        &format!("/api/v1/agreements/{id}/signatures"),
        Some(json!({ "contact_id": contact })),
    );
    assert_eq!(status, Status::Forbidden);

    let (status, state) = sign(&ob);
    assert_eq!(status, Status::Created, "{state}");
    // A clerk whose account does not say so does not sign for d-NRW.
    let (status, v) = sign(&app.token_for("kollege@d-nrw.de"));
    assert_eq!(status, Status::Forbidden, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("Kai Kollege ist nicht als zeichnungsberechtigt"),
        "{v}"
    );
    let first = &state["required"][0]["signature"];
    assert_eq!(first["signer_name"], "Olga Oberbürgermeisterin");
    assert_eq!(first["actor"], "user:ob@dortmund.de");
    assert!(first["contact_id"].is_null() && first["user_id"].is_string());
    assert!(first["auth_method"]
        .as_str()
        .unwrap()
        .contains("ob@dortmund.de"));
    let (status, state) = sign(&clerk);
    assert_eq!(status, Status::Created, "{state}");
    assert_eq!(
        state["required"][1]["signature"]["signer_name"],
        "Clara Clerk"
    );
    assert_eq!(
        state["required"][1]["signature"]["signer_function"],
        "zeichnungsberechtigt"
    );
    assert!(state["document"]["sha256"].is_string(), "sealed: {state}");

    // Both download the same sealed PDF; it names both signatories.
    let download = |token: &str| {
        app.client
            .get(format!("/api/v1/agreements/{id}/document.pdf"))
            .header(rocket::http::Header::new(
                "Authorization",
                format!("Bearer {token}"),
            ))
            .dispatch()
            .into_bytes()
            .unwrap()
    };
    let pdf = download(&ob);
    assert_eq!(pdf, download(&clerk));
    let (_, text) = tool("pdftotext", &[], &pdf);
    assert!(
        text.contains("Olga Oberbürgermeisterin") && text.contains("Clara Clerk"),
        "{text}"
    );
    let (ok, out) = tool("pdfsig", &[], &pdf);
    assert!(ok && out.contains("Signature is Valid"), "{out}");
}

#[test]
fn a_municipality_files_its_own_rv_and_einzelabruf_through_the_api_and_nothing_else() {
    let app = TestApp::new();
    let (_, ekv, wohngeld) = wohngeld_supply(&app);
    let dortmund = app.municipality("05913000");
    let essen = app.municipality("05113000");
    let dataport = app.organisation("intermediaries", "Dataport AöR");
    app.user(json!({ "email": "a@dortmund.de", "name": "Anna A", "role": "municipality", "municipality_id": dortmund, "may_sign": true }));
    app.user(json!({ "email": "iv@dataport.de", "name": "Ina I", "role": "intermediary", "organisation_id": dataport.clone() }));
    let anna = app.token_for("a@dortmund.de");
    let ina = app.token_for("iv@dataport.de");

    // Its own RV: created for its municipality and put up for signature at once.
    let (status, rv) = app.send_as(
        &anna,
        "POST",
        "/api/v1/agreements",
        Some(json!({ "kind": "rv" })),
    );
    assert_eq!(status, Status::Created, "{rv}");
    assert_eq!(rv["municipality"]["id"], dortmund.as_str());
    assert_eq!(rv["status"], "awaiting_signatures");
    assert_eq!(rv["created_by"], "user:a@dortmund.de");
    // Not for another municipality, no other kinds, no counterparty.
    for (body, why) in [
        (
            json!({ "kind": "rv", "municipality_id": essen }),
            "another municipality",
        ),
        (
            json!({ "kind": "ekv", "counterparty_id": dataport, "service_id": wohngeld }),
            "an EKV",
        ),
        (
            json!({ "kind": "ea", "service_id": wohngeld, "counterparty_id": dataport }),
            "a counterparty",
        ),
    ] {
        let (status, v) = app.send_as(&anna, "POST", "/api/v1/agreements", Some(body));
        assert_eq!(status, Status::Forbidden, "{why}: {v}");
    }
    let (status, _) = app.send_as(
        &ina,
        "POST",
        "/api/v1/agreements",
        Some(json!({ "kind": "rv", "municipality_id": essen })),
    );
    assert_eq!(status, Status::Forbidden, "intermediaries create nothing");

    // The EA needs the RV in force (the model says what is missing) …
    let (status, v) = app.send_as(
        &anna,
        "POST",
        "/api/v1/agreements",
        Some(json!({ "kind": "ea", "service_id": wohngeld, "parameters": wohngeld_parameters() })),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert_eq!(v["error"], "rule_violation");
    // … and once it is, the EA is filed with the EKV's AVV and waits for signatures.
    app.sign_all(rv["id"].as_str().unwrap());
    app.step(rv["id"].as_str().unwrap(), "activate");
    let (status, ea) = app.send_as(
        &anna,
        "POST",
        "/api/v1/agreements",
        Some(json!({ "kind": "ea", "service_id": wohngeld, "parameters": wohngeld_parameters() })),
    );
    assert_eq!(status, Status::Created, "{ea}");
    assert_eq!(ea["status"], "awaiting_signatures");
    assert_eq!(ea["links"]["ekv"]["id"], ekv["id"]);
    assert_eq!(
        ea["terms"]["avv"]["subject"],
        avv()["subject"],
        "the EKV's AVV applies"
    );
    let nothing_filed_for_essen = app
        .get(&format!("/api/v1/agreements?municipality_id={essen}"))
        .1;
    assert_eq!(nothing_filed_for_essen["total"], 0);
}

/// Through the API an admin may invite instead of getting an initial password: the user is
/// mailed a one-time link, and the answer carries no password.
#[test]
fn an_api_admin_invites_a_user_who_then_sets_the_password_through_the_link() {
    let app = TestApp::new();
    let (status, v) = app.post(
        "/api/v1/users",
        json!({ "email": "neu@d-nrw.de", "name": "Neu", "role": "clerk", "invite": true, "password": "Ein-Passwort-2026" }),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert!(v.to_string().contains("Passwort selbst fest"), "{v}");
    let (status, v) = app.post(
        "/api/v1/users",
        json!({ "email": "neu@d-nrw.de", "name": "Neu", "role": "clerk", "invite": true }),
    );
    assert_eq!(status, Status::Created, "{v}");
    assert!(v.get("initial_password").is_none(), "{v}");
    assert!(v["invitation"]["expires_at"].is_string(), "{v}");
    let bodies: Vec<String> = app
        .db()
        .read_blocking(|c| {
            use diesel::prelude::*;
            use nachnutzung::db::schema::outbox;
            Ok(outbox::table
                .filter(outbox::kind.eq("account_invitation"))
                .filter(outbox::recipient.eq("neu@d-nrw.de"))
                .select(outbox::body_text)
                .load::<String>(c)?)
        })
        .unwrap();
    assert_eq!(
        bodies.len(),
        1,
        "one invitation, no 'Zugang angelegt' mail besides"
    );
    let secret = app.invitation_secret("neu@d-nrw.de");
    let user = app
        .db()
        .write_blocking(move |c| {
            nachnutzung::actions::invitation::accept(
                c,
                &secret,
                "Neu-eigenes-Passwort-2026",
                "Neu-eigenes-Passwort-2026",
            )
        })
        .unwrap();
    assert!(!user.must_change_password);
    // The plain way stays: an initial password in the answer, once.
    let (status, v) = app.post(
        "/api/v1/users",
        json!({ "email": "alt@d-nrw.de", "name": "Alt", "role": "clerk" }),
    );
    assert_eq!(status, Status::Created, "{v}");
    assert!(v["initial_password"].is_string(), "{v}");
}
