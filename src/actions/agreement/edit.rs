//! Changing terms: a draft is edited in place (every edit audited); a signed agreement is
//! never edited, it gets an amendment (Nachtrag) as a new version with its own signature.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::Deserialize;
use serde_json::Value;
use time::Date;

use crate::db::schema::agreement_versions as v;
use crate::db::DbConn;
use crate::domain::agreement::german_date;
use crate::domain::text::{Checked, Inspect, Kind, TextCheck};
use crate::domain::{service, AgreementKind, Avv, Status, Terms, VersionStatus};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::store::agreement::{Agreement, AgreementVersion};
use crate::store::audit::{self, Change};
use crate::store::{new_id, now, today};

/// `PATCH /api/v1/agreements/{id}`: only drafts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditInput {
    pub lock_version: i32,
    #[serde(default)]
    pub avv: Option<Avv>,
    #[serde(default)]
    pub parameters: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub costs: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "crate::store::nullable")]
    pub notice_period_months: Option<Option<i32>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "crate::store::nullable")]
    pub ends_on: Option<Option<Date>>,
    /// Why a municipality that is not Träger may re-use (`domain::membership`);
    /// `null` clears it.
    #[serde(default, deserialize_with = "crate::store::nullable")]
    pub non_member_reason: Option<Option<String>>,
}

/// `POST /api/v1/agreements/{id}/amendments`: the changed terms of a signed agreement.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmendmentInput {
    pub lock_version: i32,
    pub change_note: String,
    #[serde(default)]
    pub avv: Option<Avv>,
    #[serde(default)]
    pub parameters: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub costs: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

/// `POST /api/v1/agreements/{id}/amendments/{no}/transitions`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmendmentStep {
    pub action: String,
    #[serde(default)]
    pub effective_from: Option<Date>,
}

fn merge(
    mut terms: Terms,
    avv: Option<Avv>,
    parameters: Option<BTreeMap<String, Value>>,
    costs: Option<String>,
    notes: Option<String>,
) -> Terms {
    if avv.is_some() {
        terms.avv = avv;
    }
    if let Some(p) = parameters {
        terms.parameters = p;
    }
    if costs.is_some() {
        terms.costs = costs;
    }
    if notes.is_some() {
        terms.notes = notes;
    }
    terms
}

fn check_parameters(
    conn: &mut DbConn,
    a: &Agreement,
    terms: &Terms,
    complete: bool,
) -> AppResult<()> {
    if a.kind == AgreementKind::Ea {
        let s = a.service(conn)?;
        service::check_parameter_values(&s.parameter_defs()?, &terms.parameters, complete)?;
    }
    Ok(())
}

/// The terms' text an edit and an amendment both carry.
fn inspect_terms(
    t: &mut TextCheck,
    avv: &mut Option<Avv>,
    parameters: &mut Option<BTreeMap<String, Value>>,
    costs: &mut Option<String>,
    notes: &mut Option<String>,
) {
    if let Some(avv) = avv {
        t.nested("avv", avv);
    }
    if let Some(p) = parameters {
        t.map("parameters", Kind::Note, p);
    }
    t.opt("costs", Kind::Note, costs);
    t.opt("notes", Kind::Note, notes);
}

impl Inspect for EditInput {
    fn inspect(&mut self, t: &mut TextCheck) {
        t.opt2("non_member_reason", Kind::Note, &mut self.non_member_reason);
        let s = self;
        inspect_terms(t, &mut s.avv, &mut s.parameters, &mut s.costs, &mut s.notes);
    }
}

impl Inspect for AmendmentInput {
    fn inspect(&mut self, t: &mut TextCheck) {
        t.text("change_note", Kind::Note, &mut self.change_note);
        let s = self;
        inspect_terms(t, &mut s.avv, &mut s.parameters, &mut s.costs, &mut s.notes);
    }
}

impl Inspect for AmendmentStep {
    fn inspect(&mut self, t: &mut TextCheck) {
        t.text("action", Kind::Code, &mut self.action);
    }
}

impl Checked<EditInput> {
    /// Changes a draft's terms (`lock_version` required; a stale one is a 409).
    pub fn apply(self, conn: &mut DbConn, actor: &str, id: &str) -> AppResult<Agreement> {
        self.into_inner().apply(conn, actor, id)
    }
}

impl Checked<AmendmentInput> {
    /// Starts an amendment of a signed agreement: version n+1 with the changed terms.
    pub fn apply(self, conn: &mut DbConn, actor: &str, id: &str) -> AppResult<AgreementVersion> {
        self.into_inner().apply(conn, actor, id)
    }
}

