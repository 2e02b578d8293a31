//! The EfA catalogue.

mod input;

use diesel::prelude::*;
use serde::Serialize;
use time::PrimitiveDateTime;

use crate::db::schema::services;
use crate::db::DbConn;
use crate::domain::service::DataProtection;
use crate::domain::{Availability, ParameterDef};
use crate::error::{AppError, AppResult};
use crate::store::organisation::Organisation;

pub use input::*;

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
    /// `domain::service::DataProtection` as text.
    pub data_protection: String,
}

/// The Land key of Nordrhein-Westfalen: its services are offered to other Länder.
pub const NRW_LAND_KEY: &str = "05";

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
    /// The operator's name, or what is known about it ("noch nicht bekannt" when nothing is).
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
    pub data_protection: DataProtection,
    pub data_protection_label: &'static str,
    pub lock_version: i32,
    #[serde(with = "super::ts")]
    pub created_at: PrimitiveDateTime,
    #[serde(with = "super::ts")]
    pub updated_at: PrimitiveDateTime,
}

impl Service {
    pub fn data_protection(&self) -> AppResult<DataProtection> {
        DataProtection::parse(&self.data_protection).ok_or_else(|| {
            AppError::internal(format!(
                "unknown data protection model {}",
                self.data_protection
            ))
        })
    }

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
        self.providing_land_key.as_deref() == Some(NRW_LAND_KEY)
    }

    pub fn view(&self, operator_name: Option<&str>) -> AppResult<ServiceView> {
        let availability = self.availability()?;
        let data_protection = self.data_protection()?;
        Ok(ServiceView {
            data_protection,
            data_protection_label: data_protection.label(),
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
                .unwrap_or_else(|| "noch nicht bekannt".to_string()),
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
            services::data_protection.eq(&self.data_protection),
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
