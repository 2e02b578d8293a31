//! Every rule of the Nachnutzungsmodell, allowed and refused, over HTTP.

use crate::common::*;
use rocket::http::Status;
use serde_json::{json, Value};

fn refusal(app: &TestApp, body: Value) -> (Status, String) {
    let (status, v) = app.post("/api/v1/agreements", body);
    (
        status,
        v["message"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn ekv_needs_an_ioev_in_force_with_that_counterparty() {
    let app = TestApp::new();
    let dataport = app.organisation("intermediaries", "Dataport AöR");
    let wohngeld = app.service("Wohngeld (Online-Dienst");
    let ekv =
        json!({ "kind": "ekv", "counterparty_id": dataport, "service_id": wohngeld, "avv": avv() });

    let (status, msg) = refusal(&app, ekv.clone());
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(
        msg.contains("Interöffentliche Vereinbarung (IÖV) mit Dataport AöR fehlt"),
        "{msg}"
    );

    let ioev = app.create(json!({ "kind": "ioev", "counterparty_id": dataport }));
    let (_, msg) = refusal(&app, ekv.clone());
    assert!(
        msg.contains("nicht in Kraft") && msg.contains(ioev["reference"].as_str().unwrap()),
        "{msg}"
    );

    // An IÖV with somebody else does not count.
    let akdb = app.organisation(
        "intermediaries",
        "AKDB – Anstalt für Kommunale Datenverarbeitung in Bayern",
    );
    app.in_force(json!({ "kind": "ioev", "counterparty_id": akdb }));
    assert_eq!(refusal(&app, ekv.clone()).0, Status::UnprocessableEntity);

    app.bring_into_force(ioev["id"].as_str().unwrap());
    let ekv = app.create(ekv);
    assert_eq!(ekv["links"]["ioev"]["id"], ioev["id"]);
}

#[test]
fn rv_is_unique_per_municipality() {
    let app = TestApp::new();
    let dortmund = app.municipality("05913000");
    let rv = app.create(json!({ "kind": "rv", "municipality_id": dortmund }));
    let (status, v) = app.post(
        "/api/v1/agreements",
        json!({ "kind": "rv", "municipality_id": dortmund }),
    );
    assert_eq!(status, Status::Conflict);
    assert_eq!(v["error"], "duplicate");
    assert!(
        v["message"].as_str().unwrap().contains("Stadt Dortmund"),
        "{v}"
    );
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains(rv["reference"].as_str().unwrap()),
        "{v}"
    );

    // Another municipality gets its own; a cancelled RV frees the place.
    let essen = app.municipality("05113000");
    app.create(json!({ "kind": "rv", "municipality_id": essen }));
    let (status, _) = app.step(rv["id"].as_str().unwrap(), "cancel");
    assert_eq!(status, Status::Ok);
    app.create(json!({ "kind": "rv", "municipality_id": dortmund }));
}

#[test]
fn ea_needs_rv_and_ekv_in_force_and_an_available_service() {
    let app = TestApp::new();
    let dortmund = app.municipality("05913000");
    let wohngeld = app.service("Wohngeld (Online-Dienst");
    let ea = json!({ "kind": "ea", "municipality_id": dortmund, "service_id": wohngeld, "avv": avv(), "parameters": wohngeld_parameters() });

    let (status, msg) = refusal(&app, ea.clone());
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(msg.starts_with("Einzelabruf nicht möglich"), "{msg}");
    assert!(
        msg.contains("Rahmenvereinbarung (RV) mit Stadt Dortmund fehlt"),
        "{msg}"
    );
    assert!(
        msg.contains(
            "Einzelkooperationsvereinbarung (EKV) für „Wohngeld (Online-Dienst Wohngeld)“ fehlt"
        ),
        "{msg}"
    );

    let rv = app.create(json!({ "kind": "rv", "municipality_id": dortmund }));
    let (_, msg) = refusal(&app, ea.clone());
    assert!(
        msg.contains(&format!(
            "{} hat den Status „Entwurf“",
            rv["reference"].as_str().unwrap()
        )),
        "{msg}"
    );
    app.bring_into_force(rv["id"].as_str().unwrap());
    let (_, msg) = refusal(&app, ea.clone());
    assert!(
        !msg.contains("Rahmenvereinbarung") && msg.contains("EKV"),
        "{msg}"
    );

    wohngeld_supply(&app);
    // Service not available: refused even with everything signed.
    let s = app.ok("GET", &format!("/api/v1/services/{wohngeld}"), None);
    app.ok(
        "PATCH",
        &format!("/api/v1/services/{wohngeld}"),
        Some(json!({ "lock_version": s["lock_version"], "availability": "coming_soon" })),
    );
    let (_, msg) = refusal(&app, ea.clone());
    assert!(
        msg.contains("nicht verfügbar") && msg.contains("in Kürze verfügbar"),
        "{msg}"
    );
    let s = app.ok("GET", &format!("/api/v1/services/{wohngeld}"), None);
    app.ok(
        "PATCH",
        &format!("/api/v1/services/{wohngeld}"),
        Some(json!({ "lock_version": s["lock_version"], "availability": "available" })),
    );

    let created = app.create(ea);
    assert_eq!(created["status"], "draft");
}

#[test]
fn at_most_one_active_ea_per_municipality_and_service() {
    let app = TestApp::new();
    let (dortmund, wohngeld) = dortmund_ready_for_wohngeld(&app);
    let body = json!({ "kind": "ea", "municipality_id": dortmund, "service_id": wohngeld, "avv": avv(), "parameters": wohngeld_parameters() });
    let first = app.in_force(body.clone());
    let (status, v) = app.post("/api/v1/agreements", body.clone());
    assert_eq!(status, Status::Conflict);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains(first["reference"].as_str().unwrap()),
        "{v}"
    );

    // After termination a new EA may be filed.
    let (status, v) = app.post(
        &format!(
            "/api/v1/agreements/{}/transitions",
            first["id"].as_str().unwrap()
        ),
        json!({ "action": "terminate", "reason": "Wechsel des Verfahrens" }),
    );
    assert_eq!(status, Status::Ok, "{v}");
    assert_eq!(v["status"], "terminated");
    app.create(body);
}

#[test]
fn submitting_needs_a_complete_avv_and_the_required_parameters() {
    let app = TestApp::new();
    let (dortmund, wohngeld) = dortmund_ready_for_wohngeld(&app);
    let ea =
        app.create(json!({ "kind": "ea", "municipality_id": dortmund, "service_id": wohngeld }));
    let id = ea["id"].as_str().unwrap();
    let (status, v) = app.step(id, "submit");
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(
        v["message"].as_str().unwrap().contains("Die AVV fehlt"),
        "{v}"
    );

    let (status, v) = app.patch(
        &format!("/api/v1/agreements/{id}"),
        json!({ "lock_version": ea["lock_version"], "avv": avv() }),
    );
    assert_eq!(status, Status::Ok, "{v}");
    let (status, v) = app.step(id, "submit");
    assert_eq!(status, Status::UnprocessableEntity);
    let fields = field_names(&v);
    assert!(
        fields.contains(&"parameters.zustaendige_stelle_url".to_string())
            && fields.contains(&"parameters.kontakt_email".to_string()),
        "{v}"
    );

    // Wrongly typed parameter values are refused at once.
    let (status, v) = app.patch(&format!("/api/v1/agreements/{id}"), json!({ "lock_version": v["lock_version"].as_i64().unwrap_or(2), "parameters": { "kontakt_email": "keine-adresse" } }));
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    let current = app.ok("GET", &format!("/api/v1/agreements/{id}"), None);
    app.ok(
        "PATCH",
        &format!("/api/v1/agreements/{id}"),
        Some(
            json!({ "lock_version": current["lock_version"], "parameters": wohngeld_parameters() }),
        ),
    );
    app.bring_into_force(id);
}

#[test]
fn avv_belongs_to_ekv_and_ea_only() {
    let app = TestApp::new();
    let dortmund = app.municipality("05913000");
    let (status, v) = app.post(
        "/api/v1/agreements",
        json!({ "kind": "rv", "municipality_id": dortmund, "avv": avv() }),
    );
    assert_eq!(status, Status::UnprocessableEntity);
    assert_eq!(v["fields"][0]["field"], "avv");
}

#[test]
fn outbound_call_needs_ioev_and_ekv_of_that_intermediary() {
    let app = TestApp::new();
    let govconnect = app.organisation("intermediaries", "GovConnect GmbH");
    let hzl = app.service("Hilfe zum Lebensunterhalt");
    let call = json!({
        "kind": "ea", "counterparty_id": govconnect, "service_id": hzl,
        "external_party_name": "Landeshauptstadt Hannover", "external_party_ags": "03241001"
    });
    let (status, msg) = refusal(&app, call.clone());
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(
        msg.contains("IÖV) mit GovConnect GmbH fehlt") && msg.contains("EKV) mit GovConnect GmbH"),
        "{msg}"
    );
    app.in_force(json!({ "kind": "ioev", "counterparty_id": govconnect }));
    let (_, msg) = refusal(&app, call.clone());
    assert!(!msg.contains("IÖV") && msg.contains("EKV"), "{msg}");
    app.in_force(
        json!({ "kind": "ekv", "counterparty_id": govconnect, "service_id": hzl, "avv": avv() }),
    );
    app.create(call.clone());

    // An NRW municipality cannot be recorded as another Land's re-use.
    let mut nrw = call.clone();
    nrw["external_party_ags"] = json!("05913000");
    assert_eq!(refusal(&app, nrw).0, Status::UnprocessableEntity);
    // Only intermediaries of a Land can carry outbound re-use.
    let provider = app.ok(
        "POST",
        "/api/v1/providers",
        Some(json!({ "name": "regio iT GmbH", "legal_form": "GmbH" })),
    );
    let mut not_intermediary = call;
    not_intermediary["counterparty_id"] = provider["id"].clone();
    not_intermediary["external_party_ags"] = json!("03241002");
    let (status, msg) = refusal(&app, not_intermediary);
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(msg.contains("kein Kommunalvertreter"), "{msg}");
}

#[test]
fn direction_must_match_the_service() {
    let app = TestApp::new();
    let dataport = app.organisation("intermediaries", "Dataport AöR");
    app.in_force(json!({ "kind": "ioev", "counterparty_id": dataport }));
    let wohngeld = app.service("Wohngeld (Online-Dienst");
    let (status, msg) = refusal(
        &app,
        json!({ "kind": "ekv", "counterparty_id": dataport, "service_id": wohngeld, "direction": "outbound" }),
    );
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(msg.contains("Dienst eines anderen Landes"), "{msg}");
}

#[test]
fn terminating_an_rv_with_active_eas_is_blocked_unless_cascading() {
    let app = TestApp::new();
    let (_, _, wohngeld) = wohngeld_supply(&app);
    let dortmund = app.municipality("05913000");
    let rv = app
        .in_force(json!({ "kind": "rv", "municipality_id": dortmund, "notice_period_months": 6 }));
    let ea = wohngeld_ea(&app, &dortmund, &wohngeld);
    let rv_id = rv["id"].as_str().unwrap();

    let (status, v) = app.post(
        &format!("/api/v1/agreements/{rv_id}/transitions"),
        json!({ "action": "terminate" }),
    );
    assert_eq!(status, Status::Conflict);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains(ea["reference"].as_str().unwrap()),
        "{v}"
    );
    assert_eq!(
        app.ok("GET", &format!("/api/v1/agreements/{rv_id}"), None)["status"],
        "in_force",
        "nothing changed"
    );

    // The notice period is enforced.
    let (status, v) = app.post(
        &format!("/api/v1/agreements/{rv_id}/transitions"),
        json!({ "action": "terminate", "cascade": true, "notice_given_on": "2026-01-10", "ends_on": "2026-03-31" }),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("Kündigungsfrist"),
        "{v}"
    );

    let (status, v) = app.post(
        &format!("/api/v1/agreements/{rv_id}/transitions"),
        json!({ "action": "terminate", "cascade": true, "notice_given_on": "2026-01-10", "ends_on": "2026-12-31", "reason": "Austritt" }),
    );
    assert_eq!(status, Status::Ok, "{v}");
    assert_eq!(v["ends_on"], "2026-12-31");
    let ea_now = app.ok(
        "GET",
        &format!("/api/v1/agreements/{}", ea["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(ea_now["status"], "terminated");
    assert_eq!(ea_now["ends_on"], "2026-12-31");
    let warning = ea_now["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "terminate_cascade")
        .expect("warning record");
    assert!(
        warning["note"].as_str().unwrap().starts_with("WARNUNG"),
        "{warning}"
    );
    assert!(warning["note"]
        .as_str()
        .unwrap()
        .contains(rv["reference"].as_str().unwrap()));
}

#[test]
fn terminating_an_ioev_cascades_through_ekv_to_eas() {
    let app = TestApp::new();
    let (ioev, ekv, wohngeld) = wohngeld_supply(&app);
    let dortmund = app.municipality("05913000");
    app.in_force(json!({ "kind": "rv", "municipality_id": dortmund }));
    let ea = wohngeld_ea(&app, &dortmund, &wohngeld);
    let (status, v) = app.post(
        &format!(
            "/api/v1/agreements/{}/transitions",
            ioev["id"].as_str().unwrap()
        ),
        json!({ "action": "terminate" }),
    );
    assert_eq!(status, Status::Conflict);
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains(ekv["reference"].as_str().unwrap()));
    let (status, _) = app.post(
        &format!(
            "/api/v1/agreements/{}/transitions",
            ioev["id"].as_str().unwrap()
        ),
        json!({ "action": "terminate", "cascade": true }),
    );
    assert_eq!(status, Status::Ok);
    for id in [&ekv["id"], &ea["id"]] {
        assert_eq!(
            app.ok(
                "GET",
                &format!("/api/v1/agreements/{}", id.as_str().unwrap()),
                None
            )["status"],
            "terminated"
        );
    }
}

#[test]
fn lifecycle_refuses_skipped_or_repeated_steps() {
    let app = TestApp::new();
    let dortmund = app.municipality("05913000");
    let rv = app.create(json!({ "kind": "rv", "municipality_id": dortmund }));
    let id = rv["id"].as_str().unwrap();
    for (action, expected) in [
        ("activate", Status::Conflict),
        ("terminate", Status::Conflict),
        ("submit", Status::Ok),
        ("submit", Status::Conflict),
        ("sign", Status::UnprocessableEntity),
        ("SIGNATURES", Status::Ok),
        ("cancel", Status::Conflict),
        // In force with the last signature: not a second time by hand.
        ("activate", Status::Conflict),
        ("expire", Status::Conflict),
    ] {
        if action == "SIGNATURES" {
            app.sign_all(id);
            continue;
        }
        let (status, v) = app.step(id, action);
        assert_eq!(status, expected, "{action}: {v}");
        if status == Status::Conflict {
            assert!(
                ["invalid_transition"].contains(&v["error"].as_str().unwrap()),
                "{v}"
            );
        }
        if action == "sign" {
            assert!(
                v["fields"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("/signatures"),
                "signing is not a lifecycle step: {v}"
            );
        }
    }
    let (status, v) = app.post(
        &format!("/api/v1/agreements/{id}/transitions"),
        json!({ "action": "fly" }),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    // No activation before the signing date (today, the day of the last signature), for
    // one that stayed signed (its coming into force failed).
    let rv2 = app.create(json!({ "kind": "rv", "municipality_id": app.municipality("05113000") }));
    let id2 = rv2["id"].as_str().unwrap();
    app.step(id2, "submit");
    app.sign_all(id2);
    app.stuck_signed(id2);
    let (status, v) = app.post(
        &format!("/api/v1/agreements/{id2}/transitions"),
        json!({ "action": "activate", "effective_from": "2020-01-01" }),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
}

/// The contract's dates, kept by the registry itself: a date set for later is kept and
/// the daily job puts the agreement into force on that day (every party told); an end
/// date that has passed lets it expire.
#[test]
fn agreements_come_into_force_on_their_date_and_expire_after_their_end_by_the_daily_job() {
    use nachnutzung::actions::reminders::{run, ReminderSettings};
    let app = TestApp::new();
    let essen = app.municipality("05113000");
    let rv =
        app.create(json!({ "kind": "rv", "municipality_id": essen, "notice_period_months": 0 }));
    let id = rv["id"].as_str().unwrap().to_string();
    app.step(&id, "submit");
    app.sign_all(&id);
    app.stuck_signed(&id);
    let today = nachnutzung::store::today();
    let later = today + time::Duration::days(10);
    let (status, v) = app.post(
        &format!("/api/v1/agreements/{id}/transitions"),
        json!({ "action": "activate", "effective_from": later.to_string() }),
    );
    assert_eq!(status, Status::Ok, "{v}");
    assert_eq!(v["status"], "signed", "kept for its day: {v}");
    assert_eq!(v["effective_from"], later.to_string());
    let job = |day: time::Date| {
        let app_db = app.db();
        app_db
            .write_blocking(move |c| {
                run(
                    c,
                    ReminderSettings {
                        signature_days: 7,
                        certificate_days: 60,
                        order: Default::default(),
                    },
                    day,
                )
            })
            .unwrap()
    };
    assert_eq!(job(today).due.activated, 0, "not before its day");
    assert_eq!(job(later).due.activated, 1);
    let (_, a) = app.get(&format!("/api/v1/agreements/{id}"));
    assert_eq!(a["status"], "in_force");
    assert_eq!(a["effective_from"], later.to_string());
    let (_, audit) = app.get(&format!("/api/v1/audit?entity_id={id}"));
    assert!(audit.to_string().contains("system:lifecycle"), "{audit}");

    // Concluded until an end date: in force with its signatures, and the job lets it
    // expire the day after its last day, once.
    let end = today + time::Duration::days(5);
    let fixed = app.create(json!({ "kind": "rv", "municipality_id": app.municipality("05913000"), "ends_on": end.to_string() }));
    let fixed = fixed["id"].as_str().unwrap().to_string();
    app.bring_into_force(&fixed);
    assert_eq!(job(end).due.expired, 0, "in force until its last day");
    assert_eq!(job(end + time::Duration::days(1)).due.expired, 1);
    assert_eq!(
        app.get(&format!("/api/v1/agreements/{fixed}")).1["status"],
        "expired"
    );
    assert_eq!(job(end + time::Duration::days(2)).due.expired, 0);
}

#[test]
fn signed_agreements_change_only_by_amendment() {
    let app = TestApp::new();
    let (_, ekv, _) = wohngeld_supply(&app);
    let id = ekv["id"].as_str().unwrap();
    let (status, v) = app.patch(
        &format!("/api/v1/agreements/{id}"),
        json!({ "lock_version": ekv["lock_version"], "costs": "neu" }),
    );
    assert_eq!(status, Status::Conflict);
    assert!(v["message"].as_str().unwrap().contains("Nachtrag"), "{v}");

    let (status, v) = app.post(&format!("/api/v1/agreements/{id}/amendments"), json!({ "lock_version": ekv["lock_version"], "change_note": "Kostenregelung ab 2027", "costs": "Ab 2027 nach Kostenschlüssel" }));
    assert_eq!(status, Status::Created, "{v}");
    assert_eq!(
        v["current_version"], 1,
        "the signed version stays in force until the amendment is"
    );
    assert_eq!(v["versions"].as_array().unwrap().len(), 2);
    assert!(v["terms"]["costs"].is_null());

    let (status, _) = app.post(
        &format!("/api/v1/agreements/{id}/amendments/2/transitions"),
        json!({ "action": "activate" }),
    );
    assert_eq!(
        status,
        Status::Conflict,
        "an amendment is signed before it applies"
    );
    let state = app.sign_all(id);
    assert_eq!(
        state["version_no"], 2,
        "the amendment is signed and sealed: {state}"
    );
    let v = app.ok(
        "POST",
        &format!("/api/v1/agreements/{id}/amendments/2/transitions"),
        Some(json!({ "action": "activate" })),
    );
    assert_eq!(v["current_version"], 2);
    assert_eq!(v["terms"]["costs"], "Ab 2027 nach Kostenschlüssel");
    let versions = v["versions"].as_array().unwrap();
    assert_eq!(versions[0]["status"], "superseded");
    assert!(
        versions[0]["terms"]["costs"].is_null(),
        "version 1 keeps its own terms: {}",
        versions[0]
    );
    assert_eq!(
        versions[0]["terms"]["avv"], versions[1]["terms"]["avv"],
        "the amendment carries the rest over"
    );
    assert_eq!(versions[1]["change_note"], "Kostenregelung ab 2027");
}

#[test]
fn nrw_municipalities_reuse_nrw_services_inbound_too() {
    let app = TestApp::new();
    // The provider of the Einbürgerungsantrag, recorded by staff.
    let kdn = app.ok("POST", "/api/v1/providers", Some(json!({ "name": "KDN – Dachverband kommunaler IT-Dienstleister", "legal_form": "Zweckverband" })));
    let kdn = kdn["id"].as_str().unwrap();
    let einbuergerung = app.service("Digitaler Einbürgerungsantrag");
    app.in_force(json!({ "kind": "ioev", "counterparty_id": kdn }));
    let ekv = app.in_force(
        json!({ "kind": "ekv", "counterparty_id": kdn, "service_id": einbuergerung, "avv": avv() }),
    );
    assert_eq!(
        ekv["direction"], "inbound",
        "d-NRW obtains the NRW service from its provider"
    );

    let essen = app.municipality("05113000");
    app.in_force(json!({ "kind": "rv", "municipality_id": essen }));
    let ea =
        app.create(json!({ "kind": "ea", "municipality_id": essen, "service_id": einbuergerung }));
    assert_eq!(ea["links"]["ekv"]["id"], ekv["id"]);

    // The same NRW service offered to Niedersachsen is an outbound EKV with GovConnect,
    // and it does not count for NRW municipalities.
    let govconnect = app.organisation("intermediaries", "GovConnect GmbH");
    app.in_force(json!({ "kind": "ioev", "counterparty_id": govconnect }));
    let out = app.in_force(json!({ "kind": "ekv", "counterparty_id": govconnect, "service_id": einbuergerung, "avv": avv() }));
    assert_eq!(out["direction"], "outbound");
    let call = app.create(json!({
        "kind": "ea", "counterparty_id": govconnect, "service_id": einbuergerung,
        "external_party_name": "Stadt Oldenburg", "external_party_ags": "03403000"
    }));
    assert_eq!(
        call["links"]["ekv"]["id"], out["id"],
        "the outbound call rests on the outbound EKV"
    );
}
