//! The written-form path: a party signs the issued PDF with its own qualified electronic
//! signature (pyHanko and a test signature card here) and uploads it; the registry checks
//! it against the document it issued before recording the signature and its certificate.

use crate::common::*;
use rocket::http::{ContentType, Header, Status};
use serde_json::{json, Value};

/// Dortmund's RV in force: the agreement and its sealed document's bytes.
fn issued_rv(app: &TestApp, ags: &str) -> (Value, Vec<u8>) {
    let m = app.municipality(ags);
    let rv = app.in_force(json!({ "kind": "rv", "municipality_id": m }));
    let pdf = app.document(rv["id"].as_str().unwrap());
    (rv, pdf)
}

/// `POST /api/v1/agreements/{id}/qes` with `pdf` as the body.
fn upload(app: &TestApp, id: &str, party: Option<&str>, pdf: &[u8]) -> (Status, Value) {
    let path = match party {
        Some(p) => format!("/api/v1/agreements/{id}/qes?party={p}"),
        None => format!("/api/v1/agreements/{id}/qes"),
    };
    let res = app
        .client
        .post(path)
        .header(Header::new("Authorization", format!("Bearer {TOKEN}")))
        .header(ContentType::PDF)
        .body(pdf)
        .dispatch();
    let status = res.status();
    (status, res.into_json().unwrap_or(Value::Null))
}

/// pyHanko's verdict on every signature of `pdf`, trusting the registry's TEST CA and the
/// test card's CA: how many it judges VALID, and its report.
fn pyhanko_valid(card: &TestQes, pdf: &[u8]) -> (usize, String) {
    let seal_ca = TestApp::test_ca();
    let card_ca = card.dir.join("ca.pem");
    let (_, out) = tool(
        "pyhanko",
        &[
            "sign",
            "validate",
            "--pretty-print",
            "--no-revocation-check",
            "--trust-replace",
            "--trust",
            seal_ca.to_str().unwrap(),
            "--trust",
            card_ca.to_str().unwrap(),
        ],
        pdf,
    );
    (out.matches("The signature is judged VALID").count(), out)
}

fn messages(v: &Value) -> String {
    v["fields"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|e| e["message"].as_str().unwrap_or("").to_string())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .unwrap_or_else(|| v.to_string())
}

#[test]
fn a_qes_on_the_issued_document_is_recorded_with_the_signers_certificate() {
    let app = TestApp::new();
    let (rv, pdf) = issued_rv(&app, "05913000");
    let id = rv["id"].as_str().unwrap();
    let card = TestQes::new("Erika Mustermann", true);
    let signed = card.sign(&pdf);

    let (status, q) = upload(&app, id, Some("partner"), &signed);
    assert_eq!(status, Status::Created, "{q}");
    assert_eq!(q["signer_name"], "Erika Mustermann");
    assert_eq!(q["party"], "partner");
    assert_eq!(q["qualified"], true);
    assert_eq!(q["chain"], "not_checked", "no trust anchors configured");
    assert_eq!(q["serial"], "1267", "4711");
    assert!(
        q["issuer"].as_str().unwrap().contains("CN=Test-QES-CA 1"),
        "{q}"
    );
    assert!(
        q["signer_subject"]
            .as_str()
            .unwrap()
            .contains("O=Stadt Köln"),
        "{q}"
    );

    // Listed, downloadable byte for byte, audited; the same signature twice is refused.
    let list = app.ok("GET", &format!("/api/v1/agreements/{id}/qes"), None);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let res = app
        .client
        .get(format!(
            "/api/v1/agreements/{id}/qes/{}/document.pdf",
            q["id"].as_str().unwrap()
        ))
        .header(Header::new("Authorization", format!("Bearer {TOKEN}")))
        .dispatch();
    assert_eq!(res.status(), Status::Ok);
    assert_eq!(res.into_bytes().unwrap(), signed);
    let audit = app.ok("GET", &format!("/api/v1/audit?entity_id={id}"), None);
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "qes"),
        "{audit}"
    );
    let (status, v) = upload(&app, id, Some("partner"), &signed);
    assert_eq!(status, Status::Conflict, "{v}");
    // The card names Köln, the RV is Dortmund's: the page says so.
    let clerk =
        app.signed_in(json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }));
    let page = app
        .web_get(Some(&clerk), &format!("/vereinbarungen/{id}"))
        .text();
    assert!(
        page.contains(
            "Hinweis: Das Zertifikat nennt die Organisation „Stadt Köln“, nicht die Vertragspartei"
        ),
        "{page}"
    );

    // Independent validators see both signatures intact: d-NRW's seal and the QES.
    let (_, sigs) = tool("pdfsig", &[], &signed);
    assert_eq!(
        sigs.matches("Signature Validation: Signature is Valid")
            .count(),
        2,
        "{sigs}"
    );
    assert!(sigs.contains("Erika Mustermann"), "{sigs}");
}

