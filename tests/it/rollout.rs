//! The roll-out matrix (municipality × service) as JSON and CSV, its filters, and who sees
//! how much of it.

use crate::common::*;
use rocket::http::{Header, Status};
use serde_json::{json, Value};

/// Ends the agreement `id` (a change of the specialist procedure).
fn end(app: &TestApp, id: &str) {
    let (status, v) = app.post(
        &format!("/api/v1/agreements/{id}/transitions"),
        json!({ "action": "terminate", "reason": "Wechsel des Fachverfahrens" }),
    );
    assert_eq!(status, Status::Ok, "{v}");
}

/// The demo (Dortmund live with Wohngeld, Düsseldorf's EA requested), plus Essen's EA in
/// force and Bochum's terminated. Returns Wohngeld's id.
fn four_states(app: &TestApp) -> String {
    let wohngeld = app.service("Wohngeld (Online-Dienst");
    for (ags, terminate) in [("05113000", false), ("05911000", true)] {
        let m = app.municipality(ags);
        app.in_force(json!({ "kind": "rv", "municipality_id": m }));
        let ea = app.in_force(json!({
            "kind": "ea", "municipality_id": m, "service_id": wohngeld, "avv": avv(),
            "parameters": wohngeld_parameters()
        }));
        if terminate {
            end(app, ea["id"].as_str().unwrap());
        }
    }
    wohngeld
}

fn row<'a>(r: &'a Value, ags: &str) -> &'a Value {
    r["municipalities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["ags"] == ags)
        .unwrap_or_else(|| panic!("no row {ags}"))
}

fn column<'a>(r: &'a Value, id: &str) -> &'a Value {
    r["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no column {id}"))
}

#[test]
fn the_matrix_shows_each_municipality_with_each_service_and_counts_them() {
    let app = TestApp::with_demo();
    let wohngeld = four_states(&app);
    let r = app.ok("GET", "/api/v1/rollout", None);
    let n = r["municipality_count"].as_i64().unwrap();
    assert!(n > 420, "all NRW municipalities and Kreise: {n}");
    assert_eq!(r["municipalities"].as_array().unwrap().len() as i64, n);
    assert_eq!(row(&r, "05913000")["cells"][&wohngeld], "live");
    assert_eq!(row(&r, "05111000")["cells"][&wohngeld], "requested");
    assert_eq!(row(&r, "05113000")["cells"][&wohngeld], "in_force");
    assert_eq!(row(&r, "05911000")["cells"][&wohngeld], "terminated");
    // Nothing is not written out.
    assert!(row(&r, "05315000")["cells"].as_object().unwrap().is_empty());
    let c = &column(&r, &wohngeld)["counts"];
    assert_eq!(
        *c,
        json!({ "nothing": n - 4, "requested": 1, "in_force": 1, "live": 1, "terminated": 1 })
    );
    let services = r["services"].as_array().unwrap().len() as i64;
    let dortmund = &row(&r, "05913000")["counts"];
    assert_eq!(dortmund["live"], 1);
    assert_eq!(dortmund["nothing"], services - 1);
    assert_eq!(r["counts"]["live"], 1);
    assert_eq!(r["counts"]["nothing"], n * services - 4);
    // Hannover's outbound EA is recorded with GovConnect, not as an NRW row.
    assert!(r["municipalities"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["ags"].as_str().unwrap().starts_with("05")));
}

#[test]
fn filters_by_regierungsbezirk_kreis_and_service() {
    let app = TestApp::with_demo();
    let wohngeld = four_states(&app);
    let r = app.ok("GET", "/api/v1/rollout?regierungsbezirk=Arnsberg", None);
    let ags: Vec<&str> = r["municipalities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ags"].as_str().unwrap())
        .collect();
    assert!(ags.contains(&"05913000") && ags.contains(&"05911000"));
    assert!(!ags.contains(&"05111000") && !ags.contains(&"05113000"));
    let c = &column(&r, &wohngeld)["counts"];
    assert_eq!(
        (
            c["live"].as_i64(),
            c["terminated"].as_i64(),
            c["requested"].as_i64()
        ),
        (Some(1), Some(1), Some(0))
    );

    // A Kreis: its towns and the Kreis itself (Kreis Unna, 05978).
    let r = app.ok("GET", "/api/v1/rollout?kreis=05978000", None);
    let rows = r["municipalities"].as_array().unwrap();
    assert!(rows.len() >= 10, "{}", rows.len());
    assert!(rows.iter().any(|m| m["ags"] == "05978000"));
    assert!(rows
        .iter()
        .all(|m| m["ags"].as_str().unwrap().starts_with("05978")));

    let r = app.ok(
        "GET",
        &format!("/api/v1/rollout?service_id={wohngeld}"),
        None,
    );
    assert_eq!(r["services"].as_array().unwrap().len(), 1);

    for bad in ["kreis=0597", "service_id=wohngeld", "format=xlsx"] {
        let (status, v) = app.get(&format!("/api/v1/rollout?{bad}"));
        assert_eq!(status, Status::UnprocessableEntity, "{bad}: {v}");
        assert!(v["fields"][0]["message"].is_string(), "{v}");
    }
}

