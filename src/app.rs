//! Building the application: open and migrate the database, seed it, work out the staff
//! token, mount the routes and catchers.

use std::path::Path;

use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::{Build, Rocket};

use crate::config::{Config, MIN_TOKEN_LEN};
use crate::db::{Backend, Db, DbUrl};
use crate::error::{AppError, AppResult};
use crate::seal::Sealer;

use crate::http::state::{token_hash, AppState};

/// The seal named in the configuration, or the TEST seal: on PostgreSQL the one all
/// instances share in the database (its key under a password derived from the shared
/// `secret_key`), on SQLite the data folder's. A seal that cannot be loaded stops the
/// start with a message for the operator.
pub fn sealer(config: &Config, figment: &Figment, db: &Db) -> AppResult<Sealer> {
    sealer_with(config, figment, db.backend(), |password| {
        db.write_blocking(|conn| crate::store::test_seal::ensure(conn, password))
    })
}

/// As [`sealer`], the shared TEST seal got by `shared` (from its password): `restore`
/// reads it inside its own transaction, where the seal that came with a backup is.
pub fn sealer_with(
    config: &Config,
    figment: &Figment,
    backend: Backend,
    shared: impl FnOnce(&str) -> AppResult<Vec<u8>>,
) -> AppResult<Sealer> {
    let failed = |e: crate::seal::SealError| AppError::bad_request(e.to_string());
    if config.seal_pkcs12.is_some() || backend != Backend::Postgres {
        return Sealer::from_config(config).map_err(failed);
    }
    let Some(secret) = configured_secret(figment) else {
        // A release build refuses (the server, and the CLI's verify and render, which
        // would otherwise seal or check with a seal no instance uses); a debug build runs
        // alone with its own TEST seal.
        require_secret_key(Backend::Postgres, false, !cfg!(debug_assertions))?;
        log::warn!(
            "no secret_key on PostgreSQL: the TEST seal is this instance's own (data folder)"
        );
        return Sealer::from_config(config).map_err(failed);
    };
    let password = crate::store::test_seal::password(&secret);
    let der = shared(&password)?;
    Sealer::from_config_with(config, Some((&der, &password))).map_err(|e| {
        AppError::bad_request(format!(
            "Das gemeinsame TEST-Siegel in der Datenbank lässt sich mit diesem secret_key nicht \
             öffnen ({e}): jede Instanz braucht denselben secret_key wie die, die es angelegt \
             hat (nach einer Wiederherstellung: den der Quelle), oder ein eigenes Siegel \
             (seal_pkcs12)."
        ))
    })
}

/// The configured `secret_key` as configured (text or bytes), unless absent or all zero.
pub fn configured_secret(figment: &Figment) -> Option<Vec<u8>> {
    let raw = match figment.extract_inner::<String>("secret_key") {
        Ok(text) => text.into_bytes(),
        Err(_) => figment.extract_inner::<Vec<u8>>("secret_key").ok()?,
    };
    let usable = figment
        .extract_inner::<rocket::config::SecretKey>("secret_key")
        .is_ok_and(|k| !k.is_zero());
    usable.then_some(raw)
}

/// Whether an instance may start without a configured `secret_key`: on PostgreSQL the
/// instances must share one (the session cookies, the shared TEST seal), so a release
/// build refuses; a debug build runs alone with a random one.
pub fn require_secret_key(backend: Backend, configured: bool, release: bool) -> AppResult<()> {
    if backend == Backend::Postgres && !configured && release {
        return Err(AppError::bad_request(
            "Auf PostgreSQL braucht jede Instanz denselben gültigen secret_key \
             (ROCKET_SECRET_KEY: 32 oder 64 zufällige Bytes in Base64, z. B. openssl rand \
             -base64 64): er verschlüsselt die Sitzungen und schützt das gemeinsame \
             TEST-Siegel. Ohne ihn startet die Anwendung nicht.",
        ));
    }
    Ok(())
}

/// Opens the database named in the configuration and applies the migrations.
pub fn open_db(config: &Config) -> AppResult<Db> {
    let url = DbUrl::parse(&config.database_url).map_err(AppError::bad_request)?;
    let db = Db::open(&url, config.database_pool_size)?;
    db.migrate()?;
    Ok(db)
}