#[test]
fn a_changed_byte_another_document_an_unsigned_file_and_changes_after_signing_are_refused() {
    let app = TestApp::new();
    let (rv, pdf) = issued_rv(&app, "05913000");
    let id = rv["id"].as_str().unwrap();
    let card = TestQes::new("Erika Mustermann", true);

    // One byte of the issued document changed before signing.
    let mut changed = pdf.clone();
    let at = changed.len() / 2;
    changed[at] = changed[at].wrapping_add(1);
    let (status, v) = upload(&app, id, None, &card.sign(&changed));
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert!(messages(&v).contains("sein Inhalt wurde verändert"), "{v}");

    // Another agreement's document, signed properly.
    let (_, other) = issued_rv(&app, "05315000");
    let (status, v) = upload(&app, id, None, &card.sign(&other));
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert!(messages(&v).contains("ein anderes Dokument"), "{v}");

    // The issued document as it is, without a signature; and no PDF at all.
    let (status, v) = upload(&app, id, None, &pdf);
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert!(messages(&v).contains("ohne hinzugefügte Signatur"), "{v}");
    let (status, v) = upload(&app, id, None, b"Hallo");
    assert_eq!(status, Status::UnprocessableEntity, "{v}");

    // A byte of the signed revision changed after signing: the hash no longer matches.
    let signed = card.sign(&pdf);
    let mut tampered = signed.clone();
    // The signature dictionary names the software ("/Name /pyHanko#20CLI"): one letter of
    // it, inside the signed bytes, keeps the file readable.
    let at = tampered
        .windows(7)
        .rposition(|w| w == b"pyHanko")
        .expect("pyHanko names itself in the signature dictionary");
    assert!(at > pdf.len());
    tampered[at + 1] = b'z';
    let (status, v) = upload(&app, id, None, &tampered);
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert!(messages(&v).contains("Hashwert falsch"), "{v}");
    // pyHanko agrees: the seal on the issued revision holds, the QES does not.
    let (valid, report) = pyhanko_valid(&card, &tampered);
    assert_eq!(valid, 1, "{report}");

    // Something appended after the signature.
    let mut appended = signed.clone();
    appended.extend_from_slice(b"\n% angehaengt\n");
    let (status, v) = upload(&app, id, None, &appended);
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert!(messages(&v).contains("Nach der letzten Signatur"), "{v}");

    // A comment added in an update before the signature: more than a signature.
    let dir = std::env::temp_dir().join(format!("qes-annot-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("in.pdf"), &pdf).unwrap();
    let run = std::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/qes/annotate.py"
        ))
        .arg(dir.join("in.pdf"))
        .arg(dir.join("out.pdf"))
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let annotated = std::fs::read(dir.join("out.pdf")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let (status, v) = upload(&app, id, None, &card.sign(&annotated));
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert!(
        messages(&v).contains("etwas anderes als ein Signaturfeld"),
        "{v}"
    );

    // Nothing of it was recorded.
    let list = app.ok("GET", &format!("/api/v1/agreements/{id}/qes"), None);
    assert_eq!(list, json!([]));
    // Before the last signature there is no document to sign.
    let draft =
        app.create(json!({ "kind": "rv", "municipality_id": app.municipality("05111000") }));
    let (status, v) = upload(&app, draft["id"].as_str().unwrap(), None, &signed);
    assert_eq!(status, Status::Conflict, "{v}");
}

#[test]
fn configured_trust_anchors_decide_which_issuers_are_accepted() {
    let card = TestQes::new("Erika Mustermann", true);
    let stranger = TestQes::new("Max Fremd", true);
    let anchors = card.dir.join("anchors.pem");
    std::fs::write(&anchors, &card.ca_pem).unwrap();
    let app = TestApp::with_settings(false, &[("qes_trust_anchors", anchors.to_str().unwrap())]);
    let (rv, pdf) = issued_rv(&app, "05913000");
    let id = rv["id"].as_str().unwrap();
    let (status, v) = upload(&app, id, None, &stranger.sign(&pdf));
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert!(messages(&v).contains("keinem anerkannten Anbieter"), "{v}");
    let (status, q) = upload(&app, id, None, &card.sign(&pdf));
    assert_eq!(status, Status::Created, "{q}");
    assert_eq!(q["chain"], "trusted");
}

#[test]
fn a_municipality_uploads_its_qes_on_the_agreement_page_and_sees_its_certificate() {
    let app = TestApp::new();
    let (rv, pdf) = issued_rv(&app, "05315000");
    let id = rv["id"].as_str().unwrap();
    let koeln = app.municipality("05315000");
    let erika = app.signed_in(
        json!({ "email": "erika@stadt-koeln.de", "name": "Erika Köln", "role": "municipality", "municipality_id": koeln, "may_sign": true }),
    );
    let path = format!("/vereinbarungen/{id}");
    let page = app.web_get(Some(&erika), &path);
    assert!(
        page.text()
            .contains("Schriftform: qualifizierte elektronische Signatur"),
        "{}",
        page.text()
    );
    assert!(
        !page.body.contains("name=\"seite\""),
        "a municipality signs only for itself"
    );

    let upload_path = format!("{path}/schriftform");
    let refused = app.web_multipart(
        &erika,
        &upload_path,
        &[("datei", Part::File("rv.pdf", &pdf))],
    );
    assert_eq!(refused.status, Status::UnprocessableEntity);
    assert!(
        refused.body.contains("href=\"#datei\""),
        "{}",
        refused.text()
    );
    assert!(
        refused.text().contains("ohne hinzugefügte Signatur"),
        "{}",
        refused.text()
    );
    let none = app.web_multipart(&erika, &upload_path, &[]);
    assert!(none
        .text()
        .contains("Bitte wählen Sie die signierte PDF-Datei aus."));
    let not_ours = app.web_multipart(
        &erika,
        &upload_path,
        &[
            ("seite", Part::Text("dnrw")),
            ("datei", Part::File("rv.pdf", &pdf)),
        ],
    );
    assert_eq!(not_ours.status, Status::Forbidden, "{}", not_ours.text());

    let card = TestQes::new("Erika Mustermann", false);
    let signed = card.sign(&pdf);
    let ok = app.web_multipart(
        &erika,
        &upload_path,
        &[("datei", Part::File("rv-qes.pdf", &signed))],
    );
    assert_eq!(ok.status, Status::SeeOther, "{}", ok.text());
    let text = app.web_get(Some(&erika), &path).text();
    for part in [
        "Erika Mustermann (Für die Kommune), Fassung 1: elektronisch signiert mit einem nicht als qualifiziert gekennzeichneten Zertifikat",
        "ausgestellt von C=DE, O=Test-Vertrauensdiensteanbieter, CN=Test-QES-CA 1",
        "Der Aussteller wurde nicht gegen eine Vertrauensliste geprüft",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
    assert!(
        !text.contains("Hinweis: Das Zertifikat nennt"),
        "Köln's own certificate: {text}"
    );
    let q = app.ok("GET", &format!("/api/v1/agreements/{id}/qes"), None)[0].clone();
    let file = app.web_get(
        Some(&erika),
        &format!("{path}/schriftform/{}", q["id"].as_str().unwrap()),
    );
    assert_eq!(file.status, Status::Ok);

    // Another municipality's user does not find it.
    let dortmund = app.municipality("05913000");
    let other = app.signed_in(
        json!({ "email": "d@stadt-dortmund.de", "name": "D", "role": "municipality", "municipality_id": dortmund }),
    );
    let foreign = app.web_multipart(
        &other,
        &upload_path,
        &[("datei", Part::File("rv.pdf", &signed))],
    );
    assert_eq!(foreign.status, Status::NotFound);
}

#[test]
fn checking_a_qes_signed_file_names_the_issued_document_and_the_added_signature() {
    let app = TestApp::new();
    let (rv, pdf) = issued_rv(&app, "05913000");
    let id = rv["id"].as_str().unwrap();
    let reference = rv["reference"].as_str().unwrap();
    let card = TestQes::new("Erika Mustermann", true);
    let signed = card.sign(&pdf);

    // Not yet recorded: the seal is valid, the document is named, the signature found.
    let (status, v) = app.verify(&signed);
    assert_eq!(status, Status::Ok, "{v}");
    assert_eq!(v["seal_valid"], true, "{v}");
    assert_eq!(v["issued_by_registry"], false, "not byte for byte");
    assert_eq!(v["issued_as"]["reference"], reference);
    assert_eq!(v["added_signature"]["intact"], true, "{v}");
    assert_eq!(v["added_signature"]["signer"], "Erika Mustermann");
    assert!(
        v["summary"]
            .as_str()
            .unwrap()
            .contains("im Register nicht erfasst"),
        "{v}"
    );

    // Recorded: the public page says when.
    let (status, _) = upload(&app, id, None, &signed);
    assert_eq!(status, Status::Created);
    let page = app.web_multipart_raw(
        None,
        "/pruefen",
        &[("datei".to_string(), Some("rv-qes.pdf"), signed.clone())],
    );
    let text = page.text();
    assert!(
        text.contains("Das Dokument ist echt und unverändert, mit einer hinzugefügten Signatur"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "Die Datei enthält {reference} Fassung 1 unverändert"
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "und danach die elektronische Signatur von Erika Mustermann, im Register erfasst am"
        ),
        "{text}"
    );

    // Something appended after the QES: the document is named, but not confirmed.
    let mut appended = signed.clone();
    appended.extend_from_slice(b"\n% angehaengt\n");
    let (_, v) = app.verify(&appended);
    assert_eq!(v["added_signature"]["intact"], false, "{v}");
    assert!(
        v["summary"]
            .as_str()
            .unwrap()
            .contains("keine gültige zusätzliche Signatur"),
        "{v}"
    );
}

#[test]
fn a_second_upload_of_the_same_signature_is_refused_with_a_message_at_the_field() {
    let app = TestApp::new();
    let (rv, pdf) = issued_rv(&app, "05315000");
    let id = rv["id"].as_str().unwrap();
    let koeln = app.municipality("05315000");
    let erika = app.signed_in(
        json!({ "email": "erika@stadt-koeln.de", "name": "Erika Köln", "role": "municipality", "municipality_id": koeln }),
    );
    let card = TestQes::new("Erika Mustermann", true);
    let path = format!("/vereinbarungen/{id}/schriftform");
    let first = app.web_multipart(
        &erika,
        &path,
        &[("datei", Part::File("a.pdf", &card.sign(&pdf)))],
    );
    assert_eq!(first.status, Status::SeeOther, "{}", first.text());
    // Another signed copy by the same certificate: told, not silently dropped.
    let second = app.web_multipart(
        &erika,
        &path,
        &[("datei", Part::File("b.pdf", &card.sign(&pdf)))],
    );
    assert_eq!(second.status, Status::UnprocessableEntity);
    assert!(
        second
            .text()
            .contains("Die Signatur von Erika Mustermann auf diesem Dokument ist bereits erfasst."),
        "{}",
        second.text()
    );
    assert!(second.body.contains("href=\"#datei\""));
}

#[test]
fn the_form_clause_names_both_parties_qes_and_paper_contracts_say_they_were_signed_on_paper() {
    let app = TestApp::with_demo();
    let (rv, _) = issued_rv(&app, "05315000");
    let text = app.ok(
        "GET",
        &format!("/api/v1/agreements/{}/text", rv["id"].as_str().unwrap()),
        None,
    )["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.contains("wird sie gewahrt, indem jede Partei das ausgestellte Dokument zusätzlich mit ihrer qualifizierten elektronischen Signatur versieht (§ 3a Abs. 2 VwVfG NRW, § 126a BGB)."),
        "{text}"
    );
    // Dortmund's historic RV was signed on paper: its text and page say so, and it is not
    // offered for a QES.
    let list = app.ok("GET", "/api/v1/agreements?kind=rv", None);
    let dortmund = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["municipality"]["ags"] == "05913000")
        .unwrap()
        .clone();
    let id = dortmund["id"].as_str().unwrap();
    let text = app.ok("GET", &format!("/api/v1/agreements/{id}/text"), None)["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.contains("wurde außerhalb des Nachnutzungsregisters schriftlich geschlossen"),
        "{text}"
    );
    assert!(!text.contains("wird elektronisch geschlossen"), "{text}");
    let clerk =
        app.signed_in(json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }));
    let page = app
        .web_get(Some(&clerk), &format!("/vereinbarungen/{id}"))
        .text();
    assert!(
        page.contains("Außerhalb des Registers unterzeichnet"),
        "{page}"
    );
    assert!(
        !page.contains("Schriftform: qualifizierte elektronische Signatur"),
        "{page}"
    );
}

#[test]
fn a_crafted_file_with_many_ends_and_signature_keys_is_answered_quickly() {
    let app = TestApp::new();
    let (_, pdf) = issued_rv(&app, "05913000");
    let mut crafted = pdf.clone();
    for _ in 0..2000 {
        crafted.extend_from_slice(b"\n%%EOF\n/ByteRange [0 10 20 10]\n");
    }
    let started = std::time::Instant::now();
    let (status, v) = app.verify(&crafted);
    assert_eq!(status, Status::Ok, "{v}");
    assert_eq!(v["seal_valid"], false, "{v}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
