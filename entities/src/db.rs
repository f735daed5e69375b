//! Connections: a write connection and a pool of readers.
//!
//! SQLite runs in WAL mode with exactly one write connection (SQLite serialises writers anyway;
//! one connection avoids `SQLITE_BUSY` storms) and a pool of read connections that never block
//! it. PostgreSQL uses one pool for both roles.

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
};

use crate::DbError;

/// The most parameters one statement should bind. SQLite looks a parameter's name up in a
/// linear list when it is bound, so binding n `$N` parameters costs O(n²): a 1,600-parameter
/// insert spent a fifth of a sync's CPU there. Multi-row statements and `IN` lists are cut to
/// this size (PostgreSQL does not care either way).
pub const MAX_BIND: usize = 256;

/// Which database a [`Db`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite: one process only.
    Sqlite,
    /// PostgreSQL: any number of processes.
    Postgres,
}

/// The node's database handles.
#[derive(Clone, Debug)]
pub struct Db {
    /// The connection every write goes through (the batching writer and the rare direct writes).
    pub write: DatabaseConnection,
    /// Connections for reads.
    pub read: DatabaseConnection,
    /// The backend behind both.
    pub backend: Backend,
    /// The database clock's offset from ours and when it was measured (µs), for [`Db::clock`].
    clock_offset: std::sync::Arc<(std::sync::atomic::AtomicI64, std::sync::atomic::AtomicI64)>,
}

impl Db {
    /// Connects to `url` (`sqlite://path` or `postgres://…`), creating a SQLite file if needed.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or(path).to_owned();
            if path.is_empty() {
                return Err(DbError::UnsupportedUrl(url.to_owned()));
            }
            let write = sqlite_pool(&path, 1, false).await?;
            let read = sqlite_pool(&path, 4, true).await?;
            Ok(Db {
                write,
                read,
                backend: Backend::Sqlite,
                clock_offset: Default::default(),
            })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut opts = ConnectOptions::new(url.to_owned());
            opts.max_connections(16)
                .min_connections(1)
                .connect_timeout(Duration::from_secs(10))
                .sqlx_logging(false);
            let conn = Database::connect(opts).await?;
            Ok(Db {
                write: conn.clone(),
                read: conn,
                backend: Backend::Postgres,
                clock_offset: Default::default(),
            })
        } else {
            Err(DbError::UnsupportedUrl(url.to_owned()))
        }
    }

    /// The sea-orm backend enum, for building statements.
    pub fn db_backend(&self) -> DbBackend {
        match self.backend {
            Backend::Sqlite => DbBackend::Sqlite,
            Backend::Postgres => DbBackend::Postgres,
        }
    }

    /// Builds a statement with `$1`-style placeholders (both backends accept them).
    pub fn stmt(&self, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
        Statement::from_sql_and_values(self.db_backend(), sql, values)
    }

    /// Runs `sql` for any number of `ids`: once per chunk that fits the bind limit, with
    /// `{ids}` in `sql` replaced by the chunk's placeholders (numbered after `fixed`, the
    /// values bound first), and maps every row.
    pub async fn select_in<T>(
        &self,
        conn: &impl sea_orm::ConnectionTrait,
        sql: &str,
        fixed: &[sea_orm::Value],
        ids: &[String],
        mut row: impl FnMut(&sea_orm::QueryResult) -> Result<T, sea_orm::DbErr>,
    ) -> Result<Vec<T>, DbError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks((crate::MAX_BIND - fixed.len()).max(1)) {
            let sql = sql.replace("{ids}", &placeholders(fixed.len() + 1, chunk.len()));
            let mut values = fixed.to_vec();
            values.extend(chunk.iter().map(|i| sea_orm::Value::from(i.clone())));
            for r in conn.query_all_raw(self.stmt(&sql, values)).await? {
                out.push(row(&r)?);
            }
        }
        Ok(out)
    }

    /// SQL for "now" on the database server's clock, in microseconds since the epoch.
    /// Heartbeats and the lock-service lease are written and compared with it, so the hosts'
    /// clocks never decide who is alive.
    pub fn now_sql(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)",
            Backend::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)",
        }
    }

    /// The database server's clock, in microseconds since the epoch: ours plus its measured
    /// offset, re-measured at most every 5 s (requests that judge heartbeats, like `status/`,
    /// must not cost a query each). SQLite runs in this process: its clock is ours.
    pub async fn clock(&self) -> Result<i64, DbError> {
        use std::sync::atomic::Ordering::Relaxed;
        let now = crate::time::now_micros();
        if self.backend == Backend::Sqlite {
            return Ok(now);
        }
        let (offset, measured) = (&self.clock_offset.0, &self.clock_offset.1);
        if now - measured.load(Relaxed) < 5_000_000 {
            return Ok(now + offset.load(Relaxed));
        }
        let sql = format!("SELECT {} AS now", self.now_sql());
        let row = self.read.query_one_raw(self.stmt(&sql, vec![])).await?;
        let db_now = row
            .ok_or_else(|| DbError::Corrupt("the clock query returned nothing".into()))?
            .try_get::<i64>("", "now")?;
        let after = crate::time::now_micros();
        // The server read its clock somewhere between our two readings.
        offset.store(db_now - (now + after) / 2, Relaxed);
        measured.store(after, Relaxed);
        Ok(db_now)
    }

    /// True when a trivial query succeeds: the status endpoint's `database_connection`.
    pub async fn ping(&self) -> bool {
        self.read.execute_unprepared("SELECT 1").await.is_ok()
    }
}

