//! The fixture generator: a realistic, deterministic contact center for tests, benches and the
//! demo (`engage-sim seed-db`).
//!
//! This is the ONLY code in the crate that writes, and it never goes through the reader's
//! [`crate::ConfigDb`] (whose sessions are read-only): the caller hands it a writable
//! `tokio_postgres::Client` or `rusqlite::Connection` of a database it owns. Never point it at
//! a production Config DB.
//!
//! [`generate`] is pure (rows from a [`SeedSpec`]); [`insert_statements`] renders them as SQL
//! for a dialect; `seed_postgres` / `seed_sqlite` run them in one transaction.
//!
//! What it writes, for `agents = N`:
//! - tenant `tenant001`; `switches` SIP switches (`SIP_Switch_1`..);
//! - folders: `Persons` > `Sales`, `Support` > `Tier2`; `Skills` > `Sales`, `Support`;
//!   `Agent Groups` > `Sales`, `Support`; `Business Attributes`; `Transactions`; `Switches`;
//!   per switch `DNs` > `Sales`, `Support` and `Agent Logins`;
//! - N agents (alternating Sales / Support line of business; every third Support agent in
//!   `Tier2`) with an agent login and an Extension DN on switch `i % switches`, 1-3 skills
//!   with levels 1-10; every `supervisor_every`-th agent a supervisor (`htcc/roles`);
//!   every 50th agent without any e-mail-like field; `max(1, N/50)` non-agent persons;
//! - per switch and line of business `vqs_per_lob` Virtual Queues (`VQ_Sales_1`, ...), a routing
//!   point and an ACD queue;
//! - one VAG per VQ name (`VAG_VQ_Sales_1`, annex `virtual/script` on skill levels and
//!   `hybrid/WFM_queue_number`), members stored as evaluated; plain groups `AG_Sales`,
//!   `AG_Support`; a VAG with a `LoggedIn` term; a place group (not an agent group);
//! - business attributes: `DispositionCode`, two with `htcc/contains=dispositions` sharing
//!   the value `Resolved`, one with `htcc/contains=Dispositions` (wrong case), a non-disposition
//!   operational attribute and a Custom one;
//! - the `hybrid_integration` transaction with `general`, `config_sync`, `agent_state_sync`,
//!   `conversation_provider`, `recording-uploader.exec.transientStorage` and
//!   `recording-uploader.exec.genesysCloud`;
//! - history: a create record per object, some later changes; the second VQ of each line of
//!   business has no history (as if purged).

use std::collections::BTreeMap;

use crate::dialect::Dialect;
use crate::mapping::SchemaMap;
use crate::model::object_type as ot;
use crate::vag::{Expr, Truth};

/// The PostgreSQL DDL of the default schema.
pub const POSTGRES_DDL: &str = include_str!("../sql/postgres.sql");
/// The SQLite DDL of the default schema.
pub const SQLITE_DDL: &str = include_str!("../sql/sqlite.sql");

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SeedSpec {
    /// Number of agents.
    pub agents: usize,
    /// RNG seed (same seed, same data).
    pub seed: u64,
    /// Number of switches (at least 1).
    pub switches: usize,
    /// Number of skills (1-10).
    pub skills: usize,
    /// Virtual Queues per line of business per switch (at least 1).
    pub vqs_per_lob: usize,
    /// Every n-th agent is a supervisor (0: none).
    pub supervisor_every: usize,
    /// Tenant name.
    pub tenant_name: String,
    /// Time of the first history record (Unix seconds, UTC).
    pub base_time: i64,
    /// `(section, key, value)` overrides of the `hybrid_integration` annex.
    pub hybrid: Vec<(String, String, String)>,
}

impl Default for SeedSpec {
    fn default() -> Self {
        SeedSpec {
            agents: 20,
            seed: 1,
            switches: 3,
            skills: 8,
            vqs_per_lob: 2,
            supervisor_every: 10,
            tenant_name: "tenant001".into(),
            base_time: 1_681_909_525, // 2023-04-19 13:05:25 UTC
            hybrid: Vec::new(),
        }
    }
}

impl SeedSpec {
    /// A spec with `agents` agents and defaults for the rest.
    pub fn agents(agents: usize) -> SeedSpec {
        SeedSpec {
            agents,
            ..SeedSpec::default()
        }
    }
}

/// A value to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedValue {
    /// NULL.
    Null,
    /// Integer.
    Int(i64),
    /// Text.
    Text(String),
}

impl From<i64> for SeedValue {
    fn from(v: i64) -> Self {
        SeedValue::Int(v)
    }
}
impl From<&str> for SeedValue {
    fn from(v: &str) -> Self {
        SeedValue::Text(v.to_string())
    }
}
impl From<String> for SeedValue {
    fn from(v: String) -> Self {
        SeedValue::Text(v)
    }
}
impl From<Option<String>> for SeedValue {
    fn from(v: Option<String>) -> Self {
        v.map_or(SeedValue::Null, SeedValue::Text)
    }
}

