//! `nachnutzung backup` and `nachnutzung restore`, run as the operator runs them (the
//! binary): a backup restores into an empty database of the same backend and of the other
//! one, every table equal (rows and checksum), every sealed document verifying, the
//! restored registry working (logins, API tokens, documents); a backup taken while the
//! server writes is consistent; and what must not be loaded is refused with the target
//! left as it was.

use std::process::Command;

use crate::common::*;
use nachnutzung::actions::accounts::LoginOutcome;
use nachnutzung::db::backup::{table_sums, TableSum};
use nachnutzung::db::{Db, DbUrl};
use nachnutzung::domain::text::{Email, Secret};
use rocket::http::Status;
use serde_json::{json, Value};

fn run(url: &str, args: &[&str]) -> (bool, String) {
    run_in(url, args, &TestApp::data_dir())
}

/// The binary on `url`, with `data_dir` as its data folder (the TEST seal's home).
fn run_in(url: &str, args: &[&str], data_dir: &std::path::Path) -> (bool, String) {
    run_keyed(url, args, data_dir, None)
}

/// As [`run_in`], with `secret` as `ROCKET_SECRET_KEY`.
fn run_keyed(
    url: &str,
    args: &[&str],
    data_dir: &std::path::Path,
    secret: Option<&str>,
) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nachnutzung"));
    cmd.arg("--database-url")
        .arg(url)
        .args(args)
        .env("NACHNUTZUNG_DATA_DIR", data_dir)
        .env_remove("ROCKET_SECRET_KEY");
    if let Some(key) = secret {
        cmd.env("ROCKET_SECRET_KEY", key);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn db(url: &str) -> Db {
    Db::open(&DbUrl::parse(url).unwrap(), 2).unwrap()
}

/// Runs `sql` on the database (or backup file) at `url`, bypassing the application.
fn execute(url: &str, sql: &str) {
    db(url)
        .read_blocking(|c| {
            use diesel::connection::SimpleConnection;
            c.batch_execute(sql)?;
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
}

fn sums(url: &str) -> Vec<TableSum> {
    table_sums(&db(url)).unwrap()
}

/// A SQLite database of its own (whatever backend this run tests).
fn sqlite_database() -> (String, Cleanup) {
    let dir = std::env::temp_dir().join(format!(
        "nachnutzung-backup-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    (
        format!("sqlite://{}", dir.join("register.db").display()),
        Cleanup::Sqlite(dir),
    )
}

fn backup_file() -> (std::path::PathBuf, Cleanup) {
    let dir = std::env::temp_dir().join(format!(
        "nachnutzung-backupfile-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    (dir.join("sicherung.db"), Cleanup::Sqlite(dir))
}

fn login(url: &str, email: &str, password: &str) -> LoginOutcome {
    let email = Email::parse("email", email).unwrap();
    let password = Secret::parse("password", password).unwrap();
    nachnutzung::actions::accounts::login(&db(url), &email, &password, "192.0.2.44").unwrap()
}

const EDGE_TEXT: &str = "Zweckverband „Ä'ö\"ü“ \\ 😀 e\u{301} \u{2028} Ende";

type OrgRow = (
    String,
    String,
    Option<String>,
    bool,
    Option<String>,
    Option<String>,
    time::PrimitiveDateTime,
);

/// The edge rows, loaded as typed values (independently of the backup's own checksums).
fn edge_rows(url: &str) -> (Vec<OrgRow>, Vec<(String, i32, i64)>) {
    db(url)
        .read_blocking(|c| {
            use diesel::prelude::*;
            use nachnutzung::db::schema::{organisations, reference_counters};
            let orgs = organisations::table
                .order(organisations::id)
                .select((
                    organisations::id,
                    organisations::name,
                    organisations::legal_form,
                    organisations::is_provider,
                    organisations::address,
                    organisations::note,
                    organisations::created_at,
                ))
                .load::<OrgRow>(c)?;
            let counters = reference_counters::table
                .order((reference_counters::prefix, reference_counters::year))
                .load::<(String, i32, i64)>(c)?;
            Ok((orgs, counters))
        })
        .unwrap()
}

/// A registry with something in most tables: the demo agreements (sealed documents,
/// go-live tasks, the audit log), a membership, accounts with a password and an API
/// token, an invitation (and its mail in the outbox), a failed login.
struct Source {
    app: TestApp,
    password: String,
    token: String,
    documents: Vec<(String, Vec<u8>)>,
}

fn source(app: TestApp) -> Source {
    let essen = app.municipality("05113000");
    app.record_membership(
        &essen,
        "traeger",
        json!({ "council_decision_on": "2021-03-15", "accession_declared_on": "2021-04-01",
                "capital_cents": 250000, "capital_paid_on": "2021-05-01" }),
    );
    let (_, password) = app.user(json!({
        "email": "sicherung@d-nrw.de", "name": "Sachbearbeiterin Sicherung", "role": "clerk"
    }));
    let token = app.token_for("sicherung@d-nrw.de");
    app.invited_clerk("neu@d-nrw.de");
    assert!(matches!(
        login(
            &app.database_url,
            "sicherung@d-nrw.de",
            "falsch-falsch-falsch"
        ),
        LoginOutcome::Refused
    ));
    // Values at the edges: text that is hard to carry (quotes, backslash, emoji, a line
    // separator, combining marks), an empty text beside a NULL, a whole second, a large
    // number.
    app.db()
        .write_blocking(|c| {
            use diesel::prelude::*;
            use nachnutzung::db::schema::{organisations, reference_counters};
            let second = time::macros::datetime!(2026-03-01 08:00:00);
            diesel::insert_into(organisations::table)
                .values((
                    organisations::id.eq("randwerte"),
                    organisations::name.eq(EDGE_TEXT),
                    organisations::legal_form.eq(Some("")),
                    organisations::is_intermediary.eq(false),
                    organisations::is_provider.eq(true),
                    organisations::is_self.eq(false),
                    organisations::states.eq("[]"),
                    organisations::address.eq(None::<String>),
                    organisations::note.eq(Some("{\"json\": [1, 2]}")),
                    organisations::lock_version.eq(0),
                    organisations::created_at.eq(second),
                    organisations::updated_at.eq(second),
                ))
                .execute(c)?;
            diesel::insert_into(reference_counters::table)
                .values((
                    reference_counters::prefix.eq("RAND"),
                    reference_counters::year.eq(2026),
                    reference_counters::last_value.eq(i64::MAX - 7),
                ))
                .execute(c)?;
            Ok(())
        })
        .unwrap();
    let with_document: Vec<String> = app
        .db()
        .read_blocking(|c| {
            use diesel::prelude::*;
            use nachnutzung::db::schema::documents;
            Ok(documents::table
                .select(documents::agreement_id)
                .distinct()
                .load::<String>(c)?)
        })
        .unwrap();
    let documents: Vec<(String, Vec<u8>)> = with_document
        .into_iter()
        .map(|id| {
            let pdf = app.document(&id);
            (id, pdf)
        })
        .collect();
    assert!(!documents.is_empty(), "the demo has sealed documents");
    Source {
        app,
        password,
        token,
        documents,
    }
}

/// Backs up `source`, restores into the empty `target` and checks the result.
fn round_trip(source: &Source, target_url: &str) {
    let (file, _cleanup) = backup_file();
    let file_arg = file.to_str().unwrap();
    let before = sums(&source.app.database_url);
    for t in [
        "documents",
        "audit_events",
        "users",
        "api_tokens",
        "memberships",
        "outbox",
    ] {
        let rows = before.iter().find(|s| s.name == t).unwrap().rows;
        assert!(rows > 0, "the source has rows in {t}");
    }
    let edges = edge_rows(&source.app.database_url);
    assert!(edges
        .0
        .iter()
        .any(|o| o.1 == EDGE_TEXT && o.2.as_deref() == Some("")));
    let (ok, out) = run(&source.app.database_url, &["backup", file_arg]);
    assert!(ok, "{out}");
    assert!(out.contains("Sicherung geschrieben"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "for its owner only");
    }
    let audit = before.iter().find(|s| s.name == "audit_events").unwrap();
    assert!(
        out.contains(&format!(
            "Protokoll: {} Einträge, SHA-256 {}",
            audit.rows, audit.sha256
        )),
        "the backup names the audit log's count and checksum: {out}"
    );

    let (ok, out) = run(target_url, &["restore", file_arg]);
    assert!(ok, "{out}");
    assert!(
        out.contains("(Sicherung vom ")
            && (out.contains(" Uhr (MEZ), Quelle ") || out.contains(" Uhr (MESZ), Quelle ")),
        "the backup's time in Berlin: {out}"
    );
    let documents = before.iter().find(|s| s.name == "documents").unwrap().rows;
    assert!(
        out.contains(&format!(
            "{documents} gesiegelte Dokumente geprüft: alle gültig"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "Protokoll: {} Einträge, SHA-256 {} – wie in der Sicherung\n",
            audit.rows, audit.sha256
        )),
        "{out}"
    );
    let waiting = number(
        &source.app.db(),
        "SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL",
    );
    assert!(waiting >= 2, "the invitation's mail among them");
    assert!(
        out.contains(&format!(
            "Postausgang: {waiting} Mails warten und gehen hinaus"
        )),
        "waiting mail is named: {out}"
    );

    // Every table, row for row: the restored database's sums are the source's, and the
    // edge values, loaded as typed values, are the same.
    assert_eq!(sums(target_url), before, "every table as in the source");
    assert_eq!(edge_rows(target_url), edges);

    // The restored registry works: the password and the token, the documents.
    assert!(matches!(
        login(target_url, "sicherung@d-nrw.de", &source.password),
        LoginOutcome::Success(_)
    ));
    let restored = TestApp::attach(target_url, |f| f);
    let (status, me) = restored.send_as(&source.token, "GET", "/api/v1/me", None);
    assert_eq!(status, Status::Ok, "{me}");
    assert_eq!(me["user"]["email"], "sicherung@d-nrw.de", "{me}");
    for (id, pdf) in &source.documents {
        assert_eq!(
            &restored.document(id),
            pdf,
            "document of {id} byte for byte"
        );
        let (status, v) = restored.verify(pdf);
        assert_eq!(status, Status::Ok, "{v}");
        assert_eq!(v["seal_valid"], true, "{v}");
        assert_eq!(v["issued_by_registry"], true, "{v}");
    }
    let audit_of = |app: &TestApp| -> Value { app.ok("GET", "/api/v1/audit?per_page=1", None) };
    assert_eq!(audit_of(&restored)["total"], audit_of(&source.app)["total"]);
}

#[test]
fn a_backup_restores_into_an_empty_database_of_this_backend() {
    let source = source(TestApp::with_demo());
    let (target, _cleanup) = fresh_database();
    round_trip(&source, &target);
}

/// SQLite → PostgreSQL and PostgreSQL → SQLite (on the PostgreSQL run; the SQLite run
/// has no PostgreSQL to go to).
#[test]
fn a_backup_restores_into_the_other_backend() {
    if std::env::var("TEST_DATABASE_URL").is_err() {
        eprintln!("no TEST_DATABASE_URL: SQLite ↔ PostgreSQL is tested on the PostgreSQL run");
        return;
    }
    // PostgreSQL → SQLite.
    let on_postgres = source(TestApp::with_demo());
    assert!(on_postgres.app.is_postgres());
    let (lite, _c1) = sqlite_database();
    round_trip(&on_postgres, &lite);

    // SQLite → PostgreSQL.
    let (lite_source, c2) = sqlite_database();
    let on_sqlite = source(TestApp::attach(&lite_source, |f| {
        f.merge(("seed_demo_agreements", true))
    }));
    let (pg, _c3) = fresh_database();
    assert!(pg.starts_with("postgres"));
    round_trip(&on_sqlite, &pg);
    drop(on_sqlite);
    drop(c2);
}

/// The server creates accounts (each with its audit record) while the backup runs: the
/// backup is one consistent moment, so every account in it has its record and the other
/// way round, and it restores.
#[test]
fn a_backup_taken_while_the_server_writes_is_one_consistent_moment() {
    let app = TestApp::new();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (server, stop) = (app.db(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                server
                    .write_blocking(|c| {
                        nachnutzung::domain::text::Checked::new(
                            nachnutzung::actions::accounts::NewUser {
                                email: format!("laufend{n}@d-nrw.de"),
                                name: "Laufend".into(),
                                role: "clerk".into(),
                                invite: true,
                                ..Default::default()
                            },
                        )?
                        .create(c, "test")
                    })
                    .unwrap();
                n += 1;
            }
            n
        })
    };
    // Some accounts before, some during.
    while number(&app.db(), "SELECT count(*) AS n FROM users") < 5 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (file, _cleanup) = backup_file();
    let (ok, out) = run(&app.database_url, &["backup", file.to_str().unwrap()]);
    let written = {
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writer.join().unwrap()
    };
    assert!(ok, "{out}");
    let (target, _c) = fresh_database();
    let (ok, out) = run(&target, &["restore", file.to_str().unwrap()]);
    assert!(ok, "{out}");
    let restored = db(&target);
    let users = number(&restored, "SELECT count(*) AS n FROM users");
    let created = number(
        &restored,
        "SELECT count(*) AS n FROM audit_events WHERE action = 'create_user'",
    );
    assert_eq!(users, created, "each account with its audit record");
    assert!(users >= 5, "the accounts before the backup are in it");
    assert!(
        users <= written,
        "no account the server had not written ({users} of {written})"
    );
}

#[test]
fn restore_refuses_what_it_must_not_load_and_leaves_the_target_as_it_was() {
    let app = TestApp::with_demo();
    let (file, _cleanup) = backup_file();
    let file_arg = file.to_str().unwrap();
    let (ok, out) = run(&app.database_url, &["backup", file_arg]);
    assert!(ok, "{out}");

    // Nothing to back up where there is no database (and none is created).
    let (missing, _m) = sqlite_database();
    let (ok, out) = run(
        &missing,
        &["backup", file.with_file_name("x.db").to_str().unwrap()],
    );
    assert!(!ok);
    assert!(out.contains("gibt es nicht: nichts zu sichern"), "{out}");
    let path = missing.strip_prefix("sqlite://").unwrap();
    assert!(!std::path::Path::new(path).exists());

    // The backup overwrites nothing.
    let (ok, out) = run(&app.database_url, &["backup", file_arg]);
    assert!(!ok);
    assert!(
        out.contains("existiert bereits; eine Sicherung überschreibt nichts"),
        "{out}"
    );

    // Not into a database that holds data: the source itself, unchanged.
    let before = sums(&app.database_url);
    let (ok, out) = run(&app.database_url, &["restore", file_arg]);
    assert!(!ok);
    assert!(
        out.contains("Die Zieldatenbank ist nicht leer (Tabelle organisations"),
        "{out}"
    );
    assert_eq!(sums(&app.database_url), before);

    let empty_after = |url: &str| {
        assert!(
            sums(url).iter().all(|t| t.rows == 0),
            "the target is still empty"
        )
    };

    // A file that is not a backup.
    let (target, _c) = fresh_database();
    let other = file.with_file_name("kein.db");
    std::fs::write(&other, "Nachnutzungsregister").unwrap();
    let (ok, out) = run(&target, &["restore", other.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        out.contains("ist keine Sicherung des Nachnutzungsregisters"),
        "{out}"
    );

    // A backup changed after it was written: a signature's name.
    let changed = file.with_file_name("veraendert.db");
    std::fs::copy(&file, &changed).unwrap();
    execute(
        &format!("sqlite://{}", changed.display()),
        "DROP TRIGGER signatures_no_update; \
         UPDATE signatures SET signer_name = 'Jemand anderes' WHERE rowid = 1",
    );
    let (ok, out) = run(&target, &["restore", changed.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        out.contains(
            "Die Sicherung ist beschädigt oder wurde verändert: Tabelle signatures: gleich viele \
             Zeilen (2), aber andere Inhalte (Prüfsumme). Nichts wurde geladen."
        ),
        "{out}"
    );
    empty_after(&target);

    // A backup of a newer program.
    let newer = file.with_file_name("neuer.db");
    std::fs::copy(&file, &newer).unwrap();
    execute(
        &format!("sqlite://{}", newer.display()),
        "INSERT INTO __diesel_schema_migrations (version) VALUES ('20991231000001')",
    );
    let (ok, out) = run(&target, &["restore", newer.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        out.contains("stammt von einem neueren Programm (Schema 20991231000001)"),
        "{out}"
    );
    empty_after(&target);

    // Into an installation with another seal: its documents would not verify there, so
    // nothing is loaded, and the message names the seal and what to configure.
    let other_seal = std::env::temp_dir().join(format!(
        "nachnutzung-anderes-siegel-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let (ok, out) = run_in(&target, &["restore", file_arg], &other_seal);
    let _ = std::fs::remove_dir_all(&other_seal);
    assert!(!ok);
    assert!(
        out.contains("besteht die Prüfung nach dem Laden nicht (Siegel nicht vertrauenswürdig")
            && out.contains("Nichts wurde geladen")
            && out.contains("TEST-Siegel")
            && out.contains("seal_trusted_certificates"),
        "{out}"
    );
    empty_after(&target);

    // And the untouched backup still restores.
    let (ok, out) = run(&target, &["restore", file_arg]);
    assert!(ok, "{out}");
    assert_eq!(sums(&target), before);
}

/// A backup of an older program (here: before the table `test_seal` came) is brought to
/// this program's schema on a copy and restores; the backup file stays as it was. A
/// database migrated by a newer program is not backed up by this one (it would miss that
/// program's tables).
#[test]
fn an_older_backup_restores_and_a_newer_database_is_not_backed_up() {
    let app = TestApp::with_demo();
    let (file, _cleanup) = backup_file();
    let (ok, out) = run(&app.database_url, &["backup", file.to_str().unwrap()]);
    assert!(ok, "{out}");
    execute(
        &format!("sqlite://{}", file.display()),
        "DROP TABLE test_seal; \
         DELETE FROM __diesel_schema_migrations WHERE version = '20261130000008'; \
         UPDATE backup_manifest SET manifest = json_remove(manifest, \
           '$.tables[' || (SELECT key FROM json_each(manifest, '$.tables') \
                           WHERE json_extract(value, '$.name') = 'test_seal') || ']')",
    );
    let before = std::fs::read(&file).unwrap();
    let (target, _c) = fresh_database();
    let (ok, out) = run(&target, &["restore", file.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(out.contains("– wie in der Sicherung\n"), "{out}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "the backup is not changed"
    );
    let restored = sums(&target);
    let source = sums(&app.database_url);
    assert_eq!(restored, source, "the same rows, test_seal empty on both");

    // A database a newer program migrated.
    execute(
        &app.database_url,
        "INSERT INTO __diesel_schema_migrations (version) VALUES ('20991231000001')",
    );
    let again = file.with_file_name("neu.db");
    let (ok, out) = run(&app.database_url, &["backup", again.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        out.contains("ein neueres Programm hat sie migriert (Schema 20991231000001)"),
        "{out}"
    );
    assert!(!again.exists());
    let leftovers: Vec<_> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".teil"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// On PostgreSQL the instances' shared TEST seal (in the database, under the secret key)
/// comes along: with the source's key every document verifies on the target, with
/// another key nothing is loaded and the message says which key is needed.
#[test]
fn a_shared_test_seal_comes_along_and_needs_the_source_key() {
    if std::env::var("TEST_DATABASE_URL").is_err() {
        eprintln!("no TEST_DATABASE_URL: the shared TEST seal exists on PostgreSQL only");
        return;
    }
    const SECRET: &str =
        "hPRYyVRiMyxpw5sBB1XeCMN1kjsCXSw6D3dKA39dXH6cS/0LX1JB0JeZYXR8QvQ3zM4fMT6NMnPzqtvBLyZ1BA==";
    const OTHER: &str =
        "Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYg==";
    let folder = |name: &str| {
        std::env::temp_dir().join(format!(
            "nnr-backup-{name}-{}",
            uuid::Uuid::new_v4().simple()
        ))
    };
    let (source_dir, target_dir) = (folder("quelle"), folder("ziel"));
    let app = TestApp::with_figment(true, |f| {
        f.merge(("secret_key", SECRET))
            .merge(("data_dir", source_dir.display().to_string()))
    });
    assert_eq!(number(&app.db(), "SELECT COUNT(*) AS n FROM test_seal"), 1);
    let documents = number(&app.db(), "SELECT COUNT(*) AS n FROM documents");
    assert!(documents > 0);
    let (file, _cleanup) = backup_file();
    let file_arg = file.to_str().unwrap();
    let (ok, out) = run_keyed(&app.database_url, &["backup", file_arg], &source_dir, None);
    assert!(ok, "{out}");

    let (target, _c) = fresh_database();
    let (ok, out) = run_keyed(&target, &["restore", file_arg], &target_dir, Some(OTHER));
    assert!(!ok);
    assert!(
        out.contains("lässt sich mit diesem secret_key nicht öffnen")
            && out.contains("den der Quelle"),
        "{out}"
    );
    assert!(sums(&target).iter().all(|t| t.rows == 0), "nothing loaded");

    let (ok, out) = run_keyed(&target, &["restore", file_arg], &target_dir, Some(SECRET));
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!(
            "{documents} gesiegelte Dokumente geprüft: alle gültig"
        )),
        "{out}"
    );
    assert!(
        !target_dir.join("seal-test").exists(),
        "the database's seal, not a new one"
    );
    for dir in [source_dir, target_dir] {
        let _ = std::fs::remove_dir_all(dir);
    }
}
