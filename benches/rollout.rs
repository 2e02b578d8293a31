//! Time to compute the roll-out matrix's JSON export (`GET /api/v1/rollout` for d-NRW
//! staff: the grouped query, the counting and the serialisation), for the NRW scale
//! (430 municipalities × 100 services, 25,800 Einzelabrufe) and for the national-scale
//! dataset (11,000 × 600, 1,000,000 Einzelabrufe).
//!
//!     cargo bench --bench rollout
//!     BENCH_NRW_URL=postgres://postgres@127.0.0.1:5432/bench_nrw \
//!     BENCH_NATIONAL_URL=postgres://postgres@127.0.0.1:5432/bench cargo bench --bench rollout
//!
//! Each dataset is generated on first use (`seed::national::generate`; the national one is
//! shared with `benches/api.rs`). `BENCH_RUNS` changes the number of timed runs (default 50
//! for NRW, 10 for the national scale).

use std::time::{Duration, Instant};

use diesel::prelude::*;

use nachnutzung::actions::rollout::{self, RolloutFilter};
use nachnutzung::db::schema::municipalities;
use nachnutzung::db::{Db, DbUrl};
use nachnutzung::domain::text::Checked;
use nachnutzung::seed::national::{generate, Scale};
use nachnutzung::store::Scope;

fn open(url: &str, scale: Scale) -> Db {
    let parsed = DbUrl::parse(url).expect("database url");
    let db = Db::open(&parsed, 2).expect("open");
    db.migrate().expect("migrate");
    let existing: i64 = db
        .read_blocking(|c| Ok(municipalities::table.count().get_result(c)?))
        .expect("count");
    if existing == 0 {
        println!("generating {scale:?} into {url} …");
        let report = db
            .write_blocking(|c| generate(c, scale, &mut |_| {}))
            .expect("generate");
        db.optimize().expect("optimize");
        println!(
            "  {} agreements in {:.1} s",
            report.agreements, report.seconds
        );
    }
    db
}

fn measure(label: &str, db: &Db, filter: &RolloutFilter, runs: usize, csv: bool) {
    let filter = &Checked::new(filter.clone()).expect("filter");
    let mut times = Vec::with_capacity(runs);
    let mut bytes = 0;
    for i in 0..=runs {
        let start = Instant::now();
        let r = db
            .read_blocking(|c| rollout::compute(c, &Scope::All, filter))
            .expect("rollout");
        let out = if csv {
            rollout::to_csv(&r).expect("csv")
        } else {
            serde_json::to_vec(&r).expect("json")
        };
        // The first run warms the caches and is not counted.
        if i > 0 {
            times.push(start.elapsed());
        }
        bytes = out.len();
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{label:<58} median {:>8.1} ms   min {:>8.1} ms   max {:>8.1} ms   ({runs} runs, {:.1} MiB)",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1]),
        bytes as f64 / 1024.0 / 1024.0
    );
}

fn main() {
    let runs: Option<usize> = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok());
    std::fs::create_dir_all("target/bench").expect("target/bench");
    let nrw_url = std::env::var("BENCH_NRW_URL")
        .unwrap_or_else(|_| "sqlite://target/bench/rollout-nrw.db".into());
    let national_url = std::env::var("BENCH_NATIONAL_URL")
        .unwrap_or_else(|_| "sqlite://target/bench/national.db".into());
    let nrw = Scale {
        municipalities: 430,
        services: 100,
        providers: 20,
        eas: 25_800,
    };
    let all = RolloutFilter::default();

    let db = open(&nrw_url, nrw);
    println!("NRW scale ({nrw_url})");
    measure(
        "  JSON, all 430 × 100",
        &db,
        &all,
        runs.unwrap_or(50),
        false,
    );
    measure("  CSV, all 430 × 100", &db, &all, runs.unwrap_or(50), true);
    drop(db);

    let db = open(&national_url, Scale::NATIONAL);
    println!("national scale ({national_url})");
    measure(
        "  JSON, all 11,000 × 600",
        &db,
        &all,
        runs.unwrap_or(10),
        false,
    );
    measure(
        "  CSV, all 11,000 × 600",
        &db,
        &all,
        runs.unwrap_or(10),
        true,
    );
}
