//! Listing tasks for a caller scope and the views the pages and the API show.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::*;
use crate::db::schema::{
    agreements, contacts, golive_tasks, municipalities, organisations, services,
};
use crate::db::DbConn;
use crate::domain::golive::TaskStatus;
use crate::domain::Status;
use crate::error::{AppError, AppResult};
use crate::store::contact::Contact;
use crate::store::looked_up;
use crate::store::municipality::Municipality;
use crate::store::{today, Page, Paged, Scope};

/// Which tasks a list shows.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub status: Option<TaskStatus>,
    /// Not done and past the due date (of EAs in force).
    pub overdue: bool,
    /// Not done (open, in progress, blocked).
    pub pending: bool,
    pub agreement_id: Option<String>,
    pub municipality_id: Option<String>,
    pub service_id: Option<String>,
}

/// Tasks joined with their agreements in force.
type InForce = diesel::dsl::Filter<
    diesel::dsl::InnerJoin<golive_tasks::table, agreements::table>,
    diesel::dsl::Eq<agreements::status, &'static str>,
>;

/// The tasks `scope` may see that match the filter, as a query to go on with.
fn filtered<'a>(
    scope: &'a Scope,
    filter: &'a TaskFilter,
) -> diesel::dsl::IntoBoxed<'a, InForce, <DbConn as diesel::Connection>::Backend> {
    let mut q = golive_tasks::table
        .inner_join(agreements::table)
        .filter(agreements::status.eq(Status::InForce.as_str()))
        .into_boxed();
    match scope {
        Scope::All => {}
        Scope::Municipality(m) => q = q.filter(agreements::municipality_id.eq(m)),
        Scope::Intermediary(o) => q = q.filter(agreements::counterparty_id.eq(o)),
    }
    if let Some(s) = filter.status {
        q = q.filter(golive_tasks::status.eq(s));
    }
    if filter.pending || filter.overdue {
        q = q.filter(golive_tasks::status.ne(TaskStatus::Done.as_str()));
    }
    if filter.overdue {
        q = q.filter(golive_tasks::due_on.lt(today()));
    }
    if let Some(id) = &filter.agreement_id {
        q = q.filter(golive_tasks::agreement_id.eq(id));
    }
    if let Some(id) = &filter.municipality_id {
        q = q.filter(agreements::municipality_id.eq(id));
    }
    if let Some(id) = &filter.service_id {
        q = q.filter(agreements::service_id.eq(id));
    }
    q
}

/// Most urgent first: due date, then plan order.
type Urgent = (
    golive_tasks::due_on,
    golive_tasks::agreement_id,
    golive_tasks::position,
);

const URGENT: Urgent = (
    golive_tasks::due_on,
    golive_tasks::agreement_id,
    golive_tasks::position,
);

/// Tasks `scope` may see, most urgent first (due date, then plan order).
pub fn list(
    conn: &mut DbConn,
    scope: &Scope,
    filter: &TaskFilter,
    page: Page,
) -> AppResult<Paged<TaskView>> {
    let total: i64 = filtered(scope, filter).count().get_result(conn)?;
    let rows: Vec<Task> = filtered(scope, filter)
        .order(URGENT)
        .limit(page.per_page)
        .offset(page.offset())
        .select(Task::as_select())
        .load(conn)?;
    Ok(Paged {
        items: views(conn, rows)?,
        page: page.page,
        per_page: page.per_page,
        total,
    })
}

/// The first `shown` tasks of the list as views, and how many there are counting up to
/// `cap` + 1, in one statement (a start page's to-do list: "mehr als 100").
pub fn first(
    conn: &mut DbConn,
    scope: &Scope,
    filter: &TaskFilter,
    shown: i64,
    cap: i64,
) -> AppResult<(i64, Vec<TaskView>)> {
    let mut rows: Vec<Task> = filtered(scope, filter)
        .order(URGENT)
        .limit(cap + 1)
        .select(Task::as_select())
        .load(conn)?;
    let total = rows.len() as i64;
    rows.truncate(shown.max(0) as usize);
    Ok((total, views(conn, rows)?))
}

/// The tasks of one agreement as views (plan order).
pub fn of_agreement_views(conn: &mut DbConn, agreement_id: &str) -> AppResult<Vec<TaskView>> {
    let rows = Task::of_agreement(conn, agreement_id)?;
    views(conn, rows)
}

/// What a task view needs of its agreement.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = agreements)]
struct AgreementFacts {
    id: String,
    reference: String,
    service_id: Option<String>,
    municipality_id: Option<String>,
    external_party_name: Option<String>,
    status: String,
}