/// Rows for one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedTable {
    /// Table name (from the mapping).
    pub table: String,
    /// Column names (from the mapping).
    pub columns: Vec<String>,
    /// Rows, values in column order.
    pub rows: Vec<Vec<SeedValue>>,
}

/// Everything [`generate`] produced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SeedData {
    /// Tables in insertion order.
    pub tables: Vec<SeedTable>,
}

impl SeedData {
    /// Rows generated for a table name.
    pub fn count(&self, table: &str) -> usize {
        self.tables
            .iter()
            .find(|t| t.table == table)
            .map_or(0, |t| t.rows.len())
    }
}

/// SplitMix64: small, deterministic, good enough for fixtures.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum T {
    Tenant,
    Switch,
    Folder,
    FolderObject,
    Skill,
    Person,
    SkillLevel,
    AgentLogin,
    LoginInfo,
    Dn,
    Group,
    AgentGroup,
    Enumerator,
    EnumValue,
    Transaction,
    FlexProp,
    History,
}

struct Gen<'a> {
    map: &'a SchemaMap,
    rows: BTreeMap<T, Vec<Vec<SeedValue>>>,
    flex_dbid: i64,
    hist_id: i64,
    time: i64,
}

impl Gen<'_> {
    fn row(&mut self, t: T, v: Vec<SeedValue>) {
        self.rows.entry(t).or_default().push(v);
    }
    fn annex(&mut self, otype: i64, obj: i64, section: &str, kvs: &[(&str, String)]) {
        self.flex_dbid += 1;
        let sec = self.flex_dbid;
        self.row(
            T::FlexProp,
            vec![
                sec.into(),
                obj.into(),
                otype.into(),
                0.into(),
                0.into(),
                section.into(),
                SeedValue::Null,
            ],
        );
        for (k, v) in kvs {
            self.flex_dbid += 1;
            let d = self.flex_dbid;
            self.row(
                T::FlexProp,
                vec![
                    d.into(),
                    obj.into(),
                    otype.into(),
                    sec.into(),
                    1.into(),
                    (*k).into(),
                    v.clone().into(),
                ],
            );
        }
    }
    fn folder(&mut self, dbid: i64, name: &str, ftype: i64, parent: (i64, i64)) -> i64 {
        self.row(
            T::Folder,
            vec![
                dbid.into(),
                1.into(),
                name.into(),
                ftype.into(),
                parent.0.into(),
                parent.1.into(),
                1.into(),
            ],
        );
        dbid
    }
    fn put(&mut self, folder: i64, otype: i64, obj: i64) {
        self.row(
            T::FolderObject,
            vec![folder.into(), otype.into(), obj.into()],
        );
    }
    fn hist(&mut self, otype: i64, obj: i64, op: i64, at: Option<i64>) {
        self.hist_id += 1;
        self.time += 7;
        let t = at.unwrap_or(self.time);
        self.row(
            T::History,
            vec![
                self.hist_id.into(),
                otype.into(),
                obj.into(),
                op.into(),
                t.into(),
            ],
        );
    }
    fn table(&self, t: T) -> (String, Vec<String>) {
        let m = self.map;
        let (name, cols): (&str, Vec<&str>) = match t {
            T::Tenant => (&m.tenant.table, m.tenant.columns()),
            T::Switch => (&m.switch.table, m.switch.columns()),
            T::Folder => (&m.folder.table, m.folder.columns()),
            T::FolderObject => (&m.folder_object.table, m.folder_object.columns()),
            T::Skill => (&m.skill.table, m.skill.columns()),
            T::Person => (&m.person.table, m.person.columns()),
            T::SkillLevel => (&m.skill_level.table, m.skill_level.columns()),
            T::AgentLogin => (&m.agent_login.table, m.agent_login.columns()),
            T::LoginInfo => (&m.login_info.table, m.login_info.columns()),
            T::Dn => (&m.dn.table, m.dn.columns()),
            T::Group => (&m.group.table, m.group.columns()),
            T::AgentGroup => (&m.agent_group.table, m.agent_group.columns()),
            T::Enumerator => (&m.enumerator.table, m.enumerator.columns()),
            T::EnumValue => (&m.enum_value.table, m.enum_value.columns()),
            T::Transaction => (&m.transaction.table, m.transaction.columns()),
            T::FlexProp => (&m.flex_prop.table, m.flex_prop.columns()),
            T::History => (&m.history.table, m.history.columns()),
        };
        (
            name.to_string(),
            cols.into_iter().map(str::to_string).collect(),
        )
    }
}

