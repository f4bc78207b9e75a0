//! The snapshot reader: SQL text built from the [`SchemaMap`] and a [`Dialect`] (pure, so every
//! dialect's text is contract-tested), rows decoded into a [`Snapshot`] (pure), and one async
//! function tying them to a [`ConfigDb`].

use std::collections::BTreeMap;

use crate::db::{Cols, ConfigDb, Error, Query, Row};
use crate::dialect::Dialect;
use crate::mapping::SchemaMap;
use crate::model::*;

/// Object types whose annex the reader loads.
pub const ANNEX_OBJECT_TYPES: [i64; 9] = [
    object_type::SWITCH,
    object_type::DN,
    object_type::PERSON,
    object_type::AGENT_GROUP,
    object_type::TENANT,
    object_type::SKILL,
    object_type::TRANSACTION,
    object_type::ENUMERATOR,
    object_type::ENUMERATOR_VALUE,
];

/// The name of the transaction holding EXEC's configuration.
pub const HYBRID_INTEGRATION: &str = "hybrid_integration";

struct Sql<'a> {
    d: Dialect,
    m: &'a SchemaMap,
}

impl Sql<'_> {
    fn select(&self, table: &str, cols: &[&str], tail: &str) -> String {
        let cols: Vec<String> = cols.iter().map(|c| self.d.quote(c)).collect();
        let mut s = format!(
            "SELECT {} FROM {}",
            cols.join(", "),
            self.d.table(self.m.schema.as_deref(), table)
        );
        if !tail.is_empty() {
            s.push(' ');
            s.push_str(tail);
        }
        s
    }
    fn q(&self, c: &str) -> String {
        self.d.quote(c)
    }
}

/// The queries [`read_snapshot`] runs, in order, for a mapping and dialect.
pub fn snapshot_queries(m: &SchemaMap, d: Dialect) -> Vec<Query> {
    let s = Sql { d, m };
    let t = &m.tenant;
    let sw = &m.switch;
    let p = &m.person;
    let sk = &m.skill;
    let sl = &m.skill_level;
    let al = &m.agent_login;
    let li = &m.login_info;
    let g = &m.group;
    let ag = &m.agent_group;
    let dn = &m.dn;
    let fp = &m.flex_prop;
    let tx = &m.transaction;
    let f = &m.folder;
    let fo = &m.folder_object;
    let e = &m.enumerator;
    let ev = &m.enum_value;
    let h = &m.history;
    let types: Vec<String> = ANNEX_OBJECT_TYPES.iter().map(i64::to_string).collect();
    let history = format!(
        "SELECT {ot}, {od}, MAX({ct}), MAX({id}) FROM {tbl} GROUP BY {ot}, {od}",
        ot = s.q(&h.object_type),
        od = s.q(&h.object_dbid),
        ct = s.q(&h.change_time),
        id = s.q(&h.id),
        tbl = d.table(m.schema.as_deref(), &h.table),
    );
    [
        s.select(&t.table, &[&t.dbid, &t.name], ""),
        s.select(
            &sw.table,
            &[&sw.dbid, &sw.tenant_dbid, &sw.name, &sw.state],
            "",
        ),
        s.select(
            &p.table,
            &[
                &p.dbid,
                &p.tenant_dbid,
                &p.first_name,
                &p.last_name,
                &p.user_name,
                &p.employee_id,
                &p.email,
                &p.is_agent,
                &p.state,
            ],
            "",
        ),
        s.select(
            &sk.table,
            &[&sk.dbid, &sk.tenant_dbid, &sk.name, &sk.state],
            "",
        ),
        s.select(&sl.table, &[&sl.person_dbid, &sl.skill_dbid, &sl.level], ""),
        s.select(
            &al.table,
            &[
                &al.dbid,
                &al.tenant_dbid,
                &al.switch_dbid,
                &al.login_code,
                &al.state,
            ],
            "",
        ),
        s.select(&li.table, &[&li.person_dbid, &li.agent_login_dbid], ""),
        s.select(
            &g.table,
            &[&g.dbid, &g.tenant_dbid, &g.name, &g.group_type, &g.state],
            "",
        ),
        s.select(&ag.table, &[&ag.group_dbid, &ag.agent_dbid], ""),
        s.select(
            &dn.table,
            &[
                &dn.dbid,
                &dn.switch_dbid,
                &dn.dn_type,
                &dn.number,
                &dn.state,
            ],
            "",
        ),
        s.select(
            &fp.table,
            &[
                &fp.dbid,
                &fp.object_dbid,
                &fp.object_type,
                &fp.parent_dbid,
                &fp.prop_name,
                &fp.prop_value,
            ],
            &format!(
                "WHERE {} IN ({}) ORDER BY {}",
                s.q(&fp.object_type),
                types.join(", "),
                s.q(&fp.dbid)
            ),
        ),
        s.select(
            &tx.table,
            &[&tx.dbid, &tx.tenant_dbid, &tx.name, &tx.state],
            "",
        ),
        s.select(
            &f.table,
            &[
                &f.dbid,
                &f.tenant_dbid,
                &f.name,
                &f.folder_type,
                &f.parent_type,
                &f.parent_dbid,
                &f.state,
            ],
            "",
        ),
        s.select(
            &fo.table,
            &[&fo.folder_dbid, &fo.object_type, &fo.object_dbid],
            "",
        ),
        s.select(
            &e.table,
            &[
                &e.dbid,
                &e.tenant_dbid,
                &e.name,
                &e.display_name,
                &e.enum_type,
                &e.state,
            ],
            "",
        ),
        s.select(
            &ev.table,
            &[
                &ev.dbid,
                &ev.tenant_dbid,
                &ev.enumerator_dbid,
                &ev.name,
                &ev.display_name,
                &ev.is_default,
                &ev.state,
            ],
            "",
        ),
        history,
    ]
    .into_iter()
    .map(Query::new)
    .collect()
}

