//! Agreements (IÖV, EKV, RV, EA) and the versions of their terms: the rows, queries, the
//! contract data and the JSON view. Creating, editing and moving them through their
//! lifecycle are use cases in `actions::agreement`.

/// `q` (a boxed query whose source includes `agreements`: the table, or the table joined
/// with the names of a list's rows) narrowed to what `scope` may see and what the
/// `Filter` asks for. One definition for the count, the ids and the joined rows.
macro_rules! scoped_and_filtered {
    ($q:expr, $scope:expr, $filter:expr) => {{
        let (scope, filter): (&$crate::store::Scope, &$crate::store::agreement::Filter) =
            ($scope, $filter);
        let mut q = $q;
        match scope {
            $crate::store::Scope::All => {}
            $crate::store::Scope::Municipality(m) => {
                q = q.filter(agreements::municipality_id.eq(m.clone()));
            }
            $crate::store::Scope::Intermediary(o) => {
                q = q.filter(agreements::counterparty_id.eq(o.clone()));
            }
        }
        if let Some(k) = filter.kind {
            q = q.filter(agreements::kind.eq(k));
        }
        if let Some(s) = filter.status {
            q = q.filter(agreements::status.eq(s));
        }
        if let Some(id) = &filter.municipality_id {
            q = q.filter(agreements::municipality_id.eq(id.clone()));
        }
        if let Some(id) = &filter.service_id {
            q = q.filter(agreements::service_id.eq(id.clone()));
        }
        if let Some(id) = &filter.counterparty_id {
            q = q.filter(agreements::counterparty_id.eq(id.clone()));
        }
        q
    }};
}

pub mod contract;
mod row;
mod view;

pub use row::AgreementRow;
pub use view::{AgreementView, Filter, LIST_COUNT_CAP};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use time::{Date, PrimitiveDateTime};

use crate::db::schema::{agreement_versions, agreements};
use crate::db::DbConn;
use crate::domain::rules::Found;
use crate::domain::{AgreementKind, Direction, Status, Terms, VersionStatus};
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = agreements)]
pub struct Agreement {
    pub id: String,
    pub kind: AgreementKind,
    pub reference: String,
    pub direction: Direction,
    pub status: Status,
    pub counterparty_id: Option<String>,
    pub municipality_id: Option<String>,
    pub service_id: Option<String>,
    pub external_party_name: Option<String>,
    pub external_party_ags: Option<String>,
    pub ioev_id: Option<String>,
    pub rv_id: Option<String>,
    pub ekv_id: Option<String>,
    pub active_key: Option<String>,
    pub current_version: i32,
    pub notice_period_months: Option<i32>,
    pub submitted_at: Option<PrimitiveDateTime>,
    pub submitted_by: Option<String>,
    pub signed_on: Option<Date>,
    pub signed_by: Option<String>,
    pub effective_from: Option<Date>,
    pub activated_by: Option<String>,
    pub notice_given_on: Option<Date>,
    pub ends_on: Option<Date>,
    pub terminated_by: Option<String>,
    pub termination_reason: Option<String>,
    pub lock_version: i32,
    pub created_at: PrimitiveDateTime,
    pub created_by: String,
    pub updated_at: PrimitiveDateTime,
    /// EA: the day its last go-live task was done (the service is live there).
    pub live_on: Option<Date>,
    /// RV or EA for a municipality that is not Träger of d-NRW: why it may re-use the
    /// service anyway (`domain::membership`).
    pub non_member_reason: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = agreement_versions)]
pub struct AgreementVersion {
    pub id: String,
    pub agreement_id: String,
    pub version_no: i32,
    pub terms: String,
    pub change_note: Option<String>,
    pub status: VersionStatus,
    pub signed_on: Option<Date>,
    pub effective_from: Option<Date>,
    pub created_at: PrimitiveDateTime,
    pub created_by: String,
    /// The contract text as fixed when the version went to signature (see
    /// `contract::freeze`); `None` until then.
    pub text: Option<String>,
    pub text_sha256: Option<String>,
    /// JSON array of the template versions (`["rv@2.1"]`).
    pub text_templates: Option<String>,
}

impl AgreementVersion {
    pub fn terms(&self) -> AppResult<Terms> {
        Ok(serde_json::from_str(&self.terms)?)
    }
}

