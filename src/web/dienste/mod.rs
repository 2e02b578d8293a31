//! The services of the catalogue (staff): `/dienste`, new and edit forms; `/dienste/<id>`
//! lists its Einzelabrufe (`einzelabrufe`).

mod einzelabrufe;

use rocket::form::{Form, FromForm};
use rocket::http::Status;
use rocket::{get, post, State};
use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::text::Checked;
use crate::domain::{codes, Availability, ParameterDef, ParameterKind};
use crate::error::{AppError, AppResult, FieldError};
use crate::http::params::ServiceId;
use crate::http::state::AppState;
use crate::store::organisation::{self, Organisation};
use crate::store::service::{Service, ServiceInput};
use crate::web::{form_errors, form_outcome, page_context, signed_in, Page, Session};

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![
        einzelabrufe::service_page,
        list,
        new_form,
        edit_form,
        create,
        update,
    ]
}

/// The parameter kinds as the form writes them.
const KINDS: [(&str, ParameterKind); 7] = [
    ("url", ParameterKind::Url),
    ("email", ParameterKind::Email),
    ("text", ParameterKind::Text),
    ("gebuehr", ParameterKind::FeeCents),
    ("epayment", ParameterKind::Epayment),
    ("wappen", ParameterKind::CoatOfArms),
    ("janein", ParameterKind::Boolean),
];

fn kind_name(kind: ParameterKind) -> &'static str {
    KINDS
        .iter()
        .find(|(_, k)| *k == kind)
        .map(|(n, _)| *n)
        .unwrap_or("text")
}

