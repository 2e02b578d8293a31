//! Rendering and sealing: one 16-page Einzelabruf with AVV, and the bulk run for 396
//! municipalities; beside them the same work done by ReportLab + pyHanko.
//!
//!     cargo bench --bench documents
//!
//! 1. Writes a registry with 396 municipalities, one service and an EA for each (the
//!    national generator at NRW size) into a temporary SQLite file, marks the EAs signed
//!    and in force, and lengthens the first EA's AVV until its document has 16 pages.
//! 2. Single document: `produce` (layout, PDF, font subsetting, PAdES seal with the
//!    RSA-3072 TEST key) of that EA, `BENCH_RUNS` times (default 200) on one thread;
//!    prints the median and p90, and the median of the RSA signature alone.
//! 3. Bulk: `actions::bulk::render_service` for the 396 EAs on all cores, wall time,
//!    from a database without documents (read, render, seal, store each).
//! 4. Python: `benches/python/reportlab_pyhanko.py` lays out the same contract text with
//!    ReportLab (same DejaVu fonts) and seals it with pyHanko (same PKCS#12 key), the
//!    single document `BENCH_PY_RUNS` times (default 20) and the 396 documents with one
//!    process per core. Needs `pip install reportlab pyhanko`; skipped with a notice if
//!    missing (the figures in BENCHMARKS.md were taken with it).

use std::process::Command;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use nachnutzung::actions::documents::Prepared;
use nachnutzung::config::Config;
use nachnutzung::db::schema::{agreement_versions, agreements};
use nachnutzung::db::{Db, DbUrl};
use nachnutzung::domain::agreement::SubProcessor;
use nachnutzung::domain::signing::SigningOrder;
use nachnutzung::domain::Terms;
use nachnutzung::seal::Signer;
use nachnutzung::seed::national::{generate, Scale};
use nachnutzung::store::agreement::Agreement;

