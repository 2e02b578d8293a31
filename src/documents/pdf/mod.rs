//! Lays out a contract text (the line format of `contracts/README.md`) on A4 pages and
//! writes the PDF with printpdf: DejaVu Sans embedded (German glyphs), headings, numbered
//! sections, ragged-right paragraphs broken by the font's glyph widths, lists with a
//! hanging indent, a header with the reference, a footer "Seite x von y", and an evidence
//! page. printpdf 0.12 has no text wrapping, so the line breaking is ours.

mod layout;
mod pages;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use printpdf::{FontId, Mm, ParsedFont, PdfDocument, PdfPage, PdfSaveOptions};

use crate::documents::subset;
use crate::documents::text::ContractText;
use crate::error::{AppError, AppResult};

use layout::*;
pub use pages::*;

const PAGE_W: f32 = 210.0;

const PAGE_H: f32 = 297.0;

const LEFT: f32 = 25.0;

const RIGHT: f32 = 20.0;

const TOP: f32 = 27.0;

const BOTTOM: f32 = 22.0;

const PT_PER_MM: f32 = 72.0 / 25.4;

/// What a rendering is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Unsigned preview: every page says ENTWURF.
    Draft,
    /// The text as it will be sealed.
    Final,
}

/// A face of DejaVu Sans: its metrics (for line breaking) and printpdf's parse of it,
/// both made once per process.
struct Font {
    bytes: &'static [u8],
    face: ttf_parser::Face<'static>,
    parsed: ParsedFont,
    /// Advance widths of U+0000 … U+2FFF in font units, for line breaking.
    advances: Vec<u16>,
    /// Subsets made, by glyph set (documents of one kind use the same glyphs).
    subsets: Mutex<Vec<(BTreeSet<u16>, Vec<u8>)>>,
}

/// Characters whose advance width is looked up in a table (Latin, punctuation, symbols).
const ADVANCE_TABLE: u32 = 0x3000;

/// The advance of `c` in font units (half an em for characters the font lacks).
fn advance(face: &ttf_parser::Face<'_>, c: char) -> u16 {
    face.glyph_index(c)
        .and_then(|g| face.glyph_hor_advance(g))
        .unwrap_or(face.units_per_em() / 2)
}

static REGULAR: OnceLock<Result<Font, String>> = OnceLock::new();

static BOLD: OnceLock<Result<Font, String>> = OnceLock::new();

impl Font {
    fn parse(bytes: &'static [u8]) -> Result<Font, String> {
        let parsed =
            ParsedFont::from_bytes(bytes, 0, &mut Vec::new()).ok_or("embedded font unreadable")?;
        let face = ttf_parser::Face::parse(bytes, 0).map_err(|e| format!("font: {e}"))?;
        let advances = (0..ADVANCE_TABLE)
            .map(|cp| char::from_u32(cp).map_or(0, |c| advance(&face, c)))
            .collect();
        Ok(Font {
            bytes,
            face,
            parsed,
            advances,
            subsets: Mutex::new(Vec::new()),
        })
    }

