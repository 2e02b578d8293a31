//! Users and their personal API tokens.
//!
//! Passwords are hashed with argon2id at OWASP's parameters (19 MiB, 2 iterations, 1 lane).
//! An API token is `nnr_` and 64 hex digits of randomness; only its SHA-256 is stored, the
//! token itself is shown once. A token acts with its user's role.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use diesel::prelude::*;
use rand::distributions::{Alphanumeric, DistString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::PrimitiveDateTime;

use super::municipality::Municipality;
use super::organisation::Organisation;
use super::{new_id, now};
use crate::db::schema::{api_tokens, users};
use crate::db::{Db, DbConn};
use crate::domain::account::{self, Role};
use crate::domain::text::{Checked, Email, Inspect, Kind, Secret, TextCheck};
use crate::domain::Problems;
use crate::error::{AppError, AppResult, ErrorKind};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: String,
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
    pub fn role(&self) -> AppResult<Role> {
        Role::parse(&self.role).ok_or_else(|| AppError::internal(format!("role {}", self.role)))
    }

    /// What this user may see: everything (staff), or their own tenant's records.
    pub fn scope(&self) -> AppResult<super::Scope> {
        Ok(match self.role()? {
            Role::Admin | Role::Clerk => super::Scope::All,
            Role::Municipality => {
                super::Scope::Municipality(self.municipality_id.clone().unwrap_or_default())
            }
            Role::Intermediary => {
                super::Scope::Intermediary(self.organisation_id.clone().unwrap_or_default())
            }
        })
    }

    pub fn view(&self) -> AppResult<UserView> {
        let role = self.role()?;
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
            role: role.as_str().to_string(),
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

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    pub id: String,
    pub user_id: String,
    pub name: String,
    #[serde(skip)]
    pub token_hash: String,
    #[serde(with = "super::ts")]
    pub created_at: PrimitiveDateTime,
    #[serde(with = "super::ts::option")]
    pub revoked_at: Option<PrimitiveDateTime>,
}

/// A new token with its secret, which is shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedToken {
    #[serde(flatten)]
    pub token: ApiToken,
    pub secret: String,
}

/// Prefix of every personal API token.
pub const TOKEN_PREFIX: &str = "nnr_";

/// SHA-256 of a secret as stored (API tokens, calendar feed secrets).
pub(crate) fn token_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// `POST /api/v1/tokens` and `nachnutzung user token`: the new token's name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    pub name: String,
}

impl Inspect for TokenInput {
    fn inspect(&mut self, t: &mut TextCheck) {
        t.text("name", Kind::Name, &mut self.name);
    }
}

