//! Bad input gets the documented JSON error, never a 500; writes need the token.

use crate::common::*;
use rocket::http::{ContentType, Header, Status};
use serde_json::json;

fn assert_error(status: Status, v: &serde_json::Value, expected: Status, code: &str) {
    assert_eq!(status, expected, "{v}");
    assert_eq!(v["error"], code, "{v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
}

#[test]
fn tests_run_on_the_backend_ci_asked_for() {
    let app = TestApp::new();
    let wants_pg = std::env::var("TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres"));
    assert_eq!(app.is_postgres(), wants_pg);
}

#[test]
fn reads_and_writes_need_the_staff_token_only_the_catalogue_is_public() {
    let app = TestApp::new();
    for path in [
        "/api/v1/agreements",
        "/api/v1/municipalities",
        "/api/v1/intermediaries",
        "/api/v1/providers",
        "/api/v1/services",
        "/api/v1/audit",
    ] {
        let (status, v) = app.get_anon(path);
        assert_error(status, &v, Status::Unauthorized, "unauthorized");
    }
    let (status, v) = app.post_anon("/api/v1/agreements", json!({ "kind": "rv" }));
    assert_error(status, &v, Status::Unauthorized, "unauthorized");
    let wrong = app
        .client
        .get("/api/v1/agreements")
        .header(Header::new(
            "Authorization",
            "Bearer not-the-token-at-all-000000000",
        ))
        .dispatch();
    assert_eq!(wrong.status(), Status::Unauthorized);
    assert_eq!(app.get_anon("/api/v1/catalog").0, Status::Ok);
    assert_eq!(app.get_anon("/api/v1/openapi.json").0, Status::Ok);
    // Nothing was written by the refused requests.
    assert_eq!(app.ok("GET", "/api/v1/agreements", None)["total"], 0);
}

#[test]
fn malformed_json_is_400_and_wrong_shapes_are_422() {
    let app = TestApp::new();
    let (status, v) = app.post_raw("/api/v1/agreements", "{\"kind\": \"rv\",");
    assert_error(status, &v, Status::BadRequest, "malformed_json");
    let (status, v) = app.post_raw("/api/v1/agreements", "{\"kind\": 5}");
    assert_error(status, &v, Status::UnprocessableEntity, "validation_failed");
    let (status, v) = app.post(
        "/api/v1/agreements",
        json!({ "kind": "rv", "municipality": "Dortmund" }),
    );
    assert_error(status, &v, Status::UnprocessableEntity, "validation_failed");
    assert!(
        v["message"].as_str().unwrap().contains("municipality"),
        "unknown field named: {v}"
    );
    let (status, v) = app.post("/api/v1/agreements", json!({ "kind": "vertrag" }));
    assert_error(status, &v, Status::UnprocessableEntity, "validation_failed");
    assert_eq!(v["fields"][0]["field"], "kind");
}

#[test]
fn unknown_ids_are_404_in_paths_and_422_in_bodies() {
    let app = TestApp::new();
    let unknown = uuid::Uuid::new_v4();
    for path in [
        format!("/api/v1/agreements/{unknown}"),
        format!("/api/v1/municipalities/{unknown}"),
        format!("/api/v1/services/{unknown}"),
        format!("/api/v1/intermediaries/{unknown}"),
        "/api/v1/agreements/not-a-uuid".to_string(),
        "/api/v1/nothing-here".to_string(),
    ] {
        let (status, v) = app.get(&path);
        assert_error(status, &v, Status::NotFound, "not_found");
    }
    let (status, v) = app.post(
        &format!("/api/v1/agreements/{unknown}/transitions"),
        json!({ "action": "submit" }),
    );
    assert_error(status, &v, Status::NotFound, "not_found");
    let (status, v) = app.post(
        "/api/v1/agreements",
        json!({ "kind": "rv", "municipality_id": unknown.to_string() }),
    );
    assert_error(status, &v, Status::UnprocessableEntity, "validation_failed");
    assert_eq!(v["fields"][0]["field"], "municipality_id");
    let (status, v) = app.get("/api/v1/agreements?municipality_id=abc");
    assert_error(status, &v, Status::UnprocessableEntity, "validation_failed");
    // A provider id is not an intermediary.
    let provider = app.ok(
        "POST",
        "/api/v1/providers",
        Some(json!({ "name": "regio iT GmbH" })),
    );
    let (status, _) = app.get(&format!(
        "/api/v1/intermediaries/{}",
        provider["id"].as_str().unwrap()
    ));
    assert_eq!(status, Status::NotFound);
}

