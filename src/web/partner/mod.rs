//! Intermediaries and providers: `/partner`, `/partner/neu`, `/partner/<id>` and its
//! contacts.

use rocket::form::{Form, FromForm};
use rocket::http::Status;
use rocket::{get, post, State};
use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::codes;
use crate::domain::party::StateRef;
use crate::domain::text::Checked;
use crate::error::{AppError, AppResult};
use crate::http::params::OrganisationId;
use crate::http::state::AppState;
use crate::store::agreement::{Agreement, Filter};
use crate::store::contact::Contact;
use crate::store::organisation::{Organisation, OrganisationInput, Role};
use crate::store::{Page as Paging, Scope};
use crate::web::{form_errors, form_outcome, page_context, signed_in, staff_form, Page, Session};

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![list, new_form, create, show, update, add_contact,]
}

#[get("/partner")]
async fn list(state: &State<AppState>, session: Option<Session>) -> AppResult<Page> {
    let session = signed_in!(session);
    session.staff()?;
    let (intermediaries, providers) = state
        .db
        .read(|conn| {
            let views = |os: Vec<Organisation>| -> AppResult<Vec<_>> {
                os.iter()
                    .filter(|o| !o.is_self)
                    .map(Organisation::view)
                    .collect()
            };
            Ok((
                views(Organisation::list(conn, Role::Intermediary)?)?,
                views(Organisation::list(conn, Role::Provider)?)?,
            ))
        })
        .await?;
    let mut ctx = page_context(&session, "Partner")?;
    ctx["intermediaries"] = json!(intermediaries);
    ctx["providers"] = json!(providers);
    Ok(crate::web::render("partners.html", ctx))
}

#[derive(FromForm, Default, Serialize)]
struct PartnerForm {
    #[field(default = String::new())]
    #[serde(skip)]
    csrf: String,
    #[field(default = 0)]
    lock_version: i32,
    #[field(default = String::new())]
    name: String,
    #[field(default = String::new())]
    legal_form: String,
    #[field(default = String::new())]
    address: String,
    #[field(default = String::new())]
    note: String,
    #[field(default = false)]
    is_intermediary: bool,
    #[field(default = false)]
    is_provider: bool,
    /// Länder keys ("01" … "16") the intermediary acts for.
    #[field(default = Vec::new())]
    laender: Vec<String>,
}

impl PartnerForm {
    fn values(&self) -> Value {
        json!(self)
    }

    fn input(&self) -> OrganisationInput {
        let text = |s: &str| Some(Some(s.trim().to_string()).filter(|s| !s.is_empty()));
        OrganisationInput {
            lock_version: Some(self.lock_version),
            name: Some(self.name.clone()),
            legal_form: text(&self.legal_form),
            states: Some(
                self.laender
                    .iter()
                    .map(|k| StateRef {
                        land_key: k.clone(),
                        state: codes::land_name(k).unwrap_or_default().to_string(),
                    })
                    .collect(),
            ),
            address: text(&self.address),
            note: text(&self.note),
            is_intermediary: Some(self.is_intermediary),
            is_provider: Some(self.is_provider),
        }
    }
}

fn lands(selected: &Value) -> Value {
    let chosen: Vec<String> = serde_json::from_value(selected.clone()).unwrap_or_default();
    json!((1..=16)
        .map(|k| format!("{k:02}"))
        .map(|k| json!({ "key": k, "name": codes::land_name(&k), "checked": chosen.contains(&k) }))
        .collect::<Vec<_>>())
}

fn field_id(model: &str) -> String {
    if model.starts_with("states") {
        "laender".into()
    } else {
        model.to_string()
    }
}

fn form_page(session: &Session, values: Value, errors: Option<(Value, Value)>) -> AppResult<Page> {
    let mut ctx = page_context(session, "Neuer Partner")?;
    ctx["lands"] = lands(&values["laender"]);
    ctx["values"] = values;
    crate::web::set_errors(&mut ctx, errors);
    Ok(crate::web::render("partner_form.html", ctx))
}

#[get("/partner/neu")]
async fn new_form(session: Option<Session>) -> AppResult<Page> {
    let session = signed_in!(session);
    session.staff()?;
    let values = PartnerForm {
        is_intermediary: true,
        ..<PartnerForm as Default>::default()
    }
    .values();
    form_page(&session, values, None)
}

