//! SQL dialect differences, isolated in one enum: identifier quoting, schema prefix,
//! placeholders, the read-only transaction statements, the catalog query the doctor uses, and
//! what "TLS on" means for each server.

use serde::{Deserialize, Serialize};

/// A Config DB SQL dialect. `EXCS_CONFIG_DB_TYPE` selects it ([`Dialect::parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Dialect {
    /// PostgreSQL (the default; tested against a live server).
    Postgres,
    /// SQLite (the demo's embedded Config DB; tested).
    Sqlite,
    /// Microsoft SQL Server (driver behind feature `mssql`; SQL text contract-tested, never run
    /// against a live server).
    Mssql,
    /// Oracle (driver behind feature `oracle`; SQL text contract-tested, never run against a live
    /// server).
    Oracle,
}

/// `EXCS_CONFIG_DB_TYPE` holds an unknown value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown Config DB type `{0}`: set EXCS_CONFIG_DB_TYPE to postgresql, mssql, oracle or sqlite"
)]
#[non_exhaustive]
pub struct UnknownDialect(pub String);

impl Dialect {
    /// Parses `EXCS_CONFIG_DB_TYPE` (case-insensitive; `postgresql`, `postgres`, `pg`, `mssql`,
    /// `sqlserver`, `oracle`, `sqlite`).
    pub fn parse(s: &str) -> Result<Dialect, UnknownDialect> {
        match s.trim().to_ascii_lowercase().as_str() {
            "postgresql" | "postgres" | "pg" => Ok(Dialect::Postgres),
            "mssql" | "sqlserver" => Ok(Dialect::Mssql),
            "oracle" => Ok(Dialect::Oracle),
            "sqlite" => Ok(Dialect::Sqlite),
            _ => Err(UnknownDialect(s.to_string())),
        }
    }

