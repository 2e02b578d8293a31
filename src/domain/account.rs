//! Accounts: the four roles and what a password and a login name must be.

use serde::{Deserialize, Serialize};

use super::Problems;

/// Who a user is to the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// d-NRW staff with user management.
    Admin,
    /// d-NRW staff.
    Clerk,
    /// Staff of one NRW municipality or Kreis.
    Municipality,
    /// Staff of another Land's intermediary.
    Intermediary,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Admin,
        Role::Clerk,
        Role::Municipality,
        Role::Intermediary,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Clerk => "clerk",
            Role::Municipality => "municipality",
            Role::Intermediary => "intermediary",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "d-NRW (Administration)",
            Role::Clerk => "d-NRW (Sachbearbeitung)",
            Role::Municipality => "Kommune",
            Role::Intermediary => "Kommunalvertreter eines anderen Landes",
        }
    }

    /// d-NRW staff: everything but user management (clerk) or everything (admin).
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Admin | Role::Clerk)
    }
}

/// Shortest password accepted (OWASP ASVS 2.1.1: at least 12 characters).
pub const MIN_PASSWORD: usize = 12;
/// Longest (argon2 takes any length; this bounds the work per login).
pub const MAX_PASSWORD: usize = 128;

/// A new password: long enough, not too long, not the login name.
pub fn check_password(problems: &mut Problems, field: &str, password: &str, email: &str) {
    let len = password.chars().count();
    if len < MIN_PASSWORD {
        problems.add(
            field,
            format!("Das Passwort braucht mindestens {MIN_PASSWORD} Zeichen."),
        );
    } else if len > MAX_PASSWORD {
        problems.add(
            field,
            format!("Das Passwort darf höchstens {MAX_PASSWORD} Zeichen haben."),
        );
    } else if password.trim().eq_ignore_ascii_case(email.trim()) {
        problems.add(field, "Das Passwort darf nicht die E-Mail-Adresse sein.");
    }
}

/// The login name: an e-mail address, compared in lower case.
pub fn normalise_email(problems: &mut Problems, email: &str) -> String {
    let e = email.trim().to_lowercase();
    let valid = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !e.chars().any(char::is_whitespace);
    if !valid {
        problems.add("email", "Bitte eine gültige E-Mail-Adresse angeben.");
    }
    e
}

/// Failed logins count towards throttling until this long passes without one.
pub const FAILURE_WINDOW_SECS: i64 = 15 * 60;
/// Free attempts per account and per IP within the window.
pub const FREE_FAILURES: i32 = 5;

/// Failures that still count at `now_secs` (a quiet window clears them).
pub fn live_failures(failures: i32, last_failure_secs: i64, now_secs: i64) -> i32 {
    if now_secs - last_failure_secs >= FAILURE_WINDOW_SECS {
        0
    } else {
        failures
    }
}

/// Seconds to wait before the next attempt after `failures` counted ones, the last at
/// `last_failure_secs`: none for the first `FREE_FAILURES`, then 30 s after the last,
/// doubling with each further one, at most 15 minutes.
pub fn login_wait(failures: i32, last_failure_secs: i64, now_secs: i64) -> Option<i64> {
    let failures = live_failures(failures, last_failure_secs, now_secs);
    if failures < FREE_FAILURES {
        return None;
    }
    let delay = (30i64 << (failures - FREE_FAILURES).min(5)).min(15 * 60);
    let wait = last_failure_secs + delay - now_secs;
    (wait > 0).then_some(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_wait_starts_after_five_failures_and_doubles() {
        assert_eq!(login_wait(4, 1000, 1000), None);
        assert_eq!(login_wait(5, 1000, 1000), Some(30));
        assert_eq!(login_wait(5, 1000, 1031), None);
        assert_eq!(login_wait(6, 1000, 1000), Some(60));
        assert_eq!(login_wait(40, 1000, 1000), Some(900));
        // A quiet quarter of an hour clears the count.
        assert_eq!(login_wait(40, 1000, 1000 + 900), None);
        assert_eq!(live_failures(40, 1000, 1000 + 900), 0);
    }

    #[test]
    fn passwords_and_login_names_are_checked() {
        let mut p = Problems::new();
        check_password(&mut p, "password", "kurz", "a@b.de");
        check_password(&mut p, "password", "anna@beispiel.de", "Anna@Beispiel.de");
        check_password(&mut p, "password", "ein langes gutes Passwort", "a@b.de");
        let e = normalise_email(&mut p, " Anna@Beispiel.DE ");
        assert_eq!(e, "anna@beispiel.de");
        normalise_email(&mut p, "keine-adresse");
        let Err(super::super::DomainError::Invalid(fields)) = p.into_result() else {
            panic!("problems expected")
        };
        let names: Vec<&str> = fields.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(names, ["password", "password", "email"]);
        assert_eq!(Role::parse("clerk"), Some(Role::Clerk));
        assert!(Role::Admin.is_staff() && !Role::Municipality.is_staff());
    }
}
