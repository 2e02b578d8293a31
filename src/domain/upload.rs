//! Files a municipality uploads, checked rather than trusted: the coat of arms shown in
//! the online service (PNG or SVG) and the DVDV encryption certificate (X.509).
//!
//! - PNG: signature, an IHDR of sane size, and the IEND chunk at the end.
//! - SVG: parsed as XML without DTDs or entities; only drawing elements are allowed, no
//!   scripts, no event handlers, no external references (links, images, styles, fonts),
//!   so the file cannot run code or call home when shown.
//! - Certificate: PEM or DER, parsed as X.509; it must be valid today and carry an
//!   encryption key usage (keyEncipherment, dataEncipherment or keyAgreement), because
//!   the DVDV publishes it for encrypting messages to the municipality.

use der::{Decode, Encode};
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_cert::ext::pkix::{KeyUsage, KeyUsages};
use x509_cert::Certificate;

/// Largest coat of arms accepted (PNG or SVG).
pub const MAX_COAT_OF_ARMS_BYTES: usize = 512 * 1024;
/// Largest certificate file accepted.
pub const MAX_CERTIFICATE_BYTES: usize = 64 * 1024;
/// Largest side of a PNG coat of arms, in pixels.
const MAX_PNG_SIDE: u32 = 4096;

/// A checked coat of arms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoatOfArms {
    pub content_type: &'static str,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// Checks a coat of arms (PNG or SVG, by content, not by name).
pub fn check_coat_of_arms(bytes: &[u8]) -> Result<CoatOfArms, String> {
    if bytes.is_empty() {
        return Err("Die Datei ist leer.".into());
    }
    if bytes.len() > MAX_COAT_OF_ARMS_BYTES {
        return Err(format!(
            "Das Wappen ist größer als {} KiB.",
            MAX_COAT_OF_ARMS_BYTES / 1024
        ));
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return check_png(bytes);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| "Das Wappen muss eine PNG- oder SVG-Datei sein.".to_string())?;
    if text.contains("<svg") {
        return check_svg(text);
    }
    Err("Das Wappen muss eine PNG- oder SVG-Datei sein.".into())
}

fn check_png(bytes: &[u8]) -> Result<CoatOfArms, String> {
    let broken = || "Die PNG-Datei ist beschädigt oder unvollständig.".to_string();
    // Signature (8), IHDR: length (4) "IHDR" (4) width (4) height (4) …
    if bytes.len() < 8 + 25 + 12 || &bytes[12..16] != b"IHDR" {
        return Err(broken());
    }
    let width = u32::from_be_bytes(bytes[16..20].try_into().map_err(|_| broken())?);
    let height = u32::from_be_bytes(bytes[20..24].try_into().map_err(|_| broken())?);
    // Walk the chunks: each must fit, the last must be IEND.
    let mut at = 8usize;
    let mut ended = false;
    while at + 12 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().map_err(|_| broken())?) as usize;
        let kind = &bytes[at + 4..at + 8];
        let next = at
            .checked_add(12)
            .and_then(|n| n.checked_add(len))
            .ok_or_else(broken)?;
        if next > bytes.len() {
            return Err(broken());
        }
        if kind == b"IEND" {
            ended = next == bytes.len();
            break;
        }
        at = next;
    }
    if !ended {
        return Err(broken());
    }
    if width == 0 || height == 0 || width > MAX_PNG_SIDE || height > MAX_PNG_SIDE {
        return Err(format!(
            "Das Wappen darf höchstens {MAX_PNG_SIDE} × {MAX_PNG_SIDE} Pixel groß sein (diese Datei: {width} × {height})."
        ));
    }
    Ok(CoatOfArms {
        content_type: "image/png",
        width: Some(width),
        height: Some(height),
    })
}

/// Drawing elements an SVG coat of arms may use.
const SVG_ELEMENTS: &[&str] = &[
    "svg",
    "g",
    "defs",
    "title",
    "desc",
    "metadata",
    "path",
    "rect",
    "circle",
    "ellipse",
    "line",
    "polyline",
    "polygon",
    "text",
    "tspan",
    "linearGradient",
    "radialGradient",
    "stop",
    "clipPath",
    "mask",
    "pattern",
    "symbol",
    "use",
];

