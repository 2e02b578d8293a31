//! Backup and restore (`nachnutzung backup FILE`, `nachnutzung restore FILE`).
//!
//! A backup is one SQLite file: the registry's schema, every table's rows, and a manifest
//! (table `backup_manifest`: rows and SHA-256 of each table, the source, the schema
//! version). One format for both backends, so a backup of either restores into either:
//! a small installation on SQLite can grow into PostgreSQL, and a PostgreSQL installation
//! can hand a test system its data.
//!
//! - On SQLite the file is written by `VACUUM INTO`: one read transaction, so a consistent
//!   snapshot while the server goes on writing (WAL). Unlike the page-copying backup API,
//!   it does not start over whenever another process writes.
//! - On PostgreSQL the tables are read in one `REPEATABLE READ READ ONLY` transaction (one
//!   snapshot, no locks that stop the server) into a new file made by the SQLite
//!   migrations; the sums of what was read must equal the sums of what the file holds.
//!
//! `restore` loads a backup into an empty database: it checks the file against its
//! manifest, brings a copy of it to this program's schema (the SQLite migrations), copies
//! every row in one transaction, compares every table's sum in the target with the file's,
//! and verifies every sealed document with the target's seal before it commits. Anything
//! that fails leaves the target as it was.
//!
//! Rows travel as values of a few kinds, read from each database's own column types (one
//! JSON array per row: SQLite `json_array`, PostgreSQL `json_build_array`), so one code
//! path serves all four directions and a column added by a later migration needs no
//! change here; a table added by one must be named in [`TABLES`] (a test checks).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Binary, Bool, Date, Integer, Nullable, Text, Timestamp};
use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};
use diesel_migrations::MigrationHarness;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{PrimitiveDateTime, Time};

use super::{Backend, Db, DbConn, MultiBackend, SQLITE_MIGRATIONS};
use crate::error::{AppError, AppResult};

/// A table a backup holds.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    /// The primary key's columns (rows are read in this order).
    key: &'static [&'static str],
    /// Columns that refer to rows of the same table: such a table is copied in rounds,
    /// each inserting the rows whose referred-to rows are in.
    self_refs: &'static [&'static str],
}

const fn table(name: &'static str) -> Table {
    Table {
        name,
        key: &["id"],
        self_refs: &[],
    }
}

/// Every table of the registry, parents before children (the foreign keys hold at every
/// insert). `data_versions` is not among them: it counts changes for the caches and is
/// made by the migrations.
pub const TABLES: &[Table] = &[
    table("organisations"),
    table("municipalities"),
    Table {
        key: &["municipality_id"],
        ..table("memberships")
    },
    table("contacts"),
    table("services"),
    Table {
        self_refs: &["ioev_id", "rv_id", "ekv_id"],
        ..table("agreements")
    },
    table("agreement_versions"),
    Table {
        key: &["prefix", "year"],
        ..table("reference_counters")
    },
    table("audit_events"),
    table("users"),
    table("api_tokens"),
    table("invitations"),
    table("pending_uploads"),
    table("signatures"),
    table("documents"),
    table("qes_signatures"),
    table("attachments"),
    table("golive_tasks"),
    table("login_failures"),
    Table {
        key: &["key"],
        ..table("login_throttle")
    },
    table("outbox"),
    Table {
        key: &["occasion"],
        ..table("reminders")
    },
    table("test_seal"),
];

/// Tables in a database that are not the registry's data.
const NOT_DATA: &[&str] = &[
    "__diesel_schema_migrations",
    "data_versions",
    "backup_manifest",
    "sqlite_sequence",
    "sqlite_stat1",
    "sqlite_stat4",
];

/// What kind of value a column holds, from the database's own type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Bool,
    Int,
    BigInt,
    Timestamp,
    Date,
    Blob,
}

#[derive(Debug, Clone)]
struct Column {
    name: String,
    kind: Kind,
}

/// One value of a row, as both backends can store it.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Null,
    Text(String),
    Bool(bool),
    Int(i64),
    /// To the microsecond: what both backends store.
    Ts(PrimitiveDateTime),
    Date(time::Date),
    Blob(Vec<u8>),
}

/// A table's rows and their checksum: SHA-256 over the sorted SHA-256 of each row (its
/// columns by name, with their values), so it does not depend on the order rows are read
/// in nor on the order of the columns in either backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSum {
    pub name: String,
    pub rows: u64,
    pub sha256: String,
}

/// What a backup file says about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub created_at: String,
    /// `sqlite` or `postgres`.
    pub source: String,
    /// The newest migration of the source's schema.
    pub schema: String,
    pub program_version: String,
    pub tables: Vec<TableSum>,
}

const FORMAT: &str = "nachnutzungsregister-sicherung/1";

impl Manifest {
    pub fn table(&self, name: &str) -> Option<&TableSum> {
        self.tables.iter().find(|t| t.name == name)
    }

    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

fn failed(what: impl std::fmt::Display) -> AppError {
    AppError::bad_request(what.to_string())
}

// ---------------------------------------------------------------------------------------
// Reading and writing rows

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    ty: String,
}

#[derive(QueryableByName)]
struct JsonRow {
    #[diesel(sql_type = Text)]
    j: String,
}

#[derive(QueryableByName)]
struct NameRow {
    #[diesel(sql_type = Text)]
    name: String,
}

