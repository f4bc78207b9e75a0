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

/// One result set of the snapshot read: a named query paired with the decoder that reads its
/// rows. [`snapshot_queries`] runs them in [`ResultSet::ALL`] order and [`decode_snapshot`]
/// pairs each returned row set with its `ResultSet` by that same list, so neither side indexes
/// rows by position; both the SQL and the decoder are exhaustive `match`es, so a new variant
/// cannot be added without both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ResultSet {
    /// `cfg_tenant`: `(dbid, name)`.
    Tenants,
    /// `cfg_switch`: `(dbid, tenant_dbid, name, state)`.
    Switches,
    /// `cfg_person`: `(dbid, tenant_dbid, first_name, last_name, user_name, employee_id,
    /// email, is_agent, state)`.
    Persons,
    /// `cfg_skill`: `(dbid, tenant_dbid, name, state)`.
    Skills,
    /// `cfg_skill_level`: `(person_dbid, skill_dbid, level)`.
    SkillLevels,
    /// `cfg_agent_login`: `(dbid, tenant_dbid, switch_dbid, login_code, state)`.
    AgentLogins,
    /// `cfg_login_info`: `(person_dbid, agent_login_dbid)`.
    LoginInfo,
    /// `cfg_group`: `(dbid, tenant_dbid, name, group_type, state)`.
    Groups,
    /// `cfg_agent_group`: `(group_dbid, agent_dbid)`.
    GroupMembers,
    /// `cfg_dn`: `(dbid, switch_dbid, type, number, state)`.
    Dns,
    /// `cfg_flex_prop` (annexes of [`ANNEX_OBJECT_TYPES`]): `(dbid, object_dbid, object_type,
    /// parent_dbid, prop_name, prop_value)` ordered by dbid.
    Annexes,
    /// `cfg_tx`: `(dbid, tenant_dbid, name, state)`.
    Transactions,
    /// `cfg_folder`: `(dbid, tenant_dbid, name, type, parent_type, parent_dbid, state)`.
    Folders,
    /// `cfg_obj_folder`: `(folder_dbid, object_type, object_dbid)`.
    FolderObjects,
    /// `cfg_enumerator` (Business Attributes): `(dbid, tenant_dbid, name, display_name, type,
    /// state)`.
    BusinessAttributes,
    /// `cfg_enum_value`: `(dbid, tenant_dbid, enumerator_dbid, name, display_name, is_default,
    /// state)`.
    BusinessAttributeValues,
    /// `cfg_hist_log` per object: `(object_type, object_dbid, MAX(change_time), MAX(id))`.
    History,
}

impl ResultSet {
    /// Every result set, in the order [`snapshot_queries`] runs them (and the drivers return
    /// their rows).
    pub const ALL: [ResultSet; 17] = [
        ResultSet::Tenants,
        ResultSet::Switches,
        ResultSet::Persons,
        ResultSet::Skills,
        ResultSet::SkillLevels,
        ResultSet::AgentLogins,
        ResultSet::LoginInfo,
        ResultSet::Groups,
        ResultSet::GroupMembers,
        ResultSet::Dns,
        ResultSet::Annexes,
        ResultSet::Transactions,
        ResultSet::Folders,
        ResultSet::FolderObjects,
        ResultSet::BusinessAttributes,
        ResultSet::BusinessAttributeValues,
        ResultSet::History,
    ];

    /// The order [`decode_snapshot`] decodes in, independent of the query order: annexes and
    /// history first (every object takes its own), switches before DNs (a DN's tenant is its
    /// switch's), persons before skill levels and logins, logins before login info, groups
    /// before members, folders before their objects, attributes before their values.
    const DECODE_ORDER: [ResultSet; 17] = [
        ResultSet::Annexes,
        ResultSet::History,
        ResultSet::Tenants,
        ResultSet::Switches,
        ResultSet::Persons,
        ResultSet::Skills,
        ResultSet::SkillLevels,
        ResultSet::AgentLogins,
        ResultSet::LoginInfo,
        ResultSet::Groups,
        ResultSet::GroupMembers,
        ResultSet::Dns,
        ResultSet::Transactions,
        ResultSet::Folders,
        ResultSet::FolderObjects,
        ResultSet::BusinessAttributes,
        ResultSet::BusinessAttributeValues,
    ];

