//! Typed parameters from paths and queries: ids, paging, the roll-out's filters. A value
//! that cannot be one is refused here with a German message naming the parameter.

use crate::actions::rollout::RolloutFilter;
use crate::domain::text::Checked;
use crate::error::{AppError, AppResult};

/// Ids are UUIDs; anything else cannot name a record.
pub fn id(raw: &str) -> AppResult<String> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.to_string())
        .map_err(|_| AppError::not_found(format!("„{raw}“ ist keine gültige Id.")))
}

/// The id of one kind of record, parsed from the path: a UUID in its canonical form.
/// A route takes it as `Result<AgreementId, AppError>`, so a segment that is no id is the
/// same 404 ("„…“ ist keine gültige Id.") as a record that does not exist, answered by
/// the route in JSON or German rather than by a catcher. It reads as `&str` where the
/// store takes one.
macro_rules! path_ids {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'a> rocket::request::FromParam<'a> for $name {
            type Error = AppError;
            fn from_param(raw: &'a str) -> Result<Self, AppError> {
                id(raw).map($name)
            }
        }
    )*};
}

path_ids!(
    /// An IÖV, EKV, RV or EA.
    AgreementId,
    /// An NRW municipality or Kreis.
    MunicipalityId,
    /// A provider or another Land's intermediary (or d-NRW itself).
    OrganisationId,
    /// An EfA service of the catalogue.
    ServiceId,
    /// A go-live task.
    TaskId,
    /// A user account.
    UserId,
    /// A personal API token.
    TokenId,
    /// An uploaded file (coat of arms, DVDV certificate).
    AttachmentId,
    /// A mail in the outbox.
    MailId,
);

/// An optional id in a query (`?service_id=`): a UUID, or a 422 naming the field.
pub fn query_id(field: &str, v: Option<&str>) -> AppResult<Option<String>> {
    v.map(|v| {
        uuid::Uuid::parse_str(v)
            .map(|u| u.to_string())
            .map_err(|_| AppError::field(field, format!("„{v}“ ist keine gültige Id.")))
    })
    .transpose()
}

/// Reads `page` and `per_page` from the query; non-numbers are a 422, not a 404.
pub fn page(page: Option<&str>, per_page: Option<&str>) -> AppResult<crate::store::Page> {
    let int = |name: &str, raw: Option<&str>| -> AppResult<Option<i64>> {
        raw.map(|r| {
            r.trim()
                .parse::<i64>()
                .map_err(|_| AppError::field(name, format!("„{r}“ ist keine ganze Zahl.")))
        })
        .transpose()
    };
    crate::store::Page::new(int("page", page)?, int("per_page", per_page)?)
}

/// Reads the filters of the roll-out (empty values mean "all").
pub fn rollout_filter(
    regierungsbezirk: Option<&str>,
    kreis: Option<&str>,
    service_id: Option<&str>,
) -> AppResult<Checked<RolloutFilter>> {
    let nonempty = |v: Option<&str>| {
        v.map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let kreis = nonempty(kreis);
    if let Some(k) = &kreis {
        crate::domain::codes::check_nrw_ags(k).map_err(|m| AppError::field("kreis", m))?;
    }
    let service_id = query_id("service_id", nonempty(service_id).as_deref())?;
    Ok(Checked::new(RolloutFilter {
        regierungsbezirk: nonempty(regierungsbezirk),
        kreis_ags: kreis,
        service_id,
    })?)
}