/// The staff token: configured, or (embedded SQLite only) generated once and kept in the
/// data folder so the demo login survives restarts.
pub fn staff_token(config: &Config, backend: Backend) -> AppResult<Option<String>> {
    if let Some(token) = &config.staff_token {
        if token.trim().len() < MIN_TOKEN_LEN {
            return Err(AppError::bad_request(format!(
                "staff_token ist zu kurz: mindestens {MIN_TOKEN_LEN} Zeichen."
            )));
        }
        return Ok(Some(token.trim().to_string()));
    }
    if backend == Backend::Postgres {
        log::warn!("no staff_token configured: the API is read-only");
        return Ok(None);
    }
    let path = config.data_dir.join("staff-token");
    if let Ok(token) = std::fs::read_to_string(&path) {
        if token.trim().len() >= MIN_TOKEN_LEN {
            return Ok(Some(token.trim().to_string()));
        }
    }
    let token = crate::store::random_hex(24);
    write_secret(&path, &token)?;
    Ok(Some(token))
}

/// The password of the demo accounts (embedded demo only): generated once into
/// `<data_dir>/demo-password` (mode 0600) and printed at start.
pub fn demo_password(config: &Config) -> AppResult<String> {
    let path = config.data_dir.join("demo-password");
    if let Ok(p) = std::fs::read_to_string(&path) {
        if p.trim().len() >= crate::domain::account::MIN_PASSWORD {
            return Ok(p.trim().to_string());
        }
    }
    let password = crate::store::random_hex(8);
    write_secret(&path, &password)?;
    Ok(password)
}

/// Rocket's `secret_key` (it encrypts the session cookies): configured, or (embedded SQLite
/// only) generated once into `<data_dir>/secret-key` (base64) so sessions survive a
/// restart.
/// Several instances on PostgreSQL must share one: set `ROCKET_SECRET_KEY`.
fn with_secret_key(figment: Figment, config: &Config, backend: Backend) -> AppResult<Figment> {
    // Rocket's defaults carry an all-zero key (which a release build refuses to run with).
    let configured = figment
        .extract_inner::<rocket::config::SecretKey>("secret_key")
        .is_ok_and(|k| !k.is_zero());
    require_secret_key(backend, configured, !cfg!(debug_assertions))?;
    if configured || backend == Backend::Postgres {
        return Ok(figment);
    }
    let path = config.data_dir.join("secret-key");
    // 64 random bytes in base64 (88 characters), as Rocket reads a secret key.
    let key = match std::fs::read_to_string(&path) {
        Ok(k) if k.trim().len() == 88 => k.trim().to_string(),
        _ => {
            let mut bytes = [0u8; 64];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
            let key = openssl::base64::encode_block(&bytes);
            write_secret(&path, &key)?;
            key
        }
    };
    Ok(figment.merge(("secret_key", key)))
}

fn write_secret(path: &Path, secret: &str) -> AppResult<()> {
    crate::config::write_private_file(path, secret.as_bytes())
        .map_err(|e| AppError::internal(format!("cannot write {}: {e}", path.display())))
}

/// `static/` of the crate (CSS): next to the binary's sources in development, or
/// `NACHNUTZUNG_STATIC_DIR` where the binary is deployed on its own.
fn static_dir() -> std::path::PathBuf {
    std::env::var_os("NACHNUTZUNG_STATIC_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/static")))
}

/// Builds the Rocket instance from a prepared database and configuration.
/// The certificates of `qes_trust_anchors`, as DER; an unreadable file stops the start.
pub fn qes_anchors(config: &Config) -> AppResult<Vec<Vec<u8>>> {
    let mut anchors = Vec::new();
    for path in &config.qes_trust_anchors {
        let pem = std::fs::read(path).map_err(|e| {
            AppError::bad_request(format!("qes_trust_anchors: {}: {e}", path.display()))
        })?;
        let certs = openssl::x509::X509::stack_from_pem(&pem).map_err(|e| {
            AppError::bad_request(format!("qes_trust_anchors: {}: {e}", path.display()))
        })?;
        for cert in certs {
            anchors.push(
                cert.to_der()
                    .map_err(|e| AppError::internal(e.to_string()))?,
            );
        }
    }
    Ok(anchors)
}

