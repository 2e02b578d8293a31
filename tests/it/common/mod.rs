//! TestApp: the real application on a fresh database per test. SQLite by default (a new
//! file); PostgreSQL when `TEST_DATABASE_URL=postgres://…` is set (a new schema, dropped
//! afterwards). Every test file runs unchanged on both.

#![allow(dead_code)]

use diesel::connection::SimpleConnection;
use diesel::Connection;
use rocket::http::{ContentType, Header, Status};
use rocket::local::blocking::Client;
use serde_json::{json, Value};

pub const TOKEN: &str = "test-staff-token-0123456789abcdef";

pub struct TestApp {
    pub client: Client,
    pub database_url: String,
    cleanup: Cleanup,
}

pub enum Cleanup {
    Sqlite(std::path::PathBuf),
    Postgres {
        base: String,
        schema: String,
    },
    /// Another owner removes it (`TestApp::attach`).
    Nothing,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        match self {
            Cleanup::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { base, schema } => {
                if let Ok(mut c) = diesel::PgConnection::establish(base) {
                    let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
                }
            }
            Cleanup::Nothing => {}
        }
    }
}

/// A free port on the loopback interface (for a server a test starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh database URL for one test, and what to remove afterwards.
pub fn fresh_database() -> (String, Cleanup) {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    match std::env::var("TEST_DATABASE_URL") {
        Ok(base) if base.starts_with("postgres") => {
            let schema = format!("t_{tag}");
            let mut c = diesel::PgConnection::establish(&base)
                .unwrap_or_else(|e| panic!("TEST_DATABASE_URL {base} unreachable: {e}"));
            c.batch_execute(&format!("CREATE SCHEMA {schema}"))
                .expect("create schema");
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
            (url, Cleanup::Postgres { base, schema })
        }
        _ => {
            let dir = std::env::temp_dir().join(format!("nachnutzung-test-{tag}"));
            std::fs::create_dir_all(&dir).expect("temp dir");
            let url = format!("sqlite://{}", dir.join("test.db").display());
            (url, Cleanup::Sqlite(dir))
        }
    }
}

fn figment(database_url: &str, demo: bool) -> rocket::figment::Figment {
    figment_with(database_url, true, demo)
}

fn figment_with(database_url: &str, reference: bool, demo: bool) -> rocket::figment::Figment {
    rocket::Config::figment()
        .merge(("port", 0))
        .merge(("log_level", "off"))
        .merge(("database_url", database_url.to_string()))
        .merge(("database_pool_size", 8))
        .merge(("staff_token", TOKEN))
        .merge(("data_dir", TestApp::data_dir()))
        // As behind a reverse proxy that sets X-Real-IP (Rocket.toml trusts no header).
        .merge(("ip_header", "X-Real-IP"))
        .merge(("seed_reference_data", reference))
        .merge(("seed_demo_agreements", demo))
        // Tests run the outbox worker and the reminder job themselves (tests/it/mail.rs).
        .merge(("mail_worker_interval_secs", 0))
        .merge(("reminder_interval_secs", 0))
}

impl TestApp {
    /// Reference data (municipalities, intermediaries, services), no agreements.
    pub fn new() -> TestApp {
        TestApp::with(false)
    }

    /// Reference data and the two demo scenarios.
    pub fn with_demo() -> TestApp {
        TestApp::with(true)
    }

    fn with(demo: bool) -> TestApp {
        TestApp::with_settings(demo, &[])
    }

    /// Reference data, with settings (e.g. `("signing_order", "dnrw_first")`).
    pub fn with_settings(demo: bool, settings: &[(&str, &str)]) -> TestApp {
        let (database_url, cleanup) = fresh_database();
        let mut f = figment(&database_url, demo);
        for (key, value) in settings {
            f = f.merge((*key, *value));
        }
        TestApp::start(f, database_url, cleanup)
    }

    /// Reference data, with the configuration changed by `edit` (settings of any type).
    pub fn with_figment(
        demo: bool,
        edit: impl FnOnce(rocket::figment::Figment) -> rocket::figment::Figment,
    ) -> TestApp {
        let (database_url, cleanup) = fresh_database();
        let f = edit(figment(&database_url, demo));
        TestApp::start(f, database_url, cleanup)
    }

    /// An in-process instance on a database that others created and remove (the cluster
    /// test's), its configuration changed by `edit`.
    pub fn attach(
        database_url: &str,
        edit: impl FnOnce(rocket::figment::Figment) -> rocket::figment::Figment,
    ) -> TestApp {
        let f = edit(figment(database_url, false));
        TestApp::start(f, database_url.to_string(), Cleanup::Nothing)
    }