/// Parameter definitions as lines of the form.
fn parameter_lines(defs: &[ParameterDef]) -> String {
    defs.iter()
        .map(|d| {
            format!(
                "{} | {} | {} | {}",
                d.key,
                d.label,
                kind_name(d.kind),
                if d.required { "ja" } else { "nein" }
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads the parameter lines; says which line is wrong and why.
fn parse_parameters(text: &str) -> Result<Vec<ParameterDef>, String> {
    let mut defs = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let parts: Vec<&str> = line.split('|').map(str::trim).collect();
        let [key, label, kind, required] = parts[..] else {
            return Err(format!(
                "Zeile {}: vier Angaben, getrennt durch „|“: Schlüssel | Bezeichnung | Art | Pflicht (ja/nein).",
                n + 1
            ));
        };
        let Some((_, kind)) = KINDS.iter().find(|(name, _)| *name == kind) else {
            return Err(format!(
                "Zeile {}: „{kind}“ ist keine Art (url, email, text, gebuehr, epayment, wappen, janein).",
                n + 1
            ));
        };
        let required = match required {
            "ja" => true,
            "nein" => false,
            other => {
                return Err(format!(
                    "Zeile {}: Pflicht ist „ja“ oder „nein“, nicht „{other}“.",
                    n + 1
                ))
            }
        };
        defs.push(ParameterDef {
            key: key.to_string(),
            label: label.to_string(),
            kind: *kind,
            required,
        });
    }
    Ok(defs)
}

/// Services per page of `/dienste`.
const PER_PAGE: usize = 50;

/// `/dienste?suche=&seite=`: the services of the catalogue (also withdrawn ones), by name
/// or OZG service, 50 per page.
#[get("/dienste?<suche>&<seite>")]
async fn list(
    state: &State<AppState>,
    session: Option<Session>,
    suche: Option<String>,
    seite: Option<usize>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    session.staff()?;
    let q = match crate::web::search_text("suche", "Suchbegriff", suche.as_deref()) {
        Ok(q) => q,
        Err(e) => return Ok(session.refused_by(&e, "Suche nicht möglich", "/dienste")),
    };
    let search = crate::domain::Search::new(&q);
    let all = state.all_services.clone();
    let (services, total, page, pages) = state
        .db
        .read(move |conn| {
            let all = all.get(conn, |c| Service::list_with_operator(c, false))?;
            let matching: Vec<_> = all
                .iter()
                .filter(|(s, _)| {
                    search.matches(
                        [Some(s.name.as_str()), s.ozg_name.as_deref()]
                            .into_iter()
                            .flatten(),
                    )
                })
                .collect();
            let total = matching.len();
            let pages = total.div_ceil(PER_PAGE).max(1);
            let page = seite.unwrap_or(1).clamp(1, pages);
            let shown = matching
                .iter()
                .skip((page - 1) * PER_PAGE)
                .take(PER_PAGE)
                .map(|(s, op)| s.view(op.as_deref()))
                .collect::<AppResult<Vec<_>>>()?;
            Ok((shown, total, page, pages))
        })
        .await?;
    let mut ctx = page_context(&session, "Dienste")?;
    ctx["services"] = json!(services);
    ctx["total"] = json!(total);
    ctx["page"] = json!(page);
    ctx["pages"] = json!(pages);
    ctx["suche"] = json!(q);
    ctx["suche_url"] = json!(crate::domain::urlencode(&q));
    Ok(crate::web::render("services.html", ctx))
}

#[derive(FromForm, Default, Serialize)]
struct ServiceForm {
    #[field(default = String::new())]
    #[serde(skip)]
    csrf: String,
    #[field(default = 0)]
    lock_version: i32,
    #[field(default = String::new())]
    name: String,
    #[field(default = String::new())]
    ozg_id: String,
    #[field(default = String::new())]
    ozg_name: String,
    #[field(default = String::new())]
    leika_keys: String,
    #[field(default = String::new())]
    providing_land_key: String,
    #[field(default = String::new())]
    operator_id: String,
    #[field(default = String::new())]
    operator_note: String,
    #[field(default = String::new())]
    availability: String,
    #[field(default = String::new())]
    data_protection: String,
    #[field(default = String::new())]
    data_standard: String,
    #[field(default = String::new())]
    dvdv_category: String,
    #[field(default = String::new())]
    transport: String,
    #[field(default = String::new())]
    release: String,
    #[field(default = String::new())]
    golive_days: String,
    #[field(default = String::new())]
    description: String,
    #[field(default = String::new())]
    parameters: String,
}

impl ServiceForm {
    fn values(&self) -> Value {
        json!(self)
    }

    /// The form's text as the model's input (problems reading it are field errors).
    fn input(&self) -> Result<ServiceInput, AppError> {
        let text = |s: &str| Some(Some(s.trim().to_string()).filter(|s| !s.is_empty()));
        let parameters = parse_parameters(&self.parameters).map_err(|message| {
            AppError::validation(vec![FieldError {
                field: "parameters".into(),
                message,
            }])
        })?;
        let golive_days = match self.golive_days.trim() {
            "" => None,
            days => Some(days.parse::<i32>().map_err(|_| {
                AppError::validation(vec![FieldError {
                    field: "golive_days".into(),
                    message: format!("„{days}“ ist keine Zahl von Tagen."),
                }])
            })?),
        };
        Ok(ServiceInput {
            lock_version: Some(self.lock_version),
            name: Some(self.name.clone()),
            ozg_id: text(&self.ozg_id),
            ozg_name: text(&self.ozg_name),
            leika_keys: Some(
                self.leika_keys
                    .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
                    .filter(|k| !k.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
            providing_land_key: text(&self.providing_land_key),
            operator_id: text(&self.operator_id),
            operator_note: text(&self.operator_note),
            availability: Some(self.availability.clone()),
            data_protection: Some(self.data_protection.clone()).filter(|d| !d.is_empty()),
            data_standard: text(&self.data_standard),
            dvdv_category: text(&self.dvdv_category),
            transport: text(&self.transport),
            parameters: Some(parameters),
            release: Some(if self.release.trim().is_empty() {
                "1".into()
            } else {
                self.release.clone()
            }),
            description: text(&self.description),
            golive_days,
        })
    }
}

fn field_id(model: &str) -> String {
    match model {
        m if m.starts_with("leika_keys") => "leika_keys".to_string(),
        m if m.starts_with("parameters") => "parameters".to_string(),
        m => m.to_string(),
    }
}

async fn form_page(
    state: &State<AppState>,
    session: &Session,
    id: Option<ServiceId>,
    values: Value,
    errors: Option<(Value, Value)>,
) -> AppResult<Page> {
    let providers = state
        .db
        .read(|conn| Organisation::list(conn, organisation::Role::Provider))
        .await?;
    let title = if id.is_some() {
        "Dienst bearbeiten"
    } else {
        "Neuer Dienst"
    };
    let mut ctx = page_context(session, title)?;
    ctx["id"] = json!(id);
    ctx["values"] = values;
    ctx["providers"] = json!(providers
        .iter()
        .map(|o| json!({ "id": o.id, "name": o.name }))
        .collect::<Vec<_>>());
    ctx["lands"] = json!((1..=16)
        .map(|k| format!("{k:02}"))
        .map(|k| json!({ "key": k, "name": codes::land_name(&k) }))
        .collect::<Vec<_>>());
    ctx["first_fields"] = json!([
        { "id": "name", "label": "Name" },
        { "id": "ozg_id", "label": "OZG-ID" },
        { "id": "ozg_name", "label": "OZG-Leistung" },
    ]);
    ctx["more_fields"] = json!([
        { "id": "data_standard", "label": "Datenstandard" },
        { "id": "dvdv_category", "label": "DVDV-Behördenkategorie" },
        { "id": "transport", "label": "Übermittlung" },
        { "id": "release", "label": "Version" },
        { "id": "golive_days", "label": "Frist der Inbetriebnahme in Tagen (ab Inkrafttreten des Einzelabrufs)" },
    ]);
    ctx["availabilities"] = json!([
        Availability::Available,
        Availability::ComingSoon,
        Availability::Withdrawn
    ]
    .iter()
    .map(|a| json!({ "value": a.as_str(), "label": a.label() }))
    .collect::<Vec<_>>());
    ctx["data_protection_models"] = json!(crate::domain::service::DataProtection::ALL
        .iter()
        .map(|d| json!({ "value": d.as_str(), "label": d.label() }))
        .collect::<Vec<_>>());
    crate::web::set_errors(&mut ctx, errors);
    Ok(crate::web::render("service_form.html", ctx))
}

#[get("/dienste/neu")]
async fn new_form(state: &State<AppState>, session: Option<Session>) -> AppResult<Page> {
    let session = signed_in!(session);
    session.staff()?;
    let values = ServiceForm {
        availability: "coming_soon".into(),
        data_protection: "avv".into(),
        release: "1".into(),
        golive_days: "28".into(),
        parameters: parameter_lines(&crate::seed::parameters_for("")),
        ..<ServiceForm as Default>::default()
    }
    .values();
    form_page(state, &session, None, values, None).await
}

#[get("/dienste/<id>/bearbeiten")]
async fn edit_form(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<ServiceId, AppError>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    session.staff()?;
    let id = id?;
    let s = {
        let id = id.clone();
        state.db.read(move |conn| Service::find(conn, &id)).await?
    };
    let values = ServiceForm {
        lock_version: s.lock_version,
        name: s.name.clone(),
        ozg_id: s.ozg_id.clone().unwrap_or_default(),
        ozg_name: s.ozg_name.clone().unwrap_or_default(),
        leika_keys: s.leika_keys()?.join("\n"),
        providing_land_key: s.providing_land_key.clone().unwrap_or_default(),
        operator_id: s.operator_id.clone().unwrap_or_default(),
        operator_note: s.operator_note.clone().unwrap_or_default(),
        availability: s.availability.clone(),
        data_protection: s.data_protection.clone(),
        data_standard: s.data_standard.clone().unwrap_or_default(),
        dvdv_category: s.dvdv_category.clone().unwrap_or_default(),
        transport: s.transport.clone().unwrap_or_default(),
        release: s.release.clone(),
        golive_days: s.golive_days.to_string(),
        description: s.description.clone().unwrap_or_default(),
        parameters: parameter_lines(&s.parameter_defs()?),
        ..<ServiceForm as Default>::default()
    }
    .values();
    form_page(state, &session, Some(id), values, None).await
}

async fn save(
    state: &State<AppState>,
    session: Session,
    id: Option<ServiceId>,
    form: ServiceForm,
) -> AppResult<Page> {
    if let Err(p) = session.check(&form.csrf) {
        return Ok(p);
    }
    session.staff()?;
    let values = form.values();
    let actor = session.actor();
    let result = match form.input() {
        Err(e) => Err(e),
        Ok(input) => {
            let id = id.clone();
            state
                .db
                .write(move |conn| {
                    let input = Checked::new(input)?;
                    match id {
                        Some(id) => input.update(conn, &actor, &id),
                        None => input.create(conn, &actor),
                    }
                })
                .await
        }
    };
    match form_outcome(result)? {
        Ok(view) => {
            state.catalog.changed();
            Ok(Page::to(format!("/dienste/{}", view.id)))
        }
        Err(e) => Ok(
            form_page(state, &session, id, values, Some(form_errors(&e, field_id)))
                .await?
                .with_status(Status::UnprocessableEntity),
        ),
    }
}

#[post("/dienste/neu", data = "<form>")]
async fn create(
    state: &State<AppState>,
    session: Option<Session>,
    form: Form<ServiceForm>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    save(state, session, None, form.into_inner()).await
}

#[post("/dienste/<id>/bearbeiten", data = "<form>")]
async fn update(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<ServiceId, AppError>,
    form: Form<ServiceForm>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    let id = id?;
    save(state, session, Some(id), form.into_inner()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_lines_read_back_what_they_write_and_name_the_wrong_line() {
        let defs = crate::seed::parameters_for("Gewerbeanzeige");
        let text = parameter_lines(&defs);
        assert_eq!(parse_parameters(&text).unwrap(), defs);
        assert!(parse_parameters("a | b | c")
            .unwrap_err()
            .contains("Zeile 1"));
        assert!(parse_parameters("\nfarbe | Farbe | bunt | ja")
            .unwrap_err()
            .contains("Zeile 2: „bunt“ ist keine Art"));
        assert!(parse_parameters("x | X | text | vielleicht")
            .unwrap_err()
            .contains("ja"));
        assert_eq!(parse_parameters("").unwrap(), vec![]);
    }
}
