//! NRW's municipalities and Kreise (staff): `/kommunen`, one municipality's page, its
//! Trägerschaft and contacts, its VSM export.

use rocket::form::{Form, FromForm};
use rocket::http::Status;
use rocket::{get, post, State};
use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::membership::Standing;
use crate::domain::text::Checked;
use crate::domain::Status as AgreementStatus;
use crate::error::{AppError, AppResult};
use crate::http::params::MunicipalityId;
use crate::http::state::AppState;
use crate::store::agreement::{Agreement, Filter};
use crate::store::contact::Contact;
use crate::store::membership::{Membership, MembershipInput};
use crate::store::municipality::{self, Municipality, MunicipalityPatch, RvState, TraegerFilter};
use crate::store::{Page as Paging, Scope};
use crate::web::fields::urlencode;
use crate::web::rollout::CsvOrPage;
use crate::web::{form_errors, form_outcome, page_context, signed_in, staff_form, Page, Session};

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![
        vsm_csv,
        municipalities,
        municipality_page,
        update_municipality,
        record_membership,
        add_contact,
    ]
}

/// The VSM data of a municipality's live services: staff, or the municipality's users.
#[get("/kommunen/<id>/vsm.csv")]
async fn vsm_csv(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<MunicipalityId, AppError>,
) -> AppResult<CsvOrPage> {
    let Some(session) = session else {
        return Ok(CsvOrPage::Page(Page::to("/anmelden")));
    };
    let id = id?;
    let scope = session.scope();
    let bytes = state
        .db
        .read(move |conn| {
            let rows = crate::actions::exports::vsm_rows(conn, &scope, &id)?;
            crate::actions::exports::vsm_csv(&rows)
        })
        .await?;
    Ok(CsvOrPage::file(bytes, "vsm.csv"))
}

const PER_PAGE: i64 = 50;

/// The filters of `/kommunen`, as the filter form names them.
#[derive(FromForm, Default)]
struct MunicipalityQuery<'r> {
    q: Option<&'r str>,
    rb: Option<&'r str>,
    kreis: Option<&'r str>,
    traeger: Option<&'r str>,
    rv: Option<&'r str>,
    seite: Option<i64>,
}

