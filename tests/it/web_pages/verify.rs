//! `/pruefen`: anyone checks a PDF; the address every sealed document's footer names.

use crate::common::*;
use rocket::http::Status;
use serde_json::json;

fn upload(app: &TestApp, file: &str, bytes: &[u8]) -> WebPage {
    app.web_multipart_raw(
        None,
        "/pruefen",
        &[("datei".to_string(), Some(file), bytes.to_vec())],
    )
}

#[test]
fn anyone_checks_a_sealed_document_and_a_changed_or_foreign_file_is_not_confirmed() {
    let app = TestApp::new();
    let dortmund = app.municipality("05913000");
    let rv = app.in_force(json!({ "kind": "rv", "municipality_id": dortmund }));
    let id = rv["id"].as_str().unwrap();
    let reference = rv["reference"].as_str().unwrap();
    let pdf = app.pdf(&format!("/api/v1/agreements/{id}/document.pdf"));

    // The footer of the document names the page; the page is public.
    let (_, text) = tool("pdftotext", &[], &pdf);
    assert!(text.contains("/pruefen"), "{text}");
    let form = app.web_get(None, "/pruefen");
    assert_eq!(form.status, Status::Ok);
    assert!(form.text().contains("Dokument prüfen"), "{}", form.text());

    let draft =
        app.create(json!({ "kind": "rv", "municipality_id": app.municipality("05315000") }));
    let unsealed = app.pdf(&format!(
        "/api/v1/agreements/{}/preview.pdf",
        draft["id"].as_str().unwrap()
    ));
    let audit = app.get("/api/v1/audit?per_page=500").1["total"].clone();
    let ok = upload(&app, "rv.pdf", &pdf);
    assert_eq!(ok.status, Status::Ok, "{}", ok.text());
    let page = ok.text();
    for expected in [
        "Das Dokument ist echt und unverändert",
        &format!("Rahmenvereinbarung (RV) {reference}, Fassung 1"),
        "Vom Register ausgestellt ja",
        "Uhr (ME",
    ] {
        assert!(page.contains(expected), "{expected:?} missing in {page}");
    }
    assert!(!page.contains(id), "no internal id on the page: {page}");

    // One byte changed inside the signed range: the seal breaks.
    let mut changed = pdf.clone();
    let at = changed.len() / 3;
    changed[at] ^= 0x01;
    let broken = upload(&app, "rv.pdf", &changed);
    assert_eq!(broken.status, Status::Ok);
    assert!(
        broken.text().contains("Das Dokument ist nicht bestätigt")
            && broken.text().contains("Vom Register ausgestellt nein"),
        "{}",
        broken.text()
    );

    // The registry's own draft carries no seal, and the page says what that means; the
    // TEST seal of this installation is named as such.
    assert!(page.contains("Testzertifikat"), "{page}");
    let answer = upload(&app, "entwurf.pdf", &unsealed).text();
    assert!(
        answer.contains("Dieses PDF trägt kein Siegel") && answer.contains("etwa ein Entwurf"),
        "{answer}"
    );

    // No file, or not a PDF: a message at the field, nothing checked.
    for (file, bytes, message) in [
        ("leer.pdf", &b""[..], "Bitte wählen Sie eine PDF-Datei aus."),
        (
            "brief.txt",
            &b"Sehr geehrte Damen und Herren"[..],
            "Die Datei ist kein PDF",
        ),
    ] {
        let refused = upload(&app, file, bytes);
        assert_eq!(refused.status, Status::UnprocessableEntity, "{file}");
        assert!(
            refused.body.contains("href=\"#datei\"") && refused.text().contains(message),
            "{}",
            refused.text()
        );
    }
    assert_eq!(
        app.get("/api/v1/audit?per_page=500").1["total"],
        audit,
        "checking changes nothing"
    );
}
