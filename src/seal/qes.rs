//! A party's own qualified electronic signature (QES) on a document the registry issued:
//! where a party needs written form, it downloads the sealed PDF, signs it with its
//! signature card or software, and uploads the result. Before the registry records it,
//! this module checks that
//!
//! - the file begins with the issued document, byte for byte (the signed revision is
//!   what the registry issued, not a copy or another document);
//! - what follows is an incremental update that only adds signatures: the pages, their
//!   contents and every other object of the issued document stay as they were; the
//!   catalog may gain the form (AcroForm) and the document security store, the pages
//!   signature widgets in their annotations, the document information new dates;
//! - each added CMS signature is intact (its byte ranges cover its revision, their hash
//!   is the signed message digest, the signature verifies with the certificate it names)
//!   and the last one covers the whole file;
//! - the signer's certificate was valid at the upload, and chains to one of the
//!   configured QES trust anchors (`qes_trust_anchors`), if any are configured.
//!
//! What it reports about the certificate is shown to people as it is: subject, issuer,
//! serial, validity, fingerprint, and whether it is marked as a qualified certificate
//! (the QcCompliance statement of ETSI EN 319 412-5).

use std::collections::BTreeSet;

use der::asn1::ObjectIdentifier;
use der::Decode;
use lopdf::{Dictionary, Document, Object, ObjectId};
use openssl::hash::MessageDigest;
use openssl::x509::X509;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{cms, verify};

const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const QC_STATEMENTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.3");
/// The most signatures an upload may add (both parties and a few more).
const MAX_ADDED: usize = 8;
/// DER of the OID of the QcCompliance statement (0.4.0.1862.1.1).
const QC_COMPLIANCE_DER: &[u8] = &[0x06, 0x06, 0x04, 0x00, 0x8e, 0x46, 0x01, 0x01];

/// The signer's certificate, as the agreement page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SignerCert {
    /// "CN=Erika Mustermann, O=Stadt Köln, C=DE"
    pub subject: String,
    /// The common name, or the subject when it has none.
    pub name: String,
    pub issuer: String,
    /// Hexadecimal.
    pub serial: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// SHA-256 of the certificate (DER), hexadecimal.
    pub sha256: String,
    /// Marked as a qualified certificate (QcCompliance).
    pub qualified: bool,
}

/// Whether the certificate chains to a configured trust anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Chain {
    Trusted,
    /// No QES trust anchors are configured: the chain was not checked.
    NotChecked,
    Untrusted,
}

/// The result of checking an upload. Accepted when `problems` is empty.
#[derive(Debug, Clone, Serialize)]
pub struct QesCheck {
    pub problems: Vec<String>,
    pub signer: Option<SignerCert>,
    /// `/M` of the signature dictionary, as written in the file.
    pub signing_time: Option<String>,
    pub chain: Chain,
    /// How many signatures the upload adds.
    pub added_signatures: usize,
}

impl QesCheck {
    pub fn accepted(&self) -> bool {
        self.problems.is_empty() && self.signer.is_some()
    }
}