#[test]
fn the_csv_export_opens_as_a_spreadsheet() {
    let app = TestApp::with_demo();
    four_states(&app);
    let res = app
        .client
        .get("/api/v1/rollout?format=csv&regierungsbezirk=Arnsberg")
        .header(Header::new("Authorization", format!("Bearer {TOKEN}")))
        .dispatch();
    assert_eq!(res.status(), Status::Ok);
    assert_eq!(
        res.content_type().unwrap().to_string(),
        "text/csv; charset=utf-8"
    );
    assert!(res
        .headers()
        .get_one("Content-Disposition")
        .unwrap()
        .contains("rollout.csv"));
    let body = res.into_bytes().unwrap();
    assert!(
        body.starts_with("\u{feff}".as_bytes()),
        "UTF-8 BOM for spreadsheets"
    );
    let text = String::from_utf8(body[3..].to_vec()).unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    assert_eq!(&header[0], "AGS");
    let col = header
        .iter()
        .position(|h| h == "Wohngeld (Online-Dienst Wohngeld)")
        .expect("Wohngeld column");
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let dortmund = records.iter().find(|r| &r[0] == "05913000").unwrap();
    assert_eq!(&dortmund[2], "Dortmund, Stadt");
    assert_eq!(&dortmund[col], "live");
    let bochum = records.iter().find(|r| &r[0] == "05911000").unwrap();
    assert_eq!(&bochum[col], "beendet");
    assert!(records.iter().all(|r| r.len() == header.len()));
}

#[test]
fn municipalities_see_their_row_and_intermediaries_their_services_aggregated() {
    let app = TestApp::with_demo();
    let wohngeld = four_states(&app);
    let dortmund = app.municipality("05913000");
    let dataport = app.organisation("intermediaries", "Dataport AöR");
    app.user(json!({ "email": "a@dortmund.de", "name": "Anna A", "role": "municipality", "municipality_id": dortmund }));
    app.user(json!({ "email": "iv@dataport.de", "name": "Ina I", "role": "intermediary", "organisation_id": dataport }));
    let (status, r) = app.send_as(
        &app.token_for("a@dortmund.de"),
        "GET",
        "/api/v1/rollout",
        None,
    );
    assert_eq!(status, Status::Ok);
    let rows = r["municipalities"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["ags"], "05913000");
    // Others' states are not in the counts either.
    assert_eq!(column(&r, &wohngeld)["counts"]["requested"], 0);

    let (status, r) = app.send_as(
        &app.token_for("iv@dataport.de"),
        "GET",
        "/api/v1/rollout",
        None,
    );
    assert_eq!(status, Status::Ok);
    assert!(r["municipalities"].is_null(), "aggregated only: {r}");
    let services = r["services"].as_array().unwrap();
    assert_eq!(services.len(), 1, "Dataport provides Wohngeld: {r}");
    assert_eq!(services[0]["counts"]["live"], 1);
    assert_eq!(services[0]["counts"]["in_force"], 1);
    let (status, _) = app.send_as(
        &app.token_for("iv@dataport.de"),
        "GET",
        "/api/v1/rollout?format=csv",
        None,
    );
    assert_eq!(status, Status::Ok);
    let (status, _) = app.get_anon("/api/v1/rollout");
    assert_eq!(status, Status::Unauthorized);

    // The intermediary's start page shows the same, aggregated, and no municipality.
    let (id, _) = app.user(json!({ "email": "web@dataport.de", "name": "Web", "role": "intermediary", "organisation_id": dataport }));
    {
        use diesel::prelude::*;
        use nachnutzung::db::schema::users;
        let db = app.db();
        let uid = id.clone();
        db.write_blocking(move |c| {
            diesel::update(users::table.find(uid))
                .set(users::must_change_password.eq(false))
                .execute(c)?;
            Ok(())
        })
        .unwrap();
    }
    let page = app.web_get(Some(&app.web_user(&id)), "/").text();
    assert!(page.contains("Nachnutzung Ihrer Dienste durch Kommunen in NRW Stand der Nachnutzung in den Kommunen in NRW Dienst live in Kraft beantragt beendet Wohngeld (Online-Dienst Wohngeld) 1 1 1 1"), "{page}");
    assert!(
        !page.contains("Dortmund") && !page.contains("Bochum"),
        "{page}"
    );
}