#[post("/partner/neu", data = "<form>")]
async fn create(
    state: &State<AppState>,
    session: Option<Session>,
    form: Form<PartnerForm>,
) -> AppResult<Page> {
    let session = staff_form!(session, &form.csrf);
    let form = form.into_inner();
    let (input, actor) = (form.input(), session.actor());
    // The form sets both flags itself; `role` only decides the default of a missing one.
    let role = if form.is_intermediary {
        Role::Intermediary
    } else {
        Role::Provider
    };
    let result = state
        .db
        .write(move |conn| Checked::new(input)?.create(conn, &actor, role))
        .await;
    match form_outcome(result)? {
        Ok(o) => {
            state.catalog.changed();
            Ok(Page::to(format!("/partner/{}", o.id)))
        }
        Err(e) => Ok(
            form_page(&session, form.values(), Some(form_errors(&e, field_id)))?
                .with_status(Status::UnprocessableEntity),
        ),
    }
}

async fn partner_view(
    state: &State<AppState>,
    session: &Session,
    id: OrganisationId,
    refused: crate::web::Refused,
) -> AppResult<Page> {
    let (o, agreements, contacts) = state
        .db
        .read(move |conn| {
            let o = Organisation::find(conn, &id)?;
            if o.is_self {
                return Err(AppError::not_found("d-NRW selbst ist kein Partner."));
            }
            let page = Paging::new(Some(1), Some(Paging::MAX_PER_PAGE))?;
            let agreements = Agreement::rows(
                conn,
                &Scope::All,
                &Filter {
                    counterparty_id: Some(o.id.clone()),
                    ..Filter::default()
                },
                page,
                None,
            )?
            .items;
            let contacts = Contact::of_organisation(conn, &o.id)?;
            Ok((o, agreements, contacts))
        })
        .await?;
    let view = o.view()?;
    let edit = refused.values_for("edit", || {
        PartnerForm {
            lock_version: o.lock_version,
            name: o.name.clone(),
            legal_form: o.legal_form.clone().unwrap_or_default(),
            address: o.address.clone().unwrap_or_default(),
            note: o.note.clone().unwrap_or_default(),
            is_intermediary: o.is_intermediary,
            is_provider: o.is_provider,
            laender: o
                .states()
                .unwrap_or_default()
                .into_iter()
                .map(|s| s.land_key)
                .collect(),
            ..<PartnerForm as Default>::default()
        }
        .values()
    });
    let contact = refused.values_for("contact", crate::web::ContactForm::blank);
    let mut ctx = page_context(session, &o.name)?;
    ctx["o"] = json!(view);
    ctx["agreements"] = json!(agreements);
    ctx["contacts"] = json!(contacts);
    ctx["lands"] = lands(&edit["laender"]);
    ctx["edit"] = edit;
    ctx["contact"] = contact;
    crate::web::set_errors(&mut ctx, refused.errors);
    Ok(crate::web::render("partner.html", ctx))
}

#[get("/partner/<id>")]
async fn show(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<OrganisationId, AppError>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    session.staff()?;
    let id = id?;
    partner_view(state, &session, id, crate::web::Refused::default()).await
}

#[post("/partner/<id>", data = "<form>")]
async fn update(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<OrganisationId, AppError>,
    form: Form<PartnerForm>,
) -> AppResult<Page> {
    let session = staff_form!(session, &form.csrf);
    let id = id?;
    let form = form.into_inner();
    let (input, actor, oid) = (form.input(), session.actor(), id.clone());
    let result = state
        .db
        .write(move |conn| {
            if Organisation::find(conn, &oid)?.is_self {
                return Err(AppError::not_found("d-NRW selbst ist kein Partner."));
            }
            Checked::new(input)?.update(conn, &actor, &oid)
        })
        .await;
    match form_outcome(result)? {
        Ok(_) => {
            state.catalog.changed();
            Ok(Page::to(format!("/partner/{id}")))
        }
        Err(e) => {
            let refused = crate::web::Refused {
                form: "edit",
                values: form.values(),
                errors: Some(form_errors(&e, field_id)),
            };
            Ok(partner_view(state, &session, id, refused)
                .await?
                .with_status(Status::UnprocessableEntity))
        }
    }
}

#[post("/partner/<id>/ansprechpersonen", data = "<form>")]
async fn add_contact(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<OrganisationId, AppError>,
    form: Form<crate::web::ContactForm>,
) -> AppResult<Page> {
    let session = staff_form!(session, &form.csrf);
    let id = id?;
    let form = form.into_inner();
    let (values, input) = (form.values(), form.input());
    let (actor, oid) = (session.actor(), id.clone());
    let result = state
        .db
        .write(move |conn| Checked::new(input)?.add_to_organisation(conn, &actor, &oid))
        .await;
    match form_outcome(result)? {
        Ok(_) => Ok(Page::to(format!("/partner/{id}"))),
        Err(e) => {
            let refused = crate::web::Refused {
                form: "contact",
                values,
                errors: Some(form_errors(&e, |f| format!("contact-{f}"))),
            };
            Ok(partner_view(state, &session, id, refused)
                .await?
                .with_status(Status::UnprocessableEntity))
        }
    }
}
