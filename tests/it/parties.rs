//! Parties: contacts, Trägerschaft, intermediaries and providers; seeding is idempotent.

use crate::common::*;
use rocket::http::Status;
use serde_json::{json, Value};

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
fn trägerschaft_is_its_own_record_with_three_states_and_checked_dates() {
    let app = TestApp::new();
    let essen = app.municipality("05113000");
    let path = format!("/api/v1/municipalities/{essen}/membership");
    let m = app.ok("GET", &format!("/api/v1/municipalities/{essen}"), None);
    assert_eq!(
        (
            m["is_traeger"].clone(),
            m["traegerschaft"].clone(),
            m["membership"].clone()
        ),
        (json!(false), json!("nicht_erfasst"), Value::Null)
    );
    let put = |body: Value| app.put(&path, body);
    // Träger without a declaration of accession, a future payment, an unknown state,
    // "nicht erfasst" with dates: each refused at its field.
    for (body, field) in [
        (
            json!({ "lock_version": m["lock_version"], "status": "traeger", "council_decision_on": "2020-11-05" }),
            "accession_declared_on",
        ),
        (
            json!({ "lock_version": m["lock_version"], "status": "traeger", "accession_declared_on": "2020-12-01", "capital_paid_on": "2999-01-01" }),
            "capital_paid_on",
        ),
        (
            json!({ "lock_version": m["lock_version"], "status": "traeger", "council_decision_on": "2021-01-05", "accession_declared_on": "2020-12-01" }),
            "accession_declared_on",
        ),
        (
            json!({ "lock_version": m["lock_version"], "status": "kein_traeger", "capital_refunded_on": "2024-01-01" }),
            "capital_refunded_on",
        ),
        (
            json!({ "lock_version": m["lock_version"], "status": "traeger", "accession_declared_on": "2020-12-01", "capital_cents": -5 }),
            "capital_cents",
        ),
        (
            json!({ "lock_version": m["lock_version"], "status": "vielleicht" }),
            "status",
        ),
        (
            json!({ "lock_version": m["lock_version"], "status": "nicht_erfasst", "left_on": "2024-01-01" }),
            "status",
        ),
    ] {
        let (status, v) = put(body.clone());
        assert_eq!(status, Status::UnprocessableEntity, "{body} → {v}");
        assert_eq!(v["fields"][0]["field"], field, "{v}");
    }
    let (status, v) = app.patch(
        &format!("/api/v1/municipalities/{essen}"),
        json!({ "lock_version": m["lock_version"], "ags": "05113001" }),
    );
    assert_eq!(
        status,
        Status::UnprocessableEntity,
        "official keys are not editable: {v}"
    );

    let (status, m2) = put(
        json!({ "lock_version": m["lock_version"], "status": "traeger",
        "council_decision_on": "2020-11-05", "accession_declared_on": "2020-12-01", "capital_paid_on": "2021-01-15",
        "note": "Beitrittserklärung in der Akte 2020/117" }),
    );
    assert_eq!(status, Status::Ok, "{m2}");
    assert_eq!(m2["is_traeger"], true);
    assert_eq!(m2["traegerschaft_label"], "Träger seit 01.12.2020");
    assert_eq!(
        m2["membership"]["capital_cents"], 100_000,
        "the standard 1.000 €"
    );
    assert_eq!(m2["membership"]["council_decision_on"], "2020-11-05");
    // The municipality's lock_version guards the record: the old one is stale now.
    let (status, v) = put(json!({ "lock_version": m["lock_version"], "status": "kein_traeger" }));
    assert_eq!(status, Status::Conflict, "{v}");

    // It leaves: explicitly "kein Träger", the contribution refunded.
    let (status, m3) = put(
        json!({ "lock_version": m2["lock_version"], "status": "kein_traeger",
        "accession_declared_on": "2020-12-01", "capital_paid_on": "2021-01-15",
        "left_on": "2025-12-31", "capital_refunded_on": "2026-02-01" }),
    );
    assert_eq!(status, Status::Ok, "{m3}");
    assert_eq!(
        (
            m3["is_traeger"].clone(),
            m3["traegerschaft"].clone(),
            m3["traegerschaft_label"].clone()
        ),
        (
            json!(false),
            json!("kein_traeger"),
            json!("kein Träger (ausgetreten am 31.12.2025)")
        )
    );
    let list = |filter: &str| {
        let v = app.ok(
            "GET",
            &format!("/api/v1/municipalities?traeger={filter}&ags=05113000"),
            None,
        );
        (
            v["total"].as_i64().unwrap(),
            v["items"][0]["traegerschaft"].clone(),
        )
    };
    assert_eq!(list("kein_traeger"), (1, json!("kein_traeger")));
    assert_eq!(list("traeger").0, 0);
    assert_eq!(list("nicht_erfasst").0, 0);
    let (status, _) = app.get("/api/v1/municipalities?traeger=vielleicht");
    assert_eq!(status, Status::UnprocessableEntity);

    // "nicht erfasst" removes the record again; every change is in the audit log.
    let (status, m4) =
        put(json!({ "lock_version": m3["lock_version"], "status": "nicht_erfasst" }));
    assert_eq!(status, Status::Ok, "{m4}");
    assert_eq!(
        (m4["traegerschaft"].clone(), m4["membership"].clone()),
        (json!("nicht_erfasst"), Value::Null)
    );
    assert_eq!(list("nicht_erfasst"), (1, json!("nicht_erfasst")));
    let audit = app.ok("GET", &format!("/api/v1/audit?entity_id={essen}"), None);
    let changes = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "membership")
        .count();
    assert_eq!(changes, 3, "{audit}");
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