    /// The data folder of every test app (it holds the shared TEST seal).
    pub fn data_dir() -> std::path::PathBuf {
        std::env::temp_dir().join("nachnutzung-test-data")
    }

    /// The TEST CA that validators must trust for the seal to be TRUSTED.
    pub fn test_ca() -> std::path::PathBuf {
        TestApp::data_dir().join("seal-test").join("test-ca.pem")
    }

    /// A sealed PDF as `GET …/document.pdf` serves it.
    pub fn document(&self, id: &str) -> Vec<u8> {
        let res = self
            .client
            .get(format!("/api/v1/agreements/{id}/document.pdf"))
            .header(Header::new("Authorization", format!("Bearer {TOKEN}")))
            .dispatch();
        assert_eq!(res.status(), Status::Ok, "document.pdf of {id}");
        assert_eq!(res.content_type(), Some(ContentType::PDF));
        res.into_bytes().unwrap()
    }

    /// `POST /api/v1/verify` (anonymous) with `pdf` as the body.
    pub fn verify(&self, pdf: &[u8]) -> (Status, Value) {
        let res = self
            .client
            .post("/api/v1/verify")
            .header(ContentType::PDF)
            .body(pdf)
            .dispatch();
        let status = res.status();
        (status, res.into_json().unwrap_or(Value::Null))
    }

    fn start(figment: rocket::figment::Figment, database_url: String, cleanup: Cleanup) -> TestApp {
        let rocket =
            nachnutzung::app::build(figment).unwrap_or_else(|e| panic!("build: {e} {:?}", e.cause));
        let client = Client::tracked(rocket).expect("client");
        TestApp {
            client,
            database_url,
            cleanup,
        }
    }

    /// No data at all, after `prepare` ran on the migrated database (e.g. a generator).
    pub fn empty_then(prepare: impl FnOnce(&mut nachnutzung::db::DbConn)) -> TestApp {
        let (database_url, cleanup) = fresh_database();
        let url = nachnutzung::db::DbUrl::parse(&database_url).unwrap();
        let db = nachnutzung::db::Db::open(&url, 1).unwrap();
        db.migrate().unwrap();
        prepare(&mut db.conn().unwrap());
        TestApp::start(
            figment_with(&database_url, false, false),
            database_url,
            cleanup,
        )
    }

    /// The configuration of another instance on this test's database, listening on
    /// 127.0.0.1:`port` (for tests that need a real HTTP server, e.g. the browser tests).
    pub fn served_on(&self, port: u16) -> rocket::figment::Figment {
        figment(&self.database_url, false)
            .merge(("address", "127.0.0.1"))
            .merge(("port", port))
    }

    /// Another instance of the application on this test's database (seeding as configured).
    pub fn second_instance(&self, demo: bool) -> rocket::Rocket<rocket::Build> {
        nachnutzung::app::build(figment(&self.database_url, demo))
            .unwrap_or_else(|e| panic!("build: {e} {:?}", e.cause))
    }

    /// Another instance on this test's database with its configuration changed by `edit`
    /// (its own data folder, a secret key, …): built, or the start's refusal.
    pub fn instance_with(
        &self,
        edit: impl FnOnce(rocket::figment::Figment) -> rocket::figment::Figment,
    ) -> Result<rocket::Rocket<rocket::Build>, nachnutzung::error::AppError> {
        nachnutzung::app::build(edit(figment(&self.database_url, false)))
    }

    /// The oldest mail of the outbox as if its sends had failed `attempts` times, the last
    /// with `error` (what the outbox page and the start page show for failed mail).
    pub fn fail_oldest_mail(&self, error: &str, attempts: i32) {
        let sql = format!(
            "UPDATE outbox SET last_error = '{}', attempts = {attempts} \
             WHERE id IN (SELECT id FROM outbox ORDER BY created_at LIMIT 1)",
            error.replace('\'', "''")
        );
        self.db()
            .write_blocking(move |c| {
                use diesel::connection::SimpleConnection;
                c.batch_execute(&sql)?;
                Ok(())
            })
            .unwrap();
    }

    /// The application's database, opened beside it with one connection: for what a
    /// test reads or prepares directly.
    pub fn db(&self) -> nachnutzung::db::Db {
        let url = nachnutzung::db::DbUrl::parse(&self.database_url).unwrap();
        nachnutzung::db::Db::open(&url, 1).unwrap()
    }

