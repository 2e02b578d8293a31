//! d-NRW staff on the pages of municipalities, services, partners and the public
//! catalogue.

use super::*;
use crate::common::*;
use rocket::http::Status;
use serde_json::json;

#[test]
fn staff_pages_filter_municipalities_and_show_a_services_einzelabrufe() {
    let app = TestApp::with_demo();
    let clerk = web_user(
        &app,
        json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }),
    );
    let all = app.web_get(Some(&clerk), "/kommunen");
    assert_eq!(all.status, Status::Ok);
    assert!(
        all.text().contains("Kommunen oder Kreise"),
        "{}",
        all.text()
    );
    let in_force = app.web_get(Some(&clerk), "/kommunen?rv=in_kraft");
    let text = in_force.text();
    assert!(
        text.contains("2 Kommunen oder Kreise"),
        "Dortmund and Düsseldorf: {text}"
    );
    assert!(text.contains("Dortmund") && text.contains("Düsseldorf"));
    // No source names single Träger: the status is "nicht erfasst", not "nein".
    assert_eq!(text.matches("nicht erfasst in Kraft").count(), 2, "{text}");
    let arnsberg = app.web_get(Some(&clerk), "/kommunen?rv=in_kraft&rb=Arnsberg");
    assert!(
        arnsberg.text().contains("1 Kommune oder Kreis"),
        "{}",
        arnsberg.text()
    );
    let none = app.web_get(Some(&clerk), "/kommunen?rv=keine&q=dortmund");
    assert!(
        none.text().contains("0 Kommunen oder Kreise"),
        "{}",
        none.text()
    );
    let wohngeld = app.service("Wohngeld (Online-Dienst");
    let service = app.web_get(Some(&clerk), &format!("/dienste/{wohngeld}"));
    let text = service.text();
    assert!(text.contains("1 Kommune in NRW nutzt den Dienst"), "{text}");
    assert!(
        text.contains("Dortmund") && text.contains("Düsseldorf"),
        "{text}"
    );
    // The services list: searchable, 50 per page, every service once across the pages.
    let (_, services) = app.get("/api/v1/services");
    let count = services["total"]
        .as_i64()
        .or_else(|| services.as_array().map(|a| a.len() as i64))
        .unwrap_or_else(|| panic!("{services}"));
    let first = app.web_get(Some(&clerk), "/dienste").body;
    assert!(first.contains(&format!("{count} Dienste")), "{first}");
    let rows = |html: &str| html.matches("\">Bearbeiten<span").count();
    let mut seen = rows(&first);
    assert_eq!(seen as i64, count.min(50));
    let mut page = 1;
    while seen < count as usize {
        page += 1;
        let next = app
            .web_get(Some(&clerk), &format!("/dienste?seite={page}"))
            .body;
        assert!(next.contains(&format!("Seite {page} von")), "{next}");
        seen += rows(&next);
    }
    assert_eq!(seen as i64, count);
    let found = app.web_get(Some(&clerk), "/dienste?suche=Wohngeld").text();
    assert!(
        found.contains("Wohngeld (Online-Dienst Wohngeld)"),
        "{found}"
    );
    assert!(!found.contains("Gewerbeanzeige"), "{found}");
    let nothing = app.web_get(Some(&clerk), "/dienste?suche=Raumfahrt").text();
    assert!(nothing.contains("Kein Dienst passt zur Suche"), "{nothing}");
    // The service page pages its Einzelabrufe (here all on one page).
    assert!(!text.contains("Nächste Seite"), "{text}");

    let dashboard = app.web_get(Some(&clerk), "/");
    assert!(
        dashboard
            .text()
            .contains("Neue Einzelabrufe der letzten 14 Tage (1)"),
        "{}",
        dashboard.text()
    );

    // A page beyond the last (typed into the address) shows the last one, not nothing.
    let all = app.web_get(Some(&clerk), "/vereinbarungen");
    let beyond = app.web_get(Some(&clerk), "/vereinbarungen?seite=999");
    assert_eq!(beyond.status, Status::Ok);
    assert!(!cells(&all.body).is_empty());
    assert_eq!(cells(&beyond.body), cells(&all.body));
}

