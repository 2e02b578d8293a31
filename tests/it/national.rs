//! The benchmark dataset generator, at a small scale: consistent with the rules.

use crate::common::*;
use nachnutzung::seed::national::{generate, Scale};
use rocket::http::Status;
use serde_json::json;

#[test]
fn generated_dataset_follows_the_model() {
    let scale = Scale {
        municipalities: 40,
        services: 12,
        providers: 3,
        eas: 300,
    };
    let app = TestApp::empty_then(|conn| {
        let mut seen = 0;
        let report = generate(conn, scale, &mut |n| seen = n).expect("generate");
        assert_eq!(seen, 300);
        assert_eq!(report.agreements, 3 + 12 + 40 + 300);
        // A second run refuses: it only writes into an empty registry.
        assert!(generate(conn, scale, &mut |_| {}).is_err());
    });
    // Statistics are refreshed after the load (VACUUM ANALYZE cannot run in a transaction).
    app.db().optimize().expect("optimize");
    if !app.is_postgres() {
        // The planner keeps its value samples, but none for unique indexes: with them,
        // SQLite prepares every lookup by id anew at each run (`Db::optimize`).
        use diesel::connection::SimpleConnection;
        let count = |sql: &str| number(&app.db(), sql);
        let unique_samples = "SELECT count(*) AS n FROM sqlite_stat4 WHERE idx IN \
            (SELECT i.name FROM sqlite_master t, pragma_index_list(t.name) i \
             WHERE t.type = 'table' AND i.\"unique\" = 1)";
        let all_samples = "SELECT count(*) AS n FROM sqlite_stat4";
        assert!(count("SELECT count(*) AS n FROM sqlite_stat1") > 10);
        assert_eq!(count(unique_samples), 0);
        assert!(count(all_samples) > 0);
        // A plain ANALYZE samples them again; optimize drops them each time.
        app.db()
            .read_blocking(|c| Ok(c.batch_execute("ANALYZE")?))
            .expect("analyze");
        assert!(count(unique_samples) > 0);
        app.db().optimize().expect("optimize");
        assert_eq!(count(unique_samples), 0);
    }
    assert_eq!(
        app.ok("GET", "/api/v1/agreements?kind=ea&per_page=1", None)["total"],
        300
    );
    assert_eq!(
        app.ok("GET", "/api/v1/municipalities?per_page=1", None)["total"],
        40
    );

    // Every EA rests on an RV and an EKV in force.
    let page = app.ok("GET", "/api/v1/agreements?kind=ea&per_page=500", None);
    for ea in page["items"].as_array().unwrap() {
        assert_eq!(ea["links"]["rv"]["status"], "in_force", "{ea}");
        assert_eq!(ea["links"]["ekv"]["status"], "in_force", "{ea}");
    }
    let services = app.ok("GET", "/api/v1/services", None);
    let sum: i64 = services
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let st = app.ok(
                "GET",
                &format!("/api/v1/services/{}/status", s["id"].as_str().unwrap()),
                None,
            );
            st["einzelabrufe"]
                .as_object()
                .unwrap()
                .values()
                .map(|v| v.as_i64().unwrap())
                .sum::<i64>()
        })
        .sum();
    assert_eq!(sum, 300);

    // The registry goes on from there under its rules: a duplicate is refused, a new
    // agreement continues the numbering.
    let ea = &page["items"][0];
    let (status, _) = app.post("/api/v1/agreements", json!({ "kind": "ea", "municipality_id": ea["municipality"]["id"], "service_id": ea["service"]["id"] }));
    assert_eq!(status, Status::Conflict);
    let muni = ea["municipality"]["id"].as_str().unwrap();
    let used: Vec<String> = app.ok(
        "GET",
        &format!("/api/v1/agreements?kind=ea&municipality_id={muni}&per_page=100"),
        None,
    )["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["service"]["id"].as_str().unwrap().to_string())
        .collect();
    let free = services
        .as_array()
        .unwrap()
        .iter()
        .find(|s| !used.contains(&s["id"].as_str().unwrap().to_string()))
        .unwrap();
    let created =
        app.create(json!({ "kind": "ea", "municipality_id": muni, "service_id": free["id"] }));
    let year = time::OffsetDateTime::now_utc().year();
    assert_eq!(created["reference"], format!("EA-{year}-00301"));
}
