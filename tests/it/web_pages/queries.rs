//! What a page costs in statements (`Db::queries`): on PostgreSQL each one is a round
//! trip, and at national scale the pages must not grow with what they show.

use super::*;
use crate::common::*;
use rocket::http::Status;

/// The statements the application's pool ran for one page (after one warm-up request,
/// so that caches filled on the first look don't count).
fn statements(app: &TestApp, user: &WebUser, path: &str) -> u64 {
    let db = app.app_db();
    assert_eq!(app.web_get(Some(user), path).status, Status::Ok, "{path}");
    let before = db.queries();
    let page = app.web_get(Some(user), path);
    assert_eq!(page.status, Status::Ok, "{path}");
    db.queries() - before
}

#[test]
fn an_agreement_page_reads_its_history_actors_in_three_statements_however_many_acted() {
    let app = TestApp::new();
    let clerk = web_user(
        &app,
        json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk", "may_sign": true }),
    );
    let (dortmund, wohngeld) = dortmund_ready_for_wohngeld(&app);
    let ea = wohngeld_ea(&app, &dortmund, &wohngeld);
    let id = ea["id"].as_str().unwrap().to_string();
    let path = format!("/vereinbarungen/{id}");
    let quiet = statements(&app, &clerk, &path);
    // The page of an Einzelabruf in force, with its text, signatures, documents and
    // go-live tasks: a fixed budget, the same on both backends (30 before it was cut).
    assert!(quiet <= 25, "{quiet} statements for {path}");

    // Six more people act on it, of municipalities, an intermediary and d-NRW.
    let dataport = app.organisation("intermediaries", "Dataport AöR");
    let people = [
        json!({ "email": "a@dortmund.de", "name": "Anna Dortmund", "role": "municipality", "municipality_id": dortmund }),
        json!({ "email": "b@dortmund.de", "name": "Ben Dortmund", "role": "municipality", "municipality_id": dortmund }),
        json!({ "email": "c@koeln.de", "name": "Cem Köln", "role": "municipality", "municipality_id": app.municipality("05315000") }),
        json!({ "email": "d@dataport.de", "name": "Dana Dataport", "role": "intermediary", "organisation_id": dataport }),
        json!({ "email": "e@d-nrw.de", "name": "Eva Clerk", "role": "clerk" }),
        json!({ "email": "f@d-nrw.de", "name": "Finn Clerk", "role": "clerk" }),
    ];
    for person in &people {
        app.user(person.clone());
    }
    let agreement = id.clone();
    let emails: Vec<String> = people
        .iter()
        .map(|p| p["email"].as_str().unwrap().to_string())
        .collect();
    app.app_db()
        .write_blocking(move |conn| {
            for email in &emails {
                nachnutzung::store::audit::record(
                    conn,
                    nachnutzung::store::audit::Change {
                        actor: &format!("user:{email}"),
                        action: "agreement_update",
                        entity_type: "agreement",
                        entity_id: &agreement,
                        before: None,
                        after: None,
                        note: None,
                    },
                )?;
            }
            Ok(())
        })
        .unwrap();
    let busy = statements(&app, &clerk, &path);
    assert!(
        busy <= quiet + 3,
        "six more actors cost {} statements (at most their accounts, municipalities and organisations: 3)",
        busy - quiet
    );
    // And each is named with their role and organisation.
    let text = app.web_get(Some(&clerk), &path).text();
    for expected in [
        "Anna Dortmund – Kommune, Stadt Dortmund",
        "Cem Köln – Kommune, Stadt Köln",
        "Dana Dataport – Kommunalvertreter eines anderen Landes, Dataport AöR",
        "Finn Clerk – d-NRW (Sachbearbeitung)",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
}

#[test]
fn the_agreement_list_costs_the_same_statements_for_three_agreements_or_sixteen() {
    let app = TestApp::new();
    let clerk = web_user(
        &app,
        json!({ "email": "clerk@d-nrw.de", "name": "Carl Clerk", "role": "clerk" }),
    );
    // One agreement of each kind of party: a municipality, an intermediary, a service.
    let dataport = app.organisation("intermediaries", "Dataport AöR");
    app.in_force(json!({ "kind": "ioev", "counterparty_id": dataport }));
    app.create(json!({ "kind": "ekv", "counterparty_id": dataport, "service_id": app.service("Wohngeld (Online-Dienst"), "avv": avv() }));
    app.create(json!({ "kind": "rv", "municipality_id": app.municipality("05315000") }));
    let few = statements(&app, &clerk, "/vereinbarungen");
    // Eleven more municipalities' RVs and two more services' EKVs.
    for ags in [
        "05113000", "05913000", "05111000", "05112000", "05114000", "05116000", "05117000",
        "05119000", "05120000", "05122000", "05124000",
    ] {
        app.create(json!({ "kind": "rv", "municipality_id": app.municipality(ags) }));
    }
    for service in ["Elterngeld", "Bauantrag"] {
        app.create(json!({ "kind": "ekv", "counterparty_id": dataport, "service_id": app.service(service), "avv": avv() }));
    }
    let many = statements(&app, &clerk, "/vereinbarungen");
    assert_eq!(few, many, "statements for three agreements and for sixteen");
    let all = app.web_get(Some(&clerk), "/vereinbarungen").text();
    for name in ["Köln", "Essen", "Dataport AöR", "Elterngeld"] {
        assert!(all.contains(name), "{name} in {all}");
    }
}
