//! Checks the last signature of a PDF: that the signed byte ranges cover the whole file
//! but the signature itself, that their SHA-256 is the CMS message digest, that the
//! signature over the signed attributes is valid for the certificate it names, that the
//! ESS signing-certificate-v2 names that certificate, and that the certificate chains to
//! one of the trust anchors.

use openssl::hash::MessageDigest;
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::X509VerifyFlags;
use openssl::x509::{X509StoreContext, X509};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::cms;

/// The result of checking a PDF's seal. `problems` says in German what is wrong.
#[derive(Debug, Clone, Serialize)]
pub struct SealCheck {
    pub signature_found: bool,
    /// The signature is mathematically valid and the signed bytes are unchanged.
    pub intact: bool,
    /// The signed byte ranges cover the whole file except the signature value.
    pub covers_whole_document: bool,
    /// The seal certificate chains to one of the registry's trust anchors.
    pub trusted: bool,
    pub signer: Option<String>,
    /// `/M` of the signature dictionary.
    pub signing_time: Option<String>,
    pub timestamped: bool,
    pub problems: Vec<String>,
}

impl SealCheck {
    /// Intact, whole and trusted.
    pub fn valid(&self) -> bool {
        self.signature_found && self.intact && self.covers_whole_document && self.trusted
    }
}

/// Where a signature dictionary's `/ByteRange` and `/Contents` are.
pub(super) struct Located {
    pub(super) ranges: [usize; 4],
    pub(super) contents: Vec<u8>,
    pub(super) signing_time: Option<String>,
}

pub(super) fn find_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

fn locate(pdf: &[u8]) -> Result<Located, String> {
    let at = find_last(pdf, b"/ByteRange").ok_or("Das PDF enthält keine Signatur.")?;
    locate_at(pdf, at)
}

/// The signature whose `/ByteRange` key starts at `at`.
pub(super) fn locate_at(pdf: &[u8], at: usize) -> Result<Located, String> {
    let rest = &pdf[at + 10..];
    let open = rest
        .iter()
        .position(|b| *b == b'[')
        .ok_or("/ByteRange unlesbar.")?;
    let close = rest
        .iter()
        .position(|b| *b == b']')
        .ok_or("/ByteRange unlesbar.")?;
    let numbers: Vec<usize> = String::from_utf8_lossy(&rest[open + 1..close.max(open + 1)])
        .split_ascii_whitespace()
        .map(|n| n.parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| "/ByteRange unlesbar.")?;
    let ranges: [usize; 4] = numbers
        .try_into()
        .map_err(|_| "/ByteRange hat nicht vier Zahlen.")?;
    let [a, b, c, d] = ranges;
    let in_bounds = a.checked_add(b).is_some_and(|e| e <= pdf.len())
        && c.checked_add(d).is_some_and(|e| e <= pdf.len())
        && a + b < c;
    if !in_bounds {
        return Err("/ByteRange zeigt über das Dateiende hinaus.".into());
    }
    let gap = &pdf[a + b..c];
    if gap.first() != Some(&b'<') || gap.last() != Some(&b'>') {
        return Err("/Contents liegt nicht zwischen den signierten Bereichen.".into());
    }
    let contents =
        hex::decode(&gap[1..gap.len() - 1]).map_err(|_| "/Contents ist kein Hex-String.")?;
    // /M of the same dictionary: search around the /ByteRange.
    let dict_start = find_last(&pdf[..at], b"<<").unwrap_or(at);
    let dict_end = (c + 512).min(pdf.len());
    let signing_time = find_last(&pdf[dict_start..dict_end], b"/M (").and_then(|m| {
        let s = &pdf[dict_start + m + 4..dict_end];
        let end = s.iter().position(|b| *b == b')')?;
        Some(String::from_utf8_lossy(&s[..end]).to_string())
    });
    Ok(Located {
        ranges,
        contents,
        signing_time,
    })
}

