//! Two instances of the binary on one PostgreSQL database behind nginx (round robin), as
//! production runs them: both start together on an empty database; a session begun
//! through the proxy works on both; sixteen racing Einzelabrufe split across both create
//! exactly one; a document sealed by one instance is trusted by the other; both outbox
//! workers deliver each mail exactly once to a real SMTP server; both reminder jobs remind
//! of an occasion once; a catalogue change on one is served by the other at once; one
//! instance killed with SIGKILL in the middle of a
//! burst of writes leaves nothing half-written, and the other goes on.
//!
//! On PostgreSQL only (`.ci/run` runs the suite on both backends): an SQLite file belongs
//! to one process, so on SQLite this test returns at once.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::mail::SmtpServer;
use serde_json::{json, Value};

/// The shared `ROCKET_SECRET_KEY` of the instances (64 bytes, base64).
const SECRET: &str =
    "hPRYyVRiMyxpw5sBB1XeCMN1kjsCXSw6D3dKA39dXH6cS/0LX1JB0JeZYXR8QvQ3zM4fMT6NMnPzqtvBLyZ1BA==";

/// A child process that is killed when the test ends, however it ends.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// nginx is stopped with SIGTERM: its master then ends its worker (killed with SIGKILL,
/// the master left the worker running, one more after every run).
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn instance(url: &str, port: u16, dir: &std::path::Path, smtp_port: u16) -> Proc {
    Proc(
        Command::new(env!("CARGO_BIN_EXE_nachnutzung"))
            .arg("serve")
            .env("NACHNUTZUNG_DATABASE_URL", url)
            .env("NACHNUTZUNG_DATA_DIR", dir)
            .env("NACHNUTZUNG_STAFF_TOKEN", TOKEN)
            .env("NACHNUTZUNG_SEED_DEMO_AGREEMENTS", "false")
            .env("NACHNUTZUNG_IP_HEADER", "X-Real-IP")
            .env("NACHNUTZUNG_MAIL_TRANSPORT", "smtp")
            .env("NACHNUTZUNG_SMTP_HOST", "127.0.0.1")
            .env("NACHNUTZUNG_SMTP_PORT", smtp_port.to_string())
            .env("NACHNUTZUNG_SMTP_SECURITY", "none")
            .env("NACHNUTZUNG_MAIL_WORKER_INTERVAL_SECS", "1")
            // Both run the reminder job every second; a signature is reminded of at once.
            .env("NACHNUTZUNG_REMINDER_INTERVAL_SECS", "1")
            .env("NACHNUTZUNG_SIGNATURE_REMINDER_DAYS", "0")
            .env("ROCKET_ADDRESS", "127.0.0.1")
            .env("ROCKET_PORT", port.to_string())
            .env("ROCKET_SECRET_KEY", SECRET)
            .env("ROCKET_LOG_LEVEL", "off")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts"),
    )
}