fn backend_of(conn: &DbConn) -> Backend {
    match conn {
        DbConn::Sqlite(_) => Backend::Sqlite,
        DbConn::Postgres(_) => Backend::Postgres,
    }
}

/// The tables of the connection's database (its schema on PostgreSQL).
fn table_names(conn: &mut DbConn) -> AppResult<Vec<String>> {
    let sql = match backend_of(conn) {
        Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        Backend::Postgres => {
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1"
        }
    };
    Ok(diesel::sql_query(sql)
        .load::<NameRow>(conn)?
        .into_iter()
        .map(|r| r.name)
        .collect())
}

/// The registry's tables missing from [`TABLES`] (a new migration's table must be added).
pub fn unlisted_tables(conn: &mut DbConn) -> AppResult<Vec<String>> {
    Ok(table_names(conn)?
        .into_iter()
        .filter(|n| !NOT_DATA.contains(&n.as_str()) && !TABLES.iter().any(|t| t.name == n))
        .collect())
}

fn columns(conn: &mut DbConn, table: &str) -> AppResult<Vec<Column>> {
    let rows = match backend_of(conn) {
        Backend::Sqlite => {
            diesel::sql_query("SELECT name, type AS ty FROM pragma_table_info(?) ORDER BY cid")
                .bind::<Text, _>(table)
                .load::<ColumnRow>(conn)?
        }
        Backend::Postgres => diesel::sql_query(
            "SELECT column_name::text AS name, data_type::text AS ty \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind::<Text, _>(table)
        .load::<ColumnRow>(conn)?,
    };
    if rows.is_empty() {
        return Err(failed(format!(
            "Die Tabelle {table} fehlt in der Datenbank."
        )));
    }
    rows.into_iter()
        .map(|r| {
            let kind = match r.ty.to_ascii_lowercase().as_str() {
                "text" | "character varying" => Kind::Text,
                "boolean" => Kind::Bool,
                "integer" => Kind::Int,
                "bigint" => Kind::BigInt,
                "timestamp" | "timestamp without time zone" => Kind::Timestamp,
                "date" => Kind::Date,
                "blob" | "bytea" => Kind::Blob,
                other => {
                    return Err(AppError::internal(format!(
                        "{table}.{}: column type {other} is not known to the backup",
                        r.name
                    )))
                }
            };
            Ok(Column { name: r.name, kind })
        })
        .collect()
}

/// The `n`-th bind parameter (from 1) in the backend's SQL.
fn bind_mark(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => "?".to_string(),
        Backend::Postgres => format!("${n}"),
    }
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The SQL of a row as one JSON array of its columns (binary data in hex).
fn row_as_json(backend: Backend, cols: &[Column]) -> String {
    let exprs = cols
        .iter()
        .map(|c| match (backend, c.kind) {
            // hex(NULL) is '' in SQLite: a NULL stays NULL.
            (Backend::Sqlite, Kind::Blob) => format!(
                "CASE WHEN {c} IS NULL THEN NULL ELSE hex({c}) END",
                c = quoted(&c.name)
            ),
            (Backend::Postgres, Kind::Blob) => format!("encode({}, 'hex')", quoted(&c.name)),
            _ => quoted(&c.name),
        })
        .collect::<Vec<_>>()
        .join(", ");
    match backend {
        Backend::Sqlite => format!("json_array({exprs})"),
        Backend::Postgres => format!("json_build_array({exprs})::text"),
    }
}

/// Reads a table's rows in pages (whole, if its key has several columns: a small table),
/// in key order, handing each page to `each`.
fn read_rows(
    conn: &mut DbConn,
    table: &Table,
    cols: &[Column],
    mut each: impl FnMut(Vec<Vec<Val>>) -> AppResult<()>,
) -> AppResult<()> {
    let backend = backend_of(conn);
    let array = row_as_json(backend, cols);
    let order = table
        .key
        .iter()
        .map(|k| quoted(k))
        .collect::<Vec<_>>()
        .join(", ");
    let base = format!("SELECT {array} AS j FROM {} ", quoted(table.name));
    let whole = table.key.len() > 1;
    let parse_page = |page: Vec<JsonRow>| -> AppResult<Vec<Vec<Val>>> {
        page.into_iter()
            .map(|r| parse_row(table.name, cols, &r.j))
            .collect()
    };
    if whole {
        let page = diesel::sql_query(format!("{base}ORDER BY {order}")).load::<JsonRow>(conn)?;
        return each(parse_page(page)?);
    }
    let key = cols
        .iter()
        .position(|c| c.name == table.key[0])
        .ok_or_else(|| AppError::internal(format!("{}: key column missing", table.name)))?;
    let limit = if cols.iter().any(|c| c.kind == Kind::Blob) {
        25
    } else {
        2000
    };
    let placeholder = bind_mark(backend, 1);
    let mut after: Option<Val> = None;
    loop {
        let query = match &after {
            None => diesel::sql_query(format!("{base}ORDER BY {order} LIMIT {limit}"))
                .into_boxed::<MultiBackend>(),
            Some(last) => bind(
                diesel::sql_query(format!(
                    "{base}WHERE {} > {placeholder} ORDER BY {order} LIMIT {limit}",
                    quoted(table.key[0])
                ))
                .into_boxed::<MultiBackend>(),
                cols[key].kind,
                last.clone(),
            )?,
        };
        let page = parse_page(query.load::<JsonRow>(conn)?)?;
        let full = page.len() == limit;
        after = page.last().map(|row| row[key].clone());
        if !page.is_empty() {
            each(page)?;
        }
        if !full {
            return Ok(());
        }
    }
}

fn parse_row(table: &str, cols: &[Column], json: &str) -> AppResult<Vec<Val>> {
    let bad = |what: String| AppError::bad_request(format!("{table}: {what}"));
    let values: Vec<serde_json::Value> =
        serde_json::from_str(json).map_err(|e| bad(format!("Zeile unlesbar: {e}")))?;
    if values.len() != cols.len() {
        return Err(bad("Zeile hat nicht so viele Werte wie Spalten".into()));
    }
    values
        .into_iter()
        .zip(cols)
        .map(|(v, c)| parse_value(c.kind, v).map_err(|e| bad(format!("{}: {e}", c.name))))
        .collect()
}

fn parse_value(kind: Kind, v: serde_json::Value) -> Result<Val, String> {
    use serde_json::Value as J;
    Ok(match (kind, v) {
        (_, J::Null) => Val::Null,
        (Kind::Text, J::String(s)) => Val::Text(s),
        (Kind::Bool, J::Bool(b)) => Val::Bool(b),
        (Kind::Bool, J::Number(n)) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
            Val::Bool(n.as_i64() == Some(1))
        }
        (Kind::Int | Kind::BigInt, J::Number(n)) => {
            Val::Int(n.as_i64().ok_or_else(|| format!("keine ganze Zahl: {n}"))?)
        }
        (Kind::Timestamp, J::String(s)) => Val::Ts(parse_timestamp(&s)?),
        (Kind::Date, J::String(s)) => Val::Date(
            time::Date::parse(
                &s,
                time::macros::format_description!("[year]-[month]-[day]"),
            )
            .map_err(|e| format!("kein Datum: {s} ({e})"))?,
        ),
        (Kind::Blob, J::String(s)) => {
            Val::Blob(hex::decode(&s).map_err(|e| format!("keine Binärdaten: {e}"))?)
        }
        (kind, other) => return Err(format!("{other} passt nicht zu {kind:?}")),
    })
}