/// (person DBID, skill names with levels, line of business).
type AgentSkills = (i64, Vec<(String, i64)>, usize);

const SKILLS: [&str; 10] = [
    "Sales",
    "Billing",
    "TechSupport",
    "Retention",
    "Claims",
    "English",
    "Spanish",
    "French",
    "German",
    "Escalations",
];
const FIRST: [&str; 16] = [
    "Alice", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jamal",
    "Kofi", "Lena", "Mateo", "Nadia", "Oscar", "Priya",
];
const LAST: [&str; 16] = [
    "Adams", "Bauer", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jensen",
    "Kowalski", "Lopez", "Murphy", "Nakamura", "Okafor", "Petrov",
];

/// Generates the rows for `spec` with the names in `map` (pure, deterministic).
pub fn generate(map: &SchemaMap, spec: &SeedSpec) -> SeedData {
    let mut g = Gen {
        map,
        rows: BTreeMap::new(),
        flex_dbid: 0,
        hist_id: 0,
        time: spec.base_time,
    };
    let mut rng = Rng(spec.seed ^ 0x00C0_FFEE);
    let nsw = spec.switches.max(1);
    let nskills = spec.skills.clamp(1, SKILLS.len());
    let nvq = spec.vqs_per_lob.max(1);
    let tenant = (ot::TENANT, 1);

    g.row(T::Tenant, vec![1.into(), spec.tenant_name.clone().into()]);
    g.hist(ot::TENANT, 1, 1, None);

    // Folders.
    let f_persons = g.folder(101, "Persons", ot::PERSON, tenant);
    let f_p_sales = g.folder(102, "Sales", ot::PERSON, (ot::FOLDER, f_persons));
    let f_p_support = g.folder(103, "Support", ot::PERSON, (ot::FOLDER, f_persons));
    let f_p_tier2 = g.folder(104, "Tier2", ot::PERSON, (ot::FOLDER, f_p_support));
    let f_skills = g.folder(105, "Skills", ot::SKILL, tenant);
    let f_s_sales = g.folder(106, "Sales", ot::SKILL, (ot::FOLDER, f_skills));
    let f_s_support = g.folder(107, "Support", ot::SKILL, (ot::FOLDER, f_skills));
    let f_groups = g.folder(108, "Agent Groups", ot::AGENT_GROUP, tenant);
    let f_g_sales = g.folder(109, "Sales", ot::AGENT_GROUP, (ot::FOLDER, f_groups));
    let f_g_support = g.folder(110, "Support", ot::AGENT_GROUP, (ot::FOLDER, f_groups));
    let f_ba = g.folder(111, "Business Attributes", ot::ENUMERATOR, tenant);
    let f_tx = g.folder(112, "Transactions", ot::TRANSACTION, tenant);
    let f_sw = g.folder(113, "Switches", ot::SWITCH, tenant);
    let mut next_folder = 200;

    // Switches with their DN and agent login folders: (dbid, name, dns, sales, support, logins).
    let mut switches = Vec::new();
    for s in 0..nsw {
        let dbid = 101 + s as i64;
        let name = format!("SIP_Switch_{}", s + 1);
        g.row(
            T::Switch,
            vec![dbid.into(), 1.into(), name.clone().into(), 1.into()],
        );
        g.put(f_sw, ot::SWITCH, dbid);
        g.hist(ot::SWITCH, dbid, 1, None);
        let sw = (ot::SWITCH, dbid);
        let dns = g.folder(next_folder, "DNs", ot::DN, sw);
        let sales = g.folder(next_folder + 1, "Sales", ot::DN, (ot::FOLDER, dns));
        let support = g.folder(next_folder + 2, "Support", ot::DN, (ot::FOLDER, dns));
        let logins = g.folder(next_folder + 3, "Agent Logins", ot::AGENT_LOGIN, sw);
        next_folder += 4;
        switches.push((dbid, name, dns, sales, support, logins));
    }

    // Skills.
    for (i, name) in SKILLS.iter().take(nskills).enumerate() {
        let dbid = 101 + i as i64;
        g.row(
            T::Skill,
            vec![dbid.into(), 1.into(), (*name).into(), 1.into()],
        );
        g.put(
            if i % 2 == 0 { f_s_sales } else { f_s_support },
            ot::SKILL,
            dbid,
        );
        g.hist(ot::SKILL, dbid, 1, None);
    }
    let skill_dbid = |name: &str| {
        SKILLS
            .iter()
            .take(nskills)
            .position(|s| *s == name)
            .map(|i| 101 + i as i64)
    };
    // The line-of-business skill: Sales for Sales, TechSupport (else the last skill) for Support.
    let lob_skill = |lob: usize| {
        if lob == 0 {
            SKILLS[0]
        } else if nskills > 2 {
            SKILLS[2]
        } else {
            SKILLS[nskills - 1]
        }
    };

    // Agents.
    let mut levels: Vec<AgentSkills> = Vec::new();
    for i in 0..spec.agents {
        let dbid = 101 + i as i64;
        let first = FIRST[rng.below(FIRST.len())];
        let last = LAST[rng.below(LAST.len())];
        let mail = format!(
            "{}.{}.{}@example.com",
            first.to_lowercase(),
            last.to_lowercase(),
            i + 1
        );
        let (user, emp, email) = if i % 50 == 49 {
            (format!("agent{}", i + 1), format!("E{:05}", i + 1), None)
        } else if i % 7 == 6 {
            (format!("agent{}", i + 1), mail.clone(), None)
        } else if i % 7 == 5 {
            (
                format!("agent{}", i + 1),
                format!("E{:05}", i + 1),
                Some(mail.clone()),
            )
        } else {
            (mail.clone(), format!("E{:05}", i + 1), Some(mail.clone()))
        };
        g.row(
            T::Person,
            vec![
                dbid.into(),
                1.into(),
                first.into(),
                last.into(),
                user.into(),
                emp.into(),
                email.into(),
                2.into(),
                1.into(),
            ],
        );
        let lob = i % 2;
        let folder = if lob == 0 {
            f_p_sales
        } else if (i / 2) % 3 == 2 {
            f_p_tier2
        } else {
            f_p_support
        };
        g.put(folder, ot::PERSON, dbid);
        g.hist(ot::PERSON, dbid, 1, None);
        if spec.supervisor_every > 0 && i % spec.supervisor_every == 0 {
            g.annex(
                ot::PERSON,
                dbid,
                "htcc",
                &[("roles", "Agent,Supervisor".into())],
            );
        }
        // Skills: the LOB skill first, then up to two more.
        let mut mine: Vec<(String, i64)> =
            vec![(lob_skill(lob).to_string(), 1 + rng.below(10) as i64)];
        for _ in 0..rng.below(3) {
            let s = SKILLS[rng.below(nskills)];
            if !mine.iter().any(|(n, _)| n == s) {
                mine.push((s.to_string(), 1 + rng.below(10) as i64));
            }
        }
        for (s, l) in &mine {
            if let Some(sd) = skill_dbid(s) {
                g.row(T::SkillLevel, vec![dbid.into(), sd.into(), (*l).into()]);
            }
        }
        levels.push((dbid, mine, lob));
        // Login and extension on switch i % nsw.
        let (sw, _, _, dn_sales, dn_support, f_logins) = switches[i % nsw].clone();
        g.row(
            T::AgentLogin,
            vec![
                dbid.into(),
                1.into(),
                sw.into(),
                format!("{}", 7000 + i).into(),
                1.into(),
            ],
        );
        g.put(f_logins, ot::AGENT_LOGIN, dbid);
        g.hist(ot::AGENT_LOGIN, dbid, 1, None);
        g.row(T::LoginInfo, vec![dbid.into(), dbid.into()]);
        g.row(
            T::Dn,
            vec![
                dbid.into(),
                sw.into(),
                1.into(),
                format!("{}", 1000 + i).into(),
                1.into(),
            ],
        );
        g.put(if lob == 0 { dn_sales } else { dn_support }, ot::DN, dbid);
        g.hist(ot::DN, dbid, 1, None);
        if i % 10 == 3 {
            g.hist(ot::PERSON, dbid, 2, None);
        }
    }
    // Non-agents.
    let nonagents = (spec.agents / 50).max(1);
    for k in 0..nonagents {
        let dbid = 101 + (spec.agents + k) as i64;
        let user = format!("admin{}@example.com", k + 1);
        g.row(
            T::Person,
            vec![
                dbid.into(),
                1.into(),
                "Admin".into(),
                format!("User{}", k + 1).into(),
                user.clone().into(),
                format!("A{:04}", k + 1).into(),
                user.into(),
                1.into(),
                1.into(),
            ],
        );
        g.put(f_persons, ot::PERSON, dbid);
        g.hist(ot::PERSON, dbid, 1, None);
    }

    // Queues: VQs, a routing point and an ACD queue per switch.
    let mut dn_dbid = 101 + spec.agents as i64 + 1000;
    let mut vq_names: Vec<(String, usize)> = Vec::new();
    for (sw, name, f_dns, dn_sales, dn_support, _) in &switches {
        for lob in 0..2 {
            for k in 0..nvq {
                let vq = format!(
                    "VQ_{}_{}",
                    if lob == 0 { "Sales" } else { "Support" },
                    k + 1
                );
                dn_dbid += 1;
                g.row(
                    T::Dn,
                    vec![
                        dn_dbid.into(),
                        (*sw).into(),
                        5.into(),
                        vq.clone().into(),
                        1.into(),
                    ],
                );
                g.put(
                    if lob == 0 { *dn_sales } else { *dn_support },
                    ot::DN,
                    dn_dbid,
                );
                if k != 1 {
                    g.hist(ot::DN, dn_dbid, 1, None);
                    g.hist(ot::DN, dn_dbid, 2, Some(spec.base_time + 86_400 + dn_dbid));
                }
                if !vq_names.iter().any(|(n, _)| *n == vq) {
                    vq_names.push((vq, lob));
                }
            }
        }
        dn_dbid += 1;
        g.row(
            T::Dn,
            vec![
                dn_dbid.into(),
                (*sw).into(),
                4.into(),
                format!("RP_Main_{name}").into(),
                1.into(),
            ],
        );
        g.put(*f_dns, ot::DN, dn_dbid);
        g.hist(ot::DN, dn_dbid, 1, None);
        dn_dbid += 1;
        g.row(
            T::Dn,
            vec![
                dn_dbid.into(),
                (*sw).into(),
                3.into(),
                format!("ACD_{name}").into(),
                1.into(),
            ],
        );
        g.put(*f_dns, ot::DN, dn_dbid);
        g.hist(ot::DN, dn_dbid, 1, None);
    }

    // Agent groups: one VAG per VQ name, plain per-LOB groups, a LoggedIn VAG, a place group.
    let mut group_dbid = 100;
    let lang = if nskills > 6 { Some(SKILLS[6]) } else { None };
    for (k, (vq, lob)) in vq_names.iter().enumerate() {
        group_dbid += 1;
        let skill = lob_skill(*lob);
        let mut script = format!("Skill(\"{skill}\") >= {}", 3 + (k % 4));
        if let (Some(lang), 1) = (lang, k % 2) {
            script = format!("({script}) | (SkillExists(\"{lang}\") & Skill(\"{skill}\") > 1)");
        }
        let name = format!("VAG_{vq}");
        g.row(
            T::Group,
            vec![group_dbid.into(), 1.into(), name.into(), 1.into(), 1.into()],
        );
        g.put(
            if *lob == 0 { f_g_sales } else { f_g_support },
            ot::AGENT_GROUP,
            group_dbid,
        );
        g.hist(ot::AGENT_GROUP, group_dbid, 1, None);
        g.annex(
            ot::AGENT_GROUP,
            group_dbid,
            "virtual",
            &[("script", script.clone())],
        );
        g.annex(
            ot::AGENT_GROUP,
            group_dbid,
            "hybrid",
            &[("WFM_queue_number", vq.clone())],
        );
        // Store the members Configuration Server would compute.
        if let Ok(expr) = Expr::parse(&script) {
            for (person, mine, _) in &levels {
                let lv = |n: &str| mine.iter().find(|(s, _)| s == n).map(|(_, l)| *l);
                if expr.evaluate(&lv) == Truth::True {
                    g.row(T::AgentGroup, vec![group_dbid.into(), (*person).into()]);
                }
            }
        }
    }
    for lob in 0..2 {
        group_dbid += 1;
        let lob_name = if lob == 0 { "Sales" } else { "Support" };
        g.row(
            T::Group,
            vec![
                group_dbid.into(),
                1.into(),
                format!("AG_{lob_name}").into(),
                1.into(),
                1.into(),
            ],
        );
        g.put(
            if lob == 0 { f_g_sales } else { f_g_support },
            ot::AGENT_GROUP,
            group_dbid,
        );
        g.hist(ot::AGENT_GROUP, group_dbid, 1, None);
        g.annex(
            ot::AGENT_GROUP,
            group_dbid,
            "hybrid",
            &[("WFM_queue_number", format!("VQ_{lob_name}_1"))],
        );
        for (person, _, l) in &levels {
            if *l == lob {
                g.row(T::AgentGroup, vec![group_dbid.into(), (*person).into()]);
            }
        }
    }
    group_dbid += 1;
    g.row(
        T::Group,
        vec![
            group_dbid.into(),
            1.into(),
            "VAG_LoggedIn_Sales".into(),
            1.into(),
            1.into(),
        ],
    );
    g.put(f_groups, ot::AGENT_GROUP, group_dbid);
    g.annex(
        ot::AGENT_GROUP,
        group_dbid,
        "virtual",
        &[(
            "script",
            format!(
                "Skill(\"{}\") > 0 & LoggedIn(\"VQ_Sales_1@SIP_Switch_1\")",
                lob_skill(0)
            ),
        )],
    );
    group_dbid += 1;
    g.row(
        T::Group,
        vec![
            group_dbid.into(),
            1.into(),
            "PG_Floor1".into(),
            2.into(),
            1.into(),
        ],
    );

    // Business attributes.
    let bas: [(&str, i64, Option<&str>, &[&str]); 6] = [
        (
            "DispositionCode",
            1,
            None,
            &["Resolved", "Escalated", "Callback", "NoAnswer"],
        ),
        (
            "Tech Support Disposition Codes",
            1,
            Some("dispositions"),
            &["Resolved", "Replaced", "RMA"],
        ),
        (
            "Billing Disputes Disposition Codes",
            1,
            Some("dispositions"),
            &["Resolved", "Refund", "Chargeback"],
        ),
        ("Legacy Codes", 1, Some("Dispositions"), &["Legacy1"]),
        ("Customer Segment", 1, None, &["Gold", "Silver", "Bronze"]),
        ("Languages", 4, None, &["English", "Spanish"]),
    ];
    let mut value_dbid = 100;
    for (i, (name, ty, contains, values)) in bas.iter().enumerate() {
        let dbid = 101 + i as i64;
        g.row(
            T::Enumerator,
            vec![
                dbid.into(),
                1.into(),
                (*name).into(),
                (*name).into(),
                (*ty).into(),
                1.into(),
            ],
        );
        g.put(f_ba, ot::ENUMERATOR, dbid);
        g.hist(ot::ENUMERATOR, dbid, 1, None);
        if let Some(c) = contains {
            g.annex(
                ot::ENUMERATOR,
                dbid,
                "htcc",
                &[("contains", (*c).to_string())],
            );
        }
        for (j, v) in values.iter().enumerate() {
            value_dbid += 1;
            g.row(
                T::EnumValue,
                vec![
                    value_dbid.into(),
                    1.into(),
                    dbid.into(),
                    (*v).into(),
                    (*v).into(),
                    SeedValue::Int(if j == 0 { 2 } else { 1 }),
                    1.into(),
                ],
            );
            g.hist(ot::ENUMERATOR_VALUE, value_dbid, 1, None);
        }
    }

    // The hybrid_integration transaction.
    g.row(
        T::Transaction,
        vec![101.into(), 1.into(), "hybrid_integration".into(), 1.into()],
    );
    g.put(f_tx, ot::TRANSACTION, 101);
    g.hist(ot::TRANSACTION, 101, 1, None);
    let mut sections: Vec<(String, Vec<(String, String)>)> = vec![
        (
            "general".into(),
            vec![
                ("organization_sname".into(), "engage-demo".into()),
                (
                    "organization_id".into(),
                    "00000000-0000-4000-8000-000000000001".into(),
                ),
                ("base_service_url".into(), "http://127.0.0.1:8089".into()),
                ("base_auth_url".into(), "http://127.0.0.1:8089".into()),
                ("region".into(), "mypurecloud.com".into()),
            ],
        ),
        (
            "config_sync".into(),
            vec![
                ("client_id".into(), "excs-client".into()),
                ("client_secret".into(), "excs-secret".into()),
                ("skill_level_max_value".into(), "10".into()),
                ("skill_level_min_value".into(), "1".into()),
            ],
        ),
        (
            "agent_state_sync".into(),
            vec![
                ("client_id".into(), "exas-client".into()),
                ("client_secret".into(), "exas-secret".into()),
            ],
        ),
        (
            "conversation_provider".into(),
            vec![
                ("client_id".into(), "excp-client".into()),
                ("client_secret".into(), "excp-secret".into()),
                (
                    "sta_default_programid".into(),
                    "00000000-0000-4000-8000-0000000000aa".into(),
                ),
                ("sta_default_language".into(), "en-US".into()),
                ("sta_userdata_language_key".into(), "language".into()),
                ("recording_enabled".into(), "True".into()),
            ],
        ),
        (
            "recording-uploader.exec.transientStorage".into(),
            vec![
                ("type".into(), "WebDAV".into()),
                ("username".into(), "webdav".into()),
                ("password".into(), "webdav-secret".into()),
                ("url".into(), "http://127.0.0.1:8090/recordings".into()),
            ],
        ),
        (
            "recording-uploader.exec.genesysCloud".into(),
            vec![
                ("client_id".into(), "exrp-client".into()),
                ("password".into(), "exrp-secret".into()),
            ],
        ),
    ];
    for (sec, key, value) in &spec.hybrid {
        match sections.iter_mut().find(|(s, _)| s == sec) {
            Some((_, kvs)) => match kvs.iter_mut().find(|(k, _)| k == key) {
                Some(kv) => kv.1 = value.clone(),
                None => kvs.push((key.clone(), value.clone())),
            },
            None => sections.push((sec.clone(), vec![(key.clone(), value.clone())])),
        }
    }
    for (sec, kvs) in &sections {
        let kvs: Vec<(&str, String)> = kvs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        g.annex(ot::TRANSACTION, 101, sec, &kvs);
    }

    let mut data = SeedData::default();
    let rows = std::mem::take(&mut g.rows);
    for (t, rows) in rows {
        let (table, columns) = g.table(t);
        data.tables.push(SeedTable {
            table,
            columns,
            rows,
        });
    }
    data
}

