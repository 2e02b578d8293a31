//! NRW municipalities and Kreise (their Trägerschaft at d-NRW: `store::membership`).

use diesel::prelude::*;
use serde::Serialize;
use time::PrimitiveDateTime;

use super::{Page, Paged};
use crate::db::schema::{agreements, memberships, municipalities};
use crate::db::DbConn;
use crate::domain::search_key;
use crate::domain::text::{Checked, Inspect, Kind, TextCheck};
use crate::domain::{AgreementKind, MunicipalityKind, Status};
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable, Serialize)]
#[diesel(table_name = municipalities)]
pub struct Municipality {
    pub id: String,
    pub ags: String,
    pub ars: String,
    pub name: String,
    #[serde(skip)]
    pub search_name: String,
    pub kind: MunicipalityKind,
    pub kreis_ags: Option<String>,
    pub kreis_name: Option<String>,
    pub regierungsbezirk: String,
    pub population: Option<i64>,
    pub postcode: Option<String>,
    pub address: Option<String>,
    pub lock_version: i32,
    #[serde(with = "super::ts")]
    pub created_at: PrimitiveDateTime,
    #[serde(with = "super::ts")]
    pub updated_at: PrimitiveDateTime,
}

/// What a name search of the municipality list reads of each municipality.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = municipalities)]
pub struct SearchKey {
    pub id: String,
    pub ags: String,
    pub search_name: String,
    pub kind: MunicipalityKind,
    pub kreis_ags: Option<String>,
    pub regierungsbezirk: String,
}

/// Filters of the municipality list.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Exact AGS, or a prefix (e.g. a Kreis `05334`).
    pub ags: Option<String>,
    /// Part of the name, case- and umlaut-insensitive.
    pub q: Option<String>,
    pub kind: Option<String>,
    pub regierungsbezirk: Option<String>,
    /// Members of this Kreis (its AGS), and the Kreis itself.
    pub kreis_ags: Option<String>,
    /// Träger of d-NRW, recorded as not being one, or nothing recorded.
    pub traeger: Option<TraegerFilter>,
    /// The state of the municipality's RV.
    pub rv: Option<RvState>,
}

impl Inspect for Filter {
    fn inspect(&mut self, t: &mut TextCheck) {
        t.opt("ags", Kind::Code, &mut self.ags);
        t.opt("q", Kind::Search, &mut self.q);
        t.opt("kind", Kind::Code, &mut self.kind);
        t.opt("regierungsbezirk", Kind::Name, &mut self.regierungsbezirk);
        t.opt("kreis", Kind::Code, &mut self.kreis_ags);
    }
}

/// The Regierungsbezirke, and the Kreise as (AGS, name).
pub type Districts = (Vec<String>, Vec<(String, String)>);

/// A municipality's active RV, for the list.
#[derive(Debug, Clone)]
pub struct ActiveRv {
    pub status: String,
    pub id: String,
    /// Why a municipality that is not Träger may re-use.
    pub non_member_reason: Option<String>,
}

/// The Trägerschaft filter: the three recorded states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraegerFilter {
    Yes,
    No,
    Unknown,
}

impl TraegerFilter {
    pub fn parse(s: &str) -> Option<TraegerFilter> {
        Some(match s {
            "ja" | "traeger" => TraegerFilter::Yes,
            "nein" | "kein_traeger" => TraegerFilter::No,
            "nicht_erfasst" | "unbekannt" => TraegerFilter::Unknown,
            _ => return None,
        })
    }
}

/// Where a municipality stands with its Rahmenvereinbarung.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RvState {
    /// No RV, or only ended ones.
    None,
    /// Draft, awaiting signatures or signed, not yet in force.
    Pending,
    InForce,
}

impl RvState {
    pub fn parse(s: &str) -> Option<RvState> {
        Some(match s {
            "keine" | "none" => RvState::None,
            "offen" | "pending" => RvState::Pending,
            "in_kraft" | "in_force" => RvState::InForce,
            _ => return None,
        })
    }
}