/// `2026-11-30 22:31:45.123456` (SQLite) or `2026-11-30T22:31:45.12` (PostgreSQL's JSON),
/// to the microsecond.
fn parse_timestamp(s: &str) -> Result<PrimitiveDateTime, String> {
    let bad = || format!("kein Zeitpunkt: {s}");
    let (date, clock) = s.split_once(['T', ' ']).ok_or_else(bad)?;
    let date = time::Date::parse(
        date,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| bad())?;
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut parts = hms.split(':').map(|p| p.parse::<u8>().map_err(|_| bad()));
    let (h, m, sec) = (
        parts.next().ok_or_else(bad)??,
        parts.next().ok_or_else(bad)??,
        parts.next().ok_or_else(bad)??,
    );
    if parts.next().is_some() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let micros: u32 = format!("{fraction:0<6}")[..6].parse().map_err(|_| bad())?;
    let t = Time::from_hms_micro(h, m, sec, micros).map_err(|_| bad())?;
    Ok(PrimitiveDateTime::new(date, t))
}

type Boxed<'a> =
    diesel::query_builder::BoxedSqlQuery<'a, MultiBackend, diesel::query_builder::SqlQuery>;

/// Binds `value` as a column of `kind` wants it.
fn bind(q: Boxed<'_>, kind: Kind, value: Val) -> AppResult<Boxed<'_>> {
    Ok(match (kind, value) {
        (Kind::Text, Val::Null) => q.bind::<Nullable<Text>, _>(None::<String>),
        (Kind::Bool, Val::Null) => q.bind::<Nullable<Bool>, _>(None::<bool>),
        (Kind::Int, Val::Null) => q.bind::<Nullable<Integer>, _>(None::<i32>),
        (Kind::BigInt, Val::Null) => q.bind::<Nullable<BigInt>, _>(None::<i64>),
        (Kind::Timestamp, Val::Null) => q.bind::<Nullable<Timestamp>, _>(None::<PrimitiveDateTime>),
        (Kind::Date, Val::Null) => q.bind::<Nullable<Date>, _>(None::<time::Date>),
        (Kind::Blob, Val::Null) => q.bind::<Nullable<Binary>, _>(None::<Vec<u8>>),
        (Kind::Text, Val::Text(s)) => q.bind::<Text, _>(s),
        (Kind::Bool, Val::Bool(b)) => q.bind::<Bool, _>(b),
        (Kind::Int, Val::Int(i)) => q.bind::<Integer, _>(
            i32::try_from(i).map_err(|_| failed("eine Zahl ist zu groß für die Spalte"))?,
        ),
        (Kind::BigInt, Val::Int(i)) => q.bind::<BigInt, _>(i),
        (Kind::Timestamp, Val::Ts(t)) => q.bind::<Timestamp, _>(t),
        (Kind::Date, Val::Date(d)) => q.bind::<Date, _>(d),
        (Kind::Blob, Val::Blob(b)) => q.bind::<Binary, _>(b),
        (kind, _) => {
            return Err(failed(format!(
                "ein Wert passt nicht zur Spalte (erwartet: {kind:?})"
            )))
        }
    })
}

/// How many values one INSERT binds at most (SQLite allows 32,766, PostgreSQL 65,535).
const MAX_BINDS: usize = 30_000;
/// How many bytes of binary data one INSERT carries at most.
const MAX_BYTES: usize = 8 << 20;

/// Inserts rows (values in the order of `cols`, the target's kinds) in multi-row
/// statements.
fn insert_rows(
    conn: &mut DbConn,
    table: &str,
    cols: &[Column],
    rows: Vec<Vec<Val>>,
) -> AppResult<()> {
    let backend = backend_of(conn);
    let names = cols
        .iter()
        .map(|c| quoted(&c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut chunk = Vec::new();
        let mut bytes = 0;
        while let Some(row) = rows.peek() {
            let size: usize = row
                .iter()
                .map(|v| match v {
                    Val::Blob(b) => b.len(),
                    Val::Text(s) => s.len(),
                    _ => 8,
                })
                .sum();
            if !chunk.is_empty()
                && ((chunk.len() + 1) * cols.len() > MAX_BINDS || bytes + size > MAX_BYTES)
            {
                break;
            }
            bytes += size;
            chunk.extend(rows.next());
        }
        let mut n = 0;
        let tuples = chunk
            .iter()
            .map(|_| {
                let marks = cols
                    .iter()
                    .map(|_| {
                        n += 1;
                        bind_mark(backend, n)
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("({marks})")
            })
            .collect::<Vec<_>>()
            .join(", ");
        let mut q = diesel::sql_query(format!(
            "INSERT INTO {} ({names}) VALUES {tuples}",
            quoted(table)
        ))
        .into_boxed::<MultiBackend>();
        for row in chunk {
            for (value, col) in row.into_iter().zip(cols) {
                q = bind(q, col.kind, value)
                    .map_err(|e| failed(format!("{table}.{}: {}", col.name, e.message)))?;
            }
        }
        q.execute(conn)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Checksums

fn feed(h: &mut Sha256, v: &Val) {
    match v {
        Val::Null => h.update([0]),
        Val::Text(s) => {
            h.update([1]);
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        }
        Val::Bool(b) => h.update([2, u8::from(*b)]),
        Val::Int(i) => {
            h.update([3]);
            h.update(i.to_le_bytes());
        }
        Val::Ts(t) => {
            h.update([4]);
            h.update(
                format!(
                    "{} {:02}:{:02}:{:02}.{:06}",
                    t.date(),
                    t.hour(),
                    t.minute(),
                    t.second(),
                    t.microsecond()
                )
                .as_bytes(),
            );
        }
        Val::Date(d) => {
            h.update([5]);
            h.update(d.to_string().as_bytes());
        }
        Val::Blob(b) => {
            h.update([6]);
            h.update((b.len() as u64).to_le_bytes());
            h.update(b);
        }
    }
}

/// Sums rows as they are read (see [`TableSum`]).
struct Summer {
    /// Column positions in name order.
    order: Vec<usize>,
    names: Vec<String>,
    rows: Vec<[u8; 32]>,
}

impl Summer {
    fn new(cols: &[Column]) -> Summer {
        let mut order: Vec<usize> = (0..cols.len()).collect();
        order.sort_by(|&a, &b| cols[a].name.cmp(&cols[b].name));
        Summer {
            names: order.iter().map(|&i| cols[i].name.clone()).collect(),
            order,
            rows: Vec::new(),
        }
    }

    fn add(&mut self, row: &[Val]) {
        let mut h = Sha256::new();
        for (&i, name) in self.order.iter().zip(&self.names) {
            h.update(name.as_bytes());
            h.update([0]);
            feed(&mut h, &row[i]);
        }
        self.rows.push(h.finalize().into());
    }

    fn finish(mut self, name: &str) -> TableSum {
        self.rows.sort_unstable();
        let mut h = Sha256::new();
        for r in &self.rows {
            h.update(r);
        }
        TableSum {
            name: name.to_string(),
            rows: self.rows.len() as u64,
            sha256: hex::encode(h.finalize()),
        }
    }
}

/// Every table's rows and checksum, as the connection's database holds them.
fn sums(conn: &mut DbConn) -> AppResult<Vec<TableSum>> {
    sums_of(conn, TABLES)
}

/// The rows and checksum of `tables`.
fn sums_of(conn: &mut DbConn, tables: &[Table]) -> AppResult<Vec<TableSum>> {
    tables
        .iter()
        .map(|t| {
            let cols = columns(conn, t.name)?;
            let mut summer = Summer::new(&cols);
            read_rows(conn, t, &cols, |page| {
                page.iter().for_each(|r| summer.add(r));
                Ok(())
            })?;
            Ok(summer.finish(t.name))
        })
        .collect()
}

/// Every table's rows and checksum in `db` (as a backup's manifest lists them).
pub fn table_sums(db: &Db) -> AppResult<Vec<TableSum>> {
    db.read_blocking(sums)
}

/// Copies every table from `from` to `to` (same column names on both), returning the
/// sums of what was read.
fn copy_all(from: &mut DbConn, to: &mut DbConn) -> AppResult<Vec<TableSum>> {
    let mut out = Vec::new();
    for t in TABLES {
        let source = columns(from, t.name)?;
        let target = columns(to, t.name)?;
        let by_name: HashMap<&str, Kind> =
            target.iter().map(|c| (c.name.as_str(), c.kind)).collect();
        let mut names_source: Vec<&str> = source.iter().map(|c| c.name.as_str()).collect();
        let mut names_target: Vec<&str> = target.iter().map(|c| c.name.as_str()).collect();
        names_source.sort_unstable();
        names_target.sort_unstable();
        if names_source != names_target {
            return Err(failed(format!(
                "Die Spalten der Tabelle {} passen nicht zusammen (Quelle: {}; Ziel: {}).",
                t.name,
                names_source.join(", "),
                names_target.join(", ")
            )));
        }
        // The target's kinds, in the source's column order (the order values are read in).
        let insert_cols: Vec<Column> = source
            .iter()
            .map(|c| Column {
                name: c.name.clone(),
                kind: by_name[c.name.as_str()],
            })
            .collect();
        let mut summer = Summer::new(&source);
        if t.self_refs.is_empty() {
            read_rows(from, t, &source, |page| {
                page.iter().for_each(|r| summer.add(r));
                insert_rows(to, t.name, &insert_cols, page)
            })?;
        } else {
            copy_in_rounds(from, to, t, &source, &insert_cols, &mut summer)?;
        }
        out.push(summer.finish(t.name));
    }
    Ok(out)
}

/// Copies a table whose rows refer to each other (an Einzelabruf to its EKV and RV, an
/// EKV to its IÖV). First the rows that others refer to (a few thousand IÖV, RV and EKV
/// among a million Einzelabrufe), read by id and inserted in rounds, each round the rows
/// whose referred-to rows are in; then one pass over the whole table for the rest, whose
/// references all lie among the first. Every foreign key holds at its insert, and the
/// table is read once (and the referred-to rows once more).
fn copy_in_rounds(
    from: &mut DbConn,
    to: &mut DbConn,
    t: &Table,
    source: &[Column],
    insert_cols: &[Column],
    summer: &mut Summer,
) -> AppResult<()> {
    let position = |name: &str| {
        source
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| AppError::internal(format!("{}.{name} missing", t.name)))
    };
    let key = position(t.key[0])?;
    let refs = t
        .self_refs
        .iter()
        .map(|r| position(r))
        .collect::<AppResult<Vec<_>>>()?;
    let id = |v: &Val| match v {
        Val::Text(s) => Some(s.clone()),
        _ => None,
    };
    let refs_in = |row: &[Val], done: &HashSet<String>| {
        refs.iter()
            .all(|&i| id(&row[i]).is_none_or(|target| done.contains(&target)))
    };
    let backend = backend_of(from);
    let mut referred: Vec<String> = Vec::new();
    for r in t.self_refs {
        let sql = format!(
            "SELECT DISTINCT {c} AS name FROM {} WHERE {c} IS NOT NULL",
            quoted(t.name),
            c = quoted(r)
        );
        referred.extend(
            diesel::sql_query(sql)
                .load::<NameRow>(from)?
                .into_iter()
                .map(|r| r.name),
        );
    }
    referred.sort_unstable();
    referred.dedup();
    let mut waiting = Vec::new();
    for chunk in referred.chunks(500) {
        let marks = (1..=chunk.len())
            .map(|i| bind_mark(backend, i))
            .collect::<Vec<_>>()
            .join(", ");
        let mut q = diesel::sql_query(format!(
            "SELECT {} AS j FROM {} WHERE {} IN ({marks})",
            row_as_json(backend, source),
            quoted(t.name),
            quoted(t.key[0])
        ))
        .into_boxed::<MultiBackend>();
        for r in chunk {
            q = q.bind::<Text, _>(r.clone());
        }
        for row in q.load::<JsonRow>(from)? {
            waiting.push(parse_row(t.name, source, &row.j)?);
        }
    }
    let mut done: HashSet<String> = HashSet::new();
    while !waiting.is_empty() {
        let before = waiting.len();
        let (ready, rest): (Vec<_>, Vec<_>) =
            waiting.into_iter().partition(|row| refs_in(row, &done));
        done.extend(ready.iter().filter_map(|r| id(&r[key])));
        insert_rows(to, t.name, insert_cols, ready)?;
        waiting = rest;
        if waiting.len() == before {
            return Err(failed(format!(
                "{}: {before} Zeilen verweisen auf Zeilen, die fehlen oder im Kreis \
                 zurückverweisen.",
                t.name
            )));
        }
    }
    read_rows(from, t, source, |page| {
        page.iter().for_each(|r| summer.add(r));
        let rest: Vec<Vec<Val>> = page
            .into_iter()
            .filter(|row| id(&row[key]).is_none_or(|k| !done.contains(&k)))
            .collect();
        if rest.iter().any(|row| !refs_in(row, &done)) {
            return Err(failed(format!(
                "{}: eine Zeile verweist auf eine Zeile, die fehlt.",
                t.name
            )));
        }
        insert_rows(to, t.name, insert_cols, rest)
    })
}

/// The first table whose sum differs, as a German sentence.
fn compare(expected: &[TableSum], found: &[TableSum]) -> Option<String> {
    let found: BTreeMap<&str, &TableSum> = found.iter().map(|t| (t.name.as_str(), t)).collect();
    for e in expected {
        match found.get(e.name.as_str()) {
            None => return Some(format!("Tabelle {} fehlt", e.name)),
            Some(f) if f.rows != e.rows => {
                return Some(format!(
                    "Tabelle {}: {} Zeilen statt {}",
                    e.name, f.rows, e.rows
                ))
            }
            Some(f) if f.sha256 != e.sha256 => {
                return Some(format!(
                    "Tabelle {}: gleich viele Zeilen ({}), aber andere Inhalte (Prüfsumme)",
                    e.name, e.rows
                ))
            }
            Some(_) => {}
        }
    }
    found
        .keys()
        .find(|name| !expected.iter().any(|e| e.name == **name))
        .map(|name| format!("Tabelle {name} ist hinzugekommen"))
}

// ---------------------------------------------------------------------------------------
// Backup

/// What `backup` wrote.
#[derive(Debug)]
pub struct BackupReport {
    pub file: PathBuf,
    pub bytes: u64,
    pub manifest: Manifest,
}

fn newest_migration(conn: &mut DbConn) -> AppResult<String> {
    Ok(versions_of(conn)?.0.into_iter().max().unwrap_or_default())
}

/// The backup file's name while it is written, unique to this run (linked to its name
/// when complete).
fn partial(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.teil", uuid::Uuid::new_v4().simple()));
    file.with_file_name(name)
}

fn open_file(path: &Path) -> AppResult<DbConn> {
    let conn = SqliteConnection::establish(&path.to_string_lossy())
        .map_err(|e| failed(format!("{}: {e}", path.display())))?;
    let mut conn = DbConn::Sqlite(conn);
    conn.batch_execute("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;")?;
    Ok(conn)
}

/// Writes a consistent snapshot of `db` into `file` (which must not exist).
pub fn backup(db: &Db, file: &Path) -> AppResult<BackupReport> {
    if file.exists() {
        return Err(failed(format!(
            "{} existiert bereits; eine Sicherung überschreibt nichts.",
            file.display()
        )));
    }
    let folder = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        return Err(failed(format!(
            "Den Ordner {} gibt es nicht.",
            folder.display()
        )));
    }
    let not_ours = "Die Datenbank ist nicht auf dem Stand dieses Programms";
    let (unknown, lacking) = db.read_blocking(schema_against_ours)?;
    if let Some(newer) = unknown.first() {
        return Err(failed(format!(
            "{not_ours}: ein neueres Programm hat sie migriert (Schema {newer}). Bitte mit \
             dem Programm sichern, das die Datenbank benutzt; dieses kennt nicht alle ihre \
             Tabellen."
        )));
    }
    if lacking {
        return Err(failed(format!(
            "{not_ours}: erst `nachnutzung migrate` (oder mit dem Programm sichern, das die \
             Datenbank zuletzt benutzt hat)."
        )));
    }
    let unlisted = db.read_blocking(unlisted_tables)?;
    if !unlisted.is_empty() {
        return Err(failed(format!(
            "{not_ours}: die Tabellen {} kennt die Sicherung nicht.",
            unlisted.join(", ")
        )));
    }
    let part = partial(file);
    let result = write_backup(db, &part);
    match result {
        Ok(manifest) => {
            // A link, not a rename: it fails if FILE appeared in the meantime.
            let linked = std::fs::hard_link(&part, file);
            let _ = std::fs::remove_file(&part);
            linked.map_err(|e| {
                failed(format!(
                    "{}: {e}; eine Sicherung überschreibt nichts.",
                    file.display()
                ))
            })?;
            if let Ok(dir) = std::fs::File::open(folder) {
                let _ = dir.sync_all();
            }
            let bytes = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
            Ok(BackupReport {
                file: file.to_path_buf(),
                bytes,
                manifest,
            })
        }
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            Err(e)
        }
    }
}

fn write_backup(db: &Db, part: &Path) -> AppResult<Manifest> {
    let mut source = db.conn()?;
    let source: &mut DbConn = &mut source;
    let schema = newest_migration(source)?;
    let read_sums = match source {
        DbConn::Sqlite(_) => {
            diesel::sql_query("VACUUM INTO ?")
                .bind::<Text, _>(part.to_string_lossy())
                .execute(source)?;
            None
        }
        DbConn::Postgres(_) => {
            let mut file = open_file(part)?;
            if let DbConn::Sqlite(c) = &mut file {
                c.run_pending_migrations(SQLITE_MIGRATIONS)
                    .map_err(|e| AppError::internal(format!("migration failed: {e}")))?;
            }
            let read = source.transaction(|src| {
                src.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
                file.transaction(|f| copy_all(src, f))
            })?;
            Some(read)
        }
    };
    // It holds password and token hashes and sealed documents: for its owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(part, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| failed(format!("{}: {e}", part.display())))?;
    }
    let mut file = open_file(part)?;
    let written = sums(&mut file)?;
    if let Some(read) = read_sums {
        if let Some(diff) = compare(&read, &written) {
            return Err(failed(format!(
                "Die Sicherung weicht von dem ab, was gelesen wurde ({diff}); sie wurde \
                 nicht geschrieben."
            )));
        }
    }
    let manifest = Manifest {
        format: FORMAT.to_string(),
        created_at: time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]"
            ))
            .map_err(|e| AppError::internal(e.to_string()))?,
        source: match db.backend() {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
        .to_string(),
        schema,
        program_version: env!("CARGO_PKG_VERSION").to_string(),
        tables: written,
    };
    let json = serde_json::to_string(&manifest).map_err(|e| AppError::internal(e.to_string()))?;
    file.batch_execute(
        "CREATE TABLE backup_manifest (id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1), \
         manifest TEXT NOT NULL)",
    )?;
    diesel::sql_query("INSERT INTO backup_manifest (id, manifest) VALUES (1, ?)")
        .bind::<Text, _>(json)
        .execute(&mut file)?;
    drop(file);
    // The file is complete on disk before it gets its name.
    std::fs::File::open(part)
        .and_then(|f| f.sync_all())
        .map_err(|e| failed(format!("{}: {e}", part.display())))?;
    Ok(manifest)
}

