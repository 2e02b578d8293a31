//! Filing an Einzelabruf goes one way, whether from the form or the API
//! (`actions::ea::file`): the same checks, the same answers, the same result.

use crate::common::*;
use rocket::http::Status;
use serde_json::json;

#[test]
fn the_einzelabruf_form_and_the_api_file_through_one_action() {
    let app = TestApp::new();
    let (dortmund, wohngeld) = dortmund_ready_for_wohngeld(&app);
    let dora = app.signed_in(json!({
        "email": "dora@stadtdo.de", "name": "Dora Dortmund", "role": "municipality",
        "municipality_id": dortmund, "may_sign": true
    }));
    let token = app.token_for("dora@stadtdo.de");
    let before = app.get("/api/v1/audit?per_page=1").1["total"].clone();

    // The same gap (no e-mail address for questions) is named the same way by both.
    let (status, v) = app.send_as(
        &token,
        "POST",
        "/api/v1/agreements",
        Some(json!({ "kind": "ea", "service_id": wohngeld,
            "parameters": { "zustaendige_stelle_url": "https://www.dortmund.de/wohngeld" } })),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{v}");
    assert_eq!(field_names(&v), ["parameters.kontakt_email"]);
    let message = v["fields"][0]["message"].as_str().unwrap().to_string();
    let form = |email: &str, contact: &str| {
        app.web_multipart(
            &dora,
            "/kommune/einzelabruf",
            &[
                ("dienst", Part::Text(&wohngeld)),
                (
                    "p[zustaendige_stelle_url]",
                    Part::Text("https://www.dortmund.de/wohngeld"),
                ),
                ("p[kontakt_email]", Part::Text(email)),
                ("kontakt_name", Part::Text("Dora Dortmund")),
                ("kontakt_email", Part::Text(contact)),
            ],
        )
    };
    let page = form("", "dora@stadtdo.de");
    assert_eq!(page.status, Status::UnprocessableEntity);
    assert!(page.text().contains(&message), "{}", page.text());
    // The form collects every problem at once: the parameter and the contact person.
    let page = form("", "keine-adresse");
    assert!(page.text().contains(&message));
    assert!(
        page.text().contains("E-Mail der Ansprechperson"),
        "{}",
        page.text()
    );
    // A parameter that cannot be stored at all (a NUL) is named at its field, on the form.
    let page = form("wohngeld\u{0}@stadtdo.de", "dora@stadtdo.de");
    assert_eq!(page.status, Status::UnprocessableEntity);
    assert!(page.text().contains("Nullzeichen"), "{}", page.text());
    assert!(
        page.body.contains("name=\"kontakt_name\""),
        "the form, not an error page"
    );
    assert_eq!(
        app.get("/api/v1/audit?per_page=1").1["total"],
        before,
        "nothing stored"
    );

    // Complete, it is a draft to read on its page, with the contact in its notes; there
    // it is submitted and waits for signatures.
    let page = form("wohngeld@stadtdo.de", "dora@stadtdo.de");
    assert_eq!(page.status, Status::SeeOther, "{}", page.text());
    let (_, list) = app.get("/api/v1/agreements?kind=ea");
    let ea = &list["items"][0];
    assert_eq!(ea["status"], "draft");
    let id = ea["id"].as_str().unwrap();
    let submitted = app.web_post(
        Some(&dora),
        &format!("/vereinbarungen/{id}/antrag"),
        &[("action", "submit")],
    );
    assert_eq!(submitted.status, Status::SeeOther, "{}", submitted.text());
    let (_, ea) = app.get(&format!("/api/v1/agreements/{id}"));
    assert_eq!(ea["status"], "awaiting_signatures");
    assert_eq!(ea["created_by"], "user:dora@stadtdo.de");
    let (_, full) = app.get(&format!(
        "/api/v1/agreements/{}",
        ea["id"].as_str().unwrap()
    ));
    assert!(
        full.to_string()
            .contains("Fachliche Ansprechperson der Kommune: Dora Dortmund, dora@stadtdo.de"),
        "{full}"
    );
    // A second one for the same service is refused by the same rule either way.
    let (status, v) = app.send_as(
        &token,
        "POST",
        "/api/v1/agreements",
        Some(json!({ "kind": "ea", "service_id": wohngeld, "parameters": wohngeld_parameters() })),
    );
    assert_eq!(status, Status::Conflict, "{v}");
    let page = form("wohngeld@stadtdo.de", "dora@stadtdo.de");
    assert_eq!(page.status, Status::UnprocessableEntity, "{}", page.text());
    let reference = ea["reference"].as_str().unwrap();
    assert!(v["message"].as_str().unwrap().contains(reference), "{v}");
    assert!(
        page.text()
            .contains(&format!("besteht bereits der Einzelabruf {reference}")),
        "{}",
        page.text()
    );
}
