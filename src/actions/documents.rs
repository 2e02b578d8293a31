//! Documents: the draft PDF people read, and the sealed document of an agreement version
//! (contract, annexes, signature page, evidence page), sealed once and stored with its
//! SHA-256 in the database, so every application instance serves the same bytes. The
//! database refuses UPDATE and DELETE.
//!
//! Issuing is split in three so the bulk run can seal in parallel: [`prepare`] reads what
//! the document shows, [`produce`] renders and seals it (no database), [`store`] writes it.
//! [`verify`] tells whether a PDF is one the registry issued, unaltered.

use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::PrimitiveDateTime;

use crate::db::schema::documents;
use crate::db::{Db, DbConn};
use crate::documents::pdf::{self, Annex, EvidenceEvent, Purpose, SealNote, SignatureLine};
use crate::documents::text::ContractText;
use crate::domain::berlin;
use crate::domain::signing::SigningOrder;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::seal::Sealer;
use crate::store::agreement::contract::contract_text;
use crate::store::agreement::Agreement;
use crate::store::audit::{self, AuditEvent, Change};
use crate::store::document::{info, Document, DocumentInfo};
use crate::store::looked_up;
use crate::store::municipality::Municipality;
use crate::store::organisation::Organisation;
use crate::store::signature::Signature;
use crate::store::user::User;
use crate::store::{new_id, now, Scope};

/// The unsealed draft of the current version of agreement `id`, if `scope` may see it:
/// every page marked ENTWURF, with the signatures given so far (API and web pages).
pub async fn draft_pdf(
    db: &Db,
    order: SigningOrder,
    scope: Scope,
    id: String,
) -> AppResult<Vec<u8>> {
    let prepared = db
        .read(move |conn| {
            let a = Agreement::find_in(conn, &scope, &id)?;
            let no = a.current_version;
            prepare(conn, order, &a, no)
        })
        .await?;
    rocket::tokio::task::spawn_blocking(move || {
        pdf::render(&prepared.text, Purpose::Draft, &prepared.annex)
    })
    .await
    .map_err(|e| AppError::internal(format!("pdf task: {e}")))?
}

/// What a document of one version shows, read from the database.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub agreement: Agreement,
    pub text: ContractText,
    pub annex: Annex,
}

/// Who acted, for each of `actors`, as the evidence page and the agreement page name
/// them: a person with their role and organisation, never an id ("user:…") or an
/// internal word ("seed"). In at most three queries however many there are (their
/// accounts, then those accounts' municipalities and organisations).
pub fn actor_labels<'a>(
    conn: &mut DbConn,
    actors: impl IntoIterator<Item = &'a str>,
) -> AppResult<std::collections::HashMap<String, String>> {
    let actors: std::collections::BTreeSet<&str> = actors.into_iter().collect();
    let email = |actor: &str| actor.strip_prefix("user:").map(|e| e.trim().to_lowercase());
    let emails: Vec<String> = actors.iter().filter_map(|a| email(a)).collect();
    let users: std::collections::HashMap<String, User> = User::find_by_emails(conn, &emails)?
        .into_iter()
        .map(|u| (u.email.clone(), u))
        .collect();
    let ids = |f: fn(&User) -> Option<&String>| -> Vec<String> {
        let set: std::collections::BTreeSet<&String> = users.values().filter_map(f).collect();
        set.into_iter().cloned().collect()
    };
    let municipalities: std::collections::HashMap<String, String> =
        Municipality::find_many(conn, &ids(|u| u.municipality_id.as_ref()))?
            .into_iter()
            .map(|m| (m.id.clone(), m.display_name()))
            .collect();
    let organisations: std::collections::HashMap<String, String> =
        Organisation::find_many(conn, &ids(|u| u.organisation_id.as_ref()))?
            .into_iter()
            .map(|o| (o.id, o.name))
            .collect();
    let label = |actor: &str| -> AppResult<String> {
        if let Some(email) = email(actor) {
            return Ok(match users.get(&email) {
                Some(u) => {
                    let organisation = match (&u.municipality_id, &u.organisation_id) {
                        (Some(m), _) => Some(looked_up(&municipalities, m, "municipality")?),
                        (None, Some(o)) => Some(looked_up(&organisations, o, "organisation")?),
                        (None, None) => None,
                    };
                    match organisation {
                        Some(org) => format!("{} – {}, {org}", u.name, u.role.label()),
                        None => format!("{} – {}", u.name, u.role.label()),
                    }
                }
                None => "ein nicht mehr geführtes Benutzerkonto".to_string(),
            });
        }
        if let Some(name) = actor.strip_prefix("staff:") {
            return Ok(format!("{name} (d-NRW, über die Schnittstelle)"));
        }
        Ok(match actor {
            "staff-token" => "d-NRW (Zugang der Schnittstelle)",
            "seed" => "Übernahme des Bestands in das Register",
            "cli" => "d-NRW (Verwaltung des Registers)",
            _ => "das Register (automatisch)",
        }
        .to_string())
    };
    actors
        .iter()
        .map(|a| Ok((a.to_string(), label(a)?)))
        .collect()
}

