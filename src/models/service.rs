//! The EfA catalogue.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use time::PrimitiveDateTime;

use super::organisation::Organisation;
use super::{new_id, now};
use crate::db::schema::services;
use crate::db::DbConn;
use crate::domain::text::{Checked, Inspect, Kind, TextCheck};
use crate::domain::{codes, service, Availability, ParameterDef, Problems};
use crate::error::{AppError, AppResult, ErrorKind};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = services)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub ozg_id: Option<String>,
    pub ozg_name: Option<String>,
    pub leika_keys: String,
    pub providing_state: Option<String>,
    pub providing_land_key: Option<String>,
    pub operator_id: Option<String>,
    pub operator_note: Option<String>,
    pub availability: String,
    pub data_standard: Option<String>,
    pub dvdv_category: Option<String>,
    pub transport: Option<String>,
    pub parameters: String,
    pub release: String,
    pub description: Option<String>,
    pub source: Option<String>,
    pub lock_version: i32,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
    /// Days from an Einzelabruf coming into force to the due date of its go-live tasks.
    pub golive_days: i32,
}

/// How a service appears in the API and the catalogue.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceView {
    pub id: String,
    pub name: String,
    pub ozg_id: Option<String>,
    pub ozg_name: Option<String>,
    pub leika_keys: Vec<String>,
    pub providing_state: Option<String>,
    pub providing_land_key: Option<String>,
    pub operator_id: Option<String>,
    /// The operator's name, or what is known about it ("unbekannt" when nothing is).
    pub operator: String,
    pub availability: Availability,
    pub availability_label: &'static str,
    pub data_standard: Option<String>,
    pub dvdv_category: Option<String>,
    pub transport: Option<String>,
    pub parameters: Vec<ParameterDef>,
    pub release: String,
    pub description: Option<String>,
    pub source: Option<String>,
    pub golive_days: i32,
    pub lock_version: i32,
    #[serde(with = "super::ts")]
    pub created_at: PrimitiveDateTime,
    #[serde(with = "super::ts")]
    pub updated_at: PrimitiveDateTime,
}

impl Service {
    pub fn availability(&self) -> AppResult<Availability> {
        Availability::parse(&self.availability).ok_or_else(|| {
            AppError::internal(format!("unknown availability {}", self.availability))
        })
    }

    pub fn leika_keys(&self) -> AppResult<Vec<String>> {
        Ok(serde_json::from_str(&self.leika_keys)?)
    }

    pub fn parameter_defs(&self) -> AppResult<Vec<ParameterDef>> {
        Ok(serde_json::from_str(&self.parameters)?)
    }

    /// An NRW service is offered outbound to other Länder; others are re-used inbound.
    pub fn is_nrw_service(&self) -> bool {
        self.providing_land_key.as_deref() == Some("05")
    }

