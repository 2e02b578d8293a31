//! `/api/v1/intermediaries` and `/api/v1/providers`: the Länder's intermediaries and the
//! providers/operators of services. One table underneath (an organisation can be both).

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{get, patch, post, routes, Route, State};
use serde::{Deserialize, Serialize};

use super::{body, Body, Staff};
use crate::app::AppState;
use crate::db::DbConn;
use crate::domain::party::{self, StateRef};
use crate::domain::Problems;
use crate::error::{AppError, AppResult};
use crate::models::audit::{self, Change};
use crate::models::contact::Contact;
use crate::models::contact::ContactInput;
use crate::models::organisation::{Organisation, OrganisationView, Role};

pub fn routes() -> Vec<Route> {
    routes![
        list_intermediaries,
        list_providers,
        show_intermediary,
        show_provider,
        create_intermediary,
        create_provider,
        update_intermediary,
        update_provider,
        show_kommunalvertreter,
        add_contact
    ]
}

#[derive(Serialize)]
struct Detail {
    #[serde(flatten)]
    organisation: OrganisationView,
    contacts: Vec<Contact>,
}

fn list(conn: &mut DbConn, role: Role) -> AppResult<Vec<OrganisationView>> {
    Organisation::list(conn, role)?
        .iter()
        .map(Organisation::view)
        .collect()
}

fn has_role(o: &Organisation, role: Role) -> bool {
    match role {
        Role::Intermediary => o.is_intermediary,
        Role::Provider => o.is_provider,
    }
}

fn find(conn: &mut DbConn, id: &str, role: Role) -> AppResult<Organisation> {
    let o = Organisation::find(conn, id)?;
    if !has_role(&o, role) {
        return Err(AppError::not_found(format!(
            "{} ist kein{}.",
            o.name,
            if role == Role::Intermediary {
                " Kommunalvertreter"
            } else {
                " Anbieter"
            }
        )));
    }
    Ok(o)
}

async fn show(state: &AppState, id: &str, role: Role) -> AppResult<Json<Detail>> {
    let id = super::id(id)?;
    Ok(Json(
        state
            .db
            .read(move |conn| {
                let o = find(conn, &id, role)?;
                Ok(Detail {
                    contacts: Contact::of_organisation(conn, &o.id)?,
                    organisation: o.view()?,
                })
            })
            .await?,
    ))
}

#[get("/api/v1/intermediaries")]
async fn list_intermediaries(
    _staff: Staff,
    state: &State<AppState>,
) -> AppResult<Json<Vec<OrganisationView>>> {
    Ok(Json(
        state.db.read(|conn| list(conn, Role::Intermediary)).await?,
    ))
}

#[get("/api/v1/providers")]
async fn list_providers(
    _staff: Staff,
    state: &State<AppState>,
) -> AppResult<Json<Vec<OrganisationView>>> {
    Ok(Json(
        state.db.read(|conn| list(conn, Role::Provider)).await?,
    ))
}

/// d-NRW itself, with its contacts (the d-NRW signatories among them).
#[get("/api/v1/kommunalvertreter")]
async fn show_kommunalvertreter(_staff: Staff, state: &State<AppState>) -> AppResult<Json<Detail>> {
    Ok(Json(
        state
            .db
            .read(|conn| {
                let o = Organisation::kommunalvertreter(conn)?;
                Ok(Detail {
                    contacts: Contact::of_organisation(conn, &o.id)?,
                    organisation: o.view()?,
                })
            })
            .await?,
    ))
}

#[get("/api/v1/intermediaries/<id>")]
async fn show_intermediary(
    _staff: Staff,
    state: &State<AppState>,
    id: &str,
) -> AppResult<Json<Detail>> {
    show(state, id, Role::Intermediary).await
}

#[get("/api/v1/providers/<id>")]
async fn show_provider(
    _staff: Staff,
    state: &State<AppState>,
    id: &str,
) -> AppResult<Json<Detail>> {
    show(state, id, Role::Provider).await
}

/// POST body; PATCH takes the same fields, all optional, plus `lock_version`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrganisationInput {
    #[serde(default)]
    lock_version: Option<i32>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "super::nullable")]
    legal_form: Option<Option<String>>,
    #[serde(default)]
    states: Option<Vec<StateRef>>,
    #[serde(default, deserialize_with = "super::nullable")]
    address: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    note: Option<Option<String>>,
    /// An intermediary that also operates services (or the other way round).
    #[serde(default)]
    is_intermediary: Option<bool>,
    #[serde(default)]
    is_provider: Option<bool>,
}

