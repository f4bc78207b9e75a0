//! PostgreSQL driver: a deadpool-postgres pool (`RecyclingMethod::Verified`) whose sessions are
//! read-only (`default_transaction_read_only=on`) and whose reads each run in one
//! `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY` transaction.

use async_trait::async_trait;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{NoTls, Socket};

use crate::db::{ConfigDb, DbConfig, Error, Query, Row, Value};
use crate::dialect::Dialect;

/// Time to open (or wait for, or verify) a pooled connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Server-side limit on one statement (`statement_timeout`), so a stuck read cannot hang the
/// poller; a whole 10,000-agent snapshot reads in well under a second.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);

/// Client-side limit on one whole read (every query of a snapshot or poll): past it the read
/// fails, whatever the server or the network does.
pub const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// A read-only PostgreSQL Config DB.
#[derive(Clone)]
pub struct PgConfigDb {
    pool: Pool,
}

impl std::fmt::Debug for PgConfigDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConfigDb")
            .field("status", &self.pool.status())
            .finish()
    }
}

fn connect_err(e: impl std::fmt::Display) -> Error {
    Error::Connect {
        dialect: "postgresql",
        message: e.to_string(),
    }
}

impl PgConfigDb {
    /// A pool without TLS. Fails with [`Error::TlsConnectorRequired`] when `config.ssl` is set.
    /// Connections are opened lazily (the first read reports an unreachable server).
    pub fn connect(config: &DbConfig) -> Result<PgConfigDb, Error> {
        if config.ssl {
            return Err(Error::TlsConnectorRequired);
        }
        PgConfigDb::from_pg_config(config.pg_config(), NoTls)
    }

    /// A pool using the given TLS connector (e.g. `tokio-postgres-rustls`), for
    /// `EXCS_CONFIG_DB_SSL=true`.
    pub fn connect_with_tls<T>(config: &DbConfig, tls: T) -> Result<PgConfigDb, Error>
    where
        T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
        T::Stream: Sync + Send,
        T::TlsConnect: Sync + Send,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        PgConfigDb::from_pg_config(config.pg_config(), tls)
    }

    /// A pool from a `tokio_postgres` config; `default_transaction_read_only=on` is added to
    /// its options.
    pub fn from_pg_config<T>(mut pg: tokio_postgres::Config, tls: T) -> Result<PgConfigDb, Error>
    where
        T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
        T::Stream: Sync + Send,
        T::TlsConnect: Sync + Send,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        let mut opts = pg.get_options().unwrap_or("").to_string();
        if !opts.contains("default_transaction_read_only") {
            opts.push_str(" -c default_transaction_read_only=on");
        }
        if !opts.contains("statement_timeout") {
            opts.push_str(&format!(
                " -c statement_timeout={}",
                STATEMENT_TIMEOUT.as_millis()
            ));
        }
        pg.options(opts.trim());
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(CONNECT_TIMEOUT);
        }
        // Notice a dead peer within about a minute instead of the OS's two hours.
        pg.keepalives(true);
        pg.keepalives_idle(Duration::from_secs(30));
        let mgr = Manager::from_config(
            pg,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Verified,
            },
        );
        let pool = Pool::builder(mgr)
            .max_size(4)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(CONNECT_TIMEOUT))
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(connect_err)?;
        Ok(PgConfigDb { pool })
    }

    /// A pool from a key=value or URL connection string (tests, the CLI), without TLS.
    pub fn from_conn_str(s: &str) -> Result<PgConfigDb, Error> {
        let pg: tokio_postgres::Config = s.parse().map_err(connect_err)?;
        PgConfigDb::from_pg_config(pg, NoTls)
    }
}

/// The server's own message (tokio-postgres' Display only says "db error").
fn pg_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

fn query_err(what: &str, e: tokio_postgres::Error) -> Error {
    Error::Query {
        what: what.to_string(),
        message: pg_message(&e),
    }
}

