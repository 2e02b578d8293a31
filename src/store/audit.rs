//! The append-only audit log: who changed what, when, with the state before and after.
//! The database refuses UPDATE and DELETE on this table (triggers in the migrations).

use diesel::prelude::*;
use serde::Serialize;
use time::PrimitiveDateTime;

use super::{Page, Paged};
use crate::db::schema::audit_events;
use crate::db::DbConn;
use crate::error::AppResult;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: String,
    pub seq: i64,
    pub at: PrimitiveDateTime,
    pub actor: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    pub before_json: Option<String>,
    pub after_json: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditView {
    pub id: String,
    pub seq: i64,
    #[serde(with = "super::ts")]
    pub at: PrimitiveDateTime,
    pub actor: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub note: Option<String>,
}

impl AuditEvent {
    pub fn view(&self) -> AuditView {
        let parse = |s: &Option<String>| s.as_deref().and_then(|s| serde_json::from_str(s).ok());
        AuditView {
            id: self.id.clone(),
            seq: self.seq,
            at: self.at,
            actor: self.actor.clone(),
            action: self.action.clone(),
            entity_type: self.entity_type.clone(),
            entity_id: self.entity_id.clone(),
            before: parse(&self.before_json),
            after: parse(&self.after_json),
            note: self.note.clone(),
        }
    }

    /// The first `limit` events of one entity, in order (without counting them).
    pub fn of_entity(conn: &mut DbConn, entity_id: &str, limit: i64) -> AppResult<Vec<AuditView>> {
        Ok(audit_events::table
            .filter(audit_events::entity_id.eq(entity_id))
            .select(AuditEvent::as_select())
            .order((audit_events::seq, audit_events::at))
            .limit(limit)
            .load(conn)?
            .iter()
            .map(AuditEvent::view)
            .collect())
    }

    pub fn list(
        conn: &mut DbConn,
        entity_id: Option<&str>,
        page: Page,
    ) -> AppResult<Paged<AuditView>> {
        let build = || {
            let mut q = audit_events::table.into_boxed();
            if let Some(id) = entity_id {
                q = q.filter(audit_events::entity_id.eq(id.to_string()));
            }
            q
        };
        let total = build().count().get_result(conn)?;
        let items = build()
            .select(AuditEvent::as_select())
            .order((audit_events::seq, audit_events::at))
            .limit(page.per_page)
            .offset(page.offset())
            .load(conn)?
            .iter()
            .map(AuditEvent::view)
            .collect();
        Ok(Paged {
            items,
            page: page.page,
            per_page: page.per_page,
            total,
        })
    }
}

/// What changed, for one audit record.
pub struct Change<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: &'a str,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub note: Option<String>,
}

/// Appends one record; call inside the transaction that makes the change.
pub fn record(conn: &mut DbConn, change: Change<'_>) -> AppResult<()> {
    let last: Option<i64> = audit_events::table
        .select(diesel::dsl::max(audit_events::seq))
        .first(conn)?;
    let event = AuditEvent {
        id: super::new_id(),
        seq: last.unwrap_or(0) + 1,
        at: super::now(),
        actor: change.actor.to_string(),
        action: change.action.to_string(),
        entity_type: change.entity_type.to_string(),
        entity_id: change.entity_id.to_string(),
        before_json: change.before.map(|v| v.to_string()),
        after_json: change.after.map(|v| v.to_string()),
        note: change.note,
    };
    diesel::insert_into(audit_events::table)
        .values(&event)
        .execute(conn)?;
    Ok(())
}