fn literal(v: &SeedValue) -> String {
    match v {
        SeedValue::Null => "NULL".into(),
        SeedValue::Int(i) => i.to_string(),
        SeedValue::Text(t) => format!("'{}'", t.replace('\'', "''")),
    }
}

/// Renders multi-row `INSERT` statements (up to 500 rows each) for PostgreSQL, SQLite or MS SQL
/// (Oracle has no multi-row `VALUES`; not supported).
pub fn insert_statements(data: &SeedData, map: &SchemaMap, dialect: Dialect) -> Vec<String> {
    let mut out = Vec::new();
    for t in &data.tables {
        let cols: Vec<String> = t.columns.iter().map(|c| dialect.quote(c)).collect();
        let head = format!(
            "INSERT INTO {} ({}) VALUES ",
            dialect.table(map.schema.as_deref(), &t.table),
            cols.join(", ")
        );
        for chunk in t.rows.chunks(500) {
            let values: Vec<String> = chunk
                .iter()
                .map(|r| format!("({})", r.iter().map(literal).collect::<Vec<_>>().join(", ")))
                .collect();
            out.push(format!("{head}{}", values.join(", ")));
        }
    }
    out
}

/// Creates the default schema (`sql/postgres.sql`) through a writable client.
#[cfg(feature = "postgres")]
pub async fn install_schema_postgres(client: &tokio_postgres::Client) -> Result<(), crate::Error> {
    client
        .batch_execute(POSTGRES_DDL)
        .await
        .map_err(|e| crate::Error::Seed(e.to_string()))
}

