//! Staff drafting, recording, amending and terminating agreements on the pages.

use super::*;
use crate::common::*;
use rocket::http::Status;
use serde_json::json;

#[test]
fn staff_draft_an_ekv_with_its_avv_submit_it_record_the_partners_signature_and_terminate() {
    let app = TestApp::new();
    let clerk = web_user(
        &app,
        json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk", "may_sign": true }),
    );
    let dataport = app.organisation("intermediaries", "Dataport AöR");
    let wohngeld = app.service("Wohngeld (Online-Dienst");

    // An EKV needs an IÖV in force: the refusal says so at the form.
    let form = app.web_get(Some(&clerk), "/vereinbarungen/neu?art=ekv");
    assert_eq!(form.status, Status::Ok);
    assert!(
        form.text().contains("Art der personenbezogenen Daten"),
        "{}",
        form.text()
    );
    let fields = [
        ("art", "ekv"),
        ("counterparty_id", dataport.as_str()),
        ("service_id", wohngeld.as_str()),
        ("notice_period_months", "6"),
        ("avv.subject", "Betrieb des Online-Dienstes Wohngeld"),
        ("avv.duration", "Laufzeit der Vereinbarung"),
        (
            "avv.nature_and_purpose",
            "Entgegennahme und Weiterleitung von Anträgen",
        ),
        ("avv.data_types", "Name, Anschrift\nEinkommen\n\n"),
        ("avv.data_subjects", "Antragstellende Personen"),
        (
            "avv.technical_measures",
            "TLS\nVerschlüsselte Übermittlung (OSCI)",
        ),
    ];
    let refused = app.web_post(Some(&clerk), "/vereinbarungen/neu", &fields);
    assert_eq!(refused.status, Status::UnprocessableEntity);
    assert!(refused.text().contains("IÖV"), "{}", refused.text());
    assert!(
        refused
            .body
            .contains("Betrieb des Online-Dienstes Wohngeld"),
        "values kept"
    );

    // The form's fields are named like the command's: an error comes back at its field.
    let unreadable = app.web_post(
        Some(&clerk),
        "/vereinbarungen/neu",
        &[
            ("art", "ioev"),
            ("counterparty_id", dataport.as_str()),
            ("notice_period_months", "zwölf"),
        ],
    );
    assert_eq!(unreadable.status, Status::UnprocessableEntity);
    assert!(
        unreadable.body.contains("href=\"#notice_period_months\""),
        "{}",
        unreadable.text()
    );

    // … and so does an AVV entry: a list's line at its textarea.
    let bad_line = app.web_post(
        Some(&clerk),
        "/vereinbarungen/neu",
        &[
            ("art", "ekv"),
            ("counterparty_id", dataport.as_str()),
            ("service_id", wohngeld.as_str()),
            ("avv.subject", "Betrieb"),
            ("avv.data_types", "Name\nEinkommen\u{7}"),
        ],
    );
    assert_eq!(bad_line.status, Status::UnprocessableEntity);
    assert!(
        bad_line.body.contains("href=\"#avv.data_types\"")
            && bad_line.body.contains("value=\"Betrieb\""),
        "{}",
        bad_line.text()
    );

    // With the IÖV drafted, submitted, signed and in force through the pages …
    let ioev = app.web_post(
        Some(&clerk),
        "/vereinbarungen/neu",
        &[
            ("art", "ioev"),
            ("counterparty_id", dataport.as_str()),
            ("notice_period_months", "12"),
        ],
    );
    assert_eq!(ioev.status, Status::SeeOther, "{}", ioev.text());
    let ioev_id = id_after(ioev.location.as_deref().unwrap(), "/vereinbarungen/");
    assert!(app
        .web_get(Some(&clerk), &format!("/vereinbarungen/{ioev_id}"))
        .text()
        .contains("Entwurf"));
    assert_eq!(
        app.web_post(
            Some(&clerk),
            &format!("/vereinbarungen/{ioev_id}/schritt"),
            &[("action", "submit")]
        )
        .status,
        Status::SeeOther
    );
    // The partner's authorised contact signs on paper; staff record it, then countersign.
    let contact = app.signatory(&format!("organisations/{dataport}"), "Dora Dataport");
    let page = app.web_get(Some(&clerk), &format!("/vereinbarungen/{ioev_id}"));
    assert!(
        page.text().contains("Unterschrift erfassen"),
        "{}",
        page.text()
    );
    assert!(page.body.contains(&contact));
    assert_eq!(
        app.web_post(
            Some(&clerk),
            &format!("/vereinbarungen/{ioev_id}/unterschrift-erfassen"),
            &[("contact", contact.as_str())]
        )
        .status,
        Status::SeeOther
    );
    assert_eq!(app.web_sign(&clerk, &ioev_id).status, Status::SeeOther);
    // In force with the last signature: nothing left to put into force by hand.
    assert_eq!(
        app.web_post(
            Some(&clerk),
            &format!("/vereinbarungen/{ioev_id}/inkraft"),
            &[("ab", "")]
        )
        .status,
        Status::Conflict
    );
    let text = app
        .web_get(Some(&clerk), &format!("/vereinbarungen/{ioev_id}"))
        .text();
    assert!(
        text.contains("unterzeichnet von Dora Dataport") && text.contains("in Kraft"),
        "{text}"
    );

    // … the EKV is drafted with its AVV, one entry per line.
    let ekv = app.web_post(Some(&clerk), "/vereinbarungen/neu", &fields);
    assert_eq!(ekv.status, Status::SeeOther, "{}", ekv.text());
    let ekv_id = id_after(ekv.location.as_deref().unwrap(), "/vereinbarungen/");
    let (_, v) = app.get(&format!("/api/v1/agreements/{ekv_id}"));
    assert_eq!(
        v["terms"]["avv"]["data_types"],
        json!(["Name, Anschrift", "Einkommen"])
    );
    assert_eq!(v["notice_period_months"], 6);

    // The draft is edited before it goes to signature: the form shows what is stored.
    let edit = app.web_get(
        Some(&clerk),
        &format!("/vereinbarungen/{ekv_id}/bearbeiten"),
    );
    assert_eq!(edit.status, Status::Ok);
    assert!(
        edit.body.contains(">Name, Anschrift\nEinkommen</textarea>"),
        "{}",
        edit.body
    );
    let lock = v["lock_version"].to_string();
    let mut changed: Vec<(&str, &str)> = fields
        .iter()
        .filter(|(k, _)| k.starts_with("avv.") && *k != "avv.data_types")
        .cloned()
        .collect();
    changed.extend([
        ("lock_version", lock.as_str()),
        ("notice_period_months", "9"),
        (
            "avv.data_types",
            "Name, Anschrift\nEinkommen\nBankverbindung",
        ),
    ]);
    let saved = app.web_post(
        Some(&clerk),
        &format!("/vereinbarungen/{ekv_id}/bearbeiten"),
        &changed,
    );
    assert_eq!(saved.status, Status::SeeOther, "{}", saved.text());
    let (_, v) = app.get(&format!("/api/v1/agreements/{ekv_id}"));
    assert_eq!(v["terms"]["avv"]["data_types"][2], "Bankverbindung");
    assert_eq!(v["notice_period_months"], 9);
    let stale = app.web_post(
        Some(&clerk),
        &format!("/vereinbarungen/{ekv_id}/bearbeiten"),
        &changed,
    );
    assert_eq!(stale.status, Status::UnprocessableEntity);
    assert!(
        stale.text().contains("inzwischen geändert"),
        "{}",
        stale.text()
    );

    // Terminating the IÖV while the EKV rests on it is refused with the dependant named;
    // with "auch die Vereinbarungen kündigen …" both end.
    let ekv_ref = v["reference"].as_str().unwrap().to_string();
    assert_eq!(
        app.web_post(
            Some(&clerk),
            &format!("/vereinbarungen/{ekv_id}/schritt"),
            &[("action", "submit")]
        )
        .status,
        Status::SeeOther
    );
    app.sign_all(&ekv_id);
    app.step(&ekv_id, "activate");
    let frozen = app.web_get(
        Some(&clerk),
        &format!("/vereinbarungen/{ekv_id}/bearbeiten"),
    );
    assert_eq!(frozen.status, Status::Conflict, "no longer a draft");
    // "Kündigen …" asks first: what ends, what rests on it (the EKV), the fields.
    let (_, before) = app.get(&format!("/api/v1/agreements/{ioev_id}"));
    let asked = app.web_post(
        Some(&clerk),
        &format!("/vereinbarungen/{ioev_id}/schritt"),
        &[("action", "terminate")],
    );
    assert_eq!(asked.status, Status::Ok, "{}", asked.text());
    let question = asked.text();
    assert!(
        question.contains("kündigen?") && question.contains(&ekv_ref),
        "{question}"
    );
    assert!(
        question.contains("Darauf beruht 1 aktive Vereinbarung"),
        "{question}"
    );
    assert!(asked.body.contains("name=\"bestaetigt\" value=\"true\""));
    let (_, after) = app.get(&format!("/api/v1/agreements/{ioev_id}"));
    assert_eq!(before["status"], after["status"], "asking changes nothing");
    // Confirmed without ending the EKV too: asked again, in German, nothing ended.
    let blocked = app.web_post(
        Some(&clerk),
        &format!("/vereinbarungen/{ioev_id}/schritt"),
        &[
            ("action", "terminate"),
            ("grund", "Test"),
            ("bestaetigt", "true"),
        ],
    );
    assert_eq!(blocked.status, Status::Conflict);
    assert!(blocked.text().contains(&ekv_ref), "{}", blocked.text());
    assert!(
        blocked
            .text()
            .contains("Kreuzen Sie an, dass sie mit beendet werden")
            && blocked.text().contains("auch diese Vereinbarung beenden"),
        "{}",
        blocked.text()
    );
    assert!(!blocked.text().contains("cascade"), "{}", blocked.text());
    assert!(
        blocked.body.contains("value=\"Test\""),
        "the reason is kept"
    );
    let done = app.web_post(
        Some(&clerk),
        &format!("/vereinbarungen/{ioev_id}/schritt"),
        &[
            ("action", "terminate"),
            ("grund", "Anbieterwechsel"),
            ("kaskade", "true"),
            ("ende", "2028-06-30"),
            ("bestaetigt", "true"),
        ],
    );
    assert_eq!(done.status, Status::SeeOther, "{}", done.text());
    let (_, v) = app.get(&format!("/api/v1/agreements/{ekv_id}"));
    assert_eq!(v["ends_on"], "2028-06-30", "{v}");
    assert!(v["notice_given_on"].is_string(), "{v}");
}