pub fn rocket(figment: Figment, config: &Config, db: Db) -> AppResult<Rocket<Build>> {
    if config.seed_reference_data {
        db.write_blocking(crate::seed::reference_data)?;
    }
    let sealer = sealer(config, &figment, &db)?;
    if config.seed_demo_agreements {
        let seal = crate::demo::Seal {
            sealer: &sealer,
            order: config.signing_order,
        };
        db.write_blocking(|conn| crate::demo::demo_agreements(conn, &seal))?;
    }
    let demo_logins = if config.seed_demo_agreements {
        let password = demo_password(config)?;
        db.write_blocking(|conn| crate::demo::demo_users(conn, &password))?;
        Some(password)
    } else {
        None
    };
    let token = staff_token(config, db.backend())?;
    let figment = with_secret_key(figment, config, db.backend())?;
    let mailer =
        crate::mail::Mailer::from_settings(&config.mail, &config.base_url, &config.data_dir)?;
    let background = crate::jobs::Background {
        db: db.clone(),
        mailer,
        from: config.mail.mail_from.clone(),
        settings: config.jobs.clone(),
        order: config.signing_order,
    };
    let stopper = crate::jobs::Stopper::default();
    let stop_db = db.clone();
    let rollout = std::sync::Arc::new(crate::actions::rollout::snapshot::RolloutCache::new(
        db.write_log(),
    ));
    // Named, not described: `/health/ready` is public, and the relay's address or the
    // server's folders are nobody's business there.
    let mail_transport = match config.mail.mail_transport {
        crate::mail::TransportKind::Smtp => "smtp",
        crate::mail::TransportKind::Folder => "folder",
    };
    let metrics_token_hash = match config.metrics_token.as_deref().map(str::trim) {
        Some(t) if t.len() < MIN_TOKEN_LEN => {
            return Err(AppError::bad_request(format!(
                "metrics_token ist zu kurz: mindestens {MIN_TOKEN_LEN} Zeichen."
            )))
        }
        Some(t) => Some(token_hash(t)),
        None => None,
    };
    let state = AppState {
        metrics_token_hash,
        mail_transport,
        db,
        staff_token_hash: token.as_deref().map(token_hash),
        catalog: Default::default(),
        rollout,
        counts: Default::default(),
        districts: std::sync::Arc::new(crate::store::data_version::Versioned::new([
            crate::store::data_version::MUNICIPALITIES,
        ])),
        offered_services: std::sync::Arc::new(crate::store::data_version::Versioned::new([
            crate::store::data_version::SERVICES,
            crate::store::data_version::ORGANISATIONS,
        ])),
        municipality_keys: std::sync::Arc::new(crate::store::data_version::Versioned::new([
            crate::store::data_version::MUNICIPALITIES,
        ])),
        all_services: std::sync::Arc::new(crate::store::data_version::Versioned::new([
            crate::store::data_version::SERVICES,
            crate::store::data_version::ORGANISATIONS,
        ])),
        sealer: std::sync::Arc::new(sealer),
        signing_order: config.signing_order,
        base_url: config.base_url.clone(),
        qes_anchors: std::sync::Arc::new(qes_anchors(config)?),
        legal: std::sync::Arc::new({
            crate::domain::codes::check_email(&config.contact_email)
                .map_err(|e| AppError::bad_request(format!("contact_email: {e}")))?;
            crate::http::state::LegalTexts::load(
                config.legal_texts_dir.as_deref(),
                &config.contact_email,
            )
            .map_err(AppError::bad_request)?
        }),
    };
    // The start message goes to standard output, or (JSON log) to standard error, so that
    // standard output carries only JSON lines.
    let json_log = config.log_format == crate::config::LogFormat::Json;
    macro_rules! say {
        ($($arg:tt)*) => {
            if json_log { eprintln!($($arg)*) } else { println!($($arg)*) }
        };
    }
    Ok(rocket::custom(figment)
        .manage(state)
        .manage(crate::http::ErrorPages(crate::web::error_html))
        .mount("/", crate::api::routes())
        .mount("/", crate::web::routes())
        .mount("/", crate::http::ops::routes())
        .mount("/static", rocket::fs::FileServer::from(static_dir()))
        .register("/api", crate::api::catchers())
        .register("/", crate::web::catchers())
        .attach(crate::http::telemetry::Telemetry)
        .attach(crate::http::QueryGate)
        .attach(AdHoc::on_liftoff("Postausgang und Erinnerungen", {
            let stopper = stopper.clone();
            move |_| Box::pin(async move { background.spawn(stopper) })
        }))
        // SIGTERM (or Ctrl-C): Rocket takes no new requests and gives the running ones
        // its grace and mercy periods; meanwhile the background loop claims no further
        // mail, its round ends (at most as long as those periods), and the leases it
        // still holds are given back. Then the process exits 0.
        .attach(AdHoc::on_shutdown("Postausgang anhalten", move |rocket| {
            Box::pin(async move {
                let s = &rocket.config().shutdown;
                let bound = std::time::Duration::from_secs(u64::from(s.grace) + u64::from(s.mercy));
                let report = stopper.stop(&stop_db, bound).await;
                match report.released {
                    Ok(n) => log::info!(
                        "shutdown: background work {}, {n} mail lease(s) given back",
                        if report.finished {
                            "ended"
                        } else {
                            "still running, not awaited"
                        }
                    ),
                    Err(e) => log::error!("shutdown: mail leases not given back: {}", e.message),
                }
            })
        }))
        .attach(AdHoc::on_liftoff("Startmeldung", move |rocket| {
            Box::pin(async move {
                let cfg = rocket.config();
                say!();
                say!(
                    "Nachnutzungsregister läuft auf http://{}:{}",
                    cfg.address,
                    cfg.port
                );
                say!(
                    "  Katalog (öffentlich): http://{}:{}/katalog",
                    cfg.address,
                    cfg.port
                );
                if let Some(password) = &demo_logins {
                    say!(
                        "  Demo-Anmeldungen (http://{}:{}/anmelden), Passwort für alle: {password}",
                        cfg.address,
                        cfg.port
                    );
                    for (email, name, _, _) in crate::demo::DEMO_USERS {
                        say!("    {email:<38} {name}");
                    }
                }
                match &token {
                    Some(t) => say!("  Staff-Zugang (Demo): Authorization: Bearer {t}"),
                    None => say!("  Kein Staff-Token konfiguriert: die API ist nur lesbar."),
                }
                say!();
            })
        })))
}