#[test]
fn wrong_ags_leika_land_key_and_paging_are_refused_with_field_errors() {
    let app = TestApp::new();
    let (status, v) = app.get("/api/v1/municipalities?ags=05x13");
    assert_error(status, &v, Status::UnprocessableEntity, "validation_failed");
    let (status, v) = app.get("/api/v1/municipalities?per_page=0");
    assert_error(status, &v, Status::UnprocessableEntity, "validation_failed");
    let (status, v) = app.get("/api/v1/municipalities?page=9223372036854775807");
    assert_error(status, &v, Status::UnprocessableEntity, "validation_failed");
    let (status, v) = app.get("/api/v1/municipalities?page=zwei");
    assert_error(status, &v, Status::UnprocessableEntity, "validation_failed");

    let (status, v) = app.post("/api/v1/services", json!({ "name": "Hundesteuer", "availability": "available", "leika_keys": ["9910702300000", "99107023000000", "99107023000000"], "providing_land_key": "17" }));
    assert_error(status, &v, Status::UnprocessableEntity, "validation_failed");
    let fields = field_names(&v);
    assert!(
        fields.contains(&"leika_keys[0]".to_string())
            && fields.contains(&"leika_keys[2]".to_string())
            && fields.contains(&"providing_land_key".to_string()),
        "{v}"
    );

    let govconnect = app.organisation("intermediaries", "GovConnect GmbH");
    app.in_force(json!({ "kind": "ioev", "counterparty_id": govconnect }));
    let hzl = app.service("Hilfe zum Lebensunterhalt");
    app.in_force(
        json!({ "kind": "ekv", "counterparty_id": govconnect, "service_id": hzl, "avv": avv() }),
    );
    let (status, v) = app.post("/api/v1/agreements", json!({ "kind": "ea", "counterparty_id": govconnect, "service_id": hzl, "external_party_name": "Hannover", "external_party_ags": "0324100" }));
    assert_error(status, &v, Status::UnprocessableEntity, "validation_failed");
    assert_eq!(v["fields"][0]["field"], "external_party_ags");
    assert!(v["fields"][0]["message"]
        .as_str()
        .unwrap()
        .contains("8 Ziffern"));

    let (status, v) = app.post(
        "/api/v1/intermediaries",
        json!({ "name": "Land X", "states": [{ "land_key": "03", "state": "Bayern" }] }),
    );
    assert_error(status, &v, Status::UnprocessableEntity, "validation_failed");
}