#[test]
fn staff_record_einzelabrufe_for_an_nrw_municipality_and_for_another_lands_municipality() {
    let app = TestApp::new();
    let clerk = web_user(
        &app,
        json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk", "may_sign": true }),
    );
    let (_, _, wohngeld) = wohngeld_supply(&app);
    let koeln = app.municipality("05315000");
    app.in_force(json!({ "kind": "rv", "municipality_id": koeln }));

    // Inbound, for Köln: the service decides which fields the form asks for.
    let form = app.web_get(
        Some(&clerk),
        &format!("/vereinbarungen/neu-ea?dienst={wohngeld}"),
    );
    assert!(
        form.text()
            .contains("Kommune in NRW (Amtlicher Gemeindeschlüssel)"),
        "{}",
        form.text()
    );
    assert!(form.body.contains("name=\"p[zustaendige_stelle_url]\""));
    let bad = app.web_post(
        Some(&clerk),
        "/vereinbarungen/neu-ea",
        &[("dienst", &wohngeld), ("ags", "05999999")],
    );
    assert_eq!(bad.status, Status::UnprocessableEntity);
    assert!(
        bad.text()
            .contains("keine Kommune in NRW mit dem AGS „05999999“"),
        "{}",
        bad.text()
    );
    assert!(bad.body.contains("href=\"#ags\""));
    let ok = app.web_post(
        Some(&clerk),
        "/vereinbarungen/neu-ea",
        &[
            ("dienst", &wohngeld),
            ("ags", "05315000"),
            (
                "p[zustaendige_stelle_url]",
                "https://www.stadt-koeln.de/wohngeld",
            ),
            ("p[kontakt_email]", "wohngeld@stadt-koeln.de"),
        ],
    );
    assert_eq!(ok.status, Status::SeeOther, "{}", ok.text());
    let ea = id_after(ok.location.as_deref().unwrap(), "/vereinbarungen/");
    let (_, v) = app.get(&format!("/api/v1/agreements/{ea}"));
    assert_eq!(v["status"], "draft");
    assert_eq!(v["municipality"]["id"], koeln.as_str());
    assert!(
        v["terms"]["avv"]["subject"].is_string(),
        "the EKV's AVV: {v}"
    );
    assert_eq!(
        app.web_post(
            Some(&clerk),
            &format!("/vereinbarungen/{ea}/schritt"),
            &[("action", "submit")]
        )
        .status,
        Status::SeeOther
    );

    // Outbound: Hannover re-uses the NRW Sozialplattform through GovConnect.
    let govconnect = app.organisation("intermediaries", "GovConnect GmbH");
    let hzl = app.service("Sozialplattform");
    app.in_force(json!({ "kind": "ioev", "counterparty_id": govconnect }));
    app.in_force(
        json!({ "kind": "ekv", "counterparty_id": govconnect, "service_id": hzl, "avv": avv() }),
    );
    let form = app.web_get(
        Some(&clerk),
        &format!("/vereinbarungen/neu-ea?dienst={hzl}"),
    );
    assert!(
        form.text().contains("ist ein Dienst aus NRW"),
        "{}",
        form.text()
    );
    let missing = app.web_post(
        Some(&clerk),
        "/vereinbarungen/neu-ea",
        &[
            ("dienst", &hzl),
            ("external_party_name", "Landeshauptstadt Hannover"),
        ],
    );
    assert_eq!(missing.status, Status::UnprocessableEntity);
    assert!(
        missing.body.contains("href=\"#counterparty_id\""),
        "{}",
        missing.text()
    );
    let ok = app.web_post(
        Some(&clerk),
        "/vereinbarungen/neu-ea",
        &[
            ("dienst", &hzl),
            ("counterparty_id", &govconnect),
            ("external_party_name", "Landeshauptstadt Hannover"),
            ("external_party_ags", "03241001"),
            (
                "p[zustaendige_stelle_url]",
                "https://www.hannover.de/soziales",
            ),
            ("p[kontakt_email]", "sozialamt@hannover-stadt.de"),
        ],
    );
    assert_eq!(ok.status, Status::SeeOther, "{}", ok.text());
    let ea = id_after(ok.location.as_deref().unwrap(), "/vereinbarungen/");
    let (_, v) = app.get(&format!("/api/v1/agreements/{ea}"));
    assert_eq!(v["direction"], "outbound");
    assert_eq!(v["external_party"]["name"], "Landeshauptstadt Hannover");
    assert_eq!(v["counterparty"]["id"], govconnect.as_str());
}