fn decode(row: &tokio_postgres::Row, sql: &str) -> Result<Row, Error> {
    let mut out = Vec::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let bad = |e: tokio_postgres::Error| Error::Decode {
            what: format!("column `{}` of `{}`", col.name(), summary(sql)),
            message: pg_message(&e),
        };
        let v = match *col.type_() {
            Type::INT2 => row
                .try_get::<_, Option<i16>>(i)
                .map_err(bad)?
                .map(i64::from),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(i)
                .map_err(bad)?
                .map(i64::from),
            Type::INT8 => row.try_get::<_, Option<i64>>(i).map_err(bad)?,
            Type::BOOL => row
                .try_get::<_, Option<bool>>(i)
                .map_err(bad)?
                .map(i64::from),
            _ => {
                out.push(match row.try_get::<_, Option<String>>(i).map_err(bad)? {
                    Some(s) => Value::Text(s),
                    None => Value::Null,
                });
                continue;
            }
        };
        out.push(v.map_or(Value::Null, Value::Int));
    }
    Ok(out)
}

fn summary(sql: &str) -> String {
    sql.chars().take(80).collect()
}

#[async_trait]
impl ConfigDb for PgConfigDb {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn read(&self, queries: &[Query]) -> Result<Vec<Vec<Row>>, Error> {
        // A client-side bound too: `statement_timeout` is enforced by the server, which a
        // half-open socket (a firewall dropped the connection) never reaches.
        match tokio::time::timeout(READ_TIMEOUT, self.read_inner(queries)).await {
            Ok(r) => r,
            Err(_) => Err(Error::Query {
                what: "read".into(),
                message: format!(
                    "no answer from PostgreSQL within {} s (network or server stalled); the next poll tries again on a fresh connection",
                    READ_TIMEOUT.as_secs()
                ),
            }),
        }
    }
}

impl PgConfigDb {
    async fn read_inner(&self, queries: &[Query]) -> Result<Vec<Vec<Row>>, Error> {
        let client = self.pool.get().await.map_err(connect_err)?;
        client
            .batch_execute(Dialect::Postgres.begin_read_only())
            .await
            .map_err(|e| query_err("begin read-only transaction", e))?;
        let result = async {
            let mut all = Vec::with_capacity(queries.len());
            for q in queries {
                let what = summary(&q.sql);
                let stmt = client
                    .prepare_cached(&q.sql)
                    .await
                    .map_err(|e| query_err(&what, e))?;
                // Bind each integer at the width the server expects for its placeholder.
                let mut owned: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
                for (i, p) in q.params.iter().enumerate() {
                    let ty = stmt.params().get(i).cloned().unwrap_or(Type::INT8);
                    let too_big = |width: &str| Error::Query {
                        what: what.clone(),
                        message: format!(
                            "parameter {} = {p} does not fit the column's {width}; not clamped (it would read other rows)",
                            i + 1
                        ),
                    };
                    owned.push(match ty {
                        Type::INT2 => {
                            Box::new(i16::try_from(*p).map_err(|_| too_big("smallint"))?)
                        }
                        Type::INT4 => Box::new(i32::try_from(*p).map_err(|_| too_big("integer"))?),
                        _ => Box::new(*p),
                    });
                }
                let refs: Vec<&(dyn ToSql + Sync)> = owned
                    .iter()
                    .map(|b| b.as_ref() as &(dyn ToSql + Sync))
                    .collect();
                let rows = client
                    .query(&stmt, &refs)
                    .await
                    .map_err(|e| query_err(&what, e))?;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    out.push(decode(r, &q.sql)?);
                }
                all.push(out);
            }
            Ok::<_, Error>(all)
        }
        .await;
        match result {
            Ok(all) => {
                client
                    .batch_execute(Dialect::Postgres.end_read_only())
                    .await
                    .map_err(|e| query_err("commit read-only transaction", e))?;
                Ok(all)
            }
            Err(e) => {
                // Best effort; a connection left in a failed transaction is discarded by the
                // pool's verified recycling.
                let _ = client.batch_execute("ROLLBACK").await;
                Err(e)
            }
        }
    }
}