/// Everything from configuration: used by `serve` and by the tests.
pub fn build(figment: Figment) -> AppResult<Rocket<Build>> {
    let config = Config::from_figment(&figment).map_err(AppError::bad_request)?;
    let db = open_db(&config)?;
    rocket(figment, &config, db)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_release_build_on_postgresql_needs_a_secret_key() {
        let refused = super::require_secret_key(crate::db::Backend::Postgres, false, true)
            .expect_err("refused");
        assert!(
            refused.message.contains("ROCKET_SECRET_KEY")
                && refused.message.contains("startet die Anwendung nicht"),
            "{}",
            refused.message
        );
        for (backend, configured, release) in [
            (crate::db::Backend::Postgres, true, true),
            (crate::db::Backend::Postgres, false, false),
            (crate::db::Backend::Sqlite, false, true),
        ] {
            assert!(super::require_secret_key(backend, configured, release).is_ok());
        }
    }

    use super::*;

    fn config(dir: &Path, token: Option<&str>) -> Config {
        Config {
            staff_token: token.map(str::to_string),
            data_dir: dir.to_path_buf(),
            ..Config::default()
        }
    }

    #[test]
    fn embedded_mode_generates_one_private_token_and_keeps_it() {
        let dir = std::env::temp_dir().join(format!("nachnutzung-token-{}", uuid::Uuid::new_v4()));
        let first = staff_token(&config(&dir, None), Backend::Sqlite)
            .unwrap()
            .unwrap();
        assert!(first.len() >= MIN_TOKEN_LEN);
        let again = staff_token(&config(&dir, None), Backend::Sqlite)
            .unwrap()
            .unwrap();
        assert_eq!(first, again, "a restart keeps the demo token");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("staff-token"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn embedded_mode_generates_a_session_key_unless_one_is_configured() {
        let dir = std::env::temp_dir().join(format!("nachnutzung-key-{}", uuid::Uuid::new_v4()));
        let key = |f: &Figment| {
            f.extract_inner::<rocket::config::SecretKey>("secret_key")
                .unwrap()
        };
        // Rocket's release defaults carry the all-zero key: it is replaced by a generated one.
        let release = rocket::Config::figment().merge(("secret_key", vec![0u8; 64]));
        assert!(key(&release).is_zero());
        let generated =
            with_secret_key(release.clone(), &config(&dir, None), Backend::Sqlite).unwrap();
        assert!(!key(&generated).is_zero());
        let again = with_secret_key(release, &config(&dir, None), Backend::Sqlite).unwrap();
        assert!(key(&generated) == key(&again), "kept across restarts");
        assert_eq!(
            std::fs::read_to_string(dir.join("secret-key"))
                .unwrap()
                .len(),
            88
        );
        // A configured key is used as it is.
        let own = rocket::Config::figment().merge(("secret_key", vec![7u8; 64]));
        let kept = with_secret_key(own.clone(), &config(&dir, None), Backend::Sqlite).unwrap();
        assert!(key(&kept) == key(&own));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn postgres_without_token_is_read_only_and_short_tokens_are_refused() {
        let dir = std::env::temp_dir();
        assert_eq!(
            staff_token(&config(&dir, None), Backend::Postgres).unwrap(),
            None
        );
        assert!(staff_token(&config(&dir, Some("kurz")), Backend::Postgres).is_err());
        let long = "a-configured-token-of-enough-length";
        assert_eq!(
            staff_token(&config(&dir, Some(long)), Backend::Sqlite)
                .unwrap()
                .as_deref(),
            Some(long)
        );
    }
}
