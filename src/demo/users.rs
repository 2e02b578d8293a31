//! The demo logins: d-NRW admin and clerk, users of Köln, Dortmund and GovConnect,
//! sharing one generated password.

use diesel::prelude::*;

use super::*;
use crate::db::DbConn;
use crate::domain::account::Role;
use crate::error::{AppError, AppResult};
use crate::store::municipality::Municipality;
use crate::store::{new_id, now};

/// The demo accounts: one per kind of user, to try the web application. All share one
/// password, generated per data folder (see `app::demo_password`).
pub const DEMO_USERS: [(&str, &str, Role, Option<&str>); 5] = [
    (
        "admin@demo.nachnutzung.de",
        "Demo-Administratorin d-NRW",
        Role::Admin,
        None,
    ),
    (
        "sachbearbeitung@demo.nachnutzung.de",
        "Demo-Sachbearbeiter d-NRW",
        Role::Clerk,
        None,
    ),
    // Köln has no agreement yet: its user requests the RV and files Einzelabrufe.
    (
        "koeln@demo.nachnutzung.de",
        "Demo-Nutzerin Stadt Köln",
        Role::Municipality,
        Some("05315000"),
    ),
    // Dortmund's RV and Wohngeld EA are in force.
    (
        "dortmund@demo.nachnutzung.de",
        "Demo-Nutzer Stadt Dortmund",
        Role::Municipality,
        Some("05913000"),
    ),
    // GovConnect (Niedersachsen) holds an IÖV and an EKV with d-NRW.
    (
        "govconnect@demo.nachnutzung.de",
        "Demo-Nutzer GovConnect",
        Role::Intermediary,
        None,
    ),
];

/// Creates the missing demo accounts with `password` (municipality users may sign for
/// their municipality). They need no password change: they are for trying things out.
pub fn demo_users(conn: &mut DbConn, password: &str) -> AppResult<()> {
    use crate::db::schema::users;
    use crate::store::user::{hash_password, User};
    let mut hash = None;
    for (email, name, role, ags) in DEMO_USERS {
        if User::find_by_email(conn, email)?.is_some() {
            continue;
        }
        let municipality_id = match ags {
            Some(ags) => Some(
                Municipality::find_by_ags(conn, ags)?
                    .ok_or_else(|| AppError::internal(format!("seed: AGS {ags} missing")))?
                    .id,
            ),
            None => None,
        };
        let organisation_id = match role {
            Role::Intermediary => Some(org(conn, "GovConnect GmbH")?.id),
            _ => None,
        };
        let hash = match &hash {
            Some(h) => String::clone(h),
            None => hash.insert(hash_password(password)?).clone(),
        };
        let at = now();
        diesel::insert_into(users::table)
            .values(&User {
                id: new_id(),
                email: email.into(),
                name: name.into(),
                role,
                // The clerk signs for d-NRW in the demo; the admin manages accounts only.
                may_sign: role != Role::Admin,
                municipality_id,
                organisation_id,
                password_hash: hash,
                must_change_password: false,
                disabled: false,
                lock_version: 1,
                created_at: at,
                updated_at: at,
                calendar_token_hash: None,
            })
            .execute(conn)?;
    }
    Ok(())
}