/// Checks `uploaded` against the `issued` document (see the module documentation).
pub fn check(uploaded: &[u8], issued: &[u8], anchors: &[Vec<u8>], now: OffsetDateTime) -> QesCheck {
    let mut out = QesCheck {
        problems: Vec::new(),
        signer: None,
        signing_time: None,
        chain: Chain::NotChecked,
        added_signatures: 0,
    };
    if !uploaded.starts_with(issued) {
        out.problems.push(if same_document(uploaded, issued) {
            "Die Datei ist nicht mehr das ausgestellte Dokument: sein Inhalt wurde verändert. \
             Bitte signieren Sie das unveränderte Dokument aus dem Register."
                .into()
        } else {
            "Die Datei ist ein anderes Dokument als das, das das Register für diese Vereinbarung \
             ausgestellt hat."
                .into()
        });
        return out;
    }
    if uploaded.len() == issued.len() {
        out.problems.push(
            "Die Datei ist das ausgestellte Dokument ohne hinzugefügte Signatur. Bitte signieren \
             Sie es zuerst mit Ihrer qualifizierten elektronischen Signatur."
                .into(),
        );
        return out;
    }
    // Every signature dictionary in the appended part, in file order.
    let mut starts = Vec::new();
    let mut from = issued.len();
    while let Some(i) = find(&uploaded[from..], b"/ByteRange") {
        starts.push(from + i);
        from += i + 10;
    }
    if starts.is_empty() {
        out.problems
            .push("An das ausgestellte Dokument wurde etwas angefügt, aber keine Signatur.".into());
        return out;
    }
    // Each signature is checked over the whole file: a bound keeps a crafted upload cheap.
    if starts.len() > MAX_ADDED {
        out.problems.push(format!(
            "Die Datei fügt mehr als {MAX_ADDED} Signaturen hinzu; so viele prüft das Register nicht."
        ));
        return out;
    }
    out.added_signatures = starts.len();
    let last = starts.len() - 1;
    for (i, at) in starts.into_iter().enumerate() {
        let located = match verify::locate_at(uploaded, at) {
            Ok(l) => l,
            Err(e) => {
                out.problems.push(e);
                return out;
            }
        };
        let [a, b, c, d] = located.ranges;
        let end = c + d;
        if a != 0 || a + b < issued.len() {
            out.problems.push(
                "Eine hinzugefügte Signatur deckt das ausgestellte Dokument nicht ganz ab.".into(),
            );
        }
        if i == last && end != uploaded.len() {
            out.problems.push(
                "Nach der letzten Signatur wurde noch etwas angefügt; sie deckt die Datei nicht \
                 ganz ab."
                    .into(),
            );
        }
        match signature(uploaded, &located) {
            Ok(cert) => {
                if i == last {
                    out.signing_time = located.signing_time.clone();
                    out.signer = Some(cert.0);
                    match anchors.is_empty() {
                        true => out.chain = Chain::NotChecked,
                        false => match verify::chain_ok(&cert.1, &cert.2, anchors) {
                            Ok(()) => out.chain = Chain::Trusted,
                            Err(e) => {
                                out.chain = Chain::Untrusted;
                                out.problems.push(format!(
                                    "Das Zertifikat des Unterzeichners stammt von keinem \
                                     anerkannten Anbieter qualifizierter Zertifikate: {}.",
                                    verify::chain_problem(&e)
                                ));
                            }
                        },
                    }
                }
            }
            Err(e) => out.problems.push(e),
        }
    }
    if let Some(s) = &out.signer {
        if now < s.not_before || now > s.not_after {
            out.problems.push(format!(
                "Das Zertifikat des Unterzeichners ist nicht gültig (gültig vom {} bis {}).",
                german_date(s.not_before),
                german_date(s.not_after)
            ));
        }
    }
    out.problems.extend(only_signatures_added(issued, uploaded));
    out
}

