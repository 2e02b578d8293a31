//! The signing workflow. An agreement awaiting signatures (or an open amendment) needs one
//! signature from each party, in the configured order, each by a contact person of that
//! party who is marked as authorised signatory. Each signature records who, in which
//! function, when, from which IP and user agent and how they were authenticated. The last
//! signature signs the version and seals its document, in the same transaction.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::actions::agreement::transition::{self, Signed};
use crate::db::schema::{agreement_versions, signatures};
use crate::db::DbConn;
use crate::domain::policy::{self, Parties, SignRefusal};
use crate::domain::signing::{Party, SigningOrder};
use crate::domain::text::{Checked, Inspect, Kind, TextCheck};
use crate::domain::{DomainError, Status};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::seal::Sealer;
use crate::store::agreement::Agreement;
use crate::store::audit::{self, Change};
use crate::store::contact::Contact;
use crate::store::document::{self, DocumentInfo};
use crate::store::organisation::Organisation;
use crate::store::signature::{party_name, Signature};
use crate::store::user::User;
use crate::store::{new_id, now, today};

/// The party `contact` may sign for on `a`, or why it may not sign at all
/// (`domain::policy::contact_signs_for`).
fn party_of(conn: &mut DbConn, a: &Agreement, contact: &Contact) -> AppResult<Party> {
    let dnrw = Organisation::kommunalvertreter(conn)?;
    let contact_parties = Parties {
        municipality: contact.municipality_id.as_deref(),
        organisation: contact.organisation_id.as_deref(),
    };
    let is_dnrw = contact.organisation_id.as_deref() == Some(dnrw.id.as_str());
    match policy::contact_signs_for(is_dnrw, contact.may_sign, contact_parties, a.parties()) {
        Ok(party) => Ok(party),
        Err(SignRefusal::NotAParty) => Err(AppError::forbidden(format!(
            "{} gehört weder zu {} noch zu d-NRW und kann {} nicht unterzeichnen.",
            contact.name,
            party_name(conn, a, Party::Partner)?,
            a.reference
        ))),
        Err(SignRefusal::NotSignatory) => Err(AppError::forbidden(format!(
            "{} ist nicht als zeichnungsberechtigt hinterlegt.",
            contact.name
        ))),
    }
}

/// The version that waits for signatures: the current one while the agreement is
/// `awaiting_signatures`, otherwise an open (draft) amendment.
fn pending_version(conn: &mut DbConn, a: &Agreement) -> AppResult<Option<i32>> {
    if a.status == Status::AwaitingSignatures {
        return Ok(Some(a.current_version));
    }
    if matches!(a.status, Status::Signed | Status::InForce) {
        return Ok(agreement_versions::table
            .filter(agreement_versions::agreement_id.eq(&a.id))
            .filter(agreement_versions::version_no.gt(a.current_version))
            .filter(agreement_versions::status.eq(crate::domain::VersionStatus::Draft))
            .select(agreement_versions::version_no)
            .order(agreement_versions::version_no.desc())
            .first(conn)
            .optional()?);
    }
    Ok(None)
}

/// The party a user signs for on `a` (`domain::policy::user_signs_for`).
pub(crate) fn party_of_user(conn: &mut DbConn, a: &Agreement, user: &User) -> AppResult<Party> {
    let user_parties = Parties {
        municipality: user.municipality_id.as_deref(),
        organisation: user.organisation_id.as_deref(),
    };
    match policy::user_signs_for(user.role, user.may_sign, user_parties, a.parties()) {
        Ok(party) => Ok(party),
        Err(SignRefusal::NotAParty) => Err(AppError::forbidden(format!(
            "{} kann {} nicht für {} unterzeichnen.",
            user.name,
            a.reference,
            party_name(conn, a, Party::Partner)?
        ))),
        Err(SignRefusal::NotSignatory) => Err(AppError::forbidden(format!(
            "{} ist nicht als zeichnungsberechtigt hinterlegt.",
            user.name
        ))),
    }
}

/// Whether `user` may sign the pending version of `a` now, as errors of their kind (409
/// not waiting or not their turn, 403 not entitled), in the order the signing makes them:
/// a page asks for the password only when a signature could follow.
pub fn check_may_sign(
    conn: &mut DbConn,
    order: SigningOrder,
    a: &Agreement,
    user: &User,
) -> AppResult<()> {
    let pending = pending_version(conn, a)?;
    let signatures = match pending {
        Some(no) => Signature::of_version(conn, &a.id, no)?,
        None => Vec::new(),
    };
    check_may_sign_with(conn, order, a, user, pending, &signatures)
}

