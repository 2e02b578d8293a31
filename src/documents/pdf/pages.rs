//! The signature page and the evidence page (who signed when, how authenticated) that
//! close a document.

use super::*;
use crate::documents::text::ContractText;

/// One signature as the signature page shows it.
#[derive(Debug, Clone, Default)]
pub struct SignatureLine {
    /// "Für die Kommune", "Für d-NRW AöR", …
    pub role: String,
    pub name: String,
    pub function: Option<String>,
    pub organisation: String,
    /// "24.11.2026, 02:23 Uhr (MEZ)"; `None` while the signature is outstanding.
    pub signed_at: Option<String>,
    pub auth_method: Option<String>,
    /// What the signatory confirmed when signing in the registry.
    pub declaration: Option<String>,
}

/// One audit event on the evidence page.
#[derive(Debug, Clone, Default)]
pub struct EvidenceEvent {
    pub at: String,
    pub actor: String,
    pub action: String,
}

/// What the contract text is followed by: the signature page and the evidence page.
#[derive(Debug, Clone, Default)]
pub struct Annex {
    pub signatures: Vec<SignatureLine>,
    /// Set when signatures were given outside the registry (nothing in `signatures`).
    pub signed_outside: Option<String>,
    pub events: Vec<EvidenceEvent>,
    /// "Dokument-ID" of the sealed document, if it is to be sealed.
    pub document_id: Option<String>,
    /// Who seals the final document and when: the seal box on the signature page.
    pub seal: Option<SealNote>,
    /// Where anyone can check a sealed document (the registry's `/pruefen` page).
    pub verify_url: Option<String>,
    /// The document's date (its PDF CreationDate): the sealing time, or now for a draft.
    pub issued_at: Option<time::OffsetDateTime>,
    /// The PDF's Subject: the kind and the parties.
    pub subject: String,
}

/// The seal as the signature page states it.
#[derive(Debug, Clone, Default)]
pub struct SealNote {
    /// "d-NRW AöR – Kommunalvertreter.NRW"
    pub by: String,
    /// The seal certificate's subject.
    pub certificate: String,
    /// "29.11.2026, 19:10 Uhr (MEZ)"
    pub at: String,
}

/// The signature page: every required signatory and whether and how they signed; the
/// final document's seal box, or the draft's note that nothing is signed yet.
pub(super) fn signature_page(layout: &mut Layout<'_>, annex: &Annex, purpose: Purpose) {
    layout.new_page();
    layout.lines("Unterschriften", 14.0, true, 0.0, None, 2);
    layout.space(2.0);
    if let Some(note) = &annex.signed_outside {
        layout.lines(note, 10.0, false, 0.0, None, 1);
    }
    for s in &annex.signatures {
        layout.space(3.0);
        layout.lines(&s.role, 10.5, true, 0.0, None, 4);
        if !s.name.is_empty() {
            let who = match &s.function {
                Some(f) if !f.trim().is_empty() => format!("{}, {}", s.name, f),
                _ => s.name.clone(),
            };
            layout.lines(&who, 10.0, false, 0.0, None, 1);
        }
        // "Für d-NRW AöR (Kommunalvertreter.NRW)" names the organisation already.
        if !s.role.contains(s.organisation.as_str()) {
            layout.lines(&s.organisation, 10.0, false, 0.0, None, 1);
        }
        match &s.signed_at {
            Some(at) => {
                layout.lines(
                    &format!("Elektronisch unterzeichnet am {at}"),
                    10.0,
                    false,
                    0.0,
                    None,
                    1,
                );
                if let Some(m) = &s.auth_method {
                    layout.lines(&format!("Anmeldung: {m}"), 10.0, false, 0.0, None, 1);
                }
                if let Some(d) = &s.declaration {
                    layout.lines(&format!("Erklärung: „{d}“"), 10.0, false, 0.0, None, 1);
                }
            }
            None => layout.lines("Unterschrift steht aus.", 10.0, false, 0.0, None, 1),
        }
    }
    layout.space(6.0);
    match (purpose, &annex.seal) {
        (Purpose::Final, Some(seal)) => {
            let mut lines = vec![
                ("Elektronisches Siegel".to_string(), 10.5, true),
                (format!("Gesiegelt von {} am {}.", seal.by, seal.at), 9.5, false),
                (format!("Siegelzertifikat: {}", seal.certificate), 9.0, false),
            ];
            let check = match &annex.verify_url {
                Some(url) => format!(
                    "Prüfen: die Datei unter {url} hochladen oder das Siegel in einem PAdES-fähigen Programm anzeigen lassen. Jede Änderung nach dem Siegeln macht das Siegel ungültig."
                ),
                None => "Prüfen: das Siegel in einem PAdES-fähigen Programm anzeigen lassen. Jede Änderung nach dem Siegeln macht das Siegel ungültig.".to_string(),
            };
            lines.push((check, 9.0, false));
            if let Some(id) = &annex.document_id {
                lines.push((format!("Dokument-ID: {id}"), 9.0, false));
            }
            layout.framed(&lines);
        }
        _ => layout.framed(&[
            ("ENTWURF".to_string(), 10.5, true),
            (
                "Dieses Dokument ist ein Entwurf zur Durchsicht und hat keine Rechtswirkung. Rechtswirksam ist erst das Dokument, das das Register nach der letzten Unterschrift ausstellt und mit dem elektronischen Siegel der d-NRW AöR versieht."
                    .to_string(),
                9.5,
                false,
            ),
        ]),
    }
}

