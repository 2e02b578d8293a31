//! Sealed documents, checked by independent validators (poppler's pdfsig, pyHanko, qpdf,
//! pdffonts, pdftotext) and by our own verification; the signing workflow that leads to
//! them. The tools are required: these tests fail, not skip, where one is missing.

use crate::common::*;
use rocket::http::{Header, Status};
use serde_json::{json, Value};

/// IÖV, EKV (Wohngeld, Dataport), RV and EA (Düsseldorf), each signed and in force.
fn one_of_each_kind(app: &TestApp) -> Vec<(&'static str, Value)> {
    let (ioev, ekv, wohngeld) = wohngeld_supply(app);
    let duesseldorf = app.municipality("05111000");
    let rv = app.in_force(json!({ "kind": "rv", "municipality_id": duesseldorf }));
    let ea = app.in_force(json!({
        "kind": "ea", "municipality_id": duesseldorf, "service_id": wohngeld, "avv": avv(),
        "parameters": { "zustaendige_stelle_url": "https://www.duesseldorf.de/wohngeld", "kontakt_email": "wohngeld@duesseldorf.de" }
    }));
    vec![("ioev", ioev), ("ekv", ekv), ("rv", rv), ("ea", ea)]
}

fn pyhanko(pdf: &[u8]) -> (bool, String) {
    let ca = TestApp::test_ca();
    tool(
        "pyhanko",
        &[
            "sign",
            "validate",
            "--trust",
            ca.to_str().unwrap(),
            "--no-revocation-check",
        ],
        pdf,
    )
}

#[test]
fn sealed_documents_of_every_kind_satisfy_pdfsig_pyhanko_qpdf_and_keep_german_text() {
    let app = TestApp::new();
    for (kind, agreement) in one_of_each_kind(&app) {
        let id = agreement["id"].as_str().unwrap();
        let reference = agreement["reference"].as_str().unwrap();
        let pdf = app.document(id);

        let (_, sig) = tool("pdfsig", &[], &pdf);
        assert!(sig.contains("Signature is Valid"), "{kind}: {sig}");
        assert!(sig.contains("Total document signed"), "{kind}: {sig}");
        assert!(sig.contains("ETSI.CAdES.detached"), "{kind}: {sig}");
        assert!(sig.contains("SHA-256"), "{kind}: {sig}");

        let (ok, out) = pyhanko(&pdf);
        assert!(ok, "{kind}: {out}");
        assert!(out.contains(":INTACT:TRUSTED,UNTOUCHED"), "{kind}: {out}");

        let (ok, out) = tool("qpdf", &["--check"], &pdf);
        assert!(
            ok && out.contains("No syntax or stream encoding errors"),
            "{kind}: {out}"
        );

        let (_, fonts) = tool("pdffonts", &[], &pdf);
        let embedded: Vec<&str> = fonts.lines().skip(2).collect();
        assert_eq!(embedded.len(), 2, "{kind}: {fonts}");
        for line in embedded {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // name, type (2 words), encoding, emb, sub, uni, …
            assert_eq!(cols[4], "yes", "{kind}: font not embedded: {line}");
            assert_eq!(cols[6], "yes", "{kind}: no Unicode map: {line}");
        }
        assert!(
            pdf.len() < 250_000,
            "{kind}: {} bytes, fonts not subset?",
            pdf.len()
        );

        let (_, text) = tool("pdftotext", &[], &pdf);
        let title = match kind {
            "ioev" => "Interöffentliche Vereinbarung",
            "ekv" => "Einzelkooperationsvereinbarung",
            "rv" => "Rahmenvereinbarung",
            _ => "Einzelabruf",
        };
        // Title, the signature page and the evidence page with the audit trail.
        for expected in [
            title,
            reference,
            "Unterschriften",
            "Paula Partner",
            "Dora d-NRW",
            "Elektronisch unterzeichnet am",
            "Nachweisblatt",
            "zur Unterschrift vorgelegt",
        ] {
            assert!(text.contains(expected), "{kind}: {expected} missing");
        }
        if kind == "rv" || kind == "ea" {
            assert!(text.contains("Düsseldorf"), "{kind}");
        }
        if kind == "ekv" || kind == "ea" {
            assert!(text.contains("Maßnahmen"), "{kind}: AVV annex missing");
        }
        assert!(
            !text.contains("ENTWURF"),
            "{kind}: the final document is no draft"
        );

        let (status, v) = app.verify(&pdf);
        assert_eq!(status, Status::Ok, "{v}");
        assert_eq!(v["seal_valid"], true, "{kind}: {v}");
        assert_eq!(v["issued_by_registry"], true, "{kind}: {v}");
        assert_eq!(v["issued_as"]["reference"], reference);
        assert_eq!(v["issued_as"]["version_no"], 1);
        assert_eq!(v["issued_as"]["kind"], kind);
        assert!(v["summary"]
            .as_str()
            .unwrap()
            .starts_with("Das Siegel ist gültig."));
    }
}