/// Writes the generated contact center through a writable client, in one transaction.
#[cfg(feature = "postgres")]
pub async fn seed_postgres(
    client: &tokio_postgres::Client,
    map: &SchemaMap,
    spec: &SeedSpec,
) -> Result<SeedData, crate::Error> {
    map.validate()?;
    let data = generate(map, spec);
    let mut sql = String::from("BEGIN;\n");
    for s in insert_statements(&data, map, Dialect::Postgres) {
        sql.push_str(&s);
        sql.push_str(";\n");
    }
    sql.push_str("COMMIT;");
    client
        .batch_execute(&sql)
        .await
        .map_err(|e| crate::Error::Seed(e.to_string()))?;
    Ok(data)
}

/// Creates the default schema (`sql/sqlite.sql`) through a writable connection.
#[cfg(feature = "sqlite")]
pub fn install_schema_sqlite(conn: &rusqlite::Connection) -> Result<(), crate::Error> {
    conn.execute_batch(SQLITE_DDL)
        .map_err(|e| crate::Error::Seed(e.to_string()))
}

/// Writes the generated contact center through a writable connection, in one transaction.
#[cfg(feature = "sqlite")]
pub fn seed_sqlite(
    conn: &rusqlite::Connection,
    map: &SchemaMap,
    spec: &SeedSpec,
) -> Result<SeedData, crate::Error> {
    map.validate()?;
    let data = generate(map, spec);
    let mut sql = String::from("BEGIN;\n");
    for s in insert_statements(&data, map, Dialect::Sqlite) {
        sql.push_str(&s);
        sql.push_str(";\n");
    }
    sql.push_str("COMMIT;");
    conn.execute_batch(&sql)
        .map_err(|e| crate::Error::Seed(e.to_string()))?;
    Ok(data)
}

