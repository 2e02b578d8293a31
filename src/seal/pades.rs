//! Writes a PAdES signature into a PDF as an incremental update (ISO 32000-1 § 12.8,
//! ETSI EN 319 142-1): the original bytes stay as they are, and appended to them are
//! - a signature dictionary (`/Filter /Adobe.PPKLite`, `/SubFilter /ETSI.CAdES.detached`,
//!   `/M`, `/Reason`, `/Location`, `/ByteRange`, `/Contents`),
//! - an invisible signature field (widget) on the first page,
//! - the first page and the catalog again, now pointing to the field and the AcroForm,
//! - a cross-reference section and a trailer with `/Prev`.
//!
//! `/ByteRange` is written as a fixed-width placeholder and patched in place once the
//! offsets are known; `/Contents` is then filled with the hex of the CMS signature over
//! the two byte ranges, which together cover the whole file but the `/Contents` value.

use std::io::Write;

use lopdf::{Dictionary, Object, ObjectId};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{cms, SealError, Signer};

/// Bytes reserved for the CMS signature (the hex in the file is twice as long). An
/// RSA-3072 seal with a two-certificate chain needs about 3.5 KB.
pub const SIGNATURE_CAPACITY: usize = 12 * 1024;
/// With a timestamp token the CMS grows by the TSA's certificates.
pub const SIGNATURE_CAPACITY_WITH_TSA: usize = 32 * 1024;
/// Width of each number in the `/ByteRange` placeholder.
const RANGE_WIDTH: usize = 10;

/// What the signature dictionary says besides the signature.
#[derive(Debug, Clone)]
pub struct SealInfo {
    /// Goes into `/M` (PAdES: not into the CMS).
    pub time: OffsetDateTime,
    pub name: String,
    pub reason: String,
    pub location: String,
}

/// A PDF text string: UTF-16BE with byte-order mark, as hex, so any German text is safe.
fn text_string(s: &str) -> String {
    let mut hex = String::from("<FEFF");
    for unit in s.encode_utf16() {
        hex.push_str(&format!("{unit:04X}"));
    }
    hex.push('>');
    hex
}

/// `D:YYYYMMDDHHmmSS+00'00'`
pub fn pdf_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "D:{:04}{:02}{:02}{:02}{:02}{:02}+00'00'",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn write_object(out: &mut Vec<u8>, id: ObjectId, object: &Object) -> Result<(), SealError> {
    writeln!(out, "{} {} obj", id.0, id.1).map_err(io)?;
    serialize(out, object)?;
    out.extend_from_slice(b"\nendobj\n");
    Ok(())
}

/// Writes a direct object (what catalogs, pages and trailers hold; no streams).
fn serialize(out: &mut Vec<u8>, object: &Object) -> Result<(), SealError> {
    match object {
        Object::Null => out.extend_from_slice(b"null"),
        Object::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Object::Integer(i) => write!(out, "{i}").map_err(io)?,
        Object::Real(r) => write!(out, "{r}").map_err(io)?,
        Object::Name(n) => {
            out.push(b'/');
            for &b in n {
                if b.is_ascii_alphanumeric() || b"-_.+".contains(&b) {
                    out.push(b);
                } else {
                    write!(out, "#{b:02X}").map_err(io)?;
                }
            }
        }
        Object::String(s, _) => {
            out.push(b'<');
            out.extend_from_slice(hex::encode_upper(s).as_bytes());
            out.push(b'>');
        }
        Object::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                serialize(out, item)?;
            }
            out.push(b']');
        }
        Object::Dictionary(d) => {
            out.extend_from_slice(b"<<");
            for (key, value) in d.iter() {
                out.push(b' ');
                serialize(out, &Object::Name(key.clone()))?;
                out.push(b' ');
                serialize(out, value)?;
            }
            out.extend_from_slice(b" >>");
        }
        Object::Reference((id, gen)) => write!(out, "{id} {gen} R").map_err(io)?,
        Object::Stream(_) => {
            return Err(SealError::Pdf(
                "ein Stream kann hier nicht geschrieben werden".into(),
            ))
        }
    }
    Ok(())
}

