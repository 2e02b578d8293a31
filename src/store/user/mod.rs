//! Users and their personal API tokens.
//!
//! Passwords are hashed with argon2id at OWASP's parameters (19 MiB, 2 iterations, 1 lane).
//! An API token is `nnr_` and 64 hex digits of randomness; only its SHA-256 is stored, the
//! token itself is shown once. A token acts with its user's role.

mod tokens;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use diesel::prelude::*;
use serde::Serialize;
use time::PrimitiveDateTime;

use crate::db::schema::users;
use crate::db::DbConn;
use crate::domain::account::Role;
use crate::error::{AppError, AppResult};

pub use tokens::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub municipality_id: Option<String>,
    pub organisation_id: Option<String>,
    pub may_sign: bool,
    pub password_hash: String,
    pub must_change_password: bool,
    pub disabled: bool,
    pub lock_version: i32,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
    /// SHA-256 of the secret in the user's calendar feed URL.
    pub calendar_token_hash: Option<String>,
}

/// A user as the API shows it (never the hash).
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub role_label: &'static str,
    pub municipality_id: Option<String>,
    pub organisation_id: Option<String>,
    pub may_sign: bool,
    pub must_change_password: bool,
    pub disabled: bool,
    #[serde(with = "super::ts")]
    pub created_at: PrimitiveDateTime,
}

fn argon2() -> Argon2<'static> {
    // OWASP Password Storage Cheat Sheet: m=19456 KiB, t=2, p=1.
    let params = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// argon2id hash in PHC format.
pub fn hash_password(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal(format!("argon2: {e}")))
}

/// Whether `password` matches `hash` (false for a malformed hash).
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

impl User {
    /// What this user may see: everything (staff), or their own tenant's records.
    pub fn scope(&self) -> AppResult<super::Scope> {
        Ok(match self.role {
            Role::Admin | Role::Clerk => super::Scope::All,
            Role::Municipality => super::Scope::Municipality(
                self.municipality_id
                    .clone()
                    .ok_or_else(|| AppError::internal("municipality user without municipality"))?,
            ),
            Role::Intermediary => super::Scope::Intermediary(
                self.organisation_id
                    .clone()
                    .ok_or_else(|| AppError::internal("intermediary user without organisation"))?,
            ),
        })
    }

    pub fn view(&self) -> AppResult<UserView> {
        let role = self.role;
        Ok(UserView {
            id: self.id.clone(),
            email: self.email.clone(),
            name: self.name.clone(),
            role,
            role_label: role.label(),
            municipality_id: self.municipality_id.clone(),
            organisation_id: self.organisation_id.clone(),
            may_sign: self.may_sign,
            must_change_password: self.must_change_password,
            disabled: self.disabled,
            created_at: self.created_at,
        })
    }

    pub fn find(conn: &mut DbConn, id: &str) -> AppResult<User> {
        users::table
            .find(id)
            .select(User::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::not_found(format!("Benutzer {id} gibt es nicht.")))
    }

    pub fn find_by_email(conn: &mut DbConn, email: &str) -> AppResult<Option<User>> {
        Ok(users::table
            .filter(users::email.eq(email.trim().to_lowercase()))
            .select(User::as_select())
            .first(conn)
            .optional()?)
    }

    /// The users with these e-mail addresses (lower case, as stored), in one query.
    pub fn find_by_emails(conn: &mut DbConn, emails: &[String]) -> AppResult<Vec<User>> {
        if emails.is_empty() {
            return Ok(Vec::new());
        }
        Ok(users::table
            .filter(users::email.eq_any(emails))
            .select(User::as_select())
            .load(conn)?)
    }

    pub fn list(conn: &mut DbConn) -> AppResult<Vec<UserView>> {
        users::table
            .select(User::as_select())
            .order(users::email)
            .load(conn)?
            .iter()
            .map(User::view)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_argon2id_at_owasp_parameters_and_verify() {
        let hash = hash_password("ein langes gutes Passwort").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password(&hash, "ein langes gutes Passwort"));
        assert!(!verify_password(&hash, "ein langes gutes passwort"));
        assert!(!verify_password("kein hash", "x"));
    }
}