// ---------------------------------------------------------------------------------------
// Restore

/// What `restore` loaded and checked.
#[derive(Debug)]
pub struct RestoreReport {
    pub manifest: Manifest,
    /// The sums of the restored database (after this program's migrations).
    pub tables: Vec<TableSum>,
    /// What the caller's check counted (the sealed documents verified).
    pub documents_verified: u64,
}

/// Reads and checks a backup file's manifest (without changing the file).
pub fn read_manifest(file: &Path) -> AppResult<Manifest> {
    use std::io::Read;
    let mut head = [0u8; 16];
    std::fs::File::open(file)
        .map_err(|e| failed(format!("{}: {e}", file.display())))?
        .read_exact(&mut head)
        .ok();
    let not_a_backup = || {
        failed(format!(
            "{} ist keine Sicherung des Nachnutzungsregisters (`nachnutzung backup`).",
            file.display()
        ))
    };
    if &head != b"SQLite format 3\0" {
        return Err(not_a_backup());
    }
    let mut conn = open_file(file)?;
    #[derive(QueryableByName)]
    struct M {
        #[diesel(sql_type = Text)]
        manifest: String,
    }
    let m = diesel::sql_query("SELECT manifest FROM backup_manifest WHERE id = 1")
        .get_result::<M>(&mut conn)
        .map_err(|_| not_a_backup())?;
    let manifest: Manifest = serde_json::from_str(&m.manifest).map_err(|_| not_a_backup())?;
    if manifest.format != FORMAT {
        return Err(failed(format!(
            "{}: Sicherungsformat {} kennt dieses Programm nicht.",
            file.display(),
            manifest.format
        )));
    }
    Ok(manifest)
}