#[test]
fn one_flipped_byte_in_the_signed_range_invalidates_the_seal_for_every_validator() {
    let app = TestApp::new();
    let (dortmund, wohngeld) = dortmund_ready_for_wohngeld(&app);
    let ea = wohngeld_ea(&app, &dortmund, &wohngeld);
    let mut pdf = app.document(ea["id"].as_str().unwrap());
    // Byte 12 is in the binary comment of the header: the file stays readable, but it is
    // inside the first signed range.
    assert_eq!(&pdf[..9], b"%PDF-1.3\n");
    pdf[12] ^= 0x01;

    let (_, sig) = tool("pdfsig", &[], &pdf);
    assert!(!sig.contains("Signature is Valid"), "{sig}");
    assert!(
        sig.contains("Digest Mismatch") || sig.contains("Invalid"),
        "{sig}"
    );
    let (ok, out) = pyhanko(&pdf);
    assert!(!ok, "pyHanko accepted a changed document: {out}");
    assert!(out.contains("INVALID"), "{out}");
    let (status, v) = app.verify(&pdf);
    assert_eq!(status, Status::Ok);
    assert_eq!(v["seal_valid"], false, "{v}");
    assert_eq!(v["seal"]["intact"], false, "{v}");
    assert_eq!(v["issued_by_registry"], false, "{v}");
    assert!(v["summary"].as_str().unwrap().contains("verändert"), "{v}");

    // Something appended after sealing is no longer covered by the seal.
    let mut appended = app.document(ea["id"].as_str().unwrap());
    appended.extend_from_slice(b"\n% appended after sealing\n");
    let (_, v) = app.verify(&appended);
    assert_eq!(v["seal"]["intact"], true, "{v}");
    assert_eq!(v["seal"]["covers_whole_document"], false, "{v}");
    assert_eq!(v["seal_valid"], false);

    // A PDF without a seal, and something that is not a PDF.
    let res = app
        .client
        .get(format!(
            "/api/v1/agreements/{}/preview.pdf",
            ea["id"].as_str().unwrap()
        ))
        .header(Header::new("Authorization", format!("Bearer {TOKEN}")))
        .dispatch();
    let preview = res.into_bytes().unwrap();
    let (_, v) = app.verify(&preview);
    assert_eq!(v["seal"]["signature_found"], false, "{v}");
    assert_eq!(v["seal_valid"], false);
    let (status, v) = app.verify(b"GIF89a not a pdf");
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
}