fn io(e: std::io::Error) -> SealError {
    SealError::Pdf(e.to_string())
}

fn pdf_err(e: lopdf::Error) -> SealError {
    SealError::Pdf(format!("das PDF ist nicht lesbar: {e}"))
}

/// The offset the last `startxref` points to.
fn last_startxref(pdf: &[u8]) -> Result<usize, SealError> {
    let tail_start = pdf.len().saturating_sub(1024);
    let tail = &pdf[tail_start..];
    let pos = tail
        .windows(9)
        .rposition(|w| w == b"startxref")
        .ok_or_else(|| SealError::Pdf("startxref fehlt".into()))?;
    let digits: String = tail[pos + 9..]
        .iter()
        .map(|b| *b as char)
        .skip_while(|c| c.is_ascii_whitespace())
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits
        .parse()
        .map_err(|_| SealError::Pdf("startxref unlesbar".into()))
}

/// Seals `pdf`: returns the PDF with the signature appended as an incremental update.
pub fn seal(
    pdf: &[u8],
    signer: &dyn Signer,
    info: &SealInfo,
    timestamp: Option<cms::Stamper<'_>>,
) -> Result<Vec<u8>, SealError> {
    let doc = lopdf::Document::load_mem(pdf).map_err(pdf_err)?;
    append(pdf.to_vec(), &doc, signer, info, timestamp)
}

/// Saves `doc` and seals it, without reading the saved bytes back: what the registry
/// does with the documents it renders itself.
pub fn seal_document(
    doc: &mut lopdf::Document,
    signer: &dyn Signer,
    info: &SealInfo,
    timestamp: Option<cms::Stamper<'_>>,
) -> Result<Vec<u8>, SealError> {
    let mut pdf = Vec::new();
    doc.save_to(&mut pdf).map_err(io)?;
    append(pdf, doc, signer, info, timestamp)
}