#[test]
fn the_catalogue_is_public_and_follows_changes_of_the_services() {
    let app = TestApp::new();
    let page = app.web_get(None, "/katalog");
    assert_eq!(page.status, Status::Ok);
    let text = page.text();
    assert!(text.contains("Jetzt verfügbar"), "{text}");
    assert!(text.contains("Wohngeld (Online-Dienst Wohngeld)"));
    let wohngeld = app.service("Wohngeld (Online-Dienst");
    let detail = app.web_get(None, &format!("/katalog/{wohngeld}"));
    assert!(
        detail.text().contains("99107023000000"),
        "Leika keys: {}",
        detail.text()
    );
    assert!(detail
        .text()
        .contains("Web-Adresse der zuständigen Stelle (Pflichtangabe)"));
    // A change of the service shows at once, though the page is cached.
    let (_, s) = app.get(&format!("/api/v1/services/{wohngeld}"));
    let (status, _) = app.patch(
        &format!("/api/v1/services/{wohngeld}"),
        json!({ "name": "Wohngeld digital", "lock_version": s["lock_version"] }),
    );
    assert_eq!(status, Status::Ok);
    let text = app.web_get(None, "/katalog").text();
    assert!(text.contains("Wohngeld digital"), "{text}");
    let found = app.web_get(None, "/katalog?q=wohngeld").text();
    assert!(
        found.contains("Wohngeld digital") && !found.contains("Einbürgerung"),
        "{found}"
    );
}

#[test]
fn staff_record_a_municipalitys_trägerschaft_and_address_and_add_a_contact_with_messages_at_the_fields(
) {
    let app = TestApp::new();
    let clerk = web_user(
        &app,
        json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }),
    );
    let koeln = app.municipality("05315000");
    let path = format!("/kommunen/{koeln}");
    let page = app.web_get(Some(&clerk), &path);
    assert!(
        page.text().contains("Einwohner 1.087.863"),
        "the population with thousands separators: {}",
        page.text()
    );
    let lock = {
        let at = page.body.find("name=\"lock_version\" value=\"").unwrap() + 27;
        page.body[at..].split('"').next().unwrap().to_string()
    };
    let membership = format!("{path}/traegerschaft");
    let bad = app.web_post(
        Some(&clerk),
        &membership,
        &[
            ("lock_version", &lock),
            ("stand", "traeger"),
            ("council_decision_on", "15.03.2021"),
            ("capital", "viel"),
        ],
    );
    assert_eq!(bad.status, Status::UnprocessableEntity);
    assert!(
        bad.text()
            .contains("Stammkapitaleinlage als Betrag in Euro"),
        "{}",
        bad.text()
    );
    assert!(
        bad.body.contains("href=\"#council_decision_on\""),
        "{}",
        bad.text()
    );
    assert!(bad.body.contains("value=\"viel\""), "typed values stay");
    let future = app.web_post(
        Some(&clerk),
        &membership,
        &[
            ("lock_version", &lock),
            ("stand", "traeger"),
            ("council_decision_on", "2021-03-15"),
            ("accession_declared_on", "2099-01-01"),
        ],
    );
    assert!(
        future.text().contains("kann nicht in der Zukunft liegen"),
        "{}",
        future.text()
    );
    assert!(future.body.contains("href=\"#accession_declared_on\""));
    let no_accession = app.web_post(
        Some(&clerk),
        &membership,
        &[
            ("lock_version", &lock),
            ("stand", "traeger"),
            ("council_decision_on", "2021-03-15"),
        ],
    );
    assert!(
        no_accession
            .text()
            .contains("durch ihre Beitrittserklärung"),
        "{}",
        no_accession.text()
    );
    let ok = app.web_post(
        Some(&clerk),
        &membership,
        &[
            ("lock_version", &lock),
            ("stand", "traeger"),
            ("council_decision_on", "2021-03-15"),
            ("accession_declared_on", "2021-04-01"),
            ("capital", "1.000,00"),
            ("capital_paid_on", "2021-04-20"),
            ("note", "Beitrittserklärung vom 01.04.2021, Akte 2021/17"),
        ],
    );
    assert_eq!(ok.status, Status::SeeOther, "{}", ok.text());
    let (_, m) = app.get(&format!("/api/v1/municipalities/{koeln}"));
    assert_eq!(m["traegerschaft_label"], "Träger seit 01.04.2021");
    assert_eq!(m["membership"]["capital_cents"], 100_000);
    let shown = app.web_get(Some(&clerk), &path).text();
    for part in [
        "Träger seit 01.04.2021",
        "15.03.2021",
        "1.000,00 €, eingezahlt am 20.04.2021",
        "Akte 2021/17",
    ] {
        assert!(shown.contains(part), "{part}: {shown}");
    }
    let lock = m["lock_version"].to_string();
    let ok = app.web_post(
        Some(&clerk),
        &path,
        &[
            ("lock_version", &lock),
            ("address", "Willy-Brandt-Platz 2, 50679 Köln"),
        ],
    );
    assert_eq!(ok.status, Status::SeeOther, "{}", ok.text());
    let (_, m) = app.get(&format!("/api/v1/municipalities/{koeln}"));
    assert_eq!(m["address"], "Willy-Brandt-Platz 2, 50679 Köln");
    let stale = app.web_post(
        Some(&clerk),
        &path,
        &[("lock_version", &lock), ("address", "alt")],
    );
    assert_eq!(
        stale.status,
        Status::UnprocessableEntity,
        "a stale form is refused"
    );
    assert!(
        stale.text().contains("inzwischen geändert"),
        "{}",
        stale.text()
    );

    let bad = app.web_post(
        Some(&clerk),
        &format!("{path}/ansprechpersonen"),
        &[("name", ""), ("email", "keine")],
    );
    assert_eq!(bad.status, Status::UnprocessableEntity);
    assert!(
        bad.body.contains("href=\"#contact-email\""),
        "{}",
        bad.text()
    );
    let ok = app.web_post(
        Some(&clerk),
        &format!("{path}/ansprechpersonen"),
        &[
            ("name", "Henriette Reker"),
            ("function", "Oberbürgermeisterin"),
            ("email", "ob@stadt-koeln.de"),
            ("may_sign", "true"),
        ],
    );
    assert_eq!(ok.status, Status::SeeOther);
    let text = app.web_get(Some(&clerk), &path).text();
    assert!(
        text.contains("Henriette Reker, Oberbürgermeisterin")
            && text.contains("(zeichnungsberechtigt)"),
        "{text}"
    );
}