/// Checks the last signature of `pdf` against `trust_anchors` (DER certificates).
pub fn check(pdf: &[u8], trust_anchors: &[Vec<u8>]) -> SealCheck {
    let mut out = SealCheck {
        signature_found: false,
        intact: false,
        covers_whole_document: false,
        trusted: false,
        signer: None,
        signing_time: None,
        timestamped: false,
        problems: Vec::new(),
    };
    let located = match locate(pdf) {
        Ok(l) => l,
        Err(e) => {
            out.problems.push(e);
            return out;
        }
    };
    out.signature_found = true;
    out.signing_time = located.signing_time;
    let [a, b, c, d] = located.ranges;
    out.covers_whole_document = a == 0 && c + d == pdf.len();
    if !out.covers_whole_document {
        out.problems.push(
            "Die Signatur deckt nicht das ganze Dokument ab (nach dem Siegeln wurde etwas angefügt)."
                .into(),
        );
    }
    let parsed = match cms::parse(&located.contents) {
        Ok(p) => p,
        Err(e) => {
            out.problems.push(e.to_string());
            return out;
        }
    };
    out.timestamped = parsed.has_timestamp;
    let mut hasher = Sha256::new();
    hasher.update(&pdf[a..a + b]);
    hasher.update(&pdf[c..c + d]);
    let digest = hasher.finalize();
    let digest_ok = parsed.message_digest.as_deref() == Some(digest.as_slice());
    if !digest_ok {
        out.problems
            .push("Der Inhalt wurde nach dem Siegeln verändert (Hashwert stimmt nicht).".into());
    }
    if !parsed.digest_is_sha256 {
        out.problems.push("Hashverfahren ist nicht SHA-256.".into());
    }
    if !parsed.content_type_is_data {
        out.problems
            .push("Attribut content-type fehlt oder ist falsch.".into());
    }
    if parsed.has_signing_time {
        out.problems
            .push("Die Signatur trägt eine Zeitangabe in ihren signierten Angaben, die ein Siegel nach PAdES nicht haben darf.".into());
    }
    let Some(cert_der) = parsed.signer_cert.as_ref() else {
        out.problems
            .push("Das Zertifikat des Unterzeichners fehlt in der Signatur.".into());
        return out;
    };
    let ess_ok = parsed.ess_cert_hash.as_deref() == Some(Sha256::digest(cert_der).as_slice());
    if !ess_ok {
        out.problems.push(
            "Das Attribut signing-certificate-v2 fehlt oder nennt ein anderes Zertifikat.".into(),
        );
    }
    let cert = match X509::from_der(cert_der) {
        Ok(c) => c,
        Err(e) => {
            out.problems.push(format!("Zertifikat unlesbar: {e}"));
            return out;
        }
    };
    out.signer = Some(super::name_string(cert.subject_name()));
    let signature_ok = cert
        .public_key()
        .and_then(|key| {
            let mut v = openssl::sign::Verifier::new(MessageDigest::sha256(), &key)?;
            v.update(&parsed.signed_attrs_der)?;
            v.verify(&parsed.signature)
        })
        .unwrap_or(false);
    if !signature_ok {
        out.problems
            .push("Die Signatur passt nicht zum Zertifikat des Unterzeichners.".into());
    }
    out.intact = digest_ok && signature_ok && ess_ok && parsed.digest_is_sha256;
    match chain_ok(&cert, &parsed.certificates, trust_anchors) {
        Ok(()) => out.trusted = true,
        Err(e) => out.problems.push(format!(
            "Das Siegelzertifikat ist nicht vertrauenswürdig: {}.",
            chain_problem(&e)
        )),
    }
    out
}

/// OpenSSL's reason why a chain does not verify, in German for people.
pub(super) fn chain_problem(openssl: &str) -> &'static str {
    let e = openssl.to_lowercase();
    if e.contains("expired") {
        "das Zertifikat ist abgelaufen"
    } else if e.contains("not yet valid") {
        "das Zertifikat ist noch nicht gültig"
    } else if e.contains("self-signed") || e.contains("self signed") {
        "es ist selbst ausgestellt oder stammt von einer Zertifizierungsstelle, die das Register nicht kennt"
    } else if e.contains("unable to get") || e.contains("issuer") {
        "sein Aussteller ist keine Zertifizierungsstelle, die das Register anerkennt"
    } else if e.contains("revoked") {
        "das Zertifikat ist gesperrt"
    } else {
        "es lässt sich nicht auf eine anerkannte Zertifizierungsstelle zurückführen"
    }
}

pub(super) fn chain_ok(
    cert: &X509,
    included: &[Vec<u8>],
    anchors: &[Vec<u8>],
) -> Result<(), String> {
    let err = |e: openssl::error::ErrorStack| e.to_string();
    let mut store = X509StoreBuilder::new().map_err(err)?;
    for der in anchors {
        store
            .add_cert(X509::from_der(der).map_err(err)?)
            .map_err(err)?;
    }
    // An anchor may be an intermediate or the seal certificate itself.
    store
        .set_flags(X509VerifyFlags::PARTIAL_CHAIN)
        .map_err(err)?;
    let store = store.build();
    let mut chain = Stack::new().map_err(err)?;
    for der in included {
        chain.push(X509::from_der(der).map_err(err)?).map_err(err)?;
    }
    let mut ctx = X509StoreContext::new().map_err(err)?;
    let (ok, message) = ctx
        .init(&store, cert, &chain, |c| {
            let ok = c.verify_cert()?;
            Ok((ok, c.error().error_string().to_string()))
        })
        .map_err(err)?;
    if ok {
        Ok(())
    } else {
        Err(message.to_string())
    }
}