const MUNICIPALITIES: usize = 396;

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn p90(times: &[Duration]) -> Duration {
    times[(times.len() as f64 * 0.9) as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn pages(pdf: &[u8]) -> usize {
    lopdf::Document::load_mem(pdf)
        .map(|d| d.get_pages().len())
        .unwrap_or(0)
}

/// A fresh registry of 396 municipalities with one signed, in-force EA each.
fn setup(dir: &std::path::Path) -> Db {
    let url = DbUrl::parse(&format!("sqlite://{}", dir.join("bench.db").display())).unwrap();
    let db = Db::open(&url, 4).unwrap();
    db.migrate().unwrap();
    let scale = Scale {
        municipalities: MUNICIPALITIES,
        services: 1,
        providers: 1,
        eas: MUNICIPALITIES,
    };
    db.write_blocking(|conn| generate(conn, scale, &mut |_| {}))
        .unwrap();
    db.write_blocking(|conn| {
        conn.batch_execute(
            "UPDATE agreements SET status = 'in_force', signed_on = '2026-01-15', \
             effective_from = '2026-02-01', signed_by = 'Bürgermeisterin und Vorstand d-NRW', \
             active_key = 'ea:' || municipality_id || ':' || service_id WHERE kind = 'ea'",
        )?;
        Ok(())
    })
    .unwrap();
    db
}

/// Makes the first EA's AVV long enough for 16 pages; returns it prepared.
fn sixteen_pages(db: &Db, sealer: &nachnutzung::seal::Sealer) -> Prepared {
    let (id, terms): (String, String) = db
        .read_blocking(|conn| {
            Ok(agreements::table
                .inner_join(agreement_versions::table)
                .filter(agreements::kind.eq("ea"))
                .select((agreements::id, agreement_versions::terms))
                .order(agreements::reference)
                .first(conn)?)
        })
        .unwrap();
    let base: Terms = serde_json::from_str(&terms).unwrap();
    for extra in 0..400 {
        let mut t = base.clone();
        if let Some(avv) = t.avv.as_mut() {
            for i in 0..extra {
                avv.technical_measures.push(format!(
                    "Maßnahme {}: Die Auftragsverarbeiterin protokolliert administrative Zugriffe auf Systeme, die personenbezogene Daten der Antragstellenden verarbeiten, wertet die Protokolle regelmäßig aus und bewahrt sie zwölf Monate auf.",
                    i + 1
                ));
            }
            avv.sub_processors = (1..=6)
                .map(|i| SubProcessor {
                    name: format!("Rechenzentrumsbetreiber {i} GmbH"),
                    address: Some(format!("Musterstraße {i}, 40210 Düsseldorf")),
                    activity: "Betrieb der Server in einem nach BSI IT-Grundschutz zertifizierten Rechenzentrum".into(),
                })
                .collect();
        }
        let json = serde_json::to_string(&t).unwrap();
        let id2 = id.clone();
        db.write_blocking(move |conn| {
            diesel::update(
                agreement_versions::table.filter(agreement_versions::agreement_id.eq(&id2)),
            )
            .set(agreement_versions::terms.eq(&json))
            .execute(conn)?;
            Ok(())
        })
        .unwrap();
        let id3 = id.clone();
        let prepared = db
            .read_blocking(move |conn| {
                let a = Agreement::find(conn, &id3)?;
                nachnutzung::actions::documents::prepare(conn, SigningOrder::default(), &a, 1)
            })
            .unwrap();
        let doc = nachnutzung::actions::documents::produce(prepared.clone(), sealer).unwrap();
        let n = pages(&doc.pdf);
        if n >= 16 {
            assert_eq!(n, 16, "step too coarse");
            return prepared;
        }
    }
    panic!("no 16-page EA");
}

fn main() {
    let dir = std::env::temp_dir().join(format!("nachnutzung-bench-docs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = Config {
        data_dir: dir.join("data"),
        ..Default::default()
    };
    let sealer = nachnutzung::seal::Sealer::from_config(&config).unwrap();
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let skip_python = std::env::var("BENCH_SKIP_PYTHON").is_ok();
    let py_runs: usize = std::env::var("BENCH_PY_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);

    let db = setup(&dir);
    let prepared = sixteen_pages(&db, &sealer);

    // Single document, one thread.
    for _ in 0..5 {
        nachnutzung::actions::documents::produce(prepared.clone(), &sealer).unwrap();
    }
    let mut times = Vec::with_capacity(runs);
    let mut size = 0;
    for _ in 0..runs {
        let p = prepared.clone();
        let start = Instant::now();
        let doc = nachnutzung::actions::documents::produce(p, &sealer).unwrap();
        times.push(start.elapsed());
        size = doc.pdf.len();
    }
    let single = median(&mut times);
    println!(
        "render + seal, 16-page EA with AVV (Rust)      median {:>7.2} ms   p90 {:>7.2} ms   ({runs} runs, {:.0} KiB)",
        ms(single),
        ms(p90(&times)),
        size as f64 / 1024.0
    );
    // The two halves: layout and PDF, then the seal.
    let mut render_times = Vec::with_capacity(runs);
    let mut seal_times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let pdf = nachnutzung::documents::pdf::render(
            &prepared.text,
            nachnutzung::documents::pdf::Purpose::Final,
            &prepared.annex,
        )
        .unwrap();
        render_times.push(start.elapsed());
        let start = Instant::now();
        sealer
            .seal(&pdf, "d-NRW AöR", time::OffsetDateTime::now_utc())
            .unwrap();
        seal_times.push(start.elapsed());
    }
    println!(
        "  of which layout and PDF                       median {:>7.2} ms",
        ms(median(&mut render_times))
    );
    println!(
        "  of which the seal (parse, update, CMS, sign)  median {:>7.2} ms",
        ms(median(&mut seal_times))
    );
    // The RSA-3072 signature alone, through the same signer.
    let files = nachnutzung::seal::testca::ensure(&config.data_dir.join("seal-test")).unwrap();
    let signer =
        nachnutzung::seal::SoftwareSigner::from_pkcs12_file(&files.pkcs12, &files.password)
            .unwrap();
    let mut sig_times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            signer.sign(b"signed attributes").unwrap();
            start.elapsed()
        })
        .collect();
    println!(
        "  of which the RSA-3072 signature               median {:>7.2} ms",
        ms(median(&mut sig_times))
    );

    // Bulk: every EA of the service, from a database without documents.
    let started = Instant::now();
    let report = nachnutzung::actions::bulk::render_service(
        &db,
        &sealer,
        SigningOrder::default(),
        "Online-Dienst 000 (synthetisch)",
        cores,
        &|_, _| {},
    )
    .unwrap();
    let bulk = started.elapsed();
    assert_eq!(report.sealed, MUNICIPALITIES);
    println!(
        "bulk: {} EAs read, rendered, sealed, stored (Rust)  {:>7.2} s wall   ({} threads, {:.2} ms/document)",
        report.sealed,
        bulk.as_secs_f64(),
        report.threads,
        ms(bulk) / report.sealed as f64
    );

    // The same work in Python: ReportLab + pyHanko.
    if skip_python {
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let text_file = dir.join("ea.txt");
    std::fs::write(&text_file, &prepared.text.text).unwrap();
    let regular = dir.join("DejaVuSans.ttf");
    let bold = dir.join("DejaVuSans-Bold.ttf");
    std::fs::write(&regular, dejavu::sans::regular()).unwrap();
    std::fs::write(&bold, dejavu::sans::bold()).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/python/reportlab_pyhanko.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .arg("--text")
        .arg(&text_file)
        .arg("--font")
        .arg(&regular)
        .arg("--bold")
        .arg(&bold)
        .arg("--p12")
        .arg(&files.pkcs12)
        .arg("--password")
        .arg(&files.password)
        .arg("--runs")
        .arg(py_runs.to_string())
        .arg("--bulk")
        .arg(MUNICIPALITIES.to_string())
        .arg("--processes")
        .arg(cores.to_string())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let stdout = String::from_utf8_lossy(&o.stdout);
            print!("{stdout}");
            let single_py: f64 = stdout
                .lines()
                .find_map(|l| l.strip_prefix("python_single_median_ms "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(f64::NAN);
            let bulk_py: f64 = stdout
                .lines()
                .find_map(|l| l.strip_prefix("python_bulk_seconds "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(f64::NAN);
            println!(
                "Rust is {:.0}× faster for one document and {:.0}× faster in bulk",
                single_py / ms(single),
                bulk_py / bulk.as_secs_f64()
            );
        }
        Ok(o) => println!(
            "Python comparison failed (pip install reportlab pyhanko): {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => println!("Python comparison unavailable: {e}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
