//! Creating an agreement: check the parties, apply the rules, number it, store version 1.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::Deserialize;
use serde_json::Value;
use time::Date;

use crate::actions::agreement::TransitionInput;
use crate::db::schema::{agreement_versions, agreements};
use crate::db::DbConn;
use crate::domain::grammar::{Article, Case};
use crate::domain::signing::SigningOrder;
use crate::domain::text::{Checked, Inspect, Kind, TextCheck};
use crate::domain::{service, AgreementKind, Avv, Status, Terms, VersionStatus};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::store::agreement::{Agreement, AgreementVersion};
use crate::store::attachment::{AttachmentKind, CheckedUpload};
use crate::store::audit::{self, Change};
use crate::store::{new_id, now, reference, Scope};

/// `POST /api/v1/agreements`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAgreement {
    pub kind: String,
    #[serde(default)]
    pub counterparty_id: Option<String>,
    #[serde(default)]
    pub municipality_id: Option<String>,
    #[serde(default)]
    pub service_id: Option<String>,
    /// Derived from the service when absent: NRW services go outbound.
    #[serde(default)]
    pub direction: Option<String>,
    /// Outbound EA: the other Land's municipality that re-uses the service.
    #[serde(default)]
    pub external_party_name: Option<String>,
    #[serde(default)]
    pub external_party_ags: Option<String>,
    #[serde(default)]
    pub notice_period_months: Option<i32>,
    /// For agreements with a fixed term.
    #[serde(default)]
    pub ends_on: Option<Date>,
    #[serde(default)]
    pub avv: Option<Avv>,
    #[serde(default)]
    pub parameters: BTreeMap<String, Value>,
    #[serde(default)]
    pub costs: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    /// RV or EA for a municipality recorded as not Träger of d-NRW: why it may re-use the
    /// services anyway (required then, refused for a Träger).
    #[serde(default)]
    pub non_member_reason: Option<String>,
}

/// Where an EA's AVV comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AvvSource {
    /// The one in the input (none: the draft has none yet).
    AsGiven,
    /// Without one in the input: the AVV of the EKV it rests on (the EKV's is the one
    /// that applies; municipalities and d-NRW's EA drafts do not write their own).
    FromEkv,
}

impl Inspect for NewAgreement {
    fn inspect(&mut self, t: &mut TextCheck) {
        t.text("kind", Kind::Code, &mut self.kind);
        t.opt("counterparty_id", Kind::Code, &mut self.counterparty_id);
        t.opt("municipality_id", Kind::Code, &mut self.municipality_id);
        t.opt("service_id", Kind::Code, &mut self.service_id);
        t.opt("direction", Kind::Code, &mut self.direction);
        t.opt(
            "external_party_name",
            Kind::Name,
            &mut self.external_party_name,
        );
        t.opt(
            "external_party_ags",
            Kind::Code,
            &mut self.external_party_ags,
        );
        if let Some(avv) = &mut self.avv {
            t.nested("avv", avv);
        }
        t.map("parameters", Kind::Note, &mut self.parameters);
        t.opt("costs", Kind::Note, &mut self.costs);
        t.opt("notes", Kind::Note, &mut self.notes);
        t.opt("non_member_reason", Kind::Note, &mut self.non_member_reason);
    }
}

/// When a municipality's own request goes to signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submit {
    /// At once: an API caller composed the request and sends it as it is.
    Now,
    /// After the person has read the draft's text on its page and submits it there.
    AfterReview,
}

impl Checked<NewAgreement> {
    /// Creates the agreement for a caller with `scope` (see [`NewAgreement::create_as`]).
    /// `order`: who is asked to sign first when a municipality's request is submitted
    /// (the deployment's setting).
    pub fn create_as(
        self,
        conn: &mut DbConn,
        scope: &Scope,
        actor: &str,
        uploads: Vec<CheckedUpload>,
        order: SigningOrder,
        submit: Submit,
    ) -> AppResult<Agreement> {
        self.into_inner()
            .create_as(conn, scope, actor, uploads, order, submit)
    }