/// The part of the page from `start` to the next `end`.
fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in the page"));
    let rest = &html[from..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

/// The numbers an SVG element carries in `attr="…"`, in order.
fn numbers(svg: &str, attr: &str) -> Vec<f64> {
    svg.split(&format!("{attr}=\""))
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
        .collect()
}

#[test]
fn the_rollout_page_draws_what_its_tables_say_and_drills_down_to_the_municipalities() {
    let app = TestApp::with_demo();
    let wohngeld = four_states(&app);
    let clerk = app.signed_in(json!({
        "email": "clara@d-nrw.example", "name": "Clara Sachbearbeiterin", "role": "clerk"
    }));
    let api = app.ok("GET", "/api/v1/rollout", None);
    let expected = column(&api, &wohngeld)["counts"].clone();

    let page = app.web_get(Some(&clerk), "/rollout");
    assert_eq!(page.status, Status::Ok);
    let html = page.body;
    // NRW alone: the areas are the Regierungsbezirke.
    assert!(html.contains("Anteil live je Regierungsbezirk"), "{html}");
    // Wohngeld's bar carries the API's counts, and its segments fill the bar exactly.
    let bar = between(&html, &format!("<g data-dienst=\"{wohngeld}\""), "</g>");
    for state in ["live", "in_force", "requested", "terminated", "nothing"] {
        let n = expected[state].as_i64().unwrap();
        assert!(
            bar.contains(&format!("data-zustand=\"{state}\" data-anzahl=\"{n}\"")),
            "{state} {n}: {bar}"
        );
    }
    let width: f64 = numbers(bar, "width").iter().sum();
    assert!((width - 420.0).abs() < 0.5, "{width}");
    // … and so does the table behind the chart.
    let table = between(&html, "id=\"tabelle-dienste\"", "</table>");
    let row = between(table, &format!("/dienste/{wohngeld}\""), "</tr>");
    assert_eq!(
        cells(row)[..4],
        ["1", "1", "1", "1"],
        "live, in force, requested, ended: {row}"
    );
    // The heat grid: Arnsberg (Dortmund live of its 90 rows) has a share; Köln none.
    let heat = between(&html, "class=\"svg-waerme\"", "</svg>");
    assert!(
        heat.contains("Regierungsbezirk Arnsberg, Wohngeld"),
        "{heat}"
    );
    let shares = between(&html, "id=\"tabelle-gebiet\"", "</table>");
    assert!(
        between(shares, "Regierungsbezirk Arnsberg", "</tr>").contains("1 % (1)"),
        "{shares}"
    );
    // Live at the end of this month: Dortmund's Wohngeld.
    let months = between(&html, "id=\"tabelle-monate\"", "</table>");
    let last = months.rsplit("<tr>").next().unwrap();
    assert!(cells(last).contains(&"1".to_string()), "{months}");

    // Drill down: Arnsberg → its Kreise and cities → Dortmund's row.
    let arnsberg = app.web_get(Some(&clerk), "/rollout?rb=Arnsberg").body;
    assert!(arnsberg.contains("Anteil live je Kreis oder kreisfreie Stadt"));
    assert!(arnsberg.contains("href=\"/rollout?rb=Arnsberg&amp;kreis=05913000\""));
    assert!(
        arnsberg.contains(">Kreis Unna<") || arnsberg.contains(">Kreis Unna</a>"),
        "kind-qualified"
    );
    assert!(!arnsberg.contains("Düsseldorf, Stadt"));
    let dortmund = app
        .web_get(Some(&clerk), "/rollout?rb=Arnsberg&kreis=05913000")
        .body;
    let matrix = between(&dortmund, "id=\"matrix\"", "</table>");
    assert!(matrix.contains(">Stadt Dortmund</a>"), "{matrix}");
    assert!(matrix.contains("zelle-live\">live</td>"), "{matrix}");
    // A search finds a municipality by the name people use.
    let bochum = app.web_get(Some(&clerk), "/rollout?q=Stadt+Bochum").body;
    let matrix = between(&bochum, "id=\"matrix\"", "</table>");
    assert!(matrix.contains(">Stadt Bochum</a>"), "{matrix}");
    assert!(matrix.contains("zelle-terminated\">beendet</td>"));
    assert!(!matrix.contains("Dortmund"));

    // A change shows at once: Essen's Einzelabruf ends.
    let essen = app.municipality("05113000");
    let eas = app.ok(
        "GET",
        &format!("/api/v1/agreements?kind=ea&municipality_id={essen}"),
        None,
    );
    let id = eas["items"][0]["id"].as_str().unwrap().to_string();
    end(&app, &id);
    let html = app.web_get(Some(&clerk), "/rollout").body;
    let bar = between(&html, &format!("<g data-dienst=\"{wohngeld}\""), "</g>");
    assert!(
        bar.contains("data-zustand=\"terminated\" data-anzahl=\"2\""),
        "{bar}"
    );
    assert!(!bar.contains("data-zustand=\"in_force\""), "{bar}");

    // A write that does not pass through this process (another instance, the CLI, an
    // operator's SQL) shows at once too: triggers count every write to municipalities
    // and services (data_versions), and the caches compare those counters.
    let before = app.db().read_blocking(|conn| {
        nachnutzung::store::data_version::current(conn, ["municipalities", "services"])
    });
    let rename = format!("UPDATE services SET name = 'Wohngeld digital' WHERE id = '{wohngeld}'");
    app.db()
        .write_blocking(move |conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query(
                "UPDATE municipalities SET name = 'Neu-Dortmund' WHERE ags = '05913000'",
            )
            .execute(conn)?;
            diesel::sql_query(rename).execute(conn)?;
            Ok(())
        })
        .unwrap();
    let after = app.db().read_blocking(|conn| {
        nachnutzung::store::data_version::current(conn, ["municipalities", "services"])
    });
    let (before, after) = (before.unwrap(), after.unwrap());
    assert!(
        after[0] > before[0] && after[1] > before[1],
        "{before:?} → {after:?}"
    );
    let dortmund = app
        .web_get(Some(&clerk), "/rollout?rb=Arnsberg&kreis=05913000")
        .body;
    assert!(
        dortmund.contains("Neu-Dortmund"),
        "the snapshot was rebuilt"
    );
    let html = app.web_get(Some(&clerk), "/rollout").body;
    assert!(html.contains("Wohngeld digital"), "the service's new name");

    // Keys that name nothing are refused in German, not answered with an error page.
    for bad in ["land=99", "kreis=Unna"] {
        let page = app.web_get(Some(&clerk), &format!("/rollout?{bad}"));
        assert_eq!(page.status, Status::UnprocessableEntity, "{bad}");
        assert!(page.text().contains("Filter ungültig"), "{bad}");
    }
}

