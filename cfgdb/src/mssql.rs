//! The MS SQL Server driver (feature `mssql`): tiberius over TCP, one connection per snapshot,
//! every snapshot in one `READ COMMITTED` transaction that only reads.
//!
//! No SQL Server runs in CI: the SQL this driver sends is the dialect's, contract-tested as text
//! against the same queries the PostgreSQL and SQLite readers run; the row decoding and the
//! connection settings are unit-tested here. Try it against a real server with `exec doctor`.

use async_trait::async_trait;
use std::time::Duration;
use tiberius::{AuthMethod, Client, ColumnData, Config, EncryptionLevel, ToSql};
use tokio::net::TcpStream;
use tokio_util::compat::TokioAsyncWriteCompatExt;

use crate::db::{ConfigDb, DbConfig, Error, Query, Row, Value};
use crate::dialect::Dialect;

/// A read-only MS SQL Server Config DB.
#[derive(Clone)]
pub struct MssqlConfigDb {
    config: DbConfig,
    connect_timeout: Duration,
    read_timeout: Duration,
}

/// How long connecting (TCP, TLS, login) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one whole read (every query of a snapshot or poll) may take.
pub const READ_TIMEOUT: Duration = Duration::from_secs(120);

impl std::fmt::Debug for MssqlConfigDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MssqlConfigDb")
            .field("host", &self.config.host)
            .field("port", &self.config.port)
            .field("database", &self.config.name)
            .finish()
    }
}

fn connect_err(e: impl std::fmt::Display) -> Error {
    Error::Connect {
        dialect: "mssql",
        message: e.to_string(),
    }
}

fn q_err(what: &str, e: tiberius::error::Error) -> Error {
    Error::Query {
        what: what.chars().take(80).collect(),
        message: e.to_string(),
    }
}

impl MssqlConfigDb {
    /// A reader for `config` (connections are opened per snapshot, so an unreachable server is
    /// reported by the first read).
    pub fn connect(config: &DbConfig) -> Result<MssqlConfigDb, Error> {
        if config.db_type != Dialect::Mssql {
            return Err(connect_err(format!(
                "EXCS_CONFIG_DB_TYPE is {}, not mssql",
                config.db_type.name()
            )));
        }
        Ok(MssqlConfigDb {
            config: config.clone(),
            connect_timeout: CONNECT_TIMEOUT,
            read_timeout: READ_TIMEOUT,
        })
    }

    /// The tiberius connection settings: SQL Server authentication, TLS required when
    /// `EXCS_CONFIG_DB_SSL` is true (server certificate verified against the system roots and
    /// the PEM file `EXCS_CONFIG_DB_SSL_CA`, if set),
    /// no TLS otherwise.
    pub fn tiberius_config(&self) -> Config {
        let c = &self.config;
        let mut cfg = Config::new();
        cfg.host(&c.host);
        cfg.port(c.port);
        cfg.database(&c.name);
        cfg.application_name("engage-cfgdb");
        // ApplicationIntent=ReadOnly in the login: an availability group routes it to a
        // read-only replica, and the session is read-only; the login must still be granted only
        // db_datareader (the guide's read-only user).
        cfg.readonly(true);
        cfg.authentication(AuthMethod::sql_server(&c.user, c.password.expose()));
        cfg.encryption(if c.ssl {
            EncryptionLevel::Required
        } else {
            EncryptionLevel::NotSupported
        });
        if let (true, Some(ca)) = (c.ssl, c.ssl_ca.as_deref()) {
            // In addition to the system roots (EXCS_CONFIG_DB_SSL_CA).
            cfg.trust_cert_ca(ca);
        }
        cfg
    }
}