#[test]
fn staff_amend_a_signed_agreement_both_sides_sign_it_and_it_comes_into_force() {
    let app = TestApp::new();
    let clerk = web_user(
        &app,
        json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk", "may_sign": true }),
    );
    let koeln = app.municipality("05315000");
    let erika = web_user(
        &app,
        json!({ "email": "erika@stadt-koeln.de", "name": "Erika Köln", "role": "municipality", "municipality_id": koeln, "may_sign": true }),
    );
    let rv = app.in_force(json!({ "kind": "rv", "municipality_id": koeln }));
    let id = rv["id"].as_str().unwrap();
    let page = app.web_get(Some(&clerk), &format!("/vereinbarungen/{id}"));
    assert!(
        page.text().contains("Änderungsfassung anlegen"),
        "{}",
        page.text()
    );
    let form = app.web_get(Some(&clerk), &format!("/vereinbarungen/{id}/aenderung"));
    assert_eq!(form.status, Status::Ok);
    let lock = rv["lock_version"].to_string();
    let bad = app.web_post(
        Some(&clerk),
        &format!("/vereinbarungen/{id}/aenderung"),
        &[("lock_version", &lock), ("change_note", "")],
    );
    assert_eq!(bad.status, Status::UnprocessableEntity);
    assert!(bad.body.contains("href=\"#change_note\""), "{}", bad.text());
    let ok = app.web_post(
        Some(&clerk),
        &format!("/vereinbarungen/{id}/aenderung"),
        &[
            ("lock_version", &lock),
            ("change_note", "Ansprechpartner der Stadt geändert"),
            ("notes", "Neue Ansprechperson: Amt für Digitalisierung"),
        ],
    );
    assert_eq!(ok.status, Status::SeeOther, "{}", ok.text());
    let text = app
        .web_get(Some(&erika), &format!("/vereinbarungen/{id}"))
        .text();
    assert!(
        text.contains("Änderungsfassung 2 (wartet auf Unterschriften)")
            && text.contains("Verbindlich unterzeichnen"),
        "{text}"
    );
    assert_eq!(app.web_sign(&erika, id).status, Status::SeeOther);
    assert_eq!(app.web_sign(&clerk, id).status, Status::SeeOther);
    let text = app
        .web_get(Some(&clerk), &format!("/vereinbarungen/{id}"))
        .text();
    assert!(
        text.contains("Änderungsfassung 2 (unterzeichnet)")
            && text.contains("Gesiegeltes Dokument, Fassung 2"),
        "{text}"
    );
    let activated = app.web_post(
        Some(&clerk),
        &format!("/vereinbarungen/{id}/aenderung/2/schritt"),
        &[("action", "activate"), ("ab", "")],
    );
    assert_eq!(activated.status, Status::SeeOther, "{}", activated.text());
    let (_, v) = app.get(&format!("/api/v1/agreements/{id}"));
    assert_eq!(v["current_version"], 2, "{v}");
    assert_eq!(
        v["terms"]["notes"],
        "Neue Ansprechperson: Amt für Digitalisierung"
    );
}