/// A look for changed Einzelabrufe that finds nothing new moves the snapshot's horizon on
/// (the same snapshot is kept): else the writes of a burst, a bulk load say, would be read
/// again by every request until the next write. Without a write in this process the
/// snapshot looks at most once per `LOOK_EVERY`; after one, at once.
#[test]
fn a_look_that_finds_nothing_new_moves_the_snapshots_horizon_on() {
    use nachnutzung::actions::rollout::snapshot::{RolloutCache, LOOK_EVERY};
    let app = TestApp::with_demo();
    let wohngeld = four_states(&app);
    let db = app.app_db();
    let cache = RolloutCache::new(db.write_log());
    let get = || db.read_blocking(|c| cache.get(c)).unwrap();
    let first = get();
    // Within LOOK_EVERY and without a write here: no look.
    assert_eq!(get().looked_up_to(), first.looked_up_to());
    // Later, a look: it applies the EAs written just before the load, in a new snapshot.
    std::thread::sleep(LOOK_EVERY + std::time::Duration::from_millis(50));
    let second = get();
    let before = second.looked_up_to();
    assert!(before > first.looked_up_to());
    // The next finds nothing new: the same snapshot, its horizon moved on.
    std::thread::sleep(LOOK_EVERY + std::time::Duration::from_millis(50));
    let third = get();
    assert!(std::sync::Arc::ptr_eq(&second, &third), "nothing changed");
    assert!(
        third.looked_up_to() > before,
        "the horizon stayed at {before}"
    );
    // A write in this process is looked for at once: Dortmund's EA ends.
    let dortmund = app.municipality("05913000");
    let eas = app.ok(
        "GET",
        &format!("/api/v1/agreements?kind=ea&municipality_id={dortmund}&service_id={wohngeld}"),
        None,
    );
    let id = eas["items"][0]["id"].as_str().unwrap().to_string();
    end(&app, &id);
    let fourth = get();
    assert!(
        !std::sync::Arc::ptr_eq(&third, &fourth),
        "the write shows at once"
    );
    assert!(fourth.looked_up_to() > third.looked_up_to());
}

