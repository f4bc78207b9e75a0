//! The read-only connection seam: connection settings ([`DbConfig`]), a tiny row model, the
//! [`ConfigDb`] trait every dialect's driver implements, and the crate's error type.
//!
//! A driver only has to run a list of `SELECT`s inside one read-only transaction
//! ([`ConfigDb::read`]); everything else (SQL text, decoding into the model) is shared.

use async_trait::async_trait;

use crate::dialect::{Dialect, UnknownDialect};

/// A secret string (the DB password): `Debug` and `Display` never print it. Shared with the
/// other crates through `engage-base`; `engage_cfgdb::Secret` stays its name here.
pub use engage_base::Secret;

/// Config DB connection settings (the spec's `EXCS_CONFIG_DB_*` variables).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DbConfig {
    /// `EXCS_CONFIG_DB_TYPE` (default postgresql).
    pub db_type: Dialect,
    /// `EXCS_CONFIG_DB_HOST`.
    pub host: String,
    /// `EXCS_CONFIG_DB_PORT` (default: the dialect's usual port).
    pub port: u16,
    /// `EXCS_CONFIG_DB_NAME` (for SQLite: the database file path).
    pub name: String,
    /// `EXCS_CONFIG_DB_USER`.
    pub user: String,
    /// `EXCS_CONFIG_DB_PASSWORD`.
    pub password: Secret,
    /// `EXCS_CONFIG_DB_SSL`.
    pub ssl: bool,
    /// `EXCS_CONFIG_DB_SSL_CA` (our addition): a PEM file of the CA certificates to trust for
    /// the Config DB's TLS certificate (a site whose database certificate comes from a private
    /// CA, or is self-signed, names it here). PostgreSQL then trusts only this file (like
    /// libpq's `sslrootcert`); SQL Server adds it to the system roots (tiberius).
    pub ssl_ca: Option<String>,
}

/// Invalid or missing connection settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Mandatory variables are unset (all of them are listed).
    #[error("{}", missing_list(.0))]
    Missing(Vec<&'static str>),
    /// A variable has a value that does not parse.
    #[error("{name} has an invalid value `{value}`: {expected}")]
    Invalid {
        /// Variable name.
        name: &'static str,
        /// The value (never a secret).
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// Unknown dialect.
    #[error(transparent)]
    Dialect(#[from] UnknownDialect),
}

fn describe(var: &str) -> &'static str {
    match var {
        "EXCS_CONFIG_DB_HOST" => "Config DB host name",
        "EXCS_CONFIG_DB_NAME" => "Config DB name",
        "EXCS_CONFIG_DB_USER" => "Config DB user name",
        _ => "Config DB setting",
    }
}

fn missing_list(v: &[&'static str]) -> String {
    v.iter()
        .map(|n| format!("missing {n} ({})", describe(n)))
        .collect::<Vec<_>>()
        .join("; ")
}

fn parse_bool(name: &'static str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(ConfigError::Invalid {
            name,
            value: v.to_string(),
            expected: "true or false",
        }),
    }
}