/// People sign what they see: the agreement page carries the full contract text, the
/// same as the PDF's (the API's `/text`); a staff draft links its sections back to the
/// form, and the history names people, not accounts.
#[test]
fn the_agreement_page_shows_the_whole_contract_text_and_a_draft_links_its_sections_to_the_form() {
    let app = TestApp::new();
    let clerk =
        app.signed_in(json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk", "may_sign": true }));
    wohngeld_supply(&app);
    let dataport = app.organisation("intermediaries", "Dataport AöR");
    let rv = app.create(json!({ "kind": "rv", "municipality_id": app.municipality("05913000"), "notice_period_months": 6 }));
    let id = rv["id"].as_str().unwrap();
    // The clerk changes the draft through the form: the history names them.
    let saved = app.web_post(
        Some(&clerk),
        &format!("/vereinbarungen/{id}/bearbeiten"),
        &[("lock_version", "1"), ("notice_period_months", "9")],
    );
    assert_eq!(saved.status, Status::SeeOther, "{}", saved.text());

    let page = app.web_get(Some(&clerk), &format!("/vereinbarungen/{id}"));
    assert_eq!(page.status, Status::Ok);
    let shown = page.text();
    let (_, t) = app.get(&format!("/api/v1/agreements/{id}/text"));
    let text = t["text"].as_str().unwrap();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let words = line.trim_start_matches(['#', '-', '>', ' ']);
        assert!(
            shown.contains(words),
            "{words:?} is not on the page:\n{shown}"
        );
    }
    assert!(shown.contains("mit einer Frist von 9 Monaten"), "{shown}");
    assert!(
        page.body.contains(&format!(
            "href=\"/vereinbarungen/{id}/bearbeiten#notice_period_months\""
        )),
        "a draft's section links to its field"
    );
    assert!(
        shown.contains("Carl Clerk – d-NRW (Sachbearbeitung)") && !shown.contains("user:"),
        "{shown}"
    );

    // Submitted, the text stands: no more links to change it.
    assert_eq!(app.step(id, "submit").0, Status::Ok);
    let page = app.web_get(Some(&clerk), &format!("/vereinbarungen/{id}"));
    assert!(page.text().contains("§ 6 Laufzeit und Kündigung"));
    assert!(!page.body.contains("/bearbeiten#"), "{}", page.body);

    // An EKV draft without its AVV has no complete text yet, and says so.
    let ekv = app.create(json!({ "kind": "ekv", "counterparty_id": dataport, "service_id": app.service("Hilfe zum Lebensunterhalt") }));
    let page = app.web_get(
        Some(&clerk),
        &format!("/vereinbarungen/{}", ekv["id"].as_str().unwrap()),
    );
    assert_eq!(page.status, Status::Ok);
    assert!(
        page.text().contains("hat noch keine AVV"),
        "{}",
        page.text()
    );
}

