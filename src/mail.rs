//! E-mail: German messages rendered from Tera templates (`templates/email/<kind>/`:
//! `subject.txt`, `body.txt`, `body.html`), written to the outbox (`store::outbox`) in the
//! transaction of the event that causes them, and sent by a worker through the configured
//! transport: SMTP (STARTTLS, TLS or plain on loopback, with credentials), or, as the
//! embedded default, a folder of `.eml` files so `cargo run` works offline.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use lettre::message::{header, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{AppError, AppResult};

/// The kinds of mail the registry sends (each a folder of templates).
pub const KINDS: [&str; 12] = [
    "ea_filed",
    "in_force",
    "signature_waiting",
    "signature_declined",
    "sealed",
    "task_assigned",
    "task_overdue",
    "certificate_expiring",
    "account_created",
    "accessibility_feedback",
    "ekv_requested",
    "account_invitation",
];

/// What a kind of mail is about, in German (the outbox page's column and filter).
pub fn kind_label(kind: &str) -> &'static str {
    match kind {
        "ea_filed" => "Einzelabruf eingegangen",
        "in_force" => "Vereinbarung in Kraft",
        "signature_waiting" => "Unterschrift erbeten",
        "signature_declined" => "Unterschrift abgelehnt",
        "sealed" => "Dokument gesiegelt",
        "task_assigned" => "Aufgabe zugewiesen",
        "task_overdue" => "Aufgabe überfällig",
        "certificate_expiring" => "DVDV-Zertifikat läuft ab",
        "account_created" => "Zugang angelegt",
        "accessibility_feedback" => "Rückmeldung zur Barrierefreiheit",
        "ekv_requested" => "Nachnutzung angefragt (EKV)",
        "account_invitation" => "Einladung",
        _ => "Sonstige",
    }
}

/// What a failed send's error (as the outbox keeps it: the SMTP library's text, or ours)
/// means, in German, for staff who read it on `/post` and the start page.
pub fn error_summary(error: &str) -> &'static str {
    let e = error.to_lowercase();
    if e.starts_with("empfänger") {
        "Die Empfängeradresse ist ungültig."
    } else if e.starts_with("absender") {
        "Die Absenderadresse (mail_from) ist ungültig."
    } else if e.contains("permanent error") || starts_with_code(&e, '5') {
        "Der Mailserver hat die E-Mail abgelehnt."
    } else if e.contains("transient error") || starts_with_code(&e, '4') {
        "Der Mailserver hat die E-Mail vorübergehend abgelehnt."
    } else if e.contains("tls") || e.contains("certificate") || e.contains("handshake") {
        "Die verschlüsselte Verbindung zum Mailserver kam nicht zustande."
    } else if e.contains("connection")
        || e.contains("timed out")
        || e.contains("timeout")
        || e.contains("resolve")
        || e.contains("dns")
    {
        "Der Mailserver ist nicht erreichbar."
    } else {
        "Der Versand ist fehlgeschlagen."
    }
}

/// "550 mailbox unavailable": an SMTP reply code of class `class` first.
fn starts_with_code(e: &str, class: char) -> bool {
    let b = e.as_bytes();
    b.len() >= 4
        && b[0] == class as u8
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && (b[3] == b' ' || b[3] == b'-')
}

macro_rules! email_templates {
    ($($kind:literal),* $(,)?) => {
        [$(
            (concat!($kind, "/subject.txt"), include_str!(concat!("../templates/email/", $kind, "/subject.txt"))),
            (concat!($kind, "/body.txt"), include_str!(concat!("../templates/email/", $kind, "/body.txt"))),
            (concat!($kind, "/body.html"), include_str!(concat!("../templates/email/", $kind, "/body.html"))),
        )*]
    };
}