/// A file removed when dropped (the migrated copy of an older backup).
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The versions of the migrations the database has applied, and of this program's.
fn migration_versions<DB, C>(
    conn: &mut C,
    ours: diesel_migrations::EmbeddedMigrations,
) -> AppResult<(Vec<String>, HashSet<String>)>
where
    DB: diesel::backend::Backend,
    C: MigrationHarness<DB>,
    diesel_migrations::EmbeddedMigrations: diesel::migration::MigrationSource<DB>,
{
    use diesel::migration::MigrationSource;
    let unreadable = |e| AppError::internal(format!("migrations unreadable: {e}"));
    let applied = conn
        .applied_migrations()
        .map_err(unreadable)?
        .iter()
        .map(|v| v.to_string())
        .collect();
    let ours = ours
        .migrations()
        .map_err(unreadable)?
        .iter()
        .map(|m| m.name().version().to_string())
        .collect();
    Ok((applied, ours))
}

/// [`migration_versions`] for the connection's backend.
fn versions_of(conn: &mut DbConn) -> AppResult<(Vec<String>, HashSet<String>)> {
    match conn {
        DbConn::Sqlite(c) => migration_versions(c, SQLITE_MIGRATIONS),
        DbConn::Postgres(c) => migration_versions(c, super::POSTGRES_MIGRATIONS),
    }
}

