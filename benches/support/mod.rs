//! What the national-scale benches share: the dataset (generated once into the database
//! named by `BENCH_DATABASE_URL`, reused afterwards) and the percentiles they print.

#![allow(dead_code)] // each bench uses part of it

use std::time::{Duration, Instant};

use diesel::prelude::*;

use nachnutzung::db::schema::municipalities;
use nachnutzung::db::{Db, DbUrl};
use nachnutzung::seed::national::{generate, Scale};

/// `BENCH_DATABASE_URL`, by default a SQLite file under `target/bench/`.
pub fn database_url() -> String {
    std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "sqlite://target/bench/national.db".into())
}

/// A number from the environment, or the default.
pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Opens the database, migrates it and writes the national dataset into it unless it
/// holds one already (generating takes minutes; reusing seconds).
pub fn national(url: &str) -> Db {
    if let Some(path) = url.strip_prefix("sqlite://") {
        if let Some(dir) = std::path::Path::new(path).parent() {
            std::fs::create_dir_all(dir).expect("bench folder");
        }
    }
    let parsed = DbUrl::parse(url).expect("BENCH_DATABASE_URL");
    let db = Db::open(&parsed, 4).expect("open");
    db.migrate().expect("migrate");
    let existing: i64 = db
        .read_blocking(|c| Ok(municipalities::table.count().get_result(c)?))
        .expect("count");
    if existing == 0 {
        println!("generating the national dataset into {url} …");
        let report = db
            .write_blocking(|c| {
                generate(c, Scale::NATIONAL, &mut |n| {
                    if n % 100_000 == 0 {
                        eprintln!("  {n} EAs");
                    }
                })
            })
            .expect("generate");
        let start = Instant::now();
        db.optimize().expect("optimize");
        println!(
            "seeding: {} agreements in {:.1} s, statistics refreshed in {:.1} s",
            report.agreements,
            report.seconds,
            start.elapsed().as_secs_f64()
        );
    } else {
        println!("reusing the dataset in {url} ({existing} municipalities)");
    }
    db
}

/// The value below which the share `p` of the sorted samples lie.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Milliseconds, for printing.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
