//! The clerk's start page as a to-do list: each kind of item appears when its condition
//! holds and disappears when it is done.

use crate::common::*;
use rocket::http::{ContentType, Header, Status};
use serde_json::json;

fn start(app: &TestApp, clerk: &WebUser) -> String {
    app.web_get(Some(clerk), "/").text()
}

fn db_exec(app: &TestApp, sql: String) {
    app.db()
        .write_blocking(move |c| {
            use diesel::connection::SimpleConnection;
            c.batch_execute(&sql)?;
            Ok(())
        })
        .unwrap();
}

#[test]
fn each_kind_of_to_do_appears_when_due_and_goes_when_done() {
    let app = TestApp::new();
    let clerk = app.signed_in(json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk", "may_sign": true }));
    assert!(start(&app, &clerk).contains("Nichts ist fällig"));

    // A countersignature: the partner has signed, d-NRW has not.
    let koeln = app.municipality("05315000");
    let rv = app.create(json!({ "kind": "rv", "municipality_id": koeln }));
    let rv_id = rv["id"].as_str().unwrap().to_string();
    app.step(&rv_id, "submit");
    let partner = app.signatory(&format!("municipalities/{koeln}"), "Paula Partner");
    app.sign_as(&rv_id, &partner);
    let page = start(&app, &clerk);
    assert!(
        page.contains("Gegenzeichnung durch d-NRW fällig (1)")
            && page.contains(rv["reference"].as_str().unwrap()),
        "{page}"
    );
    assert_eq!(app.web_sign(&clerk, &rv_id).status, Status::SeeOther);
    assert!(!start(&app, &clerk).contains("Gegenzeichnung durch d-NRW fällig"));

    // Waiting for the other side for more than a week.
    let essen = app.municipality("05113000");
    let waiting = app.create(json!({ "kind": "rv", "municipality_id": essen }));
    let waiting_id = waiting["id"].as_str().unwrap().to_string();
    app.step(&waiting_id, "submit");
    assert!(!start(&app, &clerk).contains("Warten seit mehr als 7 Tagen"));
    let old = (time::OffsetDateTime::now_utc() - time::Duration::days(10)).date();
    db_exec(
        &app,
        format!("UPDATE agreements SET submitted_at = '{old} 08:00:00' WHERE id = '{waiting_id}'"),
    );
    assert!(start(&app, &clerk).contains("Warten seit mehr als 7 Tagen auf die andere Seite (1)"));
    app.step(&waiting_id, "cancel");
    assert!(!start(&app, &clerk).contains("Warten seit mehr als"));

    // Signed but not in force.
    let (dortmund, wohngeld) = dortmund_ready_for_wohngeld(&app);
    let ea = wohngeld_ea(&app, &dortmund, &wohngeld);
    let ea_id = ea["id"].as_str().unwrap().to_string();
    let bochum = app.municipality("05911000");
    let stuck = app.in_force(json!({ "kind": "rv", "municipality_id": bochum }));
    let stuck_id = stuck["id"].as_str().unwrap().to_string();
    app.stuck_signed(&stuck_id);
    assert!(start(&app, &clerk).contains("Unterzeichnet, noch nicht in Kraft (1)"));
    app.ok(
        "POST",
        &format!("/api/v1/agreements/{stuck_id}/transitions"),
        Some(json!({ "action": "activate" })),
    );
    assert!(!start(&app, &clerk).contains("Unterzeichnet, noch nicht in Kraft"));

    // An overdue task, and a blocked one.
    let plan = app.ok("GET", &format!("/api/v1/agreements/{ea_id}/tasks"), None);
    let first = plan["tasks"][0]["id"].as_str().unwrap().to_string();
    let second = plan["tasks"][1]["id"].as_str().unwrap().to_string();
    let past = (time::OffsetDateTime::now_utc() - time::Duration::days(3)).date();
    db_exec(
        &app,
        format!("UPDATE golive_tasks SET due_on = '{past}' WHERE id = '{first}'"),
    );
    let page = start(&app, &clerk);
    assert!(
        page.contains("Überfällige Aufgaben zur Inbetriebnahme (1)") && page.contains("überfällig"),
        "{page}"
    );
    app.ok(
        "POST",
        &format!("/api/v1/tasks/{second}/transitions"),
        Some(json!({ "action": "block", "reason": "Zertifikat fehlt noch" })),
    );
    let page = start(&app, &clerk);
    assert!(
        page.contains("Blockierte Aufgaben (1)") && page.contains("„Zertifikat fehlt noch“"),
        "{page}"
    );
    let future = (time::OffsetDateTime::now_utc() + time::Duration::days(3)).date();
    db_exec(
        &app,
        format!("UPDATE golive_tasks SET due_on = '{future}' WHERE id = '{first}'"),
    );
    app.ok(
        "POST",
        &format!("/api/v1/tasks/{second}/transitions"),
        Some(json!({ "action": "start" })),
    );
    let page = start(&app, &clerk);
    assert!(
        !page.contains("Überfällige Aufgaben") && !page.contains("Blockierte Aufgaben"),
        "{page}"
    );

    // A DVDV certificate ending within 60 days, until a newer one is handed in.
    let upload = |pem: String| {
        let res = app
            .client
            .post(format!("/api/v1/agreements/{ea_id}/certificate"))
            .header(Header::new("Authorization", format!("Bearer {TOKEN}")))
            .header(ContentType::new("application", "x-pem-file"))
            .body(pem)
            .dispatch();
        assert_eq!(res.status(), Status::Created, "{:?}", res.into_string());
    };
    upload(certificate(
        "wohngeld.dortmund.de",
        -300,
        30,
        &["keyEncipherment"],
    ));
    assert!(
        start(&app, &clerk).contains("DVDV-Zertifikate, die in den nächsten 60 Tagen ablaufen (1)")
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    upload(certificate(
        "wohngeld.dortmund.de",
        -1,
        700,
        &["keyEncipherment"],
    ));
    assert!(!start(&app, &clerk).contains("DVDV-Zertifikate"));

    // A mail the outbox could not send.
    app.fail_oldest_mail("550 mailbox unavailable", 3);
    let page = start(&app, &clerk);
    assert!(
        page.contains("E-Mails, die nicht zugestellt werden konnten (1)")
            && page.contains("550 mailbox unavailable"),
        "{page}"
    );
    db_exec(
        &app,
        "UPDATE outbox SET sent_at = created_at WHERE last_error IS NOT NULL".into(),
    );
    assert!(!start(&app, &clerk).contains("nicht zugestellt werden konnten"));
}

#[test]
fn a_municipality_sees_what_it_must_sign_submit_and_provide() {
    let app = TestApp::new();
    let koeln = app.municipality("05315000");
    let erika = app.signed_in(json!({ "email": "erika@stadt-koeln.de", "name": "Erika Köln", "role": "municipality", "municipality_id": koeln, "may_sign": true }));
    let home = |app: &TestApp| app.web_get(Some(&erika), "/kommune").text();
    assert!(home(&app).contains("Derzeit ist nichts von Ihrer Kommune zu erledigen."));
    // A draft to read and submit.
    let made = app.web_post(Some(&erika), "/kommune/rahmenvereinbarung", &[]);
    let rv_path = made.location.unwrap();
    let rv_id = rv_path.trim_start_matches("/vereinbarungen/").to_string();
    assert!(home(&app).contains("Entwürfe prüfen und verbindlich beantragen (1)"));
    // Submitted: to sign.
    app.web_post(
        Some(&erika),
        &format!("{rv_path}/antrag"),
        &[("action", "submit")],
    );
    let page = home(&app);
    assert!(
        page.contains("Unterschreiben (1)") && !page.contains("Entwürfe prüfen"),
        "{page}"
    );
    assert_eq!(app.web_sign(&erika, &rv_id).status, Status::SeeOther);
    assert!(home(&app).contains("Derzeit ist nichts von Ihrer Kommune zu erledigen."));
}

#[test]
fn another_lands_intermediary_sees_what_waits_for_it_and_its_municipalities_use_of_nrw_services() {
    let app = TestApp::with_demo();
    let govconnect = app.organisation("intermediaries", "GovConnect GmbH");
    let iv = app.signed_in(json!({ "email": "iv@govconnect.de", "name": "Ina Intermediär", "role": "intermediary", "organisation_id": govconnect, "may_sign": true }));
    let page = app.web_get(Some(&iv), "/").text();
    assert!(
        page.contains("Derzeit wartet nichts auf Ihre Unterschrift."),
        "{page}"
    );
    // Hannover's Einzelabruf of the NRW service is counted (the demo has it live).
    assert!(
        page.contains("Nachnutzung von NRW-Diensten durch Kommunen Ihres Landes"),
        "{page}"
    );
    let row = page
        .split("Nachnutzung von NRW-Diensten durch Kommunen Ihres Landes")
        .nth(1)
        .unwrap();
    assert!(
        row.contains(" 1 0 0 0") || row.contains(" 0 1 0 0"),
        "{row}"
    );
    // An EKV submitted to GovConnect waits for its signature.
    let service = app.service("Gewerbeanzeige");
    let ekv = app.create(json!({ "kind": "ekv", "counterparty_id": govconnect, "service_id": service, "direction": "outbound", "avv": avv() }));
    let (status, v) = app.step(ekv["id"].as_str().unwrap(), "submit");
    assert_eq!(status, Status::Ok, "{v}");
    let page = app.web_get(Some(&iv), "/").text();
    assert!(
        page.contains("Wartet auf Sie") && page.contains(ekv["reference"].as_str().unwrap()),
        "{page}"
    );
}