    /// The database pool the application itself uses (its write log included).
    pub fn app_db(&self) -> nachnutzung::db::Db {
        self.client
            .rocket()
            .state::<nachnutzung::http::state::AppState>()
            .expect("the application's state")
            .db
            .clone()
    }

    pub fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres")
    }

    /// A user created through the API (bootstrap token); returns (id, initial password).
    pub fn user(&self, body: Value) -> (String, String) {
        let (status, v) = self.post("/api/v1/users", body);
        assert_eq!(status, Status::Created, "{v}");
        (
            v["user"]["id"].as_str().unwrap().to_string(),
            v["initial_password"].as_str().unwrap().to_string(),
        )
    }

    /// A personal API token for the user with this e-mail, issued in the database (as
    /// `nachnutzung user token` does).
    pub fn token_for(&self, email: &str) -> String {
        let db = self.db();
        db.write_blocking(|conn| {
            let user = nachnutzung::store::user::User::find_by_email(conn, email)?.unwrap();
            let name =
                nachnutzung::domain::text::Checked::new(nachnutzung::store::user::TokenInput {
                    name: "Test".into(),
                })?;
            nachnutzung::store::user::ApiToken::issue(conn, &user, &name)
        })
        .unwrap()
        .secret
    }

    /// A request with `token` as bearer token.
    pub fn send_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (Status, Value) {
        let mut req = match method {
            "GET" => self.client.get(path),
            "POST" => self.client.post(path),
            "PATCH" => self.client.patch(path),
            "DELETE" => self.client.delete(path),
            _ => panic!("method {method}"),
        };
        req = req.header(Header::new("Authorization", format!("Bearer {token}")));
        if let Some(b) = body {
            req = req.header(ContentType::JSON).body(b.to_string());
        }
        let res = req.dispatch();
        let status = res.status();
        let text = res.into_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    fn send(&self, method: &str, path: &str, body: Option<&Value>, auth: bool) -> (Status, Value) {
        let mut req = match method {
            "GET" => self.client.get(path),
            "POST" => self.client.post(path),
            "PATCH" => self.client.patch(path),
            "DELETE" => self.client.delete(path),
            "PUT" => self.client.put(path),
            _ => panic!("method {method}"),
        };
        if auth {
            req = req.header(Header::new("Authorization", format!("Bearer {TOKEN}")));
        }
        if let Some(b) = body {
            req = req.header(ContentType::JSON).body(b.to_string());
        }
        let res = req.dispatch();
        let status = res.status();
        let text = res.into_string().unwrap_or_default();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub fn get(&self, path: &str) -> (Status, Value) {
        self.send("GET", path, None, true)
    }
    pub fn get_anon(&self, path: &str) -> (Status, Value) {
        self.send("GET", path, None, false)
    }
    pub fn post(&self, path: &str, body: Value) -> (Status, Value) {
        self.send("POST", path, Some(&body), true)
    }
    pub fn post_anon(&self, path: &str, body: Value) -> (Status, Value) {
        self.send("POST", path, Some(&body), false)
    }
    pub fn patch(&self, path: &str, body: Value) -> (Status, Value) {
        self.send("PATCH", path, Some(&body), true)
    }
    pub fn put(&self, path: &str, body: Value) -> (Status, Value) {
        self.send("PUT", path, Some(&body), true)
    }

    /// Records a municipality's Trägerschaft (`status`: traeger, kein_traeger, …) with
    /// the other fields of `body`; returns the municipality.
    pub fn record_membership(&self, municipality: &str, status: &str, body: Value) -> Value {
        let m = self.ok(
            "GET",
            &format!("/api/v1/municipalities/{municipality}"),
            None,
        );
        let mut body = body;
        body["lock_version"] = m["lock_version"].clone();
        body["status"] = json!(status);
        self.ok(
            "PUT",
            &format!("/api/v1/municipalities/{municipality}/membership"),
            Some(body),
        )
    }
    /// A raw body (for malformed JSON).
    pub fn post_raw(&self, path: &str, raw: &str) -> (Status, Value) {
        let res = self
            .client
            .post(path)
            .header(Header::new("Authorization", format!("Bearer {TOKEN}")))
            .header(ContentType::JSON)
            .body(raw)
            .dispatch();
        let status = res.status();
        let text = res.into_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.send(method, path, body.as_ref(), true);
        assert!(status.code < 300, "{method} {path}: {status} {value}");
        value
    }

    pub fn municipality(&self, ags: &str) -> String {
        let v = self.ok("GET", &format!("/api/v1/municipalities?ags={ags}"), None);
        assert_eq!(v["total"], 1, "AGS {ags}: {v}");
        v["items"][0]["id"].as_str().unwrap().to_string()
    }

    pub fn service(&self, name_part: &str) -> String {
        let v = self.ok("GET", "/api/v1/services", None);
        v.as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"].as_str().unwrap().contains(name_part))
            .unwrap_or_else(|| panic!("service {name_part}"))["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn organisation(&self, list: &str, name: &str) -> String {
        let v = self.ok("GET", &format!("/api/v1/{list}"), None);
        v.as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{list}: {name}"))["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Creates an agreement and returns its JSON (panics on refusal).
    pub fn create(&self, body: Value) -> Value {
        let (status, v) = self.post("/api/v1/agreements", body);
        assert_eq!(status, Status::Created, "{v}");
        v
    }

    pub fn step(&self, id: &str, action: &str) -> (Status, Value) {
        self.post(
            &format!("/api/v1/agreements/{id}/transitions"),
            json!({ "action": action }),
        )
    }

    /// d-NRW's organisation id.
    pub fn dnrw(&self) -> String {
        self.ok("GET", "/api/v1/kommunalvertreter", None)["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A new contact with signing authority; `owner` is "municipalities/<id>" or
    /// "organisations/<id>". Returns its id.
    pub fn signatory(&self, owner: &str, name: &str) -> String {
        let v = self.ok(
            "POST",
            &format!("/api/v1/{owner}/contacts"),
            Some(json!({ "name": name, "function": "Zeichnungsberechtigt", "may_sign": true })),
        );
        v["id"].as_str().unwrap().to_string()
    }

    /// The partner's owner path of an agreement: its municipality or its counterparty.
    pub fn partner_of(&self, id: &str) -> String {
        let a = self.ok("GET", &format!("/api/v1/agreements/{id}"), None);
        match a["municipality"]["id"].as_str() {
            Some(m) => format!("municipalities/{m}"),
            None => format!(
                "organisations/{}",
                a["counterparty"]["id"].as_str().unwrap()
            ),
        }
    }

    /// One signature by `contact`; returns the status and the signing state.
    pub fn sign_as(&self, id: &str, contact: &str) -> (Status, Value) {
        self.post(
            &format!("/api/v1/agreements/{id}/signatures"),
            json!({ "contact_id": contact }),
        )
    }

    /// The partner's and d-NRW's signatures (new signatories each time); the last one
    /// signs and seals. Returns the final signing state.
    pub fn sign_all(&self, id: &str) -> Value {
        let partner = self.signatory(&self.partner_of(id), "Paula Partner");
        let dnrw = self.signatory(&format!("organisations/{}", self.dnrw()), "Dora d-NRW");
        let (status, v) = self.sign_as(id, &partner);
        assert_eq!(status, Status::Created, "partner signature: {v}");
        let (status, v) = self.sign_as(id, &dnrw);
        assert_eq!(status, Status::Created, "d-NRW signature: {v}");
        assert!(v["document"]["sha256"].is_string(), "sealed: {v}");
        v
    }

    /// Sets a signed agreement back to "signed, not in force": the case the manual
    /// "In Kraft setzen" is for (its coming into force at the last signature failed, e.g.
    /// because what it rests on ended meanwhile), which the API cannot produce on purpose.
    pub fn stuck_signed(&self, id: &str) {
        use diesel::prelude::*;
        use nachnutzung::db::schema::{agreement_versions, agreements};
        let id = id.to_string();
        self.db()
            .write_blocking(move |c| {
                diesel::update(agreements::table.find(&id))
                    .set((
                        agreements::status.eq("signed"),
                        agreements::effective_from.eq(None::<time::Date>),
                    ))
                    .execute(c)?;
                diesel::update(
                    agreement_versions::table.filter(agreement_versions::agreement_id.eq(&id)),
                )
                .set(agreement_versions::status.eq("signed"))
                .execute(c)?;
                Ok(())
            })
            .unwrap();
    }

    /// A PDF the API serves (as staff), checked to be one.
    pub fn pdf(&self, path: &str) -> Vec<u8> {
        let res = self
            .client
            .get(path.to_string())
            .header(Header::new("Authorization", format!("Bearer {TOKEN}")))
            .dispatch();
        assert_eq!(res.status(), Status::Ok, "{path}");
        let bytes = res.into_bytes().unwrap();
        assert!(bytes.starts_with(b"%PDF-"), "{path} is no PDF");
        bytes
    }

    /// submit → signatures (partner, d-NRW; sealed): in force with the last signature,
    /// as the contract text says.
    pub fn bring_into_force(&self, id: &str) -> Value {
        let (status, v) = self.step(id, "submit");
        assert_eq!(status, Status::Ok, "submit: {v}");
        self.sign_all(id);
        let last = self.ok("GET", &format!("/api/v1/agreements/{id}"), None);
        assert_eq!(
            last["status"], "in_force",
            "in force with the last signature: {last}"
        );
        last
    }

    /// A new agreement already in force.
    pub fn in_force(&self, body: Value) -> Value {
        let a = self.create(body);
        self.bring_into_force(a["id"].as_str().unwrap())
    }
}

pub fn avv() -> Value {
    json!({
        "subject": "Betrieb des Online-Dienstes Wohngeld",
        "duration": "Laufzeit der Vereinbarung",
        "nature_and_purpose": "Entgegennahme und Weiterleitung von Anträgen",
        "data_types": ["Name", "Anschrift", "Einkommen"],
        "data_subjects": ["Antragstellende Personen"],
        "technical_measures": ["Transportverschlüsselung", "OSCI-Verschlüsselung"],
        "sub_processors": []
    })
}

pub fn wohngeld_parameters() -> Value {
    json!({
        "zustaendige_stelle_url": "https://www.dortmund.de/wohngeld",
        "kontakt_email": "wohngeld@stadtdo.de"
    })
}

/// IÖV and EKV with Dataport for Wohngeld, in force; returns (ioev, ekv, service id).
pub fn wohngeld_supply(app: &TestApp) -> (Value, Value, String) {
    let dataport = app.organisation("intermediaries", "Dataport AöR");
    let wohngeld = app.service("Wohngeld (Online-Dienst");
    let ioev = app.in_force(json!({ "kind": "ioev", "counterparty_id": dataport }));
    let ekv = app.in_force(
        json!({ "kind": "ekv", "counterparty_id": dataport, "service_id": wohngeld, "avv": avv() }),
    );
    (ioev, ekv, wohngeld)
}

/// Wohngeld supplied (IÖV, EKV) and Dortmund's RV in force: an EA may be filed.
/// Returns (Dortmund's id, Wohngeld's id).
pub fn dortmund_ready_for_wohngeld(app: &TestApp) -> (String, String) {
    let (_, _, wohngeld) = wohngeld_supply(app);
    let dortmund = app.municipality("05913000");
    app.in_force(json!({ "kind": "rv", "municipality_id": dortmund }));
    (dortmund, wohngeld)
}

/// Dortmund's Einzelabruf for Wohngeld (EKV's AVV, the service's parameters), in force.
pub fn wohngeld_ea(app: &TestApp, dortmund: &str, wohngeld: &str) -> Value {
    app.in_force(json!({
        "kind": "ea", "municipality_id": dortmund, "service_id": wohngeld, "avv": avv(),
        "parameters": wohngeld_parameters()
    }))
}

/// The `field` names of a 422 response.
pub fn field_names(v: &Value) -> Vec<String> {
    v["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["field"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Runs an independent tool on `pdf` (written to a temporary file): its exit status and
/// its stdout and stderr together. Panics, so the test fails rather than skips, when the
/// tool is not installed (`.ci/run` installs poppler-utils, qpdf and pyHanko).
pub fn tool(name: &str, args: &[&str], pdf: &[u8]) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!(
        "nachnutzung-tool-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("doc.pdf");
    std::fs::write(&file, pdf).unwrap();
    let mut cmd = std::process::Command::new(name);
    cmd.args(args).arg(&file);
    if name == "pdftotext" {
        cmd.arg("-");
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("{name} is needed for this test (poppler-utils, qpdf, pyhanko-cli): {e}")
    });
    std::fs::remove_dir_all(&dir).unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A logged-in web user: the session the application would have set at login (the private
/// cookie is encrypted with the application's key by Rocket's client).
#[derive(Clone)]
pub struct WebUser {
    pub id: String,
    pub csrf: String,
    /// The account's lock_version at "login": sessions end when the account changes.
    pub stamp: i32,
    /// The password, where the test knows it (signing asks for it again).
    pub password: String,
}

impl WebUser {
    /// The session cookie's value (before the application's encryption).
    pub fn cookie_value(&self) -> String {
        let began = time::OffsetDateTime::now_utc().unix_timestamp();
        format!("{}|{}|{began}|{}", self.id, self.csrf, self.stamp)
    }
}

/// A page as the browser gets it: status, body, and the redirect target if any.
pub struct WebPage {
    pub status: Status,
    pub body: String,
    pub location: Option<String>,
}

impl WebPage {
    /// The page's text without tags (whitespace collapsed), for asserting what users read.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut in_tag = false;
        for c in self.body.chars() {
            match c {
                '<' => {
                    in_tag = true;
                    out.push(' ');
                }
                '>' => in_tag = false,
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out.replace("&amp;", "&")
            .replace("&quot;", "\"")
            .replace("&#x2F;", "/")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl WebPage {
    /// The token of the (first) form on the page.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form with a token")
            + 19;
        self.body[at..].split('"').next().unwrap().to_string()
    }
}

impl TestApp {
    /// The secret of the newest invitation mail to `email` waiting in the outbox.
    pub fn invitation_secret(&self, email: &str) -> String {
        let email = email.to_string();
        let bodies: Vec<String> = self
            .db()
            .read_blocking(move |c| {
                use diesel::prelude::*;
                use nachnutzung::db::schema::outbox;
                Ok(outbox::table
                    .filter(outbox::kind.eq("account_invitation"))
                    .filter(outbox::recipient.eq(email))
                    .order(outbox::created_at.desc())
                    .select(outbox::body_text)
                    .load::<String>(c)?)
            })
            .unwrap();
        let body = bodies.first().expect("an invitation mail");
        let at = body.find("/einladung/").expect("the link") + "/einladung/".len();
        body[at..at + 64].to_string()
    }

    /// A clerk invited through the use case (no password yet): the secret of its link.
    pub fn invited_clerk(&self, email: &str) -> String {
        let address = email.to_string();
        self.db()
            .write_blocking(move |c| {
                nachnutzung::domain::text::Checked::new(nachnutzung::actions::accounts::NewUser {
                    email: address,
                    name: "Eingeladene Person".into(),
                    role: "clerk".into(),
                    invite: true,
                    ..Default::default()
                })?
                .create(c, "test")
            })
            .unwrap();
        self.invitation_secret(email)
    }
}

/// One part of a multipart form: a text field or a file.
pub enum Part<'a> {
    Text(&'a str),
    File(&'a str, &'a [u8]),
}

impl TestApp {
    /// A web session for the user with this id (no password round trip: the login itself
    /// is tested in tests/it/web.rs).
    pub fn web_user(&self, id: &str) -> WebUser {
        let db = self.db();
        let uid = id.to_string();
        let user = db
            .read_blocking(move |conn| nachnutzung::store::user::User::find(conn, &uid))
            .unwrap();
        WebUser {
            id: id.to_string(),
            csrf: format!("{:064x}", uuid::Uuid::new_v4().as_u128()),
            stamp: user.lock_version,
            password: String::new(),
        }
    }

    /// A user created through the API who has set their own password (pages otherwise
    /// send them to the password change first), signed in.
    pub fn signed_in(&self, body: Value) -> WebUser {
        use diesel::prelude::*;
        use nachnutzung::db::schema::users;
        let (id, password) = self.user(body);
        let db = self.db();
        let uid = id.clone();
        db.write_blocking(move |conn| {
            diesel::update(users::table.find(uid))
                .set(users::must_change_password.eq(false))
                .execute(conn)?;
            Ok(())
        })
        .unwrap();
        WebUser {
            password,
            ..self.web_user(&id)
        }
    }

    /// Signs on the agreement page as `user`: the version waiting for signatures, the
    /// declaration confirmed, the password entered again.
    pub fn web_sign(&self, user: &WebUser, id: &str) -> WebPage {
        let (_, state) = self.get(&format!("/api/v1/agreements/{id}/signatures"));
        let version = state["version_no"].to_string();
        self.web_post(
            Some(user),
            &format!("/vereinbarungen/{id}/unterschreiben"),
            &[
                ("fassung", version.as_str()),
                ("erklaerung", "true"),
                ("passwort", user.password.as_str()),
            ],
        )
    }

    fn web_request<'c>(
        &'c self,
        req: rocket::local::blocking::LocalRequest<'c>,
        user: Option<&WebUser>,
    ) -> WebPage {
        let req = match user {
            Some(u) => {
                req.private_cookie(rocket::http::Cookie::new("nnr_sitzung", u.cookie_value()))
            }
            None => req,
        };
        let res = req.dispatch();
        let status = res.status();
        let location = res.headers().get_one("Location").map(str::to_string);
        let body = res.into_string().unwrap_or_default();
        WebPage {
            status,
            body,
            location,
        }
    }

    pub fn web_get(&self, user: Option<&WebUser>, path: &str) -> WebPage {
        self.web_request(self.client.get(path.to_string()), user)
    }

    /// A form POST; `csrf` is added from the session unless the body names one.
    pub fn web_post(&self, user: Option<&WebUser>, path: &str, fields: &[(&str, &str)]) -> WebPage {
        let mut body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect();
        if let Some(u) = user {
            if !fields.iter().any(|(k, _)| *k == "csrf") {
                body.push(format!("csrf={}", u.csrf));
            }
        }
        self.web_post_raw(user, path, &body.join("&"))
    }

    /// A form POST of an already encoded body, as it is.
    pub fn web_post_raw(&self, user: Option<&WebUser>, path: &str, body: &str) -> WebPage {
        let req = self
            .client
            .post(path.to_string())
            .header(ContentType::Form)
            .body(body);
        self.web_request(req, user)
    }

    /// A multipart form POST (file uploads), with the session's CSRF token.
    pub fn web_multipart(&self, user: &WebUser, path: &str, parts: &[(&str, Part<'_>)]) -> WebPage {
        let csrf = [("csrf", Part::Text(&user.csrf))];
        let raw: Vec<(String, Option<&str>, Vec<u8>)> = csrf
            .iter()
            .chain(parts.iter())
            .map(|(name, part)| match part {
                Part::Text(v) => (name.to_string(), None, v.as_bytes().to_vec()),
                Part::File(file, bytes) => (name.to_string(), Some(*file), bytes.to_vec()),
            })
            .collect();
        self.web_multipart_raw(Some(user), path, &raw)
    }

    /// A multipart form POST of these parts as they are: (name, file name of a file part,
    /// bytes); no CSRF token is added.
    pub fn web_multipart_raw(
        &self,
        user: Option<&WebUser>,
        path: &str,
        parts: &[(String, Option<&str>, Vec<u8>)],
    ) -> WebPage {
        let boundary = "----nachnutzung-test-boundary-7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (name, file, bytes) in parts {
            body.extend(format!("--{boundary}\r\n").as_bytes());
            match file {
                None => body.extend(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
                Some(file_name) => body.extend(format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes()),
            }
            body.extend_from_slice(bytes);
            body.extend(b"\r\n");
        }
        body.extend(format!("--{boundary}--\r\n").as_bytes());
        let req = self
            .client
            .post(path.to_string())
            .header(ContentType::new("multipart", "form-data").with_params(("boundary", boundary)))
            .body(body);
        self.web_request(req, user)
    }
}

pub fn urlencode(s: &str) -> String {
    urlencode_bytes(s.as_bytes())
}

/// Percent-encodes any bytes, valid UTF-8 or not.
pub fn urlencode_bytes(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A self-signed certificate as PEM, valid from `from_days` to `to_days` (relative to
/// today), with the given key usages ("keyEncipherment", …), like the DVDV certificates
/// municipalities upload.
pub fn certificate(cn: &str, from_days: i64, to_days: i64, usages: &[&str]) -> String {
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::extension::KeyUsage;
    use openssl::x509::{X509NameBuilder, X509};
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("C", "DE").unwrap();
    name.append_entry_by_text("O", "Stadt Köln").unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(now + from_days * 86_400).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(now + to_days * 86_400).unwrap())
        .unwrap();
    if !usages.is_empty() {
        let mut ku = KeyUsage::new();
        ku.critical();
        for u in usages {
            match *u {
                "keyEncipherment" => ku.key_encipherment(),
                "dataEncipherment" => ku.data_encipherment(),
                "keyAgreement" => ku.key_agreement(),
                "digitalSignature" => ku.digital_signature(),
                other => panic!("usage {other}"),
            };
        }
        b.append_extension(ku.build().unwrap()).unwrap();
    }
    b.sign(&key, MessageDigest::sha256()).unwrap();
    String::from_utf8(b.build().to_pem().unwrap()).unwrap()
}

/// A test signature card: a CA ("Test-Vertrauensdiensteanbieter") and a person's
/// certificate from it, marked as qualified (QcCompliance) when `qualified`.
pub struct TestQes {
    pub dir: std::path::PathBuf,
    pub ca_pem: String,
}

impl TestQes {
    pub fn new(cn: &str, qualified: bool) -> TestQes {
        use openssl::asn1::Asn1Time;
        use openssl::hash::MessageDigest;
        use openssl::pkey::PKey;
        use openssl::rsa::Rsa;
        use openssl::x509::extension::{BasicConstraints, KeyUsage};
        use openssl::x509::{X509Extension, X509NameBuilder, X509};
        let name = |cn: &str, o: &str| {
            let mut n = X509NameBuilder::new().unwrap();
            n.append_entry_by_text("C", "DE").unwrap();
            n.append_entry_by_text("O", o).unwrap();
            n.append_entry_by_text("CN", cn).unwrap();
            n.build()
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let ca_key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let ca_name = name("Test-QES-CA 1", "Test-Vertrauensdiensteanbieter");
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&ca_name).unwrap();
        b.set_issuer_name(&ca_name).unwrap();
        b.set_pubkey(&ca_key).unwrap();
        b.set_not_before(&Asn1Time::from_unix(now - 86_400).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::from_unix(now + 3650 * 86_400).unwrap())
            .unwrap();
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()
                .unwrap(),
        )
        .unwrap();
        b.sign(&ca_key, MessageDigest::sha256()).unwrap();
        let ca = b.build();

        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        let serial = openssl::bn::BigNum::from_u32(4711).unwrap();
        b.set_serial_number(&serial.to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(&name(cn, "Stadt Köln")).unwrap();
        b.set_issuer_name(&ca_name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::from_unix(now - 86_400).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::from_unix(now + 365 * 86_400).unwrap())
            .unwrap();
        b.append_extension(
            KeyUsage::new()
                .critical()
                .non_repudiation()
                .build()
                .unwrap(),
        )
        .unwrap();
        if qualified {
            // qcStatements: SEQUENCE { SEQUENCE { OID 0.4.0.1862.1.1 (QcCompliance) } }
            let der = [
                0x30, 0x0a, 0x30, 0x08, 0x06, 0x06, 0x04, 0x00, 0x8e, 0x46, 0x01, 0x01,
            ];
            let oid = openssl::asn1::Asn1Object::from_str("1.3.6.1.5.5.7.1.3").unwrap();
            let value = openssl::asn1::Asn1OctetString::new_from_bytes(&der).unwrap();
            b.append_extension(X509Extension::new_from_der(&oid, false, &value).unwrap())
                .unwrap();
        }
        b.sign(&ca_key, MessageDigest::sha256()).unwrap();
        let cert = b.build();
        let dir = std::env::temp_dir().join(format!("qes-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("key.pem"), key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        std::fs::write(dir.join("cert.pem"), cert.to_pem().unwrap()).unwrap();
        let ca_pem = String::from_utf8(ca.to_pem().unwrap()).unwrap();
        std::fs::write(dir.join("ca.pem"), &ca_pem).unwrap();
        TestQes { dir, ca_pem }
    }

    /// `pdf` signed with pyHanko as a signature software would: an incremental update
    /// with one more signature field.
    pub fn sign(&self, pdf: &[u8]) -> Vec<u8> {
        let input = self.dir.join(format!("in-{}.pdf", uuid::Uuid::new_v4()));
        let output = self.dir.join(format!("out-{}.pdf", uuid::Uuid::new_v4()));
        std::fs::write(&input, pdf).unwrap();
        let run = std::process::Command::new("pyhanko")
            .args([
                "sign",
                "addsig",
                "--field",
                &format!("QES-{}", uuid::Uuid::new_v4().simple()),
            ])
            .args(["pemder", "--no-pass", "--key"])
            .arg(self.dir.join("key.pem"))
            .arg("--cert")
            .arg(self.dir.join("cert.pem"))
            .arg("--chain")
            .arg(self.dir.join("ca.pem"))
            .arg(&input)
            .arg(&output)
            .output()
            .expect("pyhanko must be installed (pip install pyhanko pyhanko-cli)");
        assert!(
            run.status.success(),
            "pyhanko: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        std::fs::read(&output).unwrap()
    }
}

impl Drop for TestQes {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The texts of the data cells (`<td …>…</td>`) in a piece of a page, in order, whatever
/// attributes (KERN's classes, the phone layout's data-label) the cells carry.
pub fn cells(html: &str) -> Vec<String> {
    html.split("<td")
        .skip(1)
        .filter_map(|c| {
            let open = c.find('>')?;
            let close = c.find("</td>")?;
            Some(c[open + 1..close].to_string())
        })
        .collect()
}

/// The number a query answers as its one column `n` (`SELECT count(*) AS n …`).
pub fn number(db: &nachnutzung::db::Db, sql: &str) -> i64 {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    db.read_blocking(|c| Ok(diesel::sql_query(sql).get_result::<N>(c)?.n))
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
}