/// The query for history records newer than a cursor: `(id, object_type, object_dbid,
/// operation, change_time)` ordered by id. Its one parameter is the cursor.
pub fn history_since_query(m: &SchemaMap, d: Dialect, cursor: i64) -> Query {
    let h = &m.history;
    let s = Sql { d, m };
    Query {
        sql: s.select(
            &h.table,
            &[
                &h.id,
                &h.object_type,
                &h.object_dbid,
                &h.operation,
                &h.change_time,
            ],
            &format!(
                "WHERE {} > {} ORDER BY {}",
                s.q(&h.id),
                d.placeholder(1),
                s.q(&h.id)
            ),
        ),
        params: vec![cursor],
    }
}

/// Reads the whole snapshot in one read-only transaction.
pub async fn read_snapshot(db: &dyn ConfigDb, map: &SchemaMap) -> Result<Snapshot, Error> {
    map.validate()?;
    let rows = db.read(&snapshot_queries(map, db.dialect())).await?;
    decode_snapshot(rows)
}

fn flag(v: Option<i64>) -> bool {
    v == Some(2)
}

/// Builds annexes from `cfg_flex_prop` rows `(dbid, object_dbid, object_type, parent_dbid,
/// prop_name, prop_value)`: section rows have no parent (NULL or 0); key rows point at their
/// section (or, nested deeper, at another key: the key name becomes `outer/inner`).
fn decode_annexes(rows: &[Row]) -> Result<BTreeMap<ObjectKey, Annex>, Error> {
    struct Prop {
        owner: ObjectKey,
        parent: Option<i64>,
        name: String,
        value: Option<String>,
    }
    let mut props: BTreeMap<i64, Prop> = BTreeMap::new();
    for r in rows {
        let c = Cols {
            row: r,
            what: "annex (flex_prop)",
        };
        let dbid = c.int_req(0)?;
        props.insert(
            dbid,
            Prop {
                owner: ObjectKey {
                    object_type: c.int_req(2)?,
                    dbid: c.int_req(1)?,
                },
                parent: c.int(3)?.filter(|p| *p != 0),
                name: c.text(4).unwrap_or_default(),
                value: c.text(5),
            },
        );
    }
    let mut out: BTreeMap<ObjectKey, Annex> = BTreeMap::new();
    for p in props.values() {
        if p.parent.is_none() {
            out.entry(p.owner).or_default().add_section(&p.name);
        }
    }
    for p in props.values() {
        let Some(mut parent) = p.parent else { continue };
        // Walk up to the section row, collecting the key path (bounded against cycles).
        let mut path = vec![p.name.clone()];
        let mut section = None;
        for _ in 0..16 {
            match props.get(&parent) {
                Some(pp) if pp.owner != p.owner => break,
                Some(pp) => match pp.parent {
                    None => {
                        section = Some(pp.name.clone());
                        break;
                    }
                    Some(up) => {
                        path.push(pp.name.clone());
                        parent = up;
                    }
                },
                None => break,
            }
        }
        if let Some(section) = section {
            path.reverse();
            out.entry(p.owner).or_default().push(
                &section,
                path.join("/"),
                p.value.clone().unwrap_or_default(),
            );
        }
    }
    Ok(out)
}

