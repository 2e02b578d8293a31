//! How agreements appear in the API: parties by name, links with their status, terms,
//! versions and (for one agreement) its history.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Serialize;
use time::{Date, PrimitiveDateTime};

use super::Agreement;
use crate::db::schema::{agreements, municipalities, organisations, services};
use crate::db::DbConn;
use crate::domain::{AgreementKind, Direction, Status, Terms, VersionStatus};
use crate::error::{AppError, AppResult};
use crate::store::audit::{AuditEvent, AuditView};

/// The most `Agreement::list_capped` counts: 20 pages of 50. Beyond it the list says
/// "Mehr als 1.000" and asks for a filter; counting further cost every request a scan of
/// as many index entries (on PostgreSQL 3 ms of server time at 10,000).
pub const LIST_COUNT_CAP: i64 = 1_000;
use crate::store::Scope;
use crate::store::{looked_up, Page, Paged};

#[derive(Debug, Clone, Serialize)]
pub struct PartyRef {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ags: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExternalParty {
    pub name: Option<String>,
    pub ags: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LinkRef {
    pub id: String,
    pub reference: String,
    pub status: Status,
}

#[derive(Debug, Clone, Serialize)]
pub struct Links {
    pub ioev: Option<LinkRef>,
    pub rv: Option<LinkRef>,
    pub ekv: Option<LinkRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionView {
    pub version_no: i32,
    pub status: VersionStatus,
    pub change_note: Option<String>,
    pub signed_on: Option<Date>,
    pub effective_from: Option<Date>,
    pub terms: Terms,
    #[serde(with = "crate::store::ts")]
    pub created_at: PrimitiveDateTime,
    pub created_by: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgreementView {
    pub id: String,
    pub kind: AgreementKind,
    pub kind_label: &'static str,
    pub reference: String,
    pub direction: Direction,
    pub status: Status,
    pub status_label: &'static str,
    pub counterparty: Option<PartyRef>,
    pub municipality: Option<PartyRef>,
    pub external_party: Option<ExternalParty>,
    pub service: Option<PartyRef>,
    pub links: Links,
    pub current_version: i32,
    /// The terms of the current version: in the detail view only (lists stay small).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms: Option<Terms>,
    pub notice_period_months: Option<i32>,
    #[serde(with = "crate::store::ts::option")]
    pub submitted_at: Option<PrimitiveDateTime>,
    pub submitted_by: Option<String>,
    pub signed_on: Option<Date>,
    pub signed_by: Option<String>,
    pub effective_from: Option<Date>,
    /// EA: the day its last go-live task was done.
    pub live_on: Option<Date>,
    pub activated_by: Option<String>,
    pub notice_given_on: Option<Date>,
    pub ends_on: Option<Date>,
    pub terminated_by: Option<String>,
    pub termination_reason: Option<String>,
    /// RV or EA for a municipality that is not Träger: why it may re-use anyway.
    pub non_member_reason: Option<String>,
    pub lock_version: i32,
    #[serde(with = "crate::store::ts")]
    pub created_at: PrimitiveDateTime,
    pub created_by: String,
    #[serde(with = "crate::store::ts")]
    pub updated_at: PrimitiveDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions: Option<Vec<VersionView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<AuditView>>,
}

/// Filters of `GET /api/v1/agreements`.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kind: Option<AgreementKind>,
    pub status: Option<Status>,
    pub municipality_id: Option<String>,
    pub service_id: Option<String>,
    pub counterparty_id: Option<String>,
}

/// Names of the parties and links of a set of agreements, loaded in one query each.
#[derive(Default)]
struct Names {
    orgs: HashMap<String, String>,
    munis: HashMap<String, (String, String)>,
    services: HashMap<String, String>,
    links: HashMap<String, LinkRef>,
}

impl Names {
    /// The names, and the linked agreements' references and status.
    fn load(conn: &mut DbConn, rows: &[Agreement]) -> AppResult<Names> {
        Names::load_with(conn, rows, true)
    }

