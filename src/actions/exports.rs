//! Exports a clerk needs: the VSM data of a municipality's live services (CSV), and each
//! user's go-live due dates as an iCalendar feed behind a secret URL.

use diesel::prelude::*;
use serde_json::Value;

use crate::db::schema::{agreements, golive_tasks, users};
use crate::db::DbConn;
use crate::domain::golive::TaskKind;
use crate::domain::{AgreementKind, Status};
use crate::error::{AppError, AppResult};
use crate::store::agreement::Agreement;
use crate::store::municipality::Municipality;
use crate::store::task::{self, TaskFilter};
use crate::store::user::{token_hash, User};
use crate::store::{now, Page, Scope};

/// One row of the VSM export: what the Verwaltungssuchmaschine needs per Leika key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VsmRow {
    pub leika: String,
    pub ars: String,
    pub municipality: String,
    pub office: String,
    pub url: String,
    pub service: String,
    pub live_on: time::Date,
}

/// The VSM data of the live services of municipality `id`, if `scope` may see it: from
/// the evidence of each live EA's VSM task (Leika keys, zuständige Stelle, service URL);
/// an EA that went live outside the registry gives the service's Leika keys only.
pub fn vsm_rows(conn: &mut DbConn, scope: &Scope, id: &str) -> AppResult<Vec<VsmRow>> {
    match scope {
        Scope::All => {}
        Scope::Municipality(m) if m == id => {}
        _ => {
            return Err(AppError::not_found(format!(
                "Es gibt keine Kommune mit der Id {id}."
            )))
        }
    }
    let m = Municipality::find(conn, id)?;
    let live: Vec<Agreement> = agreements::table
        .filter(agreements::kind.eq(AgreementKind::Ea.as_str()))
        .filter(agreements::municipality_id.eq(&m.id))
        .filter(agreements::status.eq(Status::InForce.as_str()))
        .filter(agreements::live_on.is_not_null())
        .order(agreements::live_on)
        .select(Agreement::as_select())
        .load(conn)?;
    let mut rows = Vec::new();
    for a in live {
        let service = a.service(conn)?;
        let evidence: Option<String> = golive_tasks::table
            .filter(golive_tasks::agreement_id.eq(&a.id))
            .filter(golive_tasks::kind.eq(TaskKind::Vsm))
            .select(golive_tasks::evidence)
            .first(conn)
            .optional()?;
        let evidence: Value = evidence
            .and_then(|e| serde_json::from_str(&e).ok())
            .unwrap_or(Value::Null);
        let text = |key: &str| evidence[key].as_str().unwrap_or_default().to_string();
        let keys: Vec<String> = match evidence["leika_keys"].as_array() {
            Some(list) => list
                .iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect(),
            None => service.leika_keys()?,
        };
        for leika in keys {
            rows.push(VsmRow {
                leika,
                ars: m.ars.clone(),
                municipality: m.display_name(),
                office: text("zustaendige_stelle"),
                url: text("service_url"),
                service: service.name.clone(),
                live_on: a.live_on.unwrap_or(time::Date::MIN),
            });
        }
    }
    Ok(rows)
}

/// The VSM rows as a `;`-separated CSV with a UTF-8 byte order mark.
pub fn vsm_csv(rows: &[VsmRow]) -> AppResult<Vec<u8>> {
    let mut out = Vec::new();
    out.extend_from_slice("\u{feff}".as_bytes());
    {
        let mut w = csv::WriterBuilder::new()
            .delimiter(b';')
            .from_writer(&mut out);
        let err = |e: csv::Error| AppError::internal(format!("csv: {e}"));
        w.write_record([
            "Leika-Schlüssel",
            "ARS",
            "Kommune",
            "Zuständige Stelle",
            "Adresse des Online-Dienstes",
            "Dienst",
            "Live seit",
        ])
        .map_err(err)?;
        for r in rows {
            w.write_record([
                r.leika.as_str(),
                &r.ars,
                &r.municipality,
                &r.office,
                &r.url,
                &r.service,
                &r.live_on.to_string(),
            ])
            .map_err(err)?;
        }
        w.flush()
            .map_err(|e| AppError::internal(format!("csv: {e}")))?;
    }
    Ok(out)
}

