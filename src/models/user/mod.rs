//! Users and their personal API tokens.
//!
//! Passwords are hashed with argon2id at OWASP's parameters (19 MiB, 2 iterations, 1 lane).
//! An API token is `nnr_` and 64 hex digits of randomness; only its SHA-256 is stored, the
//! token itself is shown once. A token acts with its user's role.

mod login;
mod tokens;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use diesel::prelude::*;
use rand::distributions::{Alphanumeric, DistString};
use serde::{Deserialize, Serialize};
use time::PrimitiveDateTime;

use crate::db::schema::users;
use crate::db::DbConn;
use crate::domain::account::{self, Role};
use crate::domain::text::{Checked, Inspect, Kind, TextCheck};
use crate::domain::Problems;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::models::municipality::Municipality;
use crate::models::organisation::Organisation;
use crate::models::{new_id, now};

pub use login::*;
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

/// An admin's change to another account (refused on one's own, with `own` as the
/// message): `change` writes it, bumping the lock_version, which ends the account's
/// sessions; the audit log records it.
fn admin_change(
    conn: &mut DbConn,
    actor: &User,
    id: &str,
    action: &str,
    own: &str,
    change: impl FnOnce(&mut DbConn, &User) -> AppResult<()>,
) -> AppResult<User> {
    let user = User::find(conn, id)?;
    if user.id == actor.id {
        return Err(AppError::conflict(own.to_string()));
    }
    change(conn, &user)?;
    super::audit::record(
        conn,
        super::audit::Change {
            actor: &format!("user:{}", actor.email),
            action,
            entity_type: "user",
            entity_id: id,
            before: None,
            after: None,
            note: None,
        },
    )?;
    User::find(conn, id)
}

/// `POST /api/v1/users` and `nachnutzung user add`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: String,
    /// Municipality users: the municipality's id …
    #[serde(default)]
    pub municipality_id: Option<String>,
    /// … or its AGS.
    #[serde(default)]
    pub municipality_ags: Option<String>,
    /// Intermediary users: the intermediary's id.
    #[serde(default)]
    pub organisation_id: Option<String>,
    #[serde(default)]
    pub may_sign: bool,
    /// Unset: a random initial password is made (and returned once). Either way it must
    /// be changed at first login.
    #[serde(default)]
    pub password: Option<String>,
}

/// A created user and, once, its initial password.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedUser {
    pub user: UserView,
    pub initial_password: String,
}

impl Inspect for NewUser {
    fn inspect(&mut self, t: &mut TextCheck) {
        t.text("email", Kind::Email, &mut self.email);
        t.text("name", Kind::Name, &mut self.name);
        t.text("role", Kind::Code, &mut self.role);
        t.opt("municipality_id", Kind::Code, &mut self.municipality_id);
        t.opt("municipality_ags", Kind::Code, &mut self.municipality_ags);
        t.opt("organisation_id", Kind::Code, &mut self.organisation_id);
        t.opt("password", Kind::Secret, &mut self.password);
    }
}

impl Checked<NewUser> {
    /// Creates the account (an initial password is made unless given) and records it.
    pub fn create(self, conn: &mut DbConn, actor: &str) -> AppResult<CreatedUser> {
        self.into_inner().create(conn, actor)
    }
}

impl NewUser {
    fn create(self, conn: &mut DbConn, actor: &str) -> AppResult<CreatedUser> {
        let mut problems = Problems::new();
        let email = account::normalise_email(&mut problems, &self.email);
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 200 {
            problems.add("name", "Bitte einen Namen angeben (höchstens 200 Zeichen).");
        }
        let role = Role::parse(&self.role);
        if role.is_none() {
            problems.add(
                "role",
                "Die Rolle ist admin, clerk, municipality oder intermediary.",
            );
        }
        let password = self
            .password
            .clone()
            .unwrap_or_else(|| Alphanumeric.sample_string(&mut rand::thread_rng(), 20));
        account::check_password(&mut problems, "password", &password, &email);
        problems.into_result()?;
        let role = role.unwrap_or(Role::Clerk);

        let municipality_id = match (role, &self.municipality_id, &self.municipality_ags) {
            (Role::Municipality, Some(id), _) => Some(
                Municipality::find(conn, id)
                    .map_err(|_| {
                        AppError::field("municipality_id", "Diese Kommune gibt es nicht.")
                    })?
                    .id,
            ),
            (Role::Municipality, None, Some(ags)) => Some(
                Municipality::find_by_ags(conn, ags)?
                    .ok_or_else(|| {
                        AppError::field(
                            "municipality_ags",
                            format!("Keine Kommune mit dem AGS {ags}."),
                        )
                    })?
                    .id,
            ),
            (Role::Municipality, None, None) => {
                return Err(AppError::field(
                    "municipality_id",
                    "Ein Benutzer einer Kommune gehört zu genau einer Kommune.",
                ))
            }
            (_, None, None) => None,
            _ => {
                return Err(AppError::field(
                    "municipality_id",
                    "Nur Benutzer einer Kommune gehören zu einer Kommune.",
                ))
            }
        };
        let organisation_id = match (role, &self.organisation_id) {
            (Role::Intermediary, Some(id)) => {
                let o = Organisation::find(conn, id).map_err(|_| {
                    AppError::field("organisation_id", "Diesen Kommunalvertreter gibt es nicht.")
                })?;
                if !o.is_intermediary || o.is_self {
                    return Err(AppError::field(
                        "organisation_id",
                        format!(
                            "{} ist kein Kommunalvertreter eines anderen Landes.",
                            o.name
                        ),
                    ));
                }
                Some(o.id)
            }
            (Role::Intermediary, None) => {
                return Err(AppError::field(
                    "organisation_id",
                    "Ein Benutzer eines Kommunalvertreters gehört zu genau einem.",
                ))
            }
            (_, None) => None,
            (_, Some(_)) => {
                return Err(AppError::field(
                    "organisation_id",
                    "Nur Benutzer eines Kommunalvertreters gehören zu einem.",
                ))
            }
        };
        if self.may_sign && role.is_staff() {
            return Err(AppError::field("may_sign", "Zeichnungsberechtigt für ihre Seite sind Benutzer einer Kommune oder eines Kommunalvertreters; für d-NRW zeichnet jede Sachbearbeiterin und jeder Administrator."));
        }
        if User::find_by_email(conn, &email)?.is_some() {
            return Err(AppError::new(
                ErrorKind::Duplicate,
                format!("Es gibt schon einen Benutzer {email}."),
            ));
        }
        let at = now();
        let user = User {
            id: new_id(),
            email,
            name,
            role,
            municipality_id,
            organisation_id,
            may_sign: self.may_sign,
            password_hash: hash_password(&password)?,
            must_change_password: true,
            disabled: false,
            lock_version: 1,
            created_at: at,
            updated_at: at,
            calendar_token_hash: None,
        };
        diesel::insert_into(users::table)
            .values(&user)
            .execute(conn)?;
        super::audit::record(
            conn,
            super::audit::Change {
                actor,
                action: "create_user",
                entity_type: "user",
                entity_id: &user.id,
                before: None,
                after: Some(serde_json::to_value(user.view()?)?),
                note: None,
            },
        )?;
        super::notify::account(conn, &user, true)?;
        Ok(CreatedUser {
            user: user.view()?,
            initial_password: password,
        })
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
