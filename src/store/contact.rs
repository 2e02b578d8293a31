//! Contact persons of municipalities and organisations.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use time::PrimitiveDateTime;

use crate::db::schema::contacts;
use crate::db::DbConn;
use crate::domain::text::{Checked, Inspect, Kind, TextCheck};
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    pub name: String,
    #[serde(default)]
    pub function: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// Authorised to sign agreements for the municipality or organisation.
    #[serde(default)]
    pub may_sign: bool,
}

impl Inspect for ContactInput {
    fn inspect(&mut self, t: &mut TextCheck) {
        t.text("name", Kind::Name, &mut self.name);
        t.opt("function", Kind::Name, &mut self.function);
        t.opt("email", Kind::Email, &mut self.email);
        t.opt("phone", Kind::Code, &mut self.phone);
    }
}

impl Checked<ContactInput> {
    /// The contact, checked, for a municipality or an organisation.
    fn into_contact(
        self,
        municipality_id: Option<String>,
        organisation_id: Option<String>,
    ) -> AppResult<Contact> {
        let input = self.into_inner();
        let mut problems = crate::domain::Problems::new();
        crate::domain::party::check_contact(&mut problems, &input.name, input.email.as_deref());
        problems.into_result()?;
        Ok(Contact {
            id: super::new_id(),
            organisation_id,
            municipality_id,
            name: input.name.trim().to_string(),
            function: input.function,
            email: input.email,
            phone: input.phone,
            created_at: super::now(),
            may_sign: input.may_sign,
        })
    }
}

impl Checked<ContactInput> {
    /// Adds the contact to a municipality, with an audit record.
    pub fn add_to_municipality(
        self,
        conn: &mut DbConn,
        actor: &str,
        id: &str,
    ) -> AppResult<Contact> {
        let m = super::municipality::Municipality::find(conn, id)?;
        let contact = self.into_contact(Some(m.id.clone()), None)?;
        contact.record(conn, actor, "municipality", &m.id)?;
        Ok(contact)
    }

    /// Adds the contact to an organisation, with an audit record.
    pub fn add_to_organisation(
        self,
        conn: &mut DbConn,
        actor: &str,
        id: &str,
    ) -> AppResult<Contact> {
        let o = super::organisation::Organisation::find(conn, id)?;
        let contact = self.into_contact(None, Some(o.id.clone()))?;
        contact.record(conn, actor, "organisation", &o.id)?;
        Ok(contact)
    }
}

impl Contact {
    fn record(
        &self,
        conn: &mut DbConn,
        actor: &str,
        entity_type: &str,
        entity_id: &str,
    ) -> AppResult<()> {
        self.insert(conn)?;
        super::audit::record(
            conn,
            super::audit::Change {
                actor,
                action: "add_contact",
                entity_type,
                entity_id,
                before: None,
                after: Some(serde_json::to_value(self)?),
                note: None,
            },
        )
    }
}
