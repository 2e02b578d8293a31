//! Database access: one connection enum over SQLite and PostgreSQL, a pool, the embedded
//! migrations, and the helpers every model uses (`Db::read`, `Db::write`).

pub mod backup;
pub mod schema;
pub mod types;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::{InstrumentationEvent, SimpleConnection};
use diesel::r2d2::{CustomizeConnection, Pool, PooledConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::{AppError, AppResult};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// The PostgreSQL advisory lock key under which migrations run (any fixed number that no
/// other application on the database uses; this one spells "nnr-mig").
pub const MIGRATION_LOCK: i64 = 0x006e_6e72_2d6d_6967;

/// A connection to either backend. Models are written once against this type.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which backend a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database URL, checked: `postgres://…`/`postgresql://…`, `sqlite://path`, or a plain
/// file path. Anything else is refused rather than silently creating a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbUrl {
    pub backend: Backend,
    /// What the driver receives: the PostgreSQL URL, or the SQLite file path.
    pub target: String,
}

impl DbUrl {
    pub fn parse(url: &str) -> Result<DbUrl, String> {
        let url = url.trim();
        if url.is_empty() {
            return Err("Die Datenbank-URL ist leer.".into());
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DbUrl {
                backend: Backend::Postgres,
                target: url.to_string(),
            });
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(
                    "sqlite:// braucht einen Dateipfad, z. B. sqlite://data/register.db".into(),
                );
            }
            return Ok(DbUrl {
                backend: Backend::Sqlite,
                target: path.to_string(),
            });
        }
        if let Some(scheme_end) = url.find("://") {
            let scheme = &url[..scheme_end];
            return Err(format!(
                "Nicht unterstütztes Datenbank-Schema '{scheme}://'. Erlaubt sind postgres://, postgresql://, sqlite:// oder ein Dateipfad."
            ));
        }
        if url.contains(':') && !url.starts_with('/') && !url.starts_with('.') {
            return Err(format!(
                "'{url}' ist weder eine PostgreSQL-URL noch ein SQLite-Dateipfad."
            ));
        }
        Ok(DbUrl {
            backend: Backend::Sqlite,
            target: url.to_string(),
        })
    }
}