    fn get(
        cell: &'static OnceLock<Result<Font, String>>,
        bytes: &'static [u8],
    ) -> AppResult<&'static Font> {
        cell.get_or_init(|| Font::parse(bytes))
            .as_ref()
            .map_err(|e| AppError::internal(e.clone()))
    }

    fn regular() -> AppResult<&'static Font> {
        Font::get(&REGULAR, dejavu::sans::regular())
    }

    fn bold() -> AppResult<&'static Font> {
        Font::get(&BOLD, dejavu::sans::bold())
    }

    /// Adds this face to `doc`, subset to the characters of `used` (glyph ids stay).
    fn add_to(&self, doc: &mut PdfDocument, used: &BTreeSet<char>) -> FontId {
        let mut codepoint_to_glyph = BTreeMap::new();
        let mut glyph_widths = BTreeMap::new();
        let mut glyphs = BTreeSet::new();
        for c in used {
            if let Some(&g) = self.parsed.codepoint_to_glyph.get(&(*c as u32)) {
                codepoint_to_glyph.insert(*c as u32, g);
                glyphs.insert(g);
                if let Some(&w) = self.parsed.glyph_widths.get(&g) {
                    glyph_widths.insert(g, w);
                }
            }
        }
        let font = ParsedFont {
            original_bytes: self.subset(&glyphs),
            font_index: 0,
            font_name: self.parsed.font_name.clone(),
            codepoint_to_glyph,
            glyph_widths,
            units_per_em: self.parsed.units_per_em,
            font_metrics: self.parsed.font_metrics.clone(),
            font_type: self.parsed.font_type,
            pdf_font_metrics: self.parsed.pdf_font_metrics.clone(),
        };
        doc.add_font(&font)
    }

    /// The font program with the outlines of `glyphs` only (the whole font if it cannot
    /// be subset).
    fn subset(&self, glyphs: &BTreeSet<u16>) -> Vec<u8> {
        let lock = || self.subsets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, bytes)) = lock().iter().find(|(g, _)| g == glyphs) {
            return bytes.clone();
        }
        let bytes = subset::subset(self.bytes, glyphs).unwrap_or_else(|| self.bytes.to_vec());
        let mut subsets = lock();
        if subsets.len() == FontStreams::CAPACITY {
            subsets.remove(0);
        }
        subsets.push((glyphs.clone(), bytes.clone()));
        bytes
    }

    /// The advance of one character in font units.
    fn char_units(&self, c: char) -> u32 {
        match self.advances.get(c as usize) {
            Some(&a) => a as u32,
            None => advance(&self.face, c) as u32,
        }
    }

    /// Width of `text` at `size` points, in millimetres.
    fn width_mm(&self, text: &str, size: f32) -> f32 {
        let units: u32 = text.chars().map(|c| self.char_units(c)).sum();
        units as f32 / self.face.units_per_em() as f32 * size / PT_PER_MM
    }
}

/// Renders the contract text as a PDF.
pub fn render(text: &ContractText, purpose: Purpose, annex: &Annex) -> AppResult<Vec<u8>> {
    let mut doc = render_document(text, purpose, annex)?;
    let mut out = Vec::new();
    doc.save_to(&mut out)
        .map_err(|e| AppError::internal(format!("pdf: {e}")))?;
    Ok(out)
}

/// zlib level of the page streams (new in every document): the fastest level. Font
/// programs are compressed harder, once per distinct subset (see [`FontStreams`]).
const CONTENT_COMPRESSION: u32 = 1;

const FONT_COMPRESSION: u32 = 9;

fn deflate(data: &[u8], level: u32) -> AppResult<Vec<u8>> {
    let mut z = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(data.len() / 3),
        flate2::Compression::new(level),
    );
    z.write_all(data)
        .and_then(|_| z.finish())
        .map_err(|e| AppError::internal(format!("pdf: {e}")))
}

/// Compressed font programs by content: documents of one kind use the same characters,
/// so their font subsets are byte for byte the same and are compressed once.
struct FontStreams {
    /// (font program, its zlib stream), oldest first.
    entries: Mutex<Vec<CompressedFont>>,
}

type CompressedFont = (Arc<Vec<u8>>, Arc<Vec<u8>>);

impl FontStreams {
    const CAPACITY: usize = 32;

    fn compressed(&self, program: &[u8]) -> AppResult<Arc<Vec<u8>>> {
        let lock = || self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, z)) = lock().iter().find(|(p, _)| p.as_slice() == program) {
            return Ok(z.clone());
        }
        let z = Arc::new(deflate(program, FONT_COMPRESSION)?);
        let mut entries = lock();
        if entries.len() == Self::CAPACITY {
            entries.remove(0);
        }
        entries.push((Arc::new(program.to_vec()), z.clone()));
        Ok(z)
    }
}

static FONT_STREAMS: FontStreams = FontStreams {
    entries: Mutex::new(Vec::new()),
};