    pub fn view(&self, operator_name: Option<&str>) -> AppResult<ServiceView> {
        let availability = self.availability()?;
        Ok(ServiceView {
            id: self.id.clone(),
            name: self.name.clone(),
            ozg_id: self.ozg_id.clone(),
            ozg_name: self.ozg_name.clone(),
            leika_keys: self.leika_keys()?,
            providing_state: self.providing_state.clone(),
            providing_land_key: self.providing_land_key.clone(),
            operator_id: self.operator_id.clone(),
            operator: operator_name
                .map(str::to_string)
                .or_else(|| self.operator_note.clone())
                .unwrap_or_else(|| "unbekannt".to_string()),
            availability,
            availability_label: availability.label(),
            data_standard: self.data_standard.clone(),
            dvdv_category: self.dvdv_category.clone(),
            transport: self.transport.clone(),
            parameters: self.parameter_defs()?,
            release: self.release.clone(),
            description: self.description.clone(),
            source: self.source.clone(),
            golive_days: self.golive_days,
            lock_version: self.lock_version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }

    pub fn find(conn: &mut DbConn, id: &str) -> AppResult<Service> {
        services::table
            .find(id)
            .select(Service::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::not_found(format!("Es gibt keinen Dienst mit der Id {id}.")))
    }

    pub fn find_by_name(conn: &mut DbConn, name: &str) -> AppResult<Option<Service>> {
        Ok(services::table
            .filter(services::name.eq(name))
            .select(Service::as_select())
            .first(conn)
            .optional()?)
    }

    /// All services with their operator's name, ordered by name; `offered_only` keeps the
    /// ones in the public catalogue (available or coming soon).
    pub fn list_with_operator(
        conn: &mut DbConn,
        offered_only: bool,
    ) -> AppResult<Vec<(Service, Option<String>)>> {
        use crate::db::schema::organisations;
        let mut q = services::table
            .left_join(organisations::table)
            .select((Service::as_select(), organisations::name.nullable()))
            .order(services::name)
            .into_boxed();
        if offered_only {
            q = q.filter(services::availability.ne(Availability::Withdrawn.as_str()));
        }
        Ok(q.load(conn)?)
    }

    pub fn insert(&self, conn: &mut DbConn) -> AppResult<()> {
        diesel::insert_into(services::table)
            .values(self)
            .execute(conn)?;
        Ok(())
    }

    /// Writes the changed row if nobody changed it since `expected`.
    pub fn update(&mut self, conn: &mut DbConn, expected: i32) -> AppResult<()> {
        let next = expected + 1;
        self.updated_at = super::now();
        let n = diesel::update(
            services::table
                .filter(services::id.eq(&self.id))
                .filter(services::lock_version.eq(expected)),
        )
        .set((
            services::name.eq(&self.name),
            services::ozg_id.eq(&self.ozg_id),
            services::ozg_name.eq(&self.ozg_name),
            services::leika_keys.eq(&self.leika_keys),
            services::providing_state.eq(&self.providing_state),
            services::providing_land_key.eq(&self.providing_land_key),
            services::operator_id.eq(&self.operator_id),
            services::operator_note.eq(&self.operator_note),
            services::availability.eq(&self.availability),
            services::data_standard.eq(&self.data_standard),
            services::dvdv_category.eq(&self.dvdv_category),
            services::transport.eq(&self.transport),
            services::parameters.eq(&self.parameters),
            services::release.eq(&self.release),
            services::description.eq(&self.description),
            services::golive_days.eq(self.golive_days),
            services::source.eq(&self.source),
            services::lock_version.eq(next),
            services::updated_at.eq(self.updated_at),
        ))
        .execute(conn)?;
        if n == 0 {
            return Err(AppError::stale());
        }
        self.lock_version = next;
        Ok(())
    }
}

/// Where one service stands across all municipalities: its Einzelabrufe by status.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    pub service_id: String,
    pub name: String,
    pub availability: Availability,
    /// Einzelabrufe by status (all statuses listed, zero included).
    pub einzelabrufe: std::collections::BTreeMap<&'static str, i64>,
    /// NRW municipalities with an EA in force.
    pub municipalities_in_force: i64,
    /// Re-use by other Länder's municipalities recorded against their intermediary.
    pub outbound_in_force: i64,
}

impl Service {
    pub fn status(&self, conn: &mut DbConn) -> AppResult<ServiceStatus> {
        use crate::db::schema::agreements as a;
        use crate::domain::{AgreementKind, Status};
        let counts: Vec<(String, String, i64)> = a::table
            .filter(a::service_id.eq(&self.id))
            .filter(a::kind.eq(AgreementKind::Ea.as_str()))
            .group_by((a::status, a::direction))
            .select((a::status, a::direction, diesel::dsl::count_star()))
            .load(conn)?;
        let mut einzelabrufe: std::collections::BTreeMap<&'static str, i64> =
            Status::ALL.iter().map(|s| (s.as_str(), 0)).collect();
        let (mut inbound, mut outbound) = (0, 0);
        for (status, direction, n) in counts {
            if let Some(s) = Status::parse(&status) {
                *einzelabrufe.entry(s.as_str()).or_default() += n;
                if s == Status::InForce {
                    if direction == "outbound" {
                        outbound += n;
                    } else {
                        inbound += n;
                    }
                }
            }
        }
        Ok(ServiceStatus {
            service_id: self.id.clone(),
            name: self.name.clone(),
            availability: self.availability()?,
            einzelabrufe,
            municipalities_in_force: inbound,
            outbound_in_force: outbound,
        })
    }
}

/// A service as staff write it: `POST`/`PATCH /api/v1/services` and the service form.
/// all optional, plus `lock_version`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceInput {
    #[serde(default)]
    pub lock_version: Option<i32>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub ozg_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub ozg_name: Option<Option<String>>,
    #[serde(default)]
    pub leika_keys: Option<Vec<String>>,
    /// The providing Land by key (`05` = NRW); `null` when unknown.
    #[serde(default, deserialize_with = "super::nullable")]
    pub providing_land_key: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub operator_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub operator_note: Option<Option<String>>,
    #[serde(default)]
    pub availability: Option<String>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub data_standard: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub dvdv_category: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub transport: Option<Option<String>>,
    #[serde(default)]
    pub parameters: Option<Vec<ParameterDef>>,
    #[serde(default)]
    pub release: Option<String>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub description: Option<Option<String>>,
    /// Days from an Einzelabruf coming into force to its go-live tasks' due date (1–365).
    #[serde(default)]
    pub golive_days: Option<i32>,
}

