//! Organisations: d-NRW itself, the intermediaries of the Länder, providers and operators.
//! One table, because one body can be both (Dataport is Schleswig-Holstein's and Hamburg's
//! intermediary and the operator of Wohngeld).

use diesel::prelude::*;
use serde::Serialize;
use time::PrimitiveDateTime;

use crate::db::schema::organisations;
use crate::db::DbConn;
use crate::domain::party::StateRef;
use crate::domain::text::{Checked, Inspect, Kind, TextCheck};
use crate::error::{AppError, AppResult, ErrorKind};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = organisations)]
pub struct Organisation {
    pub id: String,
    pub name: String,
    pub legal_form: Option<String>,
    pub is_intermediary: bool,
    pub is_provider: bool,
    pub is_self: bool,
    pub states: String,
    pub address: Option<String>,
    pub note: Option<String>,
    pub lock_version: i32,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

/// How an organisation appears in the API.
#[derive(Debug, Clone, Serialize)]
pub struct OrganisationView {
    pub id: String,
    pub name: String,
    pub legal_form: Option<String>,
    pub is_intermediary: bool,
    pub is_provider: bool,
    /// True for d-NRW, the Kommunalvertreter.NRW itself.
    pub is_kommunalvertreter_nrw: bool,
    pub states: Vec<StateRef>,
    pub address: Option<String>,
    pub note: Option<String>,
    pub lock_version: i32,
    #[serde(with = "super::ts")]
    pub created_at: PrimitiveDateTime,
    #[serde(with = "super::ts")]
    pub updated_at: PrimitiveDateTime,
}

/// Which organisations a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Intermediary,
    Provider,
}

impl Organisation {
    /// A new organisation in its first version: no Länder, address or note yet.
    pub fn new(name: impl Into<String>, is_intermediary: bool, is_provider: bool) -> Organisation {
        let t = super::now();
        Organisation {
            id: super::new_id(),
            name: name.into(),
            legal_form: None,
            is_intermediary,
            is_provider,
            is_self: false,
            states: "[]".into(),
            address: None,
            note: None,
            lock_version: 1,
            created_at: t,
            updated_at: t,
        }
    }

    pub fn states(&self) -> AppResult<Vec<StateRef>> {
        Ok(serde_json::from_str(&self.states)?)
    }

    pub fn view(&self) -> AppResult<OrganisationView> {
        Ok(OrganisationView {
            id: self.id.clone(),
            name: self.name.clone(),
            legal_form: self.legal_form.clone(),
            is_intermediary: self.is_intermediary,
            is_provider: self.is_provider,
            is_kommunalvertreter_nrw: self.is_self,
            states: self.states()?,
            address: self.address.clone(),
            note: self.note.clone(),
            lock_version: self.lock_version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }

    pub fn find(conn: &mut DbConn, id: &str) -> AppResult<Organisation> {
        organisations::table
            .find(id)
            .select(Organisation::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| {
                AppError::not_found(format!("Es gibt keine Organisation mit der Id {id}."))
            })
    }

    pub fn find_by_name(conn: &mut DbConn, name: &str) -> AppResult<Option<Organisation>> {
        Ok(organisations::table
            .filter(organisations::name.eq(name))
            .select(Organisation::as_select())
            .first(conn)
            .optional()?)
    }

    /// d-NRW, the Kommunalvertreter.NRW (one party of every agreement).
    /// The organisations with these ids (those that exist), in one query.
    pub fn find_many(conn: &mut DbConn, ids: &[String]) -> AppResult<Vec<Organisation>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(organisations::table
            .filter(organisations::id.eq_any(ids))
            .select(Organisation::as_select())
            .load(conn)?)
    }

    pub fn kommunalvertreter(conn: &mut DbConn) -> AppResult<Organisation> {
        organisations::table
            .filter(organisations::is_self.eq(true))
            .select(Organisation::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::internal("d-NRW is missing: run `nachnutzung seed`"))
    }

    pub fn list(conn: &mut DbConn, role: Role) -> AppResult<Vec<Organisation>> {
        let query = organisations::table
            .select(Organisation::as_select())
            .order(organisations::name);
        Ok(match role {
            Role::Intermediary => query
                .filter(organisations::is_intermediary.eq(true))
                .load(conn)?,
            Role::Provider => query
                .filter(organisations::is_provider.eq(true))
                .load(conn)?,
        })
    }

    pub fn insert(&self, conn: &mut DbConn) -> AppResult<()> {
        diesel::insert_into(organisations::table)
            .values(self)
            .execute(conn)?;
        Ok(())
    }

    /// Writes the changed row if nobody changed it since `expected` (optimistic concurrency).
    pub fn update(&mut self, conn: &mut DbConn, expected: i32) -> AppResult<()> {
        let next = expected + 1;
        self.updated_at = super::now();
        let n = diesel::update(
            organisations::table
                .filter(organisations::id.eq(&self.id))
                .filter(organisations::lock_version.eq(expected)),
        )
        .set((
            organisations::name.eq(&self.name),
            organisations::legal_form.eq(&self.legal_form),
            organisations::is_intermediary.eq(self.is_intermediary),
            organisations::is_provider.eq(self.is_provider),
            organisations::states.eq(&self.states),
            organisations::address.eq(&self.address),
            organisations::note.eq(&self.note),
            organisations::lock_version.eq(next),
            organisations::updated_at.eq(self.updated_at),
        ))
        .execute(conn)?;
        if n == 0 {
            return Err(AppError::stale());
        }
        self.lock_version = next;
        Ok(())
    }
}

/// An intermediary or provider as staff write it: POST/PATCH of the API and the partner
/// form. PATCH takes the same fields, all optional, plus `lock_version`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganisationInput {
    #[serde(default)]
    pub lock_version: Option<i32>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub legal_form: Option<Option<String>>,
    #[serde(default)]
    pub states: Option<Vec<StateRef>>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub address: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub note: Option<Option<String>>,
    /// An intermediary that also operates services (or the other way round).
    #[serde(default)]
    pub is_intermediary: Option<bool>,
    #[serde(default)]
    pub is_provider: Option<bool>,
}