/// Turns one SQL Server cell into a reader value (integers of any width, bits, strings).
pub(crate) fn cell_value(cell: ColumnData<'_>) -> Result<Value, String> {
    let v = match cell {
        ColumnData::U8(v) => v.map(|x| Value::Int(i64::from(x))),
        ColumnData::I16(v) => v.map(|x| Value::Int(i64::from(x))),
        ColumnData::I32(v) => v.map(|x| Value::Int(i64::from(x))),
        ColumnData::I64(v) => v.map(Value::Int),
        ColumnData::Bit(v) => v.map(|b| Value::Int(i64::from(b))),
        ColumnData::String(v) => v.map(|s| Value::Text(s.into_owned())),
        ColumnData::Numeric(v) => match v {
            None => None,
            Some(n) if n.scale() == 0 => Some(Value::Int(
                i64::try_from(n.value())
                    .map_err(|_| format!("numeric {n} does not fit 64 bits"))?,
            )),
            Some(n) => {
                return Err(format!(
                    "numeric {n} has decimals; expected an id or a code"
                ));
            }
        },
        other => return Err(format!("unsupported column type {other:?}")),
    };
    Ok(v.unwrap_or(Value::Null))
}

#[async_trait]
impl ConfigDb for MssqlConfigDb {
    fn dialect(&self) -> Dialect {
        Dialect::Mssql
    }

    async fn read(&self, queries: &[Query]) -> Result<Vec<Vec<Row>>, Error> {
        let cfg = self.tiberius_config();
        let connecting = async {
            let tcp = TcpStream::connect(cfg.get_addr())
                .await
                .map_err(connect_err)?;
            tcp.set_nodelay(true).map_err(connect_err)?;
            Client::connect(cfg, tcp.compat_write())
                .await
                .map_err(connect_err)
        };
        let client = match tokio::time::timeout(self.connect_timeout, connecting).await {
            Ok(c) => c?,
            Err(_) => {
                return Err(Error::Connect {
                    dialect: "mssql",
                    message: format!(
                        "no answer from SQL Server within {} s; check EXCS_CONFIG_DB_HOST/PORT and the firewall",
                        self.connect_timeout.as_secs_f32()
                    ),
                });
            }
        };
        match tokio::time::timeout(self.read_timeout, Self::read_with(client, queries)).await {
            Ok(r) => r,
            Err(_) => Err(Error::Query {
                what: "read".into(),
                message: format!(
                    "no answer from SQL Server within {} s (network or server stalled); the next poll tries again",
                    self.read_timeout.as_secs()
                ),
            }),
        }
    }
}

