//! What an operator asks an instance: `/health/live`, `/health/ready` (and a 503 that
//! names the failing check), `/metrics` (who may read it, what it counts) and the
//! request id every answer carries. The JSON log line is in tests/it/cli.rs.

use crate::common::*;
use rocket::http::{ContentType, Header, Status};
use serde_json::{json, Value};

const LOCAL: &str = "127.0.0.1:40000";
const REMOTE: &str = "192.0.2.7:40000";

fn metrics(app: &TestApp, remote: &str, headers: &[(&str, &str)]) -> (Status, String) {
    let mut req = app.client.get("/metrics").remote(remote.parse().unwrap());
    for (name, value) in headers {
        req = req.header(Header::new(name.to_string(), value.to_string()));
    }
    let res = req.dispatch();
    (res.status(), res.into_string().unwrap_or_default())
}

/// The value of a metric's line that starts with `name` (labels included), 0 if absent.
fn value(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn live_and_ready_answer_with_each_check() {
    let app = TestApp::new();
    let res = app.client.get("/health/live").dispatch();
    assert_eq!(res.status(), Status::Ok);
    assert_eq!(res.into_json::<Value>().unwrap(), json!({ "status": "ok" }));

    let res = app.client.get("/health/ready").dispatch();
    assert_eq!(res.status(), Status::Ok);
    let body: Value = res.into_json().unwrap();
    assert_eq!(body["status"], "ready", "{body}");
    let backend = if app.is_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(body["checks"]["database"]["backend"], backend, "{body}");
    assert_eq!(body["checks"]["migrations"]["ok"], true);
    assert!(
        body["checks"]["seal"]["subject"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{body}"
    );
    assert!(
        body["checks"]["mail"]["transport"]
            .as_str()
            .is_some_and(|t| t == "folder"),
        "{body}"
    );

    // A migration the database lacks (as when an older schema meets a newer instance):
    // not ready, and the answer says which check failed.
    app.app_db()
        .write_blocking(|conn| {
            use diesel::connection::SimpleConnection;
            conn.batch_execute(
                "DELETE FROM __diesel_schema_migrations WHERE version = \
                 (SELECT MAX(version) FROM __diesel_schema_migrations)",
            )?;
            Ok(())
        })
        .unwrap();
    let res = app.client.get("/health/ready").dispatch();
    assert_eq!(res.status(), Status::ServiceUnavailable);
    let body: Value = res.into_json().unwrap();
    assert_eq!(body["status"], "not ready");
    assert_eq!(body["checks"]["database"]["ok"], true, "{body}");
    assert_eq!(
        body["checks"]["migrations"]["error"], "1 migrations not applied",
        "{body}"
    );
    // Alive all the same: the process answers.
    assert_eq!(
        app.client.get("/health/live").dispatch().status(),
        Status::Ok
    );
}

#[test]
fn metrics_are_served_to_this_machine_without_a_proxy_or_to_the_token() {
    let app = TestApp::new();
    assert_eq!(metrics(&app, LOCAL, &[]).0, Status::Ok);
    assert_eq!(metrics(&app, REMOTE, &[]).0, Status::Forbidden);
    // Through a proxy on this machine every request looks local: refused.
    assert_eq!(
        metrics(&app, LOCAL, &[("X-Forwarded-For", "192.0.2.7")]).0,
        Status::Forbidden
    );
    assert_eq!(
        metrics(&app, LOCAL, &[("X-Real-IP", "127.0.0.1")]).0,
        Status::Forbidden
    );

    let token = "metrics-token-0123456789abcdef";
    let app = TestApp::with_settings(false, &[("metrics_token", token)]);
    let bearer = format!("Bearer {token}");
    assert_eq!(
        metrics(&app, REMOTE, &[("Authorization", &bearer)]).0,
        Status::Ok
    );
    assert_eq!(
        metrics(
            &app,
            REMOTE,
            &[("Authorization", "Bearer metrics-token-0123456789abcdeX")]
        )
        .0,
        Status::Unauthorized
    );
    assert_eq!(metrics(&app, REMOTE, &[]).0, Status::Forbidden);

    // A token too short stops the start with a message.
    let (url, _cleanup) = fresh_database();
    let figment = rocket::Config::figment()
        .merge(("database_url", url))
        .merge(("data_dir", TestApp::data_dir()))
        .merge(("metrics_token", "short"));
    let err = nachnutzung::app::build(figment).expect_err("refused");
    assert!(err.message.contains("metrics_token"), "{}", err.message);
}

#[test]
fn metrics_count_requests_by_route_template_logins_seals_and_the_outbox() {
    let app = TestApp::with_demo();
    let (_, before) = metrics(&app, LOCAL, &[]);

    // A page with an id in its address is counted under its template.
    let ea = app.ok("GET", "/api/v1/agreements?kind=ea&per_page=1", None)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = app.get(&format!("/api/v1/agreements/{ea}"));
    assert_eq!(status, Status::Ok);
    // A failed login.
    let form = app
        .client
        .get("/anmelden")
        .dispatch()
        .into_string()
        .unwrap();
    let at = form.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = &form[at..at + 64];
    let res = app
        .client
        .post("/anmelden")
        .header(ContentType::Form)
        .header(Header::new("X-Real-IP", "192.0.2.44"))
        .body(format!(
            "csrf={csrf}&email=niemand%40d-nrw.de&password=falsch-falsch-falsch"
        ))
        .dispatch();
    assert_ne!(
        res.status(),
        Status::SeeOther,
        "a wrong password logs nobody in"
    );
    // A mail waits: an invitation (the worker is off in tests).
    let (status, body) = app.post(
        "/api/v1/users",
        json!({ "email": "neu@d-nrw.de", "name": "Neu Person", "role": "clerk", "invite": true }),
    );
    assert_eq!(status, Status::Created, "{body}");

    let (status, after) = metrics(&app, LOCAL, &[]);
    assert_eq!(status, Status::Ok);
    let route = "nnr_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/agreements/<id>\",status=\"200\"}";
    assert!(
        value(&after, route) >= value(&before, route) + 1.0,
        "{route} in\n{after}"
    );
    assert!(!after.contains(&ea), "no ids in the metrics");
    assert!(
        value(&after, "nnr_logins_failed_total") >= value(&before, "nnr_logins_failed_total") + 1.0
    );
    // The demo sealed its documents at start; every seal is timed.
    assert!(
        value(&after, "nnr_seal_duration_seconds_count") >= 1.0,
        "{after}"
    );
    assert!(value(&after, "nnr_documents_stored") >= 1.0, "{after}");
    assert!(
        value(&after, "nnr_outbox_mails{state=\"waiting\"}") >= 1.0,
        "{after}"
    );
    assert!(value(&after, "nnr_db_pool_connections{state=\"open\"}") >= 1.0);
}

#[test]
fn every_answer_carries_a_request_id_and_a_proxys_plain_one_is_kept() {
    let app = TestApp::new();
    let res = app.client.get("/katalog").dispatch();
    let id = res.headers().get_one("X-Request-Id").unwrap().to_string();
    assert_eq!(id.len(), 32, "{id}");
    let other = app.client.get("/katalog").dispatch();
    assert_ne!(other.headers().get_one("X-Request-Id"), Some(id.as_str()));
    // Errors too.
    let missing = app.client.get("/gibt-es-nicht").dispatch();
    assert_eq!(missing.status(), Status::NotFound);
    assert!(missing.headers().get_one("X-Request-Id").is_some());

    let kept = app
        .client
        .get("/katalog")
        .header(Header::new("X-Request-Id", "proxy-4711_a"))
        .dispatch();
    assert_eq!(kept.headers().get_one("X-Request-Id"), Some("proxy-4711_a"));
    let replaced = app
        .client
        .get("/katalog")
        .header(Header::new("X-Request-Id", "x\"}{\"user\":\"admin"))
        .dispatch();
    let new = replaced.headers().get_one("X-Request-Id").unwrap();
    assert_eq!(new.len(), 32, "a forged id is replaced: {new}");
}

#[test]
fn the_reminder_job_is_counted() {
    let app = TestApp::with_figment(false, |f| f.merge(("reminder_interval_secs", 1)));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, text) = metrics(&app, LOCAL, &[]);
        if value(&text, "nnr_reminder_runs_total") >= 1.0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no reminder run counted:\n{text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// The pool hands a connection that came back a moment ago out again without a
/// `SELECT 1` (a round trip before every page's reads), and checks one that sat longer
/// or whose last statement failed: a connection the server dropped (a restart, a
/// firewall) is replaced before a caller uses it. On PostgreSQL the server ends the
/// pool's connection; on SQLite the file is always there, so only the counting shows.
#[test]
fn the_pool_checks_a_connection_only_after_a_pause_or_a_failure() {
    let app = TestApp::new();
    let db = nachnutzung::db::Db::open(
        &nachnutzung::db::DbUrl::parse(&app.database_url).unwrap(),
        1,
    )
    .unwrap();
    let read = |db: &nachnutzung::db::Db| {
        db.read_blocking(|c| {
            use diesel::prelude::*;
            Ok(nachnutzung::db::schema::municipalities::table
                .count()
                .get_result::<i64>(c)?)
        })
    };
    read(&db).unwrap();
    // Reused at once: one statement, no check before it.
    let before = db.queries();
    read(&db).unwrap();
    assert_eq!(
        db.queries() - before,
        1,
        "no SELECT 1 for a connection just returned"
    );
    // After a pause: checked first.
    std::thread::sleep(nachnutzung::db::TRUSTED_FOR + std::time::Duration::from_millis(200));
    let before = db.queries();
    read(&db).unwrap();
    assert_eq!(db.queries() - before, 2, "SELECT 1, then the read");
    // After a failed statement: checked first, even at once.
    let failed = db.read_blocking(|c| {
        use diesel::connection::SimpleConnection;
        c.batch_execute("SELECT * FROM no_such_table")?;
        Ok(())
    });
    assert!(failed.is_err());
    let before = db.queries();
    read(&db).unwrap();
    assert_eq!(db.queries() - before, 2, "checked after a failure");

    if app.is_postgres() {
        // The server ends the pool's connection (as a restart would): after a pause the
        // check notices, and the read runs on a new connection.
        let ended = |db: &nachnutzung::db::Db| {
            let admin = nachnutzung::db::Db::open(
                &nachnutzung::db::DbUrl::parse(&app.database_url).unwrap(),
                1,
            )
            .unwrap();
            let pid = db
                .read_blocking(|c| {
                    use diesel::prelude::*;
                    Ok(
                        diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>(
                            "pg_backend_pid()",
                        ))
                        .get_result::<i32>(c)?,
                    )
                })
                .unwrap();
            admin
                .read_blocking(move |c| {
                    use diesel::connection::SimpleConnection;
                    c.batch_execute(&format!("SELECT pg_terminate_backend({pid})"))?;
                    Ok(())
                })
                .unwrap();
        };
        ended(&db);
        std::thread::sleep(nachnutzung::db::TRUSTED_FOR + std::time::Duration::from_millis(200));
        assert!(
            read(&db).is_ok(),
            "a dropped connection is replaced after a pause"
        );
        // Ended right after use: the first read may meet the closed connection (it
        // fails, nothing is written); the one after it is checked and replaced.
        ended(&db);
        let _ = read(&db);
        assert!(read(&db).is_ok(), "replaced after the failure");
    }
}