/// Where [`seed_url`] writes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SeedTarget {
    /// A PostgreSQL URL or key=value connection string.
    Postgres(String),
    /// A SQLite file path.
    Sqlite(String),
}

impl SeedTarget {
    /// Parses `postgres://…`, `postgresql://…`, `host=… dbname=…` (PostgreSQL) or
    /// `sqlite:PATH`, `sqlite://PATH`, `*.db`, `*.sqlite`, `*.sqlite3` (SQLite).
    pub fn parse(url: &str) -> Result<SeedTarget, crate::Error> {
        let u = url.trim();
        if let Some(p) = u
            .strip_prefix("sqlite://")
            .or_else(|| u.strip_prefix("sqlite:"))
        {
            return Ok(SeedTarget::Sqlite(p.to_string()));
        }
        if u.starts_with("postgres://") || u.starts_with("postgresql://") || u.contains('=') {
            return Ok(SeedTarget::Postgres(u.to_string()));
        }
        if [".db", ".sqlite", ".sqlite3"]
            .iter()
            .any(|e| u.ends_with(e))
        {
            return Ok(SeedTarget::Sqlite(u.to_string()));
        }
        Err(crate::Error::Seed(format!(
            "cannot tell the database kind of `{u}`: use postgres://user@host:port/db or sqlite:PATH"
        )))
    }
}

