//! The command line: `serve` (default), `migrate`, `seed`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rocket::figment::Figment;

use crate::app;
use crate::config::{self, Config};
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
}

fn figment(cli: &Cli) -> Figment {
    let f = config::figment();
    match &cli.database_url {
        Some(url) => f.merge(("database_url", url.clone())),
        None => f,
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
        Command::Serve => serve(figment, &config),
        Command::Migrate => app::open_db(&config).map(|_| println!("Migrationen angewendet.")),
        Command::Seed { demo } => app::open_db(&config).and_then(|db| {
            db.write_blocking(crate::seed::reference_data)?;
            if demo || config.seed_demo_agreements {
                db.write_blocking(crate::seed::demo_agreements)?;
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

fn serve(figment: Figment, config: &Config) -> Result<(), AppError> {
    let db = app::open_db(config)?;
    let rocket = app::rocket(figment, config, db)?;
    rocket::execute(async move { rocket.launch().await })
        .map(|_| ())
        .map_err(|e| AppError::internal(format!("server stopped: {e}")))
}
