//! The access matrix of the JSON API: every route × every role, from one table. Roles:
//! anonymous, the bootstrap staff token, an admin, a clerk, a user of Dortmund (A), a user
//! of Essen (B) and a user of Dataport (another Land's intermediary). Another tenant's
//! agreement is "not found" (404), not "forbidden": its existence is not revealed.

use crate::common::*;
use rocket::http::{ContentType, Header};
use serde_json::{json, Value};

const ROLES: [&str; 7] = [
    "anonymous",
    "bootstrap",
    "admin",
    "clerk",
    "kommune A",
    "kommune B",
    "kommunalvertreter",
];

struct Fixture {
    tokens: [Option<String>; 7],
    dortmund: String,
    rv_a: String,
    rv_b: String,
    ioev: String,
    dataport: String,
    service: String,
    ea_a: String,
    task_a: String,
}

fn fixture(app: &TestApp) -> Fixture {
    let (ioev, _, wohngeld) = wohngeld_supply(app);
    let dortmund = app.municipality("05913000");
    let essen = app.municipality("05113000");
    let rv_a = app.in_force(json!({ "kind": "rv", "municipality_id": dortmund }));
    let rv_b = app.create(json!({ "kind": "rv", "municipality_id": essen }));
    let dataport = app.organisation("intermediaries", "Dataport AöR");
    let ea_a = app.in_force(json!({
        "kind": "ea", "municipality_id": dortmund, "service_id": wohngeld, "avv": avv(),
        "parameters": wohngeld_parameters()
    }));
    let ea_a = ea_a["id"].as_str().unwrap().to_string();
    let plan = app.ok("GET", &format!("/api/v1/agreements/{ea_a}/tasks"), None);
    let task_a = plan["tasks"][0]["id"].as_str().unwrap().to_string();
    app.user(json!({ "email": "admin@d-nrw.de", "name": "Ada Admin", "role": "admin" }));
    app.user(json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }));
    app.user(json!({ "email": "a@dortmund.de", "name": "Anna A", "role": "municipality", "municipality_id": dortmund, "may_sign": true }));
    app.user(json!({ "email": "b@essen.de", "name": "Bernd B", "role": "municipality", "municipality_id": essen }));
    app.user(json!({ "email": "iv@dataport.de", "name": "Ina I", "role": "intermediary", "organisation_id": dataport.clone() }));
    Fixture {
        tokens: [
            None,
            Some(TOKEN.to_string()),
            Some(app.token_for("admin@d-nrw.de")),
            Some(app.token_for("clerk@d-nrw.de")),
            Some(app.token_for("a@dortmund.de")),
            Some(app.token_for("b@essen.de")),
            Some(app.token_for("iv@dataport.de")),
        ],
        dortmund,
        rv_a: rv_a["id"].as_str().unwrap().to_string(),
        rv_b: rv_b["id"].as_str().unwrap().to_string(),
        ioev: ioev["id"].as_str().unwrap().to_string(),
        dataport,
        service: wohngeld,
        ea_a,
        task_a,
    }
}