/// Seeds the database `url` names (see [`SeedTarget::parse`]), creating the default schema
/// first when `install_schema` is set. What `engage-sim seed-db --url … --agents N` calls.
#[allow(unused_variables)]
pub async fn seed_url(
    url: &str,
    spec: &SeedSpec,
    install_schema: bool,
) -> Result<SeedData, crate::Error> {
    let map = SchemaMap::default();
    match SeedTarget::parse(url)? {
        #[cfg(feature = "postgres")]
        SeedTarget::Postgres(u) => {
            let (client, conn) = tokio_postgres::connect(&u, tokio_postgres::NoTls)
                .await
                .map_err(|e| {
                    crate::Error::Seed(format!("cannot connect to {}: {e}", redact_url(&u)))
                })?;
            let task = tokio::spawn(async move {
                let _ = conn.await;
            });
            if install_schema {
                install_schema_postgres(&client).await?;
            }
            let data = seed_postgres(&client, &map, spec).await;
            drop(client);
            let _ = task.await;
            data
        }
        #[cfg(feature = "sqlite")]
        SeedTarget::Sqlite(path) => {
            let spec = spec.clone();
            tokio::task::spawn_blocking(move || {
                let conn = rusqlite::Connection::open(&path)
                    .map_err(|e| crate::Error::Seed(format!("cannot open {path}: {e}")))?;
                if install_schema {
                    install_schema_sqlite(&conn)?;
                }
                seed_sqlite(&conn, &map, &spec)
            })
            .await
            .map_err(|e| crate::Error::Seed(e.to_string()))?
        }
        #[allow(unreachable_patterns)]
        other => Err(crate::Error::Seed(format!(
            "{other:?}: this build lacks the driver feature"
        ))),
    }
}