/// Pragmas every SQLite connection gets: WAL, foreign keys, a busy timeout.
#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<PoolConn, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut PoolConn) -> Result<(), diesel::r2d2::Error> {
        if let DbConn::Sqlite(c) = &mut conn.conn {
            c.batch_execute(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
            )
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

/// Establishes connections of the backend the URL chose (never "whichever accepts it"),
/// each counting the statements it runs into the pool's [`Db::queries`].
#[derive(Debug, Clone)]
pub struct Manager {
    url: DbUrl,
    queries: Arc<std::sync::atomic::AtomicU64>,
}

/// A connection of the pool, with what the pool needs to know to trust it without asking
/// the server.
pub struct PoolConn {
    conn: DbConn,
    /// When it last came back to the pool whole.
    returned: Option<std::time::Instant>,
    /// A statement failed since the last check (set by the connection's instrumentation).
    failed: Arc<std::sync::atomic::AtomicBool>,
}

impl std::ops::Deref for PoolConn {
    type Target = DbConn;
    fn deref(&self) -> &DbConn {
        &self.conn
    }
}

impl std::ops::DerefMut for PoolConn {
    fn deref_mut(&mut self) -> &mut DbConn {
        &mut self.conn
    }
}

/// A connection that came back to the pool this recently, with no failed statement since,
/// is handed out again without a `SELECT 1` first. Under load every connection is reused
/// within milliseconds, and the check was a round trip before every page's reads (on
/// PostgreSQL two of a page's eight or so); a connection that sat longer is checked, so a
/// restarted server or a connection a firewall dropped is noticed before it is used.
pub const TRUSTED_FOR: Duration = Duration::from_secs(2);

impl diesel::r2d2::ManageConnection for Manager {
    type Connection = PoolConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<PoolConn, Self::Error> {
        let target = &self.url.target;
        let mut conn = match self.url.backend {
            Backend::Postgres => PgConnection::establish(target).map(DbConn::Postgres),
            Backend::Sqlite => SqliteConnection::establish(target).map(DbConn::Sqlite),
        }
        .map_err(diesel::r2d2::Error::ConnectionError)?;
        let queries = self.queries.clone();
        let failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let failing = failed.clone();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::FinishQuery { error, .. } = event {
                queries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if error.is_some() {
                    failing.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
        Ok(PoolConn {
            conn,
            returned: None,
            failed,
        })
    }

    fn is_valid(&self, conn: &mut PoolConn) -> Result<(), Self::Error> {
        let recent = conn.returned.is_some_and(|t| t.elapsed() < TRUSTED_FOR);
        if recent && !conn.failed.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        conn.conn
            .batch_execute("SELECT 1")
            .map_err(diesel::r2d2::Error::QueryError)?;
        conn.failed
            .store(false, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Called as a connection comes back: one left inside a transaction (a panic in the
    /// middle of one) is dropped; the others are remembered as returned now.
    fn has_broken(&self, conn: &mut PoolConn) -> bool {
        use diesel::r2d2::R2D2Connection;
        if std::thread::panicking() || conn.conn.is_broken() {
            return true;
        }
        conn.returned = Some(std::time::Instant::now());
        false
    }
}

/// The pool and what the application needs to know about it. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    pub url: DbUrl,
    /// SQLite allows one writer at a time; taking this lock before a write transaction
    /// turns "database is locked" races into orderly waiting.
    write_lock: Arc<std::sync::Mutex<()>>,
    /// The write transactions through this pool.
    writes: Arc<WriteLog>,
    /// How many statements the pool's connections have run (BEGIN and COMMIT included):
    /// on PostgreSQL each one is a round trip.
    queries: Arc<std::sync::atomic::AtomicU64>,
    /// Callers waiting for a connection now.
    waiting: Arc<std::sync::atomic::AtomicI64>,
}

/// The pool as `/metrics` shows it.
#[derive(Debug, Clone, Copy)]
pub struct PoolState {
    pub connections: u32,
    pub idle: u32,
    pub waiting: i64,
}

pub type PooledConn = PooledConnection<Manager>;

/// The write transactions of one database pool (`Db::write_blocking`): how many
/// committed, and when each open one began. A cache of rows that others write too (the
/// roll-out snapshot) looks again at once after a commit, and not past the start of an
/// open transaction (its rows carry earlier times than its commit).
#[derive(Debug, Default)]
pub struct WriteLog {
    commits: std::sync::atomic::AtomicU64,
    next: std::sync::atomic::AtomicU64,
    open: std::sync::Mutex<std::collections::BTreeMap<u64, time::PrimitiveDateTime>>,
}

impl WriteLog {
    /// How many write transactions have committed so far.
    pub fn commits(&self) -> u64 {
        self.commits.load(std::sync::atomic::Ordering::Acquire)
    }

    /// When the oldest write transaction still open began.
    pub fn oldest_open(&self) -> Option<time::PrimitiveDateTime> {
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .min()
            .copied()
    }

    fn begin(&self) -> OpenWrite<'_> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // UTC, as the rows' times (`store::now`, which is a floor above).
        let now = time::OffsetDateTime::now_utc();
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(n, time::PrimitiveDateTime::new(now.date(), now.time()));
        OpenWrite(self, n)
    }
}

/// An open write transaction in its [`WriteLog`], until dropped (also on a panic).
struct OpenWrite<'a>(&'a WriteLog, u64);

impl Drop for OpenWrite<'_> {
    fn drop(&mut self) {
        self.0
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.1);
    }
}

impl Db {
    /// Opens the pool (creating the SQLite file and its folder if needed).
    pub fn open(url: &DbUrl, pool_size: u32) -> AppResult<Db> {
        if url.backend == Backend::Sqlite {
            let path = PathBuf::from(&url.target);
            if let Some(dir) = path.parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        AppError::internal(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
            }
        }
        let size = match url.backend {
            Backend::Sqlite => pool_size.clamp(1, 8),
            Backend::Postgres => pool_size.max(1),
        };
        let queries = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let pool = Pool::builder()
            .max_size(size)
            .connection_timeout(Duration::from_secs(15))
            .connection_customizer(Box::new(SqlitePragmas))
            .build(Manager {
                url: url.clone(),
                queries: queries.clone(),
            })
            .map_err(|e| AppError::internal(format!("cannot open database: {e}")))?;
        Ok(Db {
            pool,
            url: url.clone(),
            write_lock: Arc::new(std::sync::Mutex::new(())),
            writes: Arc::new(WriteLog::default()),
            queries,
            waiting: Arc::new(std::sync::atomic::AtomicI64::new(0)),
        })
    }

    /// How many statements this pool's connections have run so far.
    pub fn queries(&self) -> u64 {
        self.queries.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The write transactions through this pool.
    pub fn write_log(&self) -> Arc<WriteLog> {
        self.writes.clone()
    }

    pub fn backend(&self) -> Backend {
        self.url.backend
    }

    pub fn conn(&self) -> AppResult<PooledConn> {
        use std::sync::atomic::Ordering;
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let conn = self.pool.get();
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        conn.map_err(|e| AppError::unavailable(format!("no database connection: {e}")))
    }

    /// The pool's connections, those idle, and the callers waiting for one.
    pub fn pool_state(&self) -> PoolState {
        let s = self.pool.state();
        PoolState {
            connections: s.connections,
            idle: s.idle_connections,
            waiting: self
                .waiting
                .load(std::sync::atomic::Ordering::Relaxed)
                .max(0),
        }
    }

    /// How many of the backend's migrations are not applied (on the blocking pool).
    pub async fn pending_migrations(self) -> AppResult<usize> {
        rocket::tokio::task::spawn_blocking(move || self.pending_migrations_blocking())
            .await
            .map_err(|e| AppError::internal(format!("database task failed: {e}")))?
    }

    /// How many of the backend's migrations are not applied (blocking).
    pub fn pending_migrations_blocking(&self) -> AppResult<usize> {
        let migrations = self.migrations();
        let mut conn = self.conn()?;
        let pending = match &mut **conn {
            DbConn::Postgres(pg) => pg.pending_migrations(migrations).map(|p| p.len()),
            DbConn::Sqlite(lite) => lite.pending_migrations(migrations).map(|p| p.len()),
        };
        pending.map_err(|e| AppError::internal(format!("migrations unreadable: {e}")))
    }

    /// The embedded migrations of this pool's backend.
    fn migrations(&self) -> EmbeddedMigrations {
        match self.backend() {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        }
    }

    /// Runs all pending migrations of the backend. On PostgreSQL under an advisory lock
    /// ([`MIGRATION_LOCK`]), so instances starting together on one database migrate it
    /// once, one after the other: the first applies, the others find nothing pending. On
    /// SQLite in one IMMEDIATE transaction, which holds the file's write lock.
    pub fn migrate(&self) -> AppResult<()> {
        let mut conn = self.conn()?;
        let migrations = self.migrations();
        let failed = |e: Box<dyn std::error::Error + Send + Sync>| {
            AppError::internal(format!("migration failed: {e}"))
        };
        match &mut **conn {
            DbConn::Postgres(pg) => {
                pg.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
                let result = pg
                    .run_pending_migrations(migrations)
                    .map(|_| ())
                    .map_err(failed);
                // Also released when the connection closes, should this fail.
                pg.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
                result
            }
            // One IMMEDIATE transaction around the run (each migration a savepoint in it):
            // a second process waits for the write lock (busy timeout), then finds
            // nothing pending.
            DbConn::Sqlite(lite) => lite.immediate_transaction(|c| {
                c.run_pending_migrations(migrations)
                    .map(|_| ())
                    .map_err(failed)
            }),
        }
    }

    /// Refreshes the planner's statistics after a bulk load (outside any transaction):
    /// `ANALYZE` on SQLite; `VACUUM ANALYZE` on PostgreSQL, which also sets the visibility
    /// map so index-only scans need not visit the table.
    ///
    /// On SQLite the samples of values (`sqlite_stat4`, kept by the bundled SQLite) are
    /// dropped for the unique indexes (primary keys among them): with samples, SQLite
    /// prepares a statement anew at each run whose bound value might change the plan,
    /// and for every lookup by id that took a quarter to a third of a page's time at
    /// national scale. A unique index finds one row whatever the value; the samples of
    /// the other indexes stay, as the planner needs them for skewed columns (few open
    /// tasks among a million done ones).
    pub fn optimize(&self) -> AppResult<()> {
        let mut conn = self.conn()?;
        match self.backend() {
            Backend::Sqlite => {
                conn.batch_execute("ANALYZE")?;
                drop_value_samples(&mut conn)?;
            }
            Backend::Postgres => conn.batch_execute("VACUUM ANALYZE")?,
        }
        Ok(())
    }

    /// A read on a pooled connection (blocking; call from a blocking context).
    pub fn read_blocking<T>(&self, f: impl FnOnce(&mut DbConn) -> AppResult<T>) -> AppResult<T> {
        let mut conn = self.conn()?;
        f(&mut conn)
    }

    /// A write transaction (blocking). On SQLite writers queue on a process-wide lock,
    /// and the transaction begins IMMEDIATE: it takes the file's write lock at once, so a
    /// writer in another process (the CLI beside the server) waits its turn (busy
    /// timeout) instead of meeting "database is locked" when a transaction that read
    /// first wants to write. While it runs its start is in the [`WriteLog`]; when it
    /// commits, the log counts it.
    pub fn write_blocking<T>(&self, f: impl FnOnce(&mut DbConn) -> AppResult<T>) -> AppResult<T> {
        let open = self.writes.begin();
        let mut conn = self.conn()?;
        let _guard = match self.backend() {
            Backend::Sqlite => Some(self.write_lock.lock().unwrap_or_else(|p| p.into_inner())),
            Backend::Postgres => None,
        };
        let conn: &mut DbConn = &mut conn;
        let result = match conn {
            DbConn::Sqlite(_) => immediate_transaction(conn, f),
            DbConn::Postgres(_) => conn.transaction(f),
        };
        drop(open);
        if result.is_ok() {
            self.writes
                .commits
                .fetch_add(1, std::sync::atomic::Ordering::Release);
        }
        result
    }

    /// `read_blocking` on Rocket's blocking thread pool.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
    ) -> AppResult<T> {
        let db = self.clone();
        rocket::tokio::task::spawn_blocking(move || db.read_blocking(f))
            .await
            .map_err(|e| AppError::internal(format!("database task failed: {e}")))?
    }

    /// `write_blocking` on Rocket's blocking thread pool.
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
    ) -> AppResult<T> {
        let db = self.clone();
        rocket::tokio::task::spawn_blocking(move || db.write_blocking(f))
            .await
            .map_err(|e| AppError::internal(format!("database task failed: {e}")))?
    }
}