#[test]
fn the_name_search_from_memory_finds_what_the_database_finds() {
    use nachnutzung::domain::text::Checked;
    use nachnutzung::store::municipality::{Filter, Municipality};
    use nachnutzung::store::Page;
    let app = TestApp::new();
    let db = app.db();
    let filters = [
        Filter {
            q: Some("berg".into()),
            ..Filter::default()
        },
        Filter {
            q: Some("MÜN".into()),
            ..Filter::default()
        },
        Filter {
            q: Some("stadt".into()),
            ..Filter::default()
        },
        Filter {
            q: Some("e".into()),
            regierungsbezirk: Some("Arnsberg".into()),
            ..Filter::default()
        },
        Filter {
            q: Some("n".into()),
            kreis_ags: Some("05334".into()),
            ..Filter::default()
        },
        Filter {
            q: Some("r".into()),
            kind: Some("kreis".into()),
            ..Filter::default()
        },
        Filter {
            q: Some("a".into()),
            ags: Some("0551".into()),
            ..Filter::default()
        },
        Filter {
            q: Some("100%_".into()),
            ..Filter::default()
        },
        Filter {
            q: Some("gibt es nicht".into()),
            ..Filter::default()
        },
    ];
    let pages = [
        Page::new(Some(1), Some(20)).unwrap(),
        Page::new(Some(3), Some(20)).unwrap(),
    ];
    db.read_blocking(|conn| {
        let keys = Municipality::search_keys(conn)?;
        assert!(
            keys.len() > 390,
            "NRW's municipalities and Kreise: {}",
            keys.len()
        );
        for filter in &filters {
            let checked = Checked::new(filter.clone())?;
            for page in pages {
                let from_db = Municipality::list(conn, &checked, page)?;
                let from_memory = Municipality::list_searched(conn, &checked, page, &keys)?;
                let ids = |p: &nachnutzung::store::Paged<Municipality>| {
                    p.items.iter().map(|m| m.ags.clone()).collect::<Vec<_>>()
                };
                assert_eq!(from_db.total, from_memory.total, "{filter:?}");
                assert_eq!(ids(&from_db), ids(&from_memory), "{filter:?} {page:?}");
            }
        }
        // The searches above are not all empty.
        let berg =
            Municipality::list_searched(conn, &Checked::new(filters[0].clone())?, pages[0], &keys)?;
        assert!(berg.total > 20, "{}", berg.total);
        Ok(())
    })
    .unwrap();
}
