//! Go-live tasks: the plan an Einzelabruf gets when it comes into force, the evidence each
//! task records, and the EA going live when all are done.

use crate::common::*;
use rocket::http::{ContentType, Header, Status};
use serde_json::{json, Value};

fn today() -> time::Date {
    nachnutzung::store::today()
}

fn plus_days(days: i64) -> String {
    (today() + time::Duration::days(days)).to_string()
}

/// Dortmund's Einzelabruf for Wohngeld, in force today; returns (EA id, its plan).
fn dortmund_wohngeld(app: &TestApp) -> (String, Value) {
    let (dortmund, wohngeld) = dortmund_ready_for_wohngeld(app);
    app.ok(
        "POST",
        &format!("/api/v1/municipalities/{dortmund}/contacts"),
        Some(json!({ "name": "Wiebke Wohngeld", "function": "Sachgebietsleitung Wohngeld", "email": "wohngeld@stadtdo.de" })),
    );
    let ea = wohngeld_ea(app, &dortmund, &wohngeld);
    let id = ea["id"].as_str().unwrap().to_string();
    let plan = app.ok("GET", &format!("/api/v1/agreements/{id}/tasks"), None);
    (id, plan)
}

fn task<'a>(plan: &'a Value, kind: &str) -> &'a Value {
    plan["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} task in {plan}"))
}

fn step_as(app: &TestApp, token: &str, task_id: &str, body: Value) -> (Status, Value) {
    app.send_as(
        token,
        "POST",
        &format!("/api/v1/tasks/{task_id}/transitions"),
        Some(body),
    )
}

fn upload_certificate(app: &TestApp, token: &str, ea: &str, pem: &str) -> (Status, Value) {
    let res = app
        .client
        .post(format!("/api/v1/agreements/{ea}/certificate"))
        .header(Header::new("Authorization", format!("Bearer {token}")))
        .header(ContentType::new("application", "x-pem-file"))
        .body(pem)
        .dispatch();
    let status = res.status();
    let text = res.into_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[test]
fn dortmund_wohngeld_gets_five_tasks_with_owners_contacts_and_due_dates() {
    let app = TestApp::new();
    let (ea, plan) = dortmund_wohngeld(&app);
    let kinds: Vec<&str> = plan["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["vsm", "dvdv", "parameters", "receiving", "provider"]
    );
    assert!(plan["live_on"].is_null());
    let due = plus_days(28);
    for t in plan["tasks"].as_array().unwrap() {
        assert_eq!(t["due_on"], due, "4 weeks after coming into force: {t}");
        assert_eq!(t["status"], "open");
        assert_eq!(t["overdue"], false);
        if t["kind"] == "provider" {
            assert_eq!(t["owner_type"], "organisation");
            assert_eq!(t["owner_is_dnrw"], true);
            assert!(t["owner"]["name"].as_str().unwrap().contains("d-NRW"));
        } else {
            assert_eq!(t["owner_type"], "municipality");
            assert_eq!(t["owner"]["name"], "Stadt Dortmund");
            // The contact whose address the EA names for questions.
            assert_eq!(t["contact"]["name"], "Wiebke Wohngeld", "{t}");
        }
    }
    assert_eq!(task(&plan, "receiving")["depends_on"], json!(["dvdv"]));
    assert_eq!(
        task(&plan, "provider")["depends_on"],
        json!(["dvdv", "parameters", "receiving"])
    );
    // What is known in advance: Wohngeld's Leika keys, the DVDV key of category "wgb".
    let dvdv = app.ok(
        "GET",
        &format!(
            "/api/v1/tasks/{}",
            task(&plan, "dvdv")["id"].as_str().unwrap()
        ),
        None,
    );
    assert_eq!(
        dvdv["suggested_evidence"]["organisation_key"],
        "wgb:05913000"
    );
    assert_eq!(dvdv["may_act"], true);
    // The plan is in the EA's history.
    let audit = app.ok("GET", &format!("/api/v1/audit?entity_id={ea}"), None);
    assert!(audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "golive_plan"));
}