/// A URL with any password replaced, for messages.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
fn redact_url(u: &str) -> String {
    if let Some((scheme, rest)) = u.split_once("://") {
        if let Some((cred, host)) = rest.split_once('@') {
            let user = cred.split(':').next().unwrap_or("");
            return format!("{scheme}://{user}:***@{host}");
        }
        return u.to_string();
    }
    u.split_whitespace()
        .map(|kv| {
            if kv.starts_with("password=") {
                "password=***"
            } else {
                kv
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_targets() {
        assert_eq!(
            SeedTarget::parse("postgres://u@h/db").unwrap(),
            SeedTarget::Postgres("postgres://u@h/db".into())
        );
        assert_eq!(
            SeedTarget::parse("sqlite:/tmp/a").unwrap(),
            SeedTarget::Sqlite("/tmp/a".into())
        );
        assert_eq!(
            SeedTarget::parse("/tmp/x.db").unwrap(),
            SeedTarget::Sqlite("/tmp/x.db".into())
        );
        assert!(SeedTarget::parse("mysql:x").is_err());
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("host=h password=pw"), "host=h password=***");
    }

    #[test]
    fn deterministic_for_a_seed() {
        let m = SchemaMap::default();
        let a = generate(&m, &SeedSpec::agents(30));
        assert_eq!(a, generate(&m, &SeedSpec::agents(30)));
        let other = generate(
            &m,
            &SeedSpec {
                seed: 2,
                ..SeedSpec::agents(30)
            },
        );
        assert_ne!(a, other);
        assert_eq!(a.count("cfg_person"), 30 + 1);
        assert_eq!(a.count("cfg_agent_login"), 30);
        assert_eq!(a.count("cfg_login_info"), 30);
        // 30 extensions + per switch (2 LOB x 2 VQs + RP + ACD).
        assert_eq!(a.count("cfg_dn"), 30 + 3 * 6);
    }

    #[test]
    fn every_row_matches_its_columns_and_quotes_are_escaped() {
        let m = SchemaMap::default();
        let spec = SeedSpec {
            tenant_name: "O'Brien & Co".into(),
            ..SeedSpec::agents(5)
        };
        let d = generate(&m, &spec);
        for t in &d.tables {
            for r in &t.rows {
                assert_eq!(r.len(), t.columns.len(), "table {}", t.table);
            }
        }
        let sql = insert_statements(&d, &m, Dialect::Postgres);
        assert!(sql.iter().any(|s| s.contains("'O''Brien & Co'")));
        assert!(insert_statements(&d, &m, Dialect::Mssql)[0].starts_with("INSERT INTO [dbo]."));
    }
}