/// Appends the signature to `pdf`, whose structure `doc` describes.
fn append(
    pdf: Vec<u8>,
    doc: &lopdf::Document,
    signer: &dyn Signer,
    info: &SealInfo,
    timestamp: Option<cms::Stamper<'_>>,
) -> Result<Vec<u8>, SealError> {
    let prev_xref = last_startxref(&pdf)?;
    let root_id = doc
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .map_err(pdf_err)?;
    let mut catalog: Dictionary = doc.get_dictionary(root_id).map_err(pdf_err)?.clone();
    let first_page = *doc
        .get_pages()
        .values()
        .next()
        .ok_or_else(|| SealError::Pdf("das PDF hat keine Seite".into()))?;
    let mut page: Dictionary = doc.get_dictionary(first_page).map_err(pdf_err)?.clone();

    let sig_id: ObjectId = (doc.max_id + 1, 0);
    let field_id: ObjectId = (doc.max_id + 2, 0);
    let size = doc.max_id + 3;

    let mut annots = match page.get(b"Annots") {
        Ok(Object::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    annots.push(Object::Reference(field_id));
    page.set("Annots", Object::Array(annots));
    let mut acroform = Dictionary::new();
    acroform.set("Fields", Object::Array(vec![Object::Reference(field_id)]));
    // SignaturesExist | AppendOnly
    acroform.set("SigFlags", Object::Integer(3));
    catalog.set("AcroForm", Object::Dictionary(acroform));

    let mut field = Dictionary::new();
    field.set("Type", Object::Name(b"Annot".to_vec()));
    field.set("Subtype", Object::Name(b"Widget".to_vec()));
    field.set("FT", Object::Name(b"Sig".to_vec()));
    field.set("T", Object::string_literal("Siegel d-NRW"));
    field.set("V", Object::Reference(sig_id));
    field.set("P", Object::Reference(first_page));
    field.set(
        "Rect",
        Object::Array(vec![0.into(), 0.into(), 0.into(), 0.into()]),
    );
    // Print | Locked
    field.set("F", Object::Integer(132));

    let capacity = if timestamp.is_some() {
        SIGNATURE_CAPACITY_WITH_TSA
    } else {
        SIGNATURE_CAPACITY
    };
    let mut out = pdf;
    out.reserve(2 * capacity + 4096);
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let mut offsets: Vec<(ObjectId, usize)> = Vec::new();

    // The signature dictionary, written by hand for the placeholders.
    offsets.push((sig_id, out.len()));
    let placeholder = format!("{:>w$}", 0, w = RANGE_WIDTH);
    write!(
        out,
        "{} 0 obj\n<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached \
         /Name {} /M ({}) /Reason {} /Location {} /ByteRange [",
        sig_id.0,
        text_string(&info.name),
        pdf_date(info.time),
        text_string(&info.reason),
        text_string(&info.location),
    )
    .map_err(io)?;
    let range_at = out.len();
    write!(
        out,
        "{placeholder} {placeholder} {placeholder} {placeholder}] /Contents "
    )
    .map_err(io)?;
    let contents_start = out.len();
    out.push(b'<');
    out.resize(out.len() + 2 * capacity, b'0');
    out.push(b'>');
    let contents_end = out.len();
    out.extend_from_slice(b" >>\nendobj\n");

    for (id, object) in [
        (field_id, Object::Dictionary(field)),
        (first_page, Object::Dictionary(page)),
        (root_id, Object::Dictionary(catalog)),
    ] {
        offsets.push((id, out.len()));
        write_object(&mut out, id, &object)?;
    }

    let xref_at = out.len();
    offsets.sort_by_key(|(id, _)| id.0);
    out.extend_from_slice(b"xref\n");
    for (id, offset) in &offsets {
        write!(out, "{} 1\n{:010} {:05} n\r\n", id.0, offset, id.1).map_err(io)?;
    }
    let mut trailer = Dictionary::new();
    trailer.set("Size", Object::Integer(size as i64));
    trailer.set("Root", Object::Reference(root_id));
    for key in [b"Info".as_slice(), b"ID".as_slice()] {
        if let Ok(v) = doc.trailer.get(key) {
            trailer.set(key.to_vec(), v.clone());
        }
    }
    trailer.set("Prev", Object::Integer(prev_xref as i64));
    out.extend_from_slice(b"trailer\n");
    serialize(&mut out, &Object::Dictionary(trailer))?;
    write!(out, "\nstartxref\n{xref_at}\n%%EOF\n").map_err(io)?;

    // Patch the byte range, then sign what it covers.
    let ranges = [0, contents_start, contents_end, out.len() - contents_end];
    let patched = ranges
        .iter()
        .map(|n| format!("{n:>w$}", w = RANGE_WIDTH))
        .collect::<Vec<_>>()
        .join(" ");
    out[range_at..range_at + patched.len()].copy_from_slice(patched.as_bytes());

    let mut hasher = Sha256::new();
    hasher.update(&out[..contents_start]);
    hasher.update(&out[contents_end..]);
    let digest = hasher.finalize();
    let signature = cms::sign(&digest, signer, timestamp)?;
    if signature.len() > capacity {
        return Err(SealError::Sign(format!(
            "die Signatur ({} Bytes) passt nicht in den reservierten Platz ({capacity} Bytes)",
            signature.len()
        )));
    }
    let hex = hex::encode_upper(&signature);
    out[contents_start + 1..contents_start + 1 + hex.len()].copy_from_slice(hex.as_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_strings_are_utf16_hex_and_dates_are_utc() {
        assert_eq!(text_string("Aß"), "<FEFF004100DF>");
        let t = time::macros::datetime!(2026-11-24 01:02:03 +01:00);
        assert_eq!(pdf_date(t), "D:20261124000203+00'00'");
    }

    #[test]
    fn startxref_is_found_at_the_end() {
        let pdf = b"%PDF-1.3\n...\nstartxref\n1234\n%%EOF\n";
        assert_eq!(last_startxref(pdf).unwrap(), 1234);
        assert!(last_startxref(b"%PDF-1.3\n").is_err());
    }
}
