//! SQLite driver (the demo's embedded Config DB): the file is opened with
//! `SQLITE_OPEN_READ_ONLY` and `PRAGMA query_only = ON`; reads run on the blocking pool inside
//! one `BEGIN DEFERRED` transaction.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use crate::db::{ConfigDb, Error, Query, Row, Value};
use crate::dialect::Dialect;

/// A read-only SQLite Config DB.
#[derive(Clone)]
pub struct SqliteConfigDb {
    conn: Arc<Mutex<Connection>>,
    path: String,
}

impl std::fmt::Debug for SqliteConfigDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteConfigDb")
            .field("path", &self.path)
            .finish()
    }
}

fn q_err(what: &str, e: rusqlite::Error) -> Error {
    Error::Query {
        what: what.chars().take(80).collect(),
        message: e.to_string(),
    }
}

impl SqliteConfigDb {
    /// Opens an existing database file read-only.
    pub fn open(path: &str) -> Result<SqliteConfigDb, Error> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| Error::Connect {
            dialect: "sqlite",
            message: format!("{path}: {e}"),
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| q_err("busy_timeout", e))?;
        if let Some(stmt) = Dialect::Sqlite.session_read_only() {
            conn.execute_batch(stmt).map_err(|e| q_err(stmt, e))?;
        }
        Ok(SqliteConfigDb {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_string(),
        })
    }
}

fn run(conn: &Connection, queries: &[Query]) -> Result<Vec<Vec<Row>>, Error> {
    let mut all = Vec::with_capacity(queries.len());
    for q in queries {
        let mut stmt = conn.prepare_cached(&q.sql).map_err(|e| q_err(&q.sql, e))?;
        let ncols = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(q.params.iter()))
            .map_err(|e| q_err(&q.sql, e))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(|e| q_err(&q.sql, e))? {
            let mut row = Vec::with_capacity(ncols);
            for i in 0..ncols {
                row.push(match r.get_ref(i).map_err(|e| q_err(&q.sql, e))? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Int(v),
                    ValueRef::Real(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                        Value::Int(f as i64)
                    }
                    ValueRef::Real(f) => Value::Text(f.to_string()),
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        Value::Text(String::from_utf8_lossy(t).into_owned())
                    }
                });
            }
            out.push(row);
        }
        all.push(out);
    }
    Ok(all)
}

#[async_trait]
impl ConfigDb for SqliteConfigDb {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn read(&self, queries: &[Query]) -> Result<Vec<Vec<Row>>, Error> {
        let conn = Arc::clone(&self.conn);
        let queries = queries.to_vec();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            let begin = Dialect::Sqlite.begin_read_only();
            conn.execute_batch(begin).map_err(|e| q_err(begin, e))?;
            match run(&conn, &queries) {
                Ok(all) => {
                    conn.execute_batch("COMMIT")
                        .map_err(|e| q_err("COMMIT", e))?;
                    Ok(all)
                }
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    Err(e)
                }
            }
        })
        .await
        .map_err(|e| Error::Query {
            what: "sqlite read task".into(),
            message: e.to_string(),
        })?
    }
}