/// The PDF's Subject: "Einzelabruf (EA) zwischen Stadt Dortmund und d-NRW AöR".
fn subject(conn: &mut DbConn, a: &Agreement) -> AppResult<String> {
    let dnrw = Organisation::kommunalvertreter(conn)?.name;
    let other = match (
        &a.municipality_id,
        &a.external_party_name,
        &a.counterparty_id,
    ) {
        (Some(m), _, _) => Some(Municipality::find(conn, m)?.display_name()),
        (None, Some(name), _) => Some(name.clone()),
        (None, None, Some(o)) => Some(Organisation::find(conn, o)?.name),
        (None, None, None) => None,
    };
    Ok(match other {
        Some(other) => format!("{} zwischen {other} und {dnrw}", a.kind.label()),
        None => a.kind.label().to_string(),
    })
}

/// Reads the text, the signatures and the audit trail of version `no`.
pub fn prepare(
    conn: &mut DbConn,
    order: SigningOrder,
    a: &Agreement,
    no: i32,
) -> AppResult<Prepared> {
    let kind = a.kind;
    let text = contract_text(conn, a, no)?;
    let signatures = Signature::of_version(conn, &a.id, no)?;
    let mut lines = Vec::new();
    for party in order.parties() {
        let line = match signatures.iter().find(|s| s.party == party) {
            Some(s) => SignatureLine {
                role: party.label(kind, a.direction).to_string(),
                name: s.signer_name.clone(),
                function: s.signer_function.clone(),
                organisation: s.organisation_name.clone(),
                signed_at: Some(berlin::german_date_time(s.signed_at)),
                auth_method: Some(s.auth_method.clone()),
                declaration: s.declaration.clone(),
            },
            None => SignatureLine {
                role: party.label(kind, a.direction).to_string(),
                name: String::new(),
                function: None,
                organisation: crate::store::signature::party_name(conn, a, party)?,
                signed_at: None,
                auth_method: None,
                declaration: None,
            },
        };
        lines.push(line);
    }
    // Agreements signed before the registry kept signatures (or imported) say so.
    let signed_outside = if signatures.is_empty() {
        a.signed_on
            .map(|on| crate::domain::agreement::signed_outside(on, a.signed_by.as_deref()))
    } else {
        None
    };
    if signed_outside.is_some() {
        lines.clear();
    }
    let history = AuditEvent::of_entity(conn, &a.id, 200)?;
    let actors = actor_labels(conn, history.iter().map(|e| e.actor.as_str()))?;
    let events = history
        .into_iter()
        .map(|e| EvidenceEvent {
            at: berlin::german_date_time(e.at),
            actor: actors.get(&e.actor).cloned().unwrap_or_default(),
            action: e.note.unwrap_or_else(|| {
                crate::domain::agreement::audit_action_label(&e.action).to_string()
            }),
        })
        .collect();
    Ok(Prepared {
        agreement: a.clone(),
        text,
        annex: Annex {
            signatures: lines,
            signed_outside,
            events,
            document_id: None,
            seal: None,
            verify_url: None,
            issued_at: Some(now().assume_utc()),
            subject: subject(conn, a)?,
        },
    })
}

/// The name the seal is given in (the signature dictionary and the seal box).
const SEALED_BY: &str = "d-NRW AöR – Kommunalvertreter.NRW";