    /// What a row of this set is, as decode errors name it.
    pub fn what(self) -> &'static str {
        match self {
            ResultSet::Tenants => "tenant",
            ResultSet::Switches => "switch",
            ResultSet::Persons => "person",
            ResultSet::Skills => "skill",
            ResultSet::SkillLevels => "skill level",
            ResultSet::AgentLogins => "agent login",
            ResultSet::LoginInfo => "login info",
            ResultSet::Groups => "group",
            ResultSet::GroupMembers => "agent group member",
            ResultSet::Dns => "dn",
            ResultSet::Annexes => "annex (flex_prop)",
            ResultSet::Transactions => "transaction",
            ResultSet::Folders => "folder",
            ResultSet::FolderObjects => "folder object",
            ResultSet::BusinessAttributes => "business attribute",
            ResultSet::BusinessAttributeValues => "business attribute value",
            ResultSet::History => "history",
        }
    }

    /// This set's query for a mapping and dialect.
    pub fn query(self, m: &SchemaMap, d: Dialect) -> Query {
        Query::new(self.sql(&Sql { d, m }))
    }

    fn sql(self, s: &Sql<'_>) -> String {
        let m = s.m;
        match self {
            ResultSet::Tenants => {
                let t = &m.tenant;
                s.select(&t.table, &[&t.dbid, &t.name], "")
            }
            ResultSet::Switches => {
                let sw = &m.switch;
                s.select(
                    &sw.table,
                    &[&sw.dbid, &sw.tenant_dbid, &sw.name, &sw.state],
                    "",
                )
            }
            ResultSet::Persons => {
                let p = &m.person;
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
                )
            }
            ResultSet::Skills => {
                let sk = &m.skill;
                s.select(
                    &sk.table,
                    &[&sk.dbid, &sk.tenant_dbid, &sk.name, &sk.state],
                    "",
                )
            }
            ResultSet::SkillLevels => {
                let sl = &m.skill_level;
                s.select(&sl.table, &[&sl.person_dbid, &sl.skill_dbid, &sl.level], "")
            }
            ResultSet::AgentLogins => {
                let al = &m.agent_login;
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
                )
            }
            ResultSet::LoginInfo => {
                let li = &m.login_info;
                s.select(&li.table, &[&li.person_dbid, &li.agent_login_dbid], "")
            }
            ResultSet::Groups => {
                let g = &m.group;
                s.select(
                    &g.table,
                    &[&g.dbid, &g.tenant_dbid, &g.name, &g.group_type, &g.state],
                    "",
                )
            }
            ResultSet::GroupMembers => {
                let ag = &m.agent_group;
                s.select(&ag.table, &[&ag.group_dbid, &ag.agent_dbid], "")
            }
            ResultSet::Dns => {
                let dn = &m.dn;
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
                )
            }
            ResultSet::Annexes => {
                let fp = &m.flex_prop;
                let types: Vec<String> = ANNEX_OBJECT_TYPES.iter().map(i64::to_string).collect();
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
                )
            }
            ResultSet::Transactions => {
                let tx = &m.transaction;
                s.select(
                    &tx.table,
                    &[&tx.dbid, &tx.tenant_dbid, &tx.name, &tx.state],
                    "",
                )
            }
            ResultSet::Folders => {
                let f = &m.folder;
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
                )
            }
            ResultSet::FolderObjects => {
                let fo = &m.folder_object;
                s.select(
                    &fo.table,
                    &[&fo.folder_dbid, &fo.object_type, &fo.object_dbid],
                    "",
                )
            }
            ResultSet::BusinessAttributes => {
                let e = &m.enumerator;
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
                )
            }
            ResultSet::BusinessAttributeValues => {
                let ev = &m.enum_value;
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
                )
            }
            ResultSet::History => {
                let h = &m.history;
                format!(
                    "SELECT {ot}, {od}, MAX({ct}), MAX({id}) FROM {tbl} GROUP BY {ot}, {od}",
                    ot = s.q(&h.object_type),
                    od = s.q(&h.object_dbid),
                    ct = s.q(&h.change_time),
                    id = s.q(&h.id),
                    tbl = s.d.table(m.schema.as_deref(), &h.table),
                )
            }
        }
    }
}

