//! Creating an agreement: check the parties, apply the rules, number it, store version 1.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::Deserialize;
use serde_json::Value;
use time::Date;

use super::{Agreement, AgreementVersion};
use crate::db::schema::{agreement_versions, agreements};
use crate::db::DbConn;
use crate::domain::{service, AgreementKind, Avv, Status, Terms};
use crate::error::{AppError, AppResult};
use crate::models::audit::{self, Change};
use crate::models::{new_id, now, reference};

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
}

impl NewAgreement {
    /// Creates the agreement as a draft, or says exactly why not.
    pub fn create(self, conn: &mut DbConn, actor: &str) -> AppResult<Agreement> {
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
        let terms = Terms {
            avv: self.avv.clone(),
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
            return Err(AppError::conflict(
                "duplicate",
                format!(
                    "Für {} besteht bereits eine aktive {} ({}, Status „{}“).",
                    resolved.parties_label,
                    kind.label(),
                    existing.reference,
                    existing.status()?.label()
                ),
            ));
        }

        let created_at = now();
        let agreement = Agreement {
            id: new_id(),
            kind: kind.as_str().into(),
            reference: reference::next(conn, kind, created_at.year())?,
            direction: resolved.direction.as_str().into(),
            status: Status::Draft.as_str().into(),
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
        };
        let version = AgreementVersion {
            id: new_id(),
            agreement_id: agreement.id.clone(),
            version_no: 1,
            terms: serde_json::to_string(&terms)?,
            change_note: None,
            status: "draft".into(),
            signed_on: None,
            effective_from: None,
            created_at,
            created_by: actor.to_string(),
        };
        diesel::insert_into(agreements::table)
            .values(&agreement)
            .execute(conn)
            .map_err(|e| {
                let mut err = AppError::from(e);
                if err.code == "duplicate" {
                    err.message = format!(
                        "Für {} besteht bereits eine aktive {}.",
                        resolved.parties_label,
                        kind.label()
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
