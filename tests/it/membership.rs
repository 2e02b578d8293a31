//! Trägerschaft and agreements: an RV or Einzelabruf for a municipality recorded as not
//! being Träger of d-NRW needs a reason, which the contract text, the agreement page and
//! the lists show; a Träger's RV states the in-house basis with its date; "nicht erfasst"
//! claims neither.

use crate::common::*;
use rocket::http::Status;
use serde_json::json;

fn text_of(app: &TestApp, id: &str) -> String {
    app.ok("GET", &format!("/api/v1/agreements/{id}/text"), None)["text"]
        .as_str()
        .unwrap()
        .to_string()
}

const REASON: &str = "Horizontale Zusammenarbeit öffentlicher Auftraggeber nach § 108 Abs. 6 GWB.";

#[test]
fn a_non_träger_needs_a_reason_for_rv_and_ea_and_the_contract_states_it() {
    let app = TestApp::new();
    let (_, _, wohngeld) = wohngeld_supply(&app);
    let essen = app.municipality("05113000");
    app.record_membership(&essen, "kein_traeger", json!({}));

    // Without a reason: refused at the field, with what to do.
    let (status, v) = app.post(
        "/api/v1/agreements",
        json!({ "kind": "rv", "municipality_id": essen }),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert_eq!(v["fields"][0]["field"], "non_member_reason", "{v}");
    assert!(
        v["fields"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Stadt Essen ist als „kein Träger“ der d-NRW AöR erfasst."),
        "{v}"
    );
    // A blank reason is none.
    let (status, _) = app.post(
        "/api/v1/agreements",
        json!({ "kind": "rv", "municipality_id": essen, "non_member_reason": "   " }),
    );
    assert_eq!(status, Status::UnprocessableEntity);

    // With one: the RV is made, and § 5 says it plainly, without claiming Trägerschaft.
    let rv = app
        .in_force(json!({ "kind": "rv", "municipality_id": essen, "non_member_reason": REASON }));
    assert_eq!(rv["non_member_reason"], REASON);
    let rv_id = rv["id"].as_str().unwrap();
    let text = text_of(&app, rv_id);
    assert!(
        text.contains("Die Kommune ist nicht Trägerin der d-NRW AöR. Die Parteien stützen die Nachnutzung ohne Trägerschaft auf folgende Grundlage: „Horizontale Zusammenarbeit öffentlicher Auftraggeber nach § 108 Abs. 6 GWB“."),
        "{text}"
    );
    assert!(
        !text.contains("Trägerin der d-NRW AöR (Beschluss"),
        "{text}"
    );

    // The Einzelabruf too: refused without, made with a reason the text repeats.
    let ea = json!({ "kind": "ea", "municipality_id": essen, "service_id": wohngeld,
        "avv": avv(), "parameters": wohngeld_parameters() });
    let (status, v) = app.post("/api/v1/agreements", ea.clone());
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert_eq!(v["fields"][0]["field"], "non_member_reason");
    let mut with = ea;
    with["non_member_reason"] = json!("Vergabe nach § 108 Abs. 6 GWB");
    let ea = app.create(with);
    let text = text_of(&app, ea["id"].as_str().unwrap());
    assert!(
        text.contains("Die Kommune ist nicht Trägerin der d-NRW AöR; die Parteien stützen diesen Einzelabruf auf folgende Grundlage: „Vergabe nach § 108 Abs. 6 GWB“."),
        "{text}"
    );

    // Not for kinds that name no municipality.
    let dataport = app.organisation("intermediaries", "Dataport AöR");
    let (status, v) = app.post(
        "/api/v1/agreements",
        json!({ "kind": "ioev", "counterparty_id": dataport, "non_member_reason": REASON }),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert_eq!(v["fields"][0]["field"], "non_member_reason");
}

#[test]
fn a_träger_gives_no_reason_and_its_rv_names_the_accession() {
    let app = TestApp::new();
    let essen = app.municipality("05113000");
    app.record_membership(
        &essen,
        "traeger",
        json!({ "council_decision_on": "2021-03-15", "accession_declared_on": "2021-04-01" }),
    );
    let (status, v) = app.post(
        "/api/v1/agreements",
        json!({ "kind": "rv", "municipality_id": essen, "non_member_reason": REASON }),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert!(v["fields"][0]["message"]
        .as_str()
        .unwrap()
        .contains("eine Grundlage für eine Nachnutzung ohne Trägerschaft entfällt"));
    let rv = app.create(json!({ "kind": "rv", "municipality_id": essen }));
    let text = text_of(&app, rv["id"].as_str().unwrap());
    assert!(
        text.contains("Die Kommune ist seit dem 01.04.2021 Trägerin der d-NRW AöR (Beschluss ihrer Vertretung vom 15.03.2021)."),
        "{text}"
    );
    assert!(text.contains("Diese Rahmenvereinbarung begründet keine Trägerschaft"));

    // Nothing recorded: no reason needed, and the text claims neither.
    let bochum = app.municipality("05911000");
    let rv = app.create(json!({ "kind": "rv", "municipality_id": bochum }));
    let text = text_of(&app, rv["id"].as_str().unwrap());
    assert!(
        text.contains("Eine Trägerschaft der Kommune ist bei Abschluss dieser Vereinbarung nicht festgestellt. Die Kommune prüft die vergaberechtliche Grundlage"),
        "{text}"
    );
}

#[test]
fn a_draft_is_not_submitted_once_the_municipality_is_recorded_as_no_träger_until_a_reason_is_added()
{
    let app = TestApp::new();
    let essen = app.municipality("05113000");
    let rv = app.create(json!({ "kind": "rv", "municipality_id": essen }));
    let id = rv["id"].as_str().unwrap();
    app.record_membership(&essen, "kein_traeger", json!({ "left_on": "2025-12-31" }));
    let (status, v) = app.step(id, "submit");
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert_eq!(v["fields"][0]["field"], "non_member_reason", "{v}");
    let rv = app.ok("GET", &format!("/api/v1/agreements/{id}"), None);
    assert_eq!(rv["status"], "draft", "nothing half-done");
    let edited = app.ok(
        "PATCH",
        &format!("/api/v1/agreements/{id}"),
        Some(json!({ "lock_version": rv["lock_version"], "non_member_reason": REASON })),
    );
    assert_eq!(edited["non_member_reason"], REASON);
    let (status, v) = app.step(id, "submit");
    assert_eq!(status, Status::Ok, "{v}");
    let text = text_of(&app, id);
    assert!(
        text.contains(
            "Die Kommune ist nicht Trägerin der d-NRW AöR; sie ist am 31.12.2025 ausgetreten."
        ),
        "{text}"
    );
}

#[test]
fn the_municipality_gives_the_reason_in_its_forms_and_every_page_shows_it() {
    let app = TestApp::new();
    let (_, _, wohngeld) = wohngeld_supply(&app);
    let koeln = app.municipality("05315000");
    app.record_membership(&koeln, "kein_traeger", json!({}));
    let erika = app.signed_in(
        json!({ "email": "erika@stadt-koeln.de", "name": "Erika Köln", "role": "municipality", "municipality_id": koeln, "may_sign": true }),
    );
    let home = app.web_get(Some(&erika), "/kommune");
    assert!(
        home.text()
            .contains("Trägerschaft bei der d-NRW: kein Träger"),
        "{}",
        home.text()
    );
    assert!(home.body.contains("id=\"non_member_reason\""));
    let refused = app.web_post(Some(&erika), "/kommune/rahmenvereinbarung", &[]);
    assert_eq!(refused.status, Status::UnprocessableEntity);
    assert!(
        refused.body.contains("href=\"#non_member_reason\""),
        "{}",
        refused.text()
    );
    assert!(refused
        .text()
        .contains("Bitte geben Sie die Grundlage der Nachnutzung ohne Trägerschaft an"));
    let made = app.web_post(
        Some(&erika),
        "/kommune/rahmenvereinbarung",
        &[("non_member_reason", REASON)],
    );
    assert_eq!(made.status, Status::SeeOther, "{}", made.text());
    let rv_path = made.location.clone().unwrap();
    let page = app.web_get(Some(&erika), &rv_path);
    let text = page.text();
    assert!(
        text.contains("Trägerschaft der Kommune bei der d-NRW kein Träger"),
        "{text}"
    );
    assert!(text.contains("Grundlage ohne Trägerschaft"), "{text}");
    assert!(
        text.contains("auf folgende Grundlage: „Horizontale Zusammenarbeit"),
        "the contract text: {text}"
    );

    // Staff lists show it next to the RV.
    let clerk =
        app.signed_in(json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }));
    let list = app.web_get(Some(&clerk), "/kommunen?traeger=nein").text();
    assert!(list.contains("1 Kommune oder Kreis"), "{list}");
    assert!(
        list.contains("ohne Trägerschaft: Horizontale Zusammenarbeit"),
        "{list}"
    );
    let agreements = app.web_get(Some(&clerk), "/vereinbarungen?art=rv").text();
    assert!(
        agreements.contains("ohne Trägerschaft: Horizontale Zusammenarbeit"),
        "{agreements}"
    );
    let unknown = app
        .web_get(Some(&clerk), "/kommunen?traeger=nicht_erfasst")
        .text();
    assert!(
        unknown.contains("426 Kommunen oder Kreise") && !unknown.contains("05315000"),
        "{unknown}"
    );

    // The Einzelabruf form asks too, once the RV is in force.
    let rv_id = rv_path.trim_start_matches("/vereinbarungen/").to_string();
    submit_and_sign(&app, &erika, &rv_id);
    let form = app.web_get(
        Some(&erika),
        &format!("/kommune/einzelabruf?dienst={wohngeld}"),
    );
    assert!(
        form.body.contains("id=\"non_member_reason\""),
        "{}",
        form.text()
    );
    assert!(form.text().contains("(Pflichtangabe)"));

    // Staff drafting Köln's Einzelabruf are asked the same, at the field.
    let fields = [
        ("dienst", wohngeld.as_str()),
        ("ags", "05315000"),
        (
            "p[zustaendige_stelle_url]",
            "https://www.stadt-koeln.de/wohngeld",
        ),
        ("p[kontakt_email]", "wohngeld@stadt-koeln.de"),
    ];
    let refused = app.web_post(Some(&clerk), "/vereinbarungen/neu-ea", &fields);
    assert_eq!(
        refused.status,
        Status::UnprocessableEntity,
        "{}",
        refused.text()
    );
    assert!(
        refused.body.contains("href=\"#non_member_reason\""),
        "{}",
        refused.text()
    );
    let mut with = fields.to_vec();
    with.push(("non_member_reason", "Vergabe nach § 108 Abs. 6 GWB"));
    let made = app.web_post(Some(&clerk), "/vereinbarungen/neu-ea", &with);
    assert_eq!(made.status, Status::SeeOther, "{}", made.text());
    let ea = app.web_get(Some(&clerk), &made.location.unwrap()).text();
    assert!(
        ea.contains("Grundlage ohne Trägerschaft Vergabe nach § 108 Abs. 6 GWB"),
        "{ea}"
    );
}

/// The municipality submits its RV draft and both sides sign it (it comes into force).
fn submit_and_sign(app: &TestApp, user: &WebUser, id: &str) {
    let submitted = app.web_post(
        Some(user),
        &format!("/vereinbarungen/{id}/antrag"),
        &[("action", "submit")],
    );
    assert_eq!(submitted.status, Status::SeeOther, "{}", submitted.text());
    app.sign_all(id);
    let rv = app.ok("GET", &format!("/api/v1/agreements/{id}"), None);
    assert_eq!(rv["status"], "in_force", "{rv}");
}

#[test]
fn the_text_sent_to_signature_stays_what_is_signed_and_sealed_when_the_record_changes() {
    let app = TestApp::new();
    let essen = app.municipality("05113000");
    app.record_membership(&essen, "kein_traeger", json!({}));
    let rv =
        app.create(json!({ "kind": "rv", "municipality_id": essen, "non_member_reason": REASON }));
    let id = rv["id"].as_str().unwrap();
    let (status, v) = app.step(id, "submit");
    assert_eq!(status, rocket::http::Status::Ok, "{v}");
    let submitted = text_of(&app, id);
    assert!(
        submitted.contains("Die Kommune ist nicht Trägerin der d-NRW AöR."),
        "{submitted}"
    );
    // Essen joins while the RV waits for signatures: the text to sign does not change.
    app.record_membership(
        &essen,
        "traeger",
        json!({ "accession_declared_on": "2026-11-01" }),
    );
    assert_eq!(text_of(&app, id), submitted);
    let state = app.sign_all(id);
    assert_eq!(
        state["document"]["text_sha256"].as_str().map(str::len),
        Some(64),
        "{state}"
    );
    let pdf = app.document(id);
    let (_, sealed) = tool("pdftotext", &[], &pdf);
    assert!(sealed.contains("nicht Trägerin der d-NRW AöR"), "{sealed}");
    assert!(!sealed.contains("seit dem 01.11.2026 Trägerin"), "{sealed}");
    // A draft not yet sent to signature is written from the registry as it is now.
    let other = app.municipality("05111000");
    let draft = app.create(json!({ "kind": "rv", "municipality_id": other }));
    assert!(text_of(&app, draft["id"].as_str().unwrap()).contains("nicht festgestellt"));
}

#[test]
fn contradictory_trägerschaft_records_and_a_one_letter_reason_are_refused() {
    let app = TestApp::new();
    let essen = app.municipality("05113000");
    let m = app.ok("GET", &format!("/api/v1/municipalities/{essen}"), None);
    let path = format!("/api/v1/municipalities/{essen}/membership");
    for (body, field) in [
        // Declared the accession, never left, but "kein Träger".
        (
            json!({ "status": "kein_traeger", "accession_declared_on": "2024-06-01" }),
            "accession_declared_on",
        ),
        // Paid without having joined.
        (
            json!({ "status": "kein_traeger", "capital_paid_on": "2024-06-01" }),
            "capital_paid_on",
        ),
        // A Träger paying nothing.
        (
            json!({ "status": "traeger", "accession_declared_on": "2024-06-01", "capital_cents": 0 }),
            "capital_cents",
        ),
    ] {
        let mut body = body;
        body["lock_version"] = m["lock_version"].clone();
        let (status, v) = app.put(&path, body.clone());
        assert_eq!(
            status,
            rocket::http::Status::UnprocessableEntity,
            "{body}: {v}"
        );
        assert_eq!(v["fields"][0]["field"], field, "{v}");
    }
    app.record_membership(&essen, "kein_traeger", json!({}));
    let (status, v) = app.post(
        "/api/v1/agreements",
        json!({ "kind": "rv", "municipality_id": essen, "non_member_reason": "x" }),
    );
    assert_eq!(status, rocket::http::Status::UnprocessableEntity, "{v}");
    assert!(
        v["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("mindestens 20 Zeichen"),
        "{v}"
    );
}

#[test]
fn a_signed_agreement_is_put_into_force_even_if_the_record_changed_after_signing() {
    let app = TestApp::new();
    let essen = app.municipality("05113000");
    let rv = app.in_force(json!({ "kind": "rv", "municipality_id": essen }));
    let id = rv["id"].as_str().unwrap();
    app.stuck_signed(id);
    // Recorded as "kein Träger" after the signatures: the signed text governs.
    app.record_membership(&essen, "kein_traeger", json!({}));
    let v = app.ok(
        "POST",
        &format!("/api/v1/agreements/{id}/transitions"),
        Some(json!({ "action": "activate" })),
    );
    assert_eq!(v["status"], "in_force", "{v}");
}