impl Checked<AmendmentStep> {
    /// activate (the amendment becomes the current version) or cancel.
    pub fn apply(
        self,
        conn: &mut DbConn,
        actor: &str,
        id: &str,
        no: i32,
    ) -> AppResult<AgreementVersion> {
        // Signing goes through the signing workflow (`actions::sign`), which calls
        // [`mark_amendment_signed`].
        if self.action == "sign" {
            return Err(crate::actions::agreement::transition::sign_elsewhere(id));
        }
        self.into_inner().run(conn, actor, id, no, None)
    }
}

impl EditInput {
    fn apply(self, conn: &mut DbConn, actor: &str, id: &str) -> AppResult<Agreement> {
        let mut a = Agreement::find(conn, id)?;
        crate::store::agreement::check_lock(&a, Some(self.lock_version))?;
        let status = a.status;
        if !status.is_editable() {
            return Err(AppError::new(ErrorKind::Immutable, format!(
                    "{} ist im Status „{}“ und wird nicht mehr geändert. Änderungen an einer unterzeichneten Vereinbarung sind als Nachtrag anzulegen (POST /api/v1/agreements/{}/amendments).",
                    a.reference,
                    status.label(),
                    a.id
                ),
            ));
        }
        let kind = a.kind;
        let version = a.version(conn, a.current_version)?;
        let old_terms = version.terms()?;
        let terms = merge(
            old_terms.clone(),
            self.avv,
            self.parameters,
            self.costs,
            self.notes,
        );
        terms.check(kind, false)?;
        check_parameters(conn, &a, &terms, false)?;
        if let Some(m) = self.notice_period_months {
            if m.is_some_and(|m| !(0..=60).contains(&m)) {
                return Err(AppError::field(
                    "notice_period_months",
                    "Die Kündigungsfrist liegt zwischen 0 und 60 Monaten.",
                ));
            }
            a.notice_period_months = m;
        }
        if let Some(end) = self.ends_on {
            a.ends_on = end;
        }
        let mut before = a.snapshot();
        if let Some(reason) = self.non_member_reason {
            let reason = reason
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty());
            let is_new = reason.is_some() && reason != a.non_member_reason;
            let municipality = a
                .municipality_id
                .as_deref()
                .map(|id| crate::store::municipality::Municipality::find(conn, id))
                .transpose()?;
            super::basis::check_membership(
                conn,
                kind,
                municipality.as_ref(),
                reason.as_deref(),
                is_new,
            )?;
            a.non_member_reason = reason;
        }
        before["terms"] = serde_json::to_value(&old_terms)?;
        diesel::update(v::table.filter(v::id.eq(&version.id)))
            .set(v::terms.eq(serde_json::to_string(&terms)?))
            .execute(conn)?;
        let expected = a.lock_version;
        a.save(conn, expected)?;
        let mut after = a.snapshot();
        after["terms"] = serde_json::to_value(&terms)?;
        audit::record(
            conn,
            Change {
                actor,
                action: "edit",
                entity_type: "agreement",
                entity_id: &a.id,
                before: Some(before),
                after: Some(after),
                note: None,
            },
        )?;
        Ok(a)
    }
}

impl AmendmentInput {
    fn apply(self, conn: &mut DbConn, actor: &str, id: &str) -> AppResult<AgreementVersion> {
        let mut a = Agreement::find(conn, id)?;
        crate::store::agreement::check_lock(&a, Some(self.lock_version))?;
        let status = a.status;
        if !matches!(status, Status::Signed | Status::InForce) {
            return Err(AppError::new(ErrorKind::InvalidTransition, format!(
                    "Ein Nachtrag ist nur zu einer unterzeichneten oder geltenden Vereinbarung möglich; {} ist im Status „{}“.",
                    a.reference,
                    status.label()
                ),
            ));
        }
        if self.change_note.trim().is_empty() {
            return Err(AppError::field(
                "change_note",
                "Bitte beschreiben Sie, was der Nachtrag ändert.",
            ));
        }
        let versions = a.versions(conn)?;
        if let Some(open) = versions
            .iter()
            .find(|x| x.version_no > a.current_version && x.status != VersionStatus::Cancelled)
        {
            return Err(AppError::new(
                ErrorKind::Duplicate,
                format!(
                    "Zu {} ist bereits ein Nachtrag (Fassung {}) offen.",
                    a.reference, open.version_no
                ),
            ));
        }
        let kind = a.kind;
        let current = a.version(conn, a.current_version)?;
        let terms = merge(
            current.terms()?,
            self.avv,
            self.parameters,
            self.costs,
            self.notes,
        );
        terms.check(kind, true)?;
        check_parameters(conn, &a, &terms, true)?;
        let no = versions.iter().map(|x| x.version_no).max().unwrap_or(1) + 1;
        let version = AgreementVersion {
            id: new_id(),
            agreement_id: a.id.clone(),
            version_no: no,
            terms: serde_json::to_string(&terms)?,
            change_note: Some(self.change_note.trim().to_string()),
            status: VersionStatus::Draft,
            signed_on: None,
            effective_from: None,
            created_at: now(),
            created_by: actor.to_string(),
            text: None,
            text_sha256: None,
            text_templates: None,
        };
        diesel::insert_into(v::table)
            .values(&version)
            .execute(conn)?;
        // An amendment waits for signatures from the start: its text is fixed now.
        crate::store::agreement::contract::freeze(conn, &a, no)?;
        // Bump the agreement's lock version: it has changed (an amendment is pending).
        let expected = a.lock_version;
        a.save(conn, expected)?;
        audit::record(
            conn,
            Change {
                actor,
                action: "amend",
                entity_type: "agreement",
                entity_id: &a.id,
                before: None,
                after: Some(
                    serde_json::json!({ "version_no": no, "terms": terms, "change_note": version.change_note }),
                ),
                note: None,
            },
        )?;
        Ok(version)
    }
}