/// [`check_may_sign`] with the pending version and its signatures already read.
fn check_may_sign_with(
    conn: &mut DbConn,
    order: SigningOrder,
    a: &Agreement,
    user: &User,
    pending: Option<i32>,
    signatures: &[Signature],
) -> AppResult<()> {
    if pending.is_none() {
        return Err(DomainError::Transition(format!(
            "{} wartet nicht auf Unterschriften.",
            a.reference
        ))
        .into());
    }
    let party = party_of_user(conn, a, user)?;
    let signed: Vec<Party> = signatures.iter().map(|s| s.party).collect();
    Ok(order.check(a.kind, party, &signed)?)
}

/// What the agreement page asks of the signing, from one read of the agreement, its
/// documents and the signatures: the state of the pending (else the current) version,
/// whether the user may sign it now (`Err`: the reason, for the page to show; the signing
/// itself checks all of this again), and whether they may decline it.
pub struct ForPage {
    pub state: SigningState,
    pub may_sign: Result<(), String>,
    pub may_decline: bool,
}

/// [`state`], [`check_may_sign`] and `decline::may_decline` for the agreement page.
pub fn for_page(
    conn: &mut DbConn,
    order: SigningOrder,
    a: &Agreement,
    user: &User,
    documents: &[DocumentInfo],
) -> AppResult<ForPage> {
    let pending = pending_version(conn, a)?;
    let no = pending.unwrap_or(a.current_version);
    let signatures = Signature::of_version(conn, &a.id, no)?;
    let state = state_of(conn, order, a, pending, no, &signatures, documents)?;
    let may_sign = match check_may_sign_with(conn, order, a, user, pending, &signatures) {
        Ok(()) => Ok(()),
        Err(e) if e.http_status() < 500 => Err(e.message),
        Err(e) => return Err(e),
    };
    // A declining side declines the version that waits (the current one while awaiting
    // signatures, else the open amendment): the pending version, whose signatures are
    // read. Without one, only an agreement in another state needs its own look.
    let may_decline = match pending {
        Some(_) => match party_of_user(conn, a, user) {
            Ok(party) => !signatures.iter().any(|s| s.party == party),
            Err(_) => false,
        },
        None if matches!(
            a.status,
            Status::AwaitingSignatures | Status::Signed | Status::InForce
        ) =>
        {
            false
        }
        None => crate::actions::decline::may_decline(conn, a, user)?,
    };
    Ok(ForPage {
        state,
        may_sign,
        may_decline,
    })
}

/// `POST /api/v1/agreements/{id}/signatures`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInput {
    /// Staff only: the contact person whose signature is recorded (an authorised
    /// signatory of their party). Without it, the calling user signs as themselves.
    #[serde(default)]
    pub contact_id: Option<String>,
    /// The version being signed; defaults to the one waiting for signatures.
    #[serde(default)]
    pub version_no: Option<i32>,
}

/// Who is signing, as the session tells it.
#[derive(Debug, Clone, Default)]
pub struct SignContext {
    pub actor: String,
    pub auth_method: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The user behind the session (`None` for the bootstrap token and the seed).
    pub user_id: Option<String>,
    /// d-NRW staff (or the bootstrap token, the seed): may record a contact's signature.
    pub staff: bool,
    /// The signatory confirmed the [`declaration`] on the page (recorded with the
    /// signature, in the words shown).
    pub declared: bool,
}

/// What a signatory confirms before signing in the registry, in the words the page shows
/// and the signature records.
pub fn declaration(reference: &str, version_no: i32, organisation: &str) -> String {
    format!(
        "Ich habe den Vertragstext von {reference}, Fassung {version_no}, gelesen und bin für {} zeichnungsberechtigt.",
        crate::domain::grammar::for_party(organisation)
    )
}

/// One required signature and whether it is there.
#[derive(Debug, Clone, Serialize)]
pub struct RequiredSignature {
    pub party: Party,
    pub label: &'static str,
    pub organisation: String,
    pub signature: Option<Signature>,
}

/// The signing state of an agreement version.
#[derive(Debug, Clone, Serialize)]
pub struct SigningState {
    pub agreement_id: String,
    pub reference: String,
    pub version_no: i32,
    pub order: SigningOrder,
    /// Whether signatures are expected now.
    pub open: bool,
    pub required: Vec<RequiredSignature>,
    /// The sealed document, once every signature is there.
    pub document: Option<DocumentInfo>,
}

