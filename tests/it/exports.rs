//! Exports: the VSM data of a municipality's live services (CSV) and each user's go-live
//! due dates as an iCalendar feed behind a secret address, each within its tenant.

use crate::common::*;
use rocket::http::{ContentType, Header, Status};
use serde_json::{json, Value};

fn today() -> String {
    nachnutzung::store::today().to_string()
}

/// Essen's Einzelabruf for Wohngeld, in force, with every go-live task done by staff
/// through the API (the VSM entry naming two Leika keys). Returns (Essen's id, EA id).
fn essen_live(app: &TestApp) -> (String, String) {
    let wohngeld = app.service("Wohngeld (Online-Dienst");
    let essen = app.municipality("05113000");
    app.in_force(json!({ "kind": "rv", "municipality_id": essen }));
    let ea = app.in_force(json!({
        "kind": "ea", "municipality_id": essen, "service_id": wohngeld, "avv": avv(),
        "parameters": { "zustaendige_stelle_url": "https://www.essen.de/wohngeld", "kontakt_email": "wohngeld@essen.de" }
    }));
    let ea = ea["id"].as_str().unwrap().to_string();
    let res = app
        .client
        .post(format!("/api/v1/agreements/{ea}/certificate"))
        .header(Header::new("Authorization", format!("Bearer {TOKEN}")))
        .header(ContentType::new("application", "x-pem-file"))
        .body(certificate("Stadt Essen", -1, 400, &["keyEncipherment"]))
        .dispatch();
    assert_eq!(res.status(), Status::Created);
    let plan = app.ok("GET", &format!("/api/v1/agreements/{ea}/tasks"), None);
    let evidence: [(&str, Value); 5] = [
        (
            "vsm",
            json!({ "leika_keys": ["99107023000000", "99107023011000"], "zustaendige_stelle": "Stadt Essen, Amt für Wohnungswesen", "service_url": "https://www.essen.de/wohngeld-online" }),
        ),
        ("dvdv", json!({ "organisation_key": "wgb:05113000" })),
        ("parameters", json!({})),
        (
            "receiving",
            json!({ "fachverfahren": "WinWohngeld 5.2", "test_received_on": today() }),
        ),
        (
            "provider",
            json!({ "handed_over_on": today(), "confirmed_on": today() }),
        ),
    ];
    for (kind, e) in evidence {
        let t = plan["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["kind"] == kind)
            .unwrap();
        let (status, v) = app.post(
            &format!("/api/v1/tasks/{}/transitions", t["id"].as_str().unwrap()),
            json!({ "action": "complete", "evidence": e }),
        );
        assert_eq!(status, Status::Ok, "{kind}: {v}");
    }
    (essen, ea)
}

fn csv_rows(body: &[u8]) -> Vec<Vec<String>> {
    assert!(body.starts_with("\u{feff}".as_bytes()));
    csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .from_reader(&body[3..])
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[test]
fn the_vsm_export_lists_each_leika_key_of_the_live_services_with_office_and_url() {
    let app = TestApp::with_demo();
    let (essen, _) = essen_live(&app);
    let res = app
        .client
        .get(format!("/api/v1/municipalities/{essen}/vsm.csv"))
        .header(Header::new("Authorization", format!("Bearer {TOKEN}")))
        .dispatch();
    assert_eq!(res.status(), Status::Ok);
    assert!(res
        .headers()
        .get_one("Content-Disposition")
        .unwrap()
        .contains("vsm.csv"));
    let rows = csv_rows(&res.into_bytes().unwrap());
    assert_eq!(
        rows[0],
        [
            "Leika-Schlüssel",
            "ARS",
            "Kommune",
            "Zuständige Stelle",
            "Adresse des Online-Dienstes",
            "Dienst",
            "Live seit"
        ]
    );
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(
        rows[1],
        [
            "99107023000000",
            "051130000000",
            "Stadt Essen",
            "Stadt Essen, Amt für Wohnungswesen",
            "https://www.essen.de/wohngeld-online",
            "Wohngeld (Online-Dienst Wohngeld)",
            &today()
        ]
    );
    assert_eq!(rows[2][0], "99107023011000");

    // Dortmund went live before the registry: the service's Leika keys, nothing invented.
    let dortmund = app.municipality("05913000");
    let (_, body) = app.get(&format!("/api/v1/municipalities/{dortmund}/vsm.csv"));
    let text = body.as_str().unwrap().to_string();
    let rows = csv_rows(text.as_bytes());
    assert_eq!(rows.len(), 10, "nine Leika keys of Wohngeld: {rows:?}");
    assert!(rows[1..]
        .iter()
        .all(|r| r[1] == "059130000000" && r[3].is_empty() && r[6] == "2022-12-19"));

    // Only staff and the municipality itself.
    app.user(json!({ "email": "e@essen.de", "name": "E", "role": "municipality", "municipality_id": essen }));
    app.user(json!({ "email": "d@dortmund.de", "name": "D", "role": "municipality", "municipality_id": dortmund }));
    let (status, _) = app.send_as(
        &app.token_for("e@essen.de"),
        "GET",
        &format!("/api/v1/municipalities/{essen}/vsm.csv"),
        None,
    );
    assert_eq!(status, Status::Ok);
    let (status, _) = app.send_as(
        &app.token_for("d@dortmund.de"),
        "GET",
        &format!("/api/v1/municipalities/{essen}/vsm.csv"),
        None,
    );
    assert_eq!(status, Status::NotFound);
}

#[test]
fn each_user_subscribes_to_the_due_dates_of_their_own_tasks_only() {
    let app = TestApp::new();
    let (dortmund, wohngeld) = dortmund_ready_for_wohngeld(&app);
    let ea = wohngeld_ea(&app, &dortmund, &wohngeld);
    let ea = ea["id"].as_str().unwrap();
    let (a_id, _) = app.user(json!({ "email": "a@dortmund.de", "name": "A", "role": "municipality", "municipality_id": dortmund }));
    let (b_id, _) = app.user(json!({ "email": "b@essen.de", "name": "B", "role": "municipality", "municipality_ags": "05113000" }));
    let ready = |id: &str| {
        use diesel::prelude::*;
        use nachnutzung::db::schema::users;
        let db = app.db();
        let uid = id.to_string();
        db.write_blocking(move |c| {
            diesel::update(users::table.find(uid))
                .set(users::must_change_password.eq(false))
                .execute(c)?;
            Ok(())
        })
        .unwrap();
        app.web_user(id)
    };
    let (a, b) = (ready(&a_id), ready(&b_id));
    let feed_of = |user: &WebUser| {
        let page = app.web_post(Some(user), "/kalender", &[]);
        assert_eq!(page.status, Status::Ok);
        let at = page
            .body
            .find("/kalender/")
            .expect("the address is shown once");
        let path = page.body[at..].split('<').next().unwrap().to_string();
        assert!(path.ends_with(".ics"), "{path}");
        path
    };
    let feed = feed_of(&a);
    // No session needed: calendar programs fetch it by its secret address.
    let res = app.client.get(feed.clone()).dispatch();
    assert_eq!(res.status(), Status::Ok);
    assert_eq!(
        res.content_type().unwrap().to_string(),
        "text/calendar; charset=utf-8"
    );
    let ics = res.into_string().unwrap();
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.ends_with("END:VCALENDAR\r\n"));
    assert_eq!(ics.matches("BEGIN:VEVENT").count(), 5, "{ics}");
    let unfolded = ics.replace("\r\n ", "");
    assert!(unfolded.contains("SUMMARY:Frist: DVDV-Eintrag mit Verschlüsselungszertifikat – Wohngeld (Online-Dienst Wohngeld) (Stadt Dortmund)"), "{unfolded}");
    let due = (nachnutzung::store::today() + time::Duration::days(28))
        .to_string()
        .replace('-', "");
    assert!(unfolded.contains(&format!("DTSTART;VALUE=DATE:{due}")));
    assert!(ics.lines().all(|l| l.len() <= 75));
    // A done task leaves the feed.
    let plan = app.ok("GET", &format!("/api/v1/agreements/{ea}/tasks"), None);
    let vsm = plan["tasks"][0]["id"].as_str().unwrap();
    app.ok("POST", &format!("/api/v1/tasks/{vsm}/transitions"), Some(json!({ "action": "complete", "evidence": { "leika_keys": "99107023000000", "zustaendige_stelle": "Wohngeldstelle", "service_url": "https://www.dortmund.de/wohngeld" } })));
    let ics = app
        .client
        .get(feed.clone())
        .dispatch()
        .into_string()
        .unwrap();
    assert_eq!(ics.matches("BEGIN:VEVENT").count(), 4);

    // Essen's feed has none of Dortmund's tasks.
    let other = app
        .client
        .get(feed_of(&b))
        .dispatch()
        .into_string()
        .unwrap();
    assert_eq!(other.matches("BEGIN:VEVENT").count(), 0, "{other}");
    // A new address ends the old one; a guessed one is nothing.
    let renewed = feed_of(&a);
    assert_ne!(renewed, feed);
    assert_eq!(app.client.get(feed).dispatch().status(), Status::NotFound);
    assert_eq!(app.client.get(renewed).dispatch().status(), Status::Ok);
    assert_eq!(
        app.client
            .get(format!("/kalender/{}.ics", "a".repeat(64)))
            .dispatch()
            .status(),
        Status::NotFound
    );
}
