//! The pages users open, on the national-scale dataset (11,000 municipalities, 600
//! services, 1,000,000 EAs), with many logged-in clients at once.
//!
//!     BENCH_DATABASE_URL=sqlite://target/bench/national.db cargo bench --bench pages
//!     BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench cargo bench --bench pages
//!
//! Generates the dataset on first use (shared with `benches/api.rs`), adds one user per
//! role, starts the application on a loopback port (release build, real HTTP), logs in
//! through the login form as a clerk, a municipality and another Land's intermediary,
//! and then, page after page, lets `BENCH_CLIENTS` (32) clients with their session
//! cookies each send their share of `BENCH_REQUESTS` (640) requests as fast as answers
//! come. Prints p50, p99 and the largest time per page, and the size of the answer.
//! `BENCH_ONLY=rollout` measures only the pages whose label contains the word.

use std::io::Read;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use diesel::prelude::*;

use nachnutzung::actions::accounts::NewUser;
use nachnutzung::db::schema::{agreements, municipalities, organisations, services, users};
use nachnutzung::domain::agreement::AgreementKind;
use nachnutzung::domain::text::Checked;
use nachnutzung::store::organisation::Organisation;

mod support;
use support::{ms, percentile};

const PASSWORD: &str = "Bench-Passwort-2026!x";
const CLERK: &str = "sachbearbeitung@bench.example";
const MUNICIPALITY: &str = "kommune@bench.example";
const INTERMEDIARY: &str = "vermittlung@bench.example";
const INTERMEDIARY_NAME: &str = "Vermittlungsstelle Niedersachsen (synthetisch)";

/// The ids the pages are opened with.
struct Ids {
    municipalities: Vec<String>,
    services: Vec<String>,
    /// EAs of many municipalities.
    eas: Vec<String>,
    /// The EAs of the bench municipality.
    own_eas: Vec<String>,
}

/// One user per role, with a password that needs no change; the intermediary
/// organisation is made once.
fn users(db: &nachnutzung::db::Db) -> Ids {
    db.write_blocking(|c| {
        let munis: Vec<String> = municipalities::table
            .select(municipalities::id)
            .order(municipalities::ags)
            .load(c)?;
        let servs: Vec<String> = services::table
            .select(services::id)
            .order(services::name)
            .load(c)?;
        let existing: Option<String> = organisations::table
            .filter(organisations::name.eq(INTERMEDIARY_NAME))
            .select(organisations::id)
            .first(c)
            .optional()?;
        let intermediary = match existing {
            Some(id) => id,
            None => {
                let org = Organisation::new(INTERMEDIARY_NAME, true, false);
                org.insert(c)?;
                org.id
            }
        };
        let bench_muni = munis[munis.len() / 2].clone();
        for (email, role, municipality, organisation) in [
            (CLERK, "clerk", None, None),
            (MUNICIPALITY, "municipality", Some(bench_muni.clone()), None),
            (
                INTERMEDIARY,
                "intermediary",
                None,
                Some(intermediary.clone()),
            ),
        ] {
            let known: i64 = users::table
                .filter(users::email.eq(email))
                .count()
                .get_result(c)?;
            if known == 0 {
                Checked::new(NewUser {
                    email: email.into(),
                    name: format!("Bench {role}"),
                    role: role.into(),
                    municipality_id: municipality,
                    organisation_id: organisation,
                    may_sign: true,
                    password: Some(PASSWORD.into()),
                    ..NewUser::default()
                })?
                .create(c, "bench")?;
            }
        }
        diesel::update(users::table.filter(users::email.like("%@bench.example")))
            .set(users::must_change_password.eq(false))
            .execute(c)?;
        let step = (munis.len() / 200).max(1);
        let mut eas = Vec::new();
        for m in munis.iter().step_by(step) {
            let id: Option<String> = agreements::table
                .filter(agreements::municipality_id.eq(m))
                .filter(agreements::kind.eq(AgreementKind::Ea.as_str()))
                .select(agreements::id)
                .first(c)
                .optional()?;
            eas.extend(id);
        }
        let own_eas: Vec<String> = agreements::table
            .filter(agreements::municipality_id.eq(&bench_muni))
            .filter(agreements::kind.eq(AgreementKind::Ea.as_str()))
            .select(agreements::id)
            .load(c)?;
        Ok(Ids {
            municipalities: munis.into_iter().step_by(step).collect(),
            services: servs,
            eas,
            own_eas,
        })
    })
    .expect("bench users")
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(600)))
        .build()
        .into()
}

