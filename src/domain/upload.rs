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
    /// What the sanitised copy of an SVG left out (German, for the user).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

/// Checks a coat of arms (PNG or SVG, by content, not by name). Returns what was found
/// and the bytes to store: a PNG as uploaded; an SVG as a sanitised copy, re-serialised
/// from its parsed tree with allowed elements and attributes only.
pub fn check_coat_of_arms(bytes: &[u8]) -> Result<(CoatOfArms, Vec<u8>), String> {
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
        return check_png(bytes).map(|image| (image, bytes.to_vec()));
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
        removed: Vec::new(),
    })
}

/// Drawing elements an SVG coat of arms may keep. Everything else is removed with its
/// content: scripts, styles, images, links, `<foreignObject>`, animation (`<animate>`,
/// `<set>`, …), filters, fonts, and `<metadata>` (whatever a drawing program or an
/// attacker put there).
const SVG_ELEMENTS: &[&str] = &[
    "svg",
    "g",
    "defs",
    "title",
    "desc",
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

/// Elements whose text content is kept.
const SVG_TEXT_ELEMENTS: &[&str] = &["title", "desc", "text", "tspan"];

/// Attributes kept on those elements (geometry, presentation, references within the
/// file). Event handlers and anything else are removed.
const SVG_ATTRIBUTES: &[&str] = &[
    "id",
    "class",
    "style",
    "transform",
    "viewBox",
    "preserveAspectRatio",
    "version",
    "width",
    "height",
    "x",
    "y",
    "x1",
    "y1",
    "x2",
    "y2",
    "cx",
    "cy",
    "r",
    "rx",
    "ry",
    "fx",
    "fy",
    "d",
    "points",
    "pathLength",
    "fill",
    "fill-opacity",
    "fill-rule",
    "stroke",
    "stroke-width",
    "stroke-opacity",
    "stroke-linecap",
    "stroke-linejoin",
    "stroke-miterlimit",
    "stroke-dasharray",
    "stroke-dashoffset",
    "opacity",
    "color",
    "display",
    "visibility",
    "clip-path",
    "clip-rule",
    "clipPathUnits",
    "mask",
    "maskUnits",
    "maskContentUnits",
    "offset",
    "stop-color",
    "stop-opacity",
    "gradientUnits",
    "gradientTransform",
    "spreadMethod",
    "patternUnits",
    "patternContentUnits",
    "patternTransform",
    "font-family",
    "font-size",
    "font-weight",
    "font-style",
    "text-anchor",
    "dominant-baseline",
    "letter-spacing",
    "word-spacing",
    "dx",
    "dy",
    "rotate",
    "textLength",
    "lengthAdjust",
    "vector-effect",
    "shape-rendering",
    "paint-order",
    "href",
];

const SVG_NS: &str = "http://www.w3.org/2000/svg";
const XLINK_NS: &str = "http://www.w3.org/1999/xlink";

/// A sanitised SVG: the copy to store and what was removed from the upload.
struct CleanSvg {
    text: String,
    removed: std::collections::BTreeSet<String>,
    xlink: bool,
}

fn check_svg(text: &str) -> Result<(CoatOfArms, Vec<u8>), String> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, options)
        .map_err(|e| format!("Die SVG-Datei ist kein gültiges XML ohne DTD ({e})."))?;
    let root = doc.root_element();
    if root.tag_name().name() != "svg" || root.tag_name().namespace() != Some(SVG_NS) {
        return Err(
            "Die SVG-Datei muss mit einem <svg>-Element (Namensraum http://www.w3.org/2000/svg) beginnen."
                .into(),
        );
    }
    let mut clean = CleanSvg {
        text: String::new(),
        removed: Default::default(),
        xlink: false,
    };
    for node in doc.root().children() {
        if node.is_pi() {
            clean.removed.insert(format!(
                "Verarbeitungsanweisung <?{}?>",
                node.pi().map_or("", |p| p.target)
            ));
        }
    }
    let mut body = String::new();
    svg_element(root, &mut clean, &mut body);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // The root's own start tag, with the namespaces the copy needs.
    let open_end = body.find('>').unwrap_or(body.len());
    let (open, rest) = body.split_at(open_end);
    out.push_str(open);
    out.push_str(&format!(" xmlns=\"{SVG_NS}\""));
    if clean.xlink {
        out.push_str(&format!(" xmlns:xlink=\"{XLINK_NS}\""));
    }
    out.push_str(rest);
    out.push('\n');
    clean.text = out;
    Ok((
        CoatOfArms {
            content_type: "image/svg+xml",
            width: None,
            height: None,
            removed: clean.removed.into_iter().take(20).collect(),
        },
        clean.text.into_bytes(),
    ))
}