/// Views of tasks, with the names they refer to loaded in one query per table.
pub fn views(conn: &mut DbConn, rows: Vec<Task>) -> AppResult<Vec<TaskView>> {
    fn ids<'a>(it: impl Iterator<Item = Option<&'a String>>) -> Vec<String> {
        let mut v: Vec<String> = it.flatten().cloned().collect();
        v.sort();
        v.dedup();
        v
    }
    // Nothing to look up is no round trip.
    fn unless_empty<T: Default>(
        ids: &[String],
        load: impl FnOnce() -> AppResult<T>,
    ) -> AppResult<T> {
        if ids.is_empty() {
            Ok(T::default())
        } else {
            load()
        }
    }
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let agreement_ids = ids(rows.iter().map(|t| Some(&t.agreement_id)));
    let facts: Vec<AgreementFacts> = agreements::table
        .filter(agreements::id.eq_any(&agreement_ids))
        .select(AgreementFacts::as_select())
        .load(conn)?;
    let agreement_map: HashMap<String, AgreementFacts> =
        facts.into_iter().map(|r| (r.id.clone(), r)).collect();
    let service_ids = ids(agreement_map.values().map(|r| r.service_id.as_ref()));
    let service_names: HashMap<String, String> = unless_empty(&service_ids, || {
        Ok(services::table
            .filter(services::id.eq_any(&service_ids))
            .select((services::id, services::name))
            .load::<(String, String)>(conn)?
            .into_iter()
            .collect())
    })?;
    let muni_ids = ids(rows
        .iter()
        .map(|t| t.owner_municipality_id.as_ref())
        .chain(agreement_map.values().map(|r| r.municipality_id.as_ref())));
    let muni_names: HashMap<String, String> = unless_empty(&muni_ids, || {
        Ok(municipalities::table
            .filter(municipalities::id.eq_any(&muni_ids))
            .select(Municipality::as_select())
            .load::<Municipality>(conn)?
            .into_iter()
            .map(|m| (m.id.clone(), m.display_name()))
            .collect())
    })?;
    let org_ids = ids(rows.iter().map(|t| t.owner_organisation_id.as_ref()));
    let orgs: HashMap<String, (String, bool)> = unless_empty(&org_ids, || {
        Ok(organisations::table
            .filter(organisations::id.eq_any(&org_ids))
            .select((
                organisations::id,
                organisations::name,
                organisations::is_self,
            ))
            .load::<(String, String, bool)>(conn)?
            .into_iter()
            .map(|(id, name, is_self)| (id, (name, is_self)))
            .collect())
    })?;
    let contact_ids = ids(rows.iter().map(|t| t.contact_id.as_ref()));
    let contact_map: BTreeMap<String, Contact> = unless_empty(&contact_ids, || {
        Ok(contacts::table
            .filter(contacts::id.eq_any(&contact_ids))
            .select(Contact::as_select())
            .load::<Contact>(conn)?
            .into_iter()
            .map(|c| (c.id.clone(), c))
            .collect())
    })?;
    let day = today();
    rows.into_iter()
        .map(|t| {
            let kind = t.kind;
            let status = t.status;
            let a = agreement_map
                .get(&t.agreement_id)
                .ok_or_else(|| AppError::internal("task without agreement"))?;
            let (owner_type, owner, owner_is_dnrw) =
                match (&t.owner_municipality_id, &t.owner_organisation_id) {
                    (Some(m), _) => (
                        "municipality",
                        NamedRef {
                            id: m.clone(),
                            name: looked_up(&muni_names, m, "municipality")?,
                        },
                        false,
                    ),
                    (_, Some(o)) => {
                        let (name, is_self) = looked_up(&orgs, o, "organisation")?;
                        (
                            "organisation",
                            NamedRef {
                                id: o.clone(),
                                name,
                            },
                            is_self,
                        )
                    }
                    _ => return Err(AppError::internal("task without owner")),
                };
            Ok(TaskView {
                agreement_reference: a.reference.clone(),
                service: a
                    .service_id
                    .as_ref()
                    .map(|id| {
                        Ok::<_, AppError>(NamedRef {
                            id: id.clone(),
                            name: looked_up(&service_names, id, "service")?,
                        })
                    })
                    .transpose()?,
                municipality: a
                    .municipality_id
                    .as_ref()
                    .and_then(|m| muni_names.get(m).cloned())
                    .or_else(|| a.external_party_name.clone()),
                kind,
                position: t.position,
                title: kind.title(),
                description: kind.description(),
                owner_type,
                owner,
                owner_is_dnrw,
                contact: t
                    .contact_id
                    .as_ref()
                    .and_then(|c| contact_map.get(c))
                    .map(|c| ContactRef {
                        id: c.id.clone(),
                        name: c.name.clone(),
                        email: c.email.clone(),
                        phone: c.phone.clone(),
                    }),
                due_on: t.due_on,
                overdue: status != TaskStatus::Done
                    && t.due_on < day
                    && a.status == Status::InForce.as_str(),
                status,
                status_label: status.label(),
                blocked_reason: t.blocked_reason.clone(),
                depends_on: kind.depends_on().to_vec(),
                evidence_fields: kind
                    .evidence_fields()
                    .iter()
                    .map(|(key, label, kind)| EvidenceField {
                        key,
                        label,
                        kind: *kind,
                    })
                    .collect(),
                evidence: serde_json::from_str(&t.evidence).unwrap_or(Value::Null),
                completed_on: t.completed_on,
                completed_by: t.completed_by.clone(),
                lock_version: t.lock_version,
                updated_at: t.updated_at,
                id: t.id,
                agreement_id: t.agreement_id,
            })
        })
        .collect()
}
