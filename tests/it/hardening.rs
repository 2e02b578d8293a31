//! The defects found by testing from outside (issue "Hardening"), each as a regression test
//! on both backends: control characters and overlong text, the login throttle under
//! parallel attempts, migrations of instances starting together, a private key sent with
//! a certificate, and the API's contract (413, 405 with Allow, a parameter given twice).

use std::sync::{Arc, Barrier};

use crate::common::*;
use nachnutzung::actions::accounts::LoginOutcome;
use nachnutzung::db::{Db, DbUrl};
use nachnutzung::domain::text::{Email, Secret};
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
    assert!(page.text().contains("Nullzeichen"), "{}", page.text());
    assert!(
        page.body.contains("href=\"&#x2F;kommunen\">Zurück"),
        "back to the list"
    );

    // A filter value that is not one of the choices is named, not silently dropped.
    for (path, says) in [
        (
            "/vereinbarungen?art=xyz",
            "Diesen Wert gibt es für „Art“ nicht",
        ),
        ("/vereinbarungen?status=laeuft", "für „Status“ nicht"),
        (
            "/kommunen?traeger=vielleicht",
            "für „Träger der d-NRW“ nicht",
        ),
        ("/aufgaben?ansicht=morgen", "für „Ansicht“ nicht"),
    ] {
        let page = app.web_get(Some(&clerk), path);
        assert_eq!(page.status, Status::UnprocessableEntity, "{path}");
        assert!(page.text().contains(says), "{path}: {}", page.text());
        assert!(!page.text().contains("xyz"), "the value is not echoed");
    }
    let ok = app.web_get(Some(&clerk), "/vereinbarungen?art=rv&status=");
    assert_eq!(ok.status, Status::Ok);

    // The public catalogue's search: bounded and checked, anonymous or not.
    let page = app.web_get(None, &format!("/katalog?q={}", "w".repeat(201)));
    assert_eq!(page.status, Status::UnprocessableEntity);
    assert!(
        page.text().contains("Suchbegriff: Höchstens 200 Zeichen"),
        "{}",
        page.text()
    );
    let page = app.web_get(None, "/katalog?q=Wohngeld");
    assert_eq!(page.status, Status::Ok);
    assert!(page.text().contains("Wohngeld"));
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
                nachnutzung::actions::accounts::login(&db, &email, &password, "192.0.2.7").unwrap()
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
        nachnutzung::actions::accounts::login(&instances[0], &email, &any, "192.0.2.8").unwrap(),
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
    let applied = number(&db, "SELECT COUNT(*) AS n FROM __diesel_schema_migrations");
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
                    "PUT" => app.client.put(path.clone()),
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

/// One field of an HTML form: its name, the value the browser would send, and whether it
/// is a file input.
struct FormField {
    name: String,
    value: String,
    sent: bool,
    file: bool,
}

/// A form as a page offers it.
struct HtmlForm {
    method: String,
    action: String,
    multipart: bool,
    fields: Vec<FormField>,
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&")
}

/// One tag of a page: its name, its attributes, and the text up to the next tag.
type Tag = (String, Vec<(String, String)>, String);

/// The tags of a page in order.
fn tags(html: &str) -> Vec<Tag> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        let Some(end) = rest.find('>') else { break };
        let inside = &rest[..end];
        rest = &rest[end + 1..];
        let text = rest[..rest.find('<').unwrap_or(rest.len())].to_string();
        let (name, mut attrs) = inside
            .split_once(char::is_whitespace)
            .unwrap_or((inside, ""));
        let mut list = Vec::new();
        loop {
            attrs = attrs.trim_start();
            if attrs.is_empty() || attrs == "/" {
                break;
            }
            let key_end = attrs
                .find(|c: char| c == '=' || c.is_whitespace())
                .unwrap_or(attrs.len());
            let key = attrs[..key_end].to_ascii_lowercase();
            attrs = &attrs[key_end..];
            let value = if let Some(v) = attrs.strip_prefix("=\"") {
                let close = v.find('"').unwrap_or(v.len());
                attrs = &v[(close + 1).min(v.len())..];
                unescape(&v[..close])
            } else {
                String::new()
            };
            list.push((key, value));
        }
        out.push((name.to_ascii_lowercase(), list, text));
    }
    out
}