/// The signing state of version `no` (default: the pending one, else the current one).
pub fn state(
    conn: &mut DbConn,
    order: SigningOrder,
    id: &str,
    no: Option<i32>,
) -> AppResult<SigningState> {
    let a = Agreement::find(conn, id)?;
    let pending = pending_version(conn, &a)?;
    let no = match no {
        Some(n) => {
            a.version(conn, n)?;
            n
        }
        None => pending.unwrap_or(a.current_version),
    };
    let signatures = Signature::of_version(conn, &a.id, no)?;
    let documents = document::Document::list(conn, &a.id)?;
    state_of(conn, order, &a, pending, no, &signatures, &documents)
}

/// The signing state of version `no` of `a`, from its signatures and the agreement's
/// documents.
fn state_of(
    conn: &mut DbConn,
    order: SigningOrder,
    a: &Agreement,
    pending: Option<i32>,
    no: i32,
    signatures: &[Signature],
    documents: &[DocumentInfo],
) -> AppResult<SigningState> {
    let mut required = Vec::new();
    for party in order.parties() {
        required.push(RequiredSignature {
            party,
            label: party.label(a.kind, a.direction),
            organisation: party_name(conn, a, party)?,
            signature: signatures.iter().find(|s| s.party == party).cloned(),
        });
    }
    Ok(SigningState {
        agreement_id: a.id.clone(),
        reference: a.reference.clone(),
        version_no: no,
        order,
        open: pending == Some(no),
        required,
        document: documents.iter().find(|d| d.version_no == no).cloned(),
    })
}

impl Inspect for SignInput {
    fn inspect(&mut self, t: &mut TextCheck) {
        t.opt("contact_id", Kind::Code, &mut self.contact_id);
    }
}

impl Checked<SignInput> {
    /// Records the signature; the last one signs the version and seals its document.
    pub fn apply(
        self,
        conn: &mut DbConn,
        sealer: &Sealer,
        order: SigningOrder,
        ctx: &SignContext,
        id: &str,
    ) -> AppResult<SigningState> {
        self.into_inner().apply(conn, sealer, order, ctx, id)
    }
}

