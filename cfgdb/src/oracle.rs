//! The Oracle driver (feature `oracle`): oracledb, Oracle's pure-Rust thin driver (no Oracle
//! Client libraries), one connection per snapshot, every snapshot in one
//! `SET TRANSACTION READ ONLY` transaction.
//!
//! oracledb's API is blocking, so the connection and the queries run on tokio's blocking pool
//! (`spawn_blocking`); a panic inside the driver (oracledb 26.0.0-beta.5 has `todo!()`s on
//! unexpected packets) comes back as an error, never as a panic of the caller (the process's
//! panic hook still prints it on stderr).
//!
//! No Oracle runs in CI: the SQL this driver sends is the dialect's, contract-tested as text
//! against the same queries the PostgreSQL and SQLite readers run; the cell decoding, the
//! connection settings and the behaviour against unreachable, silent and garbage-sending servers
//! are unit-tested here. Try it against a real server with `exec doctor`.

use std::time::Duration;

use async_trait::async_trait;
use oracledb::{Config, Connection, OracleNumber, ToDbValue};

use crate::db::{ConfigDb, ConfigError, DbConfig, Error, Query, Row, Value};
use crate::dialect::Dialect;

/// How long opening a session may take (TCP connect, TLS, the TNS and login exchanges) before the
/// read is given up with a retryable [`Error::Connect`].
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one round trip to the server (one statement or one fetch of rows) may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(300);

/// A read-only Oracle Config DB.
#[derive(Clone)]
pub struct OracleConfigDb {
    config: DbConfig,
    connect_timeout: Duration,
}

impl std::fmt::Debug for OracleConfigDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OracleConfigDb")
            .field("host", &self.config.host)
            .field("port", &self.config.port)
            .field("service_name", &self.config.name)
            .field("user", &self.config.user)
            .field("tls", &self.config.ssl)
            .finish()
    }
}

fn connect_err(e: impl std::fmt::Display) -> Error {
    Error::Connect {
        dialect: "oracle",
        message: e.to_string(),
    }
}

fn q_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Query {
        what: what.chars().take(80).collect(),
        message: e.to_string(),
    }
}

/// Refuses a host or service name that would change the connect descriptor it is pasted into.
fn check_descriptor_value(name: &'static str, value: &str) -> Result<(), Error> {
    if value.is_empty()
        || value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "()=\\'\"#".contains(c))
    {
        return Err(Error::Config(ConfigError::Invalid {
            name,
            value: value.to_string(),
            expected: "a plain Oracle host or service name (no blanks, parentheses, `=` or quotes)",
        }));
    }
    Ok(())
}

impl OracleConfigDb {
    /// A reader for `config` (connections are opened per snapshot, so an unreachable server is
    /// reported by the first read). `EXCS_CONFIG_DB_NAME` is the Oracle service name.
    pub fn connect(config: &DbConfig) -> Result<OracleConfigDb, Error> {
        if config.db_type != Dialect::Oracle {
            return Err(connect_err(format!(
                "EXCS_CONFIG_DB_TYPE is {}, not oracle",
                config.db_type.name()
            )));
        }
        check_descriptor_value("EXCS_CONFIG_DB_HOST", &config.host)?;
        check_descriptor_value("EXCS_CONFIG_DB_NAME", &config.name)?;
        Ok(OracleConfigDb {
            config: config.clone(),
            connect_timeout: CONNECT_TIMEOUT,
        })
    }

    /// The oracledb connection settings: the connect descriptor of
    /// [`DbConfig::oracle_connect_descriptor`] (`PROTOCOL=TCPS` when `EXCS_CONFIG_DB_SSL` is
    /// true, the server certificate then verified against the public web roots oracledb
    /// bundles, and its name matched against the host), user and password, a TCP connect
    /// timeout, and `engage-cfgdb` as the program name the server sees.
    pub fn oracledb_config(&self) -> Result<Config, Error> {
        let c = &self.config;
        Config::default()
            .set_credentials(&c.user, c.password.expose())
            .set_transport_connect_timeout(Some(self.connect_timeout))
            .set_program("engage-cfgdb")
            .and_then(|cfg| cfg.set_connect_string(&c.oracle_connect_descriptor()))
            .map_err(connect_err)
    }
}

/// One Oracle cell as fetched for its column's type, before it becomes a reader value.
#[derive(Debug, Clone)]
pub(crate) enum OraCell {
    /// A `NUMBER` column (`None`: NULL).
    Number(Option<OracleNumber>),
    /// A `VARCHAR2`, `CHAR`, `NVARCHAR2` or `NCHAR` column (`None`: NULL).
    Text(Option<String>),
    /// A column of a type the reader does not read (its type as in `CREATE TABLE`).
    Unsupported(String),
}

