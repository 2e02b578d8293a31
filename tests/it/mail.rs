//! Mail through a real SMTP server on loopback (aiosmtpd, tests/smtp/server.py): each
//! kind of mail reaches its recipients with its subject and body; with the server down
//! mails wait in the outbox and go out once, later; two workers on one database deliver
//! each mail once; the reminder job sends nothing new the second time.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::common::*;
use nachnutzung::actions::outbox;
use nachnutzung::actions::reminders::{self, ReminderSettings};
use nachnutzung::db::{Db, DbUrl};
use nachnutzung::mail::{MailSettings, Mailer, SmtpSecurity, TransportKind};
use nachnutzung::store::outbox::{counts as outbox_counts, enqueue};
use rocket::http::{ContentType, Header, Status};
use serde_json::{json, Value};

/// aiosmtpd on a free loopback port, writing what it receives into a folder.
pub(crate) struct SmtpServer {
    child: Option<Child>,
    pub(crate) port: u16,
    folder: PathBuf,
    /// Seconds the server waits before accepting each message (a slow relay).
    delay: f64,
}

impl SmtpServer {
    pub(crate) fn new() -> SmtpServer {
        let folder = std::env::temp_dir().join(format!("nnr-smtp-{}", uuid::Uuid::new_v4()));
        SmtpServer {
            child: None,
            port: free_port(),
            folder,
            delay: 0.0,
        }
    }

    /// A slow relay: `delay` seconds per message.
    pub(crate) fn slow(delay: f64) -> SmtpServer {
        let mut server = SmtpServer::new();
        server.delay = delay;
        server
    }

