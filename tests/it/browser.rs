//! End to end in a real browser: headless Chromium (Debian's `chromium`), driven through
//! `chromedriver` with fantoccini, against the application served on a loopback port.
//!
//! A municipality user logs in, requests and signs the Rahmenvereinbarung, files the
//! Einzelabruf for Wohngeld with parameters, coat of arms and DVDV certificate (after a
//! refused first try), and signs it; a clerk countersigns both and puts the RV into
//! force; both download the sealed PDF in their browser. On every page type axe-core
//! (tests/browser/node_modules, `npm ci --prefix tests/browser`) must find no violation
//! of the WCAG 2.1 A/AA rules, at 1280 px and at 320 px, and nothing may scroll sideways
//! at either width (reflow). Screenshots of every page at both widths are written to
//! `target/tmp/screenshots/`.
//!
//! Missing chromium, chromedriver or axe-core make the test fail, not skip.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::*;
use fantoccini::{Client, ClientBuilder, Locator};
use rocket::http::Status;
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "chromedriver";
const WAPPEN_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 12"><title>Wappen</title><path d="M0 0h10v8l-5 4-5-4z" fill="#c00"/></svg>"##;

async fn wait_for_port(port: u16, what: &str) {
    for _ in 0..200 {
        if rocket::tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not start on port {port}");
}

/// chromedriver, stopped when the test ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn axe_source() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. Install axe-core with `npm ci --prefix tests/browser` (.ci/run does).",
            path.display()
        )
    })
}

fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A browser session of its own (own cookies), headless, desktop size.
async fn browser(driver_port: u16) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1024", "--lang=de-DE",
                     // No smooth scrolling (KERN's default), so a click lands where it aims.
                     "--force-prefers-reduced-motion"],
        }),
    );
    ClientBuilder::native()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("a chromedriver session")
}

/// Checks and records what axe-core finds on the current page.
struct Audit {
    axe: String,
    violations: Vec<String>,
    pages: Vec<String>,
}

