//! Contact persons of municipalities and organisations.

use diesel::prelude::*;
use serde::Serialize;
use time::PrimitiveDateTime;

use crate::db::schema::contacts;
use crate::db::DbConn;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = contacts)]
pub struct Contact {
    pub id: String,
    pub organisation_id: Option<String>,
    pub municipality_id: Option<String>,
    pub name: String,
    pub function: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    #[serde(with = "super::ts")]
    pub created_at: PrimitiveDateTime,
    /// Authorised signatory (Zeichnungsbefugnis) of its municipality or organisation.
    pub may_sign: bool,
}

impl Contact {
    pub fn insert(&self, conn: &mut DbConn) -> AppResult<()> {
        diesel::insert_into(contacts::table)
            .values(self)
            .execute(conn)?;
        Ok(())
    }

    pub fn find(conn: &mut DbConn, id: &str) -> AppResult<Contact> {
        contacts::table
            .find(id)
            .select(Contact::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::not_found(format!("Ansprechperson {id} gibt es nicht.")))
    }

    pub fn of_municipality(conn: &mut DbConn, id: &str) -> AppResult<Vec<Contact>> {
        Ok(contacts::table
            .filter(contacts::municipality_id.eq(id))
            .select(Contact::as_select())
            .order(contacts::name)
            .load(conn)?)
    }

    pub fn of_organisation(conn: &mut DbConn, id: &str) -> AppResult<Vec<Contact>> {
        Ok(contacts::table
            .filter(contacts::organisation_id.eq(id))
            .select(Contact::as_select())
            .order(contacts::name)
            .load(conn)?)
    }
}
