//! The PDF preview, checked with independent tools: poppler's pdftotext and pdffonts and
//! qpdf. These tests fail (they do not skip) where the tools are missing: `.ci/run`
//! installs them.

use crate::common::*;
use rocket::http::{ContentType, Header, Status};

fn tool(name: &str, args: &[&str], pdf: &[u8]) -> String {
    let (ok, out) = crate::common::tool(name, args, pdf);
    assert!(ok, "{name} failed: {out}");
    out
}

fn preview(app: &TestApp, id: &str) -> Vec<u8> {
    let res = app
        .client
        .get(format!("/api/v1/agreements/{id}/preview.pdf"))
        .header(Header::new("Authorization", format!("Bearer {TOKEN}")))
        .dispatch();
    assert_eq!(res.status(), Status::Ok);
    assert_eq!(res.content_type(), Some(ContentType::PDF));
    res.into_bytes().unwrap()
}

#[test]
fn preview_pdf_keeps_german_text_embeds_its_font_and_is_well_formed() {
    let app = TestApp::new();
    let (_, _, wohngeld) = wohngeld_supply(&app);
    let duesseldorf = app.municipality("05111000");
    let rv = app.in_force(serde_json::json!({ "kind": "rv", "municipality_id": duesseldorf, "notice_period_months": 6 }));
    let ea = app.create(serde_json::json!({
        "kind": "ea", "municipality_id": duesseldorf, "service_id": wohngeld,
        "avv": avv(), "parameters": { "zustaendige_stelle_url": "https://www.duesseldorf.de/wohngeld", "kontakt_email": "wohngeld@duesseldorf.de" }
    }));

    let pdf = preview(&app, rv["id"].as_str().unwrap());
    assert!(pdf.starts_with(b"%PDF-"));
    let text = tool("pdftotext", &["-layout"], &pdf);
    for expected in [
        "Rahmenvereinbarung",
        "Düsseldorf",
        "Amtlicher Gemeindeschlüssel 05111000",
        "ENTWURF",
        "Nachweisblatt",
    ] {
        assert!(text.contains(expected), "{expected:?} missing in\n{text}");
    }
    let pages = text.matches("Seite ").count();
    assert!(
        text.contains(&format!("Seite {pages} von {pages}")),
        "footer counts the pages:\n{text}"
    );

    let pdf = preview(&app, ea["id"].as_str().unwrap());
    let text = tool("pdftotext", &[], &pdf);
    for expected in [
        "Einzelabruf",
        "Düsseldorf",
        "Maßnahmen",
        "Vereinbarung zur Auftragsverarbeitung",
        "99107023000000",
    ] {
        assert!(text.contains(expected), "{expected:?} missing in\n{text}");
    }
    let sha = app.ok(
        "GET",
        &format!("/api/v1/agreements/{}/text", ea["id"].as_str().unwrap()),
        None,
    )["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.replace(['\n', ' '], "").contains(&sha),
        "the evidence page carries the text's SHA-256"
    );

    let fonts = tool("pdffonts", &[], &pdf);
    let rows: Vec<&str> = fonts.lines().skip(2).collect();
    assert_eq!(rows.len(), 2, "regular and bold: {fonts}");
    for row in rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        // name, type (2 words), encoding, emb, sub, uni, object, ID
        assert_eq!(cols[1..3], ["CID", "TrueType"], "{fonts}");
        assert_eq!(cols[4], "yes", "embedded: {fonts}");
        assert_eq!(cols[6], "yes", "with a Unicode map: {fonts}");
    }
    // printpdf subsets fonts only with its heavy `text_layout` feature; until then both
    // faces are embedded whole but compressed (1.46 MB uncompressed).
    assert!(
        pdf.len() < 1_000_000,
        "font streams are compressed: {} bytes",
        pdf.len()
    );
    let check = tool("qpdf", &["--check"], &pdf);
    assert!(
        check.contains("No syntax or stream encoding errors found"),
        "{check}"
    );
}

#[test]
fn the_signature_block_names_d_nrw_once() {
    let app = TestApp::new();
    let rv = app.create(
        serde_json::json!({ "kind": "rv", "municipality_id": app.municipality("05111000") }),
    );
    let pdf = preview(&app, rv["id"].as_str().unwrap());
    let text = tool("pdftotext", &["-layout"], &pdf);
    let block = &text[text.find("Unterschriften").expect("a signature page")..];
    assert_eq!(
        block.matches("d-NRW AöR (Kommunalvertreter.NRW)").count(),
        1,
        "{block}"
    );
    assert!(
        block.contains("Für die Kommune\nStadt Düsseldorf"),
        "{block}"
    );
}
