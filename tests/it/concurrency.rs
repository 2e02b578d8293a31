//! Sixteen clerks file the same Einzelabruf at the same moment: exactly one is created.
//! Two processes write the same SQLite file: the second waits its turn.

use crate::common::*;
use rocket::http::{ContentType, Header, Status};
use serde_json::json;

#[test]
fn sixteen_racing_requests_create_exactly_one_ea() {
    let app = TestApp::new();
    let (dortmund, wohngeld) = dortmund_ready_for_wohngeld(&app);
    let body = json!({ "kind": "ea", "municipality_id": dortmund, "service_id": wohngeld, "avv": avv(), "parameters": wohngeld_parameters() }).to_string();

    // A second instance of the application with the asynchronous client: the sixteen
    // requests are in flight at once, and their database work runs in parallel on the
    // blocking pool, so the writes truly race.
    let rocket = app.second_instance(false);
    let runtime = rocket::tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let statuses: Vec<(Status, String)> = runtime.block_on(async {
        let client = rocket::local::asynchronous::Client::untracked(rocket)
            .await
            .expect("client");
        let requests = (0..16).map(|_| {
            let req = client
                .post("/api/v1/agreements")
                .header(Header::new("Authorization", format!("Bearer {TOKEN}")))
                .header(ContentType::JSON)
                .body(body.clone());
            async move {
                let res = req.dispatch().await;
                (res.status(), res.into_string().await.unwrap_or_default())
            }
        });
        rocket::futures::future::join_all(requests).await
    });
    let created = statuses
        .iter()
        .filter(|(s, _)| *s == Status::Created)
        .count();
    let conflicts = statuses
        .iter()
        .filter(|(s, _)| *s == Status::Conflict)
        .count();
    assert_eq!(created, 1, "{statuses:?}");
    assert_eq!(
        conflicts, 15,
        "every other request is told why: {statuses:?}"
    );
    let list = app.ok(
        "GET",
        &format!("/api/v1/agreements?kind=ea&municipality_id={dortmund}"),
        None,
    );
    assert_eq!(list["total"], 1);
    // The reference counter was not burnt by the losers on the database level either.
    let year = time::OffsetDateTime::now_utc().year();
    assert_eq!(list["items"][0]["reference"], format!("EA-{year}-00001"));
}

/// A write transaction that reads first and another pool's (another process's) write in
/// the meantime: on SQLite a deferred transaction would then fail to write ("database is
/// locked", its snapshot being stale); begun IMMEDIATE, the other writer waits.
#[test]
fn a_second_process_writing_the_same_database_waits_instead_of_failing() {
    use diesel::connection::SimpleConnection;
    use diesel::{QueryDsl, RunQueryDsl};
    let app = TestApp::new();
    // Two pools, each with its own in-process write lock: as the server and the CLI.
    let (first, second) = (app.db(), app.db());
    let touch = "UPDATE municipalities SET population = population WHERE ags = '05315000'";
    let started = std::sync::Arc::new(std::sync::Barrier::new(2));
    let signal = started.clone();
    let long = std::thread::spawn(move || {
        first.write_blocking(|conn| {
            let n: i64 = nachnutzung::db::schema::municipalities::table
                .count()
                .get_result(conn)?;
            assert!(n > 0);
            signal.wait();
            std::thread::sleep(std::time::Duration::from_millis(400));
            conn.batch_execute(touch)?;
            Ok(())
        })
    });
    started.wait();
    let short = second.write_blocking(|conn| {
        let _: i64 = nachnutzung::db::schema::municipalities::table
            .count()
            .get_result(conn)?;
        conn.batch_execute(touch)?;
        Ok(())
    });
    let long = long.join().expect("the first writer");
    assert!(
        long.is_ok(),
        "first writer: {:?}",
        long.err().map(|e| e.message)
    );
    assert!(
        short.is_ok(),
        "second writer: {:?}",
        short.err().map(|e| e.message)
    );
}