#[test]
fn staff_correct_an_einzelabruf_draft_its_parameters_included() {
    let app = TestApp::new();
    let clerk = web_user(
        &app,
        json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }),
    );
    let (dortmund, wohngeld) = dortmund_ready_for_wohngeld(&app);
    let ea = app.create(json!({
        "kind": "ea", "municipality_id": dortmund, "service_id": wohngeld,
        "parameters": wohngeld_parameters(), "avv": avv()
    }));
    let id = ea["id"].as_str().unwrap();
    let page = app.web_get(Some(&clerk), &format!("/vereinbarungen/{id}"));
    assert!(
        page.body.contains(&format!(
            "href=\"/vereinbarungen/{id}/bearbeiten#parameter\""
        )),
        "the parameters' section links to the form: {}",
        page.text()
    );
    let form = app.web_get(Some(&clerk), &format!("/vereinbarungen/{id}/bearbeiten"));
    assert_eq!(form.status, Status::Ok, "{}", form.text());
    assert!(
        form.body
            .contains("name=\"p[kontakt_email]\" value=\"wohngeld@stadtdo.de\""),
        "{}",
        form.body
    );
    let lock = ea["lock_version"].to_string();
    let bad = app.web_post(
        Some(&clerk),
        &format!("/vereinbarungen/{id}/bearbeiten"),
        &[
            ("lock_version", &lock),
            ("art", "ea"),
            (
                "p[zustaendige_stelle_url]",
                "https://www.dortmund.de/wohngeld",
            ),
            ("p[kontakt_email]", "keine-adresse"),
        ],
    );
    assert_eq!(bad.status, Status::UnprocessableEntity, "{}", bad.text());
    assert!(
        bad.body.contains("href=\"#p-kontakt_email\""),
        "{}",
        bad.text()
    );
    assert!(
        bad.body.contains("value=\"keine-adresse\""),
        "typed values stay"
    );
    let ok = app.web_post(
        Some(&clerk),
        &format!("/vereinbarungen/{id}/bearbeiten"),
        &[
            ("lock_version", &lock),
            ("art", "ea"),
            // As people type it: completed to https://.
            ("p[zustaendige_stelle_url]", "www.dortmund.de/wohngeld-neu"),
            ("p[kontakt_email]", "wohngeldstelle@stadtdo.de"),
            ("notes", "Ansprechperson im Sozialamt"),
        ],
    );
    assert_eq!(ok.status, Status::SeeOther, "{}", ok.text());
    let text = app.ok("GET", &format!("/api/v1/agreements/{id}/text"), None)["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(text.contains("wohngeldstelle@stadtdo.de"), "{text}");
    assert!(
        text.contains("https://www.dortmund.de/wohngeld-neu"),
        "{text}"
    );
    assert!(!text.contains("wohngeld@stadtdo.de"), "{text}");
}