#[test]
fn staff_add_and_change_a_service_with_its_parameters_and_the_catalogue_follows() {
    let app = TestApp::new();
    let clerk = web_user(
        &app,
        json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }),
    );
    let form = app.web_get(Some(&clerk), "/dienste/neu");
    assert_eq!(form.status, Status::Ok);
    assert!(
        form.body
            .contains("zustaendige_stelle_url | Web-Adresse der zuständigen Stelle | url | ja"),
        "defaults offered: {}",
        form.text()
    );
    let mut fields = vec![
        ("name", "Hundesteuer online"),
        ("ozg_id", "10389"),
        ("leika_keys", "99013002000000\n123"),
        ("providing_land_key", "03"),
        ("availability", "coming_soon"),
        ("parameters", "hundeart | Hunderasse | farbe | ja"),
    ];
    let bad = app.web_post(Some(&clerk), "/dienste/neu", &fields);
    assert_eq!(bad.status, Status::UnprocessableEntity);
    assert!(
        bad.text().contains("Zeile 1: „farbe“ ist keine Art"),
        "{}",
        bad.text()
    );
    fields[5] = (
        "parameters",
        "gebuehr_cents | Gebühr in Cent | gebuehr | ja\nkontakt_email | Rückfragen | email | nein",
    );
    let bad = app.web_post(Some(&clerk), "/dienste/neu", &fields);
    assert_eq!(bad.status, Status::UnprocessableEntity);
    assert!(
        bad.text().contains("123"),
        "the wrong Leika key is named: {}",
        bad.text()
    );
    assert!(bad.body.contains("href=\"#leika_keys\""));
    fields[2] = ("leika_keys", "99013002000000");
    // The form's fields are named like the command's: an error comes back at its field.
    fields[3] = ("providing_land_key", "99");
    let bad = app.web_post(Some(&clerk), "/dienste/neu", &fields);
    assert_eq!(bad.status, Status::UnprocessableEntity);
    assert!(
        bad.body.contains("href=\"#providing_land_key\""),
        "{}",
        bad.text()
    );
    fields[3] = ("providing_land_key", "03");
    let ok = app.web_post(Some(&clerk), "/dienste/neu", &fields);
    assert_eq!(ok.status, Status::SeeOther, "{}", ok.text());
    let id = id_after(ok.location.as_deref().unwrap(), "/dienste/");
    let (_, v) = app.get(&format!("/api/v1/services/{id}"));
    assert_eq!(v["providing_state"], "Niedersachsen");
    assert_eq!(v["parameters"][0]["kind"], "fee_cents");
    assert_eq!(v["parameters"][1]["required"], false);

    // Changed through the edit form (which shows what is stored); the catalogue follows.
    let edit = app.web_get(Some(&clerk), &format!("/dienste/{id}/bearbeiten"));
    assert!(
        edit.body.contains("value=\"Hundesteuer online\""),
        "{}",
        edit.text()
    );
    let lock = {
        let at = edit.body.find("name=\"lock_version\" value=\"").unwrap() + 27;
        edit.body[at..].split('"').next().unwrap().to_string()
    };
    let mut changed = fields.clone();
    changed[0] = ("name", "Hundesteuer digital");
    changed[4] = ("availability", "available");
    changed.push(("lock_version", &lock));
    let saved = app.web_post(Some(&clerk), &format!("/dienste/{id}/bearbeiten"), &changed);
    assert_eq!(saved.status, Status::SeeOther, "{}", saved.text());
    assert!(app
        .web_get(None, "/katalog")
        .text()
        .contains("Hundesteuer digital"));
    let stale = app.web_post(Some(&clerk), &format!("/dienste/{id}/bearbeiten"), &changed);
    assert_eq!(stale.status, Status::UnprocessableEntity);
    assert!(
        stale.text().contains("inzwischen geändert"),
        "{}",
        stale.text()
    );
}