fn trimmed(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

impl Inspect for OrganisationInput {
    fn inspect(&mut self, t: &mut TextCheck) {
        t.opt("name", Kind::Name, &mut self.name);
        t.opt2("legal_form", Kind::Name, &mut self.legal_form);
        if let Some(states) = &mut self.states {
            t.each("states", states);
        }
        t.opt2("address", Kind::Note, &mut self.address);
        t.opt2("note", Kind::Note, &mut self.note);
    }
}

impl Checked<OrganisationInput> {
    /// A new intermediary or provider (`role` sets the flag the input leaves open).
    pub fn create(self, conn: &mut DbConn, actor: &str, role: Role) -> AppResult<Organisation> {
        self.into_inner().create(conn, actor, role)
    }

    /// Changes organisation `id`; `lock_version` is required (a stale one is a 409).
    pub fn update(self, conn: &mut DbConn, actor: &str, id: &str) -> AppResult<Organisation> {
        self.into_inner().update(conn, actor, id)
    }
}

impl OrganisationInput {
    fn apply_to(self, o: &mut Organisation) -> AppResult<()> {
        if let Some(n) = self.name {
            o.name = n.trim().to_string();
        }
        if let Some(v) = self.legal_form {
            o.legal_form = trimmed(v);
        }
        if let Some(v) = self.address {
            o.address = trimmed(v);
        }
        if let Some(v) = self.note {
            o.note = trimmed(v);
        }
        if let Some(v) = self.is_intermediary {
            o.is_intermediary = v;
        }
        if let Some(v) = self.is_provider {
            o.is_provider = v;
        }
        let mut problems = crate::domain::Problems::new();
        if let Some(states) = &self.states {
            crate::domain::party::check_states(&mut problems, states);
            o.states = serde_json::to_string(states)?;
        }
        if o.name.is_empty() {
            problems.add("name", "Der Name darf nicht leer sein.");
        }
        if !o.is_intermediary && !o.is_provider {
            problems.add(
                "is_intermediary",
                "Eine Organisation ist Kommunalvertreter, Anbieter oder beides.",
            );
        }
        if o.is_self && !o.is_intermediary {
            problems.add("is_intermediary", "d-NRW bleibt Kommunalvertreter.");
        }
        problems.into_result()?;
        Ok(())
    }
}

impl OrganisationInput {
    fn record(
        conn: &mut DbConn,
        actor: &str,
        action: &str,
        o: &Organisation,
        before: Option<serde_json::Value>,
    ) -> AppResult<()> {
        super::audit::record(
            conn,
            super::audit::Change {
                actor,
                action,
                entity_type: "organisation",
                entity_id: &o.id,
                before,
                after: Some(serde_json::to_value(o.view()?)?),
                note: None,
            },
        )
    }

    /// A new intermediary or provider (`role` sets the flag the input leaves open).
    fn create(self, conn: &mut DbConn, actor: &str, role: Role) -> AppResult<Organisation> {
        if self.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
            return Err(AppError::field("name", "Der Name ist anzugeben."));
        }
        let mut o = Organisation::new(
            String::new(),
            role == Role::Intermediary,
            role == Role::Provider,
        );
        self.apply_to(&mut o)?;
        if let Some(existing) = Organisation::find_by_name(conn, &o.name)? {
            return Err(AppError::new(
                ErrorKind::Duplicate,
                format!(
                    "Es gibt bereits eine Organisation „{}“ (Id {}).",
                    existing.name, existing.id
                ),
            ));
        }
        o.insert(conn)?;
        OrganisationInput::record(conn, actor, "create", &o, None)?;
        Ok(o)
    }

    /// Changes organisation `id`; `lock_version` is required (a stale one is a 409).
    fn update(self, conn: &mut DbConn, actor: &str, id: &str) -> AppResult<Organisation> {
        let Some(expected) = self.lock_version else {
            return Err(AppError::field(
                "lock_version",
                "lock_version ist anzugeben (die zuletzt gelesene Version).",
            ));
        };
        let mut o = Organisation::find(conn, id)?;
        if o.lock_version != expected {
            return Err(AppError::stale());
        }
        let before = serde_json::to_value(o.view()?)?;
        self.apply_to(&mut o)?;
        if let Some(other) = Organisation::find_by_name(conn, &o.name)? {
            if other.id != o.id {
                return Err(AppError::new(
                    ErrorKind::Duplicate,
                    format!("Es gibt bereits eine Organisation „{}“.", o.name),
                ));
            }
        }
        o.update(conn, expected)?;
        OrganisationInput::record(conn, actor, "update", &o, Some(before))?;
        Ok(o)
    }
}