impl Agreement {
    /// The parties of the agreement, for who may see and act on it (`domain::policy`).
    pub fn parties(&self) -> crate::domain::policy::Parties<'_> {
        crate::domain::policy::Parties {
            municipality: self.municipality_id.as_deref(),
            organisation: self.counterparty_id.as_deref(),
        }
    }

    /// The service of an EKV or EA. Each has one; a missing one is a broken invariant
    /// (logged as such), not a "not found" for the user.
    pub fn service(&self, conn: &mut DbConn) -> AppResult<crate::store::service::Service> {
        let id = self.service_id.as_deref().ok_or_else(|| {
            AppError::internal(format!(
                "{} ({}) has no service",
                self.reference,
                self.kind.as_str()
            ))
        })?;
        crate::store::service::Service::find(conn, id)
    }

    /// As a precondition fact for the domain rules.
    pub fn found(&self) -> AppResult<Found<'_>> {
        Ok(Found {
            reference: &self.reference,
            status: self.status,
        })
    }

    pub fn find(conn: &mut DbConn, id: &str) -> AppResult<Agreement> {
        agreements::table
            .find(id)
            .select(Agreement::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| {
                AppError::not_found(format!("Es gibt keine Vereinbarung mit der Id {id}."))
            })
    }

    /// Only the reference (Aktenzeichen) of agreement `id`: what a contract text cites of
    /// a linked agreement, without reading its other 31 columns.
    pub fn reference_of(conn: &mut DbConn, id: &str) -> AppResult<String> {
        agreements::table
            .find(id)
            .select(agreements::reference)
            .first(conn)
            .optional()?
            .ok_or_else(|| {
                AppError::not_found(format!("Es gibt keine Vereinbarung mit der Id {id}."))
            })
    }

    /// The agreement if `scope` may see it; otherwise the same 404 as for a missing one.
    pub fn find_in(conn: &mut DbConn, scope: &super::Scope, id: &str) -> AppResult<Agreement> {
        let a = Agreement::find(conn, id)?;
        if scope.sees(a.parties()) {
            Ok(a)
        } else {
            Err(AppError::not_found(format!(
                "Es gibt keine Vereinbarung mit der Id {id}."
            )))
        }
    }

    /// How many agreements there are of each kind and status: `(kind, status, count)`.
    /// The number of agreements by kind and status (a scan of every agreement: at
    /// national scale use `CountsCache`).
    pub fn counts(conn: &mut DbConn) -> AppResult<Vec<(String, String, i64)>> {
        Ok(agreements::table
            .group_by((agreements::kind, agreements::status))
            .select((
                agreements::kind,
                agreements::status,
                diesel::dsl::count_star(),
            ))
            .load(conn)?)
    }

    pub fn find_by_active_key(conn: &mut DbConn, key: &str) -> AppResult<Option<Agreement>> {
        Ok(agreements::table
            .filter(agreements::active_key.eq(key))
            .select(Agreement::as_select())
            .first(conn)
            .optional()?)
    }

    /// The active agreement of `kind` matching the given parties, preferring one in force.
    pub fn best_active(
        conn: &mut DbConn,
        kind: AgreementKind,
        counterparty_id: Option<&str>,
        municipality_id: Option<&str>,
        service_id: Option<&str>,
        direction: Option<Direction>,
    ) -> AppResult<Option<Agreement>> {
        let active: Vec<Status> = Status::ALL.into_iter().filter(|s| s.is_active()).collect();
        let mut q = agreements::table
            .filter(agreements::kind.eq(kind))
            .filter(agreements::status.eq_any(active))
            .select(Agreement::as_select())
            .order(agreements::created_at.desc())
            .into_boxed();
        if let Some(id) = counterparty_id {
            q = q.filter(agreements::counterparty_id.eq(id.to_string()));
        }
        if let Some(id) = municipality_id {
            q = q.filter(agreements::municipality_id.eq(id.to_string()));
        }
        if let Some(id) = service_id {
            q = q.filter(agreements::service_id.eq(id.to_string()));
        }
        if let Some(d) = direction {
            q = q.filter(agreements::direction.eq(d));
        }
        let found = q.load(conn)?;
        let in_force = found.iter().position(|a| a.status == Status::InForce);
        Ok(match in_force {
            Some(i) => found.into_iter().nth(i),
            None => found.into_iter().next(),
        })
    }

    /// Active agreements that rest on this one (EKVs and outbound EAs on an IÖV, EAs on an
    /// RV or EKV).
    pub fn active_dependants(&self, conn: &mut DbConn) -> AppResult<Vec<Agreement>> {
        let active: Vec<Status> = Status::ALL.into_iter().filter(|s| s.is_active()).collect();
        let q = agreements::table
            .filter(agreements::status.eq_any(active))
            .select(Agreement::as_select())
            .order(agreements::reference);
        Ok(match self.kind {
            AgreementKind::Ioev => q.filter(agreements::ioev_id.eq(&self.id)).load(conn)?,
            AgreementKind::Rv => q.filter(agreements::rv_id.eq(&self.id)).load(conn)?,
            AgreementKind::Ekv => q.filter(agreements::ekv_id.eq(&self.id)).load(conn)?,
            AgreementKind::Ea => Vec::new(),
        })
    }

    pub fn versions(&self, conn: &mut DbConn) -> AppResult<Vec<AgreementVersion>> {
        Ok(agreement_versions::table
            .filter(agreement_versions::agreement_id.eq(&self.id))
            .select(AgreementVersion::as_select())
            .order(agreement_versions::version_no)
            .load(conn)?)
    }

    pub fn version(&self, conn: &mut DbConn, no: i32) -> AppResult<AgreementVersion> {
        agreement_versions::table
            .filter(agreement_versions::agreement_id.eq(&self.id))
            .filter(agreement_versions::version_no.eq(no))
            .select(AgreementVersion::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| {
                AppError::not_found(format!("{} hat keine Fassung {no}.", self.reference))
            })
    }

    /// Writes every lifecycle column if nobody changed the row since `expected`.
    pub fn save(&mut self, conn: &mut DbConn, expected: i32) -> AppResult<()> {
        WRITES.fetch_add(1, Ordering::Relaxed);
        let next = expected + 1;
        self.updated_at = super::now();
        self.lock_version = next;
        let n = diesel::update(
            agreements::table
                .filter(agreements::id.eq(&self.id))
                .filter(agreements::lock_version.eq(expected)),
        )
        .set((
            agreements::status.eq(&self.status),
            agreements::active_key.eq(&self.active_key),
            agreements::ioev_id.eq(&self.ioev_id),
            agreements::rv_id.eq(&self.rv_id),
            agreements::ekv_id.eq(&self.ekv_id),
            agreements::current_version.eq(self.current_version),
            agreements::notice_period_months.eq(self.notice_period_months),
            agreements::submitted_at.eq(self.submitted_at),
            agreements::submitted_by.eq(&self.submitted_by),
            agreements::signed_on.eq(self.signed_on),
            agreements::signed_by.eq(&self.signed_by),
            agreements::effective_from.eq(self.effective_from),
            agreements::activated_by.eq(&self.activated_by),
            agreements::notice_given_on.eq(self.notice_given_on),
            agreements::ends_on.eq(self.ends_on),
            agreements::terminated_by.eq(&self.terminated_by),
            agreements::termination_reason.eq(&self.termination_reason),
            agreements::live_on.eq(self.live_on),
            agreements::non_member_reason.eq(&self.non_member_reason),
            agreements::lock_version.eq(next),
            agreements::updated_at.eq(self.updated_at),
        ))
        .execute(conn)?;
        if n == 0 {
            return Err(AppError::stale());
        }
        Ok(())
    }

    /// The lifecycle columns as JSON, for the audit log's before/after.
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "status": self.status,
            "reference": self.reference,
            "current_version": self.current_version,
            "notice_period_months": self.notice_period_months,
            "submitted_by": self.submitted_by,
            "signed_on": self.signed_on,
            "signed_by": self.signed_by,
            "effective_from": self.effective_from,
            "live_on": self.live_on,
            "activated_by": self.activated_by,
            "notice_given_on": self.notice_given_on,
            "ends_on": self.ends_on,
            "terminated_by": self.terminated_by,
            "termination_reason": self.termination_reason,
            "non_member_reason": self.non_member_reason,
            "lock_version": self.lock_version,
        })
    }
}

