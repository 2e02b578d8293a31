//! A municipality files an Einzelabruf: one path for the Einzelabruf form and the API.
//! Everything the filing carries is checked here, every problem at once (the service's
//! parameters complete and valid, the coat of arms and the DVDV certificate, the contact
//! person); then the contact person is recorded and the EA is created and submitted with
//! the caller's scope (`NewAgreement::create_as`: the policy and the rules of the model).

use crate::actions::agreement::{NewAgreement, Submit};
use crate::db::DbConn;
use crate::domain::signing::SigningOrder;
use crate::domain::text::{self, Checked, Kind};
use crate::domain::{codes, service, DomainError};
use crate::error::{AppError, AppResult, ErrorKind, FieldError};
use crate::store::agreement::Agreement;
use crate::store::attachment::CheckedUpload;
use crate::store::contact::Contact;
use crate::store::service::Service;
use crate::store::{new_id, now, Scope};

/// The municipality's contact person for the service, as entered.
#[derive(Debug, Clone, Default)]
pub struct ContactPerson {
    pub name: String,
    pub email: String,
    pub phone: String,
}

/// An uploaded file as it arrived: the form field it came in, its name and bytes.
#[derive(Debug, Clone)]
pub struct Upload {
    /// `wappen` (coat of arms) or `zertifikat` (DVDV certificate).
    pub field: &'static str,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// Checks the uploaded files (before the transaction: parsing an SVG or a certificate
/// holds no lock): the checked files, and the problems at their fields.
pub fn check_uploads(uploads: Vec<Upload>) -> (Vec<CheckedUpload>, Vec<FieldError>) {
    let (mut checked, mut problems) = (Vec::new(), Vec::new());
    for u in uploads {
        let result = match u.field {
            "wappen" => CheckedUpload::coat_of_arms(&u.file_name, u.bytes)
                .map_err(|m| format!("Wappen: {m}")),
            _ => CheckedUpload::dvdv_certificate(&u.file_name, u.bytes)
                .map_err(|m| format!("DVDV-Zertifikat: {m}")),
        };
        match result {
            Ok(c) => checked.push(c),
            Err(message) => problems.push(FieldError {
                field: u.field.into(),
                message,
            }),
        }
    }
    (checked, problems)
}

/// What a municipality files.
pub struct Filing {
    /// Kind `ea`, the service and its parameters (the caller's scope names the
    /// municipality).
    pub agreement: Checked<NewAgreement>,
    /// Problems the form found before (parameters it could not read from their text,
    /// uploads `check_uploads` refused).
    pub unreadable: Vec<FieldError>,
    /// The page asks for one; the API leaves it to the agreement's notes.
    pub contact: Option<ContactPerson>,
    /// Checked by `check_uploads`.
    pub uploads: Vec<CheckedUpload>,
    /// The API files for signature at once; the page shows the draft to review first.
    pub submit: Submit,
}

/// Files the Einzelabruf: checks everything, then records the contact person and creates
/// the EA, which waits for signatures.
///
/// The page shows every problem of its form at once, so with a contact person (the
/// form) the service's parameters are checked here together with the form's own fields;
/// without one (the API) the model checks them after the rules of the contract model,
/// in the order the API has always answered.
/// `order`: who is asked to sign first (the deployment's setting).
pub fn file(
    conn: &mut DbConn,
    scope: &Scope,
    actor: &str,
    order: SigningOrder,
    filing: Filing,
) -> AppResult<Agreement> {
    let Filing {
        agreement,
        unreadable,
        contact,
        uploads,
        submit,
    } = filing;
    // Who may file comes first: a refusal is not a list of problems to fix.
    agreement.may_be_created_by(scope)?;
    let mut problems = unreadable;
    if let (Some(_), Some(id)) = (&contact, agreement.service_id.as_deref()) {
        let svc = Service::find(conn, id).map_err(|e| match e.kind {
            ErrorKind::NotFound => {
                AppError::field("service_id", "Diesen Dienst gibt es nicht im Katalog.")
            }
            _ => e,
        })?;
        if let Err(DomainError::Invalid(found)) =
            service::check_parameter_values(&svc.parameter_defs()?, &agreement.parameters, true)
        {
            for (field, message) in found {
                if !problems.iter().any(|p| p.field == field) {
                    problems.push(FieldError { field, message });
                }
            }
        }
    }
    let contact = contact.map(|c| check_contact(c, &mut problems));
    if !problems.is_empty() {
        return Err(AppError::validation(problems));
    }
    let agreement = match &contact {
        None => agreement,
        Some(c) => {
            let line = format!(
                "Fachliche Ansprechperson der Kommune: {}, {}{}",
                c.name,
                c.email,
                if c.phone.is_empty() {
                    String::new()
                } else {
                    format!(", Tel. {}", c.phone)
                }
            );
            agreement.amend(|a| {
                a.notes = Some(match a.notes.take().filter(|n| !n.trim().is_empty()) {
                    Some(n) => format!("{n}\n{line}"),
                    None => line,
                })
            })?
        }
    };
    if let (Some(c), Scope::Municipality(m)) = (contact, scope) {
        record_contact(conn, m, c)?;
    }
    agreement.create_as(conn, scope, actor, uploads, order, submit)
}

/// The contact person fit to store, or the problems at their fields.
fn check_contact(c: ContactPerson, problems: &mut Vec<FieldError>) -> ContactPerson {
    let mut clean = |field: &str, kind: Kind, raw: &str| match text::clean(kind, raw.trim()) {
        Ok(v) => v,
        Err(message) => {
            problems.push(FieldError {
                field: field.into(),
                message,
            });
            String::new()
        }
    };
    let name = clean("kontakt_name", Kind::Name, &c.name);
    let email = clean("kontakt_email", Kind::Email, &c.email).to_lowercase();
    let phone = clean("kontakt_telefon", Kind::Code, &c.phone);
    if name.is_empty() {
        problems.push(FieldError {
            field: "kontakt_name".into(),
            message: "Bitte den Namen der fachlichen Ansprechperson angeben.".into(),
        });
    }
    if let Err(message) = codes::check_email(&email) {
        problems.push(FieldError {
            field: "kontakt_email".into(),
            message: format!("E-Mail der Ansprechperson: {message}"),
        });
    }
    if phone.chars().count() > 50 {
        problems.push(FieldError {
            field: "kontakt_telefon".into(),
            message: "Die Telefonnummer ist zu lang.".into(),
        });
    }
    ContactPerson { name, email, phone }
}

/// Adds the contact person to the municipality's contacts unless one with that address
/// is there already.
fn record_contact(conn: &mut DbConn, municipality: &str, c: ContactPerson) -> AppResult<()> {
    let known = Contact::of_municipality(conn, municipality)?
        .iter()
        .any(|k| k.email.as_deref() == Some(c.email.as_str()));
    if !known {
        Contact {
            id: new_id(),
            organisation_id: None,
            municipality_id: Some(municipality.to_string()),
            name: c.name,
            function: Some("Fachliche Ansprechperson".into()),
            email: Some(c.email),
            phone: (!c.phone.is_empty()).then_some(c.phone),
            created_at: now(),
            may_sign: false,
        }
        .insert(conn)?;
    }
    Ok(())
}