/// The queries [`read_snapshot`] runs for a mapping and dialect: one per [`ResultSet::ALL`],
/// in that order.
pub fn snapshot_queries(m: &SchemaMap, d: Dialect) -> Vec<Query> {
    ResultSet::ALL.iter().map(|r| r.query(m, d)).collect()
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

/// Decodes the rows of [`snapshot_queries`] (pure): `rows[i]` holds the rows of
/// `ResultSet::ALL[i]`.
pub fn decode_snapshot(rows: Vec<Vec<Row>>) -> Result<Snapshot, Error> {
    if rows.len() != ResultSet::ALL.len() {
        return Err(Error::Decode {
            what: "snapshot".into(),
            message: format!(
                "expected {} result sets, got {}",
                ResultSet::ALL.len(),
                rows.len()
            ),
        });
    }
    let mut sets: BTreeMap<ResultSet, Vec<Row>> = ResultSet::ALL.into_iter().zip(rows).collect();
    let mut d = Decoder::default();
    for set in ResultSet::DECODE_ORDER {
        d.decode(set, &sets.remove(&set).unwrap_or_default())?;
    }
    Ok(d.finish())
}

/// The snapshot being decoded, with the annexes and last-modified times its objects take.
#[derive(Default)]
struct Decoder {
    s: Snapshot,
    annexes: BTreeMap<ObjectKey, Annex>,
    history: BTreeMap<ObjectKey, i64>,
}

/// Takes an object's annex out of the decoded annexes (empty when it has none).
fn take_annex(annexes: &mut BTreeMap<ObjectKey, Annex>, object_type: i64, dbid: Dbid) -> Annex {
    annexes
        .remove(&ObjectKey { object_type, dbid })
        .unwrap_or_default()
}

/// An object's last change time from the history, if any.
fn modified(history: &BTreeMap<ObjectKey, i64>, object_type: i64, dbid: Dbid) -> Option<i64> {
    history.get(&ObjectKey { object_type, dbid }).copied()
}

impl Decoder {
    /// Decodes one result set's rows into the snapshot.
    fn decode(&mut self, set: ResultSet, rows: &[Row]) -> Result<(), Error> {
        use object_type as ot;
        let Decoder {
            s,
            annexes,
            history,
        } = self;
        let what = set.what();
        let cols = |row| Cols { row, what };
        match set {
            ResultSet::Annexes => *annexes = decode_annexes(rows)?,
            ResultSet::History => {
                for r in rows {
                    let c = cols(r);
                    let key = ObjectKey {
                        object_type: c.int_req(0)?,
                        dbid: c.int_req(1)?,
                    };
                    if let Some(t) = c.int(2)? {
                        history.insert(key, t);
                    }
                    if let Some(id) = c.int(3)? {
                        s.history_cursor = Some(s.history_cursor.map_or(id, |m: i64| m.max(id)));
                    }
                }
            }
            ResultSet::Tenants => {
                for r in rows {
                    let c = cols(r);
                    let dbid = c.int_req(0)?;
                    s.tenants.insert(
                        dbid,
                        Tenant {
                            dbid,
                            name: c.opt_text(1).unwrap_or_default(),
                            annex: take_annex(annexes, ot::TENANT, dbid),
                            last_modified: modified(history, ot::TENANT, dbid),
                        },
                    );
                }
            }
            ResultSet::Switches => {
                for r in rows {
                    let c = cols(r);
                    let dbid = c.int_req(0)?;
                    s.switches.insert(
                        dbid,
                        Switch {
                            dbid,
                            tenant_dbid: c.int(1)?.unwrap_or(0),
                            name: c.opt_text(2).unwrap_or_default(),
                            state: ObjectState::from_code(c.int(3)?),
                            annex: take_annex(annexes, ot::SWITCH, dbid),
                            last_modified: modified(history, ot::SWITCH, dbid),
                        },
                    );
                }
            }
            ResultSet::Persons => {
                for r in rows {
                    let c = cols(r);
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
                            annex: take_annex(annexes, ot::PERSON, dbid),
                            last_modified: modified(history, ot::PERSON, dbid),
                        },
                    );
                }
            }
            ResultSet::Skills => {
                for r in rows {
                    let c = cols(r);
                    let dbid = c.int_req(0)?;
                    s.skills.insert(
                        dbid,
                        Skill {
                            dbid,
                            tenant_dbid: c.int(1)?.unwrap_or(0),
                            name: c.opt_text(2).unwrap_or_default(),
                            state: ObjectState::from_code(c.int(3)?),
                            annex: take_annex(annexes, ot::SKILL, dbid),
                            last_modified: modified(history, ot::SKILL, dbid),
                        },
                    );
                }
            }
            ResultSet::SkillLevels => {
                for r in rows {
                    let c = cols(r);
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
            }
            ResultSet::AgentLogins => {
                for r in rows {
                    let c = cols(r);
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
                            last_modified: modified(history, ot::AGENT_LOGIN, dbid),
                        },
                    );
                }
            }
            ResultSet::LoginInfo => {
                for r in rows {
                    let c = cols(r);
                    let person = c.int_req(0)?;
                    let login = c.int_req(1)?;
                    if let Some(p) = s.persons.get_mut(&person) {
                        p.agent_logins.push(login);
                    }
                    if let Some(l) = s.agent_logins.get_mut(&login) {
                        l.person_dbid = Some(person);
                    }
                }
            }
            ResultSet::Groups => {
                for r in rows {
                    let c = cols(r);
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
                            annex: take_annex(annexes, ot::AGENT_GROUP, dbid),
                            last_modified: modified(history, ot::AGENT_GROUP, dbid),
                        },
                    );
                }
            }
            ResultSet::GroupMembers => {
                for r in rows {
                    let c = cols(r);
                    let group = c.int_req(0)?;
                    let agent = c.int_req(1)?;
                    if let Some(g) = s.agent_groups.get_mut(&group) {
                        g.members.push(agent);
                    }
                }
            }
            ResultSet::Dns => {
                for r in rows {
                    let c = cols(r);
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
                            annex: take_annex(annexes, ot::DN, dbid),
                            last_modified: modified(history, ot::DN, dbid),
                        },
                    );
                }
            }
            ResultSet::Transactions => {
                for r in rows {
                    let c = cols(r);
                    let dbid = c.int_req(0)?;
                    let tx = Transaction {
                        dbid,
                        tenant_dbid: c.int(1)?.unwrap_or(0),
                        name: c.opt_text(2).unwrap_or_default(),
                        state: ObjectState::from_code(c.int(3)?),
                        annex: take_annex(annexes, ot::TRANSACTION, dbid),
                        last_modified: modified(history, ot::TRANSACTION, dbid),
                    };
                    if tx.name == HYBRID_INTEGRATION && tx.state != ObjectState::Deleted {
                        s.hybrid_integration
                            .insert(tx.tenant_dbid, HybridIntegration::from_transaction(&tx));
                    }
                    s.transactions.insert(dbid, tx);
                }
            }
            ResultSet::Folders => {
                for r in rows {
                    let c = cols(r);
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
            }
            ResultSet::FolderObjects => {
                for r in rows {
                    let c = cols(r);
                    let folder = c.int_req(0)?;
                    let key = ObjectKey {
                        object_type: c.int_req(1)?,
                        dbid: c.int_req(2)?,
                    };
                    if let Some(f) = s.folders.get_mut(&folder) {
                        f.objects.push(key);
                    }
                }
            }
            ResultSet::BusinessAttributes => {
                for r in rows {
                    let c = cols(r);
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
                            annex: take_annex(annexes, ot::ENUMERATOR, dbid),
                            last_modified: modified(history, ot::ENUMERATOR, dbid),
                        },
                    );
                }
            }
            ResultSet::BusinessAttributeValues => {
                for r in rows {
                    let c = cols(r);
                    let dbid = c.int_req(0)?;
                    let owner = c.int(2)?.unwrap_or(0);
                    let v = BusinessAttributeValue {
                        dbid,
                        name: c.opt_text(3).unwrap_or_default(),
                        display_name: c.opt_text(4),
                        is_default: flag(c.int(5)?),
                        state: ObjectState::from_code(c.int(6)?),
                        annex: take_annex(annexes, ot::ENUMERATOR_VALUE, dbid),
                        last_modified: modified(history, ot::ENUMERATOR_VALUE, dbid),
                    };
                    if let Some(b) = s.business_attributes.get_mut(&owner) {
                        b.values.push(v);
                    }
                }
            }
        }
        Ok(())
    }

    /// The decoded snapshot, with its lists in a stable order (they come from unordered
    /// SELECTs).
    fn finish(self) -> Snapshot {
        let mut s = self.s;
        for f in s.folders.values_mut() {
            f.objects.sort();
        }
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
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The query of one result set within a [`snapshot_queries`] list.
    fn of(queries: &[Query], set: ResultSet) -> &Query {
        let i = ResultSet::ALL.iter().position(|s| *s == set).unwrap();
        &queries[i]
    }

    #[test]
    fn same_queries_in_every_dialect() {
        let m = SchemaMap::default();
        let pg = snapshot_queries(&m, Dialect::Postgres);
        let ms = snapshot_queries(&m, Dialect::Mssql);
        let ora = snapshot_queries(&m, Dialect::Oracle);
        let lite = snapshot_queries(&m, Dialect::Sqlite);
        assert_eq!(pg.len(), 17);
        use ResultSet as R;
        assert_eq!(
            of(&pg, R::Dns).sql,
            r#"SELECT "dbid", "switch_dbid", "type", "number_", "state" FROM "cfg_dn""#
        );
        assert_eq!(
            of(&ms, R::Dns).sql,
            "SELECT [dbid], [switch_dbid], [type], [number_], [state] FROM [dbo].[cfg_dn]"
        );
        assert_eq!(
            of(&ora, R::Dns).sql,
            r#"SELECT "DBID", "SWITCH_DBID", "TYPE", "NUMBER_", "STATE" FROM "CFG_DN""#
        );
        assert_eq!(of(&lite, R::Dns).sql, of(&pg, R::Dns).sql);
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
        assert!(of(&pg, R::Annexes).sql.contains(
            "WHERE \"object_type\" IN (1, 2, 3, 5, 7, 13, 16, 35, 36) ORDER BY \"dbid\""
        ));
        assert_eq!(
            of(&pg, R::History).sql,
            r#"SELECT "object_type", "object_dbid", MAX("change_time"), MAX("id") FROM "cfg_hist_log" GROUP BY "object_type", "object_dbid""#
        );
    }

    #[test]
    fn every_result_set_is_queried_and_decoded_once() {
        let all: std::collections::BTreeSet<ResultSet> = ResultSet::ALL.into_iter().collect();
        assert_eq!(all.len(), ResultSet::ALL.len(), "ALL has no duplicates");
        let decoded: std::collections::BTreeSet<ResultSet> =
            ResultSet::DECODE_ORDER.into_iter().collect();
        assert_eq!(decoded, all, "DECODE_ORDER is a permutation of ALL");
        let whats: std::collections::BTreeSet<&str> =
            ResultSet::ALL.iter().map(|s| s.what()).collect();
        assert_eq!(whats.len(), ResultSet::ALL.len(), "names are distinct");
    }

    #[test]
    fn rows_are_paired_with_their_result_set_by_name() {
        use crate::db::Value::*;
        let mut rows: Vec<Vec<Row>> = vec![Vec::new(); ResultSet::ALL.len()];
        let mut put = |set: ResultSet, r: Vec<Row>| {
            let i = ResultSet::ALL.iter().position(|s| *s == set).unwrap();
            rows[i] = r;
        };
        put(ResultSet::Tenants, vec![vec![Int(1), Text("t1".into())]]);
        put(
            ResultSet::Switches,
            vec![vec![Int(5), Int(1), Text("SW".into()), Int(1)]],
        );
        put(
            ResultSet::Dns,
            vec![vec![Int(9), Int(5), Int(5), Text("VQ1 ".into()), Int(1)]],
        );
        put(
            ResultSet::History,
            vec![
                vec![Int(object_type::DN), Int(9), Int(1700), Int(40)],
                vec![Int(object_type::TENANT), Int(1), Null, Int(41)],
            ],
        );
        put(
            ResultSet::Annexes,
            vec![
                vec![
                    Int(1),
                    Int(9),
                    Int(object_type::DN),
                    Null,
                    Text("s".into()),
                    Null,
                ],
                vec![
                    Int(2),
                    Int(9),
                    Int(object_type::DN),
                    Int(1),
                    Text("k".into()),
                    Text("v".into()),
                ],
            ],
        );
        let s = decode_snapshot(rows).unwrap();
        assert_eq!(s.tenants[&1].name, "t1");
        assert_eq!(s.tenants[&1].last_modified, None);
        let dn = &s.dns[&9];
        assert_eq!(dn.number, "VQ1");
        assert_eq!(dn.tenant_dbid, Some(1), "switches decode before DNs");
        assert_eq!(dn.last_modified, Some(1700));
        assert_eq!(dn.annex.get("s", "k"), Some("v"));
        assert_eq!(s.history_cursor, Some(41));

        let err = decode_snapshot(vec![Vec::new(); 16]).unwrap_err();
        assert!(
            err.to_string().contains("expected 17 result sets, got 16"),
            "{err}"
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
            of(&q, ResultSet::Persons).sql.contains(r#""mail""#)
                && of(&q, ResultSet::Persons)
                    .sql
                    .ends_with(r#"FROM "cfg"."persons""#),
            "{}",
            of(&q, ResultSet::Persons).sql
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