/// Renders and seals a prepared document. No database: this is what runs in parallel.
pub fn produce(mut prepared: Prepared, sealer: &Sealer) -> AppResult<Document> {
    let id = new_id();
    let sealed_at = now();
    prepared.annex.document_id = Some(id.clone());
    prepared.annex.issued_at = Some(sealed_at.assume_utc());
    prepared.annex.verify_url = sealer.verify_url().map(str::to_string);
    prepared.annex.seal = Some(SealNote {
        by: SEALED_BY.to_string(),
        certificate: sealer.subject(),
        at: berlin::german_date_time(sealed_at),
    });
    let mut unsealed = pdf::render_document(&prepared.text, Purpose::Final, &prepared.annex)?;
    let bytes = sealer
        .seal_document(&mut unsealed, SEALED_BY, sealed_at.assume_utc())
        .map_err(|e| match e {
            crate::seal::SealError::Tsa(m) => AppError::new(ErrorKind::TsaUnavailable, format!(
                    "{} wurde nicht gesiegelt, weil der Zeitstempeldienst nicht richtig antwortet ({m}). Es wurde nichts geändert; bitte später erneut versuchen.",
                    prepared.agreement.reference
                ),
            ),
            other => {
                AppError::internal(format!("sealing {}: {other}", prepared.agreement.reference))
            }
        })?;
    Ok(Document {
        id,
        agreement_id: prepared.agreement.id.clone(),
        version_no: prepared.text.version_no,
        sha256: hex::encode(Sha256::digest(&bytes)),
        text_sha256: prepared.text.sha256.clone(),
        templates: serde_json::to_string(&prepared.text.templates)?,
        size_bytes: bytes.len() as i64,
        seal_subject: sealer.subject(),
        sealed_at,
        pdf: bytes,
    })
}

/// Stores a sealed document, unless that version has one already (then the stored one
/// wins and `doc` is dropped). Returns the stored document's info.
pub fn store(conn: &mut DbConn, actor: &str, doc: Document) -> AppResult<DocumentInfo> {
    if let Some(existing) = Document::of_version(conn, &doc.agreement_id, doc.version_no)? {
        return Ok(info(&existing));
    }
    diesel::insert_into(documents::table)
        .values(&doc)
        .execute(conn)?;
    let reference = Agreement::find(conn, &doc.agreement_id)?.reference;
    audit::record(
        conn,
        Change {
            actor,
            action: "seal",
            entity_type: "agreement",
            entity_id: &doc.agreement_id,
            before: None,
            after: Some(serde_json::json!({
                "document_id": doc.id, "version_no": doc.version_no, "sha256": doc.sha256,
                "text_sha256": doc.text_sha256, "size_bytes": doc.size_bytes,
            })),
            note: Some(format!(
                "{} Fassung {} gesiegelt (SHA-256 {})",
                reference, doc.version_no, doc.sha256
            )),
        },
    )?;
    Ok(info(&doc))
}

/// Prepares, seals and stores the document of version `no` in one go (inside the
/// caller's transaction). Idempotent.
pub fn issue(
    conn: &mut DbConn,
    sealer: &Sealer,
    order: SigningOrder,
    actor: &str,
    a: &Agreement,
    no: i32,
) -> AppResult<DocumentInfo> {
    if let Some(existing) = Document::of_version(conn, &a.id, no)? {
        return Ok(info(&existing));
    }
    let prepared = prepare(conn, order, a, no)?;
    store(conn, actor, produce(prepared, sealer)?)
}

/// The agreement a verified document belongs to.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedAs {
    pub agreement_id: String,
    pub reference: String,
    pub kind: crate::domain::AgreementKind,
    pub version_no: i32,
    pub document_id: String,
    #[serde(with = "crate::store::ts")]
    pub sealed_at: PrimitiveDateTime,
}

/// What `verify` says about a PDF.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// The seal is intact, covers the whole file and is d-NRW's; or it is intact on the
    /// issued document the file begins with, and only intact signatures follow it.
    pub seal_valid: bool,
    /// The file is, byte for byte, a document this registry issued.
    pub issued_by_registry: bool,
    pub issued_as: Option<IssuedAs>,
    pub sha256: String,
    pub seal: crate::seal::verify::SealCheck,
    /// The file is an issued document (`issued_as`) with a signature added afterwards
    /// (the written-form path): what that signature is.
    pub added_signature: Option<AddedSignature>,
    /// One German sentence for people.
    pub summary: String,
}

