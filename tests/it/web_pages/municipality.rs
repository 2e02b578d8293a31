//! A municipality user from the RV to a sealed Einzelabruf, and its go-live tasks with
//! evidence.

use super::*;
use crate::common::*;
use rocket::http::Status;
use serde_json::json;

#[test]
fn a_municipality_signs_its_rv_files_an_einzelabruf_and_both_sides_download_the_sealed_pdf() {
    let app = TestApp::new();
    let (_, _, wohngeld) = wohngeld_supply(&app);
    let koeln = app.municipality("05315000");
    let erika = web_user(
        &app,
        json!({ "email": "erika@stadt-koeln.de", "name": "Erika Köln", "role": "municipality", "municipality_id": koeln, "may_sign": true }),
    );
    let carl = web_user(
        &app,
        json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk", "may_sign": true }),
    );
    let essen = app.municipality("05113000");
    let bernd = web_user(
        &app,
        json!({ "email": "bernd@essen.de", "name": "Bernd Essen", "role": "municipality", "municipality_id": essen, "may_sign": true }),
    );

    // The start page leads to "Meine Kommune", which offers the RV.
    let start = app.web_get(Some(&erika), "/");
    assert_eq!(start.location.as_deref(), Some("/kommune"));
    let home = app.web_get(Some(&erika), "/kommune");
    assert!(
        home.text().contains("Meine Kommune: Stadt Köln"),
        "{}",
        home.text()
    );
    assert!(home.text().contains("noch keine Rahmenvereinbarung"));
    assert!(
        !home.body.contains("einzelabruf?dienst="),
        "no EA before the RV is in force"
    );

    // Request the RV, sign it; d-NRW countersigns and puts it into force.
    let rv = app.web_post(Some(&erika), "/kommune/rahmenvereinbarung", &[]);
    assert_eq!(rv.status, Status::SeeOther);
    let rv_id = id_after(rv.location.as_deref().unwrap(), "/vereinbarungen/");
    // A draft first: nothing is requested before its text was read and submitted.
    let (_, draft) = app.get(&format!("/api/v1/agreements/{rv_id}"));
    assert_eq!(draft["status"], "draft");
    // "Entwurf verwerfen …" asks first; asking changes nothing.
    let asked = app.web_post(
        Some(&erika),
        &format!("/vereinbarungen/{rv_id}/antrag"),
        &[("action", "cancel")],
    );
    assert_eq!(asked.status, Status::Ok, "{}", asked.text());
    assert!(asked.text().contains("verwerfen?"), "{}", asked.text());
    assert!(asked
        .body
        .contains(&format!("action=\"/vereinbarungen/{rv_id}/antrag\"")));
    assert_eq!(
        app.get(&format!("/api/v1/agreements/{rv_id}")).1["status"],
        "draft"
    );
    assert!(app
        .web_get(Some(&erika), "/kommune")
        .text()
        .contains("Vertragstext lesen und verbindlich beantragen"));
    submit_own(&app, &erika, &rv_id);
    assert!(app
        .web_get(Some(&erika), "/kommune")
        .text()
        .contains("wartet auf die Unterschrift Ihrer Kommune"));
    let page = app.web_get(Some(&erika), &format!("/vereinbarungen/{rv_id}"));
    assert!(
        page.text().contains("wartet auf Unterschriften"),
        "{}",
        page.text()
    );
    assert!(page.text().contains("Verbindlich unterzeichnen"));
    let clerk_early = app.web_get(Some(&carl), &format!("/vereinbarungen/{rv_id}"));
    assert!(
        !clerk_early.text().contains("Verbindlich unterzeichnen"),
        "the municipality signs first"
    );
    assert!(
        clerk_early.text().contains("Zuerst unterschreibt"),
        "{}",
        clerk_early.text()
    );
    let signed = app.web_sign(&erika, &rv_id);
    let home = app.web_get(Some(&erika), "/kommune").text();
    assert!(
        home.contains("Ihre Unterschrift liegt vor; es fehlt noch die Gegenzeichnung durch d-NRW"),
        "{home}"
    );
    assert_eq!(signed.status, Status::SeeOther);
    let again = app.web_sign(&erika, &rv_id);
    assert_eq!(
        again.status,
        Status::Conflict,
        "once only: {}",
        again.text()
    );
    let dashboard = app.web_get(Some(&carl), "/");
    assert!(
        dashboard
            .text()
            .contains("Gegenzeichnung durch d-NRW fällig (1)"),
        "{}",
        dashboard.text()
    );
    assert_eq!(app.web_sign(&carl, &rv_id).status, Status::SeeOther);
    // In force with the last signature, as the text says.
    assert_eq!(
        app.get(&format!("/api/v1/agreements/{rv_id}")).1["status"],
        "in_force"
    );
    let home = app.web_get(Some(&erika), "/kommune");
    assert!(home.text().contains("in Kraft"), "{}", home.text());
    assert!(home
        .body
        .contains(&format!("einzelabruf?dienst={wohngeld}")));

    // The guided form shows the service's parameters; bad uploads are refused with
    // their reasons at the fields, and nothing is filed.
    let form = app.web_get(
        Some(&erika),
        &format!("/kommune/einzelabruf?dienst={wohngeld}"),
    );
    assert_eq!(form.status, Status::Ok);
    for label in [
        "Web-Adresse der zuständigen Stelle",
        "E-Mail-Adresse für Rückfragen",
        "Wappen der Kommune",
        "Verschlüsselungszertifikat",
        "Fachliche Ansprechperson",
    ] {
        assert!(form.text().contains(label), "{label}: {}", form.text());
    }
    // NRW's own services and those not yet available are not called through d-NRW.
    let bauportal = app.service("Bauportal");
    let own = app.web_get(
        Some(&erika),
        &format!("/kommune/einzelabruf?dienst={bauportal}"),
    );
    assert_eq!(own.status, Status::UnprocessableEntity);
    assert!(
        own.text().contains("direkt, ohne Einzelabruf"),
        "{}",
        own.text()
    );
    let elterngeld = app.service("ElterngeldDigital");
    let soon = app.web_get(
        Some(&erika),
        &format!("/kommune/einzelabruf?dienst={elterngeld}"),
    );
    assert_eq!(soon.status, Status::UnprocessableEntity);
    assert!(
        soon.text().contains("in Kürze verfügbar"),
        "{}",
        soon.text()
    );
    let signing_only = certificate("Signatur Köln", -1, 365, &["digitalSignature"]);
    let expired = certificate("Alt Köln", -400, -10, &["keyEncipherment"]);
    let future = certificate("Künftig Köln", 10, 400, &["keyEncipherment"]);
    let key_pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----\n";
    let cases: [(&[u8], &str, &str); 5] = [
        (
            signing_only.as_bytes(),
            WAPPEN_SVG,
            "erlaubt keine Verschlüsselung",
        ),
        (expired.as_bytes(), WAPPEN_SVG, "abgelaufen"),
        (future.as_bytes(), WAPPEN_SVG, "gilt erst ab"),
        (key_pem.as_bytes(), WAPPEN_SVG, "als kompromittiert"),
        (
            b"kein Zertifikat",
            r#"<!DOCTYPE svg [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg">&x;</svg>"#,
            "kein gültiges XML ohne DTD",
        ),
    ];
    for (cert, svg, message) in cases {
        let page = app.web_multipart(
            &erika,
            "/kommune/einzelabruf",
            &[
                ("dienst", Part::Text(&wohngeld)),
                ("p[zustaendige_stelle_url]", Part::Text("keine Adresse")),
                ("wappen", Part::File("wappen.svg", svg.as_bytes())),
                ("zertifikat", Part::File("dvdv.pem", cert)),
            ],
        );
        assert_eq!(page.status, Status::UnprocessableEntity);
        let text = page.text();
        assert!(text.contains(message), "{message}: {text}");
        assert!(text.contains("Bitte prüfen Sie Ihre Angaben"));
        assert!(
            text.contains("Web-Adresse"),
            "parameter errors shown at once: {text}"
        );
        assert!(text.contains("Bitte den Namen der fachlichen Ansprechperson angeben"));
        assert!(
            page.body.contains("href=\"#zertifikat\"") || page.body.contains("href=\"#wappen\"")
        );
    }
    let (_, list) = app.get(&format!(
        "/api/v1/agreements?kind=ea&municipality_id={koeln}"
    ));
    assert_eq!(list["total"], 0, "nothing filed by refused forms");

    // Filed: the EA waits for signatures, shows the parameters, the coat of arms and the
    // certificate's details.
    let cert = certificate(
        "Wohngeldstelle Köln",
        -1,
        365,
        &["keyEncipherment", "dataEncipherment"],
    );
    // Files that pass their own check survive a form refused for something else: the
    // form comes back showing them with "ersetzen", and the next try files them without
    // choosing them again. They belong to this login only.
    let refused = app.web_multipart(
        &erika,
        "/kommune/einzelabruf",
        &wohngeld_form(&wohngeld, wohngeld_files(&cert), false),
    );
    assert_eq!(refused.status, Status::UnprocessableEntity);
    let text = refused.text();
    assert!(
        text.contains("Bitte den Namen der fachlichen Ansprechperson angeben"),
        "{text}"
    );
    for shown in [
        "Hochgeladen: Wappen Köln.svg",
        "Hochgeladen: dvdv.pem",
        "Wappen ersetzen",
        "Zertifikat ersetzen",
    ] {
        assert!(text.contains(shown), "{shown}: {text}");
    }
    let kept = |field: &str| {
        let marker = format!("name=\"{field}_behalten\" value=\"");
        let at = refused
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("{field}: {}", refused.body))
            + marker.len();
        refused.body[at..].split('"').next().unwrap().to_string()
    };
    let (kept_wappen, kept_cert) = (kept("wappen"), kept("zertifikat"));
    // Another login of the same user does not get them: its refused form shows none.
    let other_login = app.web_user(&erika.id);
    let foreign = app.web_multipart(
        &other_login,
        "/kommune/einzelabruf",
        &[
            ("dienst", Part::Text(&wohngeld)),
            ("wappen_behalten", Part::Text(&kept_wappen)),
            ("zertifikat_behalten", Part::Text(&kept_cert)),
        ],
    );
    assert_eq!(foreign.status, Status::UnprocessableEntity);
    assert!(
        !foreign.text().contains("Hochgeladen:"),
        "{}",
        foreign.text()
    );
    let filed = app.web_multipart(
        &erika,
        "/kommune/einzelabruf",
        &wohngeld_form(
            &wohngeld,
            [
                ("wappen_behalten", Part::Text(&kept_wappen)),
                ("zertifikat_behalten", Part::Text(&kept_cert)),
            ],
            true,
        ),
    );
    assert_eq!(filed.status, Status::SeeOther, "{}", filed.text());
    let left = app.db().read_blocking({
        let key = nachnutzung::store::pending_upload::session_key(&erika.csrf);
        let (user, id) = (erika.id.clone(), kept_wappen.clone());
        move |conn| nachnutzung::store::pending_upload::find(conn, &user, &key, "wappen", &id)
    });
    assert!(
        left.unwrap().is_none(),
        "kept files go once the form succeeds"
    );
    let ea = id_after(filed.location.as_deref().unwrap(), "/vereinbarungen/");
    let page = app.web_get(Some(&erika), filed.location.as_deref().unwrap());
    assert!(
        page.text()
            .contains("Einzelabruf (EA) als Entwurf angelegt"),
        "{}",
        page.text()
    );
    submit_own(&app, &erika, &ea);
    let page = app.web_get(Some(&erika), filed.location.as_deref().unwrap());
    let text = page.text();
    for expected in [
        "wartet auf Unterschriften",
        "https://www.stadt-koeln.de/wohngeld",
        "Erika Mustermann",
        "CN=Wohngeldstelle Köln",
        "keyEncipherment, dataEncipherment",
        "Fingerabdruck (SHA-256)",
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
    let (_, detail) = app.get(&format!("/api/v1/agreements/{ea}"));
    assert!(
        detail["terms"]["avv"]["subject"].as_str().is_some(),
        "the EKV's AVV applies"
    );
    assert!(detail["terms"]["parameters"]["wappen"]
        .as_str()
        .unwrap()
        .starts_with("anlage:"));
    let (_, text) = app.get(&format!("/api/v1/agreements/{ea}/text"));
    assert!(
        text["text"].as_str().unwrap_or_default().contains(
            "Wappen der Kommune: Datei „Wappen Köln.svg“, im Register hinterlegt (SHA-256 "
        ),
        "the contract names the coat of arms as a file: {text}"
    );
    let wappen = id_after(&page.body, "/anlagen/");
    let image = app.web_get(Some(&erika), &format!("/anlagen/{wappen}"));
    assert_eq!(image.status, Status::Ok);
    // Only the sanitised copy is stored and served, and the page says what was removed.
    assert!(image
        .body
        .contains(r##"<path d="M0 0h10v8l-5 4-5-4z" fill="#c00"></path>"##));
    assert!(
        !image.body.contains("script") && !image.body.contains("onload"),
        "{}",
        image.body
    );
    let shown = page.text();
    assert!(
        shown.contains("bereinigte Fassung der SVG-Datei"),
        "{shown}"
    );
    assert!(shown.contains("Attribut onload"), "{shown}");
    assert_eq!(
        app.web_get(Some(&bernd), &format!("/anlagen/{wappen}"))
            .status,
        Status::NotFound
    );
    // Another municipality's EA is "not found", on a page that still knows who is there.
    let other = app.web_get(Some(&bernd), &format!("/vereinbarungen/{ea}"));
    assert_eq!(other.status, Status::NotFound);
    assert!(
        other.text().contains("Bernd Essen") && other.text().contains("Meine Kommune"),
        "{}",
        other.text()
    );
    assert!(
        !other.text().contains("Köln"),
        "nothing of Köln: {}",
        other.text()
    );
    let duplicate = file_wohngeld(&app, &erika, &wohngeld, &cert);
    assert_eq!(duplicate.status, Status::UnprocessableEntity);
    assert!(duplicate.text().contains("bereits"), "{}", duplicate.text());

    // The certificate is renewed later (operational data, not part of the signed terms);
    // an expired one is refused, another municipality cannot see the EA.
    let renewed = certificate("Wohngeldstelle Köln 2027", -1, 730, &["keyAgreement"]);
    let page = app.web_multipart(
        &erika,
        &format!("/vereinbarungen/{ea}/zertifikat"),
        &[("zertifikat", Part::File("neu.pem", renewed.as_bytes()))],
    );
    assert_eq!(page.status, Status::SeeOther, "{}", page.text());
    let old = certificate("Alt", -400, -1, &["keyEncipherment"]);
    let page = app.web_multipart(
        &erika,
        &format!("/vereinbarungen/{ea}/zertifikat"),
        &[("zertifikat", Part::File("alt.pem", old.as_bytes()))],
    );
    assert_eq!(page.status, Status::UnprocessableEntity);
    assert!(page.text().contains("abgelaufen"), "{}", page.text());
    let page = app.web_multipart(
        &bernd,
        &format!("/vereinbarungen/{ea}/zertifikat"),
        &[("zertifikat", Part::File("neu.pem", renewed.as_bytes()))],
    );
    assert_eq!(page.status, Status::NotFound);
    let renewed_page = app.web_get(Some(&erika), &format!("/vereinbarungen/{ea}"));
    let text = renewed_page.text();
    assert!(
        text.contains("CN=Wohngeldstelle Köln 2027") && text.contains("keyAgreement"),
        "{text}"
    );
    assert!(
        text.find("Köln 2027").unwrap() < text.find("keyEncipherment, dataEncipherment").unwrap(),
        "newest first: {text}"
    );
    assert!(text.contains("DVDV-Zertifikat erneuern"));
    // The test certificates are self-signed: the DVDV would refuse them, and the page says
    // so at the certificate (kept, not refused).
    assert!(
        text.contains("Das Zertifikat ist selbst ausgestellt")
            && renewed_page.body.contains("kern-alert--warning"),
        "{text}"
    );

    // Both sign; both download the same sealed PDF, which verifies as issued here.
    assert_eq!(app.web_sign(&erika, &ea).status, Status::SeeOther);
    assert_eq!(app.web_sign(&carl, &ea).status, Status::SeeOther);
    let fetch = |u: &WebUser| {
        let res = app
            .client
            .get(format!("/vereinbarungen/{ea}/dokument.pdf"))
            .private_cookie(rocket::http::Cookie::new("nnr_sitzung", u.cookie_value()))
            .dispatch();
        (res.status(), res.into_bytes().unwrap_or_default())
    };
    let (status, pdf) = fetch(&erika);
    assert_eq!(status, Status::Ok);
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(fetch(&carl), (Status::Ok, pdf.clone()));
    assert_eq!(
        fetch(&bernd).0,
        Status::NotFound,
        "another municipality gets nothing"
    );
    let (status, v) = app.verify(&pdf);
    assert_eq!(status, Status::Ok);
    assert_eq!(v["seal_valid"], true, "{v}");
    assert_eq!(v["issued_as"]["agreement_id"], ea.as_str(), "{v}");
    let page = app.web_get(Some(&erika), &format!("/vereinbarungen/{ea}"));
    assert!(
        page.text().contains("Gesiegeltes Dokument, Fassung 1"),
        "{}",
        page.text()
    );
    assert!(page.text().contains("unterzeichnet von Erika Köln"));
    assert!(page.text().contains("unterzeichnet von Carl Clerk"));

    // The DVDV task carries the same warning.
    let dvdv = plan_task(&app, &ea, "dvdv");
    let page = app
        .web_get(Some(&erika), &format!("/aufgaben/{dvdv}"))
        .text();
    assert!(
        page.contains("Hinweis zum Zertifikat Das Zertifikat ist selbst ausgestellt"),
        "{page}"
    );

    // In force: the Parameter task shows the parameters by their labels, the coat of arms
    // as a file to open, never "anlage:…"; done, its evidence reads the same way.
    let task = plan_task(&app, &ea, "parameters");
    let page = app.web_get(Some(&erika), &format!("/aufgaben/{task}"));
    assert_eq!(page.status, Status::Ok);
    let text = page.text();
    assert!(
        text.contains("Parameter laut Einzelabruf")
            && text.contains("E-Mail-Adresse für Rückfragen wohngeld@stadt-koeln.de")
            && text.contains("Wappen der Kommune Datei ansehen"),
        "{text}"
    );
    assert!(page.body.contains(&format!("/anlagen/{wappen}")));
    assert!(!page.body.contains("anlage:"), "{}", page.body);
    let lock = app.ok("GET", &format!("/api/v1/tasks/{task}"), None)["lock_version"].to_string();
    let done = app.web_post(
        Some(&erika),
        &format!("/aufgaben/{task}/schritt"),
        &[("aktion", "complete"), ("lock_version", &lock)],
    );
    assert_eq!(done.status, Status::SeeOther, "{}", done.text());
    let page = app.web_get(Some(&erika), &format!("/aufgaben/{task}"));
    assert!(
        page.text()
            .contains("Wappen der Kommune: Datei im Register"),
        "{}",
        page.text()
    );
    assert!(!page.body.contains("anlage:"), "{}", page.body);
}

#[test]
fn a_municipality_reports_its_go_live_tasks_with_evidence_and_staff_follow_the_rollout() {
    let app = TestApp::new();
    let f = fixture(&app);
    let admin = f.users[1].clone().unwrap();
    let koeln = f.users[3].clone().unwrap();
    let essen = f.users[4].clone().unwrap();
    let ea = app.in_force(json!({
        "kind": "ea", "municipality_id": f.koeln, "service_id": f.wohngeld, "avv": avv(),
        "parameters": { "zustaendige_stelle_url": "https://www.stadt-koeln.de/wohngeld", "kontakt_email": "wohngeld@stadt-koeln.de" }
    }));
    let ea = ea["id"].as_str().unwrap().to_string();
    let plan = app.ok("GET", &format!("/api/v1/agreements/{ea}/tasks"), None);
    let vsm = plan["tasks"][0]["id"].as_str().unwrap().to_string();

    // Köln's start page lists its own open tasks under "Zu tun", the others' apart;
    // the EA's page the plan.
    let ours = plan["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["owner_type"] == "municipality")
        .count();
    assert!(ours > 0 && ours < 5, "{plan}");
    let home = app.web_get(Some(&koeln), "/kommune").text();
    assert!(
        home.contains(&format!("Ihre Aufgaben zur Inbetriebnahme ({ours})"))
            && home.contains("Was andere für Ihre Dienste erledigen"),
        "{home}"
    );
    let page = app
        .web_get(Some(&koeln), &format!("/vereinbarungen/{ea}"))
        .text();
    assert!(
        page.contains("Inbetriebnahme")
            && page.contains("DVDV-Eintrag mit Verschlüsselungszertifikat")
    );

    // The VSM task's form knows Wohngeld's Leika keys; wrong evidence comes back with
    // its messages at the fields, nothing recorded.
    let form = app.web_get(Some(&koeln), &format!("/aufgaben/{vsm}"));
    assert_eq!(form.status, Status::Ok);
    assert!(form.body.contains("99107023000000"), "suggested Leika keys");
    let refused = app.web_post(
        Some(&koeln),
        &format!("/aufgaben/{vsm}/schritt"),
        &[
            ("aktion", "complete"),
            ("lock_version", "1"),
            ("leika_keys", "99107023000000"),
            ("zustaendige_stelle", "Amt für Wohnungswesen"),
            ("service_url", "stadt-koeln.de/wohngeld"),
        ],
    );
    assert_eq!(refused.status, Status::UnprocessableEntity);
    assert!(
        refused.body.contains("id=\"service_url-fehler\""),
        "{}",
        refused.body
    );
    assert!(refused.text().contains("keine Web-Adresse"));
    assert!(
        refused.body.contains("value=\"Amt für Wohnungswesen\""),
        "input kept"
    );
    let done = app.web_post(
        Some(&koeln),
        &format!("/aufgaben/{vsm}/schritt"),
        &[
            ("aktion", "complete"),
            ("lock_version", "1"),
            ("leika_keys", "99107023000000"),
            ("zustaendige_stelle", "Amt für Wohnungswesen"),
            ("service_url", "https://www.stadt-koeln.de/wohngeld"),
        ],
    );
    assert_eq!(done.status, Status::SeeOther, "{}", done.text());
    let text = app
        .web_get(Some(&koeln), &format!("/aufgaben/{vsm}"))
        .text();
    assert!(
        text.contains("erledigt") && text.contains("https://www.stadt-koeln.de/wohngeld"),
        "{text}"
    );
    // Essen neither sees nor reports it.
    assert_eq!(
        app.web_get(Some(&essen), &format!("/aufgaben/{vsm}"))
            .status,
        Status::NotFound
    );
    assert!(!app
        .web_get(Some(&essen), "/aufgaben")
        .text()
        .contains("Köln"));

    // Staff move the due date and see Köln in the roll-out, in the page and as CSV.
    let planned = app.web_post(
        Some(&admin),
        &format!("/aufgaben/{vsm}/planung"),
        &[
            ("lock_version", "2"),
            ("due_on", "2030-01-31"),
            ("contact_id", ""),
        ],
    );
    assert_eq!(planned.status, Status::SeeOther, "{}", planned.text());
    assert!(app
        .web_get(Some(&admin), &format!("/aufgaben/{vsm}"))
        .text()
        .contains("31.01.2030"));
    let matrix = app.web_get(Some(&admin), "/rollout?rb=K%C3%B6ln");
    assert_eq!(matrix.status, Status::Ok);
    let text = matrix.text();
    assert!(text.contains("Köln") && text.contains("in Kraft"), "{text}");
    assert!(
        !text.contains("Dortmund"),
        "filtered to Regierungsbezirk Köln"
    );
    let csv = app.web_get(Some(&admin), "/rollout.csv?rb=K%C3%B6ln");
    assert_eq!(csv.status, Status::Ok);
    assert!(
        csv.body.contains("05315000;") && csv.body.contains(";in Kraft"),
        "{}",
        csv.body
    );
    let muni = app
        .web_get(Some(&admin), &format!("/kommunen/{}", f.koeln))
        .text();
    assert!(
        muni.contains("Stand der Dienste VSM-Daten")
            && muni.contains("Wohngeld (Online-Dienst Wohngeld) : in Kraft"),
        "{muni}"
    );
}

/// "Angaben ändern" on a municipality's Einzelabruf draft: the draft is discarded and
/// the form comes back filled with what it said (files are chosen anew).
#[test]
fn changing_a_draft_einzelabruf_brings_the_form_back_filled_in() {
    let app = TestApp::new();
    let f = fixture(&app);
    let erika = f.users[3].clone().unwrap();
    let cert = certificate("Wohngeldstelle Köln", -1, 365, &["keyEncipherment"]);
    let filed = file_wohngeld(&app, &erika, &f.wohngeld, &cert);
    let ea = id_after(filed.location.as_deref().unwrap(), "/vereinbarungen/");
    let changed = app.web_post(
        Some(&erika),
        &format!("/vereinbarungen/{ea}/antrag"),
        &[("action", "cancel"), ("neu", "true")],
    );
    assert_eq!(changed.status, Status::SeeOther, "{}", changed.text());
    let back = changed.location.unwrap();
    assert!(
        back.contains("/kommune/einzelabruf?dienst=") && back.contains(&format!("von={ea}")),
        "{back}"
    );
    assert_eq!(
        app.get(&format!("/api/v1/agreements/{ea}")).1["status"],
        "cancelled"
    );
    let form = app.web_get(Some(&erika), &back);
    assert_eq!(form.status, Status::Ok);
    assert!(
        form.text()
            .contains("Die Angaben Ihres verworfenen Entwurfs EA-"),
        "{}",
        form.text()
    );
    for expected in [
        "value=\"https://www.stadt-koeln.de/wohngeld\"",
        "value=\"wohngeld@stadt-koeln.de\"",
        "value=\"Erika Mustermann\"",
    ] {
        let html = form.body.replace("&#x2F;", "/");
        assert!(html.contains(expected), "{expected} missing in {html}");
    }
    // Filed again from the filled form, it is a new draft.
    let again = file_wohngeld(&app, &erika, &f.wohngeld, &cert);
    assert_eq!(again.status, Status::SeeOther, "{}", again.text());
}

#[test]
fn meine_kommune_offers_the_services_without_an_einzelabruf_searchable_and_paged() {
    let app = TestApp::new();
    let (_, _, wohngeld) = wohngeld_supply(&app);
    let koeln = app.municipality("05315000");
    let erika = web_user(
        &app,
        json!({ "email": "erika@stadt-koeln.de", "name": "Erika Köln", "role": "municipality", "municipality_id": koeln, "may_sign": true }),
    );
    // 24 more services of other Länder (the seeded catalogue offers one), and one of NRW's,
    // which an NRW municipality does not call.
    for i in 1..=24 {
        app.ok(
            "POST",
            "/api/v1/services",
            Some(
                json!({ "name": format!("Musterdienst {i:02}"), "availability": "available",
                "leika_keys": ["99107023000000"], "providing_land_key": "01" }),
            ),
        );
    }
    app.ok(
        "POST",
        "/api/v1/services",
        Some(
            json!({ "name": "Musterdienst aus NRW", "availability": "available",
            "leika_keys": ["99107023000000"], "providing_land_key": "05" }),
        ),
    );
    // What the page should offer: available services of other Länder.
    let (_, catalog) = app.get_anon("/api/v1/catalog");
    let offered: Vec<String> = catalog["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["availability"] == "available" && s["providing_land_key"] != "05")
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    assert!(offered.len() > 20, "enough to page: {}", offered.len());
    let links = |page: &str| -> Vec<String> {
        page.split("<h3><a href=\"/katalog/")
            .skip(1)
            .map(|rest| rest[..36].to_string())
            .collect()
    };
    let first = app.web_get(Some(&erika), "/kommune").body;
    assert!(
        first.contains(&format!("{} Dienste", offered.len())),
        "{first}"
    );
    let mut seen = links(&first);
    assert_eq!(seen.len(), 20);
    let mut page = 2;
    loop {
        let next = app
            .web_get(Some(&erika), &format!("/kommune?seite={page}"))
            .body;
        let more = links(&next);
        assert!(!more.is_empty() && more.len() <= 20);
        seen.extend(more);
        if !next.contains("Nächste Seite") {
            break;
        }
        page += 1;
    }
    seen.sort();
    let mut expected = offered.clone();
    expected.sort();
    assert_eq!(
        seen, expected,
        "every offered service once, across the pages"
    );
    // A page beyond the last shows the last.
    let beyond = app.web_get(Some(&erika), "/kommune?seite=999").body;
    assert!(
        beyond.contains(&format!("Seite {page} von {page}")),
        "{beyond}"
    );

    // The search narrows the list; nothing found says so.
    let found = app.web_get(Some(&erika), "/kommune?suche=wohngeld").body;
    assert!(links(&found).contains(&wohngeld), "{found}");
    assert!(links(&found).len() < 20);
    let none = app
        .web_get(Some(&erika), "/kommune?suche=Raumfahrtagentur")
        .text();
    assert!(
        none.contains("Kein weiterer Dienst passt zu „Raumfahrtagentur“"),
        "{none}"
    );
    let bad = app.web_get(Some(&erika), "/kommune?suche=%07");
    assert_eq!(bad.status.code, 422, "{}", bad.text());

    // With an Einzelabruf, Wohngeld leaves the offer for the table of Einzelabrufe.
    app.in_force(json!({ "kind": "rv", "municipality_id": koeln }));
    app.in_force(json!({
        "kind": "ea", "municipality_id": koeln, "service_id": wohngeld, "avv": avv(),
        "parameters": { "zustaendige_stelle_url": "https://www.stadt-koeln.de/wohngeld", "kontakt_email": "wohngeld@stadt-koeln.de" }
    }));
    let after = app.web_get(Some(&erika), "/kommune?suche=wohngeld").body;
    assert!(!links(&after).contains(&wohngeld), "{after}");
    let all = app.web_get(Some(&erika), "/kommune").body;
    assert!(
        all.contains(&format!("{} Dienste", offered.len() - 1)),
        "{all}"
    );
    assert!(all.contains(&format!("einzelabruf?dienst={}", offered[0])) || offered[0] == wohngeld);
}

/// The id of the go-live task of `kind` of an Einzelabruf.
fn plan_task(app: &TestApp, ea: &str, kind: &str) -> String {
    let plan = app.ok("GET", &format!("/api/v1/agreements/{ea}/tasks"), None);
    plan["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == kind)
        .unwrap_or_else(|| panic!("{kind}: {plan}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}