/// `/kommunen`: NRW's municipalities and Kreise with their RV, filterable.
#[get("/kommunen?<filter..>")]
async fn municipalities(
    state: &State<AppState>,
    session: Option<Session>,
    filter: MunicipalityQuery<'_>,
) -> AppResult<Page> {
    let MunicipalityQuery {
        q,
        rb,
        kreis,
        traeger,
        rv,
        seite,
    } = filter;
    let session = signed_in!(session);
    session.staff()?;
    let nonempty = |s: Option<&str>| {
        s.map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let checked = (|| -> AppResult<Checked<municipality::Filter>> {
        let filter = municipality::Filter {
            q: nonempty(q),
            regierungsbezirk: nonempty(rb),
            kreis_ags: nonempty(kreis),
            traeger: crate::web::choice(
                "traeger",
                "Träger der d-NRW",
                traeger,
                TraegerFilter::parse,
            )?,
            rv: crate::web::choice("rv", "Rahmenvereinbarung", rv, RvState::parse)?,
            ..municipality::Filter::default()
        };
        Ok(Checked::new(filter)?)
    })();
    let f = match checked {
        Ok(f) => f,
        Err(e) => return Ok(session.refused_by(&e, "Filter ungültig", "/kommunen")),
    };
    let page = Paging::new(Some(seite.unwrap_or(1).max(1)), Some(PER_PAGE))?;
    let cache = state.districts.clone();
    let keys = state.municipality_keys.clone();
    let (listed, rvs, standings, filters) = state
        .db
        .read(move |conn| {
            let listed = if f.q.is_some() {
                let keys = keys.get(conn, Municipality::search_keys)?;
                Municipality::list_searched(conn, &f, page, &keys)?
            } else {
                Municipality::list(conn, &f, page)?
            };
            let ids: Vec<String> = listed.items.iter().map(|m| m.id.clone()).collect();
            let rvs = Municipality::rv_status(conn, &ids)?;
            let standings = Membership::standings(conn, &ids)?;
            let filters = cache.get(conn, Municipality::districts)?;
            Ok((listed, rvs, standings, filters))
        })
        .await?;
    let (districts, kreise) = &*filters;
    let rows: Vec<Value> = listed
        .items
        .iter()
        .map(|m| {
            let rv = rvs.get(&m.id).map(|rv| {
                json!({
                    "id": rv.id,
                    "label": AgreementStatus::parse(&rv.status).map(|s| s.label()).unwrap_or(""),
                    "non_member_reason": rv.non_member_reason,
                })
            });
            let standing = standings.get(&m.id).copied().unwrap_or(Standing::Unknown);
            json!({
                "id": m.id,
                "name": m.display_name(),
                "ags": m.ags,
                "kreis": m.kreis_name,
                "regierungsbezirk": m.regierungsbezirk,
                "traeger": standing.short(),
                "traeger_code": standing.code(),
                "rv": rv,
            })
        })
        .collect();
    let pages = ((listed.total + PER_PAGE - 1) / PER_PAGE).max(1);
    let mut ctx = page_context(&session, "Kommunen")?;
    ctx["rows"] = json!(rows);
    ctx["total"] = json!(listed.total);
    ctx["page"] = json!(listed.page);
    ctx["pages"] = json!(pages);
    ctx["districts"] = json!(districts);
    ctx["kreise"] = json!(kreise
        .iter()
        .map(|(a, n)| json!({ "ags": a, "name": n }))
        .collect::<Vec<_>>());
    ctx["f"] = json!({
        "q": q.unwrap_or(""), "rb": rb.unwrap_or(""), "kreis": kreis.unwrap_or(""),
        "traeger": traeger.unwrap_or(""), "rv": rv.unwrap_or(""),
    });
    let query = format!(
        "q={}&rb={}&kreis={}&traeger={}&rv={}",
        urlencode(q.unwrap_or("")),
        urlencode(rb.unwrap_or("")),
        urlencode(kreis.unwrap_or("")),
        urlencode(traeger.unwrap_or("")),
        urlencode(rv.unwrap_or(""))
    );
    ctx["query"] = json!(query);
    Ok(crate::web::render("municipalities.html", ctx))
}

async fn municipality_view(
    state: &State<AppState>,
    session: &Session,
    id: MunicipalityId,
    refused: crate::web::Refused,
) -> AppResult<Page> {
    let snapshot = state.rollout.clone();
    let (m, membership, agreements, contacts, rollout) = state
        .db
        .read(move |conn| {
            let m = Municipality::find(conn, &id)?;
            let membership = Membership::of(conn, &m.id)?;
            let page = Paging::new(Some(1), Some(Paging::MAX_PER_PAGE))?;
            let agreements = Agreement::rows(
                conn,
                &Scope::All,
                &Filter {
                    municipality_id: Some(m.id.clone()),
                    ..Filter::default()
                },
                page,
                None,
            )?
            .items;
            let contacts = Contact::of_municipality(conn, &m.id)?;
            let rollout = crate::web::rollout::municipality_row(&*snapshot.get(conn)?, &m.id);
            Ok((m, membership, agreements, contacts, rollout))
        })
        .await?;
    let mut ctx = page_context(session, &m.display_name())?;
    let edit = refused.values_for(
        "edit",
        || json!({ "address": m.address.clone().unwrap_or_default() }),
    );
    let standing = Membership::standing_of(membership.as_ref());
    let day = |d: Option<time::Date>| d.map(|d| d.to_string()).unwrap_or_default();
    let traeger = refused.values_for("traeger", || match &membership {
        None => json!({ "stand": "nicht_erfasst" }),
        Some(r) => json!({
            "stand": standing.code(),
            "council_decision_on": day(r.council_decision_on),
            "accession_declared_on": day(r.accession_declared_on),
            "capital": r.capital_cents.map(euro).unwrap_or_default(),
            "capital_paid_on": day(r.capital_paid_on),
            "left_on": day(r.left_on),
            "capital_refunded_on": day(r.capital_refunded_on),
            "note": r.note.clone().unwrap_or_default(),
        }),
    });
    ctx["traegerschaft"] = json!({
        "code": standing.code(),
        "label": standing.label(),
        "record": membership.as_ref().map(|r| json!({
            "council_decision_on": r.council_decision_on,
            "accession_declared_on": r.accession_declared_on,
            "capital": r.capital_cents.map(euro),
            "capital_paid_on": r.capital_paid_on,
            "left_on": r.left_on,
            "capital_refunded_on": r.capital_refunded_on,
            "note": r.note,
        })),
    });
    ctx["traeger"] = traeger;
    let contact = refused.values_for("contact", crate::web::ContactForm::blank);
    ctx["kommune"] = json!(m);
    ctx["name"] = json!(m.display_name());
    ctx["agreements"] = json!(agreements);
    ctx["contacts"] = json!(contacts);
    ctx["rollout"] = json!(rollout);
    ctx["edit"] = edit;
    ctx["contact"] = contact;
    ctx["form"] = json!(refused.form);
    crate::web::set_errors(&mut ctx, refused.errors);
    Ok(crate::web::render("municipality.html", ctx))
}

/// The municipality page again with a refused form: the values typed, the errors at
/// the fields (422).
async fn refused_page(
    state: &State<AppState>,
    session: &Session,
    id: MunicipalityId,
    form: &'static str,
    values: Value,
    errors: (Value, Value),
) -> AppResult<Page> {
    let refused = crate::web::Refused {
        form,
        values,
        errors: Some(errors),
    };
    Ok(municipality_view(state, session, id, refused)
        .await?
        .with_status(Status::UnprocessableEntity))
}

/// Euro cents as "1.234,56".
fn euro(cents: i64) -> String {
    let (e, c) = (cents / 100, (cents % 100).abs());
    let digits = e.abs().to_string();
    let mut grouped = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(ch);
    }
    format!("{}{grouped},{c:02}", if cents < 0 { "-" } else { "" })
}

