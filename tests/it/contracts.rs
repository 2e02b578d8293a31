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
        "Verantwortlicher im Sinne des Art. 4 Nr. 7 DSGVO ist Stadt Dortmund",
        "Auftragsverarbeiter im Sinne des Art. 4 Nr. 8 DSGVO ist Dataport AöR",
        "durch die Einzelkooperationsvereinbarung EKV-",
        "Technische und organisatorische Maßnahmen",
        "Rheinische Straße 1, 44137 Dortmund",
    ] {
        assert!(body.contains(expected), "missing {expected:?} in\n{body}");
    }
    assert!(body.contains(&format!(
        "beruht auf der Rahmenvereinbarung {}",
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
    assert_eq!(t["templates"], json!(["ea@2.3", "avv@2.0"]));
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
        ("ioev", "\n# Interöffentliche Vereinbarung\n", "ioev@2.1"),
        ("ekv", "\n# Einzelkooperationsvereinbarung\n", "ekv@2.2"),
        ("rv", "\n# Rahmenvereinbarung\n", "rv@2.2"),
    ] {
        for id in ids_of(&app, kind) {
            let t = text(&app, &id);
            assert!(
                t["text"].as_str().unwrap().starts_with("> d-NRW AöR")
                    && t["text"].as_str().unwrap().contains(title),
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

/// Words that must never stand in a contract or its documents: a gap filled with a
/// placeholder, a programming value, an internal id or word, a time not in Berlin's zone.
const FORBIDDEN: [&str; 7] = [
    "nicht angegeben",
    "None",
    "null",
    "user:",
    "(seed)",
    "UTC",
    "unbekannt",
];

fn assert_clean(what: &str, text: &str) {
    for phrase in FORBIDDEN {
        assert!(
            !text.contains(phrase),
            "{what} contains {phrase:?}:\n{text}"
        );
    }
}

/// Every kind, in both directions, with what the registry may not know: a partner known
/// only by name, services without operator, data standard or DVDV category, a
/// municipality without address, an Einzelabruf without parameters. The texts rephrase
/// instead of leaking a gap, and the sealed documents' signature and evidence pages too.
#[test]
fn every_kind_in_both_directions_reads_without_gaps_or_internal_words() {
    let app = TestApp::new();
    let provider = app.ok(
        "POST",
        "/api/v1/providers",
        Some(json!({ "name": "Musterbetrieb" })),
    )["id"]
        .clone();
    let intermediary = app.ok(
        "POST",
        "/api/v1/intermediaries",
        Some(json!({ "name": "Kommunalvertreter Musterland", "states": [{ "land_key": "03", "state": "Niedersachsen" }] })),
    )["id"]
        .clone();
    let service = |name: &str, land: &str| {
        app.ok(
            "POST",
            "/api/v1/services",
            Some(json!({ "name": name, "availability": "available",
                "leika_keys": ["99107023000000"], "providing_land_key": land })),
        )["id"]
            .clone()
    };
    let inbound_service = service("Musterdienst von außen", "01");
    let outbound_service = service("Musterdienst aus NRW", "05");
    let gemeinde = app.municipality("05154004");

    let mut ids = Vec::new();
    for body in [
        json!({ "kind": "ioev", "counterparty_id": provider }),
        json!({ "kind": "ekv", "counterparty_id": provider, "service_id": inbound_service, "avv": avv() }),
        json!({ "kind": "rv", "municipality_id": gemeinde }),
        json!({ "kind": "ea", "municipality_id": gemeinde, "service_id": inbound_service, "avv": avv() }),
        json!({ "kind": "ioev", "counterparty_id": intermediary }),
        json!({ "kind": "ekv", "counterparty_id": intermediary, "service_id": outbound_service, "avv": avv() }),
        json!({ "kind": "ea", "counterparty_id": intermediary, "service_id": outbound_service,
            "external_party_name": "Gemeinde Musterdorf", "external_party_ags": "03241002", "avv": avv() }),
    ] {
        let kind = body["kind"].as_str().unwrap().to_string();
        let draft = app.create(body);
        let id = draft["id"].as_str().unwrap().to_string();
        // The draft: its text and its PDF say ENTWURF and nothing of a seal.
        let t = text(&app, &id);
        assert_clean(&format!("{kind} text"), t["text"].as_str().unwrap());
        let (_, preview) = tool(
            "pdftotext",
            &[],
            &app.pdf(&format!("/api/v1/agreements/{id}/preview.pdf")),
        );
        assert_clean(&format!("{kind} draft PDF"), &preview);
        assert!(preview.contains("ENTWURF"), "{kind}: {preview}");
        assert!(
            !preview.contains("gesiegelt") && !preview.contains("Siegel der d-NRW AöR versehen"),
            "{kind}: a draft claims a seal:\n{preview}"
        );
        app.bring_into_force(&id);
        ids.push((kind, id));
    }
    let year = time::OffsetDateTime::now_utc().year().to_string();
    for (kind, id) in ids {
        let pdf = app.pdf(&format!("/api/v1/agreements/{id}/document.pdf"));
        let (_, sealed) = tool("pdftotext", &[], &pdf);
        assert_clean(&format!("sealed {kind}"), &sealed);
        assert!(
            sealed.contains("MEZ") || sealed.contains("MESZ"),
            "{sealed}"
        );
        // A letterhead, the seal box and on every page how to check the document.
        let pages = sealed.matches("Seite ").count();
        assert!(pages >= 3, "{sealed}");
        assert_eq!(
            sealed.matches("prüfbar unter http://").count(),
            pages,
            "every page says where to check it:\n{sealed}"
        );
        for expected in [
            "Rheinische Straße 1, 44137 Dortmund\nVereinbarungsnummer ",
            "Elektronisches Siegel",
            "Gesiegelt von d-NRW AöR",
            "/pruefen hochladen",
        ] {
            assert!(
                sealed.contains(expected),
                "{kind}: {expected:?} missing in\n{sealed}"
            );
        }
        // Real metadata: title, author, subject and the sealing date.
        let (_, info) = tool("pdfinfo", &[], &pdf);
        let field = |name: &str| {
            info.lines()
                .find(|l| l.starts_with(name))
                .unwrap_or_else(|| panic!("{kind}: no {name} in\n{info}"))
                .to_string()
        };
        assert!(field("Author:").ends_with(" d-NRW AöR"), "{info}");
        assert!(field("Title:").contains(" Fassung 1"), "{info}");
        assert!(field("CreationDate:").contains(&year), "{info}");
        let subject = field("Subject:");
        assert!(
            subject.contains(" zwischen ") && subject.contains("d-NRW AöR"),
            "{subject}"
        );
        // No conformance claimed that nobody checked (printpdf's empty PDF/X key).
        assert!(
            !info.contains("PDF/X") && !info.contains("PDF subtype"),
            "{kind}: {info}"
        );
    }
}

/// The data-protection model is the service's (recorded per service, AVV by default):
/// EKV and EA carry the matching annex, the AVV is required only where the model asks
/// for one, and an agreement keeps its text when the service's model changes later.
#[test]
fn each_data_protection_model_brings_its_annex_and_the_avv_only_where_required() {
    let app = TestApp::new();
    let dataport = app.organisation("intermediaries", "Dataport AöR");
    let wohngeld = app.service("Wohngeld (Online-Dienst");
    app.in_force(json!({ "kind": "ioev", "counterparty_id": dataport }));
    let model_of = |model: &str| {
        let (_, s) = app.get(&format!("/api/v1/services/{wohngeld}"));
        let (status, v) = app.patch(
            &format!("/api/v1/services/{wohngeld}"),
            json!({ "lock_version": s["lock_version"], "data_protection": model }),
        );
        assert_eq!(status, Status::Ok, "{v}");
        assert_eq!(v["data_protection"], model);
    };
    // An unknown model is named at its field.
    let (_, s) = app.get(&format!("/api/v1/services/{wohngeld}"));
    let (status, v) = app.patch(
        &format!("/api/v1/services/{wohngeld}"),
        json!({ "lock_version": s["lock_version"], "data_protection": "egal" }),
    );
    assert_eq!(status, Status::UnprocessableEntity);
    assert_eq!(field_names(&v), ["data_protection"]);

    // § 8a OZG: no AVV, none accepted, and the sheet as annex.
    model_of("ozg8a");
    let (status, v) = app.post(
        "/api/v1/agreements",
        json!({ "kind": "ekv", "counterparty_id": dataport, "service_id": wohngeld, "avv": avv() }),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert!(
        v["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("§ 8a OZG"),
        "{v}"
    );
    let ekv =
        app.create(json!({ "kind": "ekv", "counterparty_id": dataport, "service_id": wohngeld }));
    let id = ekv["id"].as_str().unwrap();
    let t = text(&app, id);
    let body = t["text"].as_str().unwrap();
    assert_eq!(t["templates"], json!(["ekv@2.2", "ozg8a@1.0"]), "{t}");
    assert!(
        body.contains("# Anlage 1: Hinweise zum Datenschutz nach § 8a OZG")
            && body.contains("nach § 8a OZG die Stelle verantwortlich"),
        "{body}"
    );
    assert!(!body.contains("Auftragsverarbeitung in Anlage 1"), "{body}");
    assert_eq!(
        app.step(id, "submit").0,
        Status::Ok,
        "no AVV needed to go to signature"
    );

    // Joint control: the Art. 26 agreement. The EKV made under § 8a keeps its text
    // although the service's model changed.
    model_of("joint_control");
    assert_eq!(text(&app, id)["sha256"], t["sha256"]);
    assert_eq!(app.step(id, "cancel").0, Status::Ok);
    let joint =
        app.create(json!({ "kind": "ekv", "counterparty_id": dataport, "service_id": wohngeld }));
    let joint = joint["id"].as_str().unwrap().to_string();
    let t = text(&app, &joint);
    let body = t["text"].as_str().unwrap();
    assert_eq!(t["templates"], json!(["ekv@2.2", "joint@1.0"]), "{t}");
    assert!(
        body.contains("# Anlage 1: Vereinbarung über die gemeinsame Verantwortlichkeit")
            && body.contains("Art. 26 Abs. 3 DSGVO"),
        "{body}"
    );
    assert_eq!(app.step(&joint, "cancel").0, Status::Ok);

    // Back to the AVV: the default, and required for signature.
    model_of("avv");
    let avv_ekv =
        app.create(json!({ "kind": "ekv", "counterparty_id": dataport, "service_id": wohngeld }));
    let avv_ekv = avv_ekv["id"].as_str().unwrap().to_string();
    let (status, v) = app.step(&avv_ekv, "submit");
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert!(v.to_string().contains("Die AVV fehlt"), "{v}");
    let (_, ekv_state) = app.get(&format!("/api/v1/agreements/{id}"));
    assert_eq!(ekv_state["terms"]["data_protection"], "ozg8a");
}