fn check_svg(text: &str) -> Result<CoatOfArms, String> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, options)
        .map_err(|e| format!("Die SVG-Datei ist kein gültiges XML ohne DTD ({e})."))?;
    let root = doc.root_element();
    if root.tag_name().name() != "svg" {
        return Err("Die SVG-Datei muss mit einem <svg>-Element beginnen.".into());
    }
    for node in doc.descendants() {
        if node.is_pi() {
            return Err(
                "Die SVG-Datei enthält Verarbeitungsanweisungen; das ist nicht erlaubt.".into(),
            );
        }
        if !node.is_element() {
            continue;
        }
        let name = node.tag_name().name();
        // RDF metadata from drawing programs is harmless text; skip its content.
        if node
            .ancestors()
            .skip(1)
            .any(|a| a.tag_name().name() == "metadata")
        {
            continue;
        }
        if !SVG_ELEMENTS.contains(&name) {
            return Err(format!(
                "Die SVG-Datei enthält das Element <{name}>; erlaubt sind nur Zeichenelemente (keine Skripte, Stile, Bilder oder eingebetteten Inhalte)."
            ));
        }
        for attr in node.attributes() {
            let key = attr.name().to_ascii_lowercase();
            let value = attr.value().trim().to_ascii_lowercase();
            if key.starts_with("on") {
                return Err(format!(
                    "Die SVG-Datei enthält den Ereignis-Handler „{}“; Skripte sind nicht erlaubt.",
                    attr.name()
                ));
            }
            if key == "href" && !value.starts_with('#') {
                return Err(
                    "Die SVG-Datei verweist auf externe Inhalte (href); erlaubt sind nur Verweise innerhalb der Datei (#…).".into(),
                );
            }
            if value.contains("javascript:")
                || value.contains("data:")
                || value.contains("@import")
                || value.contains("expression(")
                || value.contains("url(") && !only_local_urls(&value)
            {
                return Err(format!(
                    "Die SVG-Datei enthält im Attribut „{}“ einen externen Verweis oder Code.",
                    attr.name()
                ));
            }
        }
    }
    Ok(CoatOfArms {
        content_type: "image/svg+xml",
        width: None,
        height: None,
    })
}

/// Whether every `url(…)` in `value` points inside the document (`url(#id)`).
fn only_local_urls(value: &str) -> bool {
    value.match_indices("url(").all(|(i, _)| {
        value[i + 4..]
            .trim_start()
            .trim_start_matches(['"', '\''])
            .starts_with('#')
    })
}

/// What the registry records of a DVDV certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateInfo {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    /// SHA-256 of the DER encoding, upper-case hex in pairs ("AB:CD:…").
    pub fingerprint_sha256: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// Key usages named in the certificate (RFC 5280 names).
    pub key_usage: Vec<String>,
}