impl ApiToken {
    /// Issues a token for `user`.
    pub fn issue(
        conn: &mut DbConn,
        user: &User,
        input: &Checked<TokenInput>,
    ) -> AppResult<IssuedToken> {
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AppError::field(
                "name",
                "Bitte das Token benennen (höchstens 100 Zeichen), z. B. „Skript Fachverfahren“.",
            ));
        }
        if user.disabled {
            return Err(AppError::forbidden(format!("{} ist gesperrt.", user.email)));
        }
        let secret = format!("{TOKEN_PREFIX}{}", super::random_hex(32));
        let token = ApiToken {
            id: new_id(),
            user_id: user.id.clone(),
            name: name.to_string(),
            token_hash: token_hash(&secret),
            created_at: now(),
            revoked_at: None,
        };
        diesel::insert_into(api_tokens::table)
            .values(&token)
            .execute(conn)?;
        Ok(IssuedToken { token, secret })
    }

    /// The active user behind a presented token, if any.
    pub fn authenticate(conn: &mut DbConn, secret: &str) -> AppResult<Option<(ApiToken, User)>> {
        if !secret.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let found: Option<(ApiToken, User)> = api_tokens::table
            .inner_join(users::table)
            .filter(api_tokens::token_hash.eq(token_hash(secret)))
            .filter(api_tokens::revoked_at.is_null())
            .filter(users::disabled.eq(false))
            .select((ApiToken::as_select(), User::as_select()))
            .first(conn)
            .optional()?;
        Ok(found)
    }

    pub fn of_user(conn: &mut DbConn, user_id: &str) -> AppResult<Vec<ApiToken>> {
        Ok(api_tokens::table
            .filter(api_tokens::user_id.eq(user_id))
            .select(ApiToken::as_select())
            .order(api_tokens::created_at)
            .load(conn)?)
    }

    /// Revokes one of `user_id`'s tokens (another user's token is "not found").
    pub fn revoke(conn: &mut DbConn, user_id: &str, id: &str) -> AppResult<()> {
        let n = diesel::update(
            api_tokens::table
                .filter(api_tokens::id.eq(id))
                .filter(api_tokens::user_id.eq(user_id))
                .filter(api_tokens::revoked_at.is_null()),
        )
        .set(api_tokens::revoked_at.eq(now()))
        .execute(conn)?;
        if n == 0 {
            return Err(AppError::not_found(
                "Dieses Token gibt es nicht (oder es ist schon widerrufen).",
            ));
        }
        Ok(())
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

/// What a login attempt came to.
#[derive(Debug)]
pub enum LoginOutcome {
    Success(Box<User>),
    /// Wrong e-mail or password (the two are not told apart).
    Refused,
    /// Too many failures: try again in this many seconds.
    Throttled(i64),
}

#[derive(QueryableByName)]
struct ThrottleRow {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    failures: i32,
    #[diesel(sql_type = diesel::sql_types::Timestamp)]
    last_failure_at: PrimitiveDateTime,
}

fn throttle_keys(email: &str, ip: &str) -> [String; 2] {
    // Always locked in this order ("email:" < "ip:"), so two attempts cannot deadlock.
    [format!("email:{email}"), format!("ip:{ip}")]
}

/// Counts an attempt for `email` from `ip` before its password is checked, or says how
/// long to wait. Both counter rows are locked (`FOR UPDATE` on PostgreSQL; SQLite's
/// transaction holds the write lock from its first statement), read, and incremented in
/// one transaction: of any number of parallel attempts exactly `FREE_FAILURES` get
/// through, on every instance. Returns the wait in seconds if throttled (then nothing is
/// counted).
pub fn reserve_login(conn: &mut DbConn, email: &Email, ip: &str) -> AppResult<Option<i64>> {
    use diesel::sql_types::{Integer, Text, Timestamp};
    let t = now();
    let secs = |at: PrimitiveDateTime| at.assume_utc().unix_timestamp();
    let keys = throttle_keys(email, ip);
    let mut rows = Vec::new();
    let mut wait = 0i64;
    for key in &keys {
        diesel::sql_query(
            "INSERT INTO login_throttle (key, failures, last_failure_at) VALUES ($1, 0, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind::<Text, _>(key)
        .bind::<Timestamp, _>(t)
        .execute(conn)?;
        let select = match conn {
            DbConn::Postgres(_) => {
                "SELECT failures, last_failure_at FROM login_throttle WHERE key = $1 FOR UPDATE"
            }
            DbConn::Sqlite(_) => {
                "SELECT failures, last_failure_at FROM login_throttle WHERE key = $1"
            }
        };
        let row: ThrottleRow = diesel::sql_query(select)
            .bind::<Text, _>(key)
            .get_result(conn)?;
        let (last, current) = (secs(row.last_failure_at), secs(t));
        if let Some(w) = account::login_wait(row.failures, last, current) {
            wait = wait.max(w);
        }
        rows.push(account::live_failures(row.failures, last, current));
    }
    if wait > 0 {
        return Ok(Some(wait));
    }
    for (key, failures) in keys.iter().zip(rows) {
        diesel::sql_query(
            "UPDATE login_throttle SET failures = $1, last_failure_at = $2 WHERE key = $3",
        )
        .bind::<Integer, _>(failures + 1)
        .bind::<Timestamp, _>(t)
        .bind::<Text, _>(key)
        .execute(conn)?;
    }
    Ok(None)
}

/// A successful login: the account's count starts again, and the attempt no longer counts
/// against the IP.
fn clear_login(conn: &mut DbConn, email: &Email, ip: &str) -> AppResult<()> {
    use diesel::sql_types::Text;
    let [by_email, by_ip] = throttle_keys(email, ip);
    diesel::sql_query("UPDATE login_throttle SET failures = 0 WHERE key = $1")
        .bind::<Text, _>(by_email)
        .execute(conn)?;
    diesel::sql_query(
        "UPDATE login_throttle SET failures = failures - 1 WHERE key = $1 AND failures > 0",
    )
    .bind::<Text, _>(by_ip)
    .execute(conn)?;
    Ok(())
}

/// Checks e-mail and password, throttled per account and per IP: the attempt is counted
/// first ([`reserve_login`], a short transaction), then the password is checked outside
/// any transaction (argon2 takes a moment and must not hold locks), and a success clears
/// the count. Blocking: call on the blocking pool.
pub fn login(db: &Db, email: &Email, password: &Secret, ip: &str) -> AppResult<LoginOutcome> {
    let email = Email::parse("email", &email.trim().to_lowercase())?;
    let reserved = {
        let email = email.clone();
        db.write_blocking(|conn| reserve_login(conn, &email, ip))?
    };
    if let Some(wait) = reserved {
        return Ok(LoginOutcome::Throttled(wait));
    }
    let user = db
        .read_blocking(|conn| User::find_by_email(conn, &email))?
        .filter(|u| !u.disabled);
    // Hash anyway when the user is unknown, so the answer takes as long either way.
    let ok = match &user {
        Some(u) => verify_password(&u.password_hash, password),
        None => {
            let _ = hash_password(password);
            false
        }
    };
    match (ok, user) {
        (true, Some(u)) => {
            db.write_blocking(|conn| clear_login(conn, &email, ip))?;
            Ok(LoginOutcome::Success(Box::new(u)))
        }
        _ => Ok(LoginOutcome::Refused),
    }
}

impl User {
    /// Sets a new password after checking the current one; clears `must_change_password`.
    /// An admin locks (or unlocks) an account: its sessions and tokens stop working at once.
    pub fn set_disabled(
        conn: &mut DbConn,
        actor: &User,
        id: &str,
        disabled: bool,
    ) -> AppResult<User> {
        let action = if disabled {
            "disable_user"
        } else {
            "enable_user"
        };
        let own = "Das eigene Konto sperrt man nicht selbst; das macht eine andere Administratorin oder ein anderer Administrator.";
        admin_change(conn, actor, id, action, own, |conn, user| {
            diesel::update(users::table.find(&user.id))
                .set((
                    users::disabled.eq(disabled),
                    users::updated_at.eq(now()),
                    users::lock_version.eq(user.lock_version + 1),
                ))
                .execute(conn)?;
            Ok(())
        })
    }

    /// An admin sets a new initial password (returned once; to be changed at the next
    /// login). The account's sessions end.
    pub fn reset_password(conn: &mut DbConn, actor: &User, id: &str) -> AppResult<(User, String)> {
        let password = Alphanumeric.sample_string(&mut rand::thread_rng(), 20);
        let hash = hash_password(&password)?;
        let own = "Das eigene Passwort ändern Sie unter „Passwort ändern“.";
        let user = admin_change(conn, actor, id, "reset_password", own, |conn, user| {
            diesel::update(users::table.find(&user.id))
                .set((
                    users::password_hash.eq(hash),
                    users::must_change_password.eq(true),
                    users::updated_at.eq(now()),
                    users::lock_version.eq(user.lock_version + 1),
                ))
                .execute(conn)?;
            Ok(())
        })?;
        super::notify::account(conn, &user, false)?;
        Ok((user, password))
    }

    pub fn change_password(
        conn: &mut DbConn,
        id: &str,
        current: &str,
        new: &str,
        repeat: &str,
    ) -> AppResult<()> {
        let user = User::find(conn, id)?;
        let mut problems = Problems::new();
        if !verify_password(&user.password_hash, current) {
            problems.add("current", "Das bisherige Passwort stimmt nicht.");
        }
        account::check_password(&mut problems, "new", new, &user.email);
        if new != repeat {
            problems.add(
                "repeat",
                "Die Wiederholung stimmt nicht mit dem neuen Passwort überein.",
            );
        }
        if new == current {
            problems.add(
                "new",
                "Das neue Passwort muss sich vom bisherigen unterscheiden.",
            );
        }
        problems.into_result()?;
        diesel::update(users::table.find(id))
            .set((
                users::password_hash.eq(hash_password(new)?),
                users::must_change_password.eq(false),
                users::updated_at.eq(now()),
                users::lock_version.eq(user.lock_version + 1),
            ))
            .execute(conn)?;
        super::audit::record(
            conn,
            super::audit::Change {
                actor: &format!("user:{}", user.email),
                action: "change_password",
                entity_type: "user",
                entity_id: id,
                before: None,
                after: None,
                note: None,
            },
        )?;
        Ok(())
    }
}