/// A signature added to an issued document after the registry sealed it.
#[derive(Debug, Clone, Serialize)]
pub struct AddedSignature {
    /// The addition only adds intact signatures (`seal::qes`).
    pub intact: bool,
    pub signer: Option<String>,
    /// The certificate is marked as qualified (QcCompliance).
    pub qualified: bool,
    /// Its issuer chains to a configured QES trust anchor.
    pub trusted: bool,
    /// When the registry recorded this very file, if it did.
    #[serde(with = "crate::store::ts::option")]
    pub recorded_at: Option<PrimitiveDateTime>,
    pub problems: Vec<String>,
}

/// Checks the seal of `pdf` and looks its SHA-256 up among the issued documents. A file
/// that begins with an issued document and adds signatures (a party's QES, checked with
/// `anchors`) is reported as that document with the added signature.
pub fn verify(
    conn: &mut DbConn,
    sealer: &Sealer,
    pdf: &[u8],
    anchors: &[Vec<u8>],
) -> AppResult<Verification> {
    let sha256 = hex::encode(Sha256::digest(pdf));
    let issued_as_of = |conn: &mut DbConn, d: &crate::store::document::DocumentInfo| {
        let a = Agreement::find(conn, &d.agreement_id)?;
        Ok::<_, crate::error::AppError>(IssuedAs {
            agreement_id: a.id,
            reference: a.reference,
            kind: a.kind,
            version_no: d.version_no,
            document_id: d.id.clone(),
            sealed_at: d.sealed_at,
        })
    };
    let exact = Document::by_sha256(conn, &sha256)?;
    if exact.is_none() {
        if let Some((doc, end)) = issued_prefix(conn, pdf)? {
            let issued_seal = sealer.check(&pdf[..end]);
            let issued = issued_as_of(conn, &doc)?;
            let added =
                crate::seal::qes::check(pdf, &pdf[..end], anchors, time::OffsetDateTime::now_utc());
            let recorded_at =
                crate::store::qes::QesSignature::by_sha256(conn, &sha256)?.map(|q| q.uploaded_at);
            let signer = added.signer.as_ref().map(|s| s.name.clone());
            let added = AddedSignature {
                intact: added.accepted(),
                trusted: added.chain == crate::seal::qes::Chain::Trusted,
                qualified: added.signer.as_ref().is_some_and(|s| s.qualified),
                signer,
                recorded_at,
                problems: added.problems,
            };
            let summary = match (issued_seal.valid(), added.intact) {
                (true, true) => format!(
                    "Das Siegel ist gültig. Die Datei enthält {} Fassung {} unverändert, so wie das Nachnutzungsregister es ausgestellt hat, und danach die {}elektronische Signatur von {}{}.",
                    issued.reference,
                    issued.version_no,
                    if added.qualified && added.trusted { "qualifizierte " } else { "" },
                    added.signer.as_deref().unwrap_or("unbekannt"),
                    match added.recorded_at {
                        Some(t) => format!(", im Register erfasst am {}", crate::domain::berlin::german_date_time(t)),
                        None => ", die im Register nicht erfasst ist".to_string(),
                    }
                ),
                (true, false) => format!(
                    "Die Datei enthält {} Fassung {} mit gültigem Siegel, aber was danach angefügt wurde, ist keine gültige zusätzliche Signatur: {}",
                    issued.reference,
                    issued.version_no,
                    added.problems.first().map(String::as_str).unwrap_or("unbekannter Fehler")
                ),
                (false, _) => format!(
                    "Das Siegel ist NICHT gültig: {}",
                    issued_seal.problems.first().map(String::as_str).unwrap_or("unbekannter Fehler")
                ),
            };
            // The seal reported is d-NRW's on the issued document (never the added
            // signature); it covers the whole file only if nothing but signatures follow.
            let seal_valid = issued_seal.valid() && added.intact;
            let mut seal = issued_seal;
            if !added.intact {
                seal.covers_whole_document = false;
            }
            return Ok(Verification {
                seal_valid,
                issued_by_registry: false,
                issued_as: Some(issued),
                sha256,
                seal,
                added_signature: Some(added),
                summary,
            });
        }
    }
    let mut seal = sealer.check(pdf);
    // Several signatures, but the file does not begin with an issued document: the last
    // one checked above may be anybody's, so it is not presented as the seal.
    let signatures = pdf.windows(10).filter(|w| *w == b"/ByteRange").count();
    if signatures > 1 && !seal.trusted {
        seal.signer = None;
        seal.problems = vec!["Die Datei enthält mehrere Signaturen, beginnt aber mit keinem Dokument, das das Register ausgestellt hat: sie wurde verändert oder stammt nicht aus dem Register.".into()];
    }
    let issued_as = match exact {
        Some(d) => Some(issued_as_of(conn, &d)?),
        None => None,
    };
    let seal_valid = seal.valid();
    let summary = match (&issued_as, seal_valid) {
        (Some(i), true) => format!(
            "Das Siegel ist gültig. Das Dokument ist {} Fassung {}, so wie das Nachnutzungsregister es ausgestellt hat.",
            i.reference, i.version_no
        ),
        (None, true) => "Das Siegel ist gültig, aber dieses Dokument hat das Register nicht ausgestellt (oder nicht in dieser Form).".to_string(),
        (_, false) => format!(
            "Das Siegel ist NICHT gültig: {}",
            seal.problems.first().map(String::as_str).unwrap_or("unbekannter Fehler")
        ),
    };
    Ok(Verification {
        seal_valid,
        issued_by_registry: issued_as.is_some(),
        issued_as,
        sha256,
        seal,
        added_signature: None,
        summary,
    })
}

