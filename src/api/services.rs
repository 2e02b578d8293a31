//! `/api/v1/services`: the EfA catalogue as staff maintain it (withdrawn services included).

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{get, patch, post, routes, Route, State};
use serde::Deserialize;

use super::{body, Body, Staff};
use crate::app::AppState;
use crate::db::DbConn;
use crate::domain::{codes, service, Availability, ParameterDef, Problems};
use crate::error::{AppError, AppResult};
use crate::models::audit::{self, Change};
use crate::models::organisation::Organisation;
use crate::models::service::{Service, ServiceStatus, ServiceView};
use crate::models::{new_id, now};

pub fn routes() -> Vec<Route> {
    routes![list, show, status, create, update]
}

fn view(conn: &mut DbConn, s: &Service) -> AppResult<ServiceView> {
    let operator = match &s.operator_id {
        Some(id) => Some(Organisation::find(conn, id)?.name),
        None => None,
    };
    s.view(operator.as_deref())
}

#[get("/api/v1/services")]
async fn list(_staff: Staff, state: &State<AppState>) -> AppResult<Json<Vec<ServiceView>>> {
    Ok(Json(
        state
            .db
            .read(|conn| {
                Service::list_with_operator(conn, false)?
                    .iter()
                    .map(|(s, op)| s.view(op.as_deref()))
                    .collect()
            })
            .await?,
    ))
}

#[get("/api/v1/services/<id>")]
async fn show(_staff: Staff, state: &State<AppState>, id: &str) -> AppResult<Json<ServiceView>> {
    let id = super::id(id)?;
    Ok(Json(
        state
            .db
            .read(move |conn| {
                let s = Service::find(conn, &id)?;
                view(conn, &s)
            })
            .await?,
    ))
}

#[get("/api/v1/services/<id>/status")]
async fn status(
    _staff: Staff,
    state: &State<AppState>,
    id: &str,
) -> AppResult<Json<ServiceStatus>> {
    let id = super::id(id)?;
    Ok(Json(
        state
            .db
            .read(move |conn| Service::find(conn, &id)?.status(conn))
            .await?,
    ))
}

/// POST body (name, leika_keys and availability required); PATCH takes the same fields,
/// all optional, plus `lock_version`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceInput {
    #[serde(default)]
    lock_version: Option<i32>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "super::nullable")]
    ozg_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    ozg_name: Option<Option<String>>,
    #[serde(default)]
    leika_keys: Option<Vec<String>>,
    /// The providing Land by key (`05` = NRW); `null` when unknown.
    #[serde(default, deserialize_with = "super::nullable")]
    providing_land_key: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    operator_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    operator_note: Option<Option<String>>,
    #[serde(default)]
    availability: Option<String>,
    #[serde(default, deserialize_with = "super::nullable")]
    data_standard: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    dvdv_category: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    transport: Option<Option<String>>,
    #[serde(default)]
    parameters: Option<Vec<ParameterDef>>,
    #[serde(default)]
    release: Option<String>,
    #[serde(default, deserialize_with = "super::nullable")]
    description: Option<Option<String>>,
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
                    Err(e) if e.status.code == 404 => p.add("operator_id", e.message),
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
        p.into_result()?;
        Ok(())
    }
}

fn audit_change(
    conn: &mut DbConn,
    actor: &str,
    action: &str,
    s: &Service,
    before: Option<serde_json::Value>,
) -> AppResult<ServiceView> {
    let v = view(conn, s)?;
    audit::record(
        conn,
        Change {
            actor,
            action,
            entity_type: "service",
            entity_id: &s.id,
            before,
            after: Some(serde_json::to_value(&v)?),
            note: None,
        },
    )?;
    Ok(v)
}

#[post("/api/v1/services", data = "<input>")]
async fn create(
    staff: Staff,
    state: &State<AppState>,
    input: Body<'_, ServiceInput>,
) -> AppResult<(Status, Json<ServiceView>)> {
    let input = body(input)?;
    let mut p = Problems::new();
    if input.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
        p.add("name", "Der Name ist anzugeben.");
    }
    if input.leika_keys.is_none() {
        p.add(
            "leika_keys",
            "Mindestens ein Leika-Schlüssel ist anzugeben.",
        );
    }
    if input.availability.is_none() {
        p.add(
            "availability",
            "Die Verfügbarkeit ist anzugeben (available, coming_soon, withdrawn).",
        );
    }
    p.into_result()?;
    let v = state
        .db
        .write(move |conn| {
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
            };
            input.apply_to(conn, &mut s)?;
            if Service::find_by_name(conn, &s.name)?.is_some() {
                return Err(AppError::conflict(
                    "duplicate",
                    format!("Es gibt bereits einen Dienst „{}“.", s.name),
                ));
            }
            s.insert(conn)?;
            audit_change(conn, &staff.actor, "create", &s, None)
        })
        .await?;
    Ok((Status::Created, Json(v)))
}

#[patch("/api/v1/services/<id>", data = "<input>")]
async fn update(
    staff: Staff,
    state: &State<AppState>,
    id: &str,
    input: Body<'_, ServiceInput>,
) -> AppResult<Json<ServiceView>> {
    let id = super::id(id)?;
    let input = body(input)?;
    let Some(expected) = input.lock_version else {
        return Err(AppError::field(
            "lock_version",
            "lock_version ist anzugeben (die zuletzt gelesene Version).",
        ));
    };
    Ok(Json(
        state
            .db
            .write(move |conn| {
                let mut s = Service::find(conn, &id)?;
                if s.lock_version != expected {
                    return Err(AppError::stale());
                }
                let before = serde_json::to_value(view(conn, &s)?)?;
                input.apply_to(conn, &mut s)?;
                if let Some(other) = Service::find_by_name(conn, &s.name)? {
                    if other.id != s.id {
                        return Err(AppError::conflict(
                            "duplicate",
                            format!("Es gibt bereits einen Dienst „{}“.", s.name),
                        ));
                    }
                }
                s.update(conn, expected)?;
                audit_change(conn, &staff.actor, "update", &s, Some(before))
            })
            .await?,
    ))
}