fn trimmed(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
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
        let mut problems = Problems::new();
        if let Some(states) = &self.states {
            party::check_states(&mut problems, states);
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

async fn create(
    staff: Staff,
    state: &AppState,
    input: Body<'_, OrganisationInput>,
    role: Role,
) -> AppResult<(Status, Json<Detail>)> {
    let input = body(input)?;
    if input.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
        return Err(AppError::field("name", "Der Name ist anzugeben."));
    }
    let detail = state
        .db
        .write(move |conn| {
            let mut o = Organisation::new(
                String::new(),
                role == Role::Intermediary,
                role == Role::Provider,
            );
            input.apply_to(&mut o)?;
            if let Some(existing) = Organisation::find_by_name(conn, &o.name)? {
                return Err(AppError::conflict(
                    "duplicate",
                    format!(
                        "Es gibt bereits eine Organisation „{}“ (Id {}).",
                        existing.name, existing.id
                    ),
                ));
            }
            o.insert(conn)?;
            let view = o.view()?;
            audit::record(
                conn,
                Change {
                    actor: &staff.actor,
                    action: "create",
                    entity_type: "organisation",
                    entity_id: &o.id,
                    before: None,
                    after: Some(serde_json::to_value(&view)?),
                    note: None,
                },
            )?;
            Ok(Detail {
                organisation: view,
                contacts: Vec::new(),
            })
        })
        .await?;
    Ok((Status::Created, Json(detail)))
}

async fn update(
    staff: Staff,
    state: &AppState,
    id: &str,
    input: Body<'_, OrganisationInput>,
    role: Role,
) -> AppResult<Json<Detail>> {
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
                let mut o = find(conn, &id, role)?;
                if o.lock_version != expected {
                    return Err(AppError::stale());
                }
                let before = serde_json::to_value(o.view()?)?;
                input.apply_to(&mut o)?;
                if let Some(other) = Organisation::find_by_name(conn, &o.name)? {
                    if other.id != o.id {
                        return Err(AppError::conflict(
                            "duplicate",
                            format!("Es gibt bereits eine Organisation „{}“.", o.name),
                        ));
                    }
                }
                o.update(conn, expected)?;
                let view = o.view()?;
                audit::record(
                    conn,
                    Change {
                        actor: &staff.actor,
                        action: "update",
                        entity_type: "organisation",
                        entity_id: &o.id,
                        before: Some(before),
                        after: Some(serde_json::to_value(&view)?),
                        note: None,
                    },
                )?;
                Ok(Detail {
                    contacts: Contact::of_organisation(conn, &o.id)?,
                    organisation: view,
                })
            })
            .await?,
    ))
}

#[post("/api/v1/intermediaries", data = "<input>")]
async fn create_intermediary(
    staff: Staff,
    state: &State<AppState>,
    input: Body<'_, OrganisationInput>,
) -> AppResult<(Status, Json<Detail>)> {
    create(staff, state, input, Role::Intermediary).await
}

#[post("/api/v1/providers", data = "<input>")]
async fn create_provider(
    staff: Staff,
    state: &State<AppState>,
    input: Body<'_, OrganisationInput>,
) -> AppResult<(Status, Json<Detail>)> {
    create(staff, state, input, Role::Provider).await
}

#[patch("/api/v1/intermediaries/<id>", data = "<input>")]
async fn update_intermediary(
    staff: Staff,
    state: &State<AppState>,
    id: &str,
    input: Body<'_, OrganisationInput>,
) -> AppResult<Json<Detail>> {
    update(staff, state, id, input, Role::Intermediary).await
}

#[patch("/api/v1/providers/<id>", data = "<input>")]
async fn update_provider(
    staff: Staff,
    state: &State<AppState>,
    id: &str,
    input: Body<'_, OrganisationInput>,
) -> AppResult<Json<Detail>> {
    update(staff, state, id, input, Role::Provider).await
}

#[post("/api/v1/organisations/<id>/contacts", data = "<input>")]
async fn add_contact(
    staff: Staff,
    state: &State<AppState>,
    id: &str,
    input: Body<'_, ContactInput>,
) -> AppResult<(Status, Json<Contact>)> {
    let id = super::id(id)?;
    let input = body(input)?;
    let contact = state
        .db
        .write(move |conn| input.add_to_organisation(conn, &staff.actor, &id))
        .await?;
    Ok((Status::Created, Json(contact)))
}