fn templates() -> &'static tera::Tera {
    static T: OnceLock<tera::Tera> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = tera::Tera::default();
        t.add_raw_template("base.html", include_str!("../templates/email/base.html"))
            .expect("email base template");
        t.add_raw_templates(email_templates![
            "ea_filed",
            "in_force",
            "signature_waiting",
            "signature_declined",
            "sealed",
            "task_assigned",
            "task_overdue",
            "certificate_expiring",
            "account_created",
            "accessibility_feedback",
            "ekv_requested",
            "account_invitation",
        ])
        .expect("email templates");
        t
    })
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders mail `kind` with `context`.
pub fn render(kind: &str, context: &Value) -> AppResult<Rendered> {
    if !KINDS.contains(&kind) {
        return Err(AppError::internal(format!("unknown mail kind {kind}")));
    }
    let ctx = tera::Context::from_value(context.clone())
        .map_err(|e| AppError::internal(format!("mail context: {e}")))?;
    let t = templates();
    let one = |part: &str| {
        t.render(&format!("{kind}/{part}"), &ctx)
            .map_err(|e| AppError::internal(format!("mail template {kind}/{part}: {e:?}")))
    };
    Ok(Rendered {
        // One line, whatever the template's line breaks.
        subject: one("subject.txt")?
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        text: one("body.txt")?,
        html: one("body.html")?,
    })
}

/// How mails leave the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TransportKind {
    /// `.eml` files in `mail_folder` (default: `<data_dir>/mail`).
    #[default]
    Folder,
    Smtp,
}

/// SMTP connection security.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (port 587); refused if the server cannot.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same machine (e.g. 127.0.0.1:25).
    None,
}

/// The mail settings: part of `Config` (flattened, so `NACHNUTZUNG_SMTP_HOST` etc.).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct MailSettings {
    /// `folder` (default: `.eml` files, works offline) or `smtp`.
    pub mail_transport: TransportKind,
    /// Folder for `.eml` files; default `<data_dir>/mail`.
    pub mail_folder: Option<PathBuf>,
    pub smtp_host: String,
    pub smtp_port: u16,
    /// `starttls` (default), `tls` or `none` (only for a relay on the same machine).
    pub smtp_security: SmtpSecurity,
    pub smtp_username: Option<String>,
    /// Better given as `NACHNUTZUNG_SMTP_PASSWORD`.
    pub smtp_password: Option<String>,
    /// Sender, e.g. `Nachnutzungsregister der d-NRW <nachnutzungsregister@d-nrw.de>`.
    pub mail_from: String,
}

impl Default for MailSettings {
    fn default() -> MailSettings {
        MailSettings {
            mail_transport: TransportKind::Folder,
            mail_folder: None,
            smtp_host: "127.0.0.1".into(),
            smtp_port: 587,
            smtp_security: SmtpSecurity::Starttls,
            smtp_username: None,
            smtp_password: None,
            mail_from: "Nachnutzungsregister der d-NRW <nachnutzungsregister@d-nrw.de>".into(),
        }
    }
}

/// A message ready to go: what the outbox holds.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub recipient: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    /// Stable across retries, so a receiver can tell a repeated delivery.
    pub message_id: &'a str,
}

/// How long one SMTP round trip (connect, a command, the message) may take before the
/// send fails and is retried later. Bounds a send well below the outbox lease.
pub const SMTP_TIMEOUT_SECS: u64 = 15;

/// The configured transport.
#[derive(Clone)]
pub struct Mailer {
    transport: Via,
    /// The registry's address: links in queued mails are completed with it when sent.
    base_url: String,
}

#[derive(Clone)]
enum Via {
    Folder(PathBuf),
    Smtp(SmtpTransport),
}

/// Links in queued mails start with this mark (`notify` writes it before `/aufgaben/…`);
/// the mailer that sends them puts its configured `base_url` in its place. So the outbox
/// holds no instance's address, and no process-wide setting is needed to write a mail.
/// The mark is made of noncharacters, which no user text can contain (`domain::text`
/// refuses them), so nothing a user typed is ever taken for a link.
pub const LINK_BASE: &str = "\u{FDD0}link\u{FDD0}";