/// Decodes the rows of [`snapshot_queries`] (pure).
pub fn decode_snapshot(rows: Vec<Vec<Row>>) -> Result<Snapshot, Error> {
    if rows.len() != 17 {
        return Err(Error::Decode {
            what: "snapshot".into(),
            message: format!("expected 17 result sets, got {}", rows.len()),
        });
    }
    let mut annexes = decode_annexes(&rows[10])?;
    let mut history: BTreeMap<ObjectKey, i64> = BTreeMap::new();
    let mut cursor: Option<i64> = None;
    for r in &rows[16] {
        let c = Cols {
            row: r,
            what: "history",
        };
        let key = ObjectKey {
            object_type: c.int_req(0)?,
            dbid: c.int_req(1)?,
        };
        if let Some(t) = c.int(2)? {
            history.insert(key, t);
        }
        if let Some(id) = c.int(3)? {
            cursor = Some(cursor.map_or(id, |m: i64| m.max(id)));
        }
    }
    let mut annex = |t: i64, d: Dbid| {
        annexes
            .remove(&ObjectKey {
                object_type: t,
                dbid: d,
            })
            .unwrap_or_default()
    };
    let modified = |t: i64, d: Dbid| {
        history
            .get(&ObjectKey {
                object_type: t,
                dbid: d,
            })
            .copied()
    };
    let mut s = Snapshot {
        history_cursor: cursor,
        ..Snapshot::default()
    };
    use object_type as ot;

    for r in &rows[0] {
        let c = Cols {
            row: r,
            what: "tenant",
        };
        let dbid = c.int_req(0)?;
        s.tenants.insert(
            dbid,
            Tenant {
                dbid,
                name: c.opt_text(1).unwrap_or_default(),
                annex: annex(ot::TENANT, dbid),
                last_modified: modified(ot::TENANT, dbid),
            },
        );
    }
    for r in &rows[1] {
        let c = Cols {
            row: r,
            what: "switch",
        };
        let dbid = c.int_req(0)?;
        s.switches.insert(
            dbid,
            Switch {
                dbid,
                tenant_dbid: c.int(1)?.unwrap_or(0),
                name: c.opt_text(2).unwrap_or_default(),
                state: ObjectState::from_code(c.int(3)?),
                annex: annex(ot::SWITCH, dbid),
                last_modified: modified(ot::SWITCH, dbid),
            },
        );
    }
    for r in &rows[2] {
        let c = Cols {
            row: r,
            what: "person",
        };
        let dbid = c.int_req(0)?;
        s.persons.insert(
            dbid,
            Person {
                dbid,
                tenant_dbid: c.int(1)?.unwrap_or(0),
                first_name: c.opt_text(2),
                last_name: c.opt_text(3),
                user_name: c.opt_text(4),
                employee_id: c.opt_text(5),
                email: c.opt_text(6),
                is_agent: flag(c.int(7)?),
                state: ObjectState::from_code(c.int(8)?),
                skills: Vec::new(),
                agent_logins: Vec::new(),
                annex: annex(ot::PERSON, dbid),
                last_modified: modified(ot::PERSON, dbid),
            },
        );
    }
    for r in &rows[3] {
        let c = Cols {
            row: r,
            what: "skill",
        };
        let dbid = c.int_req(0)?;
        s.skills.insert(
            dbid,
            Skill {
                dbid,
                tenant_dbid: c.int(1)?.unwrap_or(0),
                name: c.opt_text(2).unwrap_or_default(),
                state: ObjectState::from_code(c.int(3)?),
                annex: annex(ot::SKILL, dbid),
                last_modified: modified(ot::SKILL, dbid),
            },
        );
    }
    for r in &rows[4] {
        let c = Cols {
            row: r,
            what: "skill level",
        };
        let person = c.int_req(0)?;
        let skill = c.int_req(1)?;
        let level = c.int(2)?.unwrap_or(0);
        if let Some(p) = s.persons.get_mut(&person) {
            p.skills.push(SkillLevel {
                skill_dbid: skill,
                level,
            });
        }
    }
    for r in &rows[5] {
        let c = Cols {
            row: r,
            what: "agent login",
        };
        let dbid = c.int_req(0)?;
        s.agent_logins.insert(
            dbid,
            AgentLogin {
                dbid,
                tenant_dbid: c.int(1)?.unwrap_or(0),
                switch_dbid: c.int(2)?.unwrap_or(0),
                login_code: c.opt_text(3).unwrap_or_default(),
                state: ObjectState::from_code(c.int(4)?),
                person_dbid: None,
                last_modified: modified(ot::AGENT_LOGIN, dbid),
            },
        );
    }
    for r in &rows[6] {
        let c = Cols {
            row: r,
            what: "login info",
        };
        let person = c.int_req(0)?;
        let login = c.int_req(1)?;
        if let Some(p) = s.persons.get_mut(&person) {
            p.agent_logins.push(login);
        }
        if let Some(l) = s.agent_logins.get_mut(&login) {
            l.person_dbid = Some(person);
        }
    }
    for r in &rows[7] {
        let c = Cols {
            row: r,
            what: "group",
        };
        let dbid = c.int_req(0)?;
        // Only agent groups (type 1; NULL read as agent group).
        if c.int(3)?.is_some_and(|t| t != 1) {
            continue;
        }
        s.agent_groups.insert(
            dbid,
            AgentGroup {
                dbid,
                tenant_dbid: c.int(1)?.unwrap_or(0),
                name: c.opt_text(2).unwrap_or_default(),
                state: ObjectState::from_code(c.int(4)?),
                members: Vec::new(),
                annex: annex(ot::AGENT_GROUP, dbid),
                last_modified: modified(ot::AGENT_GROUP, dbid),
            },
        );
    }
    for r in &rows[8] {
        let c = Cols {
            row: r,
            what: "agent group member",
        };
        let group = c.int_req(0)?;
        let agent = c.int_req(1)?;
        if let Some(g) = s.agent_groups.get_mut(&group) {
            g.members.push(agent);
        }
    }
    for r in &rows[9] {
        let c = Cols { row: r, what: "dn" };
        let dbid = c.int_req(0)?;
        let switch_dbid = c.int(1)?.unwrap_or(0);
        s.dns.insert(
            dbid,
            Dn {
                dbid,
                switch_dbid,
                tenant_dbid: s.switches.get(&switch_dbid).map(|sw| sw.tenant_dbid),
                dn_type: DnType::from_code(c.int(2)?.unwrap_or(0)),
                number: c.opt_text(3).unwrap_or_default(),
                state: ObjectState::from_code(c.int(4)?),
                annex: annex(ot::DN, dbid),
                last_modified: modified(ot::DN, dbid),
            },
        );
    }
    for r in &rows[11] {
        let c = Cols {
            row: r,
            what: "transaction",
        };
        let dbid = c.int_req(0)?;
        let tx = Transaction {
            dbid,
            tenant_dbid: c.int(1)?.unwrap_or(0),
            name: c.opt_text(2).unwrap_or_default(),
            state: ObjectState::from_code(c.int(3)?),
            annex: annex(ot::TRANSACTION, dbid),
            last_modified: modified(ot::TRANSACTION, dbid),
        };
        if tx.name == HYBRID_INTEGRATION && tx.state != ObjectState::Deleted {
            s.hybrid_integration
                .insert(tx.tenant_dbid, HybridIntegration::from_transaction(&tx));
        }
        s.transactions.insert(dbid, tx);
    }
    for r in &rows[12] {
        let c = Cols {
            row: r,
            what: "folder",
        };
        let dbid = c.int_req(0)?;
        let parent = match (c.int(4)?, c.int(5)?) {
            (Some(t), Some(d)) if d != 0 => Some(ObjectKey {
                object_type: t,
                dbid: d,
            }),
            _ => None,
        };
        s.folders.insert(
            dbid,
            Folder {
                dbid,
                tenant_dbid: c.int(1)?,
                name: c.opt_text(2).unwrap_or_default(),
                folder_type: c.int(3)?.unwrap_or(0),
                parent,
                state: ObjectState::from_code(c.int(6)?),
                objects: Vec::new(),
            },
        );
    }
    for r in &rows[13] {
        let c = Cols {
            row: r,
            what: "folder object",
        };
        let folder = c.int_req(0)?;
        let key = ObjectKey {
            object_type: c.int_req(1)?,
            dbid: c.int_req(2)?,
        };
        if let Some(f) = s.folders.get_mut(&folder) {
            f.objects.push(key);
        }
    }
    for f in s.folders.values_mut() {
        f.objects.sort();
    }
    for r in &rows[14] {
        let c = Cols {
            row: r,
            what: "business attribute",
        };
        let dbid = c.int_req(0)?;
        s.business_attributes.insert(
            dbid,
            BusinessAttribute {
                dbid,
                tenant_dbid: c.int(1)?.unwrap_or(0),
                name: c.opt_text(2).unwrap_or_default(),
                display_name: c.opt_text(3),
                attr_type: BusinessAttributeType::from_code(c.int(4)?.unwrap_or(0)),
                state: ObjectState::from_code(c.int(5)?),
                values: Vec::new(),
                annex: annex(ot::ENUMERATOR, dbid),
                last_modified: modified(ot::ENUMERATOR, dbid),
            },
        );
    }
    for r in &rows[15] {
        let c = Cols {
            row: r,
            what: "business attribute value",
        };
        let dbid = c.int_req(0)?;
        let owner = c.int(2)?.unwrap_or(0);
        let v = BusinessAttributeValue {
            dbid,
            name: c.opt_text(3).unwrap_or_default(),
            display_name: c.opt_text(4),
            is_default: flag(c.int(5)?),
            state: ObjectState::from_code(c.int(6)?),
            annex: annex(ot::ENUMERATOR_VALUE, dbid),
            last_modified: modified(ot::ENUMERATOR_VALUE, dbid),
        };
        if let Some(b) = s.business_attributes.get_mut(&owner) {
            b.values.push(v);
        }
    }
    // Stable order for lists (they come from unordered SELECTs).
    for p in s.persons.values_mut() {
        p.skills.sort_by_key(|l| (l.skill_dbid, l.level));
        p.agent_logins.sort();
    }
    for g in s.agent_groups.values_mut() {
        g.members.sort();
        g.members.dedup();
    }
    for b in s.business_attributes.values_mut() {
        b.values.sort_by_key(|v| v.dbid);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_queries_in_every_dialect() {
        let m = SchemaMap::default();
        let pg = snapshot_queries(&m, Dialect::Postgres);
        let ms = snapshot_queries(&m, Dialect::Mssql);
        let ora = snapshot_queries(&m, Dialect::Oracle);
        let lite = snapshot_queries(&m, Dialect::Sqlite);
        assert_eq!(pg.len(), 17);
        assert_eq!(
            pg[9].sql,
            r#"SELECT "dbid", "switch_dbid", "type", "number_", "state" FROM "cfg_dn""#
        );
        assert_eq!(
            ms[9].sql,
            "SELECT [dbid], [switch_dbid], [type], [number_], [state] FROM [dbo].[cfg_dn]"
        );
        assert_eq!(
            ora[9].sql,
            r#"SELECT "DBID", "SWITCH_DBID", "TYPE", "NUMBER_", "STATE" FROM "CFG_DN""#
        );
        assert_eq!(lite[9].sql, pg[9].sql);
        // Same shape everywhere: only quoting and prefixes differ.
        let strip = |s: &str| {
            s.replace(['"', '[', ']'], "")
                .replace("dbo.", "")
                .to_ascii_lowercase()
        };
        for i in 0..17 {
            assert_eq!(strip(&pg[i].sql), strip(&ms[i].sql), "query {i}");
            assert_eq!(strip(&pg[i].sql), strip(&ora[i].sql), "query {i}");
        }
        assert!(pg[10].sql.contains(
            "WHERE \"object_type\" IN (1, 2, 3, 5, 7, 13, 16, 35, 36) ORDER BY \"dbid\""
        ));
        assert_eq!(
            pg[16].sql,
            r#"SELECT "object_type", "object_dbid", MAX("change_time"), MAX("id") FROM "cfg_hist_log" GROUP BY "object_type", "object_dbid""#
        );
    }

    #[test]
    fn history_query_placeholders() {
        let m = SchemaMap::default();
        let q = history_since_query(&m, Dialect::Postgres, 42);
        assert!(
            q.sql.ends_with(r#"WHERE "id" > $1 ORDER BY "id""#),
            "{}",
            q.sql
        );
        assert_eq!(q.params, vec![42]);
        assert!(
            history_since_query(&m, Dialect::Mssql, 1)
                .sql
                .contains("[id] > @P1")
        );
        assert!(
            history_since_query(&m, Dialect::Oracle, 1)
                .sql
                .contains("\"ID\" > :1")
        );
        assert!(
            history_since_query(&m, Dialect::Sqlite, 1)
                .sql
                .contains("\"id\" > ?1")
        );
    }

    #[test]
    fn mapping_overrides_reach_the_sql() {
        let m =
            SchemaMap::from_json(r#"{"schema":"cfg","person":{"table":"persons","email":"mail"}}"#)
                .unwrap();
        let q = snapshot_queries(&m, Dialect::Postgres);
        assert!(
            q[2].sql.contains(r#""mail""#) && q[2].sql.ends_with(r#"FROM "cfg"."persons""#),
            "{}",
            q[2].sql
        );
    }

    proptest::proptest! {
        #[test]
        fn annex_decoding_never_panics(rows in proptest::collection::vec(
            (0i64..12, 0i64..3, 0i64..4, proptest::option::of(0i64..12), "[a-z]{0,3}"), 0..40)
        ) {
            use crate::db::Value;
            let rows: Vec<Row> = rows
                .into_iter()
                .map(|(d, o, t, p, n)| vec![
                    Value::Int(d), Value::Int(o), Value::Int(t),
                    p.map_or(Value::Null, Value::Int), Value::Text(n.clone()), Value::Text(n),
                ])
                .collect();
            // Parent cycles and dangling parents included.
            let _ = decode_annexes(&rows);
        }
    }

    #[test]
    fn annex_tree_decodes_sections_keys_and_nesting() {
        use crate::db::Value::*;
        let rows = vec![
            vec![Int(1), Int(7), Int(3), Null, Text("htcc".into()), Null],
            vec![
                Int(2),
                Int(7),
                Int(3),
                Int(1),
                Text("roles".into()),
                Text("Supervisor".into()),
            ],
            vec![Int(3), Int(7), Int(2), Int(0), Text("htcc".into()), Null],
            vec![
                Int(4),
                Int(7),
                Int(2),
                Int(3),
                Text("k".into()),
                Text("dn".into()),
            ],
            vec![
                Int(5),
                Int(7),
                Int(3),
                Int(2),
                Text("deep".into()),
                Text("x".into()),
            ],
            // Orphan key (parent missing) is ignored.
            vec![
                Int(6),
                Int(7),
                Int(3),
                Int(99),
                Text("lost".into()),
                Text("y".into()),
            ],
        ];
        let a = decode_annexes(&rows).unwrap();
        let person = &a[&ObjectKey {
            object_type: 3,
            dbid: 7,
        }];
        assert_eq!(person.get("htcc", "roles"), Some("Supervisor"));
        assert_eq!(person.get("htcc", "roles/deep"), Some("x"));
        assert_eq!(person.get("htcc", "lost"), None);
        // Same DBID, other type: separate annex.
        assert_eq!(
            a[&ObjectKey {
                object_type: 2,
                dbid: 7
            }]
                .get("htcc", "k"),
            Some("dn")
        );
        assert_eq!(person.get("htcc", "k"), None);
    }
}
