//! The web login: session cookie, CSRF, throttling per account and per IP, the password
//! change at first login, logout. Through Rocket's client with its cookie jar (the
//! browser tests come with the pages).

use crate::common::*;
use rocket::http::{ContentType, Header, Status};
use rocket::local::blocking::LocalResponse;
use serde_json::json;

const PASSWORD: &str = "Startpasswort-2026!";

fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..at + 64].to_string()
}

fn location(res: &LocalResponse<'_>) -> String {
    res.headers()
        .get_one("Location")
        .unwrap_or_default()
        .to_string()
}

fn post_form<'c>(app: &'c TestApp, path: &str, body: &str, ip: &str) -> LocalResponse<'c> {
    app.client
        .post(path.to_string())
        .header(ContentType::Form)
        .header(Header::new("X-Real-IP", ip.to_string()))
        .body(body)
        .dispatch()
}

fn login_form(app: &TestApp) -> String {
    let res = app.client.get("/anmelden").dispatch();
    assert_eq!(res.status(), Status::Ok);
    csrf_of(&res.into_string().unwrap())
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn login_requires_csrf_changes_the_initial_password_and_logs_out() {
    let app = TestApp::new();
    app.user(json!({ "email": "clara@d-nrw.de", "name": "Clara Clerk", "role": "clerk", "password": PASSWORD }));

    // A page behind the login leads there (`/` greets visitors instead).
    let res = app.client.get("/vereinbarungen").dispatch();
    assert_eq!(res.status(), Status::SeeOther);
    assert_eq!(location(&res), "/anmelden");

    login_form(&app); // sets the pre-login CSRF cookie
    let body = format!("email=clara%40d-nrw.de&password={}", enc(PASSWORD));
    let res = post_form(&app, "/anmelden", &body, "192.0.2.1");
    assert_eq!(res.status(), Status::Forbidden, "no CSRF token, no login");
    let res = post_form(
        &app,
        "/anmelden",
        &format!("{body}&csrf={}", "0".repeat(64)),
        "192.0.2.1",
    );
    assert_eq!(
        res.status(),
        Status::Forbidden,
        "a wrong CSRF token neither"
    );

    let csrf_wrong = login_form(&app);
    let res = post_form(
        &app,
        "/anmelden",
        &format!("csrf={csrf_wrong}&email=clara%40d-nrw.de&password=falsch"),
        "192.0.2.1",
    );
    assert_eq!(res.status(), Status::Unauthorized);
    let html = res.into_string().unwrap();
    assert!(
        html.contains("E-Mail-Adresse oder Passwort sind nicht richtig."),
        "{html}"
    );
    assert!(
        html.contains("value=\"clara@d-nrw.de\""),
        "the e-mail stays in the form"
    );

    let csrf = csrf_of(&html);
    let res = post_form(
        &app,
        "/anmelden",
        &format!("csrf={csrf}&{body}"),
        "192.0.2.1",
    );
    assert_eq!(res.status(), Status::SeeOther);
    assert_eq!(
        location(&res),
        "/passwort",
        "the initial password must be changed first"
    );
    let set_cookie: Vec<&str> = res.headers().get("Set-Cookie").collect();
    let session = set_cookie
        .iter()
        .find(|c| c.starts_with("nnr_sitzung="))
        .expect("session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict"),
        "{session}"
    );
    assert!(
        !session.contains("clara"),
        "the cookie is encrypted: {session}"
    );
    let old_session = session
        .trim_start_matches("nnr_sitzung=")
        .split(';')
        .next()
        .unwrap()
        .to_string();

    // Until then every page leads to the password form.
    let res = app.client.get("/").dispatch();
    assert_eq!(location(&res), "/passwort");
    let html = app
        .client
        .get("/passwort")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(html.contains("<label class=\"kern-label\" for=\"new\">Neues Passwort</label>"));
    let csrf = csrf_of(&html);
    let res = post_form(
        &app,
        "/passwort",
        "csrf=falsch&current=x&new=y&repeat=y",
        "192.0.2.1",
    );
    assert_eq!(res.status(), Status::Forbidden);
    let res = post_form(
        &app,
        "/passwort",
        &format!(
            "csrf={csrf}&current={}&new=kurz&repeat=anders",
            enc(PASSWORD)
        ),
        "192.0.2.1",
    );
    assert_eq!(res.status(), Status::UnprocessableEntity);
    let html = res.into_string().unwrap();
    assert!(
        html.contains("mindestens 12 Zeichen") && html.contains("Wiederholung stimmt nicht"),
        "{html}"
    );
    assert!(
        html.contains("href=\"#repeat\""),
        "the error summary links to the field"
    );
    let new = "mein eigenes langes Passwort";
    let res = post_form(
        &app,
        "/passwort",
        &format!(
            "csrf={csrf}&current={}&new={}&repeat={}",
            enc(PASSWORD),
            enc(new),
            enc(new)
        ),
        "192.0.2.1",
    );
    assert_eq!(res.status(), Status::SeeOther);
    let html = app.client.get("/").dispatch().into_string().unwrap();
    // The browser that changed the password goes on; a copy of the session from before
    // the change (another device, a stolen cookie) is over.
    let stale = app
        .client
        .get("/vereinbarungen")
        .cookie(rocket::http::Cookie::new(
            "nnr_sitzung",
            old_session.clone(),
        ))
        .dispatch();
    assert_eq!(
        location(&stale),
        "/anmelden",
        "sessions end with a password change"
    );
    assert!(
        html.contains("<h1>Übersicht</h1>") && html.contains("Clara Clerk"),
        "the staff dashboard: {html}"
    );
    assert!(html.contains("<html lang=\"de\">"));
    let css = app.client.get("/static/app.css").dispatch();
    assert_eq!(css.status(), Status::Ok);
    assert_eq!(css.content_type(), Some(ContentType::CSS));

    // Logout needs the session's CSRF token too.
    let res = post_form(&app, "/abmelden", "csrf=falsch", "192.0.2.1");
    assert_eq!(res.status(), Status::Forbidden);
    let res = post_form(
        &app,
        "/abmelden",
        &format!("csrf={}", csrf_of(&html)),
        "192.0.2.1",
    );
    assert_eq!(location(&res), "/anmelden");
    assert_eq!(
        location(&app.client.get("/vereinbarungen").dispatch()),
        "/anmelden"
    );
}

