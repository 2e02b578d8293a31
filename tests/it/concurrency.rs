//! Sixteen clerks file the same Einzelabruf at the same moment: exactly one is created.

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