/// The rendered PDF as a document structure, streams compressed, ready to save or seal.
pub fn render_document(
    text: &ContractText,
    purpose: Purpose,
    annex: &Annex,
) -> AppResult<lopdf::Document> {
    let blocks = blocks(&text.text);
    let title = blocks
        .iter()
        .find_map(|b| match b {
            Block::Title(t) => Some(t.as_str()),
            _ => None,
        })
        .unwrap_or("Vereinbarung");
    let mut doc = PdfDocument::new(&format!(
        "{title} {}, Fassung {}{}",
        text.reference,
        text.version_no,
        if purpose == Purpose::Draft {
            " (Entwurf)"
        } else {
            ""
        }
    ));
    let info = &mut doc.metadata.info;
    info.author = "d-NRW AöR".into();
    info.creator = "Nachnutzungsregister der d-NRW AöR".into();
    info.producer = "Nachnutzungsregister der d-NRW AöR".into();
    info.subject = annex.subject.clone();
    if let Some(at) = annex
        .issued_at
        .and_then(|t| printpdf::OffsetDateTime::from_unix_timestamp(t.unix_timestamp()).ok())
    {
        info.creation_date = at;
        info.modification_date = at;
        info.metadata_date = at;
    }
    let regular = Font::regular()?;
    let bold = Font::bold()?;
    let mut layout = Layout {
        regular,
        bold,
        pages: Vec::new(),
        frames: Vec::new(),
        rules: Vec::new(),
        y: 0.0,
    };
    layout.new_page();
    let mut after_list = false;
    let mut after_letterhead = false;
    for block in blocks {
        // A list ends with a little air before what follows.
        if after_list && !matches!(block, Block::Item(_)) {
            layout.space(1.5);
        }
        after_list = matches!(block, Block::Item(_));
        // The letterhead ends with a rule.
        if after_letterhead && !matches!(block, Block::Letterhead(_)) {
            layout.space(2.0);
            layout.rule();
            layout.space(6.0);
        }
        let letterhead = matches!(block, Block::Letterhead(_));
        match block {
            Block::Letterhead(t) => {
                layout.lines(&t, 9.0, !after_letterhead, 0.0, None, 1);
            }
            Block::Title(t) => {
                if !after_letterhead && layout.pages.last().is_some_and(|p| !p.is_empty()) {
                    layout.new_page();
                }
                layout.lines(&t, 16.0, true, 0.0, None, 3);
                layout.space(3.0);
            }
            Block::Section(t) => {
                layout.space(3.0);
                layout.lines(&t, 12.0, true, 0.0, None, 3);
                layout.space(1.0);
            }
            Block::Sub(t) => {
                layout.space(1.5);
                layout.lines(&t, 10.5, true, 0.0, None, 3);
            }
            Block::Item(t) => layout.lines(&t, 10.0, false, 6.0, Some("–"), 1),
            Block::Paragraph(t) => {
                layout.lines(&t, 10.0, false, 0.0, None, 2);
                layout.space(2.0);
            }
        }
        after_letterhead = letterhead;
    }
    signature_page(&mut layout, annex, purpose);
    evidence(&mut layout, text, annex);

    let total = layout.pages.len();
    let header = match purpose {
        Purpose::Draft => format!(
            "{} · Fassung {} · ENTWURF – nicht unterzeichnet",
            text.reference, text.version_no
        ),
        Purpose::Final => format!("{} · Fassung {}", text.reference, text.version_no),
    };
    // Every page's footer: how to check the sealed document, or that this is a draft.
    let note = match (purpose, &annex.document_id) {
        (Purpose::Draft, _) => "Entwurf – nicht unterzeichnet, ohne Rechtswirkung".to_string(),
        (Purpose::Final, Some(id)) => match &annex.verify_url {
            Some(url) => format!("Dokument-ID {id} · prüfbar unter {url}"),
            None => format!("Dokument-ID {id}"),
        },
        (Purpose::Final, None) => String::new(),
    };
    // Only the characters on the pages go into the embedded fonts.
    let mut used_regular: BTreeSet<char> = header.chars().collect();
    used_regular.extend(note.chars());
    used_regular.extend("Seite von 0123456789".chars());
    let mut used_bold = BTreeSet::new();
    for l in layout.pages.iter().flatten() {
        let set = if l.bold {
            &mut used_bold
        } else {
            &mut used_regular
        };
        set.extend(l.text.chars());
    }
    let regular_id = regular.add_to(&mut doc, &used_regular);
    let bold_id = bold.add_to(&mut doc, &used_bold);
    let pages = layout
        .pages
        .iter()
        .enumerate()
        .map(|(i, lines)| {
            let mut page = PageOps::new(lines.len());
            page.text(&regular_id, 8.0, LEFT, PAGE_H - 15.0, &header);
            let footer = format!("Seite {} von {}", i + 1, total);
            let w = regular.width_mm(&footer, 8.0);
            page.text(&regular_id, 8.0, PAGE_W - RIGHT - w, 12.0, &footer);
            if !note.is_empty() {
                page.text(&regular_id, 7.0, LEFT, 12.0, &note);
            }
            for l in lines {
                let font = if l.bold { &bold_id } else { &regular_id };
                page.text(font, l.size, l.x, l.y, &l.text);
            }
            for (_, y) in layout.rules.iter().filter(|(p, _)| *p == i) {
                stroke(&mut page.ops, &[(LEFT, *y), (PAGE_W - RIGHT, *y)], false);
            }
            for (_, [x, y, w, h]) in layout.frames.iter().filter(|(p, _)| *p == i) {
                stroke(
                    &mut page.ops,
                    &[(*x, *y), (*x + *w, *y), (*x + *w, *y + *h), (*x, *y + *h)],
                    true,
                );
            }
            PdfPage::new(Mm(PAGE_W), Mm(PAGE_H), page.ops)
        })
        .collect();
    let options = PdfSaveOptions {
        optimize: false,
        ..PdfSaveOptions::default()
    };
    let mut doc = doc
        .with_pages(pages)
        .to_lopdf_document(&options, &mut Vec::new());
    for object in doc.objects.values_mut() {
        if let lopdf::Object::Stream(stream) = object {
            if stream.allows_compression && stream.dict.get(b"Filter").is_err() {
                // Font programs carry /Length1 (their uncompressed length).
                let compressed = if stream.dict.get(b"Length1").is_ok() {
                    FONT_STREAMS.compressed(&stream.content)?.to_vec()
                } else {
                    deflate(&stream.content, CONTENT_COMPRESSION)?
                };
                stream.dict.set("Filter", "FlateDecode");
                stream.set_content(compressed);
            }
        }
    }
    claim_no_conformance(&mut doc);
    Ok(doc)
}

