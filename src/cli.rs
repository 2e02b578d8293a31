//! The command line: `serve` (default), `migrate`, `seed`, `generate-national`, `verify`,
//! `documents render`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rocket::figment::Figment;

use crate::app;
use crate::config::{self, Config};
use crate::db::DbUrl;
use crate::domain::text::{thousands, Checked};
use crate::error::AppError;

#[derive(Debug, Parser)]
#[command(
    name = "nachnutzung",
    version,
    about = "Nachnutzungsregister des Kommunalvertreters.NRW (d-NRW AöR)"
)]
pub struct Cli {
    /// Database URL (overrides Rocket.toml and NACHNUTZUNG_DATABASE_URL).
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the web server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load the real reference data (and, if configured, the demo agreements) and exit.
    Seed {
        /// Also create the demo agreements, whatever the configuration says.
        #[arg(long)]
        demo: bool,
    },
    /// Write the synthetic national-scale dataset for benchmarks into an empty database.
    GenerateNational {
        #[arg(long, default_value_t = 11_000)]
        municipalities: usize,
        #[arg(long, default_value_t = 600)]
        services: usize,
        #[arg(long, default_value_t = 1_000_000)]
        eas: usize,
    },
    /// Check a PDF: is the seal valid, did this registry issue it, which agreement is it.
    /// Exit code 0 only if both hold.
    Verify {
        /// The PDF file.
        file: std::path::PathBuf,
        /// Print the full result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a consistent snapshot of the database into FILE (one SQLite file), also while
    /// the server runs. A backup of SQLite or PostgreSQL restores into either.
    Backup {
        /// The backup file to write (must not exist).
        file: std::path::PathBuf,
    },
    /// Load a backup into the configured database, which must be empty; checks every
    /// table's rows and checksum and verifies every sealed document before it commits.
    Restore {
        /// The backup file (`nachnutzung backup`).
        file: std::path::PathBuf,
    },
    /// Sealed documents.
    Documents {
        #[command(subcommand)]
        command: DocumentsCommand,
    },
    /// Accounts (the first admin is created here).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; prints the initial password once (it must be changed at first login).
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin, clerk, municipality or intermediary.
        #[arg(long, default_value = "admin")]
        role: String,
        /// Municipality users: the AGS of their municipality.
        #[arg(long)]
        ags: Option<String>,
        /// Intermediary users: the id of their intermediary.
        #[arg(long)]
        organisation: Option<String>,
        /// Municipality users: authorised to sign for the municipality.
        #[arg(long)]
        may_sign: bool,
    },
    /// Issue a personal API token for a user; prints it once.
    Token {
        #[arg(long)]
        email: String,
        /// What the token is for, e.g. "Skript Fachverfahren".
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DocumentsCommand {
    /// Seal the missing documents of all signed or in-force Einzelabrufe of one service,
    /// in parallel. Running it again does only what is still missing.
    Render {
        /// Service id, or a unique part of its name (e.g. "Wohngeld").
        #[arg(long)]
        service: String,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
    },
}

fn figment(cli: &Cli) -> Figment {
    let f = config::figment();
    match &cli.database_url {
        Some(url) => f.merge(("database_url", url.clone())),
        None => f,
    }
}

/// The log of a running server: one line per request (`http::telemetry`) and the
/// application's messages. `text`: request lines as readable text beside Rocket's own
/// log. `json`: one JSON object per line on standard output, the application's `log`
/// messages included; Rocket's own log is off then (its lines are not JSON).
fn init_log(figment: Figment, config: &Config) -> Figment {
    use crate::config::LogFormat;
    match config.log_format {
        LogFormat::Text => {
            let subscriber = tracing_subscriber::fmt()
                .with_target(false)
                .with_ansi(false)
                .with_max_level(tracing::Level::INFO)
                .finish();
            // A second server in this process keeps the first one's log.
            let _ = tracing::subscriber::set_global_default(subscriber);
            figment
        }
        LogFormat::Json => {
            // `try_init` also sends the `log` crate's records (ours) into this layer.
            let _ = tracing_subscriber::fmt()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_max_level(tracing::Level::INFO)
                .try_init();
            figment.merge(("log_level", "off"))
        }
    }
}

fn fail(e: AppError) -> ExitCode {
    eprintln!("Fehler: {}", e.message);
    if let Some(cause) = e.cause {
        eprintln!("  Ursache: {cause}");
    }
    ExitCode::FAILURE
}

pub fn run(cli: Cli) -> ExitCode {
    let figment = figment(&cli);
    let config = match Config::from_figment(&figment) {
        Ok(c) => c,
        Err(e) => return fail(AppError::bad_request(e)),
    };
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Verify { file, json } => return verify(&config, &figment, &file, json),
        Command::Documents {
            command: DocumentsCommand::Render { service, threads },
        } => render_documents(&config, &figment, &service, threads),
        Command::User { command } => user(&config, command),
        Command::Backup { file } => backup(&config, &file),
        Command::Restore { file } => restore(&config, &figment, &file),
        Command::Serve => serve(figment, &config),
        Command::Migrate => app::open_db(&config).map(|_| println!("Migrationen angewendet.")),
        Command::Seed { demo } => app::open_db(&config).and_then(|db| {
            db.write_blocking(crate::seed::reference_data)?;
            if demo || config.seed_demo_agreements {
                let sealer = app::sealer(&config, &figment, &db)?;
                let seal = crate::demo::Seal {
                    sealer: &sealer,
                    order: config.signing_order,
                };
                db.write_blocking(|conn| crate::demo::demo_agreements(conn, &seal))?;
            }
            println!("Stammdaten geladen.");
            Ok(())
        }),
        Command::GenerateNational {
            municipalities,
            services,
            eas,
        } => app::open_db(&config).and_then(|db| {
            let scale = crate::seed::national::Scale {
                municipalities,
                services,
                providers: 20,
                eas,
            };
            let report = db.write_blocking(|conn| {
                crate::seed::national::generate(conn, scale, &mut |n| {
                    eprint!("\r{n} Einzelabrufe geschrieben")
                })
            })?;
            eprintln!();
            db.optimize()?;
            println!(
                "{} Vereinbarungen in {:.1} s erzeugt.",
                report.agreements, report.seconds
            );
            Ok(())
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn verify(config: &Config, figment: &Figment, file: &std::path::Path, json: bool) -> ExitCode {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => return fail(AppError::bad_request(format!("{}: {e}", file.display()))),
    };
    let result = app::open_db(config).and_then(|db| {
        let sealer = app::sealer(config, figment, &db)?;
        let anchors = app::qes_anchors(config)?;
        db.read_blocking(|conn| crate::actions::documents::verify(conn, &sealer, &bytes, &anchors))
    });
    let v = match result {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        println!("{}", v.summary);
        let yes_no = |b: bool| if b { "ja" } else { "nein" };
        println!("  Siegel unversehrt:            {}", yes_no(v.seal.intact));
        println!(
            "  ganzes Dokument gesiegelt:    {}",
            yes_no(v.seal.covers_whole_document)
        );
        println!(
            "  Siegelzertifikat vertrauenswürdig: {}",
            yes_no(v.seal.trusted)
        );
        if let Some(s) = &v.seal.signer {
            println!("  Siegel von:                   {s}");
        }
        if let Some(t) = &v.seal.signing_time {
            println!("  gesiegelt (/M):               {t}");
        }
        match &v.issued_as {
            Some(i) => println!(
                "  ausgestellt als:              {} Fassung {} (Dokument {})",
                i.reference, i.version_no, i.document_id
            ),
            None => println!("  ausgestellt als:              – (unbekannt im Register)"),
        }
        println!("  SHA-256:                      {}", v.sha256);
        for p in &v.seal.problems {
            println!("  Problem: {p}");
        }
    }
    if v.seal_valid && v.issued_by_registry {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn backend_name(name: &str) -> &'static str {
    if name == "postgres" {
        "PostgreSQL"
    } else {
        "SQLite"
    }
}

fn audit_line(tables: &[crate::db::backup::TableSum]) -> String {
    match tables.iter().find(|t| t.name == "audit_events") {
        Some(t) => format!(
            "Protokoll: {} Einträge, SHA-256 {}",
            thousands(t.rows as usize),
            t.sha256
        ),
        None => "Protokoll: –".into(),
    }
}

/// `3.040,5 MB`.
fn megabytes(bytes: u64) -> String {
    let tenths = (bytes + 50_000) / 100_000;
    format!("{},{} MB", thousands((tenths / 10) as usize), tenths % 10)
}

fn backup(config: &Config, file: &std::path::Path) -> Result<(), AppError> {
    let url = DbUrl::parse(&config.database_url).map_err(AppError::bad_request)?;
    if url.backend == crate::db::Backend::Sqlite && !std::path::Path::new(&url.target).exists() {
        return Err(AppError::bad_request(format!(
            "Die Datenbank {} gibt es nicht: nichts zu sichern.",
            url.target
        )));
    }
    let db = crate::db::Db::open(&url, 2)?;
    let report = crate::db::backup::backup(&db, file)?;
    let m = &report.manifest;
    println!(
        "Sicherung geschrieben: {} ({})",
        report.file.display(),
        megabytes(report.bytes)
    );
    println!(
        "  Quelle: {}, Schema {}, {} Zeilen in {} Tabellen",
        backend_name(&m.source),
        m.schema,
        thousands(m.total_rows() as usize),
        m.tables.len()
    );
    println!("  {}", audit_line(&m.tables));
    Ok(())
}

fn restore(config: &Config, figment: &Figment, file: &std::path::Path) -> Result<(), AppError> {
    // The file and the seal's configuration are checked before anything is created in
    // the target or copied: a restore of a national registry takes minutes.
    crate::db::backup::read_manifest(file)?;
    let backend = DbUrl::parse(&config.database_url)
        .map_err(AppError::bad_request)?
        .backend;
    app::require_secret_key(
        backend,
        app::configured_secret(figment).is_some(),
        !cfg!(debug_assertions),
    )?;
    if config.seal_pkcs12.is_some() || backend == crate::db::Backend::Sqlite {
        crate::seal::Sealer::from_config(config)
            .map_err(|e| AppError::bad_request(e.to_string()))?;
    }
    let anchors = app::qes_anchors(config)?;
    let db = app::open_db(config)?;
    let report = crate::db::backup::restore(&db, file, |conn| {
        let sealer = app::sealer_with(config, figment, backend, |password| {
            crate::store::test_seal::ensure(conn, password)
        })?;
        crate::actions::documents::verify_all(conn, &sealer, &anchors)
    })?;
    let m = &report.manifest;
    // The manifest's time is UTC; people read Berlin time.
    let whole_seconds = m.created_at.split('.').next().unwrap_or(&m.created_at);
    let taken = time::PrimitiveDateTime::parse(
        whole_seconds,
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
    )
    .map(crate::domain::berlin::german_date_time)
    .unwrap_or_else(|_| format!("{} UTC", m.created_at));
    println!(
        "Wiederhergestellt aus {} (Sicherung vom {taken}, Quelle {}):",
        file.display(),
        backend_name(&m.source)
    );
    let rows: u64 = report.tables.iter().map(|t| t.rows).sum();
    println!(
        "  {} Zeilen in {} Tabellen, jede mit Zeilenzahl und Prüfsumme wie in der Sicherung",
        thousands(rows as usize),
        report.tables.len()
    );
    let audit = |tables: &[crate::db::backup::TableSum]| {
        tables.iter().find(|t| t.name == "audit_events").cloned()
    };
    let same = audit(&report.tables) == audit(&m.tables);
    println!(
        "  {} – {}",
        audit_line(&report.tables),
        if same {
            "wie in der Sicherung"
        } else {
            "wie in der Sicherung nach den Migrationen dieses Programms"
        }
    );
    println!(
        "  {} gesiegelte Dokumente geprüft: alle gültig und vom Register ausgestellt",
        thousands(report.documents_verified as usize)
    );
    let waiting = db.read_blocking(crate::store::outbox::unsent)?;
    if waiting.0 > 0 {
        let count = match waiting.0 {
            1 => "1 Mail wartet und geht".to_string(),
            n => format!("{} Mails warten und gehen", thousands(n as usize)),
        };
        println!(
            "  Postausgang: {count} hinaus, sobald ein Server auf dieser Datenbank läuft \
             (für ein Testsystem vorher mail_transport = \"folder\" setzen)."
        );
    }
    // The planner's statistics (the data is committed; a failure here is only reported).
    if let Err(e) = db.optimize() {
        eprintln!(
            "Hinweis: Statistiken nicht aktualisiert (ANALYZE): {}",
            e.message
        );
    }
    Ok(())
}

fn render_documents(
    config: &Config,
    figment: &Figment,
    service: &str,
    threads: Option<usize>,
) -> Result<(), AppError> {
    let db = app::open_db(config)?;
    let sealer = app::sealer(config, figment, &db)?;
    let threads = threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} Dokumente gesiegelt ({eta} verbleibend)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let report = crate::actions::bulk::render_service(
        &db,
        &sealer,
        config.signing_order,
        service,
        threads,
        &|done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    )?;
    bar.finish_and_clear();
    println!(
        "{}: {} Einzelabrufe unterzeichnet oder in Kraft, {} neu gesiegelt, {} hatten schon ein Dokument ({:.2} s, {} Threads).",
        report.service, report.eligible, report.sealed, report.skipped, report.seconds, report.threads
    );
    Ok(())
}

fn user(config: &Config, command: UserCommand) -> Result<(), AppError> {
    use crate::actions::accounts::NewUser;
    use crate::store::user::{ApiToken, TokenInput, User};
    let db = app::open_db(config)?;
    if config.seed_reference_data {
        db.write_blocking(crate::seed::reference_data)?;
    }
    match command {
        UserCommand::Add {
            email,
            name,
            role,
            ags,
            organisation,
            may_sign,
        } => {
            let created = db.write_blocking(|conn| {
                let input = NewUser {
                    email,
                    name,
                    role,
                    municipality_ags: ags,
                    organisation_id: organisation,
                    may_sign,
                    ..NewUser::default()
                };
                Checked::new(input)?.create(conn, "cli")
            })?;
            println!(
                "Benutzer {} angelegt, Rolle: {}.",
                created.user.email, created.user.role_label
            );
            println!("Erstpasswort (nur jetzt sichtbar, bei der ersten Anmeldung zu ändern):");
            println!("{}", created.initial_password.unwrap_or_default());
        }
        UserCommand::Token { email, name } => {
            let issued = db.write_blocking(|conn| {
                let user = User::find_by_email(conn, &email)?.ok_or_else(|| {
                    AppError::not_found(format!("Es gibt keinen Benutzer {email}."))
                })?;
                ApiToken::issue(conn, &user, &Checked::new(TokenInput { name })?)
            })?;
            println!("API-Token „{}“ (nur jetzt sichtbar):", issued.token.name);
            println!("{}", issued.secret);
        }
    }
    Ok(())
}

fn serve(figment: Figment, config: &Config) -> Result<(), AppError> {
    let figment = init_log(figment, config);
    let db = app::open_db(config)?;
    let rocket = app::rocket(figment, config, db)?;
    rocket::execute(async move { rocket.launch().await })
        .map(|_| ())
        .map_err(|e| AppError::internal(format!("server stopped: {e}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_are_written_the_german_way() {
        assert_eq!(super::megabytes(1_640_000), "1,6 MB");
        assert_eq!(super::megabytes(3_040_512_000), "3.040,5 MB");
        assert_eq!(super::megabytes(0), "0,0 MB");
    }
}