/// "1.234,56" (or "1234.56", "1234") as euro cents.
fn parse_euro(text: &str) -> Option<i64> {
    let t = text.trim().replace(['€', ' '], "");
    let (whole, cents) = match t.rsplit_once(',') {
        Some((w, c)) => (w.replace('.', ""), c.to_string()),
        None => match t.rsplit_once('.') {
            Some((w, c)) if c.len() == 2 => (w.replace('.', ""), c.to_string()),
            _ => (t.replace('.', ""), "0".to_string()),
        },
    };
    let cents = match cents.len() {
        1 => cents.parse::<i64>().ok()? * 10,
        2 => cents.parse::<i64>().ok()?,
        _ => return None,
    };
    whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)
}

/// `/kommunen/<id>`: one municipality with its Trägerschaft, agreements and contacts, and
/// the forms to record the Trägerschaft, change the address and add a contact person.
#[get("/kommunen/<id>")]
async fn municipality_page(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<MunicipalityId, AppError>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    session.staff()?;
    let id = id?;
    municipality_view(state, &session, id, crate::web::Refused::default()).await
}

#[derive(FromForm, Serialize)]
struct MunicipalityForm {
    #[field(default = String::new())]
    #[serde(skip)]
    csrf: String,
    #[field(default = 0)]
    #[serde(skip)]
    lock_version: i32,
    #[field(default = String::new())]
    address: String,
}

#[post("/kommunen/<id>", data = "<form>")]
async fn update_municipality(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<MunicipalityId, AppError>,
    form: Form<MunicipalityForm>,
) -> AppResult<Page> {
    let session = staff_form!(session, &form.csrf);
    let id = id?;
    let form = form.into_inner();
    let values = json!(form);
    let patch = MunicipalityPatch {
        lock_version: form.lock_version,
        address: Some(Some(form.address.clone())),
        population: None,
    };
    let actor = session.actor();
    let mid = id.clone();
    let result = state
        .db
        .write(move |conn| Checked::new(patch)?.apply(conn, &actor, &mid))
        .await;
    match form_outcome(result)? {
        Ok(_) => Ok(Page::to(format!("/kommunen/{id}"))),
        Err(e) => {
            let errors = form_errors(&e, str::to_string);
            refused_page(state, &session, id, "edit", values, errors).await
        }
    }
}

/// The form of the municipality page that records its Trägerschaft.
#[derive(FromForm, Serialize)]
struct MembershipForm {
    #[field(default = String::new())]
    #[serde(skip)]
    csrf: String,
    #[field(default = 0)]
    #[serde(skip)]
    lock_version: i32,
    #[field(default = String::new())]
    stand: String,
    #[field(default = String::new())]
    council_decision_on: String,
    #[field(default = String::new())]
    accession_declared_on: String,
    #[field(default = String::new())]
    capital: String,
    #[field(default = String::new())]
    capital_paid_on: String,
    #[field(default = String::new())]
    left_on: String,
    #[field(default = String::new())]
    capital_refunded_on: String,
    #[field(default = String::new())]
    note: String,
}

