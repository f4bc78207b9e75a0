//! `doctor`: compares the Config DB's catalog with the [`SchemaMap`] (read-only) and reports
//! every expected table and column that is missing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::db::{Cols, ConfigDb, Error, Query, Row};
use crate::mapping::SchemaMap;

/// What the doctor found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DoctorReport {
    /// Dialect name.
    pub dialect: String,
    /// Tables checked.
    pub tables_checked: usize,
    /// Expected tables that do not exist.
    pub missing_tables: Vec<String>,
    /// Expected `(table, column)` pairs missing from existing tables.
    pub missing_columns: Vec<(String, String)>,
}

impl DoctorReport {
    /// Whether everything expected is there.
    pub fn is_ok(&self) -> bool {
        self.missing_tables.is_empty() && self.missing_columns.is_empty()
    }
}

impl fmt::Display for DoctorReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ok() {
            return write!(
                f,
                "Config DB schema OK ({}): all {} expected tables and their columns are present",
                self.dialect, self.tables_checked
            );
        }
        writeln!(
            f,
            "Config DB schema problems ({}): {} missing table(s), {} missing column(s)",
            self.dialect,
            self.missing_tables.len(),
            self.missing_columns.len()
        )?;
        for t in &self.missing_tables {
            writeln!(f, "  missing table {t}")?;
        }
        for (t, c) in &self.missing_columns {
            writeln!(f, "  missing column {t}.{c}")?;
        }
        write!(
            f,
            "Fix: point the schema mapping at the site's table/column names (see cfgdb/SCHEMA.md), \
             or check the DB user can see the Config DB schema"
        )
    }
}

/// Compares catalog rows `(table, column)` with the mapping (names case-insensitive). Pure.
pub fn compare(map: &SchemaMap, dialect: &str, catalog: &[Row]) -> Result<DoctorReport, Error> {
    let mut present: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in catalog {
        let c = Cols {
            row: r,
            what: "catalog",
        };
        let (Some(t), Some(col)) = (c.text(0), c.text(1)) else {
            continue;
        };
        present
            .entry(t.to_ascii_lowercase())
            .or_default()
            .insert(col.to_ascii_lowercase());
    }
    let mut report = DoctorReport {
        dialect: dialect.to_string(),
        ..DoctorReport::default()
    };
    for (table, cols) in map.expected() {
        report.tables_checked += 1;
        match present.get(&table.to_ascii_lowercase()) {
            None => report.missing_tables.push(table.to_string()),
            Some(have) => {
                for c in cols {
                    if !have.contains(&c.to_ascii_lowercase()) {
                        report
                            .missing_columns
                            .push((table.to_string(), c.to_string()));
                    }
                }
            }
        }
    }
    Ok(report)
}

/// Reads the catalog in a read-only transaction and reports what is missing.
pub async fn doctor(db: &dyn ConfigDb, map: &SchemaMap) -> Result<DoctorReport, Error> {
    map.validate()?;
    let d = db.dialect();
    let rows = db
        .read(&[Query::new(d.catalog_query(map.schema.as_deref()))])
        .await?;
    compare(
        map,
        d.name(),
        rows.first().map(Vec::as_slice).unwrap_or(&[]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Value;

    #[test]
    fn reports_missing_tables_and_columns() {
        let map = SchemaMap::default();
        let mut rows: Vec<Row> = Vec::new();
        for (t, cols) in map.expected() {
            if t == "cfg_hist_log" {
                continue;
            }
            for c in cols {
                if t == "cfg_person" && c == "email_address" {
                    continue;
                }
                // Oracle-style upper case must still match.
                rows.push(vec![
                    Value::Text(t.to_ascii_uppercase()),
                    Value::Text(c.to_ascii_uppercase()),
                ]);
            }
        }
        let r = compare(&map, "postgresql", &rows).unwrap();
        assert!(!r.is_ok());
        assert_eq!(r.missing_tables, vec!["cfg_hist_log"]);
        assert_eq!(
            r.missing_columns,
            vec![("cfg_person".to_string(), "email_address".to_string())]
        );
        let text = r.to_string();
        assert!(
            text.contains("missing column cfg_person.email_address"),
            "{text}"
        );
        assert!(text.contains("missing table cfg_hist_log"), "{text}");
    }
}