/// Writes `node` (an allowed element) with its allowed attributes and children.
fn svg_element(node: roxmltree::Node<'_, '_>, clean: &mut CleanSvg, out: &mut String) {
    let name = node.tag_name().name();
    out.push('<');
    out.push_str(name);
    for attr in node.attributes() {
        let shown = match attr.namespace() {
            Some(XLINK_NS) => format!("xlink:{}", attr.name()),
            Some(ns) if ns.contains("XML/1998/namespace") => format!("xml:{}", attr.name()),
            Some(_) => format!("fremdes Attribut {}", attr.name()),
            None => attr.name().to_string(),
        };
        let allowed = match attr.namespace() {
            None => SVG_ATTRIBUTES.contains(&attr.name()),
            Some(XLINK_NS) => attr.name() == "href",
            Some(_) => false,
        };
        if !allowed {
            clean.removed.insert(format!("Attribut {shown}"));
            continue;
        }
        let value = attr.value();
        if !safe_svg_value(attr.name(), value) {
            clean
                .removed
                .insert(format!("Attribut {shown} (Verweis oder Code)"));
            continue;
        }
        if attr.namespace() == Some(XLINK_NS) {
            clean.xlink = true;
        }
        out.push(' ');
        out.push_str(if attr.namespace() == Some(XLINK_NS) {
            "xlink:href"
        } else {
            attr.name()
        });
        out.push_str("=\"");
        out.push_str(&escape_xml(value));
        out.push('"');
    }
    out.push('>');
    let keeps_text = SVG_TEXT_ELEMENTS.contains(&name);
    for child in node.children() {
        if child.is_element() {
            let child_name = child.tag_name().name();
            if child.tag_name().namespace() == Some(SVG_NS) && SVG_ELEMENTS.contains(&child_name) {
                svg_element(child, clean, out);
            } else {
                clean.removed.insert(format!("<{child_name}>"));
            }
        } else if child.is_text() {
            let text = child.text().unwrap_or("");
            if keeps_text || text.trim().is_empty() {
                out.push_str(&escape_xml(text));
            }
        } else if child.is_pi() {
            clean.removed.insert("Verarbeitungsanweisung".into());
        }
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Whether an attribute's value stays inside the file and carries no code.
fn safe_svg_value(name: &str, value: &str) -> bool {
    let v: String = value
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase();
    if name == "href" {
        return v.starts_with('#');
    }
    !(v.contains("javascript:")
        || v.contains("data:")
        || v.contains("@import")
        || v.contains("expression(")
        || v.contains("behavior:")
        || v.contains("-moz-binding")
        || v.contains('\\')
        || v.contains("url(") && !only_local_urls(&v))
}

fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
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
    if bytes.windows(16).any(|w| w == b"PRIVATE KEY-----") {
        return Err(
            "Die Datei enthält einen privaten Schlüssel. Sie wurde nicht gespeichert. Bitte laden Sie nur das Zertifikat hoch. Der private Schlüssel hat damit Ihr Haus verlassen: Betrachten Sie ihn als kompromittiert, lassen Sie ein neues Schlüsselpaar mit Zertifikat ausstellen und das alte sperren.".into(),
        );
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
        let (ok, stored) = check_coat_of_arms(&png(200, 240)).unwrap();
        assert_eq!(stored, png(200, 240));
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
    fn svg_drawing_survives_the_sanitiser_unchanged_in_substance() {
        let ok = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><defs><linearGradient id="g"><stop offset="0"/></linearGradient></defs><path d="M0 0h10v10z" fill="url(#g)"/><text x="1">Köln &amp; Umgebung</text></svg>"##;
        let (image, bytes) = check_coat_of_arms(ok.as_bytes()).unwrap();
        assert_eq!(image.content_type, "image/svg+xml");
        assert!(image.removed.is_empty(), "{:?}", image.removed);
        let out = String::from_utf8(bytes).unwrap();
        assert!(
            out.contains(r#"<path d="M0 0h10v10z" fill="url(#g)"></path>"#),
            "{out}"
        );
        assert!(out.contains("Köln &amp; Umgebung"), "{out}");
        // The copy parses again, to the same result.
        let (again, bytes2) = check_coat_of_arms(out.as_bytes()).unwrap();
        assert!(again.removed.is_empty());
        assert_eq!(String::from_utf8(bytes2).unwrap(), out);
    }

    /// Every dangerous SVG we know of: either refused, or stored without the danger (and
    /// the user told what was removed).
    #[test]
    fn dangerous_svgs_are_refused_or_stored_without_the_danger() {
        const S: &str = r#"xmlns="http://www.w3.org/2000/svg""#;
        const X: &str = r#"xmlns:xlink="http://www.w3.org/1999/xlink""#;
        let cases: Vec<(String, &str)> = vec![
            (format!("<svg {S}><script>alert(1)</script></svg>"), "alert"),
            (format!(r#"<svg {S} onload="alert(1)"><rect/></svg>"#), "alert"),
            (format!(r#"<svg {S}><rect onclick="alert(1)"/></svg>"#), "alert"),
            (format!(r#"<svg {S} {X}><use xlink:href="https://evil.example/a.svg#x"/></svg>"#), "evil"),
            (format!(r#"<svg {S}><use href="https://evil.example/a.svg#x"/></svg>"#), "evil"),
            (format!("<svg {S}><foreignObject><p>x</p></foreignObject></svg>"), "foreignobject"),
            (format!(r#"<svg {S}><image href="https://evil.example/x.png"/></svg>"#), "evil"),
            (format!("<svg {S}><style>@import url(https://evil.example/a.css);</style></svg>"), "evil"),
            (format!(r#"<svg {S}><rect fill="url(https://evil.example/p)"/></svg>"#), "evil"),
            (format!(r#"<svg {S}><rect style="fill:url(https://evil.example/p)"/></svg>"#), "evil"),
            (format!(r#"<svg {S}><a href="javascript:alert(1)"><rect/></a></svg>"#), "javascript"),
            (format!(r#"<svg {S}><rect fill="javascript:alert(1)"/></svg>"#), "javascript"),
            (format!(r#"<svg {S}><use href="data:image/svg+xml;base64,PHN2Zz4="/></svg>"#), "data:"),
            (format!(r#"<svg {S}><rect style="background:url(data:text/html,x)"/></svg>"#), "data:"),
            (format!(r#"<svg {S}><rect style="width:expression(alert(1))"/></svg>"#), "alert"),
            (format!(r#"<svg {S}><rect style="behavior:url(#x)"/></svg>"#), "behavior"),
            (format!(r#"<svg {S}><animate attributeName="href" to="javascript:alert(1)"/></svg>"#), "javascript"),
            (format!(r#"<svg {S}><set attributeName="onmouseover" to="alert(1)"/></svg>"#), "alert"),
            (format!(r#"<svg {S}><rect><animate attributeName="fill" values="red"/></rect></svg>"#), "animate"),
            (format!(r#"<svg {S}><filter><feImage href="https://evil.example/x"/></filter></svg>"#), "evil"),
            (format!(r#"<svg {S}><iframe src="https://evil.example"/></svg>"#), "evil"),
            (format!(r#"<?xml-stylesheet href="https://evil.example/a.css"?><svg {S}><rect/></svg>"#), "evil"),
            (format!(r#"<svg {S}><rect fill="u&#x72;l(https://evil.example/p)"/></svg>"#), "evil"),
            (format!(r#"<svg {S}><rect style="fill:u\72l(https://evil.example/p)"/></svg>"#), "evil"),
            // The three that got through <metadata> before.
            (format!("<svg {S}><metadata><script>alert(document.domain)</script></metadata><rect/></svg>"), "alert"),
            (format!(r#"<svg {S}><metadata><foreignObject><iframe src="javascript:alert(1)"/></foreignObject></metadata><rect/></svg>"#), "javascript"),
            (format!(r#"<svg {S}><metadata><image href="http://tracker.example/track.png"/></metadata><rect/></svg>"#), "tracker"),
        ];
        let refused = [
            r#"<!DOCTYPE svg [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg">&x;</svg>"#,
            r#"<svg xmlns="http://www.w3.org/2000/svg"><rect"#,
            r#"<html><svg xmlns="http://www.w3.org/2000/svg"/></html>"#,
            r#"<svg><rect/></svg>"#,
        ];
        assert!(cases.len() + refused.len() >= 27 + 4);
        for (svg, needle) in &cases {
            match check_coat_of_arms(svg.as_bytes()) {
                Err(_) => {}
                Ok((image, bytes)) => {
                    let out = String::from_utf8(bytes).unwrap().to_ascii_lowercase();
                    assert!(!out.contains(needle), "{svg}\n→ {out}");
                    assert!(!out.contains("<script") && !out.contains(" on"), "{out}");
                    assert!(!image.removed.is_empty(), "nothing reported for {svg}");
                }
            }
        }
        for svg in refused {
            assert!(check_coat_of_arms(svg.as_bytes()).is_err(), "{svg}");
        }
    }

    #[test]
    fn a_private_key_anywhere_in_a_certificate_upload_is_refused() {
        let now = OffsetDateTime::now_utc();
        for key in [
            "PRIVATE KEY",
            "RSA PRIVATE KEY",
            "EC PRIVATE KEY",
            "ENCRYPTED PRIVATE KEY",
        ] {
            let pem = format!(
                "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN {key}-----\nMIIE\n-----END {key}-----\n"
            );
            let err = check_dvdv_certificate(pem.as_bytes(), now).unwrap_err();
            assert!(
                err.contains("privaten Schlüssel") && err.contains("kompromittiert"),
                "{err}"
            );
        }
    }
}