impl AmendmentStep {
    fn run(
        self,
        conn: &mut DbConn,
        actor: &str,
        id: &str,
        no: i32,
        signed_on: Option<Date>,
    ) -> AppResult<AgreementVersion> {
        let mut a = Agreement::find(conn, id)?;
        let version = a.version(conn, no)?;
        if no <= a.current_version || version.status == VersionStatus::Cancelled {
            return Err(AppError::new(
                ErrorKind::InvalidTransition,
                format!(
                    "Fassung {no} von {} ist kein offener Nachtrag.",
                    a.reference
                ),
            ));
        }
        use VersionStatus as V;
        let (to, signed_on, effective_from) = match (self.action.as_str(), version.status) {
            ("sign", V::Draft) => {
                let on = signed_on.unwrap_or_else(today);
                if on > today() {
                    return Err(AppError::field("signed_on", "Das Unterschriftsdatum darf nicht in der Zukunft liegen."));
                }
                (V::Signed, Some(on), None)
            }
            ("activate", V::Signed) => {
                let from = self.effective_from.unwrap_or_else(today);
                if version.signed_on.is_some_and(|s| from < s) {
                    return Err(AppError::field(
                        "effective_from",
                        format!("Ein Nachtrag kann nicht vor seiner Unterzeichnung ({}) gelten.", german_date(version.signed_on.unwrap_or(from))),
                    ));
                }
                (V::InForce, None, Some(from))
            }
            ("cancel", V::Draft | V::Signed) => (V::Cancelled, None, None),
            (action, status) => {
                return Err(AppError::new(ErrorKind::InvalidTransition, format!("Schritt „{action}“ ist für einen Nachtrag im Status „{}“ nicht möglich (sign → activate, oder cancel).", status.as_str()),
                ))
            }
        };
        diesel::update(v::table.filter(v::id.eq(&version.id)))
            .set((
                v::status.eq(to),
                v::signed_on.eq(signed_on.or(version.signed_on)),
                v::effective_from.eq(effective_from),
            ))
            .execute(conn)?;
        let expected = a.lock_version;
        if to == V::InForce {
            diesel::update(
                v::table
                    .filter(v::agreement_id.eq(&a.id))
                    .filter(v::version_no.eq(a.current_version)),
            )
            .set(v::status.eq(V::Superseded))
            .execute(conn)?;
            a.current_version = no;
        }
        a.save(conn, expected)?;
        audit::record(
            conn,
            Change {
                actor,
                action: &format!("amendment_{}", self.action),
                entity_type: "agreement",
                entity_id: &a.id,
                before: Some(serde_json::json!({ "version_no": no, "status": version.status })),
                after: Some(
                    serde_json::json!({ "version_no": no, "status": to, "current_version": a.current_version }),
                ),
                note: None,
            },
        )?;
        let mut out = version;
        out.status = to;
        out.signed_on = signed_on.or(out.signed_on);
        out.effective_from = effective_from;
        Ok(out)
    }
}

/// The last signature of an amendment: version `no` becomes `signed`.
pub fn mark_amendment_signed(
    conn: &mut DbConn,
    actor: &str,
    a: &Agreement,
    no: i32,
    on: Date,
) -> AppResult<()> {
    AmendmentStep {
        action: "sign".into(),
        effective_from: None,
    }
    .run(conn, actor, &a.id, no, Some(on))
    .map(|_| ())
}