/// The database's applied migrations this program does not know, and whether it lacks
/// some of this program's.
fn schema_against_ours(conn: &mut DbConn) -> AppResult<(Vec<String>, bool)> {
    let (applied, ours) = versions_of(conn)?;
    let unknown: Vec<String> = applied
        .iter()
        .filter(|v| !ours.contains(*v))
        .cloned()
        .collect();
    let lacking = ours.iter().any(|v| !applied.contains(v));
    Ok((unknown, lacking))
}

/// Whether the backup's schema lacks migrations of this program (refused if it has
/// migrations this program does not know).
fn needs_migrations(conn: &mut DbConn) -> AppResult<bool> {
    let (unknown, lacking) = schema_against_ours(conn)?;
    if let Some(newer) = unknown.first() {
        return Err(failed(format!(
            "Die Sicherung stammt von einem neueren Programm (Schema {newer}); \
             bitte mit diesem oder einem neueren wiederherstellen."
        )));
    }
    Ok(lacking)
}

/// Loads the backup `file` into the empty database `db` (migrated by the caller). When
/// every table's rows and checksum are as in the backup, `check` runs on the target inside
/// the restore's transaction (the CLI verifies every sealed document there, with a TEST
/// seal that came with the backup); its error undoes the restore, its count is reported.
pub fn restore(
    db: &Db,
    file: &Path,
    check: impl FnOnce(&mut DbConn) -> AppResult<u64>,
) -> AppResult<RestoreReport> {
    let manifest = read_manifest(file)?;
    // Quick refusals first: checking the file takes minutes at national scale.
    db.read_blocking(ensure_empty)?;
    let mut source = open_file(file)?;
    // The file against its own manifest: the tables it lists (an older backup may lack a
    // table a later migration added; one this program does not know is refused).
    let listed: Vec<Table> = manifest
        .tables
        .iter()
        .map(|t| {
            TABLES
                .iter()
                .find(|k| k.name == t.name)
                .copied()
                .ok_or_else(|| {
                    failed(format!(
                        "Die Sicherung enthält die Tabelle {}, die dieses Programm nicht kennt.",
                        t.name
                    ))
                })
        })
        .collect::<AppResult<_>>()?;
    if let Some(diff) = compare(&manifest.tables, &sums_of(&mut source, &listed)?) {
        return Err(failed(format!(
            "Die Sicherung ist beschädigt oder wurde verändert: {diff}. Nichts wurde geladen."
        )));
    }
    // An older backup is read from a copy brought to this program's schema; the backup
    // itself is never changed. (Declared before the connection: dropped after it.)
    let mut copy: Option<TempFile> = None;
    let expected = if needs_migrations(&mut source)? {
        let work = TempFile(std::env::temp_dir().join(format!(
            "nachnutzung-restore-{}.db",
            uuid::Uuid::new_v4().simple()
        )));
        std::fs::copy(file, &work.0).map_err(|e| failed(format!("{}: {e}", file.display())))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&work.0, std::fs::Permissions::from_mode(0o600));
        }
        let mut migrated = open_file(&work.0)?;
        copy = Some(work);
        if let DbConn::Sqlite(c) = &mut migrated {
            c.run_pending_migrations(SQLITE_MIGRATIONS).map_err(|e| {
                failed(format!(
                    "Die Sicherung lässt sich nicht auf den Stand dieses Programms bringen: {e}"
                ))
            })?;
        }
        source = migrated;
        sums(&mut source)?
    } else {
        manifest.tables.clone()
    };
    let result = db.write_blocking(|target| {
        ensure_empty(target)?;
        // SQLite: a page cache large enough that one long transaction does not write the
        // same index pages to the WAL over and over (256 MB; the default is 2 MB).
        if let DbConn::Sqlite(_) = target {
            target.batch_execute("PRAGMA cache_size = -262144")?;
        }
        let copied = copy_all(&mut source, target).and_then(|_| sums(target));
        if let DbConn::Sqlite(_) = target {
            let _ = target.batch_execute("PRAGMA cache_size = -2000");
        }
        let restored = copied?;
        if let Some(diff) = compare(&expected, &restored) {
            return Err(failed(format!(
                "Die geladenen Zeilen weichen von der Sicherung ab ({diff}). Nichts wurde \
                 geladen."
            )));
        }
        let verified = check(target)?;
        Ok((restored, verified))
    });
    drop(source);
    drop(copy);
    let (tables, documents_verified) = result?;
    Ok(RestoreReport {
        manifest,
        tables,
        documents_verified,
    })
}

