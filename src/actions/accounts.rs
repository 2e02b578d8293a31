//! Accounts: creating users (with their welcome mail), signing in (the login throttle,
//! counted under a row lock before the password check), and what admins and users change
//! on an account (lock, the right to sign, own password; invitations: `invitation`).

use crate::db::schema::users;
use crate::db::{Db, DbConn};
use crate::domain::account::{self, Role};
use crate::domain::text::{Checked, Inspect, Kind, TextCheck};
use crate::domain::text::{Email, Secret};
use crate::domain::Problems;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::store::municipality::Municipality;
use crate::store::organisation::Organisation;
use crate::store::user::*;
use crate::store::{new_id, now};
use diesel::prelude::*;
use rand::distributions::{Alphanumeric, DistString};
use serde::{Deserialize, Serialize};
use time::PrimitiveDateTime;

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
        crate::metrics::METRICS.logins_throttled.inc();
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
        _ => {
            crate::metrics::METRICS.logins_failed.inc();
            Ok(LoginOutcome::Refused)
        }
    }
}

impl User {
    /// An admin locks (or unlocks) an account: its sessions and tokens stop working at once,
    /// and locking ends its open invitation links (unlocking does not revive them).
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
            if disabled {
                crate::actions::invitation::end_open(conn, &user.id)?;
            }
            Ok(())
        })
    }

    /// An admin grants or withdraws the right to sign for the user's side (d-NRW for
    /// staff). Not for the own account: someone else decides who signs.
    pub fn set_may_sign(
        conn: &mut DbConn,
        actor: &User,
        id: &str,
        may_sign: bool,
    ) -> AppResult<User> {
        let action = if may_sign {
            "grant_signing"
        } else {
            "revoke_signing"
        };
        let own = "Die eigene Zeichnungsberechtigung erteilt oder entzieht eine andere Administratorin oder ein anderer Administrator.";
        admin_change(conn, actor, id, action, own, |conn, user| {
            diesel::update(users::table.find(&user.id))
                .set((users::may_sign.eq(may_sign), users::updated_at.eq(now())))
                .execute(conn)?;
            Ok(())
        })
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
        crate::store::audit::record(
            conn,
            crate::store::audit::Change {
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
    crate::store::audit::record(
        conn,
        crate::store::audit::Change {
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
    /// No initial password: the user is mailed a one-time link to set their own
    /// (`actions::invitation`); the admin pages always invite.
    #[serde(default)]
    pub invite: bool,
}

/// A created user and, once, its initial password, or the invitation sent instead.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedUser {
    pub user: UserView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation: Option<crate::actions::invitation::Sent>,
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
        if self.invite && self.password.is_some() {
            problems.add(
                "password",
                "Mit einer Einladung legt die Person ihr Passwort selbst fest; geben Sie keines an.",
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
        crate::store::audit::record(
            conn,
            crate::store::audit::Change {
                actor,
                action: "create_user",
                entity_type: "user",
                entity_id: &user.id,
                before: None,
                after: Some(serde_json::to_value(user.view()?)?),
                note: None,
            },
        )?;
        if self.invite {
            let sent = crate::actions::invitation::invite(conn, actor, &user, true)?;
            return Ok(CreatedUser {
                user: user.view()?,
                initial_password: None,
                invitation: Some(sent),
            });
        }
        crate::actions::notify::account_created(conn, &user)?;
        Ok(CreatedUser {
            user: user.view()?,
            initial_password: Some(password),
            invitation: None,
        })
    }
}