impl Municipality {
    pub fn find(conn: &mut DbConn, id: &str) -> AppResult<Municipality> {
        municipalities::table
            .find(id)
            .select(Municipality::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::not_found(format!("Es gibt keine Kommune mit der Id {id}.")))
    }

    /// The municipalities with these ids (those that exist), in one query.
    pub fn find_many(conn: &mut DbConn, ids: &[String]) -> AppResult<Vec<Municipality>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(municipalities::table
            .filter(municipalities::id.eq_any(ids))
            .select(Municipality::as_select())
            .load(conn)?)
    }

    /// The municipality with this AGS; anything but eight digits names none.
    pub fn find_by_ags(conn: &mut DbConn, ags: &str) -> AppResult<Option<Municipality>> {
        if ags.len() != 8 || !ags.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(None);
        }
        Ok(municipalities::table
            .filter(municipalities::ags.eq(ags))
            .select(Municipality::as_select())
            .first(conn)
            .optional()?)
    }

    /// The municipality a person means: its AGS (8 digits), or its name as people write
    /// it ("Köln", "Stadt Kleve", "Kreis Kleve"). None or several are refused at the field
    /// `municipality_id`, naming the candidates with their AGS.
    pub fn resolve(conn: &mut DbConn, text: &str) -> AppResult<Municipality> {
        let text = text.trim();
        let refuse = |message: String| AppError::field("municipality_id", message);
        if text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit()) {
            return Municipality::find_by_ags(conn, text)?
                .ok_or_else(|| refuse(format!("Keine Kommune mit dem AGS {text}.")));
        }
        let wanted = search_key(text);
        let core = [
            "landeshauptstadt ",
            "stadt ",
            "kreis ",
            "gemeinde ",
            "städteregion ",
        ]
        .iter()
        .find_map(|p| wanted.strip_prefix(&search_key(p)))
        .unwrap_or(&wanted)
        .trim()
        .to_string();
        if core.chars().count() < 2 {
            return Err(refuse(
                "Bitte den Namen der Kommune (mindestens zwei Buchstaben) oder ihren AGS angeben."
                    .into(),
            ));
        }
        // Those named so ("kleve", "kleve, stadt") first, all of them; only when none is,
        // those whose name contains it (at most 50).
        let named: Vec<Municipality> = municipalities::table
            .filter(
                municipalities::search_name
                    .eq(&core)
                    .or(municipalities::search_name
                        .like(format!("{},%", escape_like(&core)))
                        .escape('\\')),
            )
            .order(municipalities::ags)
            .select(Municipality::as_select())
            .load(conn)?;
        let candidates: Vec<Municipality> = if named.is_empty() {
            municipalities::table
                .filter(
                    municipalities::search_name
                        .like(format!("%{}%", escape_like(&core)))
                        .escape('\\'),
                )
                .order(municipalities::ags)
                .limit(50)
                .select(Municipality::as_select())
                .load(conn)?
        } else {
            named
        };
        let exact: Vec<&Municipality> = candidates
            .iter()
            .filter(|m| search_key(&m.display_name()) == wanted)
            .collect();
        // "Kleve" names the Kreis and the city ("Kleve, Stadt") alike.
        let by_name: Vec<&Municipality> = candidates
            .iter()
            .filter(|m| search_key(m.name.split(',').next().unwrap_or("").trim()) == wanted)
            .collect();
        let chosen = match (exact.as_slice(), by_name.as_slice(), candidates.as_slice()) {
            ([one], _, _) | ([], [one], _) => Some((*one).clone()),
            ([], [], [one]) => Some(one.clone()),
            _ => None,
        };
        if let Some(m) = chosen {
            return Ok(m);
        }
        if candidates.is_empty() {
            return Err(refuse(format!(
                "Keine Kommune passt zu „{text}“; geben Sie den Namen oder den AGS an."
            )));
        }
        let shown: Vec<&Municipality> = if by_name.len() > 1 {
            by_name
        } else {
            candidates.iter().collect()
        };
        let list = shown
            .iter()
            .take(5)
            .map(|m| format!("{} ({})", m.display_name(), m.ags))
            .collect::<Vec<_>>()
            .join(", ");
        let more = if shown.len() > 5 { ", …" } else { "" };
        Err(refuse(format!(
            "Mehrere Kommunen passen zu „{text}“: {list}{more}. Geben Sie den vollen Namen oder den AGS an."
        )))
    }

    /// What a name search needs of every municipality, ordered by AGS (kept in memory by
    /// the staff list: a substring search otherwise reads all 11,000 search keys in the
    /// database on every request).
    pub fn search_keys(conn: &mut DbConn) -> AppResult<Vec<SearchKey>> {
        Ok(municipalities::table
            .select(SearchKey::as_select())
            .order(municipalities::ags)
            .load(conn)?)
    }

    /// As `list`; a name search (without the Träger and RV filters, which ask the
    /// database) is answered from `keys` (`search_keys`), reading only the page's rows.
    pub fn list_searched(
        conn: &mut DbConn,
        filter: &Checked<Filter>,
        page: Page,
        keys: &[SearchKey],
    ) -> AppResult<Paged<Municipality>> {
        let Some(q) = &filter.q else {
            return Municipality::list(conn, filter, page);
        };
        if filter.traeger.is_some() || filter.rv.is_some() {
            return Municipality::list(conn, filter, page);
        }
        let q = search_key(q);
        let matching: Vec<&SearchKey> =
            keys.iter()
                .filter(|k| {
                    k.search_name.contains(&q)
                        && filter
                            .ags
                            .as_ref()
                            .is_none_or(|a| k.ags.starts_with(a.as_str()))
                        && filter
                            .kind
                            .as_ref()
                            .is_none_or(|kind| k.kind.as_str() == kind)
                        && filter
                            .regierungsbezirk
                            .as_ref()
                            .is_none_or(|rb| &k.regierungsbezirk == rb)
                        && filter.kreis_ags.as_ref().is_none_or(|kreis| {
                            k.kreis_ags.as_ref() == Some(kreis) || &k.ags == kreis
                        })
                })
                .collect();
        let total = matching.len() as i64;
        let ids: Vec<&str> = matching
            .into_iter()
            .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
            .take(usize::try_from(page.per_page).unwrap_or(0))
            .map(|k| k.id.as_str())
            .collect();
        let items = if ids.is_empty() {
            Vec::new()
        } else {
            municipalities::table
                .filter(municipalities::id.eq_any(ids))
                .select(Municipality::as_select())
                .order(municipalities::ags)
                .load(conn)?
        };
        Ok(Paged {
            items,
            page: page.page,
            per_page: page.per_page,
            total,
        })
    }

    pub fn list(
        conn: &mut DbConn,
        filter: &Checked<Filter>,
        page: Page,
    ) -> AppResult<Paged<Municipality>> {
        let build = || {
            let mut q = municipalities::table.into_boxed();
            if let Some(ags) = &filter.ags {
                q = q.filter(
                    municipalities::ags
                        .like(format!("{}%", escape_like(ags)))
                        .escape('\\'),
                );
            }
            if let Some(text) = &filter.q {
                let pattern = format!("%{}%", escape_like(&search_key(text)));
                q = q.filter(municipalities::search_name.like(pattern).escape('\\'));
            }
            if let Some(kind) = &filter.kind {
                q = q.filter(municipalities::kind.eq(kind.clone()));
            }
            if let Some(rb) = &filter.regierungsbezirk {
                q = q.filter(municipalities::regierungsbezirk.eq(rb.clone()));
            }
            if let Some(k) = &filter.kreis_ags {
                q = q.filter(
                    municipalities::kreis_ags
                        .eq(k.clone())
                        .or(municipalities::ags.eq(k.clone())),
                );
            }
            if let Some(t) = filter.traeger {
                let members = |is_member: bool| {
                    memberships::table
                        .filter(memberships::is_member.eq(is_member))
                        .select(memberships::municipality_id)
                };
                q = match t {
                    TraegerFilter::Yes => q.filter(municipalities::id.eq_any(members(true))),
                    TraegerFilter::No => q.filter(municipalities::id.eq_any(members(false))),
                    TraegerFilter::Unknown => q
                        .filter(diesel::dsl::not(municipalities::id.eq_any(
                            memberships::table.select(memberships::municipality_id),
                        ))),
                };
            }
            if let Some(rv) = filter.rv {
                let with = |statuses: &'static [Status]| {
                    agreements::table
                        .filter(agreements::kind.eq(AgreementKind::Rv))
                        .filter(agreements::status.eq_any(statuses))
                        .filter(agreements::municipality_id.is_not_null())
                        .select(agreements::municipality_id.assume_not_null())
                };
                use Status::*;
                const PENDING: &[Status] = &[Draft, AwaitingSignatures, Signed];
                const IN_FORCE: &[Status] = &[InForce];
                const ACTIVE: &[Status] = &[Draft, AwaitingSignatures, Signed, InForce];
                q = match rv {
                    RvState::InForce => q.filter(municipalities::id.eq_any(with(IN_FORCE))),
                    RvState::Pending => q.filter(municipalities::id.eq_any(with(PENDING))),
                    RvState::None => {
                        q.filter(diesel::dsl::not(municipalities::id.eq_any(with(ACTIVE))))
                    }
                };
            }
            q
        };
        if filter.q.is_some() {
            // A substring search reads every search key: take the matches' AGS and id from
            // the covering index (municipalities_search), sort and page them here, and read
            // only the page's rows. Ordered by AGS, the database would otherwise walk the
            // AGS index and read all 11,000 rows to test their search key.
            let mut keys: Vec<(String, String)> = build()
                .select((municipalities::ags, municipalities::id))
                .load(conn)?;
            keys.sort_unstable();
            let total = keys.len() as i64;
            let ids: Vec<String> = keys
                .into_iter()
                .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
                .take(usize::try_from(page.per_page).unwrap_or(0))
                .map(|(_, id)| id)
                .collect();
            let items = municipalities::table
                .filter(municipalities::id.eq_any(ids))
                .select(Municipality::as_select())
                .order(municipalities::ags)
                .load(conn)?;
            return Ok(Paged {
                items,
                page: page.page,
                per_page: page.per_page,
                total,
            });
        }
        let total = build().count().get_result(conn)?;
        let items = build()
            .select(Municipality::as_select())
            .order(municipalities::ags)
            .limit(page.per_page)
            .offset(page.offset())
            .load(conn)?;
        Ok(Paged {
            items,
            page: page.page,
            per_page: page.per_page,
            total,
        })
    }

    /// The active RV (if any) of each of `ids`: its status, id and, for a municipality
    /// that is not Träger, the recorded reason.
    pub fn rv_status(
        conn: &mut DbConn,
        ids: &[String],
    ) -> AppResult<std::collections::HashMap<String, ActiveRv>> {
        let rows: Vec<(Option<String>, String, String, Option<String>)> = agreements::table
            .filter(agreements::kind.eq(AgreementKind::Rv))
            .filter(agreements::municipality_id.eq_any(ids))
            .filter(agreements::active_key.is_not_null())
            .select((
                agreements::municipality_id,
                agreements::status,
                agreements::id,
                agreements::non_member_reason,
            ))
            .load(conn)?;
        Ok(rows
            .into_iter()
            .filter_map(|(m, status, id, reason)| {
                m.map(|m| {
                    (
                        m,
                        ActiveRv {
                            status,
                            id,
                            non_member_reason: reason,
                        },
                    )
                })
            })
            .collect())
    }

    /// The Regierungsbezirke and the Kreise (AGS, name), for filters.
    pub fn districts(conn: &mut DbConn) -> AppResult<Districts> {
        let rb: Vec<String> = municipalities::table
            .select(municipalities::regierungsbezirk)
            .distinct()
            .order(municipalities::regierungsbezirk)
            .load(conn)?;
        let kreise: Vec<(Option<String>, Option<String>)> = municipalities::table
            .filter(municipalities::kreis_ags.is_not_null())
            .select((municipalities::kreis_ags, municipalities::kreis_name))
            .distinct()
            .order(municipalities::kreis_name)
            .load(conn)?;
        Ok((
            rb,
            kreise
                .into_iter()
                .filter_map(|(a, n)| Some((a?, n?)))
                .collect(),
        ))
    }

    pub fn insert(&self, conn: &mut DbConn) -> AppResult<()> {
        diesel::insert_into(municipalities::table)
            .values(self)
            .execute(conn)?;
        Ok(())
    }

    pub fn insert_many(conn: &mut DbConn, rows: &[Municipality]) -> AppResult<()> {
        crate::insert_batch!(conn, municipalities::table, rows)?;
        Ok(())
    }

    /// Writes the changeable fields if nobody changed the row since `expected`.
    pub fn update(&mut self, conn: &mut DbConn, expected: i32) -> AppResult<()> {
        let next = expected + 1;
        self.updated_at = super::now();
        let n = diesel::update(
            municipalities::table
                .filter(municipalities::id.eq(&self.id))
                .filter(municipalities::lock_version.eq(expected)),
        )
        .set((
            municipalities::address.eq(&self.address),
            municipalities::population.eq(self.population),
            municipalities::lock_version.eq(next),
            municipalities::updated_at.eq(self.updated_at),
        ))
        .execute(conn)?;
        if n == 0 {
            return Err(AppError::stale());
        }
        self.lock_version = next;
        Ok(())
    }

    /// "Dortmund, Stadt" → "Stadt Dortmund" for use in sentences.
    pub fn display_name(&self) -> String {
        crate::domain::party::display_name(&self.name, self.kind)
    }
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `\` as escape character.
pub fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// What staff may change about a municipality (its keys come from Destatis; its
/// Trägerschaft is `store::membership::MembershipInput`):
/// `PATCH /api/v1/municipalities/{id}` and the municipality page's form.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MunicipalityPatch {
    pub lock_version: i32,
    #[serde(default, deserialize_with = "super::nullable")]
    pub address: Option<Option<String>>,
    #[serde(default)]
    pub population: Option<i64>,
}

impl Inspect for MunicipalityPatch {
    fn inspect(&mut self, t: &mut TextCheck) {
        t.opt2("address", Kind::Note, &mut self.address);
    }
}

impl Checked<MunicipalityPatch> {
    /// Applies the change (refused with 409 if `lock_version` is stale) and records it.
    pub fn apply(self, conn: &mut DbConn, actor: &str, id: &str) -> AppResult<Municipality> {
        self.into_inner().apply(conn, actor, id)
    }
}

impl MunicipalityPatch {
    fn apply(self, conn: &mut DbConn, actor: &str, id: &str) -> AppResult<Municipality> {
        use crate::domain::{party, Problems};
        let mut m = Municipality::find(conn, id)?;
        if m.lock_version != self.lock_version {
            return Err(AppError::stale());
        }
        let before = serde_json::to_value(&m)?;
        if let Some(a) = self.address {
            m.address = a.map(|a| a.trim().to_string()).filter(|a| !a.is_empty());
        }
        if let Some(p) = self.population {
            m.population = Some(p);
        }
        let mut problems = Problems::new();
        party::check_municipality(&mut problems, &m.ags, &m.ars, &m.name, m.population);
        problems.into_result()?;
        m.update(conn, self.lock_version)?;
        super::audit::record(
            conn,
            super::audit::Change {
                actor,
                action: "update",
                entity_type: "municipality",
                entity_id: &m.id,
                before: Some(before),
                after: Some(serde_json::to_value(&m)?),
                note: None,
            },
        )?;
        Ok(m)
    }
}