    /// Creates the agreement as a draft, or says exactly why not.
    pub fn create(self, conn: &mut DbConn, actor: &str, avv: AvvSource) -> AppResult<Agreement> {
        self.into_inner().create(conn, actor, avv)
    }
}

impl NewAgreement {
    /// Whether a caller with `scope` may create an agreement like this
    /// (`domain::policy::create_agreement`): 403 with the reason if not.
    pub fn may_be_created_by(&self, scope: &Scope) -> AppResult<()> {
        crate::domain::policy::create_agreement(
            scope,
            crate::domain::policy::NewAgreementShape {
                kind: AgreementKind::parse(&self.kind),
                municipality: self.municipality_id.as_deref(),
                names_partner_or_direction: self.counterparty_id.is_some()
                    || self.external_party_name.is_some()
                    || self.external_party_ags.is_some()
                    || self.direction.as_deref().is_some_and(|d| d != "inbound"),
            },
        )
        .map_err(AppError::forbidden)
    }

    /// Creates the agreement for a caller with `scope`. d-NRW staff create anything as a
    /// draft. A municipality user requests its own RV or files its own Einzelabruf: the
    /// agreement is made for their municipality (naming another one is refused), the EA
    /// takes the AVV of the EKV in force, and it is a draft to review on its page, or
    /// (`Submit::Now`, the API) goes to signature at once; or it is refused as a whole
    /// with the reasons. Intermediary users create nothing.
    ///
    /// `uploads` (checked files: coat of arms, DVDV certificate) are stored with an EA;
    /// the coat of arms becomes the value of its `wappen` parameter (`anlage:<id>`).
    fn create_as(
        mut self,
        conn: &mut DbConn,
        scope: &Scope,
        actor: &str,
        uploads: Vec<CheckedUpload>,
        order: SigningOrder,
        submit: Submit,
    ) -> AppResult<Agreement> {
        if !uploads.is_empty() && self.kind != "ea" {
            return Err(AppError::field(
                "kind",
                "Wappen und DVDV-Zertifikat gehören zu einem Einzelabruf.",
            ));
        }
        if let Some(u) = uploads
            .iter()
            .find(|u| u.kind == AttachmentKind::CoatOfArms)
        {
            self.parameters
                .insert("wappen".into(), Value::String(format!("anlage:{}", u.id)));
        }
        let store = |conn: &mut DbConn, a: &Agreement| -> AppResult<()> {
            for u in uploads {
                u.store(conn, &a.id, actor)?;
            }
            Ok(())
        };
        self.may_be_created_by(scope)?;
        let municipality = match scope {
            Scope::Municipality(m) => m.clone(),
            _ => {
                let a = self.create(conn, actor, AvvSource::AsGiven)?;
                store(conn, &a)?;
                return Ok(a);
            }
        };
        self.municipality_id = Some(municipality);
        let a = self.create(conn, actor, AvvSource::FromEkv)?;
        store(conn, &a)?;
        match submit {
            // The API caller composed the request: it goes to signature at once.
            Submit::Now => Checked::new(TransitionInput {
                action: "submit".into(),
                ..TransitionInput::default()
            })?
            .apply_as(conn, scope, actor, &a.id, order),
            // The page shows the draft's text first; submitting is its own step.
            Submit::AfterReview => Ok(a),
        }
    }