/// The Berlin day of a UTC instant, as a German date.
fn german_date(t: OffsetDateTime) -> String {
    let utc = t.to_offset(time::UtcOffset::UTC);
    crate::domain::agreement::german_date(crate::domain::berlin::local_date(
        time::PrimitiveDateTime::new(utc.date(), utc.time()),
    ))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The first element of the trailer's `/ID`: the same for every revision of a document.
fn document_id(pdf: &[u8]) -> Option<Vec<u8>> {
    let doc = Document::load_mem(pdf).ok()?;
    match doc.trailer.get(b"ID").ok()? {
        Object::Array(ids) => match ids.first()? {
            Object::String(s, _) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// Whether `uploaded` is a revision of `issued` (same document id).
fn same_document(uploaded: &[u8], issued: &[u8]) -> bool {
    match (document_id(uploaded), document_id(issued)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// Checks one CMS signature; returns the signer's certificate (as shown, as X509, and the
/// certificates the signature includes).
fn signature(
    pdf: &[u8],
    located: &verify::Located,
) -> Result<(SignerCert, X509, Vec<Vec<u8>>), String> {
    let parsed = cms::parse(&located.contents).map_err(|e| e.to_string())?;
    let md = match parsed.digest_oid {
        o if o == cms::SHA256 => MessageDigest::sha256(),
        o if o == SHA384 => MessageDigest::sha384(),
        o if o == SHA512 => MessageDigest::sha512(),
        o => {
            return Err(format!(
                "Das Hashverfahren der Signatur ({o}) wird nicht unterstützt."
            ))
        }
    };
    let [a, b, c, d] = located.ranges;
    let mut hasher = openssl::hash::Hasher::new(md).map_err(|e| e.to_string())?;
    hasher
        .update(&pdf[a..a + b])
        .and_then(|_| hasher.update(&pdf[c..c + d]))
        .map_err(|e| e.to_string())?;
    let digest = hasher.finish().map_err(|e| e.to_string())?;
    if parsed.message_digest.as_deref() != Some(&digest[..]) {
        return Err(
            "Die signierten Bytes stimmen nicht mit der Signatur überein (Hashwert falsch): die \
             Datei wurde nach dem Signieren verändert."
                .into(),
        );
    }
    let cert_der = parsed
        .signer_cert
        .as_ref()
        .ok_or("Das Zertifikat des Unterzeichners fehlt in der Signatur.")?;
    if parsed
        .ess_cert_hash
        .as_ref()
        .is_some_and(|h| h.as_slice() != Sha256::digest(cert_der).as_slice())
    {
        return Err("Das Attribut signing-certificate-v2 nennt ein anderes Zertifikat.".into());
    }
    let cert = X509::from_der(cert_der).map_err(|e| format!("Zertifikat unlesbar: {e}"))?;
    let ok = cert
        .public_key()
        .and_then(|key| {
            let mut v = openssl::sign::Verifier::new(md, &key)?;
            if parsed.signature_oid == RSA_PSS {
                v.set_rsa_padding(openssl::rsa::Padding::PKCS1_PSS)?;
                v.set_rsa_pss_saltlen(openssl::sign::RsaPssSaltlen::DIGEST_LENGTH)?;
            }
            v.update(&parsed.signed_attrs_der)?;
            v.verify(&parsed.signature)
        })
        .unwrap_or(false);
    if !ok {
        return Err("Die Signatur passt nicht zum Zertifikat des Unterzeichners.".into());
    }
    Ok((
        describe(&cert, cert_der)?,
        cert,
        parsed.certificates.clone(),
    ))
}

fn describe(cert: &X509, der: &[u8]) -> Result<SignerCert, String> {
    let time = |t: &openssl::asn1::Asn1TimeRef| -> Result<OffsetDateTime, String> {
        let epoch = openssl::asn1::Asn1Time::from_unix(0).map_err(|e| e.to_string())?;
        let diff = epoch.diff(t).map_err(|e| e.to_string())?;
        OffsetDateTime::from_unix_timestamp(diff.days as i64 * 86_400 + diff.secs as i64)
            .map_err(|e| e.to_string())
    };
    let name = cert
        .subject_name()
        .entries_by_nid(openssl::nid::Nid::COMMONNAME)
        .next()
        .and_then(|e| e.data().to_string().ok())
        .unwrap_or_else(|| super::name_string(cert.subject_name()));
    let serial = cert
        .serial_number()
        .to_bn()
        .and_then(|n| n.to_hex_str().map(|h| h.to_string()))
        .map_err(|e| e.to_string())?;
    let qualified = x509_cert::Certificate::from_der(der)
        .ok()
        .and_then(|c| c.tbs_certificate.extensions)
        .is_some_and(|exts| {
            exts.iter().any(|e| {
                e.extn_id == QC_STATEMENTS
                    && find(e.extn_value.as_bytes(), QC_COMPLIANCE_DER).is_some()
            })
        });
    Ok(SignerCert {
        subject: super::name_string(cert.subject_name()),
        name,
        issuer: super::name_string(cert.issuer_name()),
        serial,
        not_before: time(cert.not_before())?,
        not_after: time(cert.not_after())?,
        sha256: hex::encode(Sha256::digest(der)),
        qualified,
    })
}

/// The keys of the catalog, a page and the document information that a signature may
/// add or change; everything else of the issued document must stay as it was.
const CATALOG_MAY_CHANGE: &[&[u8]] = &[b"AcroForm", b"DSS", b"Extensions", b"Perms", b"Version"];
const PAGE_MAY_CHANGE: &[&[u8]] = &[b"Annots"];
const INFO_MAY_CHANGE: &[&[u8]] = &[b"ModDate", b"Producer"];

/// What the appended revisions change beyond adding signatures, in German; empty when
/// they only add signatures.
fn only_signatures_added(issued: &[u8], uploaded: &[u8]) -> Vec<String> {
    let (old, new) = match (Document::load_mem(issued), Document::load_mem(uploaded)) {
        (Ok(o), Ok(n)) => (o, n),
        _ => return vec!["Die signierte Datei ist kein lesbares PDF.".into()],
    };
    let mut problems = Vec::new();
    let catalog_id = reference(old.trailer.get(b"Root").ok());
    let info_id = reference(old.trailer.get(b"Info").ok());
    let pages: BTreeSet<ObjectId> = old.get_pages().into_values().collect();
    let mut changed = Vec::new();
    for (id, before) in &old.objects {
        let Some(after) = new.objects.get(id) else {
            changed.push(*id);
            continue;
        };
        if same(before, after) {
            continue;
        }
        let allowed = if Some(*id) == catalog_id {
            CATALOG_MAY_CHANGE
        } else if pages.contains(id) {
            PAGE_MAY_CHANGE
        } else if Some(*id) == info_id {
            INFO_MAY_CHANGE
        } else {
            changed.push(*id);
            continue;
        };
        match (before.as_dict(), after.as_dict()) {
            (Ok(b), Ok(a)) if same_except(b, a, allowed) => {
                if pages.contains(id) {
                    problems.extend(new_annotations_are_signatures(&new, b, a));
                }
            }
            _ => changed.push(*id),
        }
    }
    if !changed.is_empty() {
        let list = changed
            .iter()
            .take(5)
            .map(|(n, g)| format!("{n} {g}"))
            .collect::<Vec<_>>()
            .join(", ");
        problems.push(format!(
            "Die Datei ändert Inhalte des ausgestellten Dokuments (Objekt {list}); erlaubt ist \
             nur, Signaturen hinzuzufügen."
        ));
    }
    if new.get_pages().len() != old.get_pages().len() {
        problems.push("Die Datei hat andere Seiten als das ausgestellte Dokument.".into());
    }
    problems
}

fn reference(o: Option<&Object>) -> Option<ObjectId> {
    match o {
        Some(Object::Reference(id)) => Some(*id),
        _ => None,
    }
}

/// Equal content (a stream's dictionary and bytes; not where lopdf read it from).
fn same(a: &Object, b: &Object) -> bool {
    match (a, b) {
        (Object::Stream(x), Object::Stream(y)) => x.dict == y.dict && x.content == y.content,
        _ => a == b,
    }
}

/// A PDF text string as text: UTF-16BE with its byte order mark, else PDFDocEncoding
/// (read as Latin-1, which it equals for the letters of German texts). Signature software
/// may rewrite the document information in the other encoding without changing a letter.
fn text(o: &Object) -> Object {
    match o {
        Object::String(bytes, _) => {
            let decoded = match bytes.strip_prefix(&[0xfe, 0xff]) {
                Some(utf16) => String::from_utf16_lossy(
                    &utf16
                        .chunks(2)
                        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                        .collect::<Vec<_>>(),
                ),
                None => bytes.iter().map(|b| *b as char).collect(),
            };
            Object::string_literal(decoded.into_bytes())
        }
        other => other.clone(),
    }
}

fn same_except(before: &Dictionary, after: &Dictionary, allowed: &[&[u8]]) -> bool {
    let keep = |d: &Dictionary| -> Vec<(Vec<u8>, Object)> {
        let mut v: Vec<(Vec<u8>, Object)> = d
            .iter()
            .filter(|(k, _)| !allowed.contains(&k.as_slice()))
            .map(|(k, o)| (k.clone(), text(o)))
            .collect();
        v.sort_by(|x, y| x.0.cmp(&y.0));
        v
    };
    keep(before) == keep(after)
}

/// The annotations a page gains must be signature fields' widgets.
fn new_annotations_are_signatures(
    doc: &Document,
    before: &Dictionary,
    after: &Dictionary,
) -> Vec<String> {
    let list = |d: &Dictionary| -> Vec<Object> {
        match d.get(b"Annots") {
            Ok(Object::Array(a)) => a.clone(),
            Ok(Object::Reference(id)) => match doc.get_object(*id) {
                Ok(Object::Array(a)) => a.clone(),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    };
    let old = list(before);
    let mut problems = Vec::new();
    for annot in list(after).into_iter().filter(|a| !old.contains(a)) {
        let dict = match &annot {
            Object::Reference(id) => doc.get_object(*id).and_then(Object::as_dict).ok(),
            Object::Dictionary(d) => Some(d),
            _ => None,
        };
        let is_signature = dict.is_some_and(|d| {
            let widget = matches!(d.get(b"Subtype"), Ok(Object::Name(n)) if n == b"Widget");
            let field_type = d.get(b"FT").ok().or_else(|| {
                reference(d.get(b"Parent").ok())
                    .and_then(|p| doc.get_object(p).and_then(Object::as_dict).ok())
                    .and_then(|p| p.get(b"FT").ok())
            });
            widget && matches!(field_type, Some(Object::Name(n)) if n == b"Sig")
        });
        if !is_signature {
            problems.push(
                "Die Datei fügt einer Seite etwas anderes als ein Signaturfeld hinzu \
                 (z. B. einen Kommentar oder ein Formularfeld)."
                    .into(),
            );
        }
    }
    problems
}