/// Parses a certificate (PEM or DER) and checks it is usable for DVDV encryption at `now`.
/// Returns its details and its DER encoding.
pub fn check_dvdv_certificate(
    bytes: &[u8],
    now: OffsetDateTime,
) -> Result<(CertificateInfo, Vec<u8>), String> {
    if bytes.is_empty() {
        return Err("Die Datei ist leer.".into());
    }
    if bytes.len() > MAX_CERTIFICATE_BYTES {
        return Err(format!(
            "Die Zertifikatsdatei ist größer als {} KiB.",
            MAX_CERTIFICATE_BYTES / 1024
        ));
    }
    let der = if bytes.starts_with(b"-----BEGIN") || bytes.windows(11).any(|w| w == b"-----BEGIN ")
    {
        let text =
            std::str::from_utf8(bytes).map_err(|_| "Die PEM-Datei ist kein Text.".to_string())?;
        let (label, der) = pem_block(text)?;
        if label != "CERTIFICATE" && label != "X509 CERTIFICATE" {
            return Err(format!(
                "Die PEM-Datei enthält „{label}“, kein Zertifikat (CERTIFICATE). Bitte laden Sie nur das Zertifikat hoch, nie den privaten Schlüssel."
            ));
        }
        der
    } else {
        bytes.to_vec()
    };
    let cert = Certificate::from_der(&der)
        .map_err(|_| "Die Datei ist kein X.509-Zertifikat (PEM oder DER).".to_string())?;
    let tbs = &cert.tbs_certificate;
    let to_time = |t: x509_cert::time::Time| {
        OffsetDateTime::from_unix_timestamp(t.to_unix_duration().as_secs() as i64)
            .map_err(|_| "Die Gültigkeitsdaten des Zertifikats sind nicht lesbar.".to_string())
    };
    let not_before = to_time(tbs.validity.not_before)?;
    let not_after = to_time(tbs.validity.not_after)?;
    let day = time::macros::format_description!("[day].[month].[year]");
    let show = |t: OffsetDateTime| t.format(&day).unwrap_or_default();
    if not_after <= now {
        return Err(format!(
            "Das Zertifikat ist seit dem {} abgelaufen; bitte laden Sie ein gültiges hoch.",
            show(not_after)
        ));
    }
    if not_before > now {
        return Err(format!(
            "Das Zertifikat gilt erst ab dem {}.",
            show(not_before)
        ));
    }
    let mut usage = None;
    for ext in tbs.extensions.iter().flatten() {
        if ext.extn_id == <KeyUsage as der::oid::AssociatedOid>::OID {
            usage = Some(KeyUsage::from_der(ext.extn_value.as_bytes()).map_err(|_| {
                "Die Schlüsselverwendung des Zertifikats ist nicht lesbar.".to_string()
            })?);
        }
    }
    let names = [
        (KeyUsages::DigitalSignature, "digitalSignature"),
        (KeyUsages::NonRepudiation, "nonRepudiation"),
        (KeyUsages::KeyEncipherment, "keyEncipherment"),
        (KeyUsages::DataEncipherment, "dataEncipherment"),
        (KeyUsages::KeyAgreement, "keyAgreement"),
        (KeyUsages::KeyCertSign, "keyCertSign"),
        (KeyUsages::CRLSign, "cRLSign"),
    ];
    let key_usage: Vec<String> = usage
        .map(|u| {
            names
                .iter()
                .filter(|(flag, _)| u.0.contains(*flag))
                .map(|(_, n)| n.to_string())
                .collect()
        })
        .unwrap_or_default();
    let encrypts = key_usage.iter().any(|u| {
        matches!(
            u.as_str(),
            "keyEncipherment" | "dataEncipherment" | "keyAgreement"
        )
    });
    if !encrypts {
        return Err(
            "Das Zertifikat erlaubt keine Verschlüsselung (Schlüsselverwendung keyEncipherment, dataEncipherment oder keyAgreement fehlt); für das DVDV wird das Verschlüsselungszertifikat gebraucht.".into(),
        );
    }
    let der = cert
        .to_der()
        .map_err(|_| "Das Zertifikat ist nicht lesbar.".to_string())?;
    let fingerprint_sha256 = Sha256::digest(&der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    Ok((
        CertificateInfo {
            subject: tbs.subject.to_string(),
            issuer: tbs.issuer.to_string(),
            serial: tbs.serial_number.to_string(),
            fingerprint_sha256,
            not_before,
            not_after,
            key_usage,
        },
        der,
    ))
}

/// The first PEM block of `text`: its label and decoded content.
fn pem_block(text: &str) -> Result<(String, Vec<u8>), String> {
    let bad = || "Die PEM-Datei ist nicht lesbar.".to_string();
    let start = text.find("-----BEGIN ").ok_or_else(bad)?;
    let rest = &text[start + 11..];
    let label_end = rest.find("-----").ok_or_else(bad)?;
    let label = rest[..label_end].trim().to_string();
    let body = &rest[label_end + 5..];
    let end = body
        .find(&format!("-----END {label}-----"))
        .ok_or_else(bad)?;
    let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
    let der = openssl::base64::decode_block(&b64).map_err(|_| bad())?;
    Ok((label, der))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
        b.extend(13u32.to_be_bytes());
        b.extend(b"IHDR");
        b.extend(width.to_be_bytes());
        b.extend(height.to_be_bytes());
        b.extend([8, 6, 0, 0, 0]);
        b.extend([0; 4]); // CRC (not checked)
        b.extend(0u32.to_be_bytes());
        b.extend(b"IEND");
        b.extend([0xAE, 0x42, 0x60, 0x82]);
        b
    }

    #[test]
    fn png_is_accepted_with_its_size_and_broken_or_huge_ones_refused() {
        let ok = check_coat_of_arms(&png(200, 240)).unwrap();
        assert_eq!(ok.content_type, "image/png");
        assert_eq!((ok.width, ok.height), (Some(200), Some(240)));
        let mut cut = png(200, 240);
        cut.truncate(cut.len() - 6);
        assert!(check_coat_of_arms(&cut).unwrap_err().contains("beschädigt"));
        assert!(check_coat_of_arms(&png(10_000, 10))
            .unwrap_err()
            .contains("4096"));
        let mut big = png(10, 10);
        big.resize(MAX_COAT_OF_ARMS_BYTES + 1, 0);
        assert!(check_coat_of_arms(&big).unwrap_err().contains("512 KiB"));
        assert!(check_coat_of_arms(b"GIF89a....").is_err());
    }

    #[test]
    fn svg_with_drawing_only_passes_and_scripts_or_external_references_do_not() {
        let ok = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><defs><linearGradient id="g"><stop offset="0"/></linearGradient></defs><path d="M0 0h10v10z" fill="url(#g)"/></svg>"##;
        assert_eq!(
            check_coat_of_arms(ok.as_bytes()).unwrap().content_type,
            "image/svg+xml"
        );
        let refused = [
            r#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#,
            r#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>"#,
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:x="http://www.w3.org/1999/xlink"><use x:href="https://evil.example/a.svg#x"/></svg>"#,
            r#"<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><p>x</p></foreignObject></svg>"#,
            r#"<svg xmlns="http://www.w3.org/2000/svg"><image href="https://evil.example/x.png"/></svg>"#,
            r#"<svg xmlns="http://www.w3.org/2000/svg"><style>@import url(https://evil.example/a.css);</style></svg>"#,
            r#"<svg xmlns="http://www.w3.org/2000/svg"><rect fill="url(https://evil.example/p)"/></svg>"#,
            r#"<svg xmlns="http://www.w3.org/2000/svg"><a href="javascript:alert(1)"><rect/></a></svg>"#,
            r#"<!DOCTYPE svg [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg">&x;</svg>"#,
            r#"<svg xmlns="http://www.w3.org/2000/svg"><rect"#,
        ];
        for svg in refused {
            assert!(check_coat_of_arms(svg.as_bytes()).is_err(), "{svg}");
        }
    }
}