#[test]
fn signatures_follow_the_order_come_from_authorised_signatories_and_seal_once() {
    let app = TestApp::new();
    let (dortmund, wohngeld) = dortmund_ready_for_wohngeld(&app);
    let ea = app.create(json!({ "kind": "ea", "municipality_id": dortmund, "service_id": wohngeld, "avv": avv(), "parameters": wohngeld_parameters() }));
    let id = ea["id"].as_str().unwrap();
    let for_dortmund = app.signatory(&format!("municipalities/{dortmund}"), "Ulla Unterschrift");
    let for_dnrw = app.signatory(&format!("organisations/{}", app.dnrw()), "Carl Countersign");

    // A draft waits for no signature.
    let (status, v) = app.sign_as(id, &for_dortmund);
    assert_eq!(status, Status::Conflict, "{v}");
    app.step(id, "submit");

    // d-NRW countersigns; it does not sign first.
    let (status, v) = app.sign_as(id, &for_dnrw);
    assert_eq!(status, Status::Conflict, "{v}");
    assert_eq!(
        v["message"],
        "Zuerst unterschreibt die Kommune, dann d-NRW."
    );
    // Someone of another municipality may not sign for Dortmund.
    let essen = app.municipality("05113000");
    let for_essen = app.signatory(&format!("municipalities/{essen}"), "Egon Essen");
    let (status, v) = app.sign_as(id, &for_essen);
    assert_eq!(status, Status::Forbidden, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("gehört weder zu Stadt Dortmund"),
        "{v}"
    );
    // A Dortmund contact without signing authority may not either.
    let clerk = app.ok(
        "POST",
        &format!("/api/v1/municipalities/{dortmund}/contacts"),
        Some(json!({ "name": "Sachbearbeiter Sven", "function": "Sachbearbeitung" })),
    );
    let (status, v) = app.sign_as(id, clerk["id"].as_str().unwrap());
    assert_eq!(status, Status::Forbidden, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("nicht als zeichnungsberechtigt"),
        "{v}"
    );
    let (status, v) = app.sign_as(id, "00000000-0000-0000-0000-000000000000");
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert_eq!(v["fields"][0]["field"], "contact_id");

    // Dortmund signs; what the signature records.
    let res = app
        .client
        .post(format!("/api/v1/agreements/{id}/signatures"))
        .header(Header::new("Authorization", format!("Bearer {TOKEN}")))
        .header(Header::new("X-Actor", "Ulla Unterschrift"))
        .header(Header::new("X-Real-IP", "203.0.113.7"))
        .header(Header::new("User-Agent", "Testbrowser/1.0"))
        .header(rocket::http::ContentType::JSON)
        .body(json!({ "contact_id": for_dortmund }).to_string())
        .dispatch();
    assert_eq!(res.status(), Status::Created);
    let state: Value = res.into_json().unwrap();
    let first = &state["required"][0]["signature"];
    assert_eq!(first["signer_name"], "Ulla Unterschrift");
    assert_eq!(first["signer_function"], "Zeichnungsberechtigt");
    assert_eq!(first["organisation_name"], "Stadt Dortmund");
    assert_eq!(first["actor"], "staff:Ulla Unterschrift");
    assert_eq!(first["ip"], "203.0.113.7");
    assert_eq!(first["user_agent"], "Testbrowser/1.0");
    assert!(first["auth_method"].as_str().unwrap().contains("Token"));
    assert!(first["signed_at"].is_string());
    assert!(
        state["document"].is_null(),
        "nothing sealed before the last signature"
    );
    assert_eq!(
        app.ok("GET", &format!("/api/v1/agreements/{id}"), None)["status"],
        "awaiting_signatures"
    );
    // Nobody signs twice.
    let (status, _) = app.sign_as(id, &for_dortmund);
    assert_eq!(status, Status::Conflict);

    // d-NRW's signature completes it: signed and sealed, exactly once.
    let (status, state) = app.sign_as(id, &for_dnrw);
    assert_eq!(status, Status::Created, "{state}");
    let sha = state["document"]["sha256"].as_str().unwrap().to_string();
    let agreement = app.ok("GET", &format!("/api/v1/agreements/{id}"), None);
    // "tritt mit Unterzeichnung in Kraft": in force from today.
    assert_eq!(agreement["status"], "in_force");
    assert!(agreement["effective_from"].is_string(), "{agreement}");
    assert!(agreement["signed_by"]
        .as_str()
        .unwrap()
        .contains("Ulla Unterschrift (Stadt Dortmund)"));
    let (status, _) = app.sign_as(id, &for_dnrw);
    assert_eq!(status, Status::Conflict, "no signature after the last");
    let docs = app.ok("GET", &format!("/api/v1/agreements/{id}/documents"), None);
    assert_eq!(docs.as_array().unwrap().len(), 1, "{docs}");
    let first_download = app.document(id);
    assert_eq!(
        first_download,
        app.document(id),
        "the stored bytes, not a new rendering"
    );
    use sha2::Digest;
    assert_eq!(hex::encode(sha2::Sha256::digest(&first_download)), sha);
    let audit = app.ok("GET", &format!("/api/v1/audit?entity_id={id}"), None);
    let seals = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "seal")
        .count();
    assert_eq!(seals, 1);

    // A signed agreement is not edited, nor put into force twice; the document stays.
    let (status, v) = app.patch(
        &format!("/api/v1/agreements/{id}"),
        json!({ "lock_version": agreement["lock_version"], "costs": "anders" }),
    );
    assert_eq!(status, Status::Conflict, "{v}");
    let (status, _) = app.step(id, "activate");
    assert_eq!(status, Status::Conflict);
    assert_eq!(app.document(id), first_download);

    // The database itself refuses to change or remove a sealed document or a signature.
    use diesel::connection::SimpleConnection;
    let url = nachnutzung::db::DbUrl::parse(&app.database_url).unwrap();
    let db = nachnutzung::db::Db::open(&url, 1).unwrap();
    let mut conn = db.conn().unwrap();
    assert!(conn
        .batch_execute("UPDATE documents SET sha256 = 'x'")
        .is_err());
    assert!(conn.batch_execute("DELETE FROM documents").is_err());
    assert!(conn
        .batch_execute("UPDATE signatures SET signer_name = 'x'")
        .is_err());
    assert!(conn.batch_execute("DELETE FROM signatures").is_err());
}