impl DbConfig {
    /// Reads the `EXCS_CONFIG_DB_*` variables through `lookup` (the caller decides where they
    /// come from: the environment, CLI flags, a test map). Every missing mandatory variable is
    /// reported at once. SQLite needs only `EXCS_CONFIG_DB_NAME` (the file path).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<DbConfig, ConfigError> {
        let get = |n: &str| lookup(n).filter(|v| !v.trim().is_empty());
        let db_type = match get("EXCS_CONFIG_DB_TYPE") {
            Some(t) => Dialect::parse(&t)?,
            None => Dialect::Postgres,
        };
        let mut missing = Vec::new();
        let mut need = |n: &'static str, required: bool| {
            let v = get(n);
            if v.is_none() && required {
                missing.push(n);
            }
            v.unwrap_or_default()
        };
        let server = db_type != Dialect::Sqlite;
        let host = need("EXCS_CONFIG_DB_HOST", server);
        let name = need("EXCS_CONFIG_DB_NAME", true);
        let user = need("EXCS_CONFIG_DB_USER", server);
        if !missing.is_empty() {
            return Err(ConfigError::Missing(missing));
        }
        let port = match get("EXCS_CONFIG_DB_PORT") {
            None => db_type.default_port(),
            Some(p) => p.trim().parse::<u16>().map_err(|_| ConfigError::Invalid {
                name: "EXCS_CONFIG_DB_PORT",
                value: p,
                expected: "a TCP port number 1-65535",
            })?,
        };
        let ssl = match get("EXCS_CONFIG_DB_SSL") {
            None => false,
            Some(v) => parse_bool("EXCS_CONFIG_DB_SSL", &v)?,
        };
        Ok(DbConfig {
            db_type,
            host,
            port,
            name,
            user,
            password: Secret::new(lookup("EXCS_CONFIG_DB_PASSWORD").unwrap_or_default()),
            ssl,
            ssl_ca: get("EXCS_CONFIG_DB_SSL_CA").map(|v| v.trim().to_string()),
        })
    }

    /// A SQLite config for a database file.
    pub fn sqlite(path: impl Into<String>) -> DbConfig {
        DbConfig {
            db_type: Dialect::Sqlite,
            host: String::new(),
            port: 0,
            name: path.into(),
            user: String::new(),
            password: Secret::default(),
            ssl: false,
            ssl_ca: None,
        }
    }

    /// The MS SQL Server ADO connection string (what tiberius' `Config::from_ado_string`
    /// takes): read-only intent, `Encrypt=true` when `ssl` is set. It holds the password, so
    /// it is returned as a [`Secret`]. No MS SQL driver is built yet; this is its input.
    pub fn mssql_ado_string(&self) -> Secret {
        let esc = |v: &str| format!("{{{}}}", v.replace('}', "}}"));
        Secret::new(format!(
            "server=tcp:{},{};database={};user id={};password={};ApplicationIntent=ReadOnly;Encrypt={};TrustServerCertificate=false",
            self.host,
            self.port,
            esc(&self.name),
            esc(&self.user),
            esc(self.password.expose()),
            self.ssl
        ))
    }

    /// The Oracle connect descriptor (`PROTOCOL=TCPS` when `ssl` is set; the name is the
    /// service name). User and password are passed separately. The Oracle driver (feature
    /// `oracle`) connects with it.
    pub fn oracle_connect_descriptor(&self) -> String {
        format!(
            "(DESCRIPTION=(ADDRESS=(PROTOCOL={})(HOST={})(PORT={}))(CONNECT_DATA=(SERVICE_NAME={})))",
            if self.ssl { "TCPS" } else { "TCP" },
            self.host,
            self.port,
            self.name
        )
    }

    /// The PostgreSQL client config: read-only by default for every transaction of the
    /// session (`default_transaction_read_only=on`), `sslmode=require` when `ssl` is set.
    #[cfg(feature = "postgres")]
    pub fn pg_config(&self) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        c.host(&self.host)
            .port(self.port)
            .dbname(&self.name)
            .user(&self.user)
            .application_name("engage-cfgdb")
            .options("-c default_transaction_read_only=on");
        if !self.password.is_empty() {
            c.password(self.password.expose());
        }
        c.ssl_mode(if self.ssl {
            tokio_postgres::config::SslMode::Require
        } else {
            tokio_postgres::config::SslMode::Disable
        });
        c
    }
}

/// A value read from the Config DB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// Any integer column.
    Int(i64),
    /// Any character column.
    Text(String),
}

/// One result row.
pub type Row = Vec<Value>;

/// A `SELECT` with integer bind parameters (placeholders in the dialect's syntax).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// SQL text.
    pub sql: String,
    /// Integer parameters, in placeholder order.
    pub params: Vec<i64>,
}

impl Query {
    /// A query without parameters.
    pub fn new(sql: impl Into<String>) -> Query {
        Query {
            sql: sql.into(),
            params: Vec::new(),
        }
    }
}

/// Errors reading the Config DB.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Could not connect / get a connection.
    #[error(
        "cannot connect to the {dialect} Config DB: {message}. Check EXCS_CONFIG_DB_HOST/PORT/NAME/USER/PASSWORD and that the server is up"
    )]
    Connect {
        /// Dialect.
        dialect: &'static str,
        /// Driver message (never contains the password).
        message: String,
    },
    /// A statement failed.
    #[error(
        "Config DB query failed ({what}): {message}. Run the doctor check to compare the schema with the mapping"
    )]
    Query {
        /// What was being read.
        what: String,
        /// Driver message.
        message: String,
    },
    /// A column held a value of an unexpected type.
    #[error("Config DB value of unexpected type in {what}: {message}; check the column mapping")]
    Decode {
        /// Table/column.
        what: String,
        /// Details.
        message: String,
    },
    /// This build has no driver for the dialect.
    #[error(
        "no {0} Config DB driver in this build: rebuild with its cargo feature (`--features mssql` / `--features oracle`, see cfgdb/README.md) or use postgresql or sqlite"
    )]
    NoDriver(&'static str),
    /// TLS requested without a TLS connector.
    #[error(
        "EXCS_CONFIG_DB_SSL=true needs a TLS connector: call PgConfigDb::connect_with_tls with one (the connector crate is chosen by the binary)"
    )]
    TlsConnectorRequired,
    /// Invalid settings.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Invalid schema mapping.
    #[error(transparent)]
    Mapping(#[from] crate::mapping::MappingError),
    /// Writing seed data failed (seeding only; the reader never writes).
    #[error("seeding the Config DB failed: {0}")]
    Seed(String),
}