/// printpdf writes `/GTS_PDFXVersion` (empty) into the document information, which
/// validators read as a claim of PDF/X (ISO 15930) that the document does not meet;
/// empty `/Identifier` and `/Keywords` say nothing. They are removed, so the file claims
/// no conformance level it has not been checked against.
fn claim_no_conformance(doc: &mut lopdf::Document) {
    let Ok(lopdf::Object::Reference(id)) = doc.trailer.get(b"Info").cloned() else {
        return;
    };
    if let Ok(lopdf::Object::Dictionary(info)) = doc.get_object_mut(id) {
        info.remove(b"GTS_PDFXVersion");
        for key in [&b"Identifier"[..], b"Keywords"] {
            let empty = match info.get(key) {
                Ok(lopdf::Object::String(s, _)) => s.is_empty() || s == b"\xfe\xff",
                _ => false,
            };
            if empty {
                info.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_break_within_the_width_and_keep_every_word() {
        let font = Font::regular().unwrap();
        let text = "Die Kommune ruft den Online-Dienst „Wohngeld“ zur Nachnutzung ab; technische und organisatorische Maßnahmen nach Art. 32 DSGVO sind vereinbart.";
        let lines = wrap(font, text, 10.0, 60.0);
        assert!(lines.len() > 2);
        for l in &lines {
            assert!(font.width_mm(l, 10.0) <= 60.0, "{l}");
        }
        assert_eq!(lines.join(" "), text);
        let long = wrap(font, &"x".repeat(200), 10.0, 30.0);
        assert!(long.len() > 1 && long.iter().all(|l| font.width_mm(l, 10.0) <= 30.0));
    }
}
