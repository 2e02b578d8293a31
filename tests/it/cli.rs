//! The binary as a new user meets it: `migrate`, `seed`, and `serve` printing the URL and
//! the demo token, then answering on that port. These use their own SQLite files on both CI
//! runs: they test the binary, not the backend (every other test file covers both).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nachnutzung"))
}

fn temp_dir() -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("nachnutzung-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn unknown_database_schemes_are_refused_with_a_clear_message() {
    let out = bin()
        .args(["--database-url", "mysql://root@localhost/db", "migrate"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Nicht unterstütztes Datenbank-Schema 'mysql://'"),
        "{err}"
    );
}

#[test]
fn migrate_and_seed_are_idempotent_commands() {
    let dir = temp_dir();
    let url = format!("sqlite://{}", dir.join("cli.db").display());
    for args in [
        vec!["migrate"],
        vec!["seed"],
        vec!["seed", "--demo"],
        vec!["seed", "--demo"],
    ] {
        let out = bin()
            .arg("--database-url")
            .arg(&url)
            .args(&args)
            .env("NACHNUTZUNG_DATA_DIR", &dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn get(port: u16, path: &str, token: Option<&str>) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// `nachnutzung serve` on a free loopback port with its own SQLite file in `dir`, and
/// `env` besides: the child, its port, and its standard output line by line.
fn serve(
    dir: &std::path::Path,
    env: &[(&str, &str)],
) -> (std::process::Child, u16, std::sync::mpsc::Receiver<String>) {
    let port = crate::common::free_port();
    let mut cmd = bin();
    cmd.env(
        "NACHNUTZUNG_DATABASE_URL",
        format!("sqlite://{}", dir.join("serve.db").display()),
    )
    .env("NACHNUTZUNG_DATA_DIR", dir)
    .env("ROCKET_PORT", port.to_string());
    for (key, value) in env {
        cmd.env(key, value);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, port, rx)
}

/// Stops the server, removes its folder, and passes on the test's panic if it had one.
fn stop(mut child: std::process::Child, dir: &std::path::Path, result: std::thread::Result<()>) {
    let _ = child.kill();
    let _ = child.wait();
    std::fs::remove_dir_all(dir).unwrap();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn serve_prints_url_and_demo_token_and_answers() {
    let dir = temp_dir();
    let (child, port, rx) = serve(&dir, &[("ROCKET_LOG_LEVEL", "off")]);
    let mut url = None;
    let mut token = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while (url.is_none() || token.is_none()) && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if let Some(u) = line.strip_prefix("Nachnutzungsregister läuft auf ") {
                url = Some(u.trim().to_string());
            }
            if let Some(t) = line
                .trim()
                .strip_prefix("Staff-Zugang (Demo): Authorization: Bearer ")
            {
                token = Some(t.trim().to_string());
            }
        }
    }
    let result = std::panic::catch_unwind(|| {
        assert_eq!(
            url.as_deref(),
            Some(format!("http://127.0.0.1:{port}").as_str())
        );
        let token = token.clone().expect("demo token printed");
        assert_eq!(
            std::fs::read_to_string(dir.join("staff-token"))
                .unwrap()
                .trim(),
            token
        );
        let catalog = get(port, "/api/v1/catalog", None);
        assert!(catalog.starts_with("HTTP/1.1 200"), "{catalog}");
        assert!(catalog.contains("Wohngeld"));
        let refused = get(port, "/api/v1/agreements", None);
        assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
        let demo = get(port, "/api/v1/agreements?kind=ea", Some(&token));
        assert!(demo.starts_with("HTTP/1.1 200"), "{demo}");
        assert!(
            demo.contains("Dortmund, Stadt"),
            "the demo Einzelabruf is there"
        );
        // The first start created the TEST seal, its key readable by the owner only.
        let seal = dir.join("seal-test");
        let ca = std::fs::read_to_string(seal.join("test-ca.pem")).unwrap();
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(seal.join("seal-test.p12"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "seal key readable by others: {mode:o}");
        }
    });
    stop(child, &dir, result);
}

fn run(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    bin()
        .arg("--database-url")
        .arg(format!("sqlite://{}", dir.join("cli.db").display()))
        .args(args)
        .env("NACHNUTZUNG_DATA_DIR", dir)
        .output()
        .unwrap()
}

#[test]
fn documents_render_and_verify_on_the_command_line() {
    use diesel::prelude::*;
    let dir = temp_dir();
    let out = run(&dir, &["seed", "--demo"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The demo's Wohngeld EA (Dortmund) is sealed already: the bulk run has nothing to do,
    // and says so.
    let out = run(
        &dir,
        &["documents", "render", "--service", "Wohngeld (Online"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("1 Einzelabrufe unterzeichnet oder in Kraft, 0 neu gesiegelt, 1 hatten schon ein Dokument"),
        "{stdout}"
    );
    let out = run(&dir, &["documents", "render", "--service", "gibt es nicht"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Keinen Dienst"));

    // verify: a stored document is valid and known; one changed byte is not.
    let url = nachnutzung::db::DbUrl::parse(&format!("sqlite://{}", dir.join("cli.db").display()))
        .unwrap();
    let db = nachnutzung::db::Db::open(&url, 1).unwrap();
    let (reference, pdf): (String, Vec<u8>) = nachnutzung::db::schema::documents::table
        .inner_join(nachnutzung::db::schema::agreements::table)
        .select((
            nachnutzung::db::schema::agreements::reference,
            nachnutzung::db::schema::documents::pdf,
        ))
        .first::<(String, Vec<u8>)>(&mut **db.conn().unwrap())
        .unwrap();
    let file = dir.join("vertrag.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let out = run(&dir, &["verify", file.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.starts_with("Das Siegel ist gültig."), "{stdout}");
    assert!(stdout.contains(&reference), "{stdout}");

    let mut changed = pdf.clone();
    changed[12] ^= 1;
    std::fs::write(&file, &changed).unwrap();
    let out = run(&dir, &["verify", "--json", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["seal_valid"], false);
    assert_eq!(v["seal"]["intact"], false);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_first_admin_and_her_token_come_from_the_command_line() {
    let dir = temp_dir();
    let out = run(
        &dir,
        &[
            "user",
            "add",
            "--email",
            "Admin@d-NRW.de",
            "--name",
            "Erste Administratorin",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Benutzer admin@d-nrw.de angelegt, Rolle: d-NRW (Administration)."),
        "{stdout}"
    );
    let password = stdout.lines().last().unwrap().trim().to_string();
    assert!(password.len() >= 12, "{stdout}");
    let out = run(
        &dir,
        &[
            "user",
            "add",
            "--email",
            "admin@d-nrw.de",
            "--name",
            "Nochmal",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("schon einen Benutzer"));

    let out = run(
        &dir,
        &["user", "token", "--email", "admin@d-nrw.de", "--name", "CI"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let token = stdout.lines().last().unwrap().trim().to_string();
    assert!(token.starts_with("nnr_"), "{stdout}");

    let url = nachnutzung::db::DbUrl::parse(&format!("sqlite://{}", dir.join("cli.db").display()))
        .unwrap();
    let db = nachnutzung::db::Db::open(&url, 1).unwrap();
    let (_, user) = db
        .read_blocking(|conn| nachnutzung::store::user::ApiToken::authenticate(conn, &token))
        .unwrap()
        .expect("the printed token works");
    assert_eq!(user.role.as_str(), "admin");
    assert!(user.must_change_password);
    assert!(nachnutzung::store::user::verify_password(
        &user.password_hash,
        &password
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn serve_with_log_format_json_writes_one_json_line_per_request_without_secrets() {
    let dir = temp_dir();
    let token = "json-log-staff-token-0123456789";
    let (child, port, rx) = serve(
        &dir,
        &[
            ("NACHNUTZUNG_LOG_FORMAT", "json"),
            ("NACHNUTZUNG_STAFF_TOKEN", token),
            ("NACHNUTZUNG_SEED_DEMO_AGREEMENTS", "false"),
        ],
    );
    let result = std::panic::catch_unwind(|| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let up = TcpStream::connect(("127.0.0.1", port)).is_ok()
                && get(port, "/health/live", None).starts_with("HTTP/1.1 200");
            if up {
                break;
            }
            assert!(Instant::now() < deadline, "the server did not come up");
            std::thread::sleep(Duration::from_millis(200));
        }
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            stream,
            "GET /api/v1/agreements?kind=ea HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nX-Request-Id: cli-json-1\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            answer
                .to_ascii_lowercase()
                .contains("x-request-id: cli-json-1"),
            "{answer}"
        );
        // Every line on standard output is one JSON object; the request's names its
        // method, route template, status, duration, user and id.
        let mut lines = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        let line = loop {
            let l = rx
                .recv_timeout(Duration::from_millis(200))
                .unwrap_or_default();
            if !l.is_empty() {
                lines.push(l.clone());
                if l.contains("cli-json-1") {
                    break l;
                }
            }
            assert!(Instant::now() < deadline, "no log line: {lines:?}");
        };
        for l in &lines {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            assert!(v.is_object(), "{l}");
            assert!(!l.contains(token), "the token in the log: {l}");
        }
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["method"], "GET", "{line}");
        assert_eq!(v["route"], "/api/v1/agreements", "{line}");
        assert_eq!(v["status"], 200, "{line}");
        assert_eq!(v["user"], "staff-token", "{line}");
        assert_eq!(v["request_id"], "cli-json-1", "{line}");
        assert!(v["duration_ms"].as_f64().is_some(), "{line}");
        assert_eq!(v["level"], "INFO", "{line}");
        assert!(v["timestamp"].is_string(), "{line}");
    });
    stop(child, &dir, result);
}

/// SIGTERM: the server takes no new requests, its mail worker finishes the mail it is
/// sending and claims no other, the leases it still holds are given back, and the process
/// exits 0 within Rocket's grace and mercy periods (2 + 3 s) plus the send in flight.
#[test]
fn sigterm_ends_the_server_cleanly_and_gives_back_its_mail_leases() {
    use diesel::prelude::*;
    use nachnutzung::db::schema::outbox;

    let dir = temp_dir();
    // A slow relay: two seconds per message, so a send is in flight when SIGTERM comes.
    let mut smtp = crate::mail::SmtpServer::slow(2.0);
    smtp.start();
    let smtp_port = smtp.port.to_string();
    let url = format!("sqlite://{}", dir.join("serve.db").display());
    // Five mails wait before the server starts (the schema first).
    let out = bin()
        .arg("--database-url")
        .arg(&url)
        .arg("migrate")
        .env("NACHNUTZUNG_DATA_DIR", &dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One pool of one connection for all the test's reads and writes.
    let db = nachnutzung::db::Db::open(&nachnutzung::db::DbUrl::parse(&url).unwrap(), 1).unwrap();
    db.write_blocking(|c| {
            for i in 0..5 {
                let email = format!("person{i}@example.org");
                nachnutzung::store::outbox::enqueue(
                    c,
                    "account_created",
                    std::slice::from_ref(&email),
                    &serde_json::json!({ "name": format!("Person {i}"), "email": email, "role": "Kommune", "link": "http://127.0.0.1:8000/anmelden" }),
                )?;
            }
            Ok(())
        })
        .unwrap();
    let (mut child, port, rx) = serve(
        &dir,
        &[
            ("ROCKET_LOG_LEVEL", "off"),
            ("NACHNUTZUNG_SEED_DEMO_AGREEMENTS", "false"),
            ("NACHNUTZUNG_MAIL_TRANSPORT", "smtp"),
            ("NACHNUTZUNG_SMTP_HOST", "127.0.0.1"),
            ("NACHNUTZUNG_SMTP_PORT", &smtp_port),
            ("NACHNUTZUNG_SMTP_SECURITY", "none"),
            // A long interval: the stop must wake the loop, not wait for its next round.
            ("NACHNUTZUNG_MAIL_WORKER_INTERVAL_SECS", "30"),
            ("NACHNUTZUNG_REMINDER_INTERVAL_SECS", "0"),
        ],
    );
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
                if line.starts_with("Nachnutzungsregister läuft auf ") {
                    break;
                }
            }
        }
        let total: i64 = db
            .read_blocking(|c| Ok(outbox::table.count().get_result(c)?))
            .unwrap();
        assert!(total >= 5, "{total}");
        // The worker is sending a mail: its data has reached the (slow) relay. (A mail it
        // has only claimed may be given back unsent when the stop comes first.)
        let deadline = Instant::now() + Duration::from_secs(30);
        while smtp.receiving() == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(smtp.receiving(), 1, "one mail on its way");
        let leased = || -> i64 {
            db.read_blocking(|c| {
                Ok(outbox::table
                    .filter(outbox::locked_by.is_not_null())
                    .filter(outbox::sent_at.is_null())
                    .count()
                    .get_result(c)?)
            })
            .unwrap()
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while leased() == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(leased(), 1, "one mail in flight");
        assert!(get(port, "/health/live", None).starts_with("HTTP/1.1 200"));

        let term = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
        let stopped = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                stopped.elapsed() < Duration::from_secs(15),
                "still running 15 s after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "exit status after SIGTERM: {status:?}");
        // The mail in flight (at most 2 s) and no more: not Rocket's grace and mercy
        // (5 s), which the stop would wait out if it did not wake the loop.
        assert!(
            stopped.elapsed() < Duration::from_millis(4500),
            "took {:?} to stop",
            stopped.elapsed()
        );
        // No new connections after it stopped.
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());

        // The mail in flight went out and is marked sent; no other was claimed; no lease
        // is left, so another instance takes the rest at once.
        let (sent, unsent, leases): (i64, i64, i64) = db
            .read_blocking(|c| {
                let sent = outbox::table
                    .filter(outbox::sent_at.is_not_null())
                    .count()
                    .get_result(c)?;
                let unsent = outbox::table
                    .filter(outbox::sent_at.is_null())
                    .count()
                    .get_result(c)?;
                let leases = outbox::table
                    .filter(outbox::locked_by.is_not_null())
                    .filter(outbox::sent_at.is_null())
                    .count()
                    .get_result(c)?;
                Ok((sent, unsent, leases))
            })
            .unwrap();
        assert!(sent >= 1, "the mail in flight was finished");
        assert_eq!(sent + unsent, total);
        assert!(
            unsent >= 1,
            "no further mail claimed after SIGTERM: {sent} sent"
        );
        assert_eq!(leases, 0, "leases given back");
        assert_eq!(
            smtp.received().len() as i64,
            sent,
            "each sent mail arrived once"
        );
    }));
    stop(child, &dir, result);
}
