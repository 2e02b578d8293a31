//! The signing moment on the page: the declaration, the password again, the version the
//! page showed, the receipt, and what the sealed document records of it.

use crate::common::*;
use rocket::http::Status;
use serde_json::json;

#[test]
fn a_signatory_confirms_the_declaration_and_her_password_then_gets_a_receipt() {
    let app = TestApp::new();
    let koeln = app.municipality("05315000");
    let erika = app.signed_in(json!({ "email": "erika@stadt-koeln.de", "name": "Erika Köln", "role": "municipality", "municipality_id": koeln, "may_sign": true }));
    let carl = app.signed_in(json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk", "may_sign": true }));
    let rv = app.create(json!({ "kind": "rv", "municipality_id": koeln }));
    let id = rv["id"].as_str().unwrap();
    let reference = rv["reference"].as_str().unwrap();
    assert_eq!(app.step(id, "submit").0, Status::Ok);
    let declaration = format!(
        "Ich habe den Vertragstext von {reference}, Fassung 1, gelesen und bin für die Stadt Köln zeichnungsberechtigt."
    );
    let page = app.web_get(Some(&erika), &format!("/vereinbarungen/{id}"));
    let shown = page.text();
    assert!(shown.contains(&declaration), "{shown}");
    // The text comes before the form that signs it.
    assert!(
        shown.find("§ 7 Form").unwrap() < shown.find("Verbindlich unterzeichnen").unwrap(),
        "{shown}"
    );
    let sign = |user: &WebUser, fields: &[(&str, &str)]| {
        app.web_post(
            Some(user),
            &format!("/vereinbarungen/{id}/unterschreiben"),
            fields,
        )
    };
    let signatures = || app.get(&format!("/api/v1/agreements/{id}/signatures")).1;

    // Nothing confirmed, a wrong password, a version the page did not show: not signed.
    let refused = sign(&erika, &[("fassung", "1")]);
    assert_eq!(refused.status, Status::UnprocessableEntity);
    for at in ["href=\"#erklaerung\"", "href=\"#passwort\""] {
        assert!(refused.body.contains(at), "{at}: {}", refused.text());
    }
    let wrong = sign(
        &erika,
        &[
            ("fassung", "1"),
            ("erklaerung", "true"),
            ("passwort", "falsch-falsch-falsch"),
        ],
    );
    assert_eq!(wrong.status, Status::UnprocessableEntity);
    assert!(
        wrong.text().contains("Das Passwort stimmt nicht."),
        "{}",
        wrong.text()
    );
    assert!(
        wrong
            .body
            .contains("name=\"erklaerung\" value=\"true\" class=\"kern-form-check__checkbox kasten-wahl\" checked"),
        "the ticked declaration stays ticked"
    );
    let stale = sign(
        &erika,
        &[
            ("fassung", "2"),
            ("erklaerung", "true"),
            ("passwort", &erika.password),
        ],
    );
    assert_eq!(stale.status, Status::Conflict, "{}", stale.text());
    assert!(
        stale.text().contains("Zur Unterschrift liegt Fassung 1"),
        "{}",
        stale.text()
    );
    assert!(
        signatures()["required"][0]["signature"].is_null(),
        "nothing signed yet"
    );

    // Signed: the receipt says what was signed and who signs next.
    let signed = app.web_sign(&erika, id);
    assert_eq!(signed.status, Status::SeeOther);
    assert_eq!(
        signed.location.as_deref(),
        Some(format!("/vereinbarungen/{id}/quittung").as_str())
    );
    let receipt = app
        .web_get(Some(&erika), &format!("/vereinbarungen/{id}/quittung"))
        .text();
    for expected in [
        "Ihre Unterschrift ist erfasst",
        &format!("Erika Köln hat die Rahmenvereinbarung (RV) {reference}, Fassung 1, am "),
        "Uhr (ME",
        &declaration,
        "Als Nächstes unterzeichnet d-NRW AöR (Kommunalvertreter.NRW). Die",
    ] {
        assert!(
            receipt.contains(expected),
            "{expected:?} missing in {receipt}"
        );
    }
    let s = &signatures()["required"][0]["signature"];
    assert_eq!(s["declaration"], json!(declaration));
    assert!(
        s["auth_method"]
            .as_str()
            .unwrap()
            .starts_with("Passwort bei der Unterschrift erneut eingegeben"),
        "{s}"
    );

    // d-NRW's signatory signs last: the receipt links the sealed document, which records
    // both declarations.
    assert_eq!(app.web_sign(&carl, id).status, Status::SeeOther);
    let receipt = app
        .web_get(Some(&carl), &format!("/vereinbarungen/{id}/quittung"))
        .text();
    assert!(
        receipt.contains("Alle Unterschriften liegen vor"),
        "{receipt}"
    );
    let pdf = app.pdf(&format!("/api/v1/agreements/{id}/document.pdf"));
    let (_, text) = tool("pdftotext", &[], &pdf);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("Erklärung: „Ich habe den Vertragstext von"),
        "{flat}"
    );
    assert!(
        flat.contains("bin für die d-NRW AöR (Kommunalvertreter.NRW) zeichnungsberechtigt"),
        "{flat}"
    );
}

