//! Another Land's intermediary asks to re-use an NRW service from the catalogue: the
//! catalogue shows NRW's services apart from other Länder's, each with its own way to
//! start; the request drafts an EKV for d-NRW (with the IÖV check) and mails the staff.

use super::*;
use rocket::http::Status;

/// The mails waiting in the outbox of `kind`: (recipient, subject, text).
fn queued(app: &TestApp, kind: &'static str) -> Vec<(String, String, String)> {
    app.db()
        .read_blocking(move |c| {
            use diesel::prelude::*;
            use nachnutzung::db::schema::outbox;
            Ok(outbox::table
                .filter(outbox::kind.eq(kind))
                .select((outbox::recipient, outbox::subject, outbox::body_text))
                .load::<(String, String, String)>(c)?)
        })
        .unwrap()
}

#[test]
fn an_intermediary_asks_to_reuse_an_nrw_service_and_d_nrw_gets_a_draft_ekv_and_a_mail() {
    let app = TestApp::with_demo();
    let govconnect = app.organisation("intermediaries", "GovConnect GmbH");
    let iv = app.signed_in(json!({ "email": "iv@govconnect.de", "name": "Ina Intermediär", "role": "intermediary", "organisation_id": govconnect, "may_sign": true }));
    let gewerbe = app.service("Gewerbeanzeige");
    let wohngeld = app.service("Wohngeld (Online-Dienst");

    // The catalogue in two parts: Wohngeld (another Land's) before the NRW part,
    // Gewerbeanzeige (NRW's) in it.
    let catalog = app.web_get(None, "/katalog").text();
    let nrw_part = catalog
        .rfind("NRW-Dienste für andere Länder")
        .expect("the NRW part");
    let inbound_part = catalog
        .rfind("Dienste aus anderen Ländern für NRW-Kommunen")
        .expect("the other Länder's part");
    assert!(inbound_part < nrw_part);
    let at = |name: &str| catalog.find(name).unwrap_or_else(|| panic!("{name}"));
    assert!(at("Gewerbeanzeige (An-") > nrw_part, "{catalog}");
    let wohngeld_card = at("Wohngeld (Online-Dienst Wohngeld)");
    assert!(
        wohngeld_card > inbound_part && wohngeld_card < nrw_part,
        "{catalog}"
    );
    assert!(catalog.contains("So starten Sie als Kommune in NRW"));
    assert!(catalog.contains("So starten Sie als anderes Land"));
    // Logged in, the same content (served from the same cache) under the user's header.
    let logged_in = app.web_get(Some(&iv), "/katalog").text();
    assert!(logged_in.contains("NRW-Dienste für andere Länder") && logged_in.contains("Ina"));

    // The NRW service's page: the route for another Land, the form for the intermediary
    // only; a municipality is not offered an Einzelabruf of an NRW service.
    let path = format!("/katalog/{gewerbe}");
    let page = app.web_get(Some(&iv), &path).text();
    assert!(
        page.contains("So starten Sie als anderes Land") && page.contains("Nachnutzung anfragen"),
        "{page}"
    );
    assert!(!page.contains("So starten Sie als Kommune"), "{page}");
    let visitor = app.web_get(None, &path).text();
    assert!(
        visitor.contains("Sie vertreten ein anderes Land?")
            && !visitor.contains("Nachnutzung anfragen")
    );
    let erika = app.signed_in(json!({ "email": "erika@stadt-koeln.de", "name": "Erika Köln", "role": "municipality", "municipality_id": app.municipality("05315000"), "may_sign": true }));
    let seen = app.web_get(Some(&erika), &path).text();
    assert!(
        !seen.contains("Nachnutzung anfragen")
            && !seen.contains("Einzelabruf für diesen Dienst beantragen")
    );
    // Another Land's service keeps the municipality's route.
    let other = app
        .web_get(Some(&iv), &format!("/katalog/{wohngeld}"))
        .text();
    assert!(
        other.contains("So starten Sie als Kommune in NRW")
            && !other.contains("Nachnutzung anfragen")
    );

    // The request: a draft EKV for d-NRW, outbound, resting on GovConnect's IÖV.
    let staff_before = queued(&app, "ekv_requested").len();
    assert_eq!(staff_before, 0);
    let note =
        "Ab 1. März 2027 für zwölf Kommunen in Niedersachsen; Ansprechperson: Ina Intermediär";
    let sent = app.web_post(Some(&iv), &format!("{path}/anfrage"), &[("note", note)]);
    assert_eq!(sent.status, Status::SeeOther, "{}", sent.text());
    assert_eq!(
        sent.location.as_deref(),
        Some(format!("{path}#nachnutzung").as_str())
    );
    let (_, list) = app.get(&format!(
        "/api/v1/agreements?kind=ekv&counterparty_id={govconnect}&service_id={gewerbe}"
    ));
    let ekv = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["status"] == "draft")
        .unwrap_or_else(|| panic!("a draft EKV: {list}"))
        .clone();
    assert_eq!(ekv["direction"], "outbound", "{ekv}");
    assert_eq!(
        ekv["links"]["ioev"]["status"], "in_force",
        "rests on the IÖV: {ekv}"
    );
    let reference = ekv["reference"].as_str().unwrap();
    let page = app.web_get(Some(&iv), &path).text();
    assert!(
        page.contains("Ihre Anfrage liegt d-NRW vor") && page.contains(reference),
        "{page}"
    );
    assert!(!page.contains("Nachnutzung anfragen"), "asked once: {page}");
    // The intermediary sees its request among its agreements; the NRW service it asked
    // for is not counted as one of its own services in NRW.
    let home = app.web_get(Some(&iv), "/").text();
    assert!(home.contains(reference), "{home}");
    // Its page says where the request stands, in the requester's words, not d-NRW's.
    let draft = app
        .web_get(
            Some(&iv),
            &format!("/vereinbarungen/{}", ekv["id"].as_str().unwrap()),
        )
        .text();
    assert!(
        draft.contains("Ihre Anfrage liegt d-NRW vor")
            && draft.contains("Anmerkung: Ab 1. März 2027"),
        "{draft}"
    );
    assert!(!draft.contains("hat noch keine AVV"), "{draft}");
    assert!(
        !home.contains("Nachnutzung Ihrer Dienste durch Kommunen in NRW"),
        "{home}"
    );
    // Every active clerk and admin is mailed, with the note.
    let mails = queued(&app, "ekv_requested");
    assert!(!mails.is_empty());
    for (to, subject, text) in &mails {
        assert!(
            to.ends_with("@d-nrw.de") || to.ends_with("@demo.nachnutzung.de"),
            "{to}"
        );
        assert!(!to.contains("govconnect"), "staff only: {to}");
        assert!(
            subject.contains("GovConnect GmbH") && subject.contains(reference),
            "{subject}"
        );
        assert!(
            text.contains("Gewerbeanzeige")
                && text.contains("zwölf Kommunen")
                && text.contains("Ina Intermediär"),
            "{text}"
        );
    }

    // d-NRW's clerks find the request on their start page.
    let clerk =
        app.signed_in(json!({ "email": "clara@d-nrw.de", "name": "Clara Clerk", "role": "clerk" }));
    let dashboard = app.web_get(Some(&clerk), "/").text();
    assert!(
        dashboard.contains("Anfragen anderer Länder zur Nachnutzung (1)")
            && dashboard.contains(reference),
        "{dashboard}"
    );

    // Asked again (a form sent twice): refused, the note kept, no second draft or mail.
    let again = app.web_post(
        Some(&iv),
        &format!("{path}/anfrage"),
        &[("note", "Nochmal")],
    );
    assert_eq!(again.status, Status::Conflict, "{}", again.text());
    assert!(again.text().contains("besteht bereits"), "{}", again.text());
    assert_eq!(queued(&app, "ekv_requested").len(), mails.len());

    // Not an NRW service: refused at the field.
    let wrong = app.web_post(
        Some(&iv),
        &format!("/katalog/{wohngeld}/anfrage"),
        &[("note", "")],
    );
    assert_eq!(wrong.status, Status::UnprocessableEntity);
    assert!(
        wrong.text().contains("ist kein Dienst aus NRW"),
        "{}",
        wrong.text()
    );
    // A control character in the note: refused at the field, nothing written.
    let bad = app.web_post(
        Some(&iv),
        &format!("/katalog/{gewerbe}/anfrage"),
        &[("note", "a\u{7}b")],
    );
    assert_eq!(bad.status.code, 422, "{}", bad.text());

    // An intermediary without an IÖV in force is told to ask for it first, and a request
    // sent anyway is refused with the reason.
    let (_, org) = app.post(
        "/api/v1/intermediaries",
        json!({ "name": "ITEBO GmbH", "legal_form": "GmbH", "states": [{ "land_key": "03", "state": "Niedersachsen" }] }),
    );
    let org = org["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{org}"))
        .to_string();
    let new = app.signed_in(json!({ "email": "neu@kv.example", "name": "Nora Neu", "role": "intermediary", "organisation_id": org }));
    let page = app.web_get(Some(&new), &path).text();
    assert!(
        page.contains("muss die Interöffentliche Vereinbarung (IÖV) mit d-NRW in Kraft sein"),
        "{page}"
    );
    let refused = app.web_post(Some(&new), &format!("{path}/anfrage"), &[("note", "")]);
    assert!(
        refused.status.code == 409 || refused.status.code == 422,
        "{}",
        refused.status
    );
    assert!(
        refused.text().contains("Interöffentliche Vereinbarung"),
        "{}",
        refused.text()
    );
    assert_eq!(queued(&app, "ekv_requested").len(), mails.len());

    // Withdrawn by d-NRW, the request leaves the clerk's list, and GovConnect may ask
    // again.
    let (status, v) = app.step(ekv["id"].as_str().unwrap(), "cancel");
    assert_eq!(status, Status::Ok, "{v}");
    assert!(!app
        .web_get(Some(&clerk), "/")
        .text()
        .contains("Anfragen anderer Länder"));
    assert!(app
        .web_get(Some(&iv), &path)
        .text()
        .contains("Nachnutzung anfragen"));
}