#[test]
fn stale_updates_get_409_and_change_nothing() {
    let app = TestApp::new();
    let wohngeld = app.service("Wohngeld (Online-Dienst");
    let v1 = app.ok("GET", &format!("/api/v1/services/{wohngeld}"), None);
    let v2 = app.ok(
        "PATCH",
        &format!("/api/v1/services/{wohngeld}"),
        Some(json!({ "lock_version": v1["lock_version"], "data_standard": "XWohngeld" })),
    );
    assert_eq!(v2["lock_version"], v1["lock_version"].as_i64().unwrap() + 1);
    let (status, v) = app.patch(
        &format!("/api/v1/services/{wohngeld}"),
        json!({ "lock_version": v1["lock_version"], "data_standard": "XSozial" }),
    );
    assert_error(status, &v, Status::Conflict, "stale");
    assert_eq!(
        app.ok("GET", &format!("/api/v1/services/{wohngeld}"), None)["data_standard"],
        "XWohngeld"
    );
    let (status, v) = app.patch(
        &format!("/api/v1/services/{wohngeld}"),
        json!({ "data_standard": "XSozial" }),
    );
    assert_error(status, &v, Status::UnprocessableEntity, "validation_failed");

    let dortmund = app.municipality("05913000");
    let m = app.ok("GET", &format!("/api/v1/municipalities/{dortmund}"), None);
    let m2 = app.ok("PUT", &format!("/api/v1/municipalities/{dortmund}/membership"), Some(json!({ "lock_version": m["lock_version"], "status": "traeger", "accession_declared_on": "2021-06-01" })));
    assert_eq!(m2["is_traeger"], true);
    let (status, v) = app.patch(
        &format!("/api/v1/municipalities/{dortmund}"),
        json!({ "lock_version": m["lock_version"], "address": "Friedensplatz 1" }),
    );
    assert_error(status, &v, Status::Conflict, "stale");
    let (status, v) = app.patch(
        &format!("/api/v1/municipalities/{dortmund}"),
        json!({ "lock_version": m2["lock_version"], "traeger_since": "2021-06-01" }),
    );
    assert_error(status, &v, Status::UnprocessableEntity, "validation_failed");

    let rv = app.create(json!({ "kind": "rv", "municipality_id": dortmund }));
    let edited = app.ok(
        "PATCH",
        &format!("/api/v1/agreements/{}", rv["id"].as_str().unwrap()),
        Some(json!({ "lock_version": rv["lock_version"], "notice_period_months": 6, "ends_on": "2030-12-31" })),
    );
    assert_eq!(
        (
            edited["notice_period_months"].clone(),
            edited["ends_on"].clone()
        ),
        (json!(6), json!("2030-12-31"))
    );
    // null clears a draft's fixed end; an absent field leaves it alone.
    let cleared = app.ok(
        "PATCH",
        &format!("/api/v1/agreements/{}", rv["id"].as_str().unwrap()),
        Some(json!({ "lock_version": edited["lock_version"], "ends_on": null })),
    );
    assert!(cleared["ends_on"].is_null());
    assert_eq!(cleared["notice_period_months"], 6);
    let (status, v) = app.patch(
        &format!("/api/v1/agreements/{}", rv["id"].as_str().unwrap()),
        json!({ "lock_version": rv["lock_version"], "notice_period_months": 3 }),
    );
    assert_error(status, &v, Status::Conflict, "stale");
    let (status, v) = app.post(
        &format!(
            "/api/v1/agreements/{}/transitions",
            rv["id"].as_str().unwrap()
        ),
        json!({ "action": "submit", "lock_version": rv["lock_version"] }),
    );
    assert_error(status, &v, Status::Conflict, "stale");
}