/// The `name=value` pairs of a response's Set-Cookie headers.
fn cookies_of(response: &ureq::http::Response<ureq::Body>) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_string)
        .collect()
}

/// Logs in through the form (CSRF token from the page, session cookie from the answer).
fn login(base: &str, email: &str) -> String {
    let agent = agent();
    let mut page = agent
        .get(format!("{base}/anmelden"))
        .call()
        .expect("login page");
    let cookie = cookies_of(&page).join("; ");
    let html = page.body_mut().read_to_string().expect("login html");
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("csrf field")
        .to_string();
    let answer = agent
        .post(format!("{base}/anmelden"))
        .header("Cookie", &cookie)
        .send_form([
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", PASSWORD),
        ])
        .expect("login");
    assert_eq!(answer.status().as_u16(), 303, "login of {email}");
    cookies_of(&answer)
        .into_iter()
        .find(|c| !c.ends_with('='))
        .expect("session cookie")
}

/// Sends `n` requests from `clients` threads, each rotating over `paths`; prints the line.
fn measure(base: &str, cookie: &str, label: &str, paths: &[String], clients: usize, n: usize) {
    if let Ok(only) = std::env::var("BENCH_ONLY") {
        if !label.contains(&only) {
            return;
        }
    }
    let fetch = |agent: &ureq::Agent, path: &str| -> (u16, usize) {
        let mut r = agent
            .get(format!("{base}{path}"))
            .header("Cookie", cookie)
            // As a browser asks (the roll-out's CSV is sent gzipped then; pages are not).
            .header("Accept-Encoding", "gzip, deflate, br")
            .call()
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = r.status().as_u16();
        let mut body = Vec::new();
        r.body_mut()
            .as_reader()
            .read_to_end(&mut body)
            .expect("body");
        (status, body.len())
    };
    // Warm-up, and every answer must be a page, not an error or a redirect to the login.
    let warm = agent();
    let mut size = 0;
    for p in paths.iter().take(5) {
        let (status, len) = fetch(&warm, p);
        assert_eq!(status, 200, "{label}: {p}");
        size = size.max(len);
    }
    let times = Mutex::new(Vec::with_capacity(n));
    let failed = Mutex::new(Vec::new());
    let start = Instant::now();
    std::thread::scope(|s| {
        for client in 0..clients {
            let times = &times;
            let failed = &failed;
            s.spawn(move || {
                let agent = agent();
                let mine = n / clients + usize::from(client < n % clients);
                let mut local = Vec::with_capacity(mine);
                for i in 0..mine {
                    let path = &paths[(client * 7919 + i) % paths.len()];
                    let t = Instant::now();
                    let (status, _) = fetch(&agent, path);
                    local.push(t.elapsed());
                    if status != 200 {
                        failed.lock().expect("failed").push(status);
                    }
                }
                times.lock().expect("times").extend(local);
            });
        }
    });
    let wall = start.elapsed();
    let mut times = times.into_inner().expect("times");
    times.sort();
    let mut failed = failed.into_inner().expect("failed");
    failed.sort_unstable();
    failed.dedup();
    println!(
        "{label:<44} p50 {:>8.1} ms  p99 {:>8.1} ms  max {:>8.1} ms  {:>6.0} req/s  {:>9.1} KiB{}",
        ms(percentile(&times, 0.50)),
        ms(percentile(&times, 0.99)),
        ms(*times.last().expect("samples")),
        times.len() as f64 / wall.as_secs_f64(),
        size as f64 / 1024.0,
        if failed.is_empty() {
            String::new()
        } else {
            format!("  NOT ALL ANSWERED 200: {failed:?}")
        }
    );
}