fn status(
    app: &TestApp,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> u16 {
    let mut req = match method {
        "GET" => app.client.get(path.to_string()),
        "POST" => app.client.post(path.to_string()),
        "PATCH" => app.client.patch(path.to_string()),
        "PUT" => app.client.put(path.to_string()),
        "DELETE" => app.client.delete(path.to_string()),
        _ => unreachable!(),
    };
    if let Some(t) = token {
        req = req.header(Header::new("Authorization", format!("Bearer {t}")));
    }
    if let Some(b) = body {
        req = req.header(ContentType::JSON).body(b.to_string());
    }
    req.dispatch().status().code
}

#[test]
fn every_route_answers_every_role_as_the_table_says() {
    let app = TestApp::new();
    let f = fixture(&app);
    let (a, b, i, m) = (&f.rv_a, &f.rv_b, &f.ioev, &f.dortmund);
    let (d, s) = (&f.dataport, &f.service);
    let (ea, tk) = (&f.ea_a, &f.task_a);
    let complete = json!({ "action": "complete" });
    let empty = json!({});
    let decline = json!({ "reason": "Die Frist stimmt nicht." });
    let bad_amendment = json!({ "costs": 1 });
    let ekv_only = json!({ "kind": "ekv" });
    // Expected status per role, in the order of ROLES.
    const PUBLIC: [u16; 7] = [200; 7];
    const STAFF_READ: [u16; 7] = [401, 200, 200, 200, 403, 403, 403];
    // A body that passes authorisation but not validation: 422 means "let in".
    const STAFF_WRITE: [u16; 7] = [401, 422, 422, 422, 403, 403, 403];
    const ADMIN_READ: [u16; 7] = [401, 200, 200, 403, 403, 403, 403];
    const ADMIN_WRITE: [u16; 7] = [401, 422, 422, 403, 403, 403, 403];
    const EVERYONE: [u16; 7] = [401, 200, 200, 200, 200, 200, 200];
    const OF_A: [u16; 7] = [401, 200, 200, 200, 200, 404, 404];
    const OF_B: [u16; 7] = [401, 200, 200, 200, 404, 200, 404];
    const OF_INTERMEDIARY: [u16; 7] = [401, 200, 200, 200, 404, 404, 200];
    let table: Vec<(&str, String, Option<&Value>, [u16; 7])> = vec![
        ("GET", "/api/v1/catalog".into(), None, PUBLIC),
        ("GET", "/api/v1/openapi.json".into(), None, PUBLIC),
        ("POST", "/api/v1/verify".into(), Some(&empty), [422; 7]),
        ("GET", "/api/v1/me".into(), None, EVERYONE),
        ("GET", "/api/v1/municipalities".into(), None, STAFF_READ),
        (
            "GET",
            format!("/api/v1/municipalities/{m}"),
            None,
            STAFF_READ,
        ),
        (
            "PATCH",
            format!("/api/v1/municipalities/{m}"),
            Some(&empty),
            STAFF_WRITE,
        ),
        (
            "PUT",
            format!("/api/v1/municipalities/{m}/membership"),
            Some(&empty),
            STAFF_WRITE,
        ),
        (
            "POST",
            format!("/api/v1/municipalities/{m}/contacts"),
            Some(&empty),
            STAFF_WRITE,
        ),
        ("GET", "/api/v1/intermediaries".into(), None, STAFF_READ),
        (
            "POST",
            "/api/v1/intermediaries".into(),
            Some(&empty),
            STAFF_WRITE,
        ),
        (
            "GET",
            format!("/api/v1/intermediaries/{d}"),
            None,
            STAFF_READ,
        ),
        (
            "PATCH",
            format!("/api/v1/intermediaries/{d}"),
            Some(&empty),
            STAFF_WRITE,
        ),
        (
            "POST",
            format!("/api/v1/organisations/{d}/contacts"),
            Some(&empty),
            STAFF_WRITE,
        ),
        ("GET", "/api/v1/providers".into(), None, STAFF_READ),
        (
            "POST",
            "/api/v1/providers".into(),
            Some(&empty),
            STAFF_WRITE,
        ),
        ("GET", format!("/api/v1/providers/{d}"), None, STAFF_READ),
        (
            "PATCH",
            format!("/api/v1/providers/{d}"),
            Some(&empty),
            STAFF_WRITE,
        ),
        ("GET", "/api/v1/kommunalvertreter".into(), None, STAFF_READ),
        ("GET", "/api/v1/services".into(), None, STAFF_READ),
        ("POST", "/api/v1/services".into(), Some(&empty), STAFF_WRITE),
        ("GET", format!("/api/v1/services/{s}"), None, STAFF_READ),
        (
            "PATCH",
            format!("/api/v1/services/{s}"),
            Some(&empty),
            STAFF_WRITE,
        ),
        (
            "GET",
            format!("/api/v1/services/{s}/status"),
            None,
            STAFF_READ,
        ),
        ("GET", "/api/v1/audit".into(), None, STAFF_READ),
        ("GET", "/api/v1/agreements".into(), None, EVERYONE),
        // Go-live tasks: seen within the agreement's tenant; done by the owner (Dortmund's
        // VSM task: A and staff get to the evidence check, 422); dates and contacts by staff.
        ("GET", "/api/v1/tasks".into(), None, EVERYONE),
        // The roll-out: everyone authenticated, each within its scope.
        ("GET", "/api/v1/rollout".into(), None, EVERYONE),
        (
            "GET",
            format!("/api/v1/municipalities/{m}/vsm.csv"),
            None,
            OF_A,
        ),
        ("GET", format!("/api/v1/tasks/{tk}"), None, OF_A),
        (
            "POST",
            format!("/api/v1/tasks/{tk}/transitions"),
            Some(&complete),
            [401, 422, 422, 422, 422, 404, 404],
        ),
        (
            "PATCH",
            format!("/api/v1/tasks/{tk}"),
            Some(&empty),
            STAFF_WRITE,
        ),
        ("GET", format!("/api/v1/agreements/{ea}/tasks"), None, OF_A),
        (
            "POST",
            format!("/api/v1/agreements/{ea}/certificate"),
            Some(&empty),
            [401, 422, 422, 422, 422, 404, 404],
        ),
        // Everyone authenticated may create, within limits: staff anything, a municipality
        // its own RV and EA (an EKV is refused), an intermediary nothing.
        (
            "POST",
            "/api/v1/agreements".into(),
            Some(&ekv_only),
            STAFF_WRITE,
        ),
        ("GET", format!("/api/v1/agreements/{a}"), None, OF_A),
        ("GET", format!("/api/v1/agreements/{b}"), None, OF_B),
        (
            "GET",
            format!("/api/v1/agreements/{i}"),
            None,
            OF_INTERMEDIARY,
        ),
        ("GET", format!("/api/v1/agreements/{a}/text"), None, OF_A),
        (
            "GET",
            format!("/api/v1/agreements/{b}/preview.pdf"),
            None,
            OF_B,
        ),
        (
            "GET",
            format!("/api/v1/agreements/{a}/signatures"),
            None,
            OF_A,
        ),
        (
            "GET",
            format!("/api/v1/agreements/{a}/documents"),
            None,
            OF_A,
        ),
        (
            "GET",
            format!("/api/v1/agreements/{a}/document.pdf"),
            None,
            OF_A,
        ),
        (
            "GET",
            format!("/api/v1/agreements/{i}/document.pdf"),
            None,
            OF_INTERMEDIARY,
        ),
        // Written form: the parties list and upload (an empty body is no PDF: 422).
        ("GET", format!("/api/v1/agreements/{a}/qes"), None, OF_A),
        (
            "POST",
            format!("/api/v1/agreements/{a}/qes"),
            Some(&empty),
            [401, 422, 422, 422, 422, 404, 404],
        ),
        (
            "GET",
            format!(
                "/api/v1/agreements/{a}/qes/{}/document.pdf",
                uuid::Uuid::nil()
            ),
            None,
            [401, 404, 404, 404, 404, 404, 404],
        ),
        (
            "PATCH",
            format!("/api/v1/agreements/{b}"),
            Some(&empty),
            STAFF_WRITE,
        ),
        // Municipalities are let in: they submit or discard their own drafts (the
        // policy then decides per agreement); other Länder's intermediaries are not.
        (
            "POST",
            format!("/api/v1/agreements/{a}/transitions"),
            Some(&empty),
            [401, 422, 422, 422, 422, 422, 403],
        ),
        // Signing is open to the parties (A's RV is signed already: 409 for those who see it).
        (
            "POST",
            format!("/api/v1/agreements/{a}/signatures"),
            Some(&empty),
            [401, 409, 409, 409, 409, 404, 404],
        ),
        // Declining: a person of a party (A's RV is in force: 409); the bootstrap token
        // is nobody (403).
        (
            "POST",
            format!("/api/v1/agreements/{a}/declines"),
            Some(&decline),
            [401, 403, 409, 409, 409, 404, 404],
        ),
        (
            "POST",
            format!("/api/v1/agreements/{a}/amendments"),
            Some(&bad_amendment),
            STAFF_WRITE,
        ),
        (
            "POST",
            format!("/api/v1/agreements/{a}/amendments/2/transitions"),
            Some(&empty),
            STAFF_WRITE,
        ),
        ("GET", "/api/v1/users".into(), None, ADMIN_READ),
        ("POST", "/api/v1/users".into(), Some(&empty), ADMIN_WRITE),
        // Personal tokens: every user manages their own; the bootstrap token has none.
        (
            "GET",
            "/api/v1/tokens".into(),
            None,
            [401, 409, 200, 200, 200, 200, 200],
        ),
        (
            "POST",
            "/api/v1/tokens".into(),
            Some(&empty),
            [401, 409, 422, 422, 422, 422, 422],
        ),
        (
            "DELETE",
            "/api/v1/tokens/00000000-0000-0000-0000-000000000000".into(),
            None,
            [401, 409, 404, 404, 404, 404, 404],
        ),
    ];
    // The table covers every mounted API route (with the ids written as parameters); the
    // web pages have their own tests (tests/it/web_pages/).
    let template = |path: &str| {
        let mut t = path.to_string();
        for id in [a, b, i, m, &f.dataport, &f.service, ea, tk] {
            t = t.replace(id.as_str(), "<id>");
        }
        t.replace("/amendments/2/", "/amendments/<no>/")
            .replace(
                "/tokens/00000000-0000-0000-0000-000000000000",
                "/tokens/<id>",
            )
            .replace("/qes/00000000-0000-0000-0000-000000000000/", "/qes/<qes>/")
    };
    let covered: std::collections::BTreeSet<String> = table
        .iter()
        .map(|(method, path, _, _)| format!("{method} {}", template(path)))
        .collect();
    let mounted: std::collections::BTreeSet<String> = app
        .client
        .rocket()
        .routes()
        .filter(|r| r.uri.path().starts_with("/api/"))
        .map(|r| format!("{} {}", r.method, r.uri.path()))
        .collect();
    let missing: Vec<&String> = mounted.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "routes not in the access table: {missing:?}"
    );

    let mut wrong = Vec::new();
    for (method, path, body, expected) in &table {
        for (r, role) in ROLES.iter().enumerate() {
            let got = status(&app, f.tokens[r].as_deref(), method, path, *body);
            if got != expected[r] {
                wrong.push(format!(
                    "{method} {path} as {role}: {got}, expected {}",
                    expected[r]
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn lists_show_each_tenant_only_its_own_agreements() {
    let app = TestApp::new();
    let f = fixture(&app);
    let list = |r: usize, query: &str| {
        let (_, v) = app.send_as(
            f.tokens[r].as_deref().unwrap(),
            "GET",
            &format!("/api/v1/agreements?per_page=100{query}"),
            None,
        );
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let all = list(1, "");
    assert_eq!(all.len(), 5, "IÖV, EKV, two RVs, Dortmund's EA");
    let mut dortmund = list(4, "");
    dortmund.sort();
    let mut own = vec![f.rv_a.clone(), f.ea_a.clone()];
    own.sort();
    assert_eq!(dortmund, own, "Dortmund sees its RV and EA only");
    assert_eq!(
        list(5, ""),
        std::slice::from_ref(&f.rv_b),
        "Essen sees its RV only"
    );
    let dataport = list(6, "");
    assert_eq!(dataport.len(), 2, "Dataport sees its IÖV and EKV");
    assert!(dataport.contains(&f.ioev));
    // A filter for another tenant finds nothing rather than leaking.
    let essen = app.municipality("05113000");
    assert!(list(4, &format!("&municipality_id={essen}")).is_empty());
}