/// Rejects a stale `lock_version` given by the caller.
pub fn check_lock(agreement: &Agreement, given: Option<i32>) -> AppResult<()> {
    match given {
        Some(v) if v != agreement.lock_version => Err(AppError::stale()),
        _ => Ok(()),
    }
}

/// Agreement writes (`save`, creation) this process made: caches of aggregates over all
/// agreements compare it to notice their own process's changes at once.
static WRITES: AtomicU64 = AtomicU64::new(0);

/// Counts an agreement write of this process (creation; `save` counts itself).
pub fn wrote() {
    WRITES.fetch_add(1, Ordering::Relaxed);
}

/// `Agreement::counts` kept for the staff start page: counted again after a write in
/// this process, and otherwise at most every `COUNTS_RECHECK` (what another instance
/// wrote shows within that time). Counting 1,000,000 agreements takes a quarter second.
#[derive(Default)]
pub struct CountsCache(Mutex<Option<CountedAt>>);

/// (kind, status, number) rows as counted, at which write count and when.
type Counted = Arc<Vec<(String, String, i64)>>;
type CountedAt = (u64, Instant, Counted);

/// How long counts are shown before they are counted again.
pub const COUNTS_RECHECK: Duration = Duration::from_secs(10);

impl CountsCache {
    pub fn get(&self, conn: &mut DbConn) -> AppResult<Counted> {
        let writes = WRITES.load(Ordering::Relaxed);
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((w, at, counts)) = slot.as_ref() {
            if *w == writes && at.elapsed() < COUNTS_RECHECK {
                return Ok(counts.clone());
            }
        }
        let counts = Arc::new(Agreement::counts(conn)?);
        *slot = Some((writes, Instant::now(), counts.clone()));
        Ok(counts)
    }
}