    /// As `load`, the links only with `links` (the pages' lists don't show them; at
    /// national scale a municipality's ~90 Einzelabrufe link to ~90 EKVs).
    fn load_with(conn: &mut DbConn, rows: &[Agreement], links: bool) -> AppResult<Names> {
        let ids = |f: fn(&Agreement) -> Option<&String>| -> Vec<String> {
            let mut v: Vec<String> = rows.iter().filter_map(f).cloned().collect();
            v.sort();
            v.dedup();
            v
        };
        let org_ids = ids(|a| a.counterparty_id.as_ref());
        let muni_ids = ids(|a| a.municipality_id.as_ref());
        let service_ids = ids(|a| a.service_id.as_ref());
        let mut link_ids: Vec<String> = rows
            .iter()
            .filter(|_| links)
            .flat_map(|a| [&a.ioev_id, &a.rv_id, &a.ekv_id])
            .filter_map(|x| x.clone())
            .collect();
        link_ids.sort();
        link_ids.dedup();
        let mut names = Names::default();
        if !org_ids.is_empty() {
            names.orgs = organisations::table
                .filter(organisations::id.eq_any(org_ids))
                .select((organisations::id, organisations::name))
                .load::<(String, String)>(conn)?
                .into_iter()
                .collect();
        }
        if !muni_ids.is_empty() {
            names.munis = municipalities::table
                .filter(municipalities::id.eq_any(muni_ids))
                .select((
                    municipalities::id,
                    municipalities::name,
                    municipalities::ags,
                ))
                .load::<(String, String, String)>(conn)?
                .into_iter()
                .map(|(id, name, ags)| (id, (name, ags)))
                .collect();
        }
        if !service_ids.is_empty() {
            names.services = services::table
                .filter(services::id.eq_any(service_ids))
                .select((services::id, services::name))
                .load::<(String, String)>(conn)?
                .into_iter()
                .collect();
        }
        if !link_ids.is_empty() {
            names.links = agreements::table
                .filter(agreements::id.eq_any(link_ids))
                .select((agreements::id, agreements::reference, agreements::status))
                .load::<(String, String, Status)>(conn)?
                .into_iter()
                .map(|(id, reference, status)| {
                    (
                        id.clone(),
                        LinkRef {
                            id,
                            reference,
                            status,
                        },
                    )
                })
                .collect();
        }
        Ok(names)
    }
}

impl Agreement {
    /// The agreement with names, links, terms and, with `detail`, versions and history.
    pub fn view(&self, conn: &mut DbConn, detail: bool) -> AppResult<AgreementView> {
        let versions = self.versions(conn)?;
        self.view_of(conn, &versions, detail)
    }

    /// As `view`, from its versions read already (`Agreement::versions`).
    pub fn view_of(
        &self,
        conn: &mut DbConn,
        versions: &[super::AgreementVersion],
        detail: bool,
    ) -> AppResult<AgreementView> {
        let names = Names::load(conn, std::slice::from_ref(self))?;
        let terms = versions
            .iter()
            .find(|v| v.version_no == self.current_version)
            .map(|v| v.terms())
            .transpose()?
            .unwrap_or_default();
        let mut view = self.view_with(&names, Some(terms))?;
        if detail {
            view.versions = Some(
                versions
                    .iter()
                    .map(|v| {
                        Ok(VersionView {
                            version_no: v.version_no,
                            status: v.status,
                            change_note: v.change_note.clone(),
                            signed_on: v.signed_on,
                            effective_from: v.effective_from,
                            terms: v.terms()?,
                            created_at: v.created_at,
                            created_by: v.created_by.clone(),
                        })
                    })
                    .collect::<AppResult<_>>()?,
            );
            view.history = Some(AuditEvent::of_entity(conn, &self.id, 1000)?);
        }
        Ok(view)
    }

    fn view_with(&self, names: &Names, terms: Option<Terms>) -> AppResult<AgreementView> {
        let kind = self.kind;
        let status = self.status;
        let link = |id: &Option<String>| id.as_ref().and_then(|id| names.links.get(id).cloned());
        Ok(AgreementView {
            id: self.id.clone(),
            kind,
            kind_label: kind.label(),
            reference: self.reference.clone(),
            direction: self.direction,
            status,
            status_label: status.label(),
            counterparty: self
                .counterparty_id
                .as_ref()
                .map(|id| {
                    Ok::<_, AppError>(PartyRef {
                        id: id.clone(),
                        name: looked_up(&names.orgs, id, "organisation")?,
                        ags: None,
                    })
                })
                .transpose()?,
            municipality: self
                .municipality_id
                .as_ref()
                .map(|id| {
                    let (name, ags) = looked_up(&names.munis, id, "municipality")?;
                    Ok::<_, AppError>(PartyRef {
                        id: id.clone(),
                        name,
                        ags: Some(ags),
                    })
                })
                .transpose()?,
            external_party: self.external_party_ags.as_ref().map(|ags| ExternalParty {
                name: self.external_party_name.clone(),
                ags: Some(ags.clone()),
            }),
            service: self
                .service_id
                .as_ref()
                .map(|id| {
                    Ok::<_, AppError>(PartyRef {
                        id: id.clone(),
                        name: looked_up(&names.services, id, "service")?,
                        ags: None,
                    })
                })
                .transpose()?,
            links: Links {
                ioev: link(&self.ioev_id),
                rv: link(&self.rv_id),
                ekv: link(&self.ekv_id),
            },
            current_version: self.current_version,
            terms,
            notice_period_months: self.notice_period_months,
            submitted_at: self.submitted_at,
            submitted_by: self.submitted_by.clone(),
            signed_on: self.signed_on,
            signed_by: self.signed_by.clone(),
            effective_from: self.effective_from,
            live_on: self.live_on,
            activated_by: self.activated_by.clone(),
            notice_given_on: self.notice_given_on,
            ends_on: self.ends_on,
            terminated_by: self.terminated_by.clone(),
            termination_reason: self.termination_reason.clone(),
            non_member_reason: self.non_member_reason.clone(),
            lock_version: self.lock_version,
            created_at: self.created_at,
            created_by: self.created_by.clone(),
            updated_at: self.updated_at,
            versions: None,
            history: None,
        })
    }

