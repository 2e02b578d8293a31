//! Agreements as the pages' lists show them: the columns a row needs and the parties'
//! names, nothing else. A municipality's or a service's page lists about 90 of them at
//! national scale; reading all 32 columns (timestamps parsed, terms and notes copied)
//! for each was a fifth of such a page's time.

use diesel::prelude::*;
use serde::Serialize;
use time::Date;

use super::view::{ExternalParty, PartyRef};
use super::{Agreement, Filter};
use crate::db::schema::{agreements, municipalities, organisations, services};
use crate::db::DbConn;
use crate::domain::{AgreementKind, Status};
use crate::error::{AppError, AppResult};
use crate::store::{Page, Paged, Scope};

/// The columns of a list row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = agreements)]
struct Listed {
    id: String,
    kind: AgreementKind,
    reference: String,
    status: Status,
    counterparty_id: Option<String>,
    municipality_id: Option<String>,
    service_id: Option<String>,
    external_party_name: Option<String>,
    external_party_ags: Option<String>,
    current_version: i32,
    effective_from: Option<Date>,
    live_on: Option<Date>,
    non_member_reason: Option<String>,
}

/// One agreement in a list: what its row shows and links to.
#[derive(Debug, Clone, Serialize)]
pub struct AgreementRow {
    pub id: String,
    pub kind: AgreementKind,
    pub kind_label: &'static str,
    pub reference: String,
    pub status: Status,
    pub status_label: &'static str,
    pub counterparty: Option<PartyRef>,
    pub municipality: Option<PartyRef>,
    pub external_party: Option<ExternalParty>,
    pub service: Option<PartyRef>,
    pub current_version: i32,
    pub effective_from: Option<Date>,
    /// EA: the day its last go-live task was done.
    pub live_on: Option<Date>,
    /// RV or EA for a municipality that is not Träger: why it may re-use anyway.
    pub non_member_reason: Option<String>,
}

impl Listed {
    /// The row, with the names the join found (`None` where the agreement names no such
    /// party; a named party without its row is an error, as in `AgreementView`).
    fn row(
        self,
        service: Option<String>,
        municipality: Option<(String, String)>,
        organisation: Option<String>,
    ) -> AppResult<AgreementRow> {
        fn named<T>(
            id: Option<String>,
            found: Option<T>,
            table: &str,
        ) -> AppResult<Option<(String, T)>> {
            match (id, found) {
                (None, _) => Ok(None),
                (Some(id), Some(found)) => Ok(Some((id, found))),
                (Some(id), None) => Err(AppError::internal(format!(
                    "{table} {id} is referenced but missing"
                ))),
            }
        }
        Ok(AgreementRow {
            kind_label: self.kind.label(),
            status_label: self.status.label(),
            counterparty: named(self.counterparty_id, organisation, "organisation")?.map(
                |(id, name)| PartyRef {
                    id,
                    name,
                    ags: None,
                },
            ),
            municipality: named(self.municipality_id, municipality, "municipality")?.map(
                |(id, (name, ags))| PartyRef {
                    id,
                    name,
                    ags: Some(ags),
                },
            ),
            external_party: self.external_party_ags.map(|ags| ExternalParty {
                name: self.external_party_name,
                ags: Some(ags),
            }),
            service: named(self.service_id, service, "service")?.map(|(id, name)| PartyRef {
                id,
                name,
                ags: None,
            }),
            id: self.id,
            kind: self.kind,
            reference: self.reference,
            status: self.status,
            current_version: self.current_version,
            effective_from: self.effective_from,
            live_on: self.live_on,
            non_member_reason: self.non_member_reason,
        })
    }
}

impl Agreement {
    /// One page of the agreements `scope` may see that match the filter, newest first,
    /// as list rows. With `cap`, counting stops after `cap` + 1 (counting a million
    /// agreements for "Seite 1 von 20.000" costs more than the page): a `total` above
    /// the cap means "more than that", and a page beyond the counted ones shows the last.
    pub fn rows(
        conn: &mut DbConn,
        scope: &Scope,
        filter: &Filter,
        mut page: Page,
        cap: Option<i64>,
    ) -> AppResult<Paged<AgreementRow>> {
        let order = Agreement::newest_first();
        // The rows with the names of their service, municipality and organisation joined:
        // one statement for the page (looking the names up afterwards took one per kind
        // of name).
        let joined = || {
            agreements::table
                .left_join(services::table.on(services::id.nullable().eq(agreements::service_id)))
                .left_join(
                    municipalities::table.on(municipalities::id
                        .nullable()
                        .eq(agreements::municipality_id)),
                )
                .left_join(
                    organisations::table
                        .on(organisations::id.nullable().eq(agreements::counterparty_id)),
                )
                .select((
                    Listed::as_select(),
                    services::name.nullable(),
                    municipalities::name.nullable(),
                    municipalities::ags.nullable(),
                    organisations::name.nullable(),
                ))
                .order(order)
                .into_boxed()
        };
        type Joined = (
            Listed,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let (total, rows): (i64, Vec<Joined>) = if page.page == 1 {
            // The first page straight from the filters' indexes (the planner walks the
            // order's index and stops at the page's end, or sorts the few rows of a
            // selective filter). A first page that is not full is the whole list: its
            // length is the count (a municipality's or a service's agreements, "Meine
            // Kommune").
            let rows: Vec<Joined> = scoped_and_filtered!(joined(), scope, filter)
                .limit(page.per_page)
                .load(conn)?;
            let total = if (rows.len() as i64) < page.per_page {
                rows.len() as i64
            } else {
                Agreement::counted(conn, scope, filter, page, cap)?.0
            };
            (total, rows)
        } else {
            // A later page: counted first (with a cap, a page beyond the count shows the
            // last), then the page's ids from the filters' indexes, skipping `offset`
            // entries without joining them, then those rows.
            let (total, counted_page) = Agreement::counted(conn, scope, filter, page, cap)?;
            page = counted_page;
            let page_ids = Agreement::filtered(scope, filter)
                .select(agreements::id)
                .order(order)
                .limit(page.per_page)
                .offset(page.offset())
                .load::<String>(conn)?;
            let rows = joined()
                .filter(agreements::id.eq_any(page_ids))
                .load(conn)?;
            (total, rows)
        };
        let items = rows
            .into_iter()
            .map(|(a, service, muni, ags, org)| a.row(service, muni.zip(ags), org))
            .collect::<AppResult<_>>()?;
        Ok(Paged {
            items,
            page: page.page,
            per_page: page.per_page,
            total,
        })
    }
}
