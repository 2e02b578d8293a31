//! Refused forms shown again (errors at their fields, typed values kept), list filters
//! from the address, dates from date fields.

use rocket::form::FromForm;
use serde::Serialize;
use serde_json::{json, Value};

use crate::error::{AppError, AppResult};

/// A date from a form field (`2026-12-01`, as `<input type="date">` sends it); empty is
/// `None`, anything else unreadable is `Err`.
pub(crate) fn form_date(text: &str) -> Result<Option<time::Date>, ()> {
    match text.trim() {
        "" => Ok(None),
        t => time::Date::parse(t, time::macros::format_description!("[year]-[month]-[day]"))
            .map(Some)
            .map_err(|_| ()),
    }
}

/// What a page with several forms shows again after one of them was refused: which
/// form, the values typed, the errors.
#[derive(Default)]
pub(crate) struct Refused {
    pub(crate) form: &'static str,
    pub(crate) values: Value,
    pub(crate) errors: Option<(Value, Value)>,
}

impl Refused {
    /// The values for `form`: those typed if it was the refused one, else `fresh()`.
    pub(crate) fn values_for(&self, form: &str, fresh: impl FnOnce() -> Value) -> Value {
        if self.form == form {
            self.values.clone()
        } else {
            fresh()
        }
    }
}

/// Form errors for a template: the list (for the summary at the top, each linking to its
/// field) and a map from field id to message (shown at the field). `ids` maps the model's
/// field names to the form's input ids.
pub(crate) fn form_errors(err: &AppError, ids: impl Fn(&str) -> String) -> (Value, Value) {
    let mut list = Vec::new();
    let mut map = serde_json::Map::new();
    if err.fields.is_empty() {
        list.push(json!({ "field": "", "message": err.message }));
    }
    for f in &err.fields {
        let id = ids(&f.field);
        list.push(json!({ "field": id, "message": f.message }));
        map.entry(id).or_insert(json!(f.message));
    }
    (Value::Array(list), Value::Object(map))
}

/// An error's text for a message page: the field messages themselves (without the
/// field names the API adds), or the message.
pub(crate) fn plain(err: &AppError) -> String {
    if err.fields.is_empty() {
        err.message.clone()
    } else {
        err.fields
            .iter()
            .map(|f| f.message.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Puts a refused form's errors (the summary list and the messages by field, from
/// `form_errors`) into a page's context; none gives empty ones.
pub(crate) fn set_errors(ctx: &mut Value, errors: Option<(Value, Value)>) {
    let (list, map) = errors.unwrap_or((json!([]), json!({})));
    ctx["errors"] = list;
    ctx["field_errors"] = map;
}

/// A choice filter from a page's address (`?art=rv`): empty means "all"; any other value
/// must be one of the choices, so a mistyped bookmark is told so instead of silently
/// showing everything. The value itself is not echoed (it may be anything, at any length).
pub(crate) fn choice<T>(
    name: &str,
    label: &str,
    raw: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
) -> AppResult<Option<T>> {
    match raw.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => parse(v).map(Some).ok_or_else(|| {
            AppError::field(
                name,
                format!("Diesen Wert gibt es für „{label}“ nicht. Bitte wählen Sie einen aus der Liste."),
            )
        }),
    }
}

/// A search text from a page's address (`?q=`), checked like every text input.
pub(crate) fn search_text(name: &str, label: &str, raw: Option<&str>) -> AppResult<String> {
    crate::domain::text::clean(crate::domain::text::Kind::Search, raw.unwrap_or("").trim())
        .map_err(|message| AppError::field(name, format!("{label}: {message}")))
}

/// Whether an error is the user's to fix in the form (validation, a rule, a conflict),
/// rather than a page-level refusal or a fault.
pub(crate) fn is_form_error(err: &AppError) -> bool {
    matches!(err.http_status(), 409 | 422)
}

/// What a form's submission came to, as a page answers it: done (`Ok(Ok(value))`),
/// refused for the user to fix in the form (`Ok(Err(error))`: show the form again with
/// the errors at their fields), or an error no form can show (`Err`, passed on to the
/// error page). `match form_outcome(result)? { Ok(v) => …, Err(e) => the form again }`.
pub(crate) fn form_outcome<T>(result: AppResult<T>) -> AppResult<Result<T, AppError>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(e) if is_form_error(&e) => Ok(Err(e)),
        Err(e) => Err(e),
    }
}

/// The form adding a contact person (municipality and partner pages).
#[derive(FromForm, Serialize)]
pub(crate) struct ContactForm {
    #[field(default = String::new())]
    #[serde(skip)]
    pub(crate) csrf: String,
    #[field(default = String::new())]
    pub(crate) name: String,
    #[field(default = String::new())]
    pub(crate) function: String,
    #[field(default = String::new())]
    pub(crate) email: String,
    #[field(default = String::new())]
    pub(crate) phone: String,
    #[field(default = false)]
    pub(crate) may_sign: bool,
}

impl ContactForm {
    /// The empty form.
    pub(crate) fn blank() -> Value {
        json!({ "name": "", "function": "", "email": "", "phone": "", "may_sign": false })
    }

    pub(crate) fn values(&self) -> Value {
        json!(self)
    }

    pub(crate) fn input(&self) -> crate::store::contact::ContactInput {
        let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        crate::store::contact::ContactInput {
            name: self.name.clone(),
            function: text(&self.function),
            email: text(&self.email),
            phone: text(&self.phone),
            may_sign: self.may_sign,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_shows_rule_and_field_errors_again_and_passes_on_the_rest() {
        assert_eq!(form_outcome(Ok::<_, AppError>(7)).unwrap().unwrap(), 7);
        for shown in [
            AppError::field("name", "Bitte einen Namen angeben."),
            AppError::conflict("Es gibt schon eine aktive Rahmenvereinbarung."),
        ] {
            let again = form_outcome::<()>(Err(shown)).unwrap().unwrap_err();
            assert!(is_form_error(&again));
        }
        for passed_on in [
            AppError::not_found("Keine Vereinbarung."),
            AppError::forbidden("Dieser Bereich ist d-NRW vorbehalten."),
            AppError::internal("database gone"),
        ] {
            let kind = passed_on.kind;
            assert_eq!(form_outcome::<()>(Err(passed_on)).unwrap_err().kind, kind);
        }
    }
}