/// The issued document `pdf` begins with, if any, and where it ends: a revision of the
/// file (up to a `%%EOF` and its line end) whose SHA-256 is a stored document's. The hash
/// is carried along the file (each byte hashed once) and at most [`MAX_REVISIONS`] ends
/// are looked up, so an upload full of `%%EOF` costs no more than one pass.
fn issued_prefix(
    conn: &mut DbConn,
    pdf: &[u8],
) -> AppResult<Option<(crate::store::document::DocumentInfo, usize)>> {
    const MAX_REVISIONS: usize = 16;
    let mut hasher = Sha256::new();
    let (mut hashed, mut from, mut looked) = (0usize, 0usize, 0usize);
    while let Some(i) = pdf[from..].windows(5).position(|w| w == b"%%EOF") {
        let eof = from + i + 5;
        from = eof;
        if eof >= pdf.len() || looked >= MAX_REVISIONS {
            break;
        }
        let mut end = eof;
        loop {
            if end < pdf.len() {
                hasher.update(&pdf[hashed..end]);
                hashed = end;
                looked += 1;
                let sha = hex::encode(hasher.clone().finalize());
                if let Some(d) = Document::by_sha256(conn, &sha)? {
                    return Ok(Some((d, end)));
                }
            }
            if end < pdf.len() && end < eof + 2 && matches!(pdf[end], b'\r' | b'\n') {
                end += 1;
            } else {
                break;
            }
        }
    }
    Ok(None)
}

/// Verifies every sealed document of the database, one at a time: the seal holds and is
/// trusted, and the registry knows the document (`restore`, before it commits). The first
/// failure is the error.
pub fn verify_all(conn: &mut DbConn, sealer: &Sealer, anchors: &[Vec<u8>]) -> AppResult<u64> {
    use crate::db::schema::agreements;
    let ids: Vec<String> = documents::table
        .select(documents::id)
        .order(documents::id)
        .load(conn)?;
    for id in &ids {
        let (reference, pdf): (String, Vec<u8>) = documents::table
            .inner_join(agreements::table)
            .filter(documents::id.eq(id))
            .select((agreements::reference, documents::pdf))
            .first(conn)?;
        let v = verify(conn, sealer, &pdf, anchors)?;
        if !(v.seal_valid && v.issued_by_registry) {
            let mut why = v.seal.problems.clone();
            if !v.seal.trusted {
                why.insert(0, "Siegel nicht vertrauenswürdig".into());
            }
            return Err(AppError::bad_request(format!(
                "Das gesiegelte Dokument zu {reference} besteht die Prüfung nach dem Laden \
                 nicht ({}). Nichts wurde geladen. Es trägt das Siegel „{}“: diese \
                 Installation muss dasselbe Siegel verwenden (seal_pkcs12) oder ihm vertrauen \
                 (seal_trusted_certificates).",
                why.join("; "),
                v.seal.signer.clone().unwrap_or_default()
            )));
        }
    }
    Ok(ids.len() as u64)
}