    pub(crate) fn start(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(self.port.to_string())
            .arg(&self.folder)
            .arg(self.delay.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with aiosmtpd (pip install aiosmtpd)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            "ready",
            "aiosmtpd did not start (pip install aiosmtpd)"
        );
        self.child = Some(child);
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            drop(c.stdin.take());
            let _ = c.wait();
        }
    }

    fn mailer(&self) -> Mailer {
        let settings = MailSettings {
            mail_transport: TransportKind::Smtp,
            smtp_host: "127.0.0.1".into(),
            smtp_port: self.port,
            smtp_security: SmtpSecurity::None,
            ..MailSettings::default()
        };
        Mailer::from_settings(&settings, "http://127.0.0.1:8000", &self.folder).unwrap()
    }

    /// How many messages a slow server has begun to receive (their data arrived).
    pub(crate) fn receiving(&self) -> usize {
        std::fs::read_dir(&self.folder)
            .map(|dir| {
                dir.filter(|e| {
                    e.as_ref()
                        .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "receiving"))
                })
                .count()
            })
            .unwrap_or(0)
    }

    /// Everything received so far, in the order it arrived.
    pub(crate) fn received(&self) -> Vec<Value> {
        let Ok(dir) = std::fs::read_dir(&self.folder) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = dir
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

const FROM: &str = "Nachnutzungsregister der d-NRW <nachnutzungsregister@d-nrw.de>";

fn db(app: &TestApp) -> Db {
    Db::open(&DbUrl::parse(&app.database_url).unwrap(), 2).unwrap()
}

fn deliver(app: &TestApp, server: &SmtpServer) -> outbox::Delivery {
    outbox::deliver_due(
        &db(app),
        &server.mailer(),
        FROM,
        "test-worker",
        outbox::LEASE_SECS,
    )
    .unwrap()
}

fn waiting(app: &TestApp) -> (i64, i64) {
    db(app).read_blocking(outbox_counts).unwrap()
}

/// The mails received, by kind of subject: (recipients, subject, text, html).
fn by_recipient(mails: &[Value]) -> BTreeMap<String, Vec<Value>> {
    let mut map: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for m in mails {
        for to in m["to"].as_array().unwrap() {
            map.entry(to.as_str().unwrap().to_string())
                .or_default()
                .push(m.clone());
        }
    }
    map
}

fn subjects(map: &BTreeMap<String, Vec<Value>>, who: &str) -> Vec<String> {
    map.get(who)
        .map(|v| {
            v.iter()
                .map(|m| m["subject"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn upload_certificate(app: &TestApp, ea: &str, pem: &str) {
    let res = app
        .client
        .post(format!("/api/v1/agreements/{ea}/certificate"))
        .header(Header::new("Authorization", format!("Bearer {TOKEN}")))
        .header(ContentType::new("application", "x-pem-file"))
        .body(pem)
        .dispatch();
    assert_eq!(res.status(), Status::Created);
}

#[test]
fn each_kind_of_mail_reaches_its_recipients_with_subject_link_and_no_document() {
    let app = TestApp::new();
    let mut server = SmtpServer::new();
    server.start();
    let (dortmund, wohngeld) = dortmund_ready_for_wohngeld(&app);
    app.user(json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk", "may_sign": true }));
    app.user(json!({ "email": "anna@stadtdo.de", "name": "Anna Dortmund", "role": "municipality", "municipality_id": dortmund, "may_sign": true }));
    app.user(json!({ "email": "bernd@essen.de", "name": "Bernd Essen", "role": "municipality", "municipality_ags": "05113000", "may_sign": true }));
    let anna = app.token_for("anna@stadtdo.de");
    let clerk = app.token_for("clerk@d-nrw.de");

    // Dortmund files its Einzelabruf: staff are told; Dortmund's signatory is asked.
    let (status, ea) = app.send_as(
        &anna,
        "POST",
        "/api/v1/agreements",
        Some(json!({ "kind": "ea", "service_id": wohngeld, "parameters": wohngeld_parameters() })),
    );
    assert_eq!(status, Status::Created, "{ea}");
    let ea = ea["id"].as_str().unwrap().to_string();
    upload_certificate(
        &app,
        &ea,
        &certificate("Stadt Dortmund", -1, 30, &["keyEncipherment"]),
    );
    let (status, v) = app.send_as(
        &anna,
        "POST",
        &format!("/api/v1/agreements/{ea}/signatures"),
        Some(json!({})),
    );
    assert_eq!(status, Status::Created, "{v}");
    let (status, v) = app.send_as(
        &clerk,
        "POST",
        &format!("/api/v1/agreements/{ea}/signatures"),
        Some(json!({})),
    );
    assert_eq!(status, Status::Created, "{v}");
    assert_eq!(v["document"]["version_no"], 1, "sealed: {v}");
    // In force with the last signature, as its text says.
    assert_eq!(
        app.get(&format!("/api/v1/agreements/{ea}")).1["status"],
        "in_force"
    );
    // An admin invites Bernd again (a new one-time link to set his password).
    let bernd = app.ok("GET", "/api/v1/users", None);
    let bernd_id = bernd
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "bernd@essen.de")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    db(&app)
        .write_blocking(|conn| {
            let admin =
                nachnutzung::domain::text::Checked::new(nachnutzung::actions::accounts::NewUser {
                    email: "ada@d-nrw.de".into(),
                    name: "Ada Admin".into(),
                    role: "admin".into(),
                    ..Default::default()
                })?
                .create(conn, "test")?;
            let bernd = nachnutzung::store::user::User::find(conn, &bernd_id)?;
            nachnutzung::actions::invitation::invite(
                conn,
                &format!("user:{}", admin.user.email),
                &bernd,
                false,
            )
        })
        .unwrap();

    let (queued, sent) = waiting(&app);
    assert_eq!(sent, 0);
    assert!(queued > 0);
    let d = deliver(&app, &server);
    assert_eq!((d.sent as i64, d.failed), (queued, 0));
    assert_eq!(waiting(&app), (0, queued));
    let mails = server.received();
    assert_eq!(
        mails.len() as i64,
        queued,
        "one SMTP message per outbox row"
    );
    let to = by_recipient(&mails);

    // Accounts: told, never the password.
    for who in ["anna@stadtdo.de", "bernd@essen.de", "clerk@d-nrw.de"] {
        assert!(
            subjects(&to, who).contains(&"Ihr Zugang zum Nachnutzungsregister".to_string()),
            "{who}: {:?}",
            subjects(&to, who)
        );
    }
    let invitation = &to["bernd@essen.de"]
        .iter()
        .find(|m| m["subject"].as_str().unwrap().contains("Neue Einladung"))
        .expect("invitation mail");
    let text = invitation["text"].as_str().unwrap();
    let link = text
        .split("http://127.0.0.1:8000/einladung/")
        .nth(1)
        .map(|rest| &rest[..64])
        .unwrap_or_else(|| panic!("{text}"));
    assert!(link.bytes().all(|b| b.is_ascii_hexdigit()), "{text}");
    // Sent, the outbox keeps no copy of the one-time link.
    let kept: Vec<String> = db(&app)
        .read_blocking(|c| {
            use diesel::prelude::*;
            use nachnutzung::db::schema::outbox;
            Ok(outbox::table
                .filter(outbox::kind.eq("account_invitation"))
                .select(outbox::body_text)
                .load::<String>(c)?)
        })
        .unwrap();
    assert_eq!(kept.len(), 1);
    assert!(!kept[0].contains(link), "{}", kept[0]);
    for m in &mails {
        let body = format!("{}{}", m["text"], m["html"]);
        assert!(
            !body.contains("initial_password") && !body.contains("%PDF"),
            "{body}"
        );
        assert_eq!(m["from"], "nachnutzungsregister@d-nrw.de");
        assert!(m["message_id"]
            .as_str()
            .unwrap()
            .contains("@nachnutzungsregister.d-nrw.de"));
    }
    // The EA filed: staff (not the municipalities).
    let filed = "Neuer Einzelabruf: Stadt Dortmund – Wohngeld (Online-Dienst Wohngeld)";
    assert!(subjects(&to, "clerk@d-nrw.de")
        .iter()
        .any(|s| s.starts_with(filed)));
    assert!(!subjects(&to, "anna@stadtdo.de")
        .iter()
        .any(|s| s.starts_with("Neuer")));
    // Waiting for a signature: first Dortmund, then d-NRW.
    let wait = |who: &str| {
        subjects(&to, who)
            .iter()
            .filter(|s| s.ends_with("wartet auf Ihre Unterschrift"))
            .count()
    };
    assert_eq!((wait("anna@stadtdo.de"), wait("clerk@d-nrw.de")), (1, 1));
    // In force (with the last signature, sealed): both sides, with the link to the
    // agreement, no attachment; one mail, not a second one for the seal.
    for who in ["anna@stadtdo.de", "clerk@d-nrw.de"] {
        assert!(
            !subjects(&to, who)
                .iter()
                .any(|s| s.ends_with("ist unterzeichnet und gesiegelt")),
            "{who}: {:?}",
            subjects(&to, who)
        );
        let m = to[who]
            .iter()
            .find(|m| m["subject"].as_str().unwrap().ends_with("ist in Kraft"))
            .unwrap_or_else(|| panic!("{who} in force"));
        assert!(
            m["text"]
                .as_str()
                .unwrap()
                .contains("Alle Seiten haben unterzeichnet, und d-NRW hat das Dokument gesiegelt."),
            "{m}"
        );
        assert!(m["text"]
            .as_str()
            .unwrap()
            .contains(&format!("http://127.0.0.1:8000/vereinbarungen/{ea}")));
        assert!(m["html"].as_str().unwrap().contains(&format!(
            "href=\"http://127.0.0.1:8000/vereinbarungen/{ea}\""
        )));
    }
    // Essen's user hears nothing of Dortmund's contract.
    assert!(
        subjects(&to, "bernd@essen.de")
            .iter()
            .all(|s| !s.contains("Dortmund") && !s.contains("EA-")),
        "{:?}",
        subjects(&to, "bernd@essen.de")
    );
    // Tasks: Dortmund's four to its users and to the contact named in the EA; d-NRW's
    // one to its staff.
    let tasks = to["anna@stadtdo.de"]
        .iter()
        .find(|m| m["subject"].as_str().unwrap().starts_with("Inbetriebnahme"))
        .expect("tasks mail");
    assert!(
        tasks["subject"]
            .as_str()
            .unwrap()
            .starts_with("Inbetriebnahme Wohngeld (Online-Dienst Wohngeld): 4 Aufgaben bis "),
        "{}",
        tasks["subject"]
    );
    assert!(tasks["text"]
        .as_str()
        .unwrap()
        .contains("DVDV-Eintrag mit Verschlüsselungszertifikat"));
    assert!(tasks["text"]
        .as_str()
        .unwrap()
        .contains("http://127.0.0.1:8000/aufgaben/"));
    assert!(subjects(&to, "clerk@d-nrw.de")
        .iter()
        .any(|s| s.contains(": 1 Aufgabe bis")));

    // Reminders, as of 30 days later: the overdue tasks, the certificate (ends in 30
    // days, within 60), a signature waiting (Essen's RV, submitted, not signed).
    app.send_as(
        &app.token_for("bernd@essen.de"),
        "POST",
        "/api/v1/agreements",
        Some(json!({ "kind": "rv" })),
    );
    let settings = ReminderSettings {
        signature_days: 0,
        certificate_days: 60,
        order: Default::default(),
    };
    let later = nachnutzung::store::today() + time::Duration::days(30);
    let first = db(&app)
        .write_blocking(|c| reminders::run(c, settings, later))
        .unwrap();
    assert_eq!(
        (first.overdue_tasks, first.certificates, first.signatures),
        (5, 1, 1),
        "{first:?}"
    );
    let second = db(&app)
        .write_blocking(|c| reminders::run(c, settings, later))
        .unwrap();
    assert_eq!(second.total(), 0, "nothing new the second time");
    let before = server.received().len();
    deliver(&app, &server);
    let mails = server.received();
    let new = by_recipient(&mails[before..]);
    assert!(
        subjects(&new, "anna@stadtdo.de")
            .iter()
            .any(|s| s.starts_with("Überfällig seit ") && s.contains("DVDV-Eintrag")),
        "{:?}",
        subjects(&new, "anna@stadtdo.de")
    );
    assert!(subjects(&new, "anna@stadtdo.de")
        .iter()
        .any(|s| s.starts_with("DVDV-Zertifikat läuft am ")));
    assert!(
        subjects(&new, "bernd@essen.de")
            .iter()
            .any(|s| s.starts_with("Erinnerung: Rahmenvereinbarung")),
        "{:?}",
        subjects(&new, "bernd@essen.de")
    );
    assert!(subjects(&new, "clerk@d-nrw.de")
        .iter()
        .any(|s| s.contains("Konfiguration an den Anbieter")));
    // Again, nothing.
    db(&app)
        .write_blocking(|c| reminders::run(c, settings, later))
        .unwrap();
    deliver(&app, &server);
    assert_eq!(server.received().len(), mails.len());
}

#[test]
fn with_the_smtp_server_down_mails_wait_and_go_out_once_it_is_back() {
    let app = TestApp::new();
    let mut server = SmtpServer::new();
    for i in 0..3 {
        app.user(json!({ "email": format!("user{i}@d-nrw.de"), "name": format!("User {i}"), "role": "clerk" }));
    }
    let d = deliver(&app, &server);
    assert_eq!((d.sent, d.failed), (0, 3), "nobody listens");
    assert_eq!(waiting(&app), (3, 0), "delayed, not lost");
    let rows = db(&app)
        .read_blocking(|c| {
            use diesel::prelude::*;
            use nachnutzung::db::schema::outbox;
            Ok(outbox::table
                .select((
                    outbox::attempts,
                    outbox::next_attempt_at,
                    outbox::last_error,
                    outbox::locked_until,
                ))
                .load::<(
                    i32,
                    time::PrimitiveDateTime,
                    Option<String>,
                    Option<time::PrimitiveDateTime>,
                )>(c)?)
        })
        .unwrap();
    let now = time::OffsetDateTime::now_utc();
    for (attempts, next, error, lock) in &rows {
        assert_eq!(*attempts, 1);
        assert!(
            next.assume_utc() > now + time::Duration::seconds(20),
            "backoff: {next}"
        );
        assert!(error.is_some() && lock.is_none());
    }
    // Not due yet: the next round leaves them alone.
    server.start();
    assert_eq!(deliver(&app, &server), outbox::Delivery::default());
    // Time passes (the backoff ends).
    db(&app)
        .write_blocking(|c| {
            use diesel::prelude::*;
            use nachnutzung::db::schema::outbox;
            diesel::update(outbox::table)
                .set(
                    outbox::next_attempt_at
                        .eq(time::PrimitiveDateTime::new(now.date(), now.time())
                            - time::Duration::seconds(1)),
                )
                .execute(c)?;
            Ok(())
        })
        .unwrap();
    let d = deliver(&app, &server);
    assert_eq!((d.sent, d.failed), (3, 0));
    assert_eq!(
        deliver(&app, &server),
        outbox::Delivery::default(),
        "none twice"
    );
    let mails = server.received();
    assert_eq!(mails.len(), 3);
    let mut to: Vec<&str> = mails.iter().map(|m| m["to"][0].as_str().unwrap()).collect();
    to.sort();
    assert_eq!(to, ["user0@d-nrw.de", "user1@d-nrw.de", "user2@d-nrw.de"]);
}

/// Queues `n` account mails, to `<prefix><i>@example.org`.
fn queue_accounts(app: &TestApp, prefix: &str, n: usize) {
    db(app)
        .write_blocking(|c| {
            for i in 0..n {
                let email = format!("{prefix}{i}@example.org");
                enqueue(
                    c,
                    "account_created",
                    std::slice::from_ref(&email),
                    &json!({ "name": format!("Person {i}"), "email": email, "role": "Kommune", "link": "http://127.0.0.1:8000/anmelden" }),
                )?;
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn two_workers_on_one_database_deliver_each_mail_once() {
    let app = TestApp::new();
    let mut server = SmtpServer::new();
    server.start();
    let n = 120;
    queue_accounts(&app, "person", n);
    let workers: Vec<_> = ["worker-a", "worker-b"]
        .into_iter()
        .map(|name| {
            // Each worker with its own connection pool, as two instances would have.
            let db = db(&app);
            let mailer = server.mailer();
            std::thread::spawn(move || {
                outbox::deliver_due(&db, &mailer, FROM, name, outbox::LEASE_SECS).unwrap()
            })
        })
        .collect();
    let results: Vec<outbox::Delivery> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    assert_eq!(results.iter().map(|d| d.sent).sum::<usize>(), n);
    assert_eq!(waiting(&app), (0, n as i64));
    let mails = server.received();
    let mut ids: Vec<&str> = mails
        .iter()
        .map(|m| m["message_id"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!((mails.len(), ids.len()), (n, n), "each mail exactly once");
    if app.is_postgres() {
        // Both took part (SKIP LOCKED lets them work side by side).
        assert!(results.iter().all(|d| d.sent > 0), "{results:?}");
    }
}

/// The defect of a batch outlasting its lease: with a relay taking 1 s per mail and a
/// lease of 3 s, a worker that claimed a batch of mails would lose the tail of it to the
/// other worker, which sends it again. Claimed one at a time, each mail arrives once.
#[test]
fn two_workers_with_a_slow_relay_and_a_short_lease_deliver_each_mail_once() {
    let app = TestApp::new();
    let mut server = SmtpServer::slow(1.0);
    server.start();
    let n = 8;
    queue_accounts(&app, "slow", n);
    let workers: Vec<_> = ["worker-a", "worker-b"]
        .into_iter()
        .map(|name| {
            let db = db(&app);
            let mailer = server.mailer();
            // Each polls like an instance's worker does, until the outbox is empty.
            std::thread::spawn(move || {
                let mut sent = 0;
                loop {
                    sent += outbox::deliver_due(&db, &mailer, FROM, name, 3)
                        .unwrap()
                        .sent;
                    let waiting = db.read_blocking(outbox_counts).unwrap().0;
                    if waiting == 0 {
                        return sent;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
            })
        })
        .collect();
    let sent: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let mails = server.received();
    let mut ids: Vec<&str> = mails
        .iter()
        .map(|m| m["message_id"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!((mails.len(), ids.len()), (n, n), "each mail exactly once");
    assert_eq!((sent, waiting(&app)), (n, (0, n as i64)));
}

#[test]
fn the_folder_transport_writes_eml_files_for_offline_use() {
    let folder = std::env::temp_dir().join(format!("nnr-eml-{}", uuid::Uuid::new_v4()));
    let mailer = Mailer::from_settings(
        &MailSettings {
            mail_folder: Some(folder.clone()),
            ..MailSettings::default()
        },
        "http://127.0.0.1:8000",
        &folder,
    )
    .unwrap();
    mailer
        .send(
            FROM,
            &nachnutzung::mail::Outgoing {
                recipient: "erika@stadt-koeln.de",
                subject: "Ihr Zugang zum Nachnutzungsregister",
                text: "Guten Tag",
                html: "<p>Guten Tag</p>",
                message_id: "<abc-123@nachnutzungsregister.d-nrw.de>",
            },
        )
        .unwrap();
    let eml =
        std::fs::read_to_string(folder.join("abc-123nachnutzungsregisterd-nrwde.eml")).unwrap();
    assert!(eml.contains("To: erika@stadt-koeln.de"), "{eml}");
    assert!(eml.contains("multipart/alternative"));
    std::fs::remove_dir_all(folder).unwrap();
}

#[test]
fn a_reminder_with_nobody_to_tell_waits_until_somebody_is_there() {
    let app = TestApp::new();
    // Essen's RV waits for Essen's signature; Essen has no user yet.
    let essen = app.municipality("05113000");
    let rv = app.create(json!({ "kind": "rv", "municipality_id": essen }));
    assert_eq!(app.step(rv["id"].as_str().unwrap(), "submit").0, Status::Ok);
    let settings = ReminderSettings {
        signature_days: 0,
        certificate_days: 60,
        order: Default::default(),
    };
    let day = nachnutzung::store::today();
    let run = || {
        db(&app)
            .write_blocking(|c| reminders::run(c, settings, day))
            .unwrap()
    };
    assert_eq!(run().signatures, 0, "nobody to remind");
    app.user(json!({ "email": "ob@essen.de", "name": "OB", "role": "municipality", "municipality_id": essen, "may_sign": true }));
    assert_eq!(run().signatures, 1, "now there is somebody");
    assert_eq!(run().signatures, 0, "and only once");
}

/// The outbox page's rows, as (recipient, subject) of each table row.
fn outbox_rows(page: &str) -> Vec<String> {
    page.split("<tr><td class=\"kern-table__cell\" data-label=\"Betreff und Art\">")
        .skip(1)
        .map(|row| row.split("</tr>").next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn staff_see_failed_mail_in_the_outbox_and_send_it_again() {
    let app = TestApp::new();
    let clerk =
        app.signed_in(json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }));
    let mut server = SmtpServer::new();
    // Everything queued so far (the clerk's own account mail) goes out.
    server.start();
    deliver(&app, &server);
    server.stop();
    for i in 0..3 {
        app.user(json!({ "email": format!("user{i}@d-nrw.de"), "name": format!("User {i}"), "role": "clerk" }));
    }
    // Nobody listens: the three fail.
    let d = deliver(&app, &server);
    assert_eq!((d.sent, d.failed), (0, 3));

    // The failed tab is where /post opens; each row says why and offers a retry.
    let page = app.web_get(Some(&clerk), "/post");
    assert_eq!(page.status, Status::Ok);
    let html = page.body.clone();
    assert!(html.contains("Fehlgeschlagen (3)"), "{html}");
    assert!(
        html.contains("Versandt (1)") && html.contains("Wartend (0)"),
        "{html}"
    );
    let rows = outbox_rows(&html);
    assert_eq!(rows.len(), 3, "{html}");
    for row in &rows {
        assert!(row.contains("Erneut senden"), "{row}");
        assert!(
            row.contains("Der Mailserver ist nicht erreichbar."),
            "{row}"
        );
        assert!(
            row.contains("Connection refused") || row.contains("onnect"),
            "{row}"
        );
        assert!(row.contains("data-label=\"Versuche\">1<"), "{row}");
    }
    // No internal kind names on the page: the kind is German.
    assert!(!page.text().contains("account_"), "{}", page.text());

    // Filters: by recipient, by kind; a value that is none is a German 422.
    let one = app.web_get(Some(&clerk), "/post?zustand=fehlgeschlagen&an=USER1");
    assert_eq!(outbox_rows(&one.body).len(), 1, "{}", one.body);
    assert!(one.text().contains("user1@d-nrw.de"));
    let kind = app.web_get(Some(&clerk), "/post?zustand=fehlgeschlagen&art=sealed");
    assert!(kind
        .text()
        .contains("Keine E-Mail ist fehlgeschlagen. (in dieser Auswahl)"));
    let bad = app.web_get(Some(&clerk), "/post?zustand=verloren");
    assert_eq!(bad.status, Status::UnprocessableEntity);
    assert!(
        bad.text().contains("„verloren“ ist kein Zustand"),
        "{}",
        bad.text()
    );
    let bad = app.web_get(Some(&clerk), "/post?art=spam");
    assert_eq!(bad.status, Status::UnprocessableEntity);
    assert!(bad.text().contains("„spam“ ist keine Art von E-Mail"));

    // The start page counts what waits and what failed, and links here.
    let start = app.web_get(Some(&clerk), "/").body;
    assert!(
        start.contains("0 E-Mails warten auf den Versand</a>")
            && start.contains("3 E-Mails sind fehlgeschlagen</a>"),
        "{start}"
    );
    assert!(
        start.contains("an user0@d-nrw.de: 1 Versuch. Der Mailserver ist nicht erreichbar."),
        "{start}"
    );
    assert!(
        start.contains("href=\"/post?zustand=fehlgeschlagen\""),
        "{start}"
    );

    // "Erneut senden" for user1's mail: due now, audited; the next round sends only it
    // (the other two wait for their back-off).
    let id = db(&app)
        .read_blocking(|c| {
            use diesel::prelude::*;
            use nachnutzung::db::schema::outbox;
            Ok(outbox::table
                .filter(outbox::recipient.eq("user1@d-nrw.de"))
                .select(outbox::id)
                .first::<String>(c)?)
        })
        .unwrap();
    let without_token = app.web_post_raw(Some(&clerk), &format!("/post/{id}/erneut"), "");
    assert_eq!(without_token.status, Status::Forbidden);
    let done = app.web_post(Some(&clerk), &format!("/post/{id}/erneut"), &[]);
    assert_eq!(done.status, Status::Ok, "{}", done.text());
    assert!(done
        .text()
        .contains("an user1@d-nrw.de wird beim nächsten Durchgang"));
    let audit = db(&app)
        .read_blocking(|c| {
            use diesel::prelude::*;
            use nachnutzung::db::schema::audit_events;
            Ok(audit_events::table
                .filter(audit_events::action.eq("mail_retry"))
                .select((audit_events::actor, audit_events::entity_id))
                .load::<(String, String)>(c)?)
        })
        .unwrap();
    assert_eq!(audit, [("user:clerk@d-nrw.de".to_string(), id.clone())]);
    server.start();
    let d = deliver(&app, &server);
    assert_eq!((d.sent, d.failed), (1, 0));
    let received = server.received();
    assert_eq!(received.len(), 2, "the clerk's own mail and user1's");
    assert_eq!(received[1]["to"][0], "user1@d-nrw.de");

    // It is listed as sent now, at its second try; sending it again is refused.
    let sent = app
        .web_get(Some(&clerk), "/post?zustand=versandt&an=user1")
        .text();
    assert!(sent.contains("beim 2. Versuch"), "{sent}");
    let again = app.web_post(Some(&clerk), &format!("/post/{id}/erneut"), &[]);
    assert_eq!(again.status, Status::Conflict);
    assert!(again.text().contains("bereits versandt"));
    assert!(app
        .web_get(Some(&clerk), "/post")
        .text()
        .contains("Fehlgeschlagen (2)"));
    // An id that is none, a mail that does not exist: 404.
    let missing = app.web_post(
        Some(&clerk),
        &format!("/post/{}/erneut", uuid::Uuid::new_v4()),
        &[],
    );
    assert_eq!(missing.status, Status::NotFound);

    // Only d-NRW's staff see the outbox.
    let koeln = app.municipality("05315000");
    let erika = app.signed_in(json!({ "email": "erika@stadt-koeln.de", "name": "Erika Köln", "role": "municipality", "municipality_id": koeln }));
    assert_eq!(app.web_get(Some(&erika), "/post").status, Status::Forbidden);
    assert_eq!(
        app.web_post(Some(&erika), &format!("/post/{id}/erneut"), &[])
            .status,
        Status::Forbidden
    );
}

/// The outbox counts its sent mail only up to a cap (a national installation sends
/// millions): beyond it, "more than the cap", and the list's pages end there.
#[test]
fn the_outbox_counts_sent_mail_up_to_a_cap() {
    use nachnutzung::store::outbox::{list_capped, state_counts_capped, MailFilter, MailState};
    let app = TestApp::new();
    queue_accounts(&app, "gesendet", 4);
    db(&app)
        .write_blocking(|c| {
            use diesel::connection::SimpleConnection;
            c.batch_execute("UPDATE outbox SET sent_at = created_at")?;
            Ok(())
        })
        .unwrap();
    let sent = db(&app)
        .read_blocking(|c| Ok(state_counts_capped(c, 100)?[2]))
        .unwrap();
    assert!(sent >= 4, "{sent}");
    let capped = db(&app)
        .read_blocking(|c| Ok(state_counts_capped(c, 2)?[2]))
        .unwrap();
    assert_eq!(capped, 3, "more than two");
    let page = nachnutzung::store::Page::new(Some(1), Some(50)).unwrap();
    let sent_list = |cap: i64| {
        db(&app)
            .read_blocking(|c| {
                list_capped(
                    c,
                    &MailFilter {
                        state: MailState::Sent,
                        kind: None,
                        recipient: "gesendet".into(),
                    },
                    page,
                    cap,
                )
            })
            .unwrap()
    };
    let listed = sent_list(2);
    assert_eq!(listed.total, 3, "counted up to the cap");
    assert_eq!(listed.items.len(), 4, "the page shows its rows");
    let exact = sent_list(10);
    assert_eq!(exact.total, 4);
}