impl MssqlConfigDb {
    async fn read_with(
        mut client: Client<tokio_util::compat::Compat<TcpStream>>,
        queries: &[Query],
    ) -> Result<Vec<Vec<Row>>, Error> {
        let begin = Dialect::Mssql.begin_read_only();
        client
            .simple_query(begin)
            .await
            .map_err(|e| q_err(begin, e))?
            .into_results()
            .await
            .map_err(|e| q_err(begin, e))?;
        let mut out = Vec::with_capacity(queries.len());
        for q in queries {
            let params: Vec<&dyn ToSql> = q.params.iter().map(|p| p as &dyn ToSql).collect();
            let rows = client
                .query(q.sql.as_str(), &params)
                .await
                .map_err(|e| q_err(&q.sql, e))?
                .into_first_result()
                .await
                .map_err(|e| q_err(&q.sql, e))?;
            let mut table = Vec::with_capacity(rows.len());
            for row in rows {
                let values = row
                    .into_iter()
                    .map(cell_value)
                    .collect::<Result<Row, String>>()
                    .map_err(|message| Error::Query {
                        what: q.sql.chars().take(80).collect(),
                        message,
                    })?;
                table.push(values);
            }
            out.push(table);
        }
        let end = Dialect::Mssql.end_read_only();
        client
            .simple_query(end)
            .await
            .map_err(|e| q_err(end, e))?
            .into_results()
            .await
            .map_err(|e| q_err(end, e))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn cells_decode_to_reader_values() {
        assert_eq!(cell_value(ColumnData::I32(Some(7))).unwrap(), Value::Int(7));
        assert_eq!(
            cell_value(ColumnData::I16(Some(-2))).unwrap(),
            Value::Int(-2)
        );
        assert_eq!(cell_value(ColumnData::U8(Some(3))).unwrap(), Value::Int(3));
        assert_eq!(cell_value(ColumnData::I64(None)).unwrap(), Value::Null);
        assert_eq!(
            cell_value(ColumnData::Bit(Some(true))).unwrap(),
            Value::Int(1)
        );
        assert_eq!(
            cell_value(ColumnData::String(Some(Cow::Borrowed("VQ_Sales")))).unwrap(),
            Value::Text("VQ_Sales".into())
        );
        assert_eq!(cell_value(ColumnData::String(None)).unwrap(), Value::Null);
        assert!(cell_value(ColumnData::F64(Some(1.5))).is_err());
        let whole = tiberius::numeric::Numeric::new_with_scale(42, 0);
        assert_eq!(
            cell_value(ColumnData::Numeric(Some(whole))).unwrap(),
            Value::Int(42)
        );
        let frac = tiberius::numeric::Numeric::new_with_scale(425, 1);
        assert!(cell_value(ColumnData::Numeric(Some(frac))).is_err());
    }

    #[test]
    fn settings_come_from_the_excs_variables_and_hide_the_password() {
        let lookup = |k: &str| match k {
            "EXCS_CONFIG_DB_TYPE" => Some("mssql".to_string()),
            "EXCS_CONFIG_DB_HOST" => Some("sql.example".to_string()),
            "EXCS_CONFIG_DB_NAME" => Some("config".to_string()),
            "EXCS_CONFIG_DB_USER" => Some("reader".to_string()),
            "EXCS_CONFIG_DB_PASSWORD" => Some("p4ss-w0rd".to_string()),
            _ => None,
        };
        let cfg = DbConfig::from_lookup(lookup).unwrap();
        assert_eq!(cfg.port, 1433);
        let db = MssqlConfigDb::connect(&cfg).unwrap();
        assert_eq!(db.tiberius_config().get_addr(), "sql.example:1433");
        assert!(!format!("{db:?}").contains("p4ss-w0rd"));
        assert!(MssqlConfigDb::connect(&DbConfig::sqlite("x")).is_err());
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_connect_error() {
        // Port 9 on loopback: nothing listens there.
        let mut cfg = DbConfig::sqlite("config");
        cfg.db_type = Dialect::Mssql;
        cfg.host = "127.0.0.1".into();
        cfg.port = 9;
        let db = MssqlConfigDb::connect(&cfg).unwrap();
        let err = db.read(&[]).await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
        assert!(err.to_string().contains("mssql"), "{err}");
    }

    fn local(port: u16) -> MssqlConfigDb {
        let lookup = |k: &str| match k {
            "EXCS_CONFIG_DB_TYPE" => Some("mssql".to_string()),
            "EXCS_CONFIG_DB_HOST" => Some("127.0.0.1".to_string()),
            "EXCS_CONFIG_DB_PORT" => Some(port.to_string()),
            "EXCS_CONFIG_DB_NAME" => Some("config".to_string()),
            "EXCS_CONFIG_DB_USER" => Some("reader".to_string()),
            "EXCS_CONFIG_DB_PASSWORD" => Some("p4ss-w0rd".to_string()),
            _ => None,
        };
        MssqlConfigDb::connect(&DbConfig::from_lookup(lookup).unwrap()).unwrap()
    }

    /// Issue 12 §14: a server that accepts and never answers is a connect error after the
    /// timeout, never a hung poll.
    #[tokio::test]
    async fn mssql_silent_server_is_a_connect_error_after_the_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hold = tokio::spawn(async move {
            let held = listener.accept().await;
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(held);
        });
        let mut db = local(port);
        db.connect_timeout = Duration::from_millis(300);
        let err = tokio::time::timeout(Duration::from_secs(20), db.read(&[]))
            .await
            .expect("bounded by the connect timeout")
            .unwrap_err();
        hold.abort();
        assert!(matches!(err, Error::Connect { .. }), "{err}");
        assert!(
            err.to_string().contains("no answer from SQL Server"),
            "{err}"
        );
        assert!(!err.to_string().contains("p4ss-w0rd"));
    }

    /// The login asks for ApplicationIntent=ReadOnly (the TDS login flag tiberius sets).
    #[test]
    fn mssql_login_is_read_only_intent() {
        let cfg = local(1433).tiberius_config();
        let dbg = format!("{cfg:?}");
        assert!(dbg.contains("readonly: true"), "{dbg}");
        assert!(!dbg.contains("p4ss-w0rd"), "the password never shows");
    }
}