/// Refuses a database that holds rows in any of the backup's tables.
fn ensure_empty(conn: &mut DbConn) -> AppResult<()> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    for t in TABLES {
        let n = diesel::sql_query(format!("SELECT count(*) AS n FROM {}", quoted(t.name)))
            .get_result::<N>(conn)?
            .n;
        if n > 0 {
            return Err(AppError::conflict(format!(
                "Die Zieldatenbank ist nicht leer (Tabelle {}: {n} Zeilen). Eine Sicherung \
                 wird nur in eine leere Datenbank geladen; nichts wurde geändert.",
                t.name
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_of_the_schema_is_in_the_backup() {
        let mut conn = DbConn::Sqlite(SqliteConnection::establish(":memory:").unwrap());
        if let DbConn::Sqlite(c) = &mut conn {
            c.run_pending_migrations(SQLITE_MIGRATIONS).unwrap();
        }
        assert_eq!(unlisted_tables(&mut conn).unwrap(), Vec::<String>::new());
        for t in TABLES {
            assert!(columns(&mut conn, t.name).is_ok(), "{}", t.name);
        }
    }

    #[test]
    fn timestamps_of_both_backends_read_alike_to_the_microsecond() {
        let t = |s| parse_timestamp(s).unwrap();
        assert_eq!(
            t("2026-11-30 22:31:45.123456"),
            t("2026-11-30T22:31:45.123456")
        );
        assert_eq!(t("2026-11-30T22:31:45.12"), t("2026-11-30 22:31:45.120000"));
        assert_eq!(t("2026-11-30 22:31:45"), t("2026-11-30T22:31:45.000"));
        assert_eq!(t("2026-11-30 22:31:45.1234569").microsecond(), 123_456);
        for bad in [
            "2026-11-30",
            "2026-11-30 25:00:00",
            "2026-11-30 22:31",
            "x 22:31:45",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_table_sum_does_not_depend_on_row_or_column_order() {
        let cols = |names: [&str; 2]| {
            names
                .iter()
                .map(|n| Column {
                    name: n.to_string(),
                    kind: Kind::Text,
                })
                .collect::<Vec<_>>()
        };
        let text = |s: &str| Val::Text(s.into());
        let mut a = Summer::new(&cols(["id", "name"]));
        a.add(&[text("1"), text("Essen")]);
        a.add(&[text("2"), text("Köln")]);
        let mut b = Summer::new(&cols(["name", "id"]));
        b.add(&[text("Köln"), text("2")]);
        b.add(&[text("Essen"), text("1")]);
        assert_eq!(a.finish("t"), b.finish("t"));
        let mut c = Summer::new(&cols(["id", "name"]));
        c.add(&[text("1"), text("Essen")]);
        c.add(&[text("2"), text("Koln")]);
        let mut d = Summer::new(&cols(["id", "name"]));
        d.add(&[text("1"), text("Essen")]);
        d.add(&[text("2"), text("Köln")]);
        assert_ne!(c.finish("t"), d.finish("t"));
        // A NULL is not an empty text.
        let mut e = Summer::new(&cols(["id", "name"]));
        e.add(&[text("1"), Val::Null]);
        let mut f = Summer::new(&cols(["id", "name"]));
        f.add(&[text("1"), text("")]);
        assert_ne!(e.finish("t"), f.finish("t"));
    }
}