    /// The list views (names, no links or terms) of the agreements `ids`, in that order:
    /// one query for the rows and one per kind of name, however many there are (a start
    /// page's lists read their few items this way, not one agreement at a time).
    pub fn views(conn: &mut DbConn, ids: &[String]) -> AppResult<Vec<AgreementView>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<Agreement> = agreements::table
            .filter(agreements::id.eq_any(ids))
            .select(Agreement::as_select())
            .load(conn)?;
        let names = Names::load_with(conn, &rows, false)?;
        let mut by_id: HashMap<&str, &Agreement> =
            rows.iter().map(|a| (a.id.as_str(), a)).collect();
        ids.iter()
            .filter_map(|id| by_id.remove(id.as_str()))
            .map(|a| a.view_with(&names, None))
            .collect()
    }

    /// One page of the agreements `scope` may see that match the filter, newest first.
    pub fn list(
        conn: &mut DbConn,
        scope: &Scope,
        filter: &Filter,
        page: Page,
    ) -> AppResult<Paged<AgreementView>> {
        let (total, page) = Agreement::counted(conn, scope, filter, page, None)?;
        let rows: Vec<Agreement> = Agreement::filtered(scope, filter)
            .select(Agreement::as_select())
            .order(Agreement::newest_first())
            .limit(page.per_page)
            .offset(page.offset())
            .load(conn)?;
        let names = Names::load(conn, &rows)?;
        let items = rows
            .iter()
            .map(|a| a.view_with(&names, None))
            .collect::<AppResult<_>>()?;
        Ok(Paged {
            items,
            page: page.page,
            per_page: page.per_page,
            total,
        })
    }

    /// The order of the lists of agreements, the API's and the pages': newest first, the
    /// reference breaking ties.
    pub(super) fn newest_first() -> (
        diesel::dsl::Desc<agreements::created_at>,
        diesel::dsl::Desc<agreements::reference>,
    ) {
        (agreements::created_at.desc(), agreements::reference.desc())
    }

    /// The agreements `scope` may see that match the filter, as a query to go on with.
    pub(super) fn filtered(
        scope: &Scope,
        filter: &Filter,
    ) -> agreements::BoxedQuery<'static, <DbConn as diesel::Connection>::Backend> {
        scoped_and_filtered!(agreements::table.into_boxed(), scope, filter)
    }

    /// How many agreements match (with `cap`, at most `cap` + 1), and the page to show:
    /// with a cap, a page beyond the counted ones is the last.
    pub(super) fn counted(
        conn: &mut DbConn,
        scope: &Scope,
        filter: &Filter,
        page: Page,
        cap: Option<i64>,
    ) -> AppResult<(i64, Page)> {
        Ok(match cap {
            None => (
                Agreement::filtered(scope, filter)
                    .count()
                    .get_result(conn)?,
                page,
            ),
            // A constant per row: the filters' indexes answer it without table rows or
            // decoding a column. The pages end where the count stops: a page beyond
            // them (typed into the address) shows the last one, instead of skipping
            // hundreds of thousands of entries.
            //
            // First whether there is a row beyond the cap (one row comes back, not the
            // cap's worth: on PostgreSQL each is sent over the wire); only if not, the
            // exact count, of at most `cap` rows.
            Some(cap) => {
                let beyond = Agreement::filtered(scope, filter)
                    .select(1.into_sql::<diesel::sql_types::Integer>())
                    .offset(cap)
                    .limit(1)
                    .load::<i32>(conn)?;
                let total = if beyond.is_empty() {
                    Agreement::filtered(scope, filter)
                        .count()
                        .get_result(conn)?
                } else {
                    cap + 1
                };
                let last = ((total.min(cap) + page.per_page - 1) / page.per_page).max(1);
                let page = Page {
                    page: page.page.min(last),
                    ..page
                };
                (total, page)
            }
        })
    }

    /// The agreements of `counterparty` that wait for its signature (it has not signed
    /// the version at signature), oldest submission first, at most `limit`.
    pub fn awaiting_partner(
        conn: &mut DbConn,
        counterparty: &str,
        limit: i64,
    ) -> AppResult<Vec<AgreementView>> {
        use crate::db::schema::agreement_versions;
        let rows: Vec<Agreement> = agreements::table
            .inner_join(
                agreement_versions::table.on(agreement_versions::agreement_id
                    .eq(agreements::id)
                    .and(agreement_versions::version_no.eq(agreements::current_version))),
            )
            .filter(agreements::counterparty_id.eq(counterparty))
            .filter(agreements::status.eq(crate::domain::Status::AwaitingSignatures.as_str()))
            .filter(agreement_versions::partner_signed.eq(false))
            .order(agreements::submitted_at.asc())
            .limit(limit)
            .select(Agreement::as_select())
            .load(conn)?;
        let names = Names::load_with(conn, &rows, false)?;
        rows.iter().map(|a| a.view_with(&names, None)).collect()
    }
}
