//! SVG coats of arms re-serialised from an allow-list of elements, attributes and values:
//! what is not on it is removed and named.

use super::*;

/// Drawing elements an SVG coat of arms may keep. Everything else is removed with its
/// content: scripts, styles, images, links, `<foreignObject>`, animation (`<animate>`,
/// `<set>`, …), filters, fonts, and `<metadata>` (whatever a drawing program or an
/// attacker put there).
pub(super) const SVG_ELEMENTS: &[&str] = &[
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
pub(super) const SVG_TEXT_ELEMENTS: &[&str] = &["title", "desc", "text", "tspan"];

/// Attributes kept on those elements (geometry, presentation, references within the
/// file). Event handlers and anything else are removed.
pub(super) const SVG_ATTRIBUTES: &[&str] = &[
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

pub(super) const SVG_NS: &str = "http://www.w3.org/2000/svg";

pub(super) const XLINK_NS: &str = "http://www.w3.org/1999/xlink";

/// A sanitised SVG: the copy to store and what was removed from the upload.
pub(super) struct CleanSvg {
    pub(super) text: String,
    pub(super) removed: std::collections::BTreeSet<String>,
    pub(super) xlink: bool,
}

pub(super) fn check_svg(text: &str) -> Result<(CoatOfArms, Vec<u8>), String> {
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
pub(super) fn svg_element(node: roxmltree::Node<'_, '_>, clean: &mut CleanSvg, out: &mut String) {
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
        out.push_str(&crate::domain::text::escape_markup(value));
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
                out.push_str(&crate::domain::text::escape_markup(text));
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
pub(super) fn safe_svg_value(name: &str, value: &str) -> bool {
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

/// Whether every `url(…)` in `value` points inside the document (`url(#id)`).
pub(super) fn only_local_urls(value: &str) -> bool {
    value.match_indices("url(").all(|(i, _)| {
        value[i + 4..]
            .trim_start()
            .trim_start_matches(['"', '\''])
            .starts_with('#')
    })
}
