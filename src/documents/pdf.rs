//! Lays out a contract text (the line format of `contracts/README.md`) on A4 pages and
//! writes the PDF with printpdf: DejaVu Sans embedded (German glyphs), headings, numbered
//! sections, ragged-right paragraphs broken by the font's glyph widths, lists with a
//! hanging indent, a header with the reference, a footer "Seite x von y", and an evidence
//! page. printpdf 0.12 has no text wrapping, so the line breaking is ours.

use printpdf::{
    FontId, Mm, Op, ParsedFont, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt,
    TextItem,
};

use super::text::ContractText;
use crate::error::{AppError, AppResult};

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

/// A font with the metrics we break lines by.
struct Font {
    id: FontId,
    face: ttf_parser::Face<'static>,
}

impl Font {
    fn load(doc: &mut PdfDocument, bytes: &'static [u8]) -> AppResult<Font> {
        let parsed = ParsedFont::from_bytes(bytes, 0, &mut Vec::new())
            .ok_or_else(|| AppError::internal("embedded font unreadable"))?;
        let face = ttf_parser::Face::parse(bytes, 0)
            .map_err(|e| AppError::internal(format!("font: {e}")))?;
        Ok(Font {
            id: doc.add_font(&parsed),
            face,
        })
    }

    /// Width of `text` at `size` points, in millimetres.
    fn width_mm(&self, text: &str, size: f32) -> f32 {
        let units: u32 = text
            .chars()
            .map(|c| {
                self.face
                    .glyph_index(c)
                    .and_then(|g| self.face.glyph_hor_advance(g))
                    .unwrap_or(self.face.units_per_em() / 2) as u32
            })
            .sum();
        units as f32 / self.face.units_per_em() as f32 * size / PT_PER_MM
    }
}

/// One line placed on a page.
struct Placed {
    x: f32,
    y: f32,
    size: f32,
    bold: bool,
    text: String,
}

/// The kinds of block in the line format.
enum Block {
    Title(String),
    Section(String),
    Sub(String),
    Item(String),
    Paragraph(String),
}

fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut para: Vec<&str> = Vec::new();
    let flush = |para: &mut Vec<&str>, out: &mut Vec<Block>| {
        if !para.is_empty() {
            out.push(Block::Paragraph(para.join(" ")));
            para.clear();
        }
    };
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() {
            flush(&mut para, &mut out);
        } else if let Some(t) = l.strip_prefix("### ") {
            flush(&mut para, &mut out);
            out.push(Block::Sub(t.to_string()));
        } else if let Some(t) = l.strip_prefix("## ") {
            flush(&mut para, &mut out);
            out.push(Block::Section(t.to_string()));
        } else if let Some(t) = l.strip_prefix("# ") {
            flush(&mut para, &mut out);
            out.push(Block::Title(t.to_string()));
        } else if let Some(t) = l.strip_prefix("- ") {
            flush(&mut para, &mut out);
            out.push(Block::Item(t.to_string()));
        } else {
            para.push(l);
        }
    }
    flush(&mut para, &mut out);
    out
}

/// Greedy line breaking by glyph widths; a word longer than the line is split.
fn wrap(font: &Font, text: &str, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let candidate = if current.is_empty() {
            word.to_string()
        } else {
            format!("{current} {word}")
        };
        if font.width_mm(&candidate, size) <= width {
            current = candidate;
            continue;
        }
        if !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        let mut piece = String::new();
        for c in word.chars() {
            piece.push(c);
            if font.width_mm(&piece, size) > width && piece.chars().count() > 1 {
                piece.pop();
                lines.push(std::mem::take(&mut piece));
                piece.push(c);
            }
        }
        current = piece;
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// Pages of placed lines.
struct Layout<'a> {
    regular: &'a Font,
    bold: &'a Font,
    pages: Vec<Vec<Placed>>,
    y: f32,
}

impl Layout<'_> {
    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = PAGE_H - TOP;
    }

    fn space(&mut self, mm: f32) {
        self.y -= mm;
    }

    /// Places wrapped lines at `indent`; `first` prefixes the first line (a bullet) in the
    /// hanging indent. `keep` lines must fit on the page together (headings with text).
    fn lines(
        &mut self,
        text: &str,
        size: f32,
        bold: bool,
        indent: f32,
        first: Option<&str>,
        keep: usize,
    ) {
        let font = if bold { self.bold } else { self.regular };
        let lead = size * 1.4 / PT_PER_MM;
        let width = PAGE_W - LEFT - RIGHT - indent;
        let lines = wrap(font, text, size, width);
        if self.y - lead * (lines.len().min(keep.max(1)) as f32) < BOTTOM {
            self.new_page();
        }
        for (i, line) in lines.into_iter().enumerate() {
            if self.y - lead < BOTTOM {
                self.new_page();
            }
            self.y -= lead;
            if let (0, Some(bullet)) = (i, first) {
                self.place(LEFT + indent - 5.0, size, bold, bullet.to_string());
            }
            self.place(LEFT + indent, size, bold, line);
        }
    }

    fn place(&mut self, x: f32, size: f32, bold: bool, text: String) {
        let y = self.y;
        if let Some(page) = self.pages.last_mut() {
            page.push(Placed {
                x,
                y,
                size,
                bold,
                text,
            });
        }
    }
}

