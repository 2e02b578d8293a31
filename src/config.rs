//! The application's settings. Read from `Rocket.toml` (profiles `debug`/`release`), then
//! from `NACHNUTZUNG_*` environment variables (e.g. `NACHNUTZUNG_DATABASE_URL`), which win.
//! Rocket's own settings (address, port, …) are read as usual (`ROCKET_*`).

use std::path::PathBuf;

use rocket::figment::providers::{Env, Serialized};
use rocket::figment::Figment;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Config {
    /// Where the registry keeps its data: `postgres://user@host/db`, `sqlite://path` or a
    /// plain file path. Default: `sqlite://data/nachnutzung.db` (embedded mode).
    pub database_url: String,
    /// Connections in the pool (SQLite is capped at 8).
    pub database_pool_size: u32,
    /// Bearer token that grants staff rights on the JSON API until user logins exist.
    /// At least 24 characters. If unset on SQLite, a random token is generated once and
    /// kept in `<data_dir>/staff-token`; if unset on PostgreSQL, nothing can be written.
    pub staff_token: Option<String>,
    /// Folder for the embedded database and generated secrets.
    pub data_dir: PathBuf,
    /// Load the real reference data (NRW municipalities, intermediaries, EfA services) at
    /// start when it is missing. Idempotent.
    pub seed_reference_data: bool,
    /// Also create the two demo scenarios (Dortmund/Wohngeld, Hannover/HzL) when the
    /// registry has no agreements yet. Off in the release profile.
    pub seed_demo_agreements: bool,
    /// PKCS#12 file with the seal key, its certificate and the issuing CA. Unset: a local
    /// TEST CA and seal certificate are created once in `<data_dir>/seal-test/`.
    pub seal_pkcs12: Option<PathBuf>,
    /// Password of `seal_pkcs12` (better given as `NACHNUTZUNG_SEAL_PKCS12_PASSWORD`).
    pub seal_pkcs12_password: Option<String>,
    /// More PEM certificates whose seals `verify` accepts, e.g. the CA of a previous key.
    pub seal_trusted_certificates: Vec<PathBuf>,
    /// PEM files with the CA certificates of the qualified trust service providers whose
    /// qualified electronic signatures the written-form upload accepts (e.g. taken from
    /// the Bundesnetzagentur's trust list). Empty: the chain is not checked, and the
    /// agreement page says so next to each uploaded signature. One path may be given as
    /// a plain string (`NACHNUTZUNG_QES_TRUST_ANCHORS=/etc/nachnutzung/qes-cas.pem`).
    #[serde(deserialize_with = "one_or_many")]
    pub qes_trust_anchors: Vec<PathBuf>,
    /// `/Reason` and `/Location` of the seal.
    pub seal_reason: String,
    pub seal_location: String,
    /// RFC 3161 timestamp service; when set, every seal carries a timestamp (PAdES B-T)
    /// and sealing fails, loudly, if the service does not answer properly.
    pub tsa_url: Option<String>,
    /// Who signs first: `partner_first` (default), `dnrw_first` or `any`.
    pub signing_order: crate::domain::signing::SigningOrder,
    /// The registry's address as users reach it: links in mails and the calendar
    /// feed's address start with it.
    pub base_url: String,
    /// Where visitors ask for an account and the accessibility feedback goes.
    pub contact_email: String,
    /// A folder with `impressum.md`, `datenschutz.md` and `barrierefreiheit.md` (the
    /// line format of `contracts/README.md`) that replace the texts shipped in
    /// `templates/legal/`; a file that is missing there keeps the shipped text.
    pub legal_texts_dir: Option<PathBuf>,
    /// Mail transport and sender (`mail.rs`).
    #[serde(flatten)]
    pub mail: crate::mail::MailSettings,
    /// The outbox worker's and the reminder job's timing (`jobs.rs`).
    #[serde(flatten)]
    pub jobs: JobSettings,
    /// Bearer token for `GET /metrics` (at least 24 characters). Without it, only a
    /// client on this machine that comes without a proxy may read the metrics.
    pub metrics_token: Option<String>,
    /// `text` (default: readable lines) or `json` (one JSON object per line, for a log
    /// collector): the request log and the application's messages.
    pub log_format: LogFormat,
}

/// How the log is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// When the background work runs (`jobs.rs`); several instances may run it together.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct JobSettings {
    /// Seconds between two runs of the outbox worker (0: no worker).
    pub mail_worker_interval_secs: u64,
    /// Seconds between two runs of the reminder job (0: none).
    pub reminder_interval_secs: u64,
    /// A waiting signature is reminded of after this many days.
    pub signature_reminder_days: i64,
    /// A DVDV certificate is reminded of this many days before it expires.
    pub certificate_warning_days: i64,
}

impl Default for JobSettings {
    fn default() -> JobSettings {
        JobSettings {
            mail_worker_interval_secs: 10,
            reminder_interval_secs: 3600,
            signature_reminder_days: 7,
            certificate_warning_days: 60,
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            database_url: "sqlite://data/nachnutzung.db".into(),
            database_pool_size: 8,
            staff_token: None,
            data_dir: PathBuf::from("data"),
            seed_reference_data: true,
            seed_demo_agreements: true,
            seal_pkcs12: None,
            seal_pkcs12_password: None,
            seal_trusted_certificates: Vec::new(),
            qes_trust_anchors: Vec::new(),
            seal_reason:
                "Vertrag im Nachnutzungsregister abgeschlossen und von der d-NRW AöR gesiegelt"
                    .into(),
            seal_location: "Nachnutzungsregister der d-NRW AöR".into(),
            tsa_url: None,
            signing_order: Default::default(),
            base_url: "http://127.0.0.1:8000".into(),
            contact_email: "kommunalvertreter@d-nrw.de".into(),
            legal_texts_dir: None,
            mail: Default::default(),
            jobs: Default::default(),
            metrics_token: None,
            log_format: LogFormat::Text,
        }
    }
}

/// A list of paths, or one path as a plain string.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(PathBuf),
        Many(Vec<PathBuf>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(p) if p.as_os_str().is_empty() => Vec::new(),
        OneOrMany::One(p) => vec![p],
        OneOrMany::Many(v) => v,
    })
}

/// Writes a file only its owner may read (mode 0600 on Unix), creating its folder and
/// replacing an old one: the generated secrets of the data folder.
pub fn write_private_file(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

/// Minimum length of a configured staff token.
pub const MIN_TOKEN_LEN: usize = 24;

/// Rocket.toml and `ROCKET_*` (Rocket's own figment), then `NACHNUTZUNG_*`.
pub fn figment() -> Figment {
    rocket::Config::figment()
        .join(Serialized::defaults(Config::default()))
        .merge(Env::prefixed("NACHNUTZUNG_").global())
}

impl Config {
    pub fn from_figment(figment: &Figment) -> Result<Config, String> {
        figment
            .extract::<Config>()
            .map_err(|e| format!("Konfiguration ungültig: {e}"))
    }
}