/// `Connection::transaction` begun with `BEGIN IMMEDIATE` (SQLite): as diesel's own
/// `SqliteConnection::immediate_transaction`, for the connection enum the models use.
fn immediate_transaction<T>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> AppResult<T>,
) -> AppResult<T> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let DbConn::Sqlite(lite) = conn else {
        return conn.transaction(f);
    };
    AnsiTransactionManager::begin_transaction_sql(lite, "BEGIN IMMEDIATE")?;
    type Manager = <DbConn as Connection>::TransactionManager;
    match f(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => match Manager::rollback_transaction(conn) {
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(e),
            Err(rollback) => Err(rollback.into()),
        },
    }
}

/// Inserts many rows in multi-row statements. Diesel's multi-backend connection has no
/// batch insert, so this is the one place that matches on the backend for it; the SQL is
/// the same plain `INSERT … VALUES (…), (…)` on both.
#[macro_export]
macro_rules! insert_batch {
    ($conn:expr, $table:expr, $rows:expr) => {{
        use diesel::RunQueryDsl as _;
        let rows = $rows;
        // Stays under SQLite's and PostgreSQL's bind-parameter limits for tables of up to
        // 32 columns.
        let per_chunk = 1000;
        let mut result: Result<(), diesel::result::Error> = Ok(());
        for chunk in rows.chunks(per_chunk) {
            let r = match &mut *$conn {
                $crate::db::DbConn::Sqlite(c) => {
                    diesel::insert_into($table).values(chunk).execute(c)
                }
                $crate::db::DbConn::Postgres(c) => {
                    diesel::insert_into($table).values(chunk).execute(c)
                }
            };
            if let Err(e) = r {
                result = Err(e);
                break;
            }
        }
        result
    }};
}