#[test]
fn amendments_are_signed_and_sealed_as_their_own_version() {
    let app = TestApp::new();
    let (_, ekv, _) = wohngeld_supply(&app);
    let id = ekv["id"].as_str().unwrap();
    let v1 = app.document(id);
    app.ok(
        "POST",
        &format!("/api/v1/agreements/{id}/amendments"),
        Some(json!({ "lock_version": ekv["lock_version"], "change_note": "Kosten ab 2027", "costs": "Ab 2027 nach Kostenschlüssel" })),
    );
    let signing = app.ok("GET", &format!("/api/v1/agreements/{id}/signatures"), None);
    assert_eq!(signing["version_no"], 2);
    assert_eq!(signing["open"], true);
    let state = app.sign_all(id);
    assert_eq!(state["document"]["version_no"], 2);
    let version = |no: i32| {
        app.client
            .get(format!("/api/v1/agreements/{id}/document.pdf?version={no}"))
            .header(Header::new("Authorization", format!("Bearer {TOKEN}")))
            .dispatch()
            .into_bytes()
            .unwrap()
    };
    let (_, text) = tool("pdftotext", &[], &version(2));
    assert!(text.contains("Fassung 2"), "{text}");
    assert!(text.contains("Ab 2027 nach Kostenschlüssel"));
    // Until the amendment applies, the document of the version in force is served.
    assert_eq!(app.document(id), v1);
    app.ok(
        "POST",
        &format!("/api/v1/agreements/{id}/amendments/2/transitions"),
        Some(json!({ "action": "activate" })),
    );
    assert_eq!(app.document(id), version(2));
    // Version 1's document stays as it was.
    assert_eq!(version(1), v1);
    assert_eq!(
        app.ok("GET", &format!("/api/v1/agreements/{id}/documents"), None)
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn the_signing_order_is_configurable() {
    let app = TestApp::with_settings(false, &[("signing_order", "dnrw_first")]);
    let dortmund = app.municipality("05913000");
    let rv = app.create(json!({ "kind": "rv", "municipality_id": dortmund }));
    let id = rv["id"].as_str().unwrap();
    app.step(id, "submit");
    let signing = app.ok("GET", &format!("/api/v1/agreements/{id}/signatures"), None);
    assert_eq!(signing["required"][0]["party"], "dnrw");
    let partner = app.signatory(&format!("municipalities/{dortmund}"), "Paula Partner");
    let (status, v) = app.sign_as(id, &partner);
    assert_eq!(status, Status::Conflict, "{v}");
    assert_eq!(
        v["message"],
        "Zuerst unterschreibt d-NRW, dann die Kommune."
    );
    let dnrw = app.signatory(&format!("organisations/{}", app.dnrw()), "Dora d-NRW");
    assert_eq!(app.sign_as(id, &dnrw).0, Status::Created);
    let (status, state) = app.sign_as(id, &partner);
    assert_eq!(status, Status::Created, "{state}");
    assert!(state["document"]["sha256"].is_string());
}

#[test]
fn document_pdf_before_sealing_is_a_clear_404() {
    let app = TestApp::new();
    let rv = app.create(json!({ "kind": "rv", "municipality_id": app.municipality("05913000") }));
    let (status, v) = app.get(&format!(
        "/api/v1/agreements/{}/document.pdf",
        rv["id"].as_str().unwrap()
    ));
    assert_eq!(status, Status::NotFound);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("noch kein gesiegeltes Dokument"),
        "{v}"
    );
    let (status, _) = app.get_anon(&format!(
        "/api/v1/agreements/{}/document.pdf",
        rv["id"].as_str().unwrap()
    ));
    assert_eq!(status, Status::Unauthorized);
}

#[test]
fn bulk_sealing_of_a_service_covers_every_signed_ea_once_and_is_idempotent() {
    use nachnutzung::seed::national::{generate, Scale};
    let scale = Scale {
        municipalities: 12,
        services: 2,
        providers: 1,
        eas: 24,
    };
    let app = TestApp::empty_then(|conn| {
        generate(conn, scale, &mut |_| {}).expect("generate");
    });
    let url = nachnutzung::db::DbUrl::parse(&app.database_url).unwrap();
    let db = nachnutzung::db::Db::open(&url, 4).unwrap();
    let config = nachnutzung::config::Config {
        data_dir: TestApp::data_dir(),
        ..Default::default()
    };
    let sealer = nachnutzung::seal::Sealer::from_config(&config).unwrap();
    let order = Default::default();
    let services = app.ok("GET", "/api/v1/services", None);
    let mut sealed_total = 0;
    for s in services.as_array().unwrap() {
        let id = s["id"].as_str().unwrap();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let first = nachnutzung::actions::bulk::render_service(
            &db,
            &sealer,
            order,
            id,
            2,
            &|done, total| {
                assert!(done <= total);
                calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            },
        )
        .unwrap();
        assert_eq!(first.sealed, first.eligible, "{first:?}");
        assert_eq!(first.skipped, 0);
        assert_eq!(
            calls.into_inner(),
            first.sealed,
            "progress after each document"
        );
        sealed_total += first.sealed;
        let again =
            nachnutzung::actions::bulk::render_service(&db, &sealer, order, id, 2, &|_, _| {})
                .unwrap();
        assert_eq!(
            (again.sealed, again.skipped),
            (0, first.eligible),
            "idempotent"
        );
    }
    assert!(sealed_total > 0, "the generator signs most EAs");
    // Every signed or in-force EA now has exactly one document, and it verifies.
    let page = app.ok("GET", "/api/v1/agreements?kind=ea&per_page=100", None);
    let mut checked = 0;
    for ea in page["items"].as_array().unwrap() {
        let id = ea["id"].as_str().unwrap();
        let docs = app.ok("GET", &format!("/api/v1/agreements/{id}/documents"), None);
        let expected = usize::from(ea["status"] == "in_force" || ea["status"] == "signed");
        assert_eq!(docs.as_array().unwrap().len(), expected, "{ea}");
        if expected == 1 && checked < 3 {
            let (_, v) = app.verify(&app.document(id));
            assert_eq!(v["seal_valid"], true, "{v}");
            assert_eq!(v["issued_as"]["agreement_id"], id);
            checked += 1;
        }
    }
    assert_eq!(checked, 3);
}

/// A small test PKI: names, a self-signed CA and certificates it issues (30 days, SHA-256).
mod pki {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::pkey::{PKey, Private};
    use openssl::x509::extension::{BasicConstraints, KeyUsage};
    use openssl::x509::{X509Extension, X509Name, X509NameBuilder, X509NameRef, X509};

    pub fn name(cn: &str) -> X509Name {
        let mut b = X509NameBuilder::new().unwrap();
        b.append_entry_by_text("O", "Beispiel-Vertrauensdienst (Test)")
            .unwrap();
        b.append_entry_by_text("CN", cn).unwrap();
        b.build()
    }

    /// A certificate for `key`, issued by `issuer` (self-signed when `None`).
    pub fn certificate(
        subject: &X509NameRef,
        key: &PKey<Private>,
        issuer: Option<(&X509, &PKey<Private>)>,
        serial: u32,
        extensions: Vec<X509Extension>,
    ) -> X509 {
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(&BigNum::from_u32(serial).unwrap().to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(subject).unwrap();
        b.set_issuer_name(issuer.map_or(subject, |(ca, _)| ca.subject_name()))
            .unwrap();
        b.set_pubkey(key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
            .unwrap();
        for e in extensions {
            b.append_extension(e).unwrap();
        }
        b.sign(issuer.map_or(key, |(_, k)| k), MessageDigest::sha256())
            .unwrap();
        b.build()
    }

    /// A self-signed CA (basicConstraints CA, keyCertSign).
    pub fn ca(cn: &str, key: &PKey<Private>) -> X509 {
        let extensions = vec![
            BasicConstraints::new().critical().ca().build().unwrap(),
            KeyUsage::new().critical().key_cert_sign().build().unwrap(),
        ];
        certificate(&name(cn), key, None, 1, extensions)
    }
}

/// A TSA CA and a timestamping certificate (EKU timeStamping, critical) in `dir`:
/// returns (CA PEM, TSA certificate PEM, TSA key PKCS#8 PEM).
fn tsa_certificates(
    dir: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::extension::{ExtendedKeyUsage, KeyUsage};
    let ca_key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let ca = pki::ca("TEST-TSA-CA", &ca_key);
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let extensions = vec![
        ExtendedKeyUsage::new()
            .critical()
            .time_stamping()
            .build()
            .unwrap(),
        KeyUsage::new()
            .critical()
            .digital_signature()
            .non_repudiation()
            .build()
            .unwrap(),
    ];
    let cert = pki::certificate(
        &pki::name("TEST-TSA"),
        &key,
        Some((&ca, &ca_key)),
        2,
        extensions,
    );
    let paths = (
        dir.join("tsa-ca.pem"),
        dir.join("tsa.pem"),
        dir.join("tsa-key.pem"),
    );
    std::fs::write(&paths.0, ca.to_pem().unwrap()).unwrap();
    std::fs::write(&paths.1, cert.to_pem().unwrap()).unwrap();
    std::fs::write(&paths.2, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    paths
}

/// The loopback TSA (tests/tsa/server.py on pyHanko); killed when dropped.
struct Tsa {
    child: std::process::Child,
    url: String,
}

impl Tsa {
    fn start(cert: &std::path::Path, key: &std::path::Path) -> Tsa {
        use std::io::BufRead;
        let mut child = std::process::Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tsa/server.py"))
            .arg(cert)
            .arg(key)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 with pyhanko is needed for the TSA test");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("TSA did not start: {line:?}"));
        Tsa {
            child,
            url: format!("http://127.0.0.1:{port}/"),
        }
    }
}

impl Drop for Tsa {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn with_a_tsa_the_seal_carries_a_timestamp_and_without_an_answer_nothing_is_sealed() {
    let dir =
        std::env::temp_dir().join(format!("nachnutzung-tsa-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let (tsa_ca, tsa_cert, tsa_key) = tsa_certificates(&dir);
    let tsa = Tsa::start(&tsa_cert, &tsa_key);
    let app = TestApp::with_settings(false, &[("tsa_url", tsa.url.as_str())]);
    let dataport = app.organisation("intermediaries", "Dataport AöR");
    let ioev = app.in_force(json!({ "kind": "ioev", "counterparty_id": dataport }));
    let pdf = app.document(ioev["id"].as_str().unwrap());

    let (_, v) = app.verify(&pdf);
    assert_eq!(v["seal_valid"], true, "{v}");
    assert_eq!(v["seal"]["timestamped"], true, "{v}");
    let ca = TestApp::test_ca();
    let (ok, out) = tool(
        "pyhanko",
        &[
            "sign",
            "validate",
            "--pretty-print",
            "--trust",
            ca.to_str().unwrap(),
            "--trust",
            tsa_ca.to_str().unwrap(),
            "--no-revocation-check",
        ],
        &pdf,
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("TEST-TSA"),
        "pyHanko names the timestamp authority: {out}"
    );
    let (_, sig) = tool("pdfsig", &[], &pdf);
    assert!(
        sig.contains("Signature is Valid") && sig.contains("Total document signed"),
        "{sig}"
    );

    // The TSA goes away: the last signature is refused and nothing changes.
    drop(tsa);
    let rv = app.create(json!({ "kind": "rv", "municipality_id": app.municipality("05913000") }));
    let id = rv["id"].as_str().unwrap();
    app.step(id, "submit");
    let partner = app.signatory(&app.partner_of(id), "Paula Partner");
    let dnrw = app.signatory(&format!("organisations/{}", app.dnrw()), "Dora d-NRW");
    assert_eq!(app.sign_as(id, &partner).0, Status::Created);
    let (status, v) = app.sign_as(id, &dnrw);
    assert_eq!(status, Status::ServiceUnavailable, "{v}");
    assert_eq!(v["error"], "tsa_unavailable");
    assert!(
        v["message"].as_str().unwrap().contains("Zeitstempeldienst"),
        "{v}"
    );
    let signing = app.ok("GET", &format!("/api/v1/agreements/{id}/signatures"), None);
    assert!(
        signing["required"][1]["signature"].is_null(),
        "d-NRW's signature was not kept: {signing}"
    );
    assert!(signing["document"].is_null());
    assert_eq!(
        app.ok("GET", &format!("/api/v1/agreements/{id}"), None)["status"],
        "awaiting_signatures"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_shipped_configuration_trusts_no_client_header_for_the_recorded_ip() {
    // Signatures record the client IP; Rocket.toml must not let a client choose it.
    let config: rocket::Config = rocket::Config::figment().extract().unwrap();
    assert!(config.ip_header.is_none(), "{:?}", config.ip_header);
}

#[test]
fn a_configured_pkcs12_with_an_ecdsa_key_seals_and_a_wrong_password_is_a_clear_error() {
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    use openssl::pkcs12::Pkcs12;
    use openssl::pkey::PKey;
    use openssl::stack::Stack;
    use openssl::x509::extension::KeyUsage;
    let dir =
        std::env::temp_dir().join(format!("nachnutzung-p12-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let ec = || PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let (ca_key, key) = (ec(), ec());
    let ca = pki::ca("Siegel-CA ECDSA", &ca_key);
    let usage = KeyUsage::new()
        .critical()
        .digital_signature()
        .non_repudiation()
        .build()
        .unwrap();
    let cert = pki::certificate(
        &pki::name("Siegel d-NRW (ECDSA-Test)"),
        &key,
        Some((&ca, &ca_key)),
        8,
        vec![usage],
    );
    let mut chain = Stack::new().unwrap();
    chain.push(ca.clone()).unwrap();
    let p12 = Pkcs12::builder()
        .pkey(&key)
        .cert(&cert)
        .ca(chain)
        .build2("geheim")
        .unwrap();
    let p12_path = dir.join("siegel.p12");
    std::fs::write(&p12_path, p12.to_der().unwrap()).unwrap();
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca.to_pem().unwrap()).unwrap();

    let app = TestApp::with_settings(
        false,
        &[
            ("seal_pkcs12", p12_path.to_str().unwrap()),
            ("seal_pkcs12_password", "geheim"),
        ],
    );
    let rv = app.in_force(json!({ "kind": "rv", "municipality_id": app.municipality("05913000") }));
    let id = rv["id"].as_str().unwrap();
    let docs = app.ok("GET", &format!("/api/v1/agreements/{id}/documents"), None);
    assert!(
        docs[0]["seal_subject"]
            .as_str()
            .unwrap()
            .contains("Siegel d-NRW (ECDSA-Test)"),
        "{docs}"
    );
    let pdf = app.document(id);
    let (ok, out) = tool(
        "pyhanko",
        &[
            "sign",
            "validate",
            "--trust",
            ca_path.to_str().unwrap(),
            "--no-revocation-check",
        ],
        &pdf,
    );
    assert!(ok && out.contains(":INTACT:TRUSTED,UNTOUCHED"), "{out}");
    let (_, sig) = tool("pdfsig", &[], &pdf);
    assert!(
        sig.contains("Signature is Valid") && sig.contains("ECDSA-Test"),
        "{sig}"
    );
    let (_, v) = app.verify(&pdf);
    assert_eq!(v["seal_valid"], true, "{v}");
    // The TEST seal of the other tests is not this registry's seal.
    let other = TestApp::new();
    let foreign =
        other.in_force(json!({ "kind": "rv", "municipality_id": other.municipality("05913000") }));
    let (_, v) = app.verify(&other.document(foreign["id"].as_str().unwrap()));
    assert_eq!(v["seal"]["intact"], true, "{v}");
    assert_eq!(v["seal"]["trusted"], false, "{v}");
    assert_eq!(v["seal_valid"], false);

    let config = nachnutzung::config::Config {
        seal_pkcs12: Some(p12_path.clone()),
        seal_pkcs12_password: Some("falsch".into()),
        ..Default::default()
    };
    let err = nachnutzung::seal::Sealer::from_config(&config)
        .err()
        .expect("wrong password refused");
    assert!(
        format!("{err:?}").contains("PKCS#12-Datei nicht lesbar"),
        "{err:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Who signed is recorded from the signatures, not checked like typed input: two
/// signatories with long names of long organisations (together far over the 200
/// characters of a name field) still complete the agreement.
#[test]
fn long_names_of_the_signatories_do_not_stop_the_last_signature() {
    let app = TestApp::new();
    let long_org = format!("Zweckverband {}", "Kommunale Datenverarbeitung ".repeat(6));
    let (status, v) = app.post(
        "/api/v1/intermediaries",
        json!({ "name": long_org.trim(), "states": [{ "land_key": "14", "state": "Sachsen" }] }),
    );
    assert_eq!(status, Status::Created, "{v}");
    let org = v["id"].as_str().unwrap().to_string();
    let ioev = app.create(json!({ "kind": "ioev", "counterparty_id": org }));
    let id = ioev["id"].as_str().unwrap();
    assert_eq!(app.step(id, "submit").0, Status::Ok);
    let partner = app.signatory(
        &format!("organisations/{org}"),
        "Maximiliane Adelheid von und zu Sonnenberg-Hohenstein",
    );
    let dnrw = app.signatory(
        &format!("organisations/{}", app.dnrw()),
        "Friederike Wilhelmine Schulze-Oberhausen",
    );
    assert_eq!(app.sign_as(id, &partner).0, Status::Created);
    let (status, v) = app.sign_as(id, &dnrw);
    assert_eq!(status, Status::Created, "{v}");
    let a = app.ok("GET", &format!("/api/v1/agreements/{id}"), None);
    assert_eq!(a["status"], "in_force");
    let by = a["signed_by"].as_str().unwrap();
    assert!(by.chars().count() > 200, "{by}");
    assert!(by.contains("Sonnenberg-Hohenstein") && by.contains("Schulze-Oberhausen"));
}

/// Instances on one PostgreSQL database without `seal_pkcs12` share one TEST seal, kept
/// in the database under a password derived from their shared secret key: a document
/// sealed by one verifies as trusted on another with its own data folder; an instance
/// with another key cannot open it and refuses to start. On SQLite the seal stays in the
/// data folder and nothing is stored in the database.
#[test]
fn instances_on_one_postgresql_database_share_one_test_seal() {
    const SECRET: &str =
        "hPRYyVRiMyxpw5sBB1XeCMN1kjsCXSw6D3dKA39dXH6cS/0LX1JB0JeZYXR8QvQ3zM4fMT6NMnPzqtvBLyZ1BA==";
    const OTHER: &str =
        "Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYg==";
    let folder = |name: &str| {
        std::env::temp_dir().join(format!("nnr-seal-{name}-{}", uuid::Uuid::new_v4().simple()))
    };
    let (dir_a, dir_b, dir_c) = (folder("a"), folder("b"), folder("c"));
    let a = TestApp::with_figment(false, |f| {
        f.merge(("secret_key", SECRET))
            .merge(("data_dir", dir_a.display().to_string()))
    });
    let stored = number(&a.db(), "SELECT COUNT(*) AS n FROM test_seal");
    if !a.is_postgres() {
        assert_eq!(stored, 0, "SQLite keeps its TEST seal in the data folder");
        assert!(dir_a.join("seal-test").join("test-ca.pem").exists());
        let _ = std::fs::remove_dir_all(&dir_a);
        return;
    }
    assert_eq!(stored, 1);
    assert!(
        !dir_a.join("seal-test").exists(),
        "no data-folder seal on PostgreSQL with a secret key"
    );

    // A sealed document from instance A …
    let koeln = a.municipality("05315000");
    let rv = a.in_force(json!({ "kind": "rv", "municipality_id": koeln }));
    let pdf = a.document(rv["id"].as_str().unwrap());
    let (status, own) = a.verify(&pdf);
    assert_eq!(status, Status::Ok, "{own}");
    assert_eq!(own["seal"]["trusted"], true, "{own}");

    // … is trusted by instance B (same database and key, its own data folder).
    let b = rocket::local::blocking::Client::untracked(
        a.instance_with(|f| {
            f.merge(("secret_key", SECRET))
                .merge(("data_dir", dir_b.display().to_string()))
        })
        .unwrap_or_else(|e| panic!("instance B: {e}")),
    )
    .unwrap();
    let res = b
        .post("/api/v1/verify")
        .header(rocket::http::ContentType::PDF)
        .body(&pdf)
        .dispatch();
    assert_eq!(res.status(), Status::Ok);
    let there: Value = res.into_json().unwrap();
    assert_eq!(there["seal"]["trusted"], true, "{there}");
    assert_eq!(there["seal_valid"], own["seal_valid"], "{there}");
    assert_eq!(number(&a.db(), "SELECT COUNT(*) AS n FROM test_seal"), 1);

    // An instance with another key cannot open the shared seal: it does not start.
    let refused = a
        .instance_with(|f| {
            f.merge(("secret_key", OTHER))
                .merge(("data_dir", dir_c.display().to_string()))
        })
        .expect_err("another key refused");
    assert!(
        refused.message.contains("PKCS#12-Datei nicht lesbar"),
        "{}",
        refused.message
    );
    for dir in [dir_a, dir_b, dir_c] {
        let _ = std::fs::remove_dir_all(dir);
    }
}