async fn sqlite_pool(path: &str, max: u32, read_only: bool) -> Result<DatabaseConnection, DbError> {
    let mut opts = ConnectOptions::new(format!("sqlite://{path}?mode=rwc"));
    opts.max_connections(max)
        .min_connections(1)
        .sqlx_logging(false);
    opts.map_sqlx_sqlite_opts(move |o| {
        use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
        // FULL: a commit is on disk when it returns. The batching writer amortises the fsync.
        o.journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .read_only(read_only)
            .create_if_missing(!read_only)
            // A cached SQLite statement that was not stepped to its end keeps its read
            // transaction open, which would pin a connection to an old snapshot. Readers run
            // arbitrary `LIMIT 1` queries, so they finalize every statement; the writer runs a
            // fixed set of statements, always stepped to completion, and keeps them prepared
            // (re-preparing them made the single writer the tasking bottleneck).
            .statement_cache_capacity(if read_only { 0 } else { 100 })
            // `REGEXP`, which SQLite leaves to the application (PostgreSQL has `~`).
            .with_regexp()
    });
    Ok(Database::connect(opts).await?)
}

/// A custom condition for a sea-query list query, written with `?` for each value in order:
/// sea-query binds `?` on SQLite but wants numbered `$n` on PostgreSQL.
pub fn condition(
    backend: Backend,
    template: &str,
    values: Vec<sea_orm::Value>,
) -> sea_orm::sea_query::SimpleExpr {
    let sql = match backend {
        Backend::Sqlite => template.to_owned(),
        Backend::Postgres => {
            let mut out = String::with_capacity(template.len() + 8);
            let mut n = 0;
            for c in template.chars() {
                if c == '?' {
                    n += 1;
                    out.push_str(&format!("${n}"));
                } else {
                    out.push(c);
                }
            }
            out
        }
    };
    sea_orm::sea_query::Expr::cust_with_values(sql, values)
}

/// A condition for a list query: `column` names a row of `table` whose type is `pulp_type`
/// (Pulp's related filters given a type's list href, e.g. `?remote=/pulp/api/v3/remotes/file/file/`).
pub fn refers_to_type(
    backend: Backend,
    column: &str,
    table: &str,
    pulp_type: &str,
) -> sea_orm::sea_query::SimpleExpr {
    condition(
        backend,
        &format!("{column} IN (SELECT pulp_id FROM {table} WHERE pulp_type = ?)"),
        vec![pulp_type.to_owned().into()],
    )
}

/// `$from,$from+1,…` for `n` values: the one placeholder builder for `IN (…)` lists.
pub fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `($1,…,$w),($w+1,…),…` for `rows` rows of `width` values: the VALUES of a multi-row insert.
pub fn value_rows(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", placeholders(r * width + 1, width)))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod placeholder_tests {
    #[test]
    fn builders() {
        assert_eq!(super::placeholders(2, 3), "$2,$3,$4");
        assert_eq!(super::placeholders(1, 0), "");
        assert_eq!(super::value_rows(2, 2), "($1,$2),($3,$4)");
    }
}
