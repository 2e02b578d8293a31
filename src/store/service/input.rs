//! Creating and changing a service: the input as the API and the service form send it,
//! checked (names, Leika keys, parameters, operator), and its writes.

use serde::Deserialize;

use super::*;
use crate::db::DbConn;
use crate::domain::text::{Checked, Inspect, Kind, TextCheck};
use crate::domain::{codes, service, Availability, ParameterDef, Problems};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::store::organisation::Organisation;
use crate::store::{new_id, now};

/// A service as staff write it: `POST`/`PATCH /api/v1/services` and the service form.
/// all optional, plus `lock_version`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceInput {
    #[serde(default)]
    pub lock_version: Option<i32>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::store::nullable")]
    pub ozg_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::store::nullable")]
    pub ozg_name: Option<Option<String>>,
    #[serde(default)]
    pub leika_keys: Option<Vec<String>>,
    /// The providing Land by key (`05` = NRW); `null` when unknown.
    #[serde(default, deserialize_with = "crate::store::nullable")]
    pub providing_land_key: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::store::nullable")]
    pub operator_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::store::nullable")]
    pub operator_note: Option<Option<String>>,
    #[serde(default)]
    pub availability: Option<String>,
    /// `avv`, `ozg8a` or `joint_control` (new services: `avv`). Agreements made before keep
    /// their text; a change of model reaches them by amendment.
    #[serde(default)]
    pub data_protection: Option<String>,
    #[serde(default, deserialize_with = "crate::store::nullable")]
    pub data_standard: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::store::nullable")]
    pub dvdv_category: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::store::nullable")]
    pub transport: Option<Option<String>>,
    #[serde(default)]
    pub parameters: Option<Vec<ParameterDef>>,
    #[serde(default)]
    pub release: Option<String>,
    #[serde(default, deserialize_with = "crate::store::nullable")]
    pub description: Option<Option<String>>,
    /// Days from an Einzelabruf coming into force to its go-live tasks' due date (1–365).
    #[serde(default)]
    pub golive_days: Option<i32>,
}

pub(super) fn clean(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

impl ServiceInput {
    pub(super) fn apply_to(self, conn: &mut DbConn, s: &mut Service) -> AppResult<()> {
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
        if let Some(d) = self.data_protection {
            match service::DataProtection::parse(&d) {
                Some(d) => s.data_protection = d.as_str().to_string(),
                None => p.add(
                    "data_protection",
                    format!("„{d}“ ist kein Datenschutzmodell (avv, ozg8a, joint_control)."),
                ),
            }
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
        t.opt("data_protection", Kind::Code, &mut self.data_protection);
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
    pub(super) fn create(self, conn: &mut DbConn, actor: &str) -> AppResult<ServiceView> {
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
            data_protection: service::DataProtection::Avv.as_str().into(),
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
    pub(super) fn update(self, conn: &mut DbConn, actor: &str, id: &str) -> AppResult<ServiceView> {
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