/// Mails of one kind waiting in the outbox: (recipient, subject, text).
fn queued(app: &TestApp, kind: &str) -> Vec<(String, String, String)> {
    let kind = kind.to_string();
    app.db()
        .read_blocking(move |c| {
            use diesel::prelude::*;
            use nachnutzung::db::schema::outbox;
            Ok(outbox::table
                .filter(outbox::kind.eq(kind))
                .select((outbox::recipient, outbox::subject, outbox::body_text))
                .load(c)?)
        })
        .unwrap()
}

#[test]
fn a_signatory_declines_with_a_reason_and_the_corrected_draft_is_signed_again() {
    let app = TestApp::new();
    let koeln = app.municipality("05315000");
    let erika = app.signed_in(json!({ "email": "erika@stadt-koeln.de", "name": "Erika Köln", "role": "municipality", "municipality_id": koeln, "may_sign": true }));
    let carl = app.signed_in(json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk", "may_sign": true }));
    // The clerk drafts Köln's RV on the page and submits it.
    let drafted = app.web_post(
        Some(&carl),
        "/vereinbarungen/neu",
        &[
            ("art", "rv"),
            ("ags", "05315000"),
            ("notice_period_months", "1"),
        ],
    );
    assert_eq!(drafted.status, Status::SeeOther, "{}", drafted.text());
    let id = drafted
        .location
        .unwrap()
        .trim_start_matches("/vereinbarungen/")
        .to_string();
    assert_eq!(app.step(&id, "submit").0, Status::Ok);
    let page = app.web_get(Some(&erika), &format!("/vereinbarungen/{id}"));
    assert!(page.body.contains("/ablehnen"), "the signatory may decline");
    let decline = |fields: &[(&str, &str)]| {
        app.web_post(
            Some(&erika),
            &format!("/vereinbarungen/{id}/ablehnen"),
            fields,
        )
    };

    // A refusal needs its reason.
    let refused = decline(&[("reason", "  ")]);
    assert_eq!(refused.status, Status::UnprocessableEntity);
    assert!(
        refused.body.contains("href=\"#reason\""),
        "{}",
        refused.text()
    );

    let reason = "Die Kündigungsfrist von einem Monat ist zu kurz; wir brauchen sechs Monate.";
    assert_eq!(decline(&[("reason", reason)]).status, Status::SeeOther);
    let (_, a) = app.get(&format!("/api/v1/agreements/{id}"));
    assert_eq!(a["status"], "draft");
    assert_eq!(a["current_version"], 2);
    // Both sides see why; the requester and d-NRW are told by mail.
    for user in [&erika, &carl] {
        let text = app
            .web_get(Some(user), &format!("/vereinbarungen/{id}"))
            .text();
        assert!(
            text.contains("Die Unterschrift wurde abgelehnt")
                && text.contains(&format!(
                    "Unterschrift abgelehnt von Erika Köln für Stadt Köln: {reason}"
                )),
            "{text}"
        );
    }
    let mails = queued(&app, "signature_declined");
    assert!(
        mails
            .iter()
            .any(|(to, subject, body)| to == "clerk@d-nrw.de"
                && subject.contains("Unterschrift abgelehnt")
                && body.contains("Erika Köln hat es abgelehnt, die Rahmenvereinbarung (RV)")
                && body.contains(reason)),
        "{mails:?}"
    );
    // Nobody signs a draft; declining twice is not possible either.
    assert_eq!(decline(&[("reason", reason)]).status, Status::Conflict);

    // Corrected and submitted again, the new version is signed and sealed.
    let edited = app.web_post(
        Some(&carl),
        &format!("/vereinbarungen/{id}/bearbeiten"),
        &[
            ("lock_version", &a["lock_version"].to_string()),
            ("notice_period_months", "6"),
        ],
    );
    assert_eq!(edited.status, Status::SeeOther, "{}", edited.text());
    assert_eq!(app.step(&id, "submit").0, Status::Ok);
    assert!(!app
        .web_get(Some(&erika), &format!("/vereinbarungen/{id}"))
        .text()
        .contains("Die Unterschrift wurde abgelehnt"));
    assert_eq!(app.web_sign(&erika, &id).status, Status::SeeOther);
    assert_eq!(app.web_sign(&carl, &id).status, Status::SeeOther);
    let (_, state) = app.get(&format!("/api/v1/agreements/{id}/signatures"));
    assert_eq!(state["version_no"], 2);
    assert!(state["document"]["sha256"].is_string(), "{state}");
    let (_, t) = app.get(&format!("/api/v1/agreements/{id}/text"));
    assert!(t["text"]
        .as_str()
        .unwrap()
        .contains("mit einer Frist von 6 Monaten"));
    // The declined text stays on record.
    let (_, a) = app.get(&format!("/api/v1/agreements/{id}"));
    let v1 = &a["versions"][0];
    assert_eq!(v1["status"], "cancelled", "{a}");
    assert!(v1["change_note"].as_str().unwrap().contains(reason));
}

/// The contracts concluded on paper before the registry say so, with who signed, instead
/// of "steht aus"; their sealed document says the same.
#[test]
fn historic_agreements_show_who_signed_them_outside_the_registry() {
    let app = TestApp::with_demo();
    let clerk =
        app.signed_in(json!({ "email": "c@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }));
    let dortmund = app.municipality("05913000");
    let (_, list) = app.get(&format!(
        "/api/v1/agreements?kind=rv&municipality_id={dortmund}"
    ));
    let id = list["items"][0]["id"].as_str().unwrap();
    let text = app
        .web_get(Some(&clerk), &format!("/vereinbarungen/{id}"))
        .text();
    assert!(
        text.contains("Außerhalb des Registers unterzeichnet am")
            && text.contains("Dana Demo (Vorstand) für d-NRW AöR und Paula Probe (Bürgermeisterin) für Stadt Dortmund"),
        "{text}"
    );
    assert!(!text.contains("steht aus"), "{text}");
    let (_, pdf) = tool(
        "pdftotext",
        &[],
        &app.pdf(&format!("/api/v1/agreements/{id}/document.pdf")),
    );
    let flat = pdf.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("Außerhalb des Registers unterzeichnet am") && flat.contains("Paula Probe"),
        "{flat}"
    );
}

/// Declining through the API takes the page's path (`actions::decline`).
#[test]
fn the_api_declines_like_the_page() {
    let app = TestApp::new();
    let koeln = app.municipality("05315000");
    app.user(json!({ "email": "erika@stadt-koeln.de", "name": "Erika Köln", "role": "municipality", "municipality_id": koeln, "may_sign": true }));
    let token = app.token_for("erika@stadt-koeln.de");
    let rv = app.create(json!({ "kind": "rv", "municipality_id": koeln }));
    let id = rv["id"].as_str().unwrap();
    assert_eq!(app.step(id, "submit").0, Status::Ok);
    let decline = |body: serde_json::Value| {
        app.send_as(
            &token,
            "POST",
            &format!("/api/v1/agreements/{id}/declines"),
            Some(body),
        )
    };
    let (status, v) = decline(json!({ "reason": "" }));
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert_eq!(field_names(&v), ["reason"]);
    let (status, v) = decline(json!({ "reason": "Falsche Anschrift der Stadt." }));
    assert_eq!(status, Status::Ok, "{v}");
    assert_eq!(
        (v["status"].as_str(), v["current_version"].as_i64()),
        (Some("draft"), Some(2))
    );
    assert_eq!(v["versions"][0]["status"], "cancelled");
    // The bootstrap token is nobody: it cannot decline.
    let (status, _) = app.post(
        &format!("/api/v1/agreements/{id}/declines"),
        json!({ "reason": "x" }),
    );
    assert_eq!(status, Status::Forbidden);
}

#[test]
fn a_signatory_declines_an_amendment_and_the_agreement_goes_on_in_its_version() {
    let app = TestApp::new();
    let koeln = app.municipality("05315000");
    let erika = app.signed_in(json!({ "email": "erika@stadt-koeln.de", "name": "Erika Köln", "role": "municipality", "municipality_id": koeln, "may_sign": true }));
    let carl = app.signed_in(json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk", "may_sign": true }));
    let rv = app.in_force(json!({ "kind": "rv", "municipality_id": koeln }));
    let id = rv["id"].as_str().unwrap();
    let made = app.web_post(
        Some(&carl),
        &format!("/vereinbarungen/{id}/aenderung"),
        &[
            ("lock_version", &rv["lock_version"].to_string()),
            ("change_note", "Kündigungsfrist"),
            ("notes", "Die Kündigungsfrist beträgt einen Monat."),
        ],
    );
    assert_eq!(made.status, Status::SeeOther, "{}", made.text());
    let page = app
        .web_get(Some(&erika), &format!("/vereinbarungen/{id}"))
        .text();
    assert!(
        page.contains("Stimmt etwas an der Änderungsfassung nicht"),
        "{page}"
    );
    let reason = "Ein Monat ist zu kurz.";
    let declined = app.web_post(
        Some(&erika),
        &format!("/vereinbarungen/{id}/ablehnen"),
        &[("reason", reason)],
    );
    assert_eq!(declined.status, Status::SeeOther, "{}", declined.text());
    let (_, a) = app.get(&format!("/api/v1/agreements/{id}"));
    assert_eq!(
        (a["status"].clone(), a["current_version"].clone()),
        (json!("in_force"), json!(1))
    );
    let v2 = a["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["version_no"] == 2)
        .unwrap()
        .clone();
    assert_eq!(v2["status"], "cancelled", "{a}");
    let text = app
        .web_get(Some(&carl), &format!("/vereinbarungen/{id}"))
        .text();
    assert!(
        text.contains(&format!("Unterschrift unter der Änderungsfassung abgelehnt (Erika Köln) – Änderungsfassung 2 abgelehnt von Erika Köln für Stadt Köln: {reason}"))
            || text.contains(&format!("Änderungsfassung 2 abgelehnt von Erika Köln für Stadt Köln: {reason}")),
        "{text}"
    );
    assert!(
        !text.contains("Änderungsfassung 2 (wartet auf Unterschriften)"),
        "{text}"
    );
    let mails = queued(&app, "signature_declined");
    assert!(
        mails.iter().any(|(to, _, body)| to == "clerk@d-nrw.de"
            && body.contains("Erika Köln hat es abgelehnt, die Änderungsfassung 2 zu")
            && body.contains("gilt in der bisherigen Fassung weiter")),
        "{mails:?}"
    );
    // Nothing left to decline.
    let again = app.web_post(
        Some(&erika),
        &format!("/vereinbarungen/{id}/ablehnen"),
        &[("reason", reason)],
    );
    assert_eq!(again.status, Status::Conflict, "{}", again.text());
}