/// `text` with every link mark replaced by `base_url` (HTML-escaped for the HTML part).
pub fn complete_links(text: &str, base_url: &str, html: bool) -> String {
    let base = base_url.trim_end_matches('/');
    let base = if html {
        base.replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    } else {
        base.to_string()
    };
    text.replace(LINK_BASE, &base)
}

impl Mailer {
    /// The mailer of these settings; links in the mails it sends start with `base_url`.
    pub fn from_settings(
        s: &MailSettings,
        base_url: &str,
        data_dir: &std::path::Path,
    ) -> AppResult<Mailer> {
        match s.mail_transport {
            TransportKind::Folder => Ok(Mailer {
                transport: Via::Folder(
                    s.mail_folder
                        .clone()
                        .unwrap_or_else(|| data_dir.join("mail")),
                ),
                base_url: base_url.to_string(),
            }),
            TransportKind::Smtp => {
                let tls = |host: &str| {
                    TlsParameters::new(host.to_string())
                        .map_err(|e| AppError::internal(format!("SMTP TLS: {e}")))
                };
                let security = match s.smtp_security {
                    SmtpSecurity::Starttls => Tls::Required(tls(&s.smtp_host)?),
                    SmtpSecurity::Tls => Tls::Wrapper(tls(&s.smtp_host)?),
                    SmtpSecurity::None => Tls::None,
                };
                let mut b = SmtpTransport::builder_dangerous(&s.smtp_host)
                    .port(s.smtp_port)
                    .tls(security)
                    .timeout(Some(Duration::from_secs(SMTP_TIMEOUT_SECS)));
                if let (Some(u), Some(p)) = (&s.smtp_username, &s.smtp_password) {
                    b = b.credentials(Credentials::new(u.clone(), p.clone()));
                }
                Ok(Mailer {
                    transport: Via::Smtp(b.build()),
                    base_url: base_url.to_string(),
                })
            }
        }
    }