impl MembershipForm {
    /// The input, or the fields whose dates or amount cannot be read.
    fn input(&self) -> Result<MembershipInput, AppError> {
        let mut problems = crate::domain::Problems::new();
        let mut date = |field: &str, text: &str| match crate::web::form_date(text) {
            Ok(d) => d,
            Err(()) => {
                problems.add(
                    field,
                    "Bitte ein gültiges Datum angeben (z. B. 15.03.2021).",
                );
                None
            }
        };
        let council_decision_on = date("council_decision_on", &self.council_decision_on);
        let accession_declared_on = date("accession_declared_on", &self.accession_declared_on);
        let capital_paid_on = date("capital_paid_on", &self.capital_paid_on);
        let left_on = date("left_on", &self.left_on);
        let capital_refunded_on = date("capital_refunded_on", &self.capital_refunded_on);
        let capital_cents = match self.capital.trim() {
            "" => None,
            t => match parse_euro(t) {
                Some(c) => Some(c),
                None => {
                    problems.add(
                        "capital_cents",
                        "Bitte die Stammkapitaleinlage als Betrag in Euro angeben (z. B. 1.000,00).",
                    );
                    None
                }
            },
        };
        if !matches!(
            self.stand.as_str(),
            "traeger" | "kein_traeger" | "nicht_erfasst"
        ) {
            problems.add(
                "status",
                "Bitte wählen Sie, ob die Kommune Träger ist, kein Träger ist oder ob der Stand nicht erfasst ist.",
            );
        }
        problems.into_result()?;
        Ok(MembershipInput {
            lock_version: self.lock_version,
            status: self.stand.clone(),
            council_decision_on,
            accession_declared_on,
            capital_cents,
            capital_paid_on,
            left_on,
            capital_refunded_on,
            note: Some(self.note.clone()),
        })
    }
}

/// Records the Trägerschaft from the municipality page.
#[post("/kommunen/<id>/traegerschaft", data = "<form>")]
async fn record_membership(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<MunicipalityId, AppError>,
    form: Form<MembershipForm>,
) -> AppResult<Page> {
    let session = staff_form!(session, &form.csrf);
    let id = id?;
    let form = form.into_inner();
    let values = json!(form);
    let result = match form.input() {
        Err(e) => Err(e),
        Ok(input) => {
            let actor = session.actor();
            let mid = id.clone();
            state
                .db
                .write(move |conn| Checked::new(input)?.apply(conn, &actor, &mid))
                .await
        }
    };
    match form_outcome(result)? {
        Ok(_) => Ok(Page::to(format!("/kommunen/{id}#traegerschaft"))),
        Err(e) => {
            let errors = form_errors(&e, |f| match f {
                "capital_cents" => "capital".to_string(),
                "status" => "stand".to_string(),
                other => other.to_string(),
            });
            refused_page(state, &session, id, "traeger", values, errors).await
        }
    }
}

#[post("/kommunen/<id>/ansprechpersonen", data = "<form>")]
async fn add_contact(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<MunicipalityId, AppError>,
    form: Form<crate::web::ContactForm>,
) -> AppResult<Page> {
    let session = staff_form!(session, &form.csrf);
    let id = id?;
    let form = form.into_inner();
    let (values, input) = (form.values(), form.input());
    let actor = session.actor();
    let mid = id.clone();
    let result = state
        .db
        .write(move |conn| Checked::new(input)?.add_to_municipality(conn, &actor, &mid))
        .await;
    match form_outcome(result)? {
        Ok(_) => Ok(Page::to(format!("/kommunen/{id}"))),
        Err(e) => {
            let errors = form_errors(&e, |f| format!("contact-{f}"));
            refused_page(state, &session, id, "contact", values, errors).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn euro_amounts_read_and_print_the_german_way() {
        assert_eq!(parse_euro("1.234,56"), Some(123_456));
        assert_eq!(parse_euro("1234,5"), Some(123_450));
        assert_eq!(parse_euro("1234.56"), Some(123_456));
        assert_eq!(parse_euro("12.500"), Some(1_250_000));
        assert_eq!(parse_euro("25 €"), Some(2_500));
        assert_eq!(parse_euro("zehn"), None);
        assert_eq!(parse_euro("1,234"), None);
        assert_eq!(euro(123_456), "1.234,56");
        assert_eq!(euro(5), "0,05");
        assert_eq!(euro(100_000_000), "1.000.000,00");
    }
}
