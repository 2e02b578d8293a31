//! The two examples of the seeds, end to end over HTTP, and the seeded data itself.

use crate::common::*;
use rocket::http::Status;
use serde_json::json;

#[test]
fn dortmund_reuses_wohngeld_from_dataport_inbound() {
    let app = TestApp::new();
    let (ioev, ekv, wohngeld) = wohngeld_supply(&app);
    assert_eq!(ioev["kind"], "ioev");
    assert!(ioev["reference"].as_str().unwrap().starts_with("IOEV-"));
    assert_eq!(
        ekv["direction"], "inbound",
        "Wohngeld comes from Schleswig-Holstein"
    );
    assert_eq!(ekv["links"]["ioev"]["id"], ioev["id"]);

    let dortmund = app.municipality("05913000");
    let rv = app
        .in_force(json!({ "kind": "rv", "municipality_id": dortmund, "notice_period_months": 6 }));
    assert_eq!(rv["municipality"]["name"], "Dortmund, Stadt");

    let ea = app.create(json!({
        "kind": "ea", "municipality_id": dortmund, "service_id": wohngeld,
        "avv": avv(), "parameters": wohngeld_parameters()
    }));
    assert_eq!(ea["status"], "draft");
    assert_eq!(ea["direction"], "inbound");
    assert_eq!(ea["links"]["rv"]["reference"], rv["reference"]);
    assert_eq!(ea["links"]["ekv"]["reference"], ekv["reference"]);
    let year = time::OffsetDateTime::now_utc().year();
    assert_eq!(ea["reference"], format!("EA-{year}-00001"));
    let ea = app.bring_into_force(ea["id"].as_str().unwrap());
    assert!(ea["signed_on"].is_string() && ea["effective_from"].is_string());

    // Dortmund's agreements are listed by municipality.
    let list = app.ok(
        "GET",
        &format!("/api/v1/agreements?municipality_id={dortmund}"),
        None,
    );
    assert_eq!(list["total"], 2);
    let kinds: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"rv") && kinds.contains(&"ea"), "{kinds:?}");
    assert!(
        list["items"][0].get("terms").is_none(),
        "lists carry no terms; the detail does"
    );
}

#[test]
fn hannover_reuses_hzl_through_govconnect_outbound() {
    let app = TestApp::new();
    let govconnect = app.organisation("intermediaries", "GovConnect GmbH");
    let hzl = app.service("Hilfe zum Lebensunterhalt");
    let ioev = app.in_force(json!({ "kind": "ioev", "counterparty_id": govconnect }));
    let ekv = app.in_force(
        json!({ "kind": "ekv", "counterparty_id": govconnect, "service_id": hzl, "avv": avv() }),
    );
    assert_eq!(
        ekv["direction"], "outbound",
        "the Sozialplattform is an NRW service"
    );
    assert_eq!(ekv["links"]["ioev"]["id"], ioev["id"]);

    let call = app.in_force(json!({
        "kind": "ea", "counterparty_id": govconnect, "service_id": hzl,
        "external_party_name": "Landeshauptstadt Hannover", "external_party_ags": "03241001",
        "avv": avv(), "parameters": { "zustaendige_stelle_url": "https://www.hannover.de/sozialamt", "kontakt_email": "sozialamt@hannover-stadt.de" }
    }));
    assert_eq!(call["direction"], "outbound");
    assert_eq!(call["external_party"]["ags"], "03241001");
    assert_eq!(call["counterparty"]["name"], "GovConnect GmbH");
    assert!(
        call["municipality"].is_null(),
        "d-NRW does not hold Hannover's RV"
    );
    assert_eq!(call["links"]["ekv"]["id"], ekv["id"]);
}