#[test]
fn audit_log_records_each_change_with_before_and_after() {
    let app = TestApp::new();
    let dortmund = app.municipality("05913000");
    let rv = app
        .client
        .post("/api/v1/agreements")
        .header(Header::new("Authorization", format!("Bearer {TOKEN}")))
        .header(Header::new("X-Actor", "Erika Mustermann"))
        .header(ContentType::JSON)
        .body(json!({ "kind": "rv", "municipality_id": dortmund }).to_string())
        .dispatch()
        .into_json::<serde_json::Value>()
        .unwrap();
    let id = rv["id"].as_str().unwrap();
    app.bring_into_force(id);
    let log = app.ok("GET", &format!("/api/v1/audit?entity_id={id}"), None);
    let events = log["items"].as_array().unwrap();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "create",
            "submit",
            "signature",
            "signature",
            "sign",
            "seal",
            "activate"
        ]
    );
    assert_eq!(events[0]["actor"], "staff:Erika Mustermann");
    assert!(events[0]["before"].is_null());
    assert_eq!(events[1]["before"]["status"], "draft");
    assert_eq!(events[1]["after"]["status"], "awaiting_signatures");
    assert_eq!(events[4]["after"]["status"], "signed");
    assert_eq!(events[6]["after"]["status"], "in_force");
    let detail = app.ok("GET", &format!("/api/v1/agreements/{id}"), None);
    assert_eq!(detail["history"].as_array().unwrap().len(), 7);

    let m = app.ok("GET", &format!("/api/v1/municipalities/{dortmund}"), None);
    app.ok("PATCH", &format!("/api/v1/municipalities/{dortmund}"), Some(json!({ "lock_version": m["lock_version"], "address": "Friedensplatz 1, 44135 Dortmund" })));
    let log = app.ok("GET", &format!("/api/v1/audit?entity_id={dortmund}"), None);
    let update = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "update")
        .unwrap_or_else(|| panic!("no update event: {log}"));
    assert_eq!(update["before"]["address"], serde_json::Value::Null);
    assert_eq!(
        update["after"]["address"],
        "Friedensplatz 1, 44135 Dortmund"
    );
}

#[test]
fn audit_log_is_append_only_in_the_database() {
    use diesel::connection::SimpleConnection;
    let app = TestApp::new();
    let dortmund = app.municipality("05913000");
    app.create(json!({ "kind": "rv", "municipality_id": dortmund }));
    let db = app.db();
    let mut conn = db.conn().unwrap();
    assert!(conn
        .batch_execute("UPDATE audit_events SET actor = 'someone else'")
        .is_err());
    assert!(conn.batch_execute("DELETE FROM audit_events").is_err());
    assert_eq!(app.ok("GET", "/api/v1/audit", None)["total"], 1);
}

#[test]
fn openapi_describes_exactly_the_mounted_api() {
    let app = TestApp::new();
    let (_, doc) = app.get_anon("/api/v1/openapi.json");
    assert_eq!(doc["openapi"], "3.0.3");
    let described: std::collections::BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let mounted: std::collections::BTreeSet<(String, String)> = app
        .client
        .rocket()
        .routes()
        .map(|r| {
            let path = r.uri.path().to_string().replace('<', "{").replace('>', "}");
            (r.method.as_str().to_string(), path)
        })
        .filter(|(_, p)| p.starts_with("/api/v1"))
        .collect();
    assert_eq!(described, mounted);
}

/// Every GET route that names a record in its path, API and pages alike: a segment that
/// is no id is refused by the typed id with the same 404 as a missing record, naming the
/// segment (JSON on /api, a German page elsewhere), never a catcher's generic answer.
#[test]
fn every_path_id_that_is_no_id_is_a_404_naming_it() {
    let app = TestApp::new();
    let clerk = app.signed_in(json!({
        "email": "ids@d-nrw.de", "name": "Id Prüferin", "role": "clerk", "password": "Sicher-genug-2026"
    }));
    let routes: Vec<String> = app
        .client
        .rocket()
        .routes()
        .filter(|r| r.method == rocket::http::Method::Get)
        .map(|r| r.uri.path().to_string())
        .filter(|p| p.contains("<id>"))
        .collect();
    assert!(routes.len() >= 20, "{routes:?}");
    for route in routes {
        let path = route
            .replace("<id>", "keine-id")
            .replace("<qes>", "keine-id")
            .replace("<no>", "1");
        let message = "„keine-id“ ist keine gültige Id.";
        if path.starts_with("/api/") {
            let (status, v) = app.get(&path);
            assert_error(status, &v, Status::NotFound, "not_found");
            assert_eq!(v["message"], message, "{path}");
        } else {
            let page = app.web_get(Some(&clerk), &path);
            assert_eq!(page.status, Status::NotFound, "{path}");
            assert!(page.text().contains(message), "{path}: {}", page.text());
        }
    }
}