fn text_op(ops: &mut Vec<Op>, font: &Font, size: f32, x: f32, y: f32, text: &str) {
    ops.push(Op::StartTextSection);
    ops.push(Op::SetFont {
        font: PdfFontHandle::External(font.id.clone()),
        size: Pt(size),
    });
    ops.push(Op::SetTextCursor {
        pos: Point::new(Mm(x), Mm(y)),
    });
    ops.push(Op::ShowText {
        items: vec![TextItem::Text(text.to_string())],
    });
    ops.push(Op::EndTextSection);
}

/// The evidence page: what identifies this text.
fn evidence(layout: &mut Layout<'_>, text: &ContractText) {
    layout.new_page();
    layout.lines("Nachweisblatt", 14.0, true, 0.0, None, 2);
    layout.space(2.0);
    for (label, value) in [
        ("Vereinbarung", text.reference.clone()),
        (
            "Dokument-Id",
            format!("{}/{}", text.agreement_id, text.version_no),
        ),
        ("Vorlagen", text.templates.join(", ")),
        ("SHA-256 des Vertragstexts", text.sha256.clone()),
    ] {
        layout.lines(label, 10.0, true, 0.0, None, 2);
        layout.lines(&value, 10.0, false, 0.0, None, 1);
        layout.space(1.5);
    }
}

/// Renders the contract text as a PDF.
pub fn render(text: &ContractText, purpose: Purpose) -> AppResult<Vec<u8>> {
    let mut doc = PdfDocument::new(&format!("{} – Fassung {}", text.reference, text.version_no));
    let regular = Font::load(&mut doc, dejavu::sans::regular())?;
    let bold = Font::load(&mut doc, dejavu::sans::bold())?;
    let mut layout = Layout {
        regular: &regular,
        bold: &bold,
        pages: Vec::new(),
        y: 0.0,
    };
    layout.new_page();
    let mut after_list = false;
    for block in blocks(&text.text) {
        // A list ends with a little air before what follows.
        if after_list && !matches!(block, Block::Item(_)) {
            layout.space(1.5);
        }
        after_list = matches!(block, Block::Item(_));
        match block {
            Block::Title(t) => {
                if layout.pages.last().is_some_and(|p| !p.is_empty()) {
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
    }
    evidence(&mut layout, text);

    let total = layout.pages.len();
    let header = match purpose {
        Purpose::Draft => format!(
            "{} · Fassung {} · ENTWURF – nicht unterzeichnet",
            text.reference, text.version_no
        ),
        Purpose::Final => format!("{} · Fassung {}", text.reference, text.version_no),
    };
    let pages = layout
        .pages
        .iter()
        .enumerate()
        .map(|(i, lines)| {
            let mut ops = Vec::with_capacity(lines.len() * 5 + 10);
            text_op(&mut ops, &regular, 8.0, LEFT, PAGE_H - 15.0, &header);
            let footer = format!("Seite {} von {}", i + 1, total);
            let w = regular.width_mm(&footer, 8.0);
            text_op(&mut ops, &regular, 8.0, PAGE_W - RIGHT - w, 12.0, &footer);
            for l in lines {
                let font = if l.bold { &bold } else { &regular };
                text_op(&mut ops, font, l.size, l.x, l.y, &l.text);
            }
            PdfPage::new(Mm(PAGE_W), Mm(PAGE_H), ops)
        })
        .collect();
    Ok(doc
        .with_pages(pages)
        .save(&PdfSaveOptions::default(), &mut Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_break_within_the_width_and_keep_every_word() {
        let mut doc = PdfDocument::new("t");
        let font = Font::load(&mut doc, dejavu::sans::regular()).unwrap();
        let text = "Die Kommune ruft den Online-Dienst „Wohngeld“ zur Nachnutzung ab; technische und organisatorische Maßnahmen nach Art. 32 DSGVO sind vereinbart.";
        let lines = wrap(&font, text, 10.0, 60.0);
        assert!(lines.len() > 2);
        for l in &lines {
            assert!(font.width_mm(l, 10.0) <= 60.0, "{l}");
        }
        assert_eq!(lines.join(" "), text);
        let long = wrap(&font, &"x".repeat(200), 10.0, 30.0);
        assert!(long.len() > 1 && long.iter().all(|l| font.width_mm(l, 10.0) <= 30.0));
    }
}