    /// Sends one message; the error says why not (kept in the outbox for the next try).
    pub fn send(&self, from: &str, m: &Outgoing<'_>) -> Result<(), String> {
        let from: Mailbox = from.parse().map_err(|e| format!("Absender: {e}"))?;
        let to: Mailbox = m
            .recipient
            .parse()
            .map_err(|e| format!("Empfänger {}: {e}", m.recipient))?;
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(m.subject)
            .message_id(Some(m.message_id.to_string()))
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(header::ContentType::TEXT_PLAIN)
                            .body(complete_links(m.text, &self.base_url, false)),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(header::ContentType::TEXT_HTML)
                            .body(complete_links(m.html, &self.base_url, true)),
                    ),
            )
            .map_err(|e| format!("Nachricht: {e}"))?;
        match &self.transport {
            Via::Smtp(t) => t.send(&message).map(|_| ()).map_err(|e| e.to_string()),
            Via::Folder(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                let name: String = m
                    .message_id
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect();
                let path = dir.join(format!("{name}.eml"));
                // Written under a temporary name and renamed, so a reader never sees half.
                let tmp = dir.join(format!(".{name}.tmp"));
                std::fs::write(&tmp, message.formatted())
                    .and_then(|_| std::fs::rename(&tmp, &path))
                    .map_err(|e| format!("{}: {e}", path.display()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_failed_send_is_explained_in_german() {
        for (error, summary) in [
            (
                "Connection error: Connection refused (os error 111)",
                "Der Mailserver ist nicht erreichbar.",
            ),
            (
                "permanent error (550): mailbox unavailable",
                "Der Mailserver hat die E-Mail abgelehnt.",
            ),
            (
                "550 5.1.1 mailbox unavailable",
                "Der Mailserver hat die E-Mail abgelehnt.",
            ),
            (
                "transient error (421): try again later",
                "Der Mailserver hat die E-Mail vorübergehend abgelehnt.",
            ),
            (
                "Empfänger x: invalid email address",
                "Die Empfängeradresse ist ungültig.",
            ),
            (
                "tls handshake failed",
                "Die verschlüsselte Verbindung zum Mailserver kam nicht zustande.",
            ),
            ("something else", "Der Versand ist fehlgeschlagen."),
        ] {
            assert_eq!(error_summary(error), summary, "{error}");
        }
    }

    #[test]
    fn every_kind_of_mail_has_its_own_german_label() {
        let labels: std::collections::HashSet<&str> = KINDS.iter().map(|k| kind_label(k)).collect();
        assert_eq!(labels.len(), KINDS.len());
        assert!(!labels.contains("Sonstige"));
    }

    #[test]
    fn every_kind_renders_in_german_with_its_link_and_escapes_html() {
        let ctx = json!({
            "reference": "EA-2026-00001", "municipality": "Stadt Köln", "service": "Wohngeld <neu>",
            "kind": "Einzelabruf (EA)", "parties": "d-NRW und Stadt Köln", "party": "Stadt Köln",
            "link": "https://register.example/vereinbarungen/1", "overview": "https://register.example/aufgaben",
            "owner": "Stadt Köln", "due": "22.12.2026", "title": "DVDV-Eintrag", "status": "offen",
            "tasks": [{ "title": "VSM", "link": "https://register.example/aufgaben/1" }],
            "expires": "01.01.2027", "subject": "CN=Köln", "fingerprint": "AB:CD",
            "name": "Erika", "email": "erika@stadt-koeln.de", "role": "Kommune",
            "reminder": false, "days": 7, "days_text": "7 Tagen",
            "the_kind": "der Einzelabruf (EA)", "the_kind_acc": "den Einzelabruf (EA)",
            "by": "Erika Köln", "effective_from": "01.12.2026", "side": "Stadt Köln", "reason": "Frist <zu> kurz",
            "message": "Tabelle <neu> nicht bedienbar", "page": "/katalog",
            "partner": "GovConnect GmbH", "requester": "Ina Intermediär", "note": "Ab <März>",
            "created": true,
        });
        for kind in KINDS {
            let r = render(kind, &ctx).unwrap();
            assert!(!r.subject.is_empty() && !r.subject.contains('\n'), "{kind}");
            assert!(
                r.text.contains("Nachnutzungsregister"),
                "{kind}: {}",
                r.text
            );
            assert!(r.html.starts_with("<!DOCTYPE html>") && r.html.contains("lang=\"de\""));
            assert!(!r.html.contains("<neu>"), "{kind}: HTML is escaped");
        }
        assert_eq!(
            render("ea_filed", &ctx).unwrap().subject,
            "Neuer Einzelabruf: Stadt Köln – Wohngeld <neu> (EA-2026-00001)"
        );
        assert!(render("nonsense", &ctx).is_err());
    }

    #[test]
    fn queued_links_are_completed_with_the_senders_address() {
        let ctx = json!({ "reference": "EA-1", "municipality": "Stadt Köln", "service": "Wohngeld",
            "link": format!("{LINK_BASE}/vereinbarungen/1") });
        let r = render("ea_filed", &ctx).unwrap();
        assert!(
            r.text.contains(&format!("{LINK_BASE}/vereinbarungen/1")),
            "{}",
            r.text
        );
        // Text a user typed that looks like a mark stays as it is.
        let typed = crate::domain::text::clean(crate::domain::text::Kind::Note, LINK_BASE);
        assert!(typed.is_err(), "the mark cannot be typed");
        let text = complete_links(&r.text, "https://register.example/", false);
        assert!(
            text.contains("https://register.example/vereinbarungen/1"),
            "{text}"
        );
        let html = complete_links(&r.html, "https://x.example/?a=1&b=\"2\"", true);
        assert!(
            html.contains("href=\"https://x.example/?a=1&amp;b=&quot;2&quot;/vereinbarungen/1\""),
            "{html}"
        );
        assert!(!html.contains(LINK_BASE));
    }
}