#[test]
fn five_failures_throttle_the_account_and_the_ip() {
    let app = TestApp::new();
    for who in ["opfer", "a", "b", "c", "d", "e", "f"] {
        app.user(json!({ "email": format!("{who}@dortmund.de"), "name": who, "role": "clerk", "password": PASSWORD }));
    }
    let attempt = |email: &str, password: &str, ip: &str| {
        let csrf = login_form(&app);
        let res = post_form(
            &app,
            "/anmelden",
            &format!(
                "csrf={csrf}&email={}&password={}",
                enc(email),
                enc(password)
            ),
            ip,
        );
        let status = res.status();
        (status, res.into_string().unwrap_or_default())
    };
    // Per account: five wrong passwords from five addresses, then even the right one waits.
    for i in 0..5 {
        let (status, _) = attempt("opfer@dortmund.de", "geraten", &format!("203.0.113.{i}"));
        assert_eq!(status, Status::Unauthorized);
    }
    let (status, html) = attempt("opfer@dortmund.de", PASSWORD, "198.51.100.7");
    assert_eq!(status, Status::TooManyRequests);
    assert!(
        html.contains("Zu viele fehlgeschlagene Anmeldungen"),
        "{html}"
    );
    assert!(
        html.contains("30 Sekunden") || html.contains("29 Sekunden"),
        "{html}"
    );
    // Per IP: five accounts tried from one address; the next account waits there …
    for who in ["a", "b", "c", "d", "e"] {
        attempt(&format!("{who}@dortmund.de"), "geraten", "192.0.2.99");
    }
    let (status, html) = attempt("f@dortmund.de", PASSWORD, "192.0.2.99");
    assert_eq!(status, Status::TooManyRequests);
    assert!(html.contains("Zu viele"), "{html}");
    // … but not from elsewhere.
    let (status, _) = attempt("f@dortmund.de", PASSWORD, "192.0.2.100");
    assert_eq!(status, Status::SeeOther);
}

#[test]
fn a_session_ends_after_eight_hours_and_a_forged_cookie_is_nobody() {
    use rocket::http::Cookie;
    let app = TestApp::new();
    let (id, _) = app
        .user(json!({ "email": "s@d-nrw.de", "name": "S", "role": "clerk", "password": PASSWORD }));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let visit = |value: String| {
        let res = app
            .client
            .get("/vereinbarungen")
            .private_cookie(Cookie::new("nnr_sitzung", value))
            .dispatch();
        location(&res)
    };
    let csrf = "a".repeat(64);
    assert_eq!(
        visit(format!("{id}|{csrf}|{}|1", now - 60)),
        "/passwort",
        "a fresh session is let in"
    );
    assert_eq!(
        visit(format!("{id}|{csrf}|{}|2", now - 60)),
        "/anmelden",
        "a session from before a change of the account"
    );
    assert_eq!(
        visit(format!("{id}|{csrf}|{}|1", now - 8 * 3600 - 1)),
        "/anmelden",
        "expired"
    );
    assert_eq!(
        visit(format!("{id}|{csrf}|{}|1", now + 3600)),
        "/anmelden",
        "from the future"
    );
    assert_eq!(visit(format!("{id}|{csrf}")), "/anmelden", "no start time");
    // A cookie not encrypted with the application's key is ignored.
    let res = app
        .client
        .get("/vereinbarungen")
        .cookie(Cookie::new("nnr_sitzung", format!("{id}|{csrf}|{now}|1")))
        .dispatch();
    assert_eq!(location(&res), "/anmelden");
}

#[test]
fn errors_outside_the_api_are_german_html_pages_and_the_api_keeps_json() {
    let app = TestApp::new();
    let res = app.client.get("/gibt-es-nicht").dispatch();
    assert_eq!(res.status(), Status::NotFound);
    assert_eq!(res.content_type(), Some(ContentType::HTML));
    let html = res.into_string().unwrap();
    assert!(
        html.contains("<html lang=\"de\">") && html.contains("Seite nicht gefunden"),
        "{html}"
    );
    let res = app.client.get("/static/gibt-es-nicht.css").dispatch();
    assert_eq!(res.status(), Status::NotFound);
    assert_eq!(res.content_type(), Some(ContentType::HTML));
    // A form that cannot be read is a German page too, not JSON.
    let res = app
        .client
        .post("/anmelden")
        .header(ContentType::Form)
        .body("email=%zz&password=%")
        .dispatch();
    assert!(res.status().code >= 400, "{}", res.status());
    assert_eq!(res.content_type(), Some(ContentType::HTML));
    let (status, v) = app.get("/api/v1/gibt-es-nicht");
    assert_eq!(status, Status::NotFound);
    assert_eq!(v["error"], "not_found", "{v}");
}