/// Gives user `id` a new calendar feed secret (the old URL stops working) and returns it.
/// Only its SHA-256 is stored.
pub fn renew_calendar_token(conn: &mut DbConn, id: &str) -> AppResult<String> {
    let secret = crate::store::random_hex(32);
    diesel::update(users::table.find(id))
        .set((
            users::calendar_token_hash.eq(token_hash(&secret)),
            users::updated_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(secret)
}

/// Whether user `id` has a calendar feed.
pub fn has_calendar(conn: &mut DbConn, id: &str) -> AppResult<bool> {
    Ok(User::find(conn, id)?.calendar_token_hash.is_some())
}

/// The user behind a calendar secret (active accounts only).
fn calendar_user(conn: &mut DbConn, secret: &str) -> AppResult<User> {
    let missing = || AppError::not_found("Diesen Kalender gibt es nicht (mehr).");
    if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(missing());
    }
    users::table
        .filter(users::calendar_token_hash.eq(token_hash(secret)))
        .filter(users::disabled.eq(false))
        .select(User::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(missing)
}

/// Escapes a text value of iCalendar (RFC 5545, 3.3.11).
fn ical_text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n")
}

/// Folds a content line at 75 octets (RFC 5545, 3.1), on character boundaries.
fn fold(line: &str) -> String {
    let mut out = String::new();
    let mut len = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if len + n > 75 {
            out.push_str("\r\n ");
            len = 1;
        }
        out.push(c);
        len += n;
    }
    out.push_str("\r\n");
    out
}

/// The feed of the user behind `secret`: one all-day event per pending go-live task the
/// user may see, on its due date.
pub fn calendar(conn: &mut DbConn, secret: &str, base_url: &str) -> AppResult<String> {
    let user = calendar_user(conn, secret)?;
    let scope = user.scope()?;
    let tasks = task::list(
        conn,
        &scope,
        &TaskFilter {
            pending: true,
            ..TaskFilter::default()
        },
        Page::new(Some(1), Some(Page::MAX_PER_PAGE))?,
    )?;
    let stamp = now().assume_utc();
    let dtstamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        stamp.year(),
        stamp.month() as u8,
        stamp.day(),
        stamp.hour(),
        stamp.minute(),
        stamp.second()
    );
    let day = |d: time::Date| format!("{:04}{:02}{:02}", d.year(), d.month() as u8, d.day());
    let mut out = String::new();
    for l in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//d-NRW AöR//Nachnutzungsregister//DE",
        "CALSCALE:GREGORIAN",
        "X-WR-CALNAME:Nachnutzungsregister: Fristen",
    ] {
        out.push_str(&fold(l));
    }
    for t in tasks.items {
        let service = t.service.as_ref().map(|s| s.name.as_str()).unwrap_or("");
        let summary = format!(
            "Frist: {} – {}{}",
            t.title,
            service,
            t.municipality
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        );
        let link = format!("{}/aufgaben/{}", base_url.trim_end_matches('/'), t.id);
        let description = format!(
            "{} {}: {}, zuständig {}. {link}",
            t.agreement_reference, t.title, t.status_label, t.owner.name
        );
        for l in [
            "BEGIN:VEVENT".to_string(),
            format!("UID:{}@nachnutzungsregister.d-nrw.de", t.id),
            format!("DTSTAMP:{dtstamp}"),
            format!("DTSTART;VALUE=DATE:{}", day(t.due_on)),
            format!(
                "DTEND;VALUE=DATE:{}",
                day(t.due_on.next_day().unwrap_or(t.due_on))
            ),
            format!("SUMMARY:{}", ical_text(&summary)),
            format!("DESCRIPTION:{}", ical_text(&description)),
            format!("URL:{link}"),
            "END:VEVENT".to_string(),
        ] {
            out.push_str(&fold(&l));
        }
    }
    out.push_str(&fold("END:VCALENDAR"));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_folded_at_75_octets_and_text_escaped() {
        let long = format!("SUMMARY:{}", "Ä".repeat(60));
        let folded = fold(&long);
        assert!(folded.split("\r\n").all(|l| l.len() <= 75));
        assert_eq!(folded.replace("\r\n ", "").trim_end(), long);
        assert_eq!(ical_text("a;b,c\nd\\"), "a\\;b\\,c\\nd\\\\");
    }
}
