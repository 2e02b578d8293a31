//! The German contract texts: filled with the registry's data, traceable by template
//! version and SHA-256, the AVV complete as Art. 28 (3) DSGVO requires.

use crate::common::*;
use rocket::http::Status;
use serde_json::{json, Value};

fn text(app: &TestApp, id: &str) -> Value {
    app.ok("GET", &format!("/api/v1/agreements/{id}/text"), None)
}

fn ids_of(app: &TestApp, kind: &str) -> Vec<String> {
    app.ok(
        "GET",
        &format!("/api/v1/agreements?kind={kind}&per_page=100"),
        None,
    )["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn dortmund_einzelabruf_reads_as_a_contract_with_its_avv() {
    let app = TestApp::with_demo();
    let dortmund = app.municipality("05913000");
    let ea = &app.ok(
        "GET",
        &format!("/api/v1/agreements?kind=ea&municipality_id={dortmund}"),
        None,
    )["items"][0];
    let t = text(&app, ea["id"].as_str().unwrap());
    let body = t["text"].as_str().unwrap();
    for expected in [
        "# Einzelabruf",
        "Stadt Dortmund, Amtlicher Gemeindeschlüssel 05913000",
        "Regierungsbezirk Arnsberg",
        "„Wohngeld (Online-Dienst Wohngeld)“ (OZG-Leistung 10092)",
        "- 99107023000000",
        "betrieben und von Schleswig-Holstein bereitgestellt",
        "Dataport AöR",
        "Web-Adresse der zuständigen Stelle: https://www.dortmund.de/themen/soziales/wohngeld/",
        "mit einer Frist von 3 Monaten",
        "# Anlage 1: Vereinbarung zur Auftragsverarbeitung",
        "Technische und organisatorische Maßnahmen",
        "Rheinische Straße 1, 44137 Dortmund",
    ] {
        assert!(body.contains(expected), "missing {expected:?} in\n{body}");
    }
    assert!(body.contains(&format!(
        "auf Grundlage der Rahmenvereinbarung {}",
        ea["links"]["rv"]["reference"].as_str().unwrap()
    )));
    // Art. 28 Abs. 3 DSGVO: subject, duration, nature and purpose, data, subjects, the
    // controller's rights and duties, and points a) to h).
    for point in [
        "Gegenstand und Dauer",
        "Art und Zweck",
        "Art der personenbezogenen Daten",
        "Kategorien betroffener Personen",
        "Rechte und Pflichten des Verantwortlichen",
        "- a) ",
        "- b) ",
        "- c) ",
        "- d) ",
        "- e) ",
        "- f) ",
        "- g) ",
        "- h) ",
    ] {
        assert!(body.contains(point), "AVV lacks {point:?}");
    }
    assert_eq!(t["templates"], json!(["ea@1.0", "avv@1.0"]));
    assert_eq!(t["version_no"], 1);
    assert!(
        !body.contains("{{") && !body.contains("{%"),
        "no template syntax left"
    );
    assert!(!body.contains("\n\n\n"));
    // The hash is the SHA-256 of exactly this text.
    use sha2::Digest;
    assert_eq!(
        t["sha256"].as_str().unwrap(),
        hex::encode(sha2::Sha256::digest(body.as_bytes()))
    );
}

#[test]
fn every_kind_renders_and_the_hash_follows_the_wording() {
    let app = TestApp::with_demo();
    for (kind, title, template) in [
        ("ioev", "# Interöffentliche Vereinbarung", "ioev@1.0"),
        ("ekv", "# Einzelkooperationsvereinbarung", "ekv@1.0"),
        ("rv", "# Rahmenvereinbarung", "rv@1.0"),
    ] {
        for id in ids_of(&app, kind) {
            let t = text(&app, &id);
            assert!(
                t["text"].as_str().unwrap().starts_with(title),
                "{kind}: {}",
                t["text"]
            );
            assert_eq!(t["templates"][0], template);
            assert_eq!(
                t["templates"].as_array().unwrap().len(),
                if kind == "ekv" { 2 } else { 1 }
            );
        }
    }
    // Outbound: Hannover's call names the other Land's intermediary.
    let outbound: Vec<Value> = ids_of(&app, "ea")
        .iter()
        .map(|id| text(&app, id))
        .filter(|t| t["text"].as_str().unwrap().contains("03241001"))
        .collect();
    assert_eq!(outbound.len(), 1);
    assert!(outbound[0]["text"].as_str().unwrap().contains("Landeshauptstadt Hannover, Amtlicher Gemeindeschlüssel 03241001, vertreten durch GovConnect GmbH"));

    // The same data gives the same hash; other data another hash.
    let rv = ids_of(&app, "rv")[0].clone();
    let first = text(&app, &rv);
    assert_eq!(text(&app, &rv)["sha256"], first["sha256"]);
    let essen = app.municipality("05113000");
    let other =
        app.create(json!({ "kind": "rv", "municipality_id": essen, "notice_period_months": 6 }));
    let t = text(&app, other["id"].as_str().unwrap());
    assert_ne!(t["sha256"], first["sha256"]);
    assert!(t["text"]
        .as_str()
        .unwrap()
        .contains("Stadt Essen, Amtlicher Gemeindeschlüssel 05113000"));
    assert!(t["text"]
        .as_str()
        .unwrap()
        .contains("Regierungsbezirk Düsseldorf"));
    assert!(
        t["text"]
            .as_str()
            .unwrap()
            .contains("mit Unterzeichnung durch beide Parteien in Kraft"),
        "a draft has no date yet"
    );
}

#[test]
fn an_ekv_without_avv_has_no_complete_text_yet() {
    let app = TestApp::new();
    let dataport = app.organisation("intermediaries", "Dataport AöR");
    app.in_force(json!({ "kind": "ioev", "counterparty_id": dataport }));
    let wohngeld = app.service("Wohngeld (Online-Dienst");
    let ekv =
        app.create(json!({ "kind": "ekv", "counterparty_id": dataport, "service_id": wohngeld }));
    let (status, v) = app.get(&format!(
        "/api/v1/agreements/{}/text",
        ekv["id"].as_str().unwrap()
    ));
    assert_eq!(status, Status::Conflict, "{v}");
    assert!(v["message"].as_str().unwrap().contains("AVV"));
}