#[test]
fn seeded_registry_has_real_nrw_data_and_both_demo_scenarios() {
    let app = TestApp::with_demo();
    let all = app.ok("GET", "/api/v1/municipalities?per_page=500", None);
    assert_eq!(all["total"], 427, "396 Gemeinden/Städte + 31 Kreise");
    let kreise = app.ok(
        "GET",
        "/api/v1/municipalities?kind=kreis&per_page=100",
        None,
    );
    assert_eq!(kreise["total"], 31);
    let aachen = app.ok("GET", "/api/v1/municipalities?ags=05334&per_page=100", None);
    assert!(aachen["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["name"] == "Städteregion Aachen" && m["ags"] == "05334000"));
    let duesseldorf = app.ok("GET", "/api/v1/municipalities?q=d%C3%BCsseldorf", None);
    assert_eq!(duesseldorf["items"][0]["ags"], "05111000");
    assert_eq!(duesseldorf["items"][0]["ars"], "051110000000");

    let intermediaries = app.ok("GET", "/api/v1/intermediaries", None);
    let dataport = intermediaries
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "Dataport AöR")
        .unwrap();
    let keys: Vec<&str> = dataport["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["land_key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["01", "02"],
        "Dataport acts for Schleswig-Holstein and Hamburg"
    );
    assert!(intermediaries
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["is_kommunalvertreter_nrw"] == true));

    let services = app.ok("GET", "/api/v1/services", None);
    assert_eq!(services.as_array().unwrap().len(), 12);
    let wohngeld = services
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["ozg_id"] == "10092")
        .unwrap();
    assert_eq!(wohngeld["operator"], "Dataport AöR");
    assert_eq!(wohngeld["leika_keys"][0], "99107023000000");
    let eheschliessung = services
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["ozg_id"] == "10026")
        .unwrap();
    assert_eq!(
        eheschliessung["operator"], "noch nicht bekannt",
        "unknown operators stay unknown"
    );

    let agreements = app.ok(
        "GET",
        "/api/v1/agreements?status=in_force&per_page=100",
        None,
    );
    assert_eq!(
        agreements["total"], 8,
        "Dortmund: IÖV, EKV, RV, EA; Hannover: IÖV, EKV, EA; Düsseldorf: RV"
    );
    let items = agreements["items"].as_array().unwrap();
    // Every agreement in force has its sealed document.
    for a in items {
        let docs = app.ok(
            "GET",
            &format!("/api/v1/agreements/{}/documents", a["id"].as_str().unwrap()),
            None,
        );
        assert_eq!(
            docs.as_array().unwrap().len(),
            1,
            "{}: {docs}",
            a["reference"]
        );
    }
    // Düsseldorf's EA for Wohngeld waits for the city's signature, then d-NRW's.
    let waiting = app.ok("GET", "/api/v1/agreements?status=awaiting_signatures", None);
    assert_eq!(waiting["total"], 1, "{waiting}");
    let ea = &waiting["items"][0];
    assert_eq!(ea["municipality"]["ags"], "05111000");
    let signing = app.ok(
        "GET",
        &format!(
            "/api/v1/agreements/{}/signatures",
            ea["id"].as_str().unwrap()
        ),
        None,
    );
    assert_eq!(signing["open"], true);
    assert_eq!(signing["required"][0]["party"], "partner");
    assert_eq!(signing["required"][0]["organisation"], "Stadt Düsseldorf");
    assert!(signing["required"][0]["signature"].is_null());
    assert_eq!(signing["required"][1]["party"], "dnrw");
    assert!(items
        .iter()
        .any(|a| a["kind"] == "ea" && a["municipality"]["ags"] == "05913000"));
    assert!(items
        .iter()
        .any(|a| a["kind"] == "ea" && a["external_party"]["ags"] == "03241001"));
}

#[test]
fn catalogue_is_public_and_lists_offered_services_only() {
    let app = TestApp::new();
    let (status, catalog) = app.get_anon("/api/v1/catalog");
    assert_eq!(status, Status::Ok);
    let services = catalog["services"].as_array().unwrap();
    assert_eq!(services.len(), 12);
    let wohngeld = services.iter().find(|s| s["ozg_id"] == "10092").unwrap();
    assert_eq!(wohngeld["availability"], "available");
    assert!(wohngeld["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["key"] == "zustaendige_stelle_url" && p["required"] == true));
    assert_eq!(wohngeld["dvdv_category"], "wgb (Wohngeldbehörde)");

    // Renaming an operator shows in the (cached) catalogue at once.
    let dataport = app.organisation("intermediaries", "Dataport AöR");
    let d = app.ok("GET", &format!("/api/v1/intermediaries/{dataport}"), None);
    app.ok(
        "PATCH",
        &format!("/api/v1/intermediaries/{dataport}"),
        Some(json!({ "lock_version": d["lock_version"], "name": "Dataport AöR (Altenholz)" })),
    );
    let (_, catalog) = app.get_anon("/api/v1/catalog");
    let dataport_operated: Vec<&str> = catalog["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["operator"].as_str())
        .filter(|o| o.starts_with("Dataport AöR"))
        .collect();
    assert_eq!(dataport_operated, ["Dataport AöR (Altenholz)"], "{catalog}");

    // Withdrawing a service removes it from the public catalogue.
    let id = wohngeld["id"].as_str().unwrap();
    let v = app.ok("GET", &format!("/api/v1/services/{id}"), None);
    app.ok(
        "PATCH",
        &format!("/api/v1/services/{id}"),
        Some(json!({ "lock_version": v["lock_version"], "availability": "withdrawn" })),
    );
    let (_, catalog) = app.get_anon("/api/v1/catalog");
    assert_eq!(catalog["services"].as_array().unwrap().len(), 11);
}

#[test]
fn service_status_counts_einzelabrufe_across_municipalities() {
    let app = TestApp::new();
    let (dortmund, wohngeld) = dortmund_ready_for_wohngeld(&app);
    let essen = app.municipality("05113000");
    app.in_force(json!({ "kind": "rv", "municipality_id": essen }));
    let body = |m: &str| json!({ "kind": "ea", "municipality_id": m, "service_id": wohngeld, "avv": avv(), "parameters": wohngeld_parameters() });
    app.in_force(body(&dortmund));
    app.create(body(&essen));
    let status = app.ok("GET", &format!("/api/v1/services/{wohngeld}/status"), None);
    assert_eq!(status["einzelabrufe"]["in_force"], 1);
    assert_eq!(status["einzelabrufe"]["draft"], 1);
    assert_eq!(status["einzelabrufe"]["terminated"], 0);
    assert_eq!(status["municipalities_in_force"], 1);
    assert_eq!(status["outbound_in_force"], 0);
}
