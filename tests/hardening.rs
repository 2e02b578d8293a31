//! The defects found by testing from outside (issue "Hardening"), each as a regression test
//! on both backends: control characters and overlong text, the login throttle under
//! parallel attempts, migrations of instances starting together, a private key sent with
//! a certificate, and the API's contract (413, 405 with Allow, a parameter given twice).

mod common;

use std::sync::{Arc, Barrier};

use common::*;
use nachnutzung::db::{Db, DbUrl};
use nachnutzung::domain::text::{Email, Secret};
use nachnutzung::models::user::{self, LoginOutcome};
use rocket::http::{ContentType, Header, Status};
use serde_json::{json, Value};

fn audit_total(app: &TestApp) -> Value {
    app.get("/api/v1/audit?per_page=1").1["total"].clone()
}

fn new_service(name: &str) -> Value {
    json!({ "name": name, "leika_keys": ["99107023000000"], "availability": "available" })
}

#[test]
fn control_characters_and_overlong_text_in_json_are_refused_at_the_field_and_nothing_is_stored() {
    let app = TestApp::new();
    let before = audit_total(&app);
    let services = app.get("/api/v1/services").1.as_array().unwrap().len();

    let (status, v) = app.post("/api/v1/services", new_service("nul\u{0}dienst"));
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert_eq!(field_names(&v), ["name"]);
    assert!(v["fields"][0]["message"]
        .as_str()
        .unwrap()
        .contains("Nullzeichen"));

    let (status, v) = app.post("/api/v1/services", new_service(&"D".repeat(2700)));
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert_eq!(
        v["fields"][0]["message"],
        "Höchstens 200 Zeichen sind erlaubt, eingegeben wurden 2.700."
    );
    let (status, _) = app.post("/api/v1/services", new_service(&"D".repeat(500_000)));
    assert_eq!(status, Status::UnprocessableEntity);
    assert_eq!(audit_total(&app), before, "nothing written");

    // Nested and map fields are named by their path.
    let (dortmund, wohngeld) = dortmund_ready_for_wohngeld(&app);
    let before_ea = audit_total(&app);
    let mut bad_avv = avv();
    bad_avv["data_types"][1] = json!("Anschrift\u{1b}[31m");
    let (status, v) = app.post(
        "/api/v1/agreements",
        json!({ "kind": "ea", "municipality_id": dortmund, "service_id": wohngeld, "avv": bad_avv,
                "parameters": { "kontakt_email": "a\u{0}@b.de" } }),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert_eq!(
        field_names(&v),
        ["avv.data_types[1]", "parameters.kontakt_email"]
    );
    assert_eq!(audit_total(&app), before_ea, "nothing written");

    // Contacts, users, tokens: the same rule.
    let (status, v) = app.post(
        &format!("/api/v1/municipalities/{dortmund}/contacts"),
        json!({ "name": "Erika\u{0}", "email": "erika@dortmund.de" }),
    );
    assert_eq!(
        (status, field_names(&v)),
        (Status::UnprocessableEntity, vec!["name".to_string()])
    );
    let (status, v) = app.post(
        "/api/v1/users",
        json!({ "email": "nul\u{0}byte@example.org", "name": "N", "role": "clerk" }),
    );
    assert_eq!(
        (status, field_names(&v)),
        (Status::UnprocessableEntity, vec!["email".to_string()])
    );

    // A lone surrogate is not JSON text: 400, not 500.
    let (status, v) = app.post_raw("/api/v1/services", r#"{"name": "\ud800"}"#);
    assert_eq!(status, Status::BadRequest, "{v}");
    assert_eq!(v["error"], "malformed_json");

    assert_eq!(
        app.get("/api/v1/services").1.as_array().unwrap().len(),
        services
    );

    // Text is stored in NFC: a decomposed "ä" is the same as a composed one.
    let v = app.ok(
        "POST",
        "/api/v1/services",
        Some(new_service("Ka\u{0308}se-Dienst")),
    );
    assert_eq!(v["name"], "Käse-Dienst");
    let (status, v) = app.post("/api/v1/services", new_service("Käse-Dienst"));
    assert_eq!(status, Status::Conflict, "the same name: {v}");
}

#[test]
fn search_strings_are_bounded_and_checked_not_a_500() {
    let app = TestApp::new();
    let long = "a".repeat(60_000);
    for q in [long.as_str(), "%00", "x%00y"] {
        let (status, v) = app.get(&format!("/api/v1/municipalities?q={q}"));
        assert_eq!(status, Status::UnprocessableEntity, "{q:.20}: {v}");
        assert_eq!(field_names(&v), ["q"]);
    }
    let (status, v) = app.get("/api/v1/municipalities?q=K%C3%B6ln");
    assert_eq!((status, v["total"].as_i64()), (Status::Ok, Some(1)));

    let clerk =
        app.signed_in(json!({ "email": "clerk@d-nrw.de", "name": "Carl", "role": "clerk" }));
    let page = app.web_get(Some(&clerk), &format!("/kommunen?q={long}"));
    assert_eq!(page.status, Status::UnprocessableEntity);
    assert!(
        page.text().contains("Höchstens 200 Zeichen"),
        "{}",
        page.text()
    );
    let page = app.web_get(Some(&clerk), "/kommunen?q=%00");
    assert_eq!(page.status, Status::UnprocessableEntity);
}

/// The login form's CSRF token (from the page, with its cookie kept by the client).
fn login_token(app: &TestApp) -> String {
    let page = app.web_get(None, "/anmelden");
    let at = page
        .body
        .find("name=\"csrf\" value=\"")
        .expect("csrf field")
        + 19;
    page.body[at..at + 64].to_string()
}

#[test]
fn a_nul_byte_at_login_gets_a_german_message_not_a_500() {
    let app = TestApp::new();
    let csrf = login_token(&app);
    let page = app.web_post(
        None,
        "/anmelden",
        &[
            ("csrf", &csrf),
            ("email", "nul\u{0}byte@example.org"),
            ("password", "irgendein Passwort"),
        ],
    );
    assert_eq!(page.status, Status::UnprocessableEntity, "{}", page.text());
    assert!(page.text().contains("Nullzeichen"), "{}", page.text());
    // The web contact form refuses it at the field too.
    let clerk =
        app.signed_in(json!({ "email": "clerk@d-nrw.de", "name": "Carl", "role": "clerk" }));
    let koeln = app.municipality("05315000");
    let page = app.web_post(
        Some(&clerk),
        &format!("/kommunen/{koeln}/ansprechpersonen"),
        &[
            ("name", "Erika\u{0}Muster"),
            ("email", "erika@stadt-koeln.de"),
        ],
    );
    assert_eq!(page.status, Status::UnprocessableEntity);
    assert!(page.text().contains("Nullzeichen"), "{}", page.text());
}

#[test]
fn bodies_over_their_limit_get_413_as_json_or_german_html() {
    let app = TestApp::new();
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(1_100_000));
    let (status, v) = app.post_raw("/api/v1/services", &big);
    assert_eq!(status, Status::PayloadTooLarge, "{v}");
    assert_eq!(v["error"], "too_large");
    let clerk =
        app.signed_in(json!({ "email": "clerk@d-nrw.de", "name": "Carl", "role": "clerk" }));
    let koeln = app.municipality("05315000");
    let note = "x".repeat(100_000);
    let page = app.web_post(
        Some(&clerk),
        &format!("/kommunen/{koeln}/ansprechpersonen"),
        &[("name", &note)],
    );
    assert_eq!(page.status, Status::PayloadTooLarge);
    assert!(page.text().contains("zu groß"), "{}", page.text());
}

#[test]
fn a_query_parameter_given_twice_is_a_422_naming_it() {
    let app = TestApp::new();
    for path in [
        "/api/v1/agreements?per_page=null&per_page=null",
        "/api/v1/municipalities?page=1&page=2",
        "/api/v1/tasks?status=open&status=done",
    ] {
        let (status, v) = app.get(path);
        assert_eq!(status, Status::UnprocessableEntity, "{path}: {v}");
        assert!(v["message"].as_str().unwrap().contains("mehrfach"), "{v}");
    }
    let (status, _) = app.get("/api/v1/municipalities?page=1&per_page=5");
    assert_eq!(status, Status::Ok);
}

#[test]
fn undeclared_methods_get_405_with_allow() {
    let app = TestApp::new();
    let res = app
        .client
        .put("/api/v1/agreements")
        .header(Header::new("Authorization", format!("Bearer {TOKEN}")))
        .dispatch();
    assert_eq!(res.status(), Status::MethodNotAllowed);
    assert_eq!(res.headers().get_one("Allow"), Some("GET, HEAD, POST"));
    let v: Value = res.into_json().unwrap();
    assert_eq!(v["error"], "method_not_allowed");
    let res = app.client.delete("/api/v1/catalog").dispatch();
    assert_eq!(res.status(), Status::MethodNotAllowed);
    assert_eq!(res.headers().get_one("Allow"), Some("GET, HEAD"));
    // The pages too, in German.
    let res = app.client.get("/abmelden").dispatch();
    assert_eq!(res.status(), Status::MethodNotAllowed);
    assert_eq!(res.headers().get_one("Allow"), Some("POST"));
    assert_eq!(res.content_type(), Some(ContentType::HTML));
    // A path that does not exist stays a 404.
    assert_eq!(
        app.client.put("/api/v1/nichts").dispatch().status(),
        Status::NotFound
    );
    assert_eq!(
        app.client.get("/nichts").dispatch().status(),
        Status::NotFound
    );
}

#[test]
fn a_certificate_sent_with_its_private_key_is_refused_and_nothing_is_stored() {
    let app = TestApp::new();
    let (dortmund, wohngeld) = dortmund_ready_for_wohngeld(&app);
    let ea = wohngeld_ea(&app, &dortmund, &wohngeld);
    let ea = ea["id"].as_str().unwrap();
    let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let key_pem = String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    let cert = certificate("dortmund.de", -1, 365, &["keyEncipherment"]);
    let before = audit_total(&app);
    for body in [format!("{cert}{key_pem}"), format!("{key_pem}{cert}")] {
        let res = app
            .client
            .post(format!("/api/v1/agreements/{ea}/certificate"))
            .header(Header::new("Authorization", format!("Bearer {TOKEN}")))
            .body(body)
            .dispatch();
        assert_eq!(res.status(), Status::UnprocessableEntity);
        let v: Value = res.into_json().unwrap();
        let message = v["fields"][0]["message"].as_str().unwrap();
        assert!(message.contains("privaten Schlüssel"), "{message}");
        assert!(message.contains("kompromittiert"), "{message}");
    }
    assert_eq!(audit_total(&app), before, "nothing stored");
    let (status, _) = app.post_raw(&format!("/api/v1/agreements/{ea}/certificate"), &cert);
    assert_eq!(status, Status::Created, "the certificate alone is taken");
}

/// 20 wrong passwords at once for one account, from two instances (pools) on one
/// database: exactly `FREE_FAILURES` (5) are checked, the others are throttled.
#[test]
fn twenty_parallel_logins_from_two_instances_check_exactly_five_passwords() {
    let app = TestApp::new();
    app.user(json!({ "email": "ziel@d-nrw.de", "name": "Ziel", "role": "clerk" }));
    let url = DbUrl::parse(&app.database_url).unwrap();
    let instances = [Db::open(&url, 8).unwrap(), Db::open(&url, 8).unwrap()];
    let start = Arc::new(Barrier::new(20));
    let attempts: Vec<_> = (0..20)
        .map(|i| {
            let db = instances[i % 2].clone();
            let start = start.clone();
            std::thread::spawn(move || {
                let email = Email::parse("email", "ziel@d-nrw.de").unwrap();
                let password = Secret::parse("password", &format!("falsch-{i}-xxxxxxxx")).unwrap();
                start.wait();
                user::login(&db, &email, &password, "192.0.2.7").unwrap()
            })
        })
        .collect();
    let outcomes: Vec<LoginOutcome> = attempts.into_iter().map(|a| a.join().unwrap()).collect();
    let checked = outcomes
        .iter()
        .filter(|o| matches!(o, LoginOutcome::Refused))
        .count();
    let throttled = outcomes
        .iter()
        .filter(|o| matches!(o, LoginOutcome::Throttled(_)))
        .count();
    assert_eq!((checked, throttled), (5, 15), "{outcomes:?}");
    // The next attempt, even with the right password, waits.
    let email = Email::parse("email", "ziel@d-nrw.de").unwrap();
    let any = Secret::parse("password", "egal").unwrap();
    assert!(matches!(
        user::login(&instances[0], &email, &any, "192.0.2.8").unwrap(),
        LoginOutcome::Throttled(_)
    ));
}

/// Four processes start on one empty database at once: all come up, and the schema is
/// migrated exactly once.
#[test]
fn four_processes_migrating_an_empty_database_together_all_succeed() {
    let (url, _cleanup) = fresh_database();
    let dir = std::env::temp_dir().join(format!(
        "nachnutzung-migrate-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_nachnutzung"))
                .args(["--database-url", &url, "migrate"])
                .env("NACHNUTZUNG_DATA_DIR", &dir)
                .env("NACHNUTZUNG_SEED_REFERENCE_DATA", "false")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count() as i64;
    let db = Db::open(&DbUrl::parse(&url).unwrap(), 1).unwrap();
    let applied: i64 = db
        .read_blocking(|conn| {
            use diesel::RunQueryDsl;
            #[derive(diesel::QueryableByName)]
            struct N {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            Ok(
                diesel::sql_query("SELECT COUNT(*) AS n FROM __diesel_schema_migrations")
                    .get_result::<N>(conn)?
                    .n,
            )
        })
        .unwrap();
    assert_eq!(applied, migrations);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The names of a JSON body's fields, from the refusal of an unknown one (every body
/// refuses unknown fields and lists the ones it takes).
fn body_fields(message: &str) -> Vec<String> {
    let Some((_, expected)) = message.split_once("expected one of ") else {
        return message
            .split_once("expected `")
            .map(|(_, rest)| vec![rest.split('`').next().unwrap_or("").to_string()])
            .unwrap_or_default();
    };
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// NUL, 100,000 characters and a lone surrogate in every field of every JSON body of the
/// API (the operations from the served OpenAPI document, which a test keeps equal to the
/// mounted routes): always a 4xx, never a 5xx, and nothing stored.
#[test]
fn every_json_body_field_refuses_nul_overlong_text_and_lone_surrogates() {
    let app = TestApp::new();
    let (dortmund, wohngeld) = dortmund_ready_for_wohngeld(&app);
    let ea = wohngeld_ea(&app, &dortmund, &wohngeld);
    let ea = ea["id"].as_str().unwrap().to_string();
    let plan = app.ok("GET", &format!("/api/v1/agreements/{ea}/tasks"), None);
    let task = plan["tasks"][0]["id"].as_str().unwrap().to_string();
    let dataport = app.organisation("intermediaries", "Dataport AöR");
    app.user(json!({ "email": "admin@d-nrw.de", "name": "Ada Admin", "role": "admin" }));
    let admin = app.token_for("admin@d-nrw.de");
    let (_, doc) = app.get_anon("/api/v1/openapi.json");
    let before = audit_total(&app);
    let tokens = app.send_as(&admin, "GET", "/api/v1/tokens", None).1;
    let long = "x".repeat(100_000);
    let mut operations = 0;
    let mut cases = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let json_body = op["requestBody"]["content"]
                .get("application/json")
                .is_some();
            if !json_body {
                continue;
            }
            let id = match template.split('/').nth(3).unwrap_or("") {
                "municipalities" => dortmund.clone(),
                "organisations" | "intermediaries" | "providers" => dataport.clone(),
                "services" => wohngeld.clone(),
                "tasks" => task.clone(),
                _ => ea.clone(),
            };
            let path = template.replace("{id}", &id).replace("{no}", "2");
            let method = method.to_uppercase();
            let send = |raw: String| {
                let mut req = match method.as_str() {
                    "POST" => app.client.post(path.clone()),
                    "PATCH" => app.client.patch(path.clone()),
                    other => panic!("{other}"),
                };
                req = req
                    .header(Header::new("Authorization", format!("Bearer {admin}")))
                    .header(ContentType::JSON)
                    .body(raw);
                let res = req.dispatch();
                let status = res.status();
                let v: Value = res.into_json().unwrap_or(Value::Null);
                (status, v)
            };
            let (status, v) = send(r#"{"zz_unbekannt": 1}"#.into());
            assert_eq!(status, Status::UnprocessableEntity, "{method} {path}: {v}");
            let fields = body_fields(v["message"].as_str().unwrap_or(""));
            assert!(!fields.is_empty(), "{method} {path} names no fields: {v}");
            operations += 1;
            for field in &fields {
                let bodies = [
                    json!({ field: "a\u{0}b" }).to_string(),
                    json!({ field: long }).to_string(),
                    format!(r#"{{"{field}": "\ud800"}}"#),
                ];
                for body in bodies {
                    let (status, v) = send(body);
                    assert!(
                        status.code >= 400 && status.code < 500,
                        "{method} {path} {field}: {status} {v}"
                    );
                    cases += 1;
                }
            }
        }
    }
    assert!(
        operations >= 15 && cases >= 100,
        "{operations} bodies, {cases} cases"
    );
    assert_eq!(audit_total(&app), before, "nothing stored");
    assert_eq!(
        app.send_as(&admin, "GET", "/api/v1/tokens", None).1,
        tokens,
        "no token issued"
    );
}
