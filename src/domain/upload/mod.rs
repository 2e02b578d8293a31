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

mod certificate;
mod svg;

use serde::Serialize;

pub use certificate::*;
use svg::*;

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

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

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