#[test]
fn the_due_date_follows_the_services_setting() {
    let app = TestApp::new();
    let (dortmund, wohngeld) = dortmund_ready_for_wohngeld(&app);
    let s = app.ok("GET", &format!("/api/v1/services/{wohngeld}"), None);
    assert_eq!(s["golive_days"], 28);
    let (status, v) = app.patch(
        &format!("/api/v1/services/{wohngeld}"),
        json!({ "lock_version": s["lock_version"], "golive_days": 0 }),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert_eq!(field_names(&v), ["golive_days"]);
    app.ok(
        "PATCH",
        &format!("/api/v1/services/{wohngeld}"),
        Some(json!({ "lock_version": s["lock_version"], "golive_days": 10 })),
    );
    let ea = wohngeld_ea(&app, &dortmund, &wohngeld);
    let plan = app.ok(
        "GET",
        &format!("/api/v1/agreements/{}/tasks", ea["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(task(&plan, "vsm")["due_on"], plus_days(10));
}

#[test]
fn completing_the_tasks_in_order_makes_the_einzelabruf_live() {
    let app = TestApp::new();
    let (ea, plan) = dortmund_wohngeld(&app);
    let dortmund = app.municipality("05913000");
    let essen = app.municipality("05113000");
    app.user(json!({ "email": "a@dortmund.de", "name": "Anna A", "role": "municipality", "municipality_id": dortmund }));
    app.user(json!({ "email": "b@essen.de", "name": "Bernd B", "role": "municipality", "municipality_id": essen }));
    let a = app.token_for("a@dortmund.de");
    let b = app.token_for("b@essen.de");
    let id = |kind: &str| task(&plan, kind)["id"].as_str().unwrap().to_string();

    // Another municipality neither sees nor does Dortmund's tasks.
    let (status, _) = app.send_as(&b, "GET", &format!("/api/v1/tasks/{}", id("vsm")), None);
    assert_eq!(status, Status::NotFound);
    let (status, _) = step_as(&app, &b, &id("vsm"), json!({ "action": "start" }));
    assert_eq!(status, Status::NotFound);
    let (_, list) = app.send_as(&b, "GET", "/api/v1/tasks", None);
    assert_eq!(list["total"], 0, "{list}");
    let (_, list) = app.send_as(&a, "GET", "/api/v1/tasks?pending=true", None);
    assert_eq!(list["total"], 5);

    // Before any task is done the service page names no slowest task; it is kept per
    // service (lead::SlowestCache) but looked at again once a task changes (below).
    let clerk = app.signed_in(json!({ "email": "c@d-nrw.de", "name": "Clara C", "role": "clerk" }));
    let service = app.service("Wohngeld (Online-Dienst");
    let early = app
        .web_get(Some(&clerk), &format!("/dienste/{service}"))
        .text();
    assert!(!early.contains("Am längsten dauert"), "{early}");

    // VSM: the evidence is checked (Leika format and service, URL), all problems at once.
    let (status, v) = step_as(&app, &a, &id("vsm"), json!({ "action": "start" }));
    assert_eq!(status, Status::Ok, "{v}");
    assert_eq!(v["status"], "in_progress");
    let (status, v) = step_as(
        &app,
        &a,
        &id("vsm"),
        json!({ "action": "complete", "evidence": {
            "leika_keys": ["9910702300000", "99099002000000"],
            "zustaendige_stelle": "", "service_url": "www.dortmund.de/wohngeld" } }),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    let text = v["fields"].to_string();
    assert!(text.contains("genau 14 Ziffern"), "{text}");
    assert!(
        text.contains("99099002000000 gehört nicht zu diesem Dienst"),
        "{text}"
    );
    assert!(text.contains("Zuständige Stelle ist anzugeben"), "{text}");
    assert!(text.contains("keine Web-Adresse"), "{text}");
    let (status, v) = step_as(
        &app,
        &a,
        &id("vsm"),
        json!({ "action": "complete", "evidence": {
            "leika_keys": "99107023000000\n99107023011000",
            "zustaendige_stelle": "Stadt Dortmund, Amt für Wohnen, Wohngeldstelle",
            "service_url": "https://www.dortmund.de/wohngeld" } }),
    );
    assert_eq!(status, Status::Ok, "{v}");
    assert_eq!(v["status"], "done");
    assert_eq!(
        v["evidence"]["leika_keys"],
        json!(["99107023000000", "99107023011000"])
    );
    assert_eq!(v["completed_on"], today().to_string());

    // The receiving side waits for the DVDV entry.
    let (status, v) = step_as(
        &app,
        &a,
        &id("receiving"),
        json!({ "action": "complete", "evidence": { "fachverfahren": "WinWohngeld 5.2", "test_received_on": today().to_string() } }),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("DVDV-Eintrag"),
        "{v}"
    );

    // DVDV: without a certificate on file it cannot be done; a wrong key is refused.
    let (status, v) = step_as(
        &app,
        &a,
        &id("dvdv"),
        json!({ "action": "complete", "evidence": { "organisation_key": "wgb:05913000" } }),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert!(v["fields"]
        .to_string()
        .contains("kein DVDV-Verschlüsselungszertifikat"));
    let (status, v) = upload_certificate(
        &app,
        &a,
        &ea,
        &certificate("Stadt Dortmund Wohngeld", -1, 700, &["digitalSignature"]),
    );
    assert_eq!(
        status,
        Status::UnprocessableEntity,
        "a signing-only certificate: {v}"
    );
    assert!(
        v["fields"].to_string().contains("keine Verschlüsselung"),
        "{v}"
    );
    let (status, v) = upload_certificate(&app, &b, &ea, "x");
    assert_eq!(status, Status::NotFound, "another municipality's EA: {v}");
    let pem = certificate("Stadt Dortmund Wohngeld", -1, 700, &["keyEncipherment"]);
    let (status, cert) = upload_certificate(&app, &a, &ea, &pem);
    assert_eq!(status, Status::Created, "{cert}");
    let fingerprint = cert["details"]["fingerprint_sha256"].as_str().unwrap();
    let (status, v) = step_as(
        &app,
        &a,
        &id("dvdv"),
        json!({ "action": "complete", "evidence": { "organisation_key": "bab:05913000" } }),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert!(v["fields"].to_string().contains("„wgb“"), "{v}");
    let (status, v) = step_as(
        &app,
        &a,
        &id("dvdv"),
        json!({ "action": "complete", "evidence": { "organisation_key": "wgb:05913000" } }),
    );
    assert_eq!(status, Status::Ok, "{v}");
    assert_eq!(v["evidence"]["certificate_fingerprint_sha256"], fingerprint);
    assert_eq!(v["evidence"]["certificate_expires_on"], plus_days(700));

    // A block needs a reason and lifts with "start".
    let (status, v) = step_as(&app, &a, &id("receiving"), json!({ "action": "block" }));
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    let (status, v) = step_as(
        &app,
        &a,
        &id("receiving"),
        json!({ "action": "block", "reason": "Update des Fachverfahrens steht aus" }),
    );
    assert_eq!(status, Status::Ok, "{v}");
    assert_eq!(v["status"], "blocked");
    assert_eq!(v["blocked_reason"], "Update des Fachverfahrens steht aus");
    step_as(&app, &a, &id("receiving"), json!({ "action": "start" }));
    let (status, v) = step_as(
        &app,
        &a,
        &id("receiving"),
        json!({ "action": "complete", "evidence": { "fachverfahren": "WinWohngeld 5.2", "it_dienstleister": "dogado / citeq", "test_received_on": today().to_string() } }),
    );
    assert_eq!(status, Status::Ok, "{v}");

    // Parameters: the EA's values are recorded as they are.
    let (status, v) = step_as(&app, &a, &id("parameters"), json!({ "action": "complete" }));
    assert_eq!(status, Status::Ok, "{v}");
    assert_eq!(
        v["evidence"]["parameters"]["kontakt_email"],
        "wohngeld@stadtdo.de"
    );

    // The provider task is d-NRW's: the municipality sees it but may not do it.
    let (status, v) = step_as(&app, &a, &id("provider"), json!({ "action": "start" }));
    assert_eq!(status, Status::Forbidden, "{v}");
    let (status, v) = app.post(
        &format!("/api/v1/tasks/{}/transitions", id("provider")),
        json!({ "action": "complete", "evidence": { "handed_over_on": today().to_string(), "confirmed_on": plus_days(1) } }),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert!(v["fields"].to_string().contains("Zukunft"));
    let (status, v) = app.post(
        &format!("/api/v1/tasks/{}/transitions", id("provider")),
        json!({ "action": "complete", "evidence": { "handed_over_on": plus_days(-1), "confirmed_on": today().to_string(), "provider_reference": "DP-2026-4711" } }),
    );
    assert_eq!(status, Status::Ok, "{v}");

    let plan = app.ok("GET", &format!("/api/v1/agreements/{ea}/tasks"), None);
    assert_eq!(plan["live_on"], today().to_string(), "{plan}");
    let agreement = app.ok("GET", &format!("/api/v1/agreements/{ea}"), None);
    assert_eq!(agreement["live_on"], today().to_string());
    // The service page gives the lead time: filed and live today, every task done today.
    let page = app
        .web_get(Some(&clerk), &format!("/dienste/{service}"))
        .text();
    assert!(
        page.contains("Aus 1 Einzelabruf, der live ist: im Median 0 Tage vom Einreichen bis live, 90 % innerhalb von 0 Tagen"),
        "{page}"
    );
    assert!(page.contains("Am längsten dauert die Aufgabe „"), "{page}");
    // The roll-out's table states the same lead time (median, 90 %).
    let rollout = app.web_get(Some(&clerk), "/rollout").body;
    let table = rollout
        .split("id=\"tabelle-dienste\"")
        .nth(1)
        .and_then(|t| t.split(&format!("/dienste/{service}\"")).nth(1))
        .and_then(|r| r.split("</tr>").next())
        .unwrap_or_else(|| panic!("{rollout}"));
    assert!(
        cells(table).ends_with(&["0".to_string(), "0".to_string()]),
        "{table}"
    );

    // Only d-NRW reopens a done task; the EA is then no longer live.
    let (status, _) = step_as(&app, &a, &id("vsm"), json!({ "action": "reopen" }));
    assert_eq!(status, Status::Forbidden);
    let (status, v) = app.post(
        &format!("/api/v1/tasks/{}/transitions", id("vsm")),
        json!({ "action": "reopen" }),
    );
    assert_eq!(status, Status::Ok, "{v}");
    let plan = app.ok("GET", &format!("/api/v1/agreements/{ea}/tasks"), None);
    assert!(plan["live_on"].is_null());
    let audit = app.ok("GET", &format!("/api/v1/audit?entity_id={ea}"), None);
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"live") && actions.contains(&"not_live"),
        "{actions:?}"
    );
}

#[test]
fn staff_set_due_dates_and_contacts_of_the_owner_only() {
    let app = TestApp::new();
    let (_, plan) = dortmund_wohngeld(&app);
    let t = task(&plan, "vsm");
    let path = format!("/api/v1/tasks/{}", t["id"].as_str().unwrap());
    let (status, v) = app.patch(&path, json!({ "due_on": plus_days(40) }));
    assert_eq!(
        status,
        Status::UnprocessableEntity,
        "lock_version missing: {v}"
    );
    let (status, v) = app.patch(
        &path,
        json!({ "lock_version": t["lock_version"], "due_on": plus_days(-400) }),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert_eq!(field_names(&v), ["due_on"]);
    let essen = app.municipality("05113000");
    let other = app.ok(
        "POST",
        &format!("/api/v1/municipalities/{essen}/contacts"),
        Some(json!({ "name": "Erika Essen" })),
    );
    let (status, v) = app.patch(
        &path,
        json!({ "lock_version": t["lock_version"], "contact_id": other["id"] }),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert!(v["fields"].to_string().contains("keine Ansprechperson"));
    let (status, v) = app.patch(
        &path,
        json!({ "lock_version": t["lock_version"], "due_on": plus_days(40), "contact_id": null }),
    );
    assert_eq!(status, Status::Ok, "{v}");
    assert_eq!(v["due_on"], plus_days(40));
    assert!(v["contact"].is_null());
    let (status, _) = app.patch(
        &path,
        json!({ "lock_version": t["lock_version"], "due_on": plus_days(41) }),
    );
    assert_eq!(status, Status::Conflict, "stale lock_version");
}

#[test]
fn an_outbound_einzelabruf_is_planned_for_the_intermediary() {
    let app = TestApp::with_demo();
    // Hannover's EA (via GovConnect) went live before the registry: done outside.
    let list = app.ok("GET", "/api/v1/agreements?kind=ea&status=in_force", None);
    let hannover = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["direction"] == "outbound")
        .expect("Hannover's EA");
    let id = hannover["id"].as_str().unwrap();
    let plan = app.ok("GET", &format!("/api/v1/agreements/{id}/tasks"), None);
    assert_eq!(plan["live_on"], "2023-08-28");
    let vsm = task(&plan, "vsm");
    assert_eq!(vsm["owner"]["name"], "GovConnect GmbH");
    assert_eq!(vsm["status"], "done");
    assert_eq!(vsm["municipality"], "Landeshauptstadt Hannover");
}