fn main() {
    let url = support::database_url();
    let clients = support::env_number("BENCH_CLIENTS", 32);
    let n = support::env_number("BENCH_REQUESTS", 640);
    let db = support::national(&url);
    let ids = users(&db);
    db.optimize().expect("optimize");
    drop(db);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let data = std::env::temp_dir().join(format!("nachnutzung-pages-{port}"));
    let figment = rocket::Config::figment()
        .merge(("log_level", "off"))
        .merge(("address", "127.0.0.1"))
        .merge(("port", port))
        .merge(("database_url", url.clone()))
        .merge(("data_dir", data.display().to_string()))
        // A release build on PostgreSQL needs a configured session key.
        .merge(("secret_key", vec![42u8; 64]))
        .merge(("seed_reference_data", false))
        .merge(("seed_demo_agreements", false));
    let rocket = nachnutzung::app::build(figment).expect("build");
    std::thread::spawn(move || {
        let _ = rocket::execute(rocket.launch());
    });
    let base = format!("http://127.0.0.1:{port}");
    let probe = agent();
    for _ in 0..600 {
        if probe.get(format!("{base}/anmelden")).call().is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!(
        "{clients} clients, {n} requests per page, {} municipalities and {} services rotated",
        ids.municipalities.len(),
        ids.services.len()
    );

    let each = |prefix: &str, list: &[String]| -> Vec<String> {
        list.iter().map(|id| format!("{prefix}{id}")).collect()
    };
    let one = |p: &str| vec![p.to_string()];

    let clerk = login(&base, CLERK);
    println!("-- Sachbearbeitung (d-NRW)");
    let pages: Vec<(&str, Vec<String>)> = vec![
        ("/ (Zu tun)", one("/")),
        ("/vereinbarungen", one("/vereinbarungen")),
        ("/vereinbarungen?art=ea", one("/vereinbarungen?art=ea")),
        (
            "/vereinbarungen?art=ea&status=draft",
            one("/vereinbarungen?art=ea&status=draft"),
        ),
        (
            // Beyond the last page (200, where the count stops): shows the last.
            "/vereinbarungen?art=ea&seite=2000 (→ 20)",
            one("/vereinbarungen?art=ea&seite=2000"),
        ),
        ("/vereinbarungen/{EA}", each("/vereinbarungen/", &ids.eas)),
        ("/aufgaben", one("/aufgaben")),
        ("/kommunen", one("/kommunen")),
        ("/kommunen?q=…", one("/kommunen?q=Gemeinde%2009")),
        ("/kommunen/{id}", each("/kommunen/", &ids.municipalities)),
        ("/dienste", one("/dienste")),
        ("/dienste/{id}", each("/dienste/", &ids.services)),
        ("/partner", one("/partner")),
        ("/katalog", one("/katalog")),
        ("/rollout", one("/rollout")),
        ("/rollout.csv (export)", one("/rollout.csv")),
    ];
    for (label, paths) in &pages {
        measure(&base, &clerk, label, paths, clients, n);
    }

    let municipality = login(&base, MUNICIPALITY);
    println!("-- Kommune");
    for (label, paths) in [
        ("/ → Meine Kommune", one("/kommune")),
        ("/vereinbarungen (eigene)", one("/vereinbarungen")),
        (
            "/vereinbarungen/{eigener EA}",
            each("/vereinbarungen/", &ids.own_eas),
        ),
        ("/aufgaben (eigene)", one("/aufgaben")),
        ("/katalog", one("/katalog")),
    ] {
        measure(&base, &municipality, label, &paths, clients, n);
    }

    let intermediary = login(&base, INTERMEDIARY);
    println!("-- Vermittlungsstelle eines anderen Landes");
    for (label, paths) in [
        ("/ (Wartet auf Sie)", one("/")),
        ("/vereinbarungen (eigene)", one("/vereinbarungen")),
        ("/katalog", one("/katalog")),
    ] {
        measure(&base, &intermediary, label, &paths, clients, n);
    }
    let _ = std::fs::remove_dir_all(&data);
}
