//! Latency of the API on the national-scale dataset (11,000 municipalities, 600 services,
//! 1,000,000 EAs with their RVs and EKVs).
//!
//!     BENCH_DATABASE_URL=sqlite://target/bench/national.db cargo bench --bench api
//!     BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench cargo bench --bench api
//!
//! Generates the dataset on first use (and prints how long that took), then sends each
//! request 1,000 times through Rocket's local client (routing, guard, database, JSON; no
//! TCP) and prints p50, p99 and the mean. `BENCH_REQUESTS` changes the count.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use rocket::http::Header;
use rocket::local::blocking::Client;

use nachnutzung::db::schema::{municipalities, services};

mod support;
use support::percentile;

const TOKEN: &str = "bench-staff-token-0123456789abcdef";

fn measure(client: &Client, label: &str, paths: &[String], n: usize) {
    let auth = Header::new("Authorization", format!("Bearer {TOKEN}"));
    for p in paths.iter().take(20) {
        let r = client.get(p.as_str()).header(auth.clone()).dispatch();
        assert_eq!(r.status().code, 200, "{p}: {:?}", r.into_string());
    }
    let mut times = Vec::with_capacity(n);
    let mut bytes = 0usize;
    for i in 0..n {
        let path = &paths[i % paths.len()];
        let start = Instant::now();
        let r = client.get(path.as_str()).header(auth.clone()).dispatch();
        let body = r.into_bytes().unwrap_or_default();
        times.push(start.elapsed());
        bytes += body.len();
    }
    times.sort();
    let mean = times.iter().sum::<Duration>() / n as u32;
    println!(
        "{label:<48} p50 {:>7.2} ms   p99 {:>7.2} ms   mean {:>7.2} ms   ({} requests, {:.1} KiB/response)",
        percentile(&times, 0.50).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        mean.as_secs_f64() * 1e3,
        n,
        bytes as f64 / n as f64 / 1024.0
    );
}

fn main() {
    let url = support::database_url();
    let n = support::env_number("BENCH_REQUESTS", 1000);
    let db = support::national(&url);
    let (munis, servs) = db
        .read_blocking(|c| {
            let m: Vec<String> = municipalities::table
                .select(municipalities::id)
                .order(municipalities::ags)
                .load(c)?;
            let s: Vec<String> = services::table
                .select(services::id)
                .order(services::name)
                .load(c)?;
            Ok((m, s))
        })
        .expect("ids");
    drop(db);

    let figment = rocket::Config::figment()
        .merge(("log_level", "off"))
        .merge(("database_url", url.clone()))
        .merge(("staff_token", TOKEN))
        // A release build on PostgreSQL needs a configured session key (the instances
        // share it); the bench's own is as good as any.
        .merge(("secret_key", vec![42u8; 64]))
        .merge(("seed_reference_data", false))
        .merge(("seed_demo_agreements", false));
    let client =
        Client::untracked(nachnutzung::app::build(figment).expect("build")).expect("client");

    // Spread the requests over many municipalities and services so no one row stays hot.
    let step = (munis.len() / 200).max(1);
    let muni_paths: Vec<String> = munis
        .iter()
        .step_by(step)
        .map(|m| format!("/api/v1/agreements?kind=ea&municipality_id={m}"))
        .collect();
    let status_paths: Vec<String> = servs
        .iter()
        .map(|s| format!("/api/v1/services/{s}/status"))
        .collect();
    let service_list_paths: Vec<String> = servs
        .iter()
        .map(|s| format!("/api/v1/agreements?kind=ea&service_id={s}&per_page=50"))
        .collect();
    measure(
        &client,
        "GET /api/v1/catalog",
        &["/api/v1/catalog".to_string()],
        n,
    );
    measure(
        &client,
        "GET /api/v1/agreements?kind=ea&municipality_id=",
        &muni_paths,
        n,
    );
    measure(
        &client,
        "GET /api/v1/services/{id}/status",
        &status_paths,
        n,
    );
    measure(
        &client,
        "GET /api/v1/agreements?kind=ea&service_id= (page)",
        &service_list_paths,
        n,
    );
}
