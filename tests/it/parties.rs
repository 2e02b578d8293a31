//! Parties: contacts, Träger status, intermediaries and providers; seeding is idempotent.

use crate::common::*;
use rocket::http::Status;
use serde_json::json;

#[test]
fn contacts_are_recorded_for_municipalities_and_organisations() {
    let app = TestApp::new();
    let dortmund = app.municipality("05913000");
    let (status, c) = app.post(
        &format!("/api/v1/municipalities/{dortmund}/contacts"),
        json!({ "name": "Max Beispiel", "function": "OZG-Koordination", "email": "ozg@stadtdo.de", "phone": "0231 50-0" }),
    );
    assert_eq!(status, Status::Created, "{c}");
    let (status, v) = app.post(
        &format!("/api/v1/municipalities/{dortmund}/contacts"),
        json!({ "name": "Ohne Adresse", "email": "nicht-gueltig" }),
    );
    assert_eq!(status, Status::UnprocessableEntity);
    assert_eq!(field_names(&v), ["email"]);
    let (status, _) = app.post(
        &format!("/api/v1/municipalities/{dortmund}/contacts"),
        json!({ "name": "  " }),
    );
    assert_eq!(status, Status::UnprocessableEntity);
    let detail = app.ok("GET", &format!("/api/v1/municipalities/{dortmund}"), None);
    let contacts = detail["contacts"].as_array().unwrap();
    assert_eq!(contacts.len(), 1, "the refused ones were not stored");
    assert_eq!(contacts[0]["function"], "OZG-Koordination");
    assert_eq!(detail["kind_label"], "kreisfreie Stadt");
    assert_eq!(detail["regierungsbezirk"], "Arnsberg");

    let dataport = app.organisation("intermediaries", "Dataport AöR");
    let (status, _) = app.post(
        &format!("/api/v1/organisations/{dataport}/contacts"),
        json!({ "name": "Vertragsmanagement", "email": "vertraege@dataport.de" }),
    );
    assert_eq!(status, Status::Created);
    let d = app.ok("GET", &format!("/api/v1/intermediaries/{dataport}"), None);
    assert_eq!(d["contacts"][0]["email"], "vertraege@dataport.de");
}

#[test]
fn traeger_status_is_kept_and_validated() {
    let app = TestApp::new();
    let essen = app.municipality("05113000");
    let m = app.ok("GET", &format!("/api/v1/municipalities/{essen}"), None);
    assert_eq!(m["is_traeger"], false);
    let (status, v) = app.patch(
        &format!("/api/v1/municipalities/{essen}"),
        json!({ "lock_version": m["lock_version"], "capital_contribution_cents": -5 }),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    let (status, _) = app.patch(
        &format!("/api/v1/municipalities/{essen}"),
        json!({ "lock_version": m["lock_version"], "traeger_since": "2999-01-01" }),
    );
    assert_eq!(status, Status::UnprocessableEntity);
    let (status, _) = app.patch(
        &format!("/api/v1/municipalities/{essen}"),
        json!({ "lock_version": m["lock_version"], "ags": "05113001" }),
    );
    assert_eq!(
        status,
        Status::UnprocessableEntity,
        "official keys are not editable"
    );
    let m2 = app.ok("PATCH", &format!("/api/v1/municipalities/{essen}"), Some(json!({ "lock_version": m["lock_version"], "traeger_since": "2020-12-01", "capital_contribution_cents": 1250000 })));
    assert_eq!(m2["is_traeger"], true);
    assert_eq!(m2["traeger_since"], "2020-12-01");
    assert_eq!(m2["capital_contribution_cents"], 1250000);
    // null clears it again.
    let m3 = app.ok(
        "PATCH",
        &format!("/api/v1/municipalities/{essen}"),
        Some(json!({ "lock_version": m2["lock_version"], "traeger_since": null })),
    );
    assert_eq!(m3["is_traeger"], false);
    assert_eq!(m3["capital_contribution_cents"], 1250000);
}

#[test]
fn intermediaries_and_providers_are_created_and_changed_by_staff() {
    let app = TestApp::new();
    let (status, v) = app.post(
        "/api/v1/intermediaries",
        json!({ "name": "ITEBO GmbH", "legal_form": "GmbH", "states": [{ "land_key": "03", "state": "Niedersachsen" }] }),
    );
    assert_eq!(status, Status::Created, "{v}");
    assert_eq!(v["is_intermediary"], true);
    assert_eq!(v["is_provider"], false);
    let id = v["id"].as_str().unwrap();
    let (status, dup) = app.post("/api/v1/intermediaries", json!({ "name": "ITEBO GmbH" }));
    assert_eq!(status, Status::Conflict, "{dup}");
    // It also operates services now; it shows in both lists.
    let v2 = app.ok(
        "PATCH",
        &format!("/api/v1/intermediaries/{id}"),
        Some(json!({ "lock_version": v["lock_version"], "is_provider": true })),
    );
    assert_eq!(v2["is_provider"], true);
    assert_eq!(app.organisation("providers", "ITEBO GmbH"), id);
    let (status, _) = app.patch(&format!("/api/v1/intermediaries/{id}"), json!({ "lock_version": v2["lock_version"], "is_provider": false, "is_intermediary": false }));
    assert_eq!(
        status,
        Status::UnprocessableEntity,
        "an organisation keeps at least one role"
    );
    // d-NRW cannot be a counterparty of its own agreements.
    let dnrw = app.organisation("intermediaries", "d-NRW AöR (Kommunalvertreter.NRW)");
    let (status, v) = app.post(
        "/api/v1/agreements",
        json!({ "kind": "ioev", "counterparty_id": dnrw }),
    );
    assert_eq!(status, Status::UnprocessableEntity);
    assert_eq!(field_names(&v), ["counterparty_id"]);
}

#[test]
fn seeding_again_adds_nothing() {
    let app = TestApp::with_demo();
    let counts = || {
        (
            app.ok("GET", "/api/v1/municipalities?per_page=1", None)["total"].clone(),
            app.ok("GET", "/api/v1/agreements?per_page=1", None)["total"].clone(),
            app.ok("GET", "/api/v1/services", None)
                .as_array()
                .unwrap()
                .len(),
        )
    };
    let before = counts();
    // A second instance starts on the same database and seeds again.
    let again = rocket::local::blocking::Client::untracked(app.second_instance(true)).unwrap();
    drop(again);
    let after = counts();
    assert_eq!(before, after);
    assert_eq!(after.0, 427);
}
