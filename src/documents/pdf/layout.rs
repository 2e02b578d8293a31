//! Laying out the contract text on A4 pages: blocks from the line format, words wrapped
//! by glyph widths, the page operations.

use printpdf::{FontId, Line, LinePoint, Mm, Op, PdfFontHandle, Point, Pt, TextItem};

use super::*;

/// One line placed on a page.
pub(super) struct Placed {
    pub(super) x: f32,
    pub(super) y: f32,
    pub(super) size: f32,
    pub(super) bold: bool,
    pub(super) text: String,
}

/// The kinds of block in the line format.
pub(super) enum Block {
    /// `> …`: a line of the letterhead above the title on page 1.
    Letterhead(String),
    Title(String),
    Section(String),
    Sub(String),
    Item(String),
    Paragraph(String),
}

pub(super) fn blocks(text: &str) -> Vec<Block> {
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
        } else if let Some(t) = l.strip_prefix("> ") {
            flush(&mut para, &mut out);
            out.push(Block::Letterhead(t.to_string()));
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

/// Greedy line breaking by glyph widths (in font units, summed word by word); a word
/// longer than the line is split.
pub(super) fn wrap(font: &Font, text: &str, size: f32, width: f32) -> Vec<String> {
    let limit = width * PT_PER_MM / size * font.face.units_per_em() as f32;
    let fits = |units: u32| units as f32 <= limit;
    let space = font.char_units(' ');
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut current_units = 0u32;
    for word in text.split_whitespace() {
        let word_units: u32 = word.chars().map(|c| font.char_units(c)).sum();
        let candidate = if current.is_empty() {
            word_units
        } else {
            current_units + space + word_units
        };
        if fits(candidate) {
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
            current_units = candidate;
            continue;
        }
        if !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        let mut piece_units = 0u32;
        for c in word.chars() {
            let c_units = font.char_units(c);
            if !current.is_empty() && !fits(piece_units + c_units) {
                lines.push(std::mem::take(&mut current));
                piece_units = 0;
            }
            current.push(c);
            piece_units += c_units;
        }
        current_units = piece_units;
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// Pages of placed lines.
pub(super) struct Layout<'a> {
    pub(super) regular: &'a Font,
    pub(super) bold: &'a Font,
    pub(super) pages: Vec<Vec<Placed>>,
    /// Rectangles to stroke: (page index, left, bottom, width, height) in mm.
    pub(super) frames: Vec<(usize, [f32; 4])>,
    /// Horizontal rules: (page index, y) in mm, across the text width.
    pub(super) rules: Vec<(usize, f32)>,
    pub(super) y: f32,
}

impl Layout<'_> {
    pub(super) fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = PAGE_H - TOP;
    }

    pub(super) fn space(&mut self, mm: f32) {
        self.y -= mm;
    }

    /// A thin rule across the text width at the current position.
    pub(super) fn rule(&mut self) {
        let page = self.pages.len().saturating_sub(1);
        self.rules.push((page, self.y));
    }

    /// Lays `lines` (text, size, bold) out in a framed box; the box moves to a new page
    /// whole if it does not fit.
    pub(super) fn framed(&mut self, lines: &[(String, f32, bool)]) {
        let pad = 3.0;
        let inner = PAGE_W - LEFT - RIGHT - 2.0 * pad;
        let wrapped: Vec<(Vec<String>, f32, bool)> = lines
            .iter()
            .map(|(t, size, bold)| {
                let font = if *bold { self.bold } else { self.regular };
                (wrap(font, t, *size, inner), *size, *bold)
            })
            .collect();
        let height: f32 = wrapped
            .iter()
            .map(|(l, size, _)| l.len() as f32 * size * 1.4 / PT_PER_MM)
            .sum::<f32>()
            + 2.0 * pad;
        if self.y - height < BOTTOM {
            self.new_page();
        }
        let top = self.y;
        self.y -= pad;
        for (lines, size, bold) in wrapped {
            for line in lines {
                self.y -= size * 1.4 / PT_PER_MM;
                self.place(LEFT + pad, size, bold, line);
            }
        }
        self.y -= pad;
        let page = self.pages.len().saturating_sub(1);
        self.frames
            .push((page, [LEFT, self.y, PAGE_W - LEFT - RIGHT, top - self.y]));
    }

    /// Places wrapped lines at `indent`; `first` prefixes the first line (a bullet) in the
    /// hanging indent. `keep` lines must fit on the page together (headings with text).
    pub(super) fn lines(
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

    pub(super) fn place(&mut self, x: f32, size: f32, bold: bool, text: String) {
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

/// The text operations of one page. The font (part of the graphics state, which BT/ET
/// keep) is set only when it changes.
pub(super) struct PageOps {
    pub(super) ops: Vec<Op>,
    pub(super) font: Option<(FontId, f32)>,
}

impl PageOps {
    pub(super) fn new(lines: usize) -> PageOps {
        PageOps {
            ops: Vec::with_capacity(lines * 4 + 16),
            font: None,
        }
    }

    pub(super) fn text(&mut self, font: &FontId, size: f32, x: f32, y: f32, text: &str) {
        text_op(&mut self.ops, &mut self.font, font, size, x, y, text);
    }
}

pub(super) fn text_op(
    ops: &mut Vec<Op>,
    current: &mut Option<(FontId, f32)>,
    font: &FontId,
    size: f32,
    x: f32,
    y: f32,
    text: &str,
) {
    ops.push(Op::StartTextSection);
    if current.as_ref() != Some(&(font.clone(), size)) {
        ops.push(Op::SetFont {
            font: PdfFontHandle::External(font.clone()),
            size: Pt(size),
        });
        *current = Some((font.clone(), size));
    }
    ops.push(Op::SetTextCursor {
        pos: Point::new(Mm(x), Mm(y)),
    });
    ops.push(Op::ShowText {
        items: vec![TextItem::Text(text.to_string())],
    });
    ops.push(Op::EndTextSection);
}

/// A stroked polyline (a rule, or a closed frame) in mm.
pub(super) fn stroke(ops: &mut Vec<Op>, points: &[(f32, f32)], closed: bool) {
    ops.push(Op::SetOutlineThickness { pt: Pt(0.6) });
    ops.push(Op::DrawLine {
        line: Line {
            points: points
                .iter()
                .map(|(x, y)| LinePoint {
                    p: Point::new(Mm(*x), Mm(*y)),
                    bezier: false,
                })
                .collect(),
            is_closed: closed,
        },
    });
}