fn attr<'a>(attrs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The forms of a page with the values a browser would submit unchanged.
fn html_forms(html: &str) -> Vec<HtmlForm> {
    let mut forms = Vec::new();
    let mut current: Option<HtmlForm> = None;
    let mut select: Option<(String, Vec<(String, bool)>)> = None;
    for (tag, attrs, text) in tags(html) {
        match tag.as_str() {
            "form" => {
                current = Some(HtmlForm {
                    method: attr(&attrs, "method").unwrap_or("get").to_ascii_uppercase(),
                    action: attr(&attrs, "action").unwrap_or("").to_string(),
                    multipart: attr(&attrs, "enctype") == Some("multipart/form-data"),
                    fields: Vec::new(),
                })
            }
            "/form" => forms.extend(current.take()),
            _ => {}
        }
        let Some(form) = current.as_mut() else {
            continue;
        };
        let name = attr(&attrs, "name").map(str::to_string);
        match (tag.as_str(), name) {
            ("input", Some(name)) => {
                let kind = attr(&attrs, "type").unwrap_or("text");
                let checkable = kind == "checkbox" || kind == "radio";
                let value = attr(&attrs, "value")
                    .unwrap_or(if checkable { "on" } else { "" })
                    .to_string();
                let sent = !checkable || attr(&attrs, "checked").is_some();
                if form.fields.iter().any(|f| f.name == name) && !sent {
                    continue;
                }
                form.fields.retain(|f| f.name != name || kind != "radio");
                form.fields.push(FormField {
                    name,
                    value,
                    sent,
                    file: kind == "file",
                });
            }
            ("textarea", Some(name)) => form.fields.push(FormField {
                name,
                value: unescape(&text),
                sent: true,
                file: false,
            }),
            ("button", Some(name)) if !form.fields.iter().any(|f| f.name == name) => {
                form.fields.push(FormField {
                    name,
                    value: attr(&attrs, "value").unwrap_or("").to_string(),
                    sent: true,
                    file: false,
                })
            }
            ("select", Some(name)) => select = Some((name, Vec::new())),
            ("option", _) => {
                if let Some((_, options)) = select.as_mut() {
                    let value = attr(&attrs, "value")
                        .map(str::to_string)
                        .unwrap_or_else(|| unescape(text.trim()));
                    options.push((value, attr(&attrs, "selected").is_some()));
                }
            }
            ("/select", _) => {
                if let Some((name, options)) = select.take() {
                    let value = options
                        .iter()
                        .find(|(_, selected)| *selected)
                        .or(options.first())
                        .map(|(v, _)| v.clone())
                        .unwrap_or_default();
                    form.fields.push(FormField {
                        name,
                        value,
                        sent: true,
                        file: false,
                    });
                }
            }
            _ => {}
        }
    }
    forms
}

/// A path with its ids, numbers and query values replaced: one key per kind of page.
fn page_template(path: &str) -> String {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let path: Vec<String> = path
        .split('/')
        .map(|s| {
            if (s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4)
                || (s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                "<id>".to_string()
            } else if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
                "<no>".to_string()
            } else {
                s.to_string()
            }
        })
        .collect();
    let mut keys: Vec<&str> = query
        .split('&')
        .filter_map(|p| p.split('=').next())
        .filter(|k| !k.is_empty())
        .collect();
    keys.sort_unstable();
    format!("{}?{}", path.join("/"), keys.join("&"))
}

/// Every page a user reaches by following links from the start page (each kind of page
/// once, every agreement and task page), with the forms on it.
fn crawl(app: &TestApp, user: Option<&WebUser>, start: &[String]) -> Vec<HtmlForm> {
    let mut queue: std::collections::VecDeque<String> = start.iter().cloned().collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut forms = Vec::new();
    while let Some(path) = queue.pop_front() {
        let every = path.starts_with("/vereinbarungen/") || path.starts_with("/aufgaben/");
        let key = if every {
            path.clone()
        } else {
            page_template(&path)
        };
        if !seen.insert(key) || seen.len() > 400 {
            continue;
        }
        let page = app.web_get(user, &path);
        assert!(page.status.code < 500, "GET {path}: {}", page.status);
        for (tag, attrs, _) in tags(&page.body) {
            let Some(href) = attr(&attrs, "href").filter(|_| tag == "a") else {
                continue;
            };
            let href = href.split('#').next().unwrap_or("");
            let download = [".pdf", ".csv", ".ics", ".svg", ".png", ".json", ".zip"]
                .iter()
                .any(|e| href.split('?').next().unwrap_or("").ends_with(e));
            if href.starts_with('/')
                && !href.starts_with("/api/")
                && !href.starts_with("/static/")
                && !href.starts_with("/anlagen/")
                && !download
            {
                queue.push_back(href.to_string());
            }
        }
        forms.extend(html_forms(&page.body));
    }
    forms
}

