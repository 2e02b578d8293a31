//! The contract text as accessible HTML, from the same rendered text as the PDF (the
//! line format of `contracts/README.md`): what people read on the agreement page before
//! they sign is, word for word, what the sealed document says.

use crate::domain::text::escape_markup as escape;

/// The text as an `<article>`: the letterhead as an address block, the title as `<h3>`
/// (the page has its own `<h1>` and a "Vertragstext" `<h2>`), sections as `<h4>`,
/// sub-headings as `<h5>`, lists and paragraphs. `edit` may give a section an "Ändern"
/// link (its heading in, the link's target out), for drafts that can still change.
pub fn to_html(text: &str, edit: &dyn Fn(&str) -> Option<String>) -> String {
    to_html_at(text, edit, 3)
}

/// The same with the title as `<h{top}>` and the levels below it: a page whose own
/// heading is the text's title (the Impressum and the other public texts) uses 1.
pub fn to_html_at(text: &str, edit: &dyn Fn(&str) -> Option<String>, top: u8) -> String {
    let tags = [
        format!("h{}", (top + 2).min(6)),
        format!("h{}", (top + 1).min(6)),
        format!("h{}", top.min(6)),
    ];
    let mut out = String::from("<article class=\"vertragstext\" lang=\"de\">\n");
    let mut para: Vec<&str> = Vec::new();
    let mut letterhead: Vec<&str> = Vec::new();
    let mut in_list = false;
    let close =
        |out: &mut String, para: &mut Vec<&str>, letterhead: &mut Vec<&str>, in_list: &mut bool| {
            if !para.is_empty() {
                out.push_str(&format!("<p>{}</p>\n", escape(&para.join(" "))));
                para.clear();
            }
            if !letterhead.is_empty() {
                let lines: Vec<String> = letterhead.iter().map(|l| escape(l)).collect();
                out.push_str(&format!(
                    "<p class=\"briefkopf\">{}</p>\n",
                    lines.join("<br>")
                ));
                letterhead.clear();
            }
            if *in_list {
                out.push_str("</ul>\n");
                *in_list = false;
            }
        };
    for line in text.lines().map(str::trim) {
        if let Some(t) = line.strip_prefix("> ") {
            if !para.is_empty() || in_list {
                close(&mut out, &mut para, &mut Vec::new(), &mut in_list);
            }
            letterhead.push(t);
            continue;
        }
        if let Some(t) = line.strip_prefix("- ") {
            if !in_list {
                close(&mut out, &mut para, &mut letterhead, &mut in_list);
                out.push_str("<ul>\n");
                in_list = true;
            }
            out.push_str(&format!("<li>{}</li>\n", escape(t)));
            continue;
        }
        let heading = [("### ", &tags[0]), ("## ", &tags[1]), ("# ", &tags[2])]
            .iter()
            .find_map(|(prefix, tag)| line.strip_prefix(prefix).map(|t| (t, tag.as_str())));
        if let Some((t, tag)) = heading {
            close(&mut out, &mut para, &mut letterhead, &mut in_list);
            match edit(t) {
                Some(target) => out.push_str(&format!(
                    "<{tag}>{} <a class=\"aendern\" href=\"{}\">Ändern<span class=\"unsichtbar\">: {}</span></a></{tag}>\n",
                    escape(t),
                    escape(&target),
                    escape(t)
                )),
                None => out.push_str(&format!("<{tag}>{}</{tag}>\n", escape(t))),
            }
            continue;
        }
        if line.is_empty() {
            close(&mut out, &mut para, &mut letterhead, &mut in_list);
        } else {
            if in_list {
                close(&mut out, &mut para, &mut letterhead, &mut in_list);
            }
            para.push(line);
        }
    }
    close(&mut out, &mut para, &mut letterhead, &mut in_list);
    out.push_str("</article>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_type_becomes_its_element_and_text_is_escaped() {
        let text = "> d-NRW AöR\n> Rheinische Straße 1\n\n# Einzelabruf\n\nzwischen\n\nStadt <Köln> & Co\n\n## § 1 Gegenstand\n\nDie Kommune ruft\nden Dienst ab.\n\n### Leistungsschlüssel\n\n- 99107023000000\n- 99107023011000\n\n## § 4 Kosten\n\nKeine.\n";
        let html = to_html(text, &|h| {
            h.ends_with("Kosten")
                .then(|| "/x/bearbeiten#costs".to_string())
        });
        for expected in [
            "<p class=\"briefkopf\">d-NRW AöR<br>Rheinische Straße 1</p>",
            "<h3>Einzelabruf</h3>",
            "<p>Stadt &lt;Köln&gt; &amp; Co</p>",
            "<h4>§ 1 Gegenstand</h4>",
            "<p>Die Kommune ruft den Dienst ab.</p>",
            "<h5>Leistungsschlüssel</h5>",
            "<ul>\n<li>99107023000000</li>\n<li>99107023011000</li>\n</ul>",
            "<h4>§ 4 Kosten <a class=\"aendern\" href=\"/x/bearbeiten#costs\">Ändern<span class=\"unsichtbar\">: § 4 Kosten</span></a></h4>",
        ] {
            assert!(html.contains(expected), "{expected:?} missing in\n{html}");
        }
        // Every word of the text is on the page.
        let words = |s: &str| s.split_whitespace().count();
        assert!(words(&html) >= words(text) - 10);
    }
}