/// Fetches cell `index` of `row` in the shape its column type calls for.
fn fetch_cell(row: &oracledb::Row, index: usize) -> Result<OraCell, oracledb::Error> {
    let Some(meta) = row.columns().get(index) else {
        return Ok(OraCell::Unsupported(format!(
            "missing column {}",
            index + 1
        )));
    };
    let t = meta.db_type();
    if t == oracledb::DB_TYPE_NUMBER {
        Ok(OraCell::Number(row.get::<Option<OracleNumber>>(index)?))
    } else if t == oracledb::DB_TYPE_VARCHAR
        || t == oracledb::DB_TYPE_CHAR
        || t == oracledb::DB_TYPE_NVARCHAR
        || t == oracledb::DB_TYPE_NCHAR
    {
        Ok(OraCell::Text(row.get::<Option<String>>(index)?))
    } else {
        Ok(OraCell::Unsupported(meta.data_type()))
    }
}

/// Turns one Oracle cell of column `column` into a reader value: a whole `NUMBER` that fits 64
/// bits becomes an integer, character columns text, NULL null; anything else is an error naming
/// the column.
pub(crate) fn cell_value(column: &str, cell: OraCell) -> Result<Value, String> {
    match cell {
        OraCell::Number(None) | OraCell::Text(None) => Ok(Value::Null),
        OraCell::Text(Some(s)) => Ok(Value::Text(s)),
        OraCell::Number(Some(n)) => {
            let digits = n.to_string();
            if digits.contains('.') {
                return Err(format!(
                    "column {column}: NUMBER {digits} has decimals; expected an id or a code"
                ));
            }
            digits
                .parse::<i64>()
                .map(Value::Int)
                .map_err(|_| format!("column {column}: NUMBER {digits} does not fit 64 bits"))
        }
        OraCell::Unsupported(ty) => Err(format!(
            "column {column} has type {ty}; only NUMBER without decimals and character columns \
             (VARCHAR2, CHAR, NVARCHAR2, NCHAR) are read"
        )),
    }
}

/// Runs the snapshot's queries on an open session: read-only transaction, each query with its
/// integer binds, every cell decoded, commit. Blocking.
fn read_blocking(conn: &Connection, queries: &[Query]) -> Result<Vec<Vec<Row>>, Error> {
    conn.set_call_timeout(Some(CALL_TIMEOUT))
        .map_err(|e| q_err("setting the call timeout", e))?;
    let begin = Dialect::Oracle.begin_read_only();
    conn.execute(begin, &[]).map_err(|e| q_err(begin, e))?;
    let mut out = Vec::with_capacity(queries.len());
    for q in queries {
        let params: Vec<&dyn ToDbValue> = q.params.iter().map(|p| p as &dyn ToDbValue).collect();
        let cursor = conn
            .query(q.sql.as_str(), &params)
            .map_err(|e| q_err(&q.sql, e))?;
        let mut table = Vec::new();
        for row in cursor {
            let row = row.map_err(|e| q_err(&q.sql, e))?;
            let mut values = Row::with_capacity(row.columns().len());
            for index in 0..row.columns().len() {
                let name = row
                    .columns()
                    .get(index)
                    .map(|m| m.name().to_string())
                    .unwrap_or_default();
                let cell = fetch_cell(&row, index).map_err(|e| q_err(&q.sql, e))?;
                let value = cell_value(&name, cell).map_err(|message| Error::Query {
                    what: q.sql.chars().take(80).collect(),
                    message,
                })?;
                values.push(value);
            }
            table.push(values);
        }
        out.push(table);
    }
    // The transaction only read; ending it releases its read-consistent snapshot.
    conn.commit()
        .map_err(|e| q_err(Dialect::Oracle.end_read_only(), e))?;
    Ok(out)
}

#[async_trait]
impl ConfigDb for OracleConfigDb {
    fn dialect(&self) -> Dialect {
        Dialect::Oracle
    }