/// Drops SQLite's value samples of the unique indexes (if this SQLite keeps samples) and
/// has the connection load the statistics again (`Db::optimize`).
fn drop_value_samples(conn: &mut DbConn) -> AppResult<()> {
    use diesel::sql_types::BigInt;
    use diesel::{QueryableByName, RunQueryDsl};
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let found: Found = diesel::sql_query(
        "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat4'",
    )
    .get_result(conn)?;
    if found.n > 0 {
        conn.batch_execute(
            "DELETE FROM sqlite_stat4 WHERE idx IN (SELECT i.name FROM sqlite_master t, \
             pragma_index_list(t.name) i WHERE t.type = 'table' AND i.\"unique\" = 1); \
             ANALYZE sqlite_schema",
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_backend_or_are_refused() {
        assert_eq!(
            DbUrl::parse("postgres://u@h/db").unwrap().backend,
            Backend::Postgres
        );
        assert_eq!(
            DbUrl::parse("postgresql://u@h/db").unwrap().backend,
            Backend::Postgres
        );
        let s = DbUrl::parse("sqlite://data/x.db").unwrap();
        assert_eq!(
            (s.backend, s.target.as_str()),
            (Backend::Sqlite, "data/x.db")
        );
        assert_eq!(DbUrl::parse("data/x.db").unwrap().backend, Backend::Sqlite);
        assert_eq!(DbUrl::parse("/tmp/x.db").unwrap().backend, Backend::Sqlite);
        let err = DbUrl::parse("mysql://root@localhost/db").unwrap_err();
        assert!(err.contains("mysql://"), "{err}");
        assert!(DbUrl::parse("sqlite://").is_err());
        assert!(DbUrl::parse("").is_err());
    }
}