    /// The canonical `EXCS_CONFIG_DB_TYPE` spelling.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgresql",
            Dialect::Sqlite => "sqlite",
            Dialect::Mssql => "mssql",
            Dialect::Oracle => "oracle",
        }
    }

    /// The server's usual port.
    pub fn default_port(self) -> u16 {
        match self {
            Dialect::Postgres => 5432,
            Dialect::Sqlite => 0,
            Dialect::Mssql => 1433,
            Dialect::Oracle => 1521,
        }
    }

    /// Quotes an identifier (already validated as plain by [`crate::SchemaMap::validate`]).
    ///
    /// Oracle folds unquoted names to upper case and the Config DB scripts create them unquoted,
    /// so the quoted form is upper case there.
    pub fn quote(self, ident: &str) -> String {
        match self {
            Dialect::Postgres | Dialect::Sqlite => format!("\"{ident}\""),
            Dialect::Mssql => format!("[{ident}]"),
            Dialect::Oracle => format!("\"{}\"", ident.to_ascii_uppercase()),
        }
    }

    /// The schema prefix used when the mapping does not set one (`dbo.` on MS SQL).
    pub fn default_schema(self) -> Option<&'static str> {
        match self {
            Dialect::Mssql => Some("dbo"),
            _ => None,
        }
    }

    /// A table name, schema-qualified and quoted.
    pub fn table(self, schema: Option<&str>, table: &str) -> String {
        match schema.or(self.default_schema()) {
            Some(s) => format!("{}.{}", self.quote(s), self.quote(table)),
            None => self.quote(table),
        }
    }

    /// The n-th (1-based) bind placeholder.
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Mssql => format!("@P{n}"),
            Dialect::Oracle => format!(":{n}"),
        }
    }

    /// Statement(s) that open the read-only transaction a whole snapshot is read in.
    ///
    /// MS SQL has no read-only transaction statement: the session is opened with
    /// `ApplicationIntent=ReadOnly` and the login must be granted only `db_datareader`.
    pub fn begin_read_only(self) -> &'static str {
        match self {
            Dialect::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            Dialect::Sqlite => "BEGIN DEFERRED",
            Dialect::Mssql => "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; BEGIN TRANSACTION",
            Dialect::Oracle => "SET TRANSACTION READ ONLY",
        }
    }

    /// Statement that ends the read-only transaction.
    pub fn end_read_only(self) -> &'static str {
        match self {
            Dialect::Mssql => "COMMIT TRANSACTION",
            _ => "COMMIT",
        }
    }

    /// Statement run once per session to make the whole session read-only, where the server
    /// has one (PostgreSQL also gets `default_transaction_read_only=on` at connect time).
    pub fn session_read_only(self) -> Option<&'static str> {
        match self {
            Dialect::Postgres => Some("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"),
            Dialect::Sqlite => Some("PRAGMA query_only = ON"),
            Dialect::Mssql | Dialect::Oracle => None,
        }
    }

    /// The catalog query listing `(table, column)` pairs of the schema being read; names are
    /// compared case-insensitively.
    pub fn catalog_query(self, schema: Option<&str>) -> String {
        let schema = schema.or(self.default_schema());
        match self {
            Dialect::Postgres => match schema {
                Some(s) => format!(
                    "SELECT table_name::text, column_name::text FROM information_schema.columns \
                     WHERE table_schema = '{s}'"
                ),
                None => {
                    "SELECT table_name::text, column_name::text FROM information_schema.columns \
                         WHERE table_schema = current_schema()"
                        .to_string()
                }
            },
            Dialect::Sqlite => "SELECT m.name, p.name FROM sqlite_master m \
                                JOIN pragma_table_info(m.name) p WHERE m.type IN ('table', 'view')"
                .to_string(),
            Dialect::Mssql => format!(
                "SELECT TABLE_NAME, COLUMN_NAME FROM INFORMATION_SCHEMA.COLUMNS \
                 WHERE TABLE_SCHEMA = '{}'",
                schema.unwrap_or("dbo")
            ),
            Dialect::Oracle => match schema {
                Some(s) => format!(
                    "SELECT TABLE_NAME, COLUMN_NAME FROM ALL_TAB_COLUMNS WHERE OWNER = '{}'",
                    s.to_ascii_uppercase()
                ),
                None => "SELECT TABLE_NAME, COLUMN_NAME FROM USER_TAB_COLUMNS".to_string(),
            },
        }
    }

    /// What `EXCS_CONFIG_DB_SSL=true` turns on for this server.
    pub fn tls_setting(self) -> &'static str {
        match self {
            Dialect::Postgres => {
                "sslmode=require (a rustls/native-tls connector is supplied by the caller)"
            }
            Dialect::Sqlite => "not applicable (local file)",
            Dialect::Mssql => "Encrypt=true;TrustServerCertificate=false",
            Dialect::Oracle => "PROTOCOL=TCPS in the connect descriptor",
        }
    }

    /// Whether this build can open a live connection of this dialect.
    pub fn has_driver(self) -> bool {
        match self {
            Dialect::Postgres => cfg!(feature = "postgres"),
            Dialect::Sqlite => cfg!(feature = "sqlite"),
            Dialect::Mssql => cfg!(feature = "mssql"),
            Dialect::Oracle => cfg!(feature = "oracle"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_type_names() {
        assert_eq!(Dialect::parse("PostgreSQL").unwrap(), Dialect::Postgres);
        assert_eq!(Dialect::parse(" mssql ").unwrap(), Dialect::Mssql);
        assert_eq!(Dialect::parse("oracle").unwrap(), Dialect::Oracle);
        assert_eq!(Dialect::parse("sqlite").unwrap(), Dialect::Sqlite);
        let e = Dialect::parse("db2").unwrap_err();
        assert!(e.to_string().contains("EXCS_CONFIG_DB_TYPE"));
        for d in [
            Dialect::Postgres,
            Dialect::Sqlite,
            Dialect::Mssql,
            Dialect::Oracle,
        ] {
            assert_eq!(Dialect::parse(d.name()).unwrap(), d);
        }
    }

    #[test]
    fn quoting_and_prefix() {
        assert_eq!(Dialect::Postgres.table(None, "cfg_dn"), "\"cfg_dn\"");
        assert_eq!(Dialect::Mssql.table(None, "cfg_dn"), "[dbo].[cfg_dn]");
        assert_eq!(
            Dialect::Mssql.table(Some("cfg"), "cfg_dn"),
            "[cfg].[cfg_dn]"
        );
        assert_eq!(Dialect::Oracle.table(None, "cfg_dn"), "\"CFG_DN\"");
        assert_eq!(Dialect::Sqlite.quote("type"), "\"type\"");
    }

    #[test]
    fn placeholders() {
        assert_eq!(Dialect::Postgres.placeholder(2), "$2");
        assert_eq!(Dialect::Sqlite.placeholder(1), "?1");
        assert_eq!(Dialect::Mssql.placeholder(1), "@P1");
        assert_eq!(Dialect::Oracle.placeholder(3), ":3");
    }

    #[test]
    fn catalog_queries() {
        assert!(
            Dialect::Postgres
                .catalog_query(None)
                .ends_with("table_schema = current_schema()")
        );
        assert!(
            Dialect::Postgres
                .catalog_query(Some("cfg"))
                .ends_with("table_schema = 'cfg'")
        );
        assert!(
            Dialect::Mssql
                .catalog_query(None)
                .ends_with("TABLE_SCHEMA = 'dbo'")
        );
        assert_eq!(
            Dialect::Oracle.catalog_query(None),
            "SELECT TABLE_NAME, COLUMN_NAME FROM USER_TAB_COLUMNS"
        );
        assert!(
            Dialect::Oracle
                .catalog_query(Some("genesys"))
                .ends_with("OWNER = 'GENESYS'")
        );
        assert!(
            Dialect::Sqlite
                .catalog_query(None)
                .contains("pragma_table_info")
        );
        assert_eq!(Dialect::Mssql.has_driver(), cfg!(feature = "mssql"));
        assert_eq!(Dialect::Oracle.has_driver(), cfg!(feature = "oracle"));
    }

    #[test]
    fn read_only_statements() {
        assert!(Dialect::Postgres.begin_read_only().contains("READ ONLY"));
        assert_eq!(
            Dialect::Oracle.begin_read_only(),
            "SET TRANSACTION READ ONLY"
        );
        assert_eq!(
            Dialect::Sqlite.session_read_only(),
            Some("PRAGMA query_only = ON")
        );
        assert!(
            Dialect::Mssql
                .begin_read_only()
                .contains("BEGIN TRANSACTION")
        );
    }
}