impl SignInput {
    fn apply(
        self,
        conn: &mut DbConn,
        sealer: &Sealer,
        order: SigningOrder,
        ctx: &SignContext,
        id: &str,
    ) -> AppResult<SigningState> {
        let a = Agreement::find(conn, id)?;
        let kind = a.kind;
        let Some(no) = pending_version(conn, &a)? else {
            return Err(DomainError::Transition(format!(
                "{} wartet nicht auf Unterschriften (Status „{}“); legen Sie sie zuerst zur Unterschrift vor.",
                a.reference,
                a.status.label()
            ))
            .into());
        };
        if let Some(asked) = self.version_no {
            if asked != no {
                return Err(AppError::new(
                    ErrorKind::Stale,
                    format!(
                        "Zur Unterschrift liegt Fassung {no} von {} vor, nicht Fassung {asked}.",
                        a.reference
                    ),
                ));
            }
        }
        let (party, signer_name, signer_function, contact_id, user_id) = match &self.contact_id {
            Some(contact_id) => {
                policy::record_signature(ctx.staff).map_err(AppError::forbidden)?;
                let contact = Contact::find(conn, contact_id).map_err(|_| {
                    AppError::field("contact_id", "Diese Ansprechperson gibt es nicht.")
                })?;
                let party = party_of(conn, &a, &contact)?;
                (
                    party,
                    contact.name,
                    contact.function,
                    Some(contact.id),
                    None,
                )
            }
            None => {
                let user_id = ctx.user_id.as_deref().ok_or_else(|| {
                    AppError::field(
                        "contact_id",
                        "Mit dem Bootstrap-Token geben Sie an, wessen Unterschrift Sie erfassen (contact_id).",
                    )
                })?;
                let user = User::find(conn, user_id)?;
                let party = party_of_user(conn, &a, &user)?;
                // Both sides' signatories alike: the account says they may sign.
                let function = "zeichnungsberechtigt".to_string();
                (party, user.name, Some(function), None, Some(user.id))
            }
        };
        let existing = Signature::of_version(conn, &a.id, no)?;
        let signed: Vec<Party> = existing.iter().map(|s| s.party).collect();
        order.check(kind, party, &signed)?;
        // The text signed is the fixed one (fixed here if it went to signature before
        // texts were fixed at submission).
        crate::store::agreement::contract::freeze(conn, &a, no)?;
        let organisation_name = party_name(conn, &a, party)?;
        let signature = Signature {
            id: new_id(),
            agreement_id: a.id.clone(),
            version_no: no,
            party,
            position: existing.len() as i32 + 1,
            contact_id,
            signer_name,
            signer_function,
            declaration: ctx
                .declared
                .then(|| declaration(&a.reference, no, &organisation_name)),
            organisation_name,
            signed_at: now(),
            actor: ctx.actor.clone(),
            auth_method: ctx.auth_method.clone(),
            ip: ctx.ip.clone(),
            user_agent: ctx.user_agent.clone(),
            user_id,
        };
        diesel::insert_into(signatures::table)
            .values(&signature)
            .execute(conn)?;
        // Who signed the version is kept on its row for the to-do lists (signatures are
        // never changed, so it stays set).
        let version = agreement_versions::table
            .filter(agreement_versions::agreement_id.eq(&a.id))
            .filter(agreement_versions::version_no.eq(no));
        match party {
            Party::Dnrw => diesel::update(version)
                .set(agreement_versions::dnrw_signed.eq(true))
                .execute(conn)?,
            Party::Partner => diesel::update(version)
                .set(agreement_versions::partner_signed.eq(true))
                .execute(conn)?,
        };
        audit::record(
            conn,
            Change {
                actor: &ctx.actor,
                action: "signature",
                entity_type: "agreement",
                entity_id: &a.id,
                before: None,
                after: Some(serde_json::to_value(&signature)?),
                note: Some(format!(
                    "{}: unterschrieben von {}{}",
                    party.label(kind, a.direction),
                    signature.signer_name,
                    signature
                        .signer_function
                        .as_deref()
                        .map(|f| format!(" ({f})"))
                        .unwrap_or_default()
                )),
            },
        )?;

        let mut all: Vec<Party> = signed;
        all.push(party);
        if order.complete(&all) {
            let names = Signature::of_version(conn, &a.id, no)?
                .iter()
                .map(|s| format!("{} ({})", s.signer_name, s.organisation_name))
                .collect::<Vec<_>>()
                .join("; ");
            let a = if no == a.current_version {
                transition::sign(
                    conn,
                    &ctx.actor,
                    &a.id,
                    Signed {
                        on: today(),
                        by: names,
                    },
                )?
            } else {
                crate::actions::agreement::edit::mark_amendment_signed(
                    conn,
                    &ctx.actor,
                    &a,
                    no,
                    today(),
                )?;
                a
            };
            crate::actions::documents::issue(conn, sealer, order, &ctx.actor, &a, no)?;
            // "tritt mit Unterzeichnung in Kraft": the agreement (not an amendment, which
            // states its own date) comes into force now, and that mail says all; if it
            // cannot, it stays signed and the sealed mail goes out.
            let in_force = if no == a.current_version {
                crate::actions::lifecycle::at_last_signature(conn, &ctx.actor, &a, order, today())?
            } else {
                None
            };
            if in_force.is_none() {
                crate::actions::notify::sealed(conn, &a)?;
            }
        } else {
            // The other side is asked next (with `any`, whoever has not signed yet).
            for next in order.parties().into_iter().filter(|p| !all.contains(p)) {
                crate::actions::notify::signature_waiting(conn, &a, next, None)?;
            }
        }
        state(conn, order, id, Some(no))
    }
}

/// Records that version 1 of `a` was signed outside the registry (on paper, before the
/// registry existed) on `on` by `by`, and seals its document, which says so. Used by the
/// seed and imports; the API takes signatures only through [`SignInput`].
pub fn record_signed_outside(
    conn: &mut DbConn,
    sealer: &Sealer,
    order: SigningOrder,
    actor: &str,
    id: &str,
    on: time::Date,
    by: &str,
) -> AppResult<Agreement> {
    if on > today() {
        return Err(AppError::field(
            "signed_on",
            "Das Unterschriftsdatum darf nicht in der Zukunft liegen.",
        ));
    }
    let a = transition::sign(
        conn,
        actor,
        id,
        Signed {
            on,
            by: by.to_string(),
        },
    )?;
    // Its text says it was concluded on paper, not in the registry.
    crate::store::agreement::contract::refreeze(conn, &a, a.current_version)?;
    crate::actions::documents::issue(conn, sealer, order, actor, &a, a.current_version)?;
    Ok(a)
}