impl Audit {
    /// Checks the current page at desktop width (1280 px) and at the narrowest phone
    /// width (320 px): nothing may scroll sideways (WCAG 1.4.10 reflow), and axe-core
    /// must find no WCAG 2.1 A/AA violation at either width. Screenshots of both.
    async fn check(&mut self, c: &Client, name: &str) {
        for width in [1280u32, 320] {
            c.set_window_size(width, 1024).await.expect("window size");
            let wide = c
                .execute(
                    r#"const w = document.documentElement.clientWidth;
                       if (document.documentElement.scrollWidth <= w + 1) return [];
                       return [...document.querySelectorAll('body *')]
                         .filter(e => e.getBoundingClientRect().right > w + 1
                                   && !e.closest('.tabelle[tabindex]'))
                         .slice(0, 5)
                         .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
                                   (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\s+/).join('.') : '') +
                                   ' (' + Math.round(e.getBoundingClientRect().right) + ' px)');"#,
                    vec![],
                )
                .await
                .expect("layout check runs");
            if let Some(list) = wide.as_array().filter(|l| !l.is_empty()) {
                self.violations.push(format!(
                    "{name} at {width} px: scrolls sideways, wider than the screen: {}",
                    list.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            self.axe(c, &format!("{name} at {width} px")).await;
            let png = c.screenshot().await.expect("screenshot");
            let file = if width == 1280 {
                format!("{name}.png")
            } else {
                format!("{name}-{width}.png")
            };
            std::fs::write(screenshot_dir().join(file), png).unwrap();
        }
        c.set_window_size(1280, 1024).await.expect("window size");
        self.pages.push(name.to_string());
    }

    async fn axe(&mut self, c: &Client, name: &str) {
        c.execute(&self.axe, vec![]).await.expect("axe-core loads");
        let found = c
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                   axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
                      .then(r => done({ passes: r.passes.length,
                                        violations: r.violations.map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at ' +
                                          v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')) }))
                      .catch(e => done({ passes: 0, violations: ['axe failed: ' + e] }));"#,
                vec![],
            )
            .await
            .expect("axe-core runs");
        // axe really looked: a page of ours passes dozens of its checks.
        let passes = found["passes"].as_u64().unwrap_or(0);
        assert!(
            passes >= 10,
            "{name}: axe-core ran only {passes} checks: {found}"
        );
        for v in found["violations"].as_array().cloned().unwrap_or_default() {
            self.violations
                .push(format!("{name}: {}", v.as_str().unwrap_or_default()));
        }
    }
}

async fn goto(c: &Client, base: &str, path: &str) {
    c.goto(&format!("{base}{path}")).await.expect("page loads");
}

async fn text(c: &Client) -> String {
    c.find(Locator::Css("main"))
        .await
        .expect("a main element")
        .text()
        .await
        .unwrap()
}

/// Clicks a link or button and waits until the next page has loaded.
async fn click(c: &Client, css: &str) {
    c.execute("window.__vorher = true;", vec![]).await.unwrap();
    click_here(c, css).await;
    for _ in 0..400 {
        let loaded = c
            .execute(
                "return window.__vorher === undefined && document.readyState === 'complete'",
                vec![],
            )
            .await
            .unwrap_or(Value::Bool(false));
        if loaded == Value::Bool(true) {
            return;
        }
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no new page after clicking {css}");
}

/// Clicks something that stays on the page.
async fn click_here(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// Signs on the agreement page it is on: the declaration confirmed, the password again;
/// ends on the receipt.
async fn sign(c: &Client, password: &str) {
    click_here(c, "#erklaerung").await;
    fill(c, "passwort", password).await;
    click(c, "form[action$='/unterschreiben'] button").await;
    let t = text(c).await;
    assert!(
        t.contains("Ihre Unterschrift ist erfasst") && t.contains("Wie geht es weiter?"),
        "{t}"
    );
}

async fn fill(c: &Client, id: &str, value: &str) {
    let e = c
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"));
    e.clear().await.ok();
    e.send_keys(value).await.unwrap();
}

async fn login(c: &Client, base: &str, email: &str, password: &str) {
    goto(c, base, "/anmelden").await;
    fill(c, "email", email).await;
    fill(c, "password", password).await;
    click(c, "main form button[type=submit]").await;
}

/// The path of the current page.
async fn path(c: &Client) -> String {
    c.current_url().await.unwrap().path().to_string()
}

/// Downloads a URL with the browser's session (fetch with its cookies); returns the bytes.
async fn download(c: &Client, path: &str) -> Vec<u8> {
    let v = c
        .execute_async(
            r#"const [url, done] = [arguments[0], arguments[arguments.length - 1]];
               fetch(url).then(r => r.ok ? r.arrayBuffer() : Promise.reject(r.status))
                 .then(b => { let s = ''; new Uint8Array(b).forEach(x => s += String.fromCharCode(x)); done(btoa(s)); })
                 .catch(e => done('FEHLER ' + e));"#,
            vec![Value::String(path.to_string())],
        )
        .await
        .unwrap();
    let b64 = v.as_str().unwrap_or_default();
    assert!(!b64.starts_with("FEHLER"), "download {path}: {b64}");
    openssl::base64::decode_block(b64).unwrap()
}

#[test]
fn a_municipality_files_an_einzelabruf_in_the_browser_and_every_page_is_accessible() {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: apt-get install chromium chromium-driver"
    );
    let axe = axe_source();
    let app = TestApp::new();
    let (_, _, wohngeld) = wohngeld_supply(&app);
    let koeln = app.municipality("05315000");
    let govconnect = app.organisation("intermediaries", "GovConnect GmbH");
    let erika_pw = "Erika-Koeln-Passwort-2026";
    let carl_pw = "Carl-Clerk-Passwort-2026";
    let ada_pw = "Ada-Admin-Passwort-2026";
    let ina_pw = "Ina-GovConnect-2026!";
    app.user(json!({ "email": "erika@stadt-koeln.de", "name": "Erika Köln", "role": "municipality", "municipality_id": koeln, "may_sign": true, "password": erika_pw }));
    app.user(json!({ "email": "carl@d-nrw.de", "name": "Carl Clerk", "role": "clerk", "may_sign": true, "password": carl_pw }));
    app.user(json!({ "email": "ada@d-nrw.de", "name": "Ada Admin", "role": "admin", "password": ada_pw }));
    app.user(json!({ "email": "ina@govconnect.de", "name": "Ina GovConnect", "role": "intermediary", "organisation_id": govconnect, "password": ina_pw }));
    let gewerbe = app.service("Gewerbeanzeige");
    // A user invited by an admin: the link of the mail (the secret, from the outbox).
    let invitation = app.invited_clerk("eingeladen@d-nrw.de");
    let dir = std::env::temp_dir().join(format!("nachnutzung-browser-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let wappen = dir.join("wappen.svg");
    std::fs::write(&wappen, WAPPEN_SVG).unwrap();
    let good_cert = dir.join("dvdv.pem");
    std::fs::write(
        &good_cert,
        certificate("Wohngeldstelle Köln", -1, 365, &["keyEncipherment"]),
    )
    .unwrap();
    let expired_cert = dir.join("alt.pem");
    std::fs::write(
        &expired_cert,
        certificate("Wohngeldstelle Köln", -400, -3, &["keyEncipherment"]),
    )
    .unwrap();

    // A mail that could not be sent: the clerk's outbox shows it with "Erneut senden".
    app.fail_oldest_mail("550 5.1.1 mailbox unavailable", 2);

    let (app_port, driver_port) = (free_port(), free_port());
    let rocket = nachnutzung::app::build(app.served_on(app_port)).expect("server builds");
    let _driver = Driver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (apt-get install chromium-driver)"),
    );
    let base = format!("http://127.0.0.1:{app_port}");
    let runtime = rocket::tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (pdfs, audit) = runtime.block_on(async {
        rocket::tokio::spawn(async move {
            let _ = rocket.launch().await;
        });
        wait_for_port(app_port, "the application").await;
        wait_for_port(driver_port, "chromedriver").await;
        let mut audit = Audit { axe, violations: Vec::new(), pages: Vec::new() };
        let m = browser(driver_port).await;

        // What a visitor sees first, and the public texts of the footer.
        goto(&m, &base, "/").await;
        assert!(text(&m).await.contains("Zugang erhalten"));
        audit.check(&m, "start-besucher").await;
        for page in ["/impressum", "/datenschutz", "/barrierefreiheit"] {
            goto(&m, &base, page).await;
            audit.check(&m, page).await;
        }

        // Public catalogue and a service.
        goto(&m, &base, "/katalog").await;
        assert!(text(&m).await.contains("Wohngeld (Online-Dienst Wohngeld)"));
        audit.check(&m, "katalog").await;
        goto(&m, &base, &format!("/katalog/{wohngeld}")).await;
        assert!(text(&m).await.contains("Was Ihre Kommune bereitstellt"));
        audit.check(&m, "katalog-dienst").await;
        // Checking a document, from the footer link.
        goto(&m, &base, "/pruefen").await;
        assert!(text(&m).await.contains("Dokument prüfen"));
        audit.check(&m, "pruefen").await;

        // Login: a wrong password first (the error summary), then the right one.
        login(&m, &base, "erika@stadt-koeln.de", "falsches-passwort").await;
        assert!(text(&m).await.contains("nicht richtig"), "{}", text(&m).await);
        audit.check(&m, "anmelden-fehler").await;
        login(&m, &base, "erika@stadt-koeln.de", erika_pw).await;
        // An initial password is changed first.
        assert_eq!(path(&m).await, "/passwort");
        audit.check(&m, "passwort").await;
        let erika_new = "Erika-eigenes-Passwort-2026";
        fill(&m, "current", erika_pw).await;
        fill(&m, "new", erika_new).await;
        fill(&m, "repeat", erika_new).await;
        click(&m, "main form button[type=submit]").await;
        assert_eq!(path(&m).await, "/kommune");
        assert!(text(&m).await.contains("noch keine Rahmenvereinbarung"));
        audit.check(&m, "meine-kommune").await;

        // Request the RV and sign it.
        click(&m, "form[action='/kommune/rahmenvereinbarung'] button").await;
        let rv_path = path(&m).await;
        assert!(rv_path.starts_with("/vereinbarungen/"), "{rv_path}");
        // A draft with its text to read; requested only with the explicit step.
        let t = text(&m).await;
        assert!(t.contains("Prüfen und verbindlich beantragen") && t.contains("§ 5 Vergaberecht und Trägerschaft"), "{t}");
        audit.check(&m, "rv-entwurf").await;
        click(&m, "form[action$='/antrag'] button").await;
        assert!(text(&m).await.contains("wartet auf Unterschriften"));
        audit.check(&m, "vereinbarung-rv").await;
        // Without the declaration and the password nothing is signed: the form says why.
        click(&m, "form[action$='/unterschreiben'] button").await;
        let t = text(&m).await;
        assert!(t.contains("Bitte bestätigen Sie die Erklärung") && t.contains("Bitte geben Sie zur Unterschrift Ihr Passwort ein"), "{t}");
        audit.check(&m, "unterschrift-fehler").await;
        sign(&m, erika_new).await;
        assert!(text(&m).await.contains("Als Nächstes unterzeichnet d-NRW AöR"), "{}", text(&m).await);
        audit.check(&m, "quittung").await;
        goto(&m, &base, &rv_path).await;
        assert!(text(&m).await.contains("unterzeichnet von Erika Köln"));

        // The clerk countersigns and puts it into force.
        let c = browser(driver_port).await;
        login(&c, &base, "carl@d-nrw.de", carl_pw).await;
        fill(&c, "current", carl_pw).await;
        fill(&c, "new", "Carl-eigenes-Passwort-2026").await;
        fill(&c, "repeat", "Carl-eigenes-Passwort-2026").await;
        click(&c, "main form button[type=submit]").await;
        assert!(text(&c).await.contains("Gegenzeichnung durch d-NRW fällig (1)"), "{}", text(&c).await);
        audit.check(&c, "uebersicht").await;
        goto(&c, &base, &rv_path).await;
        sign(&c, "Carl-eigenes-Passwort-2026").await;
        assert!(text(&c).await.contains("Alle Unterschriften liegen vor"), "{}", text(&c).await);
        goto(&c, &base, &rv_path).await;
        // In force with the last signature, as the text says: nothing to click.
        let t = text(&c).await;
        assert!(t.contains("Gesiegeltes Dokument, Fassung 1") && t.contains("In Kraft seit"), "{t}");
        assert!(!t.contains("In Kraft setzen"), "{t}");

        // The Einzelabruf: the guided form, a refused try (expired certificate, no
        // contact), then the complete one.
        goto(&m, &base, "/kommune").await;
        click(&m, &format!("a[href='/kommune/einzelabruf?dienst={wohngeld}']")).await;
        assert!(text(&m).await.contains("Einzelabruf beantragen"));
        audit.check(&m, "einzelabruf-formular").await;
        fill(&m, "p-zustaendige_stelle_url", "https://www.stadt-koeln.de/wohngeld").await;
        fill(&m, "p-kontakt_email", "wohngeld@stadt-koeln.de").await;
        m.find(Locator::Id("zertifikat")).await.unwrap()
            .send_keys(expired_cert.to_str().unwrap()).await.unwrap();
        click(&m, "main form button[type=submit]").await;
        let t = text(&m).await;
        assert!(t.contains("Bitte prüfen Sie Ihre Angaben") && t.contains("abgelaufen"), "{t}");
        // The summary links to the field with the problem.
        click_here(&m, "#fehler a[href='#zertifikat']").await;
        let target = m.execute("return location.hash", vec![]).await.unwrap();
        assert_eq!(target, json!("#zertifikat"));
        audit.check(&m, "einzelabruf-fehler").await;
        m.find(Locator::Id("wappen")).await.unwrap()
            .send_keys(wappen.to_str().unwrap()).await.unwrap();
        m.find(Locator::Id("zertifikat")).await.unwrap()
            .send_keys(good_cert.to_str().unwrap()).await.unwrap();
        fill(&m, "kontakt_name", "Erika Mustermann").await;
        fill(&m, "kontakt_email", "erika.mustermann@stadt-koeln.de").await;
        click(&m, "main form button[type=submit]").await;
        let ea_path = path(&m).await;
        let t = text(&m).await;
        assert!(t.contains("Einzelabruf (EA) als Entwurf angelegt"), "{t}");
        assert!(t.contains("CN=Wohngeldstelle Köln") && t.contains("keyEncipherment"), "{t}");
        let shown = m
            .execute("const i = document.querySelector('img.wappen'); return i && i.complete && i.naturalWidth > 0", vec![])
            .await
            .unwrap();
        assert_eq!(shown, json!(true), "the coat of arms is shown");
        audit.check(&m, "vereinbarung-ea").await;
        click(&m, "form[action$='/antrag'] button").await;
        assert!(text(&m).await.contains("wartet auf Unterschriften"));
        sign(&m, erika_new).await;

        goto(&c, &base, &ea_path).await;
        sign(&c, "Carl-eigenes-Passwort-2026").await;
        goto(&c, &base, &ea_path).await;
        assert!(text(&c).await.contains("Gesiegeltes Dokument, Fassung 1"));

        // Both download the sealed PDF with their browser session.
        goto(&m, &base, &ea_path).await;
        let from_m = download(&m, &format!("{ea_path}/dokument.pdf")).await;
        let from_c = download(&c, &format!("{ea_path}/dokument.pdf")).await;

        // In force with the last signature, the EA has its go-live tasks; Köln reports
        // its VSM entry (a wrong address first) and the clerk follows the roll-out.
        goto(&c, &base, &ea_path).await;
        assert!(text(&c).await.contains("Inbetriebnahme"), "{}", text(&c).await);
        goto(&m, &base, "/aufgaben").await;
        assert!(text(&m).await.contains("Eintrag in die Verwaltungssuchmaschine"));
        audit.check(&m, "aufgaben").await;
        click(&m, "main table a[href^='/aufgaben/']").await;
        fill(&m, "zustaendige_stelle", "Amt für Wohnungswesen").await;
        fill(&m, "service_url", "stadt-koeln.de/wohngeld").await;
        click(&m, "main form[action$='/schritt'] button").await;
        assert!(text(&m).await.contains("keine Web-Adresse"), "{}", text(&m).await);
        audit.check(&m, "aufgabe-fehler").await;
        fill(&m, "service_url", "https://www.stadt-koeln.de/wohngeld").await;
        click(&m, "main form[action$='/schritt'] button").await;
        assert!(text(&m).await.contains("Nachweise"), "{}", text(&m).await);
        audit.check(&m, "aufgabe").await;
        goto(&m, &base, "/kalender").await;
        click(&m, "main form button").await;
        assert!(text(&m).await.contains(".ics"), "{}", text(&m).await);
        audit.check(&m, "kalender").await;
        goto(&c, &base, "/rollout?rb=K%C3%B6ln").await;
        assert!(text(&c).await.contains("Köln"));
        audit.check(&c, "rollout").await;
        goto(&c, &base, "/rollout").await;
        audit.check(&c, "rollout-nrw").await;
        goto(&c, &base, "/rollout?q=K%C3%B6ln").await;
        assert!(text(&c).await.contains("Köln"));
        audit.check(&c, "rollout-kommunen").await;

        // Staff pages, the error page, the admin's user management and the intermediary's
        // start page.
        goto(&c, &base, "/kommunen?rv=in_kraft").await;
        assert!(text(&c).await.contains("Köln"));
        audit.check(&c, "kommunen").await;
        goto(&c, &base, &format!("/kommunen/{koeln}")).await;
        audit.check(&c, "kommune-staff").await;
        goto(&c, &base, &format!("/dienste/{wohngeld}")).await;
        audit.check(&c, "dienst-staff").await;
        goto(&c, &base, "/dienste").await;
        audit.check(&c, "dienste").await;
        goto(&c, &base, "/partner").await;
        audit.check(&c, "partner").await;
        goto(&c, &base, &format!("/partner/{govconnect}")).await;
        audit.check(&c, "partner-seite").await;
        goto(&c, &base, "/partner/neu").await;
        audit.check(&c, "partner-neu").await;
        goto(&c, &base, "/dienste/neu").await;
        audit.check(&c, "dienst-neu").await;
        goto(&c, &base, &format!("/dienste/{wohngeld}/bearbeiten")).await;
        audit.check(&c, "dienst-bearbeiten").await;
        goto(&c, &base, "/vereinbarungen").await;
        audit.check(&c, "vereinbarungen").await;
        goto(&c, &base, "/post").await;
        assert!(text(&c).await.contains("550 5.1.1 mailbox unavailable"), "{}", text(&c).await);
        audit.check(&c, "postausgang").await;
        click(&c, "main form[action$='/erneut'] button").await;
        assert!(text(&c).await.contains("erneut gesendet"), "{}", text(&c).await);
        audit.check(&c, "postausgang-erneut").await;
        goto(&c, &base, &format!("{rv_path}/aenderung")).await;
        audit.check(&c, "aenderung").await;
        // "Kündigen …" asks first, on a page of its own.
        goto(&c, &base, &rv_path).await;
        click(&c, "main form:has(input[value='terminate']) button").await;
        assert!(text(&c).await.contains("kündigen?"), "{}", text(&c).await);
        audit.check(&c, "kuendigen-bestaetigen").await;
        goto(&c, &base, &format!("/vereinbarungen/neu-ea?dienst={wohngeld}")).await;
        audit.check(&c, "einzelabruf-staff").await;
        goto(&c, &base, "/vereinbarungen/neu?art=ekv").await;
        click(&c, "main form button[type=submit]").await;
        assert!(text(&c).await.contains("Bitte prüfen Sie Ihre Angaben"), "{}", text(&c).await);
        audit.check(&c, "entwurf-ekv-fehler").await;
        goto(&c, &base, "/vereinbarungen/00000000-0000-4000-8000-000000000000").await;
        assert!(text(&c).await.contains("Es gibt keine Vereinbarung."), "{}", text(&c).await);
        assert!(!text(&c).await.contains("00000000-"), "no internal id on the page");
        audit.check(&c, "fehlerseite-404").await;
        goto(&c, &base, "/").await;
        click(&c, "form[action='/abmelden'] button").await;
        login(&c, &base, "ada@d-nrw.de", ada_pw).await;
        fill(&c, "current", ada_pw).await;
        fill(&c, "new", "Ada-eigenes-Passwort-2026").await;
        fill(&c, "repeat", "Ada-eigenes-Passwort-2026").await;
        click(&c, "main form button[type=submit]").await;
        goto(&c, &base, "/benutzer").await;
        audit.check(&c, "benutzer").await;
        // "Sperren" asks first, on a page of its own.
        click(&c, "main form:has(input[name='sperren']) button").await;
        assert!(text(&c).await.contains("sperren?"), "{}", text(&c).await);
        audit.check(&c, "sperren-bestaetigen").await;
        click(&c, "form[action='/abmelden'] button").await;
        login(&c, &base, "ina@govconnect.de", ina_pw).await;
        fill(&c, "current", ina_pw).await;
        fill(&c, "new", "Ina-eigenes-Passwort-2026").await;
        fill(&c, "repeat", "Ina-eigenes-Passwort-2026").await;
        click(&c, "main form button[type=submit]").await;
        assert!(text(&c).await.contains("Vereinbarungen von GovConnect GmbH"), "{}", text(&c).await);
        audit.check(&c, "kommunalvertreter").await;
        // An NRW service as another Land's intermediary sees it (its way to start).
        goto(&c, &base, &format!("/katalog/{gewerbe}")).await;
        assert!(text(&c).await.contains("So starten Sie als anderes Land"), "{}", text(&c).await);
        audit.check(&c, "katalog-nrw-dienst").await;
        // The page of an invitation link.
        goto(&c, &base, &format!("/einladung/{invitation}")).await;
        assert!(text(&c).await.contains("Passwort festlegen"), "{}", text(&c).await);
        audit.check(&c, "einladung").await;
        c.close().await.unwrap();

        m.close().await.unwrap();
        ((from_m, from_c), audit)
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    std::fs::remove_dir_all(&dir).ok();

    let (from_m, from_c) = pdfs;
    assert!(from_m.starts_with(b"%PDF-"));
    assert_eq!(from_m, from_c, "both download the same sealed document");
    let (status, v) = app.verify(&from_m);
    assert_eq!(status, Status::Ok);
    assert_eq!(v["seal_valid"], true, "{v}");
    assert_eq!(v["issued_by_registry"], true, "{v}");
    assert!(audit.pages.len() >= 36, "{:?}", audit.pages);
    assert!(
        audit.violations.is_empty(),
        "axe-core found WCAG 2.1 A/AA violations:\n{}",
        audit.violations.join("\n")
    );
}