fn clean(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

impl ServiceInput {
    fn apply_to(self, conn: &mut DbConn, s: &mut Service) -> AppResult<()> {
        let mut p = Problems::new();
        if let Some(n) = self.name {
            s.name = n.trim().to_string();
        }
        if s.name.is_empty() {
            p.add("name", "Der Name darf nicht leer sein.");
        }
        if let Some(v) = self.ozg_id {
            s.ozg_id = clean(v);
        }
        if let Some(id) = &s.ozg_id {
            p.check("ozg_id", codes::check_ozg_id(id));
        }
        if let Some(v) = self.ozg_name {
            s.ozg_name = clean(v);
        }
        if let Some(keys) = self.leika_keys {
            service::check_leika_keys(&mut p, &keys);
            s.leika_keys = serde_json::to_string(&keys)?;
        }
        if let Some(key) = self.providing_land_key {
            match clean(key) {
                None => {
                    s.providing_land_key = None;
                    s.providing_state = None;
                }
                Some(key) => match codes::check_land_key(&key) {
                    Ok(()) => {
                        s.providing_state = codes::land_name(&key).map(str::to_string);
                        s.providing_land_key = Some(key);
                    }
                    Err(e) => p.add("providing_land_key", e),
                },
            }
        }
        if let Some(op) = self.operator_id {
            match clean(op) {
                None => s.operator_id = None,
                Some(id) => match Organisation::find(conn, &id) {
                    Ok(o) => s.operator_id = Some(o.id),
                    Err(e) if e.kind == ErrorKind::NotFound => p.add("operator_id", e.message),
                    Err(e) => return Err(e),
                },
            }
        }
        if let Some(v) = self.operator_note {
            s.operator_note = clean(v);
        }
        if let Some(a) = self.availability {
            match Availability::parse(&a) {
                Some(a) => s.availability = a.as_str().to_string(),
                None => p.add(
                    "availability",
                    format!("„{a}“ ist keine Verfügbarkeit (available, coming_soon, withdrawn)."),
                ),
            }
        }
        if let Some(v) = self.data_standard {
            s.data_standard = clean(v);
        }
        if let Some(v) = self.dvdv_category {
            s.dvdv_category = clean(v);
        }
        if let Some(v) = self.transport {
            s.transport = clean(v);
        }
        if let Some(defs) = self.parameters {
            service::check_parameter_defs(&mut p, &defs);
            s.parameters = serde_json::to_string(&defs)?;
        }
        if let Some(r) = self.release {
            if r.trim().is_empty() {
                p.add("release", "Die Version darf nicht leer sein.");
            }
            s.release = r.trim().to_string();
        }
        if let Some(v) = self.description {
            s.description = clean(v);
        }
        if let Some(days) = self.golive_days {
            if (1..=365).contains(&days) {
                s.golive_days = days;
            } else {
                p.add(
                    "golive_days",
                    "Die Frist für die Inbetriebnahme liegt zwischen 1 und 365 Tagen.",
                );
            }
        }
        p.into_result()?;
        Ok(())
    }
}

impl Service {
    /// The service as the API shows it, with its operator's name.
    pub fn view_in(&self, conn: &mut DbConn) -> AppResult<ServiceView> {
        let operator = match &self.operator_id {
            Some(id) => Some(Organisation::find(conn, id)?.name),
            None => None,
        };
        self.view(operator.as_deref())
    }

    fn record(
        &self,
        conn: &mut DbConn,
        actor: &str,
        action: &str,
        before: Option<serde_json::Value>,
    ) -> AppResult<ServiceView> {
        let v = self.view_in(conn)?;
        super::audit::record(
            conn,
            super::audit::Change {
                actor,
                action,
                entity_type: "service",
                entity_id: &self.id,
                before,
                after: Some(serde_json::to_value(&v)?),
                note: None,
            },
        )?;
        Ok(v)
    }
}

impl Inspect for ServiceInput {
    fn inspect(&mut self, t: &mut TextCheck) {
        t.opt("name", Kind::Name, &mut self.name);
        t.opt2("ozg_id", Kind::Code, &mut self.ozg_id);
        t.opt2("ozg_name", Kind::Name, &mut self.ozg_name);
        if let Some(keys) = &mut self.leika_keys {
            t.list("leika_keys", Kind::Code, keys);
        }
        t.opt2(
            "providing_land_key",
            Kind::Code,
            &mut self.providing_land_key,
        );
        t.opt2("operator_id", Kind::Code, &mut self.operator_id);
        t.opt2("operator_note", Kind::Note, &mut self.operator_note);
        t.opt("availability", Kind::Code, &mut self.availability);
        t.opt2("data_standard", Kind::Name, &mut self.data_standard);
        t.opt2("dvdv_category", Kind::Code, &mut self.dvdv_category);
        t.opt2("transport", Kind::Name, &mut self.transport);
        if let Some(defs) = &mut self.parameters {
            t.each("parameters", defs);
        }
        t.opt("release", Kind::Code, &mut self.release);
        t.opt2("description", Kind::Note, &mut self.description);
    }
}

impl Checked<ServiceInput> {
    /// A new service (name, Leika keys and availability required), or why not.
    pub fn create(self, conn: &mut DbConn, actor: &str) -> AppResult<ServiceView> {
        self.into_inner().create(conn, actor)
    }

    /// Changes service `id`; `lock_version` is required (a stale one is a 409).
    pub fn update(self, conn: &mut DbConn, actor: &str, id: &str) -> AppResult<ServiceView> {
        self.into_inner().update(conn, actor, id)
    }
}

impl ServiceInput {
    fn create(self, conn: &mut DbConn, actor: &str) -> AppResult<ServiceView> {
        let mut p = Problems::new();
        if self.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
            p.add("name", "Der Name ist anzugeben.");
        }
        if self.leika_keys.is_none() {
            p.add(
                "leika_keys",
                "Mindestens ein Leika-Schlüssel ist anzugeben.",
            );
        }
        if self.availability.is_none() {
            p.add(
                "availability",
                "Die Verfügbarkeit ist anzugeben (available, coming_soon, withdrawn).",
            );
        }
        p.into_result()?;
        let t = now();
        let mut s = Service {
            id: new_id(),
            name: String::new(),
            ozg_id: None,
            ozg_name: None,
            leika_keys: "[]".into(),
            providing_state: None,
            providing_land_key: None,
            operator_id: None,
            operator_note: None,
            availability: Availability::ComingSoon.as_str().into(),
            data_standard: None,
            dvdv_category: None,
            transport: None,
            parameters: "[]".into(),
            release: "1".into(),
            description: None,
            source: None,
            lock_version: 1,
            created_at: t,
            updated_at: t,
            golive_days: 28,
        };
        self.apply_to(conn, &mut s)?;
        if Service::find_by_name(conn, &s.name)?.is_some() {
            return Err(AppError::new(
                ErrorKind::Duplicate,
                format!("Es gibt bereits einen Dienst „{}“.", s.name),
            ));
        }
        s.insert(conn)?;
        s.record(conn, actor, "create", None)
    }

    /// Changes service `id`; `lock_version` is required (a stale one is a 409).
    fn update(self, conn: &mut DbConn, actor: &str, id: &str) -> AppResult<ServiceView> {
        let Some(expected) = self.lock_version else {
            return Err(AppError::field(
                "lock_version",
                "lock_version ist anzugeben (die zuletzt gelesene Version).",
            ));
        };
        let mut s = Service::find(conn, id)?;
        if s.lock_version != expected {
            return Err(AppError::stale());
        }
        let before = serde_json::to_value(s.view_in(conn)?)?;
        self.apply_to(conn, &mut s)?;
        if let Some(other) = Service::find_by_name(conn, &s.name)? {
            if other.id != s.id {
                return Err(AppError::new(
                    ErrorKind::Duplicate,
                    format!("Es gibt bereits einen Dienst „{}“.", s.name),
                ));
            }
        }
        s.update(conn, expected)?;
        s.record(conn, actor, "update", Some(before))
    }
}