/// A write transaction of this process that is still open holds the snapshot's horizon
/// at its start (its rows carry earlier times than its commit); once it commits, the next
/// request looks at once.
#[test]
fn an_open_write_transaction_holds_the_snapshots_horizon() {
    use nachnutzung::actions::rollout::snapshot::{RolloutCache, LOOK_EVERY};
    let app = TestApp::with_demo();
    let db = app.app_db();
    let cache = RolloutCache::new(db.write_log());
    let get = || db.read_blocking(|c| cache.get(c)).unwrap();
    get();
    let (began, release) = (
        std::sync::mpsc::channel::<()>(),
        std::sync::mpsc::channel::<()>(),
    );
    let writer = {
        let db = app.app_db();
        let (tell, wait) = (began.0, release.1);
        std::thread::spawn(move || {
            db.write_blocking(|_| {
                tell.send(()).unwrap();
                wait.recv().unwrap();
                Ok(())
            })
            .unwrap();
        })
    };
    began.1.recv().unwrap();
    let open_by = nachnutzung::store::now();
    std::thread::sleep(LOOK_EVERY + std::time::Duration::from_millis(50));
    let during = get().looked_up_to();
    assert!(
        during <= open_by,
        "{during} is past the open transaction ({open_by})"
    );
    release.0.send(()).unwrap();
    writer.join().unwrap();
    let after = get().looked_up_to();
    assert!(after > open_by, "the commit is looked for at once: {after}");
}

/// The roll-out's CSV goes gzipped to a browser (it asks for gzip), the same bytes as
/// unzipped to a client that doesn't; both say they vary with `Accept-Encoding`.
#[test]
fn the_csv_download_is_gzipped_for_browsers_and_the_same_unzipped() {
    let app = TestApp::with_demo();
    four_states(&app);
    let clerk = app.signed_in(json!({
        "email": "clara@d-nrw.example", "name": "Clara Sachbearbeiterin", "role": "clerk"
    }));
    let get =
        |encoding: Option<&str>| {
            let mut req = app.client.get("/rollout.csv?rb=Arnsberg").private_cookie(
                rocket::http::Cookie::new("nnr_sitzung", clerk.cookie_value()),
            );
            if let Some(e) = encoding {
                req = req.header(Header::new("Accept-Encoding", e.to_string()));
            }
            let res = req.dispatch();
            assert_eq!(res.status(), Status::Ok);
            assert_eq!(res.headers().get_one("Vary"), Some("Accept-Encoding"));
            let gzip = res.headers().get_one("Content-Encoding") == Some("gzip");
            (gzip, res.into_bytes().unwrap())
        };
    let (zipped, plain) = get(None);
    assert!(!zipped);
    assert!(String::from_utf8_lossy(&plain).contains("Dortmund"));
    let (zipped, bytes) = get(Some("gzip, deflate, br"));
    assert!(zipped);
    assert!(bytes.len() < plain.len());
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain);
    // Twice: the kept bytes again.
    assert_eq!(get(Some("gzip")).1, bytes);
    let (zipped, _) = get(Some("gzip;q=0, identity"));
    assert!(!zipped);
}