/// Debian's nginx in front of both, round robin, in a folder of its own.
fn nginx(dir: &std::path::Path, port: u16, upstreams: &[u16]) -> Nginx {
    let servers: String = upstreams
        .iter()
        .map(|p| format!("server 127.0.0.1:{p} max_fails=1 fail_timeout=30s;\n"))
        .collect();
    let d = dir.display();
    let conf = format!(
        "daemon off;\nuser root;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 512; }}\n\
         http {{\n access_log off;\n client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n\
         upstream app {{\n{servers} }}\n\
         server {{\n  listen 127.0.0.1:{port};\n  client_max_body_size 20m;\n  location / {{\n\
           proxy_pass http://app;\n   proxy_set_header Host $host;\n   proxy_set_header X-Real-IP $remote_addr;\n\
           proxy_next_upstream error timeout;\n  }}\n }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    Nginx(
        Command::new("/usr/sbin/nginx")
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx (apt-get install nginx)"),
    )
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// Waits until `GET url` answers 200.
fn wait_ready(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(r) = agent().get(url).call() {
            if r.status().as_u16() == 200 {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{url} not ready");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// (status, body) of a request with the staff token.
fn api(method: &str, url: &str, body: Option<&Value>) -> (u16, Value) {
    let a = agent();
    let auth = format!("Bearer {TOKEN}");
    let mut res = match (method, body) {
        ("GET", _) => a.get(url).header("Authorization", &auth).call(),
        (_, Some(b)) => a
            .post(url)
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(b.to_string()),
        (_, None) => a.post(url).header("Authorization", &auth).send_empty(),
    }
    .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = res.status().as_u16();
    let text = res.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Logs in through the form at `base`: the session cookie.
fn login(base: &str, email: &str, password: &str) -> String {
    let a = agent();
    let mut page = a.get(format!("{base}/anmelden")).call().unwrap();
    let cookie: Vec<String> = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
        .collect();
    let html = page.body_mut().read_to_string().unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let answer = a
        .post(format!("{base}/anmelden"))
        .header("Cookie", cookie.join("; "))
        .send_form([
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", password),
        ])
        .unwrap();
    assert_eq!(answer.status().as_u16(), 303, "login through {base}");
    answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
        .find(|c| c.starts_with("nnr_sitzung="))
        .expect("session cookie")
}

fn page(url: &str, cookie: &str) -> (u16, String) {
    let mut res = agent().get(url).header("Cookie", cookie).call().unwrap();
    let status = res.status().as_u16();
    (status, res.body_mut().read_to_string().unwrap_or_default())
}

#[test]
fn two_instances_behind_nginx_share_sessions_data_and_work() {
    if !std::env::var("TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        return;
    }
    let (url, _cleanup) = fresh_database();
    let dir = std::env::temp_dir().join(format!("nnr-cluster-{}", uuid::Uuid::new_v4().simple()));
    for sub in ["a", "b", "nginx"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let mut smtp = SmtpServer::new();
    smtp.start();
    let (pa, pb, px) = (free_port(), free_port(), free_port());
    // Both start together on the empty database: the migrations run once (advisory lock),
    // the reference data is seeded once.
    let mut a = instance(&url, pa, &dir.join("a"), smtp.port);
    let _b = instance(&url, pb, &dir.join("b"), smtp.port);
    let (base_a, base_b) = (
        format!("http://127.0.0.1:{pa}"),
        format!("http://127.0.0.1:{pb}"),
    );
    wait_ready(&format!("{base_a}/health/ready"));
    wait_ready(&format!("{base_b}/health/ready"));
    let _proxy = nginx(&dir.join("nginx"), px, &[pa, pb]);
    let base = format!("http://127.0.0.1:{px}");
    wait_ready(&format!("{base}/health/live"));
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .unwrap()
        .count() as i64;
    let db = {
        let u = nachnutzung::db::DbUrl::parse(&url).unwrap();
        nachnutzung::db::Db::open(&u, 1).unwrap()
    };
    assert_eq!(
        number(&db, "SELECT COUNT(*) AS n FROM __diesel_schema_migrations"),
        migrations
    );
    let municipalities = number(&db, "SELECT COUNT(*) AS n FROM municipalities");
    assert!(
        municipalities > 400,
        "reference data seeded: {municipalities}"
    );

    // An in-process third instance on the same database and key prepares the data with
    // the tests' helpers (its seal is the shared one).
    let app = TestApp::attach(&url, |f| f.merge(("secret_key", SECRET)));

    // 1. A session begun through the proxy works on both instances.
    let (status, v) = api(
        "POST",
        &format!("{base}/api/v1/users"),
        Some(
            &json!({ "email": "carl@d-nrw.de", "name": "Carl Clerk", "role": "clerk", "may_sign": true, "password": "Carl-Clerk-Passwort-2026" }),
        ),
    );
    assert_eq!(status, 201, "{v}");
    let cookie = login(&base, "carl@d-nrw.de", "Carl-Clerk-Passwort-2026");
    // The first login asks for an own password (the form, through the proxy); the answer
    // renews the session cookie.
    let (_, form) = page(&format!("{base}/passwort"), &cookie);
    let csrf = form
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("csrf of the password form")
        .to_string();
    let changed = agent()
        .post(format!("{base}/passwort"))
        .header("Cookie", &cookie)
        .send_form([
            ("csrf", csrf.as_str()),
            ("current", "Carl-Clerk-Passwort-2026"),
            ("new", "Carl-eigenes-Passwort-2026"),
            ("repeat", "Carl-eigenes-Passwort-2026"),
        ])
        .unwrap();
    assert_eq!(changed.status().as_u16(), 303, "password changed");
    let cookie = changed
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
        .find(|c| c.starts_with("nnr_sitzung="))
        .unwrap_or(cookie);
    for target in [&base, &base, &base, &base, &base_a, &base_b] {
        let (status, html) = page(&format!("{target}/"), &cookie);
        assert_eq!(status, 200, "{target}");
        assert!(html.contains("Heute zu tun"), "{target}: {html}");
    }

    // 2. Sixteen racing Einzelabrufe through the proxy (both instances): exactly one.
    let (dortmund, wohngeld) = dortmund_ready_for_wohngeld(&app);
    let body = json!({ "kind": "ea", "municipality_id": dortmund, "service_id": wohngeld, "avv": avv(), "parameters": wohngeld_parameters() });
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(16));
    let racers: Vec<_> = (0..16)
        .map(|_| {
            let (body, barrier, url) = (
                body.clone(),
                barrier.clone(),
                format!("{base}/api/v1/agreements"),
            );
            std::thread::spawn(move || {
                barrier.wait();
                api("POST", &url, Some(&body)).0
            })
        })
        .collect();
    let statuses: Vec<u16> = racers.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        15,
        "{statuses:?}"
    );

    // 3. Sealed by one instance, trusted by each of the others.
    let koeln = app.municipality("05315000");
    let rv = app.in_force(json!({ "kind": "rv", "municipality_id": koeln }));
    let pdf = app.document(rv["id"].as_str().unwrap());
    for target in [&base_a, &base_b] {
        let mut res = agent()
            .post(format!("{target}/api/v1/verify"))
            .header("Content-Type", "application/pdf")
            .send(&pdf[..])
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let v: Value = serde_json::from_str(&res.body_mut().read_to_string().unwrap()).unwrap();
        assert_eq!(v["seal"]["trusted"], true, "{target}: {v}");
        assert_eq!(v["seal_valid"], true, "{target}: {v}");
    }

    // 4. A catalogue change on one instance is what the other serves next.
    let service = api("GET", &format!("{base_a}/api/v1/services/{wohngeld}"), None).1;
    let patch = agent()
        .patch(format!("{base_a}/api/v1/services/{wohngeld}"))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .header("Content-Type", "application/json")
        .send(json!({ "lock_version": service["lock_version"], "name": "Wohngeld (Online-Dienst, umbenannt)" }).to_string())
        .unwrap();
    assert_eq!(patch.status().as_u16(), 200);
    let (_, catalog) = api("GET", &format!("{base_b}/api/v1/catalog"), None);
    assert!(
        catalog
            .to_string()
            .contains("Wohngeld (Online-Dienst, umbenannt)"),
        "instance B serves the new name at once"
    );

    // 5. Both outbox workers deliver each mail exactly once (a burst of accounts through
    // the proxy, each with its mail).
    for i in 0..20 {
        let (status, v) = api(
            "POST",
            &format!("{base}/api/v1/users"),
            Some(
                &json!({ "email": format!("person{i}@example.org"), "name": format!("Person {i}"), "role": "clerk" }),
            ),
        );
        assert_eq!(status, 201, "{v}");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while number(
        &db,
        "SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL",
    ) > 0
    {
        assert!(Instant::now() < deadline, "the outbox does not empty");
        std::thread::sleep(Duration::from_millis(200));
    }
    let workers = number(
        &db,
        "SELECT COUNT(DISTINCT locked_by) AS n FROM outbox WHERE recipient LIKE 'person%'",
    );
    let mut to: Vec<String> = smtp
        .received()
        .iter()
        .filter_map(|m| m["to"][0].as_str().map(str::to_string))
        .filter(|t| t.starts_with("person"))
        .collect();
    to.sort();
    let mut expected: Vec<String> = (0..20).map(|i| format!("person{i}@example.org")).collect();
    expected.sort();
    assert_eq!(
        to, expected,
        "each mail exactly once (workers seen: {workers})"
    );

    // 6. Both instances run the reminder job every second: Essen's RV, waiting for Essen's
    // signature, is reminded of once.
    let essen = app.municipality("05113000");
    app.user(json!({ "email": "ob@essen.de", "name": "OB Essen", "role": "municipality", "municipality_id": essen, "may_sign": true }));
    let rv = app.create(json!({ "kind": "rv", "municipality_id": essen }));
    let rv_id = rv["id"].as_str().unwrap().to_string();
    assert_eq!(app.step(&rv_id, "submit").0, rocket::http::Status::Ok);
    let occasions = format!(
        "SELECT COUNT(*) AS n FROM reminders WHERE occasion LIKE 'signature_waiting:{rv_id}:%'"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while number(&db, &occasions) == 0 {
        assert!(Instant::now() < deadline, "no reminder");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Several more rounds of both.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(number(&db, &occasions), 1, "one reminder per occasion");

    // 7. SIGKILL one instance in the middle of a burst of writes through the proxy.
    let burst = std::thread::spawn({
        let base = base.clone();
        move || {
            (0..40)
                .map(|i| {
                    api(
                        "POST",
                        &format!("{base}/api/v1/users"),
                        Some(&json!({ "email": format!("burst{i}@d-nrw.de"), "name": format!("Burst {i}"), "role": "clerk" })),
                    )
                    .0
                })
                .collect::<Vec<u16>>()
        }
    });
    while number(
        &db,
        "SELECT COUNT(*) AS n FROM users WHERE email LIKE 'burst%'",
    ) < 10
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    a.0.kill().unwrap();
    a.0.wait().unwrap();
    let statuses = burst.join().unwrap();
    let created = statuses.iter().filter(|s| **s == 201).count() as i64;
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 502),
        "only created, or cut off with the instance: {statuses:?}"
    );
    // Nothing half-written: every account that exists has its audit record and its mail.
    let users = number(
        &db,
        "SELECT COUNT(*) AS n FROM users WHERE email LIKE 'burst%'",
    );
    assert!(users >= created, "{users} accounts, {created} answered 201");
    assert_eq!(
        number(
            &db,
            "SELECT COUNT(*) AS n FROM outbox WHERE recipient LIKE 'burst%'"
        ),
        users,
        "one mail per account"
    );
    assert_eq!(
        number(
            &db,
            "SELECT COUNT(*) AS n FROM audit_events a JOIN users u ON a.entity_id = u.id \
             WHERE u.email LIKE 'burst%' AND a.entity_type = 'user'"
        ),
        users,
        "one audit record per account"
    );
    // The other instance goes on, through the proxy.
    for i in 0..10 {
        let (status, v) = api(
            "POST",
            &format!("{base}/api/v1/users"),
            Some(
                &json!({ "email": format!("after{i}@d-nrw.de"), "name": format!("After {i}"), "role": "clerk" }),
            ),
        );
        assert_eq!(status, 201, "{v}");
    }
    let (status, html) = page(&format!("{base}/"), &cookie);
    assert_eq!(status, 200);
    assert!(html.contains("Heute zu tun"));
    let _ = std::fs::remove_dir_all(&dir);
}