#[test]
fn staff_add_a_partner_for_its_laender_change_it_and_add_its_signatory() {
    let app = TestApp::new();
    let clerk = web_user(
        &app,
        json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }),
    );
    let list = app.web_get(Some(&clerk), "/partner");
    assert!(
        list.text().contains("Dataport AöR") && list.text().contains("GovConnect GmbH"),
        "{}",
        list.text()
    );
    assert!(
        !list.text().contains("(Kommunalvertreter.NRW)"),
        "d-NRW is nobody's partner here"
    );
    let none = app.web_post(
        Some(&clerk),
        "/partner/neu",
        &[("name", "Kommunalvertreter Saar")],
    );
    assert_eq!(none.status, Status::UnprocessableEntity);
    assert!(
        none.text()
            .contains("Kommunalvertreter, Anbieter oder beides"),
        "{}",
        none.text()
    );
    let ok = app.web_post(
        Some(&clerk),
        "/partner/neu",
        &[
            ("name", "Kommunalvertreter Saar"),
            ("is_intermediary", "true"),
            ("laender", "10"),
            ("legal_form", "AöR"),
        ],
    );
    assert_eq!(ok.status, Status::SeeOther, "{}", ok.text());
    let id = id_after(ok.location.as_deref().unwrap(), "/partner/");
    let (_, v) = app.get(&format!("/api/v1/intermediaries/{id}"));
    assert_eq!(
        v["states"],
        json!([{ "land_key": "10", "state": "Saarland" }]),
        "{v}"
    );
    // Changed: it now also operates services and acts for Rheinland-Pfalz too.
    let page = app.web_get(Some(&clerk), &format!("/partner/{id}"));
    assert!(
        page.body
            .contains("id=\"land-10\" name=\"laender\" value=\"10\" checked"),
        "{}",
        page.body
    );
    let lock = {
        let at = page.body.find("name=\"lock_version\" value=\"").unwrap() + 27;
        page.body[at..].split('"').next().unwrap().to_string()
    };
    let saved = app.web_post(
        Some(&clerk),
        &format!("/partner/{id}"),
        &[
            ("lock_version", &lock),
            ("name", "Kommunalvertreter Saar"),
            ("is_intermediary", "true"),
            ("is_provider", "true"),
            ("laender", "07"),
            ("laender", "10"),
        ],
    );
    assert_eq!(saved.status, Status::SeeOther, "{}", saved.text());
    let (_, v) = app.get(&format!("/api/v1/providers/{id}"));
    assert_eq!(v["states"].as_array().unwrap().len(), 2, "{v}");
    let contact = app.web_post(
        Some(&clerk),
        &format!("/partner/{id}/ansprechpersonen"),
        &[
            ("name", "Sabine Saar"),
            ("function", "Vorständin"),
            ("may_sign", "true"),
        ],
    );
    assert_eq!(contact.status, Status::SeeOther);
    assert!(app
        .web_get(Some(&clerk), &format!("/partner/{id}"))
        .text()
        .contains("Sabine Saar, Vorständin (zeichnungsberechtigt)"));
    let dnrw = app.dnrw();
    assert_eq!(
        app.web_get(Some(&clerk), &format!("/partner/{dnrw}"))
            .status,
        Status::NotFound
    );
}