/// The evidence page: what identifies this text and how it came about.
pub(super) fn evidence(layout: &mut Layout<'_>, text: &ContractText, annex: &Annex) {
    layout.new_page();
    layout.lines("Nachweisblatt", 14.0, true, 0.0, None, 2);
    layout.space(2.0);
    let mut rows = vec![
        ("Vereinbarung", text.reference.clone()),
        ("Fassung", text.version_no.to_string()),
    ];
    if let Some(id) = &annex.document_id {
        rows.push(("Dokument-ID", id.clone()));
    }
    rows.push((
        "Vertragsvorlagen",
        text.templates
            .iter()
            .map(|t| template_label(t))
            .collect::<Vec<_>>()
            .join("; "),
    ));
    rows.push(("SHA-256 des Vertragstexts", text.sha256.clone()));
    for (label, value) in rows {
        layout.lines(label, 10.0, true, 0.0, None, 2);
        layout.lines(&value, 10.0, false, 0.0, None, 1);
        layout.space(1.5);
    }
    if !annex.events.is_empty() {
        layout.space(2.0);
        layout.lines("Verlauf (Auditprotokoll)", 10.0, true, 0.0, None, 2);
        for e in &annex.events {
            layout.lines(
                &format!("{} – {} – {}", e.at, e.action, e.actor),
                9.0,
                false,
                6.0,
                Some("–"),
                1,
            );
        }
    }
}

/// A recorded template (`ea@2.0`) as the evidence page names it.
fn template_label(t: &str) -> String {
    let (name, version) = t.split_once('@').unwrap_or((t, ""));
    let label = match (crate::domain::AgreementKind::parse(name), name) {
        (Some(kind), _) => kind.noun(),
        (None, "avv") => "Anlage Auftragsverarbeitung",
        (None, "ozg8a") => "Anlage Datenschutz nach § 8a OZG",
        (None, "joint") => "Anlage gemeinsame Verantwortlichkeit",
        (None, other) => other,
    };
    format!("{label}, Version {version}")
}

#[cfg(test)]
mod tests {
    use super::template_label;

    #[test]
    fn every_template_has_a_german_name_on_the_evidence_page() {
        assert_eq!(template_label("rv@2.0"), "Rahmenvereinbarung, Version 2.0");
        assert_eq!(template_label("ea@2.1"), "Einzelabruf, Version 2.1");
        assert_eq!(
            template_label("ioev@2.0"),
            "Interöffentliche Vereinbarung, Version 2.0"
        );
        assert_eq!(
            template_label("ozg8a@1.0"),
            "Anlage Datenschutz nach § 8a OZG, Version 1.0"
        );
        assert_eq!(
            template_label("joint@1.0"),
            "Anlage gemeinsame Verantwortlichkeit, Version 1.0"
        );
        assert_eq!(
            template_label("avv@2.0"),
            "Anlage Auftragsverarbeitung, Version 2.0"
        );
    }
}