impl Error {
    /// Whether retrying later may succeed (connection and query failures).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Connect { .. } | Error::Query { .. })
    }
}

/// A read-only Config DB connection (or pool).
#[async_trait]
pub trait ConfigDb: Send + Sync {
    /// The SQL dialect the queries must be written in.
    fn dialect(&self) -> Dialect;

    /// Runs the queries, in order, inside one read-only transaction and returns each one's rows.
    async fn read(&self, queries: &[Query]) -> Result<Vec<Vec<Row>>, Error>;
}

/// Opens a read-only Config DB for a config without TLS connector needs: PostgreSQL (plain),
/// SQLite, MS SQL Server (feature `mssql`), Oracle (feature `oracle`). A dialect whose feature
/// is not built returns [`Error::NoDriver`].
pub fn open(config: &DbConfig) -> Result<Box<dyn ConfigDb>, Error> {
    match config.db_type {
        #[cfg(feature = "postgres")]
        Dialect::Postgres => Ok(Box::new(crate::pg::PgConfigDb::connect(config)?)),
        #[cfg(feature = "sqlite")]
        Dialect::Sqlite => Ok(Box::new(crate::sqlite::SqliteConfigDb::open(&config.name)?)),
        #[cfg(feature = "mssql")]
        Dialect::Mssql => Ok(Box::new(crate::mssql::MssqlConfigDb::connect(config)?)),
        #[cfg(feature = "oracle")]
        Dialect::Oracle => Ok(Box::new(crate::oracle::OracleConfigDb::connect(config)?)),
        // Unreachable only when every driver feature is on.
        #[allow(unreachable_patterns)]
        d => Err(Error::NoDriver(d.name())),
    }
}

/// Reads typed columns from a row.
pub(crate) struct Cols<'a> {
    pub row: &'a Row,
    pub what: &'a str,
}