    async fn read(&self, queries: &[Query]) -> Result<Vec<Vec<Row>>, Error> {
        let cfg = self.oracledb_config()?;
        let connecting = tokio::task::spawn_blocking(move || oracledb::connect(cfg));
        // A server that accepts TCP but never answers would block the driver for good (it has no
        // read timeout while logging in): give up waiting here. The blocked thread is left
        // behind and ends when the server closes the connection.
        let conn = match tokio::time::timeout(self.connect_timeout, connecting).await {
            Err(_) => {
                return Err(connect_err(format!(
                    "no login to {}:{} within {} s: the server did not answer, or accepted the \
                     connection and then said nothing (not an Oracle listener?)",
                    self.config.host,
                    self.config.port,
                    self.connect_timeout.as_secs_f32()
                )));
            }
            Ok(Err(join)) => {
                return Err(connect_err(format!(
                    "the oracledb driver failed while connecting ({join}); this is a driver bug \
                     or a server that does not speak Oracle's protocol"
                )));
            }
            Ok(Ok(connected)) => connected.map_err(connect_err)?,
        };
        let queries = queries.to_vec();
        tokio::task::spawn_blocking(move || read_blocking(&conn, &queries))
            .await
            .map_err(|join| {
                q_err(
                    "the snapshot",
                    format!(
                        "the oracledb driver failed while reading ({join}); this is a driver bug"
                    ),
                )
            })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::str::FromStr;

    fn num(s: &str) -> OraCell {
        OraCell::Number(Some(OracleNumber::from_str(s).unwrap()))
    }

    #[test]
    fn cells_decode_to_reader_values() {
        assert_eq!(cell_value("DBID", num("42")).unwrap(), Value::Int(42));
        assert_eq!(cell_value("DBID", num("-7")).unwrap(), Value::Int(-7));
        assert_eq!(cell_value("DBID", num("0")).unwrap(), Value::Int(0));
        assert_eq!(cell_value("STATE", num("100")).unwrap(), Value::Int(100));
        assert_eq!(
            cell_value("DBID", num("9223372036854775807")).unwrap(),
            Value::Int(i64::MAX)
        );
        assert_eq!(
            cell_value("DBID", OraCell::Number(None)).unwrap(),
            Value::Null
        );
        assert_eq!(
            cell_value("NAME", OraCell::Text(Some("VQ_Sales".into()))).unwrap(),
            Value::Text("VQ_Sales".into())
        );
        assert_eq!(
            cell_value("NAME", OraCell::Text(Some("padded  ".into()))).unwrap(),
            Value::Text("padded  ".into())
        );
        assert_eq!(
            cell_value("NAME", OraCell::Text(None)).unwrap(),
            Value::Null
        );
    }

    #[test]
    fn cells_that_are_not_ids_or_text_name_the_column() {
        let e = cell_value("CAPACITY", num("4.25")).unwrap_err();
        assert!(e.contains("CAPACITY") && e.contains("decimals"), "{e}");
        let e = cell_value("DBID", num("9223372036854775808")).unwrap_err();
        assert!(e.contains("DBID") && e.contains("64 bits"), "{e}");
        let e = cell_value("DBID", num("1000000000000000000000000000000")).unwrap_err();
        assert!(e.contains("64 bits"), "{e}");
        let e = cell_value("CREATED", OraCell::Unsupported("DATE".into())).unwrap_err();
        assert!(e.contains("CREATED") && e.contains("DATE"), "{e}");
    }

    fn oracle_settings() -> DbConfig {
        let lookup = |k: &str| match k {
            "EXCS_CONFIG_DB_TYPE" => Some("oracle".to_string()),
            "EXCS_CONFIG_DB_HOST" => Some("ora.example".to_string()),
            "EXCS_CONFIG_DB_NAME" => Some("CFGDB".to_string()),
            "EXCS_CONFIG_DB_USER" => Some("reader".to_string()),
            "EXCS_CONFIG_DB_PASSWORD" => Some("p4ss-w0rd".to_string()),
            _ => None,
        };
        DbConfig::from_lookup(lookup).unwrap()
    }

    #[test]
    fn settings_come_from_the_excs_variables_and_hide_the_password() {
        let mut cfg = oracle_settings();
        assert_eq!(cfg.port, 1521);
        let db = OracleConfigDb::connect(&cfg).unwrap();
        let ora = db.oracledb_config().unwrap();
        assert_eq!(ora.user(), Some("reader"));
        let descriptor = ora.get_connect_descriptor();
        assert!(
            descriptor.contains("(PROTOCOL=tcp)") || descriptor.contains("(PROTOCOL=TCP)"),
            "{descriptor}"
        );
        assert!(descriptor.contains("(HOST=ora.example)"), "{descriptor}");
        assert!(descriptor.contains("(PORT=1521)"), "{descriptor}");
        assert!(descriptor.contains("(SERVICE_NAME=CFGDB)"), "{descriptor}");
        assert!(!descriptor.contains("p4ss-w0rd"));
        assert_eq!(ora.transport_connect_timeout(), Some(CONNECT_TIMEOUT));
        let dbg = format!("{db:?}");
        assert!(dbg.contains("ora.example"), "{dbg}");
        assert!(!dbg.contains("p4ss-w0rd"), "{dbg}");

        cfg.ssl = true;
        let tls = OracleConfigDb::connect(&cfg)
            .unwrap()
            .oracledb_config()
            .unwrap()
            .get_connect_descriptor();
        assert!(
            tls.to_ascii_uppercase().contains("(PROTOCOL=TCPS)"),
            "{tls}"
        );

        assert!(OracleConfigDb::connect(&DbConfig::sqlite("x")).is_err());
        let mut bad = oracle_settings();
        bad.name = "CFG)(HOST=evil".into();
        let e = OracleConfigDb::connect(&bad).unwrap_err();
        assert!(e.to_string().contains("EXCS_CONFIG_DB_NAME"), "{e}");
    }

    fn local(port: u16) -> OracleConfigDb {
        let mut cfg = oracle_settings();
        cfg.host = "127.0.0.1".into();
        cfg.port = port;
        OracleConfigDb::connect(&cfg).unwrap()
    }

    /// Reads with a deadline so a driver that hangs fails the test instead of blocking it.
    async fn read_within(db: &OracleConfigDb, secs: u64) -> Error {
        tokio::time::timeout(
            Duration::from_secs(secs),
            db.read(&[Query::new("SELECT 1 FROM dual")]),
        )
        .await
        .expect("the read must not hang")
        .unwrap_err()
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_connect_error() {
        // Port 9 on loopback: nothing listens there.
        let err = read_within(&local(9), 60).await;
        assert!(matches!(err, Error::Connect { .. }), "{err}");
        assert!(err.is_retryable(), "{err}");
        assert!(err.to_string().contains("oracle"), "{err}");
        assert!(!err.to_string().contains("p4ss-w0rd"), "{err}");
    }

    /// A listener that answers each connection with `reply` and then closes it.
    fn fake_server(reply: &'static [u8]) -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { return };
                let mut buf = [0u8; 512];
                let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
                let _ = s.read(&mut buf);
                let _ = s.write_all(reply);
            }
        });
        port
    }

    #[tokio::test]
    async fn a_server_that_hangs_up_or_sends_garbage_is_a_clear_error() {
        // Whole TNS-looking packets (2-byte length, type at byte 4) and plain garbage.
        let replies: [&'static [u8]; 8] = [
            // An unknown packet type: oracledb 26.0.0-beta.5 panics (`todo!`) on it while
            // connecting; the panic stays on the blocking thread and comes back as an error.
            &[0, 8, 0, 0, 0x63, 0, 0, 0],
            // An ACCEPT packet too short to be one.
            &[0, 12, 0, 0, 2, 0, 0, 0, 1, 2, 3, 4],
            // A REFUSE packet with a one-byte body.
            &[0, 9, 0, 0, 4, 0, 0, 0, 7],
            // A RESEND packet, then the connection closes.
            &[0, 8, 0, 0, 11, 0, 0, 0],
            b"",
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
            // A TNS-looking header (length 10, type 4 = refuse) with a truncated body.
            &[0, 10, 0, 0, 4, 0, 0, 0, 0xff],
            &[0xff; 64],
        ];
        for reply in replies {
            let err = read_within(&local(fake_server(reply)), 60).await;
            assert!(matches!(err, Error::Connect { .. }), "{reply:?}: {err}");
            assert!(err.is_retryable(), "{err}");
            assert!(err.to_string().contains("oracle"), "{err}");
            assert!(!err.to_string().contains("p4ss-w0rd"), "{err}");
        }
        let err = read_within(&local(fake_server(replies[0])), 60).await;
        assert!(err.to_string().contains("oracledb driver failed"), "{err}");
    }

    #[tokio::test]
    async fn a_silent_server_is_a_connect_error_after_the_timeout() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            // Accept and say nothing until the test is done, then hang up (which also ends the
            // driver's blocked thread, so the test runtime can shut down).
            let held = listener.accept();
            let _ = release_rx.recv();
            drop(held);
        });
        let mut db = local(port);
        db.connect_timeout = Duration::from_millis(500);
        let err = read_within(&db, 30).await;
        let _ = release_tx.send(());
        assert!(matches!(err, Error::Connect { .. }), "{err}");
        assert!(err.to_string().contains("no login to 127.0.0.1"), "{err}");
    }
}