/// NUL, 100,000 characters and an invalid UTF-8 sequence (the lone surrogate U+D800 as
/// bytes) in every field of every form the pages offer to any role, with every other
/// field as the page filled it in: always a 4xx, never a 5xx, and nothing stored. The
/// forms are found by crawling the pages; every mounted POST route must be among them.
#[test]
fn every_form_field_refuses_nul_overlong_text_and_invalid_utf8() {
    let app = TestApp::new();
    let (dortmund, wohngeld) = dortmund_ready_for_wohngeld(&app);
    let ea = wohngeld_ea(&app, &dortmund, &wohngeld);
    let koeln = app.municipality("05315000");
    app.in_force(json!({ "kind": "rv", "municipality_id": koeln }));
    let essen = app.municipality("05113000");
    let waiting = app.create(json!({ "kind": "rv", "municipality_id": essen }));
    let waiting = waiting["id"].as_str().unwrap().to_string();
    assert_eq!(app.step(&waiting, "submit").0, Status::Ok);
    let bonn = app.municipality("05314000");
    let muenster = app.municipality("05515000");
    app.create(json!({ "kind": "rv", "municipality_id": muenster }));
    let gelsenkirchen = app.municipality("05513000");
    let signed = app.create(json!({ "kind": "rv", "municipality_id": gelsenkirchen }));
    let signed = signed["id"].as_str().unwrap().to_string();
    assert_eq!(app.step(&signed, "submit").0, Status::Ok);
    app.sign_all(&signed);
    // Signed but not in force: the page offers "In Kraft setzen".
    app.stuck_signed(&signed);
    let ekv = app.ok("GET", "/api/v1/agreements?kind=ekv", None)["items"][0].clone();
    let (status, v) = app.post(
        &format!("/api/v1/agreements/{}/amendments", ekv["id"].as_str().unwrap()),
        json!({ "lock_version": ekv["lock_version"], "change_note": "Kosten ab 2027", "costs": "Nach Kostenschlüssel" }),
    );
    assert_eq!(status, Status::Created, "{v}");
    let dataport = app.organisation("intermediaries", "Dataport AöR");
    let gewerbe = app.service("Gewerbeanzeige");
    let invitation = app.invited_clerk("eingeladen@d-nrw.de");
    let users: Vec<Option<WebUser>> = [
        json!({ "email": "admin@d-nrw.de", "name": "Ada Admin", "role": "admin" }),
        json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }),
        json!({ "email": "do@stadtdo.de", "name": "Dora Dortmund", "role": "municipality", "municipality_id": dortmund, "may_sign": true }),
        json!({ "email": "erika@stadt-koeln.de", "name": "Erika Köln", "role": "municipality", "municipality_id": koeln, "may_sign": true }),
        json!({ "email": "bernd@essen.de", "name": "Bernd Essen", "role": "municipality", "municipality_id": essen, "may_sign": true }),
        json!({ "email": "bea@bonn.de", "name": "Bea Bonn", "role": "municipality", "municipality_id": bonn, "may_sign": true }),
        // Münster's RV is a draft: its page offers to submit it.
        json!({ "email": "mia@muenster.de", "name": "Mia Münster", "role": "municipality", "municipality_id": muenster, "may_sign": true }),
        json!({ "email": "ina@dataport.de", "name": "Ina Dataport", "role": "intermediary", "organisation_id": dataport }),
    ]
    .into_iter()
    .map(|body| Some(app.signed_in(body)))
    .chain([None])
    .collect();
    let ea_page = format!("/vereinbarungen/{}", ea["id"].as_str().unwrap());
    // A mail that failed: the outbox page offers to send it again.
    app.fail_oldest_mail("550 mailbox unavailable", 1);

    // Each form once per method, kind of action and set of fields, with the user whose
    // page offered it.
    let mut found: std::collections::BTreeMap<String, (usize, HtmlForm)> = Default::default();
    for (i, user) in users.iter().enumerate() {
        // The EA draft's form appears once a service is chosen in the filter above it.
        let start = [
            "/".to_string(),
            "/anmelden".into(),
            ea_page.clone(),
            format!("/vereinbarungen/neu-ea?dienst={wohngeld}"),
            // An NRW service: Dataport's page offers to ask for its re-use.
            format!("/katalog/{gewerbe}"),
            // The link of an invitation mail.
            format!("/einladung/{invitation}"),
        ];
        for form in crawl(&app, user.as_ref(), &start) {
            let mut names: Vec<&str> = form.fields.iter().map(|f| f.name.as_str()).collect();
            names.sort_unstable();
            let key = format!(
                "{} {} [{}]",
                form.method,
                page_template(&form.action),
                names.join(" ")
            );
            found.entry(key).or_insert((i, form));
        }
    }
    let mounted: std::collections::BTreeSet<String> = app
        .client
        .rocket()
        .routes()
        .filter(|r| r.method == rocket::http::Method::Post && !r.uri.path().starts_with("/api/"))
        .map(|r| {
            let path = r.uri.path().to_string();
            let template = path
                .split('/')
                .map(|s| match s {
                    "<no>" => "<no>",
                    s if s.starts_with('<') => "<id>",
                    s => s,
                })
                .collect::<Vec<_>>()
                .join("/");
            format!("POST {template}?")
        })
        .collect();
    let offered: std::collections::BTreeSet<&str> = found
        .keys()
        .map(|k| k.split(" [").next().unwrap_or(""))
        .collect();
    let missing: Vec<&String> = mounted
        .iter()
        .filter(|m| !offered.contains(m.as_str()))
        .collect();
    assert!(missing.is_empty(), "forms no page offers: {missing:?}");

    let before = audit_total(&app);
    let lists = |app: &TestApp| {
        [
            "/api/v1/users",
            "/api/v1/services",
            "/api/v1/agreements?per_page=100",
            "/api/v1/tasks?per_page=100",
            &format!("/api/v1/municipalities/{koeln}"),
            &format!("/api/v1/intermediaries/{dataport}"),
        ]
        .map(|path| app.get(path).1)
    };
    let state = lists(&app);
    let long = vec![b'x'; 100_000];
    let bad: [(&str, &[u8]); 3] = [
        ("NUL", b"a\0b"),
        ("100,000 characters", &long),
        ("invalid UTF-8 (U+D800)", &[0xED, 0xA0, 0x80]),
    ];
    let mut cases = 0;
    let mut failures = Vec::new();
    for (key, (who, form)) in &found {
        let user = users[*who].as_ref();
        for target in form.fields.iter().filter(|f| !f.file) {
            for (what, value) in bad {
                let fields: Vec<(String, Vec<u8>)> = form
                    .fields
                    .iter()
                    .filter(|f| !f.file && (f.sent || f.name == target.name))
                    .map(|f| {
                        let v = if f.name == target.name {
                            value.to_vec()
                        } else {
                            f.value.as_bytes().to_vec()
                        };
                        (f.name.clone(), v)
                    })
                    .collect();
                let encoded = fields
                    .iter()
                    .map(|(k, v)| format!("{}={}", urlencode(k), urlencode_bytes(v)))
                    .collect::<Vec<_>>()
                    .join("&");
                let page = if form.method == "GET" {
                    app.web_get(user, &format!("{}?{encoded}", form.action))
                } else if form.multipart {
                    let parts: Vec<(String, Option<&str>, Vec<u8>)> =
                        fields.into_iter().map(|(k, v)| (k, None, v)).collect();
                    app.web_multipart_raw(user, &form.action, &parts)
                } else {
                    app.web_post_raw(user, &form.action, &encoded)
                };
                if !(400..500).contains(&page.status.code)
                    || page.text().contains("Interner Fehler")
                {
                    failures.push(format!(
                        "{key} (user {who}), {what} in {}: {} {}",
                        target.name,
                        page.status,
                        page.text().chars().take(300).collect::<String>()
                    ));
                }
                cases += 1;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!(
        "{} forms ({}), {cases} cases",
        found.len(),
        found.keys().cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(
        found.len() >= 30 && cases >= 200,
        "{} forms, {cases} cases",
        found.len()
    );
    assert_eq!(audit_total(&app), before, "nothing stored");
    assert_eq!(lists(&app), state, "nothing changed");
}