impl Cols<'_> {
    pub fn int(&self, i: usize) -> Result<Option<i64>, Error> {
        match self.row.get(i) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Int(v)) => Ok(Some(*v)),
            Some(Value::Text(t)) => t
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| Error::Decode {
                    what: format!("{} column {}", self.what, i + 1),
                    message: format!("expected an integer, got text `{t}`"),
                }),
        }
    }
    pub fn int_req(&self, i: usize) -> Result<i64, Error> {
        self.int(i)?.ok_or_else(|| Error::Decode {
            what: format!("{} column {}", self.what, i + 1),
            message: "unexpected NULL".into(),
        })
    }
    pub fn text(&self, i: usize) -> Option<String> {
        match self.row.get(i) {
            None | Some(Value::Null) => None,
            Some(Value::Int(v)) => Some(v.to_string()),
            Some(Value::Text(t)) => Some(t.clone()),
        }
    }
    /// Text with trailing blanks trimmed (CHAR columns), empty as None.
    pub fn opt_text(&self, i: usize) -> Option<String> {
        self.text(i)
            .map(|t| t.trim_end().to_string())
            .filter(|t| !t.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| m.get(k).cloned()
    }

    #[test]
    fn reads_spec_variables() {
        let c = DbConfig::from_lookup(lookup(&[
            ("EXCS_CONFIG_DB_HOST", "db1"),
            ("EXCS_CONFIG_DB_NAME", "config"),
            ("EXCS_CONFIG_DB_USER", "genesys"),
            ("EXCS_CONFIG_DB_PASSWORD", "pa55word-xyz"),
            ("EXCS_CONFIG_DB_TYPE", "mssql"),
            ("EXCS_CONFIG_DB_SSL", "true"),
        ]))
        .unwrap();
        assert_eq!(c.db_type, Dialect::Mssql);
        assert_eq!(c.port, 1433);
        assert!(c.ssl);
        assert_eq!(c.password.expose(), "pa55word-xyz");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("pa55word-xyz"), "{dbg}");
        assert!(dbg.contains("redacted"));
    }

    #[test]
    fn names_every_missing_variable() {
        let e = DbConfig::from_lookup(lookup(&[("EXCS_CONFIG_DB_NAME", "x")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "missing EXCS_CONFIG_DB_HOST (Config DB host name); missing EXCS_CONFIG_DB_USER (Config DB user name)"
        );
        let e = DbConfig::from_lookup(lookup(&[
            ("EXCS_CONFIG_DB_HOST", "h"),
            ("EXCS_CONFIG_DB_NAME", "n"),
            ("EXCS_CONFIG_DB_USER", "u"),
            ("EXCS_CONFIG_DB_PORT", "99999"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("EXCS_CONFIG_DB_PORT"));
        let c = DbConfig::from_lookup(lookup(&[
            ("EXCS_CONFIG_DB_TYPE", "sqlite"),
            ("EXCS_CONFIG_DB_NAME", "/tmp/x.db"),
        ]))
        .unwrap();
        assert_eq!(c.db_type, Dialect::Sqlite);
        assert!(DbConfig::from_lookup(lookup(&[("EXCS_CONFIG_DB_TYPE", "db2")])).is_err());
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn pg_config_is_read_only_and_tls_aware() {
        let mut c = DbConfig::from_lookup(lookup(&[
            ("EXCS_CONFIG_DB_HOST", "db1"),
            ("EXCS_CONFIG_DB_NAME", "config"),
            ("EXCS_CONFIG_DB_USER", "genesys"),
            ("EXCS_CONFIG_DB_PASSWORD", "pa55word-xyz"),
        ]))
        .unwrap();
        let pg = c.pg_config();
        assert_eq!(
            pg.get_options(),
            Some("-c default_transaction_read_only=on")
        );
        assert_eq!(pg.get_ssl_mode(), tokio_postgres::config::SslMode::Disable);
        assert_eq!(pg.get_ports(), &[5432]);
        c.ssl = true;
        assert_eq!(
            c.pg_config().get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );
        assert!(matches!(
            crate::pg::PgConfigDb::connect(&c),
            Err(Error::TlsConnectorRequired)
        ));
    }

    #[test]
    fn mssql_and_oracle_connection_strings() {
        let mut c = DbConfig::from_lookup(lookup(&[
            ("EXCS_CONFIG_DB_TYPE", "mssql"),
            ("EXCS_CONFIG_DB_HOST", "sql1"),
            ("EXCS_CONFIG_DB_NAME", "config"),
            ("EXCS_CONFIG_DB_USER", "genesys"),
            ("EXCS_CONFIG_DB_PASSWORD", "p;w}x"),
            ("EXCS_CONFIG_DB_SSL", "true"),
        ]))
        .unwrap();
        let ado = c.mssql_ado_string();
        assert_eq!(
            ado.expose(),
            "server=tcp:sql1,1433;database={config};user id={genesys};password={p;w}}x};ApplicationIntent=ReadOnly;Encrypt=true;TrustServerCertificate=false"
        );
        assert!(!format!("{ado:?}").contains("p;w"));
        c.db_type = Dialect::Oracle;
        c.port = 1521;
        assert_eq!(
            c.oracle_connect_descriptor(),
            "(DESCRIPTION=(ADDRESS=(PROTOCOL=TCPS)(HOST=sql1)(PORT=1521))(CONNECT_DATA=(SERVICE_NAME=config)))"
        );
    }

    #[cfg(not(feature = "oracle"))]
    #[test]
    fn no_driver_for_oracle_without_the_feature() {
        let mut c = DbConfig::sqlite("x");
        c.db_type = Dialect::Oracle;
        let e = open(&c).err().unwrap();
        assert!(matches!(e, Error::NoDriver("oracle")));
    }

    #[cfg(feature = "oracle")]
    #[test]
    fn oracle_opens_with_the_feature() {
        let mut c = DbConfig::sqlite("CFGDB");
        c.db_type = Dialect::Oracle;
        c.host = "ora.example".into();
        c.port = 1521;
        let db = open(&c).unwrap();
        assert_eq!(db.dialect(), Dialect::Oracle);
    }
}
