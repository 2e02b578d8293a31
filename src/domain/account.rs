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

#[cfg(test)]
mod tests {
    use super::*;

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