    fn create(self, conn: &mut DbConn, actor: &str, avv_source: AvvSource) -> AppResult<Agreement> {
        let Some(kind) = AgreementKind::parse(&self.kind) else {
            return Err(AppError::field(
                "kind",
                format!(
                    "„{}“ ist keine Vereinbarungsart (ioev, ekv, rv, ea).",
                    self.kind
                ),
            ));
        };
        let resolved = self.resolve(conn, kind)?;
        let non_member_reason = self
            .non_member_reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string);
        super::basis::check_membership(
            conn,
            kind,
            resolved.municipality.as_ref(),
            non_member_reason.as_deref(),
            true,
        )?;
        // The service's data-protection model as of now: an AVV only where it asks for one.
        let data_protection = match (&resolved.service, kind.has_avv()) {
            (Some(service), true) => Some(service.data_protection()?),
            _ => None,
        };
        let avv = match (&self.avv, &resolved.ekv_id) {
            (None, Some(ekv_id))
                if avv_source == AvvSource::FromEkv
                    && kind == AgreementKind::Ea
                    && data_protection.unwrap_or_default().requires_avv() =>
            {
                let ekv = Agreement::find(conn, ekv_id)?;
                ekv.version(conn, ekv.current_version)?.terms()?.avv
            }
            (avv, _) => avv.clone(),
        };
        let terms = Terms {
            data_protection,
            avv,
            parameters: self.parameters.clone(),
            costs: self.costs.clone(),
            notes: self.notes.clone(),
        };
        terms.check(kind, false)?;
        if let Some(service) = &resolved.service {
            if kind == AgreementKind::Ea {
                service::check_parameter_values(
                    &service.parameter_defs()?,
                    &terms.parameters,
                    false,
                )?;
            }
        }
        if let Some(m) = self.notice_period_months {
            if !(0..=60).contains(&m) {
                return Err(AppError::field(
                    "notice_period_months",
                    "Die Kündigungsfrist liegt zwischen 0 und 60 Monaten.",
                ));
            }
        }
        if let Some(existing) = Agreement::find_by_active_key(conn, &resolved.active_key)? {
            return Err(AppError::new(
                ErrorKind::Duplicate,
                format!(
                    "Für {} besteht bereits {} ({}, Status „{}“).",
                    resolved.parties_label,
                    kind.phrase(Case::Nominative, Article::Indefinite, Some("aktiv")),
                    existing.reference,
                    existing.status.label()
                ),
            ));
        }

        let created_at = now();
        let agreement = Agreement {
            id: new_id(),
            kind,
            reference: reference::next(conn, kind, created_at.year())?,
            direction: resolved.direction,
            status: Status::Draft,
            counterparty_id: resolved.counterparty.map(|c| c.id),
            municipality_id: resolved.municipality.map(|m| m.id),
            service_id: resolved.service.map(|s| s.id),
            external_party_name: self.external_party_name.clone(),
            external_party_ags: self.external_party_ags.clone(),
            ioev_id: resolved.ioev_id,
            rv_id: resolved.rv_id,
            ekv_id: resolved.ekv_id,
            active_key: Some(resolved.active_key),
            current_version: 1,
            notice_period_months: self.notice_period_months,
            submitted_at: None,
            submitted_by: None,
            signed_on: None,
            signed_by: None,
            effective_from: None,
            activated_by: None,
            notice_given_on: None,
            ends_on: self.ends_on,
            terminated_by: None,
            termination_reason: None,
            lock_version: 1,
            created_at,
            created_by: actor.to_string(),
            updated_at: created_at,
            live_on: None,
            non_member_reason,
        };
        let version = AgreementVersion {
            id: new_id(),
            agreement_id: agreement.id.clone(),
            version_no: 1,
            terms: serde_json::to_string(&terms)?,
            change_note: None,
            status: VersionStatus::Draft,
            signed_on: None,
            effective_from: None,
            created_at,
            created_by: actor.to_string(),
            text: None,
            text_sha256: None,
            text_templates: None,
        };
        crate::store::agreement::wrote();
        diesel::insert_into(agreements::table)
            .values(&agreement)
            .execute(conn)
            .map_err(|e| {
                let mut err = AppError::from(e);
                if err.kind == ErrorKind::Duplicate {
                    err.message = format!(
                        "Für {} besteht bereits {}.",
                        resolved.parties_label,
                        kind.phrase(Case::Nominative, Article::Indefinite, Some("aktiv"))
                    );
                }
                err
            })?;
        diesel::insert_into(agreement_versions::table)
            .values(&version)
            .execute(conn)?;
        let mut after = agreement.snapshot();
        after["terms"] = serde_json::to_value(&terms)?;
        audit::record(
            conn,
            Change {
                actor,
                action: "create",
                entity_type: "agreement",
                entity_id: &agreement.id,
                before: None,
                after: Some(after),
                note: None,
            },
        )?;
        Ok(agreement)
    }
}
