//! The typed Config DB snapshot: Persons, Skills, Agent Logins, DNs, Agent Groups, Business
//! Attributes, Folders, Switches, Tenants, Transactions, their Annex, and the
//! `hybrid_integration` transaction.
//!
//! A DBID is unique only within its object type, so objects are keyed per type (one map per
//! kind) and cross-type references are [`ObjectKey`]s.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// A Config DB object id (unique only within its object type).
pub type Dbid = i64;

/// Seconds since the Unix epoch, UTC (the Config DB stores no time zone).
pub type UnixTime = i64;

/// Config DB object type codes.
pub mod object_type {
    /// Switch.
    pub const SWITCH: i64 = 1;
    /// DN.
    pub const DN: i64 = 2;
    /// Person.
    pub const PERSON: i64 = 3;
    /// Place.
    pub const PLACE: i64 = 4;
    /// Agent group.
    pub const AGENT_GROUP: i64 = 5;
    /// Tenant.
    pub const TENANT: i64 = 7;
    /// Skill.
    pub const SKILL: i64 = 13;
    /// Agent login.
    pub const AGENT_LOGIN: i64 = 15;
    /// Transaction.
    pub const TRANSACTION: i64 = 16;
    /// Folder.
    pub const FOLDER: i64 = 22;
    /// Enumerator (business attribute).
    pub const ENUMERATOR: i64 = 35;
    /// Enumerator value (business attribute value).
    pub const ENUMERATOR_VALUE: i64 = 36;
}

/// The object kinds this crate reads, with their Config DB type codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[non_exhaustive]
pub enum ObjectKind {
    /// Switch (1).
    Switch,
    /// DN (2).
    Dn,
    /// Person (3).
    Person,
    /// Agent group (5).
    AgentGroup,
    /// Tenant (7).
    Tenant,
    /// Skill (13).
    Skill,
    /// Agent login (15).
    AgentLogin,
    /// Transaction (16).
    Transaction,
    /// Folder (22).
    Folder,
    /// Business attribute (35).
    BusinessAttribute,
    /// Business attribute value (36).
    BusinessAttributeValue,
}

impl ObjectKind {
    /// Every kind.
    pub const ALL: [ObjectKind; 11] = [
        ObjectKind::Switch,
        ObjectKind::Dn,
        ObjectKind::Person,
        ObjectKind::AgentGroup,
        ObjectKind::Tenant,
        ObjectKind::Skill,
        ObjectKind::AgentLogin,
        ObjectKind::Transaction,
        ObjectKind::Folder,
        ObjectKind::BusinessAttribute,
        ObjectKind::BusinessAttributeValue,
    ];

    /// The Config DB object type code.
    pub fn code(self) -> i64 {
        use object_type as t;
        match self {
            ObjectKind::Switch => t::SWITCH,
            ObjectKind::Dn => t::DN,
            ObjectKind::Person => t::PERSON,
            ObjectKind::AgentGroup => t::AGENT_GROUP,
            ObjectKind::Tenant => t::TENANT,
            ObjectKind::Skill => t::SKILL,
            ObjectKind::AgentLogin => t::AGENT_LOGIN,
            ObjectKind::Transaction => t::TRANSACTION,
            ObjectKind::Folder => t::FOLDER,
            ObjectKind::BusinessAttribute => t::ENUMERATOR,
            ObjectKind::BusinessAttributeValue => t::ENUMERATOR_VALUE,
        }
    }

    /// The kind for a type code, if this crate reads it.
    pub fn from_code(code: i64) -> Option<ObjectKind> {
        ObjectKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// A reference to any object: (type code, DBID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectKey {
    /// Object type code.
    pub object_type: i64,
    /// DBID.
    pub dbid: Dbid,
}

impl ObjectKey {
    /// A key of a known kind.
    pub fn new(kind: ObjectKind, dbid: Dbid) -> ObjectKey {
        ObjectKey {
            object_type: kind.code(),
            dbid,
        }
    }
}

/// Object state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum ObjectState {
    /// 1.
    Enabled,
    /// 2.
    Disabled,
    /// 3.
    Deleted,
    /// Any other code (kept, never guessed).
    Other(i64),
}

impl ObjectState {
    /// From the Config DB code; NULL reads as Enabled.
    pub fn from_code(code: Option<i64>) -> ObjectState {
        match code {
            None | Some(1) => ObjectState::Enabled,
            Some(2) => ObjectState::Disabled,
            Some(3) => ObjectState::Deleted,
            Some(c) => ObjectState::Other(c),
        }
    }

    /// The Config DB code.
    pub fn code(self) -> i64 {
        match self {
            ObjectState::Enabled => 1,
            ObjectState::Disabled => 2,
            ObjectState::Deleted => 3,
            ObjectState::Other(c) => c,
        }
    }
}

/// DN types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum DnType {
    /// 1.
    Extension,
    /// 2.
    AcdPosition,
    /// 3.
    AcdQueue,
    /// 4.
    RoutingPoint,
    /// 5: a Virtual Queue.
    VirtAcdQueue,
    /// 6.
    VirtRoutingPoint,
    /// 14.
    Trunk,
    /// 19.
    ExtRoutingPoint,
    /// 22.
    RoutingQueue,
    /// 25.
    Voip,
    /// Any other code.
    Other(i64),
}

impl DnType {
    /// From the Config DB code.
    pub fn from_code(code: i64) -> DnType {
        match code {
            1 => DnType::Extension,
            2 => DnType::AcdPosition,
            3 => DnType::AcdQueue,
            4 => DnType::RoutingPoint,
            5 => DnType::VirtAcdQueue,
            6 => DnType::VirtRoutingPoint,
            14 => DnType::Trunk,
            19 => DnType::ExtRoutingPoint,
            22 => DnType::RoutingQueue,
            25 => DnType::Voip,
            c => DnType::Other(c),
        }
    }

    /// The Config DB code.
    pub fn code(self) -> i64 {
        match self {
            DnType::Extension => 1,
            DnType::AcdPosition => 2,
            DnType::AcdQueue => 3,
            DnType::RoutingPoint => 4,
            DnType::VirtAcdQueue => 5,
            DnType::VirtRoutingPoint => 6,
            DnType::Trunk => 14,
            DnType::ExtRoutingPoint => 19,
            DnType::RoutingQueue => 22,
            DnType::Voip => 25,
            DnType::Other(c) => c,
        }
    }
}

/// Business attribute (enumerator) types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum BusinessAttributeType {
    /// 1.
    InteractionOperationalAttribute,
    /// 2.
    Role,
    /// 3.
    ContactAttribute,
    /// 4.
    Custom,
    /// Any other code.
    Other(i64),
}

impl BusinessAttributeType {
    /// From the Config DB code.
    pub fn from_code(code: i64) -> BusinessAttributeType {
        match code {
            1 => BusinessAttributeType::InteractionOperationalAttribute,
            2 => BusinessAttributeType::Role,
            3 => BusinessAttributeType::ContactAttribute,
            4 => BusinessAttributeType::Custom,
            c => BusinessAttributeType::Other(c),
        }
    }

    /// The Config DB code.
    pub fn code(self) -> i64 {
        match self {
            BusinessAttributeType::InteractionOperationalAttribute => 1,
            BusinessAttributeType::Role => 2,
            BusinessAttributeType::ContactAttribute => 3,
            BusinessAttributeType::Custom => 4,
            BusinessAttributeType::Other(c) => c,
        }
    }
}

/// Whether a key name holds a secret whose value must never be printed.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("secret") || k.contains("password") || k.contains("passwd") || k.contains("token")
}

/// One annex section: keys (which may repeat) to values, in key order.
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
pub struct AnnexSection {
    entries: BTreeMap<String, Vec<String>>,
}

impl AnnexSection {
    /// Adds a key/value (keys may repeat).
    pub fn push(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.entries
            .entry(key.into())
            .or_default()
            .push(value.into());
    }

    /// The first value of a key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .get(key)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// Every value of a key.
    pub fn values(&self, key: &str) -> &[String] {
        self.entries.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Keys and their values.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// Whether the section has no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Debug for AnnexSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.entries {
            if is_secret_key(k) {
                m.entry(k, &"<redacted>");
            } else {
                m.entry(k, v);
            }
        }
        m.finish()
    }
}

/// An object's annex: sections of key/value options. Debug output redacts secret-looking keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Annex {
    sections: BTreeMap<String, AnnexSection>,
}

impl Annex {
    /// Adds a key/value under a section.
    pub fn push(&mut self, section: &str, key: impl Into<String>, value: impl Into<String>) {
        self.sections
            .entry(section.to_string())
            .or_default()
            .push(key, value);
    }

    /// Ensures a (possibly empty) section exists.
    pub fn add_section(&mut self, section: &str) {
        self.sections.entry(section.to_string()).or_default();
    }

    /// A section.
    pub fn section(&self, name: &str) -> Option<&AnnexSection> {
        self.sections.get(name)
    }

    /// The first value of `section/key`.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections.get(section).and_then(|s| s.get(key))
    }

    /// Sections by name.
    pub fn sections(&self) -> impl Iterator<Item = (&str, &AnnexSection)> {
        self.sections.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Whether there is no section.
    pub fn is_empty(&self) -> bool {
        self.sections.is_empty()
    }
}

/// A tenant.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Tenant {
    /// DBID.
    pub dbid: Dbid,
    /// Name (`TENANT_NAME` default for queue descriptions).
    pub name: String,
    /// Annex.
    pub annex: Annex,
    /// Last change in the history log, if any (not part of the change fingerprint).
    #[serde(skip_serializing)]
    pub last_modified: Option<UnixTime>,
}

/// A switch.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Switch {
    /// DBID.
    pub dbid: Dbid,
    /// Tenant.
    pub tenant_dbid: Dbid,
    /// Name.
    pub name: String,
    /// State.
    pub state: ObjectState,
    /// Annex.
    pub annex: Annex,
    /// Last change in the history log, if any (not part of the change fingerprint).
    #[serde(skip_serializing)]
    pub last_modified: Option<UnixTime>,
}

/// A person's level in a skill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SkillLevel {
    /// Skill DBID.
    pub skill_dbid: Dbid,
    /// Level (unbounded in Engage).
    pub level: i64,
}

/// A person (agent, supervisor or non-agent).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Person {
    /// DBID.
    pub dbid: Dbid,
    /// Tenant.
    pub tenant_dbid: Dbid,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// User name.
    pub user_name: Option<String>,
    /// Employee ID.
    pub employee_id: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Is-agent flag (`is_agent = 2`).
    pub is_agent: bool,
    /// State.
    pub state: ObjectState,
    /// Skills with levels, by skill DBID.
    pub skills: Vec<SkillLevel>,
    /// Agent login DBIDs.
    pub agent_logins: Vec<Dbid>,
    /// Annex.
    pub annex: Annex,
    /// Last change in the history log, if any (not part of the change fingerprint).
    #[serde(skip_serializing)]
    pub last_modified: Option<UnixTime>,
}

impl Person {
    /// Whether `htcc/roles` lists `Supervisor` (comma/space separated, case-insensitive).
    pub fn has_htcc_role(&self, role: &str) -> bool {
        self.annex.section("htcc").is_some_and(|s| {
            s.values("roles").iter().any(|v| {
                v.split([',', ';', ' '])
                    .any(|r| r.trim().eq_ignore_ascii_case(role))
            })
        })
    }

    /// Agent with `htcc/roles` containing `Supervisor`.
    pub fn is_supervisor(&self) -> bool {
        self.is_agent && self.has_htcc_role("Supervisor")
    }
}

/// A skill.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Skill {
    /// DBID.
    pub dbid: Dbid,
    /// Tenant.
    pub tenant_dbid: Dbid,
    /// Name.
    pub name: String,
    /// State.
    pub state: ObjectState,
    /// Annex.
    pub annex: Annex,
    /// Last change in the history log, if any (not part of the change fingerprint).
    #[serde(skip_serializing)]
    pub last_modified: Option<UnixTime>,
}

/// An agent login.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AgentLogin {
    /// DBID.
    pub dbid: Dbid,
    /// Tenant.
    pub tenant_dbid: Dbid,
    /// Switch.
    pub switch_dbid: Dbid,
    /// Login code.
    pub login_code: String,
    /// State.
    pub state: ObjectState,
    /// Person using it (from `cfg_login_info`), if any.
    pub person_dbid: Option<Dbid>,
    /// Last change in the history log, if any (not part of the change fingerprint).
    #[serde(skip_serializing)]
    pub last_modified: Option<UnixTime>,
}

/// A DN.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Dn {
    /// DBID.
    pub dbid: Dbid,
    /// Switch.
    pub switch_dbid: Dbid,
    /// Tenant, taken from the switch (None if the switch is missing).
    pub tenant_dbid: Option<Dbid>,
    /// Type.
    pub dn_type: DnType,
    /// Number (the DN "name" used for queues).
    pub number: String,
    /// State.
    pub state: ObjectState,
    /// Annex.
    pub annex: Annex,
    /// Last change in the history log, if any (not part of the change fingerprint).
    #[serde(skip_serializing)]
    pub last_modified: Option<UnixTime>,
}

/// An agent group (virtual or not).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AgentGroup {
    /// DBID.
    pub dbid: Dbid,
    /// Tenant.
    pub tenant_dbid: Dbid,
    /// Name.
    pub name: String,
    /// State.
    pub state: ObjectState,
    /// Member person DBIDs as stored in `cfg_agent_group`.
    pub members: Vec<Dbid>,
    /// Annex.
    pub annex: Annex,
    /// Last change in the history log, if any (not part of the change fingerprint).
    #[serde(skip_serializing)]
    pub last_modified: Option<UnixTime>,
}

impl AgentGroup {
    /// The virtual-group expression (`virtual/script`), if this is a Virtual Agent Group.
    pub fn virtual_script(&self) -> Option<&str> {
        self.annex.get("virtual", "script")
    }

    /// `hybrid/WFM_queue_number` values (queue DN numbers this group feeds).
    pub fn wfm_queue_numbers(&self) -> Vec<&str> {
        self.annex
            .section("hybrid")
            .map(|s| {
                s.values("WFM_queue_number")
                    .iter()
                    .map(|v| v.trim())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A business attribute value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct BusinessAttributeValue {
    /// DBID.
    pub dbid: Dbid,
    /// Name.
    pub name: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Is-default flag.
    pub is_default: bool,
    /// State.
    pub state: ObjectState,
    /// Annex.
    pub annex: Annex,
    /// Last change in the history log, if any (not part of the change fingerprint).
    #[serde(skip_serializing)]
    pub last_modified: Option<UnixTime>,
}

/// A business attribute (enumerator) with its values.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct BusinessAttribute {
    /// DBID.
    pub dbid: Dbid,
    /// Tenant.
    pub tenant_dbid: Dbid,
    /// Name.
    pub name: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Type.
    pub attr_type: BusinessAttributeType,
    /// State.
    pub state: ObjectState,
    /// Values, by DBID.
    pub values: Vec<BusinessAttributeValue>,
    /// Annex.
    pub annex: Annex,
    /// Last change in the history log, if any (not part of the change fingerprint).
    #[serde(skip_serializing)]
    pub last_modified: Option<UnixTime>,
}

impl BusinessAttribute {
    /// The spec's wrap-up code rule: type Interaction Operational Attribute, and name
    /// `DispositionCode` or annex `htcc/contains=dispositions` (both case-sensitive).
    pub fn holds_dispositions(&self) -> bool {
        self.attr_type == BusinessAttributeType::InteractionOperationalAttribute
            && (self.name == "DispositionCode"
                || self
                    .annex
                    .section("htcc")
                    .is_some_and(|s| s.values("contains").iter().any(|v| v == "dispositions")))
    }
}

/// A folder.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Folder {
    /// DBID.
    pub dbid: Dbid,
    /// Tenant.
    pub tenant_dbid: Option<Dbid>,
    /// Name.
    pub name: String,
    /// The object type it holds.
    pub folder_type: i64,
    /// Parent (a folder when nested; else the owner: tenant, switch, ...).
    pub parent: Option<ObjectKey>,
    /// State.
    pub state: ObjectState,
    /// Objects it holds directly.
    pub objects: Vec<ObjectKey>,
}

impl Folder {
    /// The parent folder DBID when nested in a folder.
    pub fn parent_folder(&self) -> Option<Dbid> {
        self.parent
            .filter(|p| p.object_type == object_type::FOLDER)
            .map(|p| p.dbid)
    }
}

/// A transaction object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Transaction {
    /// DBID.
    pub dbid: Dbid,
    /// Tenant.
    pub tenant_dbid: Dbid,
    /// Name.
    pub name: String,
    /// State.
    pub state: ObjectState,
    /// Annex.
    pub annex: Annex,
    /// Last change in the history log, if any (not part of the change fingerprint).
    #[serde(skip_serializing)]
    pub last_modified: Option<UnixTime>,
}

/// The `hybrid_integration` transaction's annex, by section. Debug redacts secrets.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct HybridIntegration {
    /// Transaction DBID.
    pub dbid: Dbid,
    /// Tenant.
    pub tenant_dbid: Dbid,
    /// `general` (organization_sname, organization_id, base_service_url, base_auth_url, region).
    pub general: AnnexSection,
    /// `config_sync` (client_id, client_secret, skill_level_min/max_value, role names).
    pub config_sync: AnnexSection,
    /// `agent_state_sync` (client_id, client_secret).
    pub agent_state_sync: AnnexSection,
    /// `conversation_provider` (client_id, client_secret, sta_*, recording_enabled, gir_*).
    pub conversation_provider: AnnexSection,
    /// `recording-uploader.*` sections keyed by the part after `recording-uploader.`
    /// (e.g. `exec.transientStorage`, `exec.genesysCloud`).
    pub recording_uploader: BTreeMap<String, AnnexSection>,
    /// Any other section.
    pub other: BTreeMap<String, AnnexSection>,
}

impl HybridIntegration {
    /// Splits a transaction's annex into the known sections.
    pub fn from_transaction(tx: &Transaction) -> HybridIntegration {
        let mut h = HybridIntegration {
            dbid: tx.dbid,
            tenant_dbid: tx.tenant_dbid,
            ..HybridIntegration::default()
        };
        for (name, section) in tx.annex.sections() {
            let s = section.clone();
            match name {
                "general" => h.general = s,
                "config_sync" => h.config_sync = s,
                "agent_state_sync" => h.agent_state_sync = s,
                "conversation_provider" => h.conversation_provider = s,
                _ => {
                    if let Some(rest) = name.strip_prefix("recording-uploader.") {
                        h.recording_uploader.insert(rest.to_string(), s);
                    } else {
                        h.other.insert(name.to_string(), s);
                    }
                }
            }
        }
        h
    }
}

/// Everything read from the Config DB in one read-only transaction.
///
/// `Debug` redacts annex secrets; `Serialize` (used for change fingerprints) does not, so never
/// log a serialized snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Snapshot {
    /// Tenants.
    pub tenants: BTreeMap<Dbid, Tenant>,
    /// Switches.
    pub switches: BTreeMap<Dbid, Switch>,
    /// Persons.
    pub persons: BTreeMap<Dbid, Person>,
    /// Skills.
    pub skills: BTreeMap<Dbid, Skill>,
    /// Agent logins.
    pub agent_logins: BTreeMap<Dbid, AgentLogin>,
    /// DNs.
    pub dns: BTreeMap<Dbid, Dn>,
    /// Agent groups (virtual or not).
    pub agent_groups: BTreeMap<Dbid, AgentGroup>,
    /// Business attributes with their values.
    pub business_attributes: BTreeMap<Dbid, BusinessAttribute>,
    /// Folders.
    pub folders: BTreeMap<Dbid, Folder>,
    /// Transactions.
    pub transactions: BTreeMap<Dbid, Transaction>,
    /// `hybrid_integration` per tenant DBID.
    pub hybrid_integration: BTreeMap<Dbid, HybridIntegration>,
    /// The largest history record id seen (the poller's cursor), if the history has rows.
    pub history_cursor: Option<i64>,
}

impl Snapshot {
    /// The folder directly holding an object, if any.
    pub fn folder_of(&self, key: ObjectKey) -> Option<&Folder> {
        self.folders.values().find(|f| f.objects.contains(&key))
    }

    /// Folder DBID per object, for repeated look-ups.
    pub fn folder_index(&self) -> BTreeMap<ObjectKey, Dbid> {
        let mut idx = BTreeMap::new();
        for f in self.folders.values() {
            for o in &f.objects {
                idx.insert(*o, f.dbid);
            }
        }
        idx
    }

    /// A skill by exact name.
    pub fn skill_by_name(&self, name: &str) -> Option<&Skill> {
        self.skills.values().find(|s| s.name == name)
    }

    /// Business attributes that feed wrap-up codes (see
    /// [`BusinessAttribute::holds_dispositions`]).
    pub fn disposition_attributes(&self) -> impl Iterator<Item = &BusinessAttribute> {
        self.business_attributes
            .values()
            .filter(|b| b.holds_dispositions())
    }

    /// The part of the snapshot owned by one tenant (multi-tenant Config DBs: each tenant has
    /// its own `hybrid_integration` and EX org). DNs follow their switch's tenant; folders and
    /// objects of other tenants are dropped.
    pub fn for_tenant(&self, tenant_dbid: Dbid) -> Snapshot {
        let mut s = self.clone();
        s.tenants.retain(|d, _| *d == tenant_dbid);
        s.switches.retain(|_, o| o.tenant_dbid == tenant_dbid);
        s.persons.retain(|_, o| o.tenant_dbid == tenant_dbid);
        s.skills.retain(|_, o| o.tenant_dbid == tenant_dbid);
        s.agent_logins.retain(|_, o| o.tenant_dbid == tenant_dbid);
        s.dns.retain(|_, o| o.tenant_dbid == Some(tenant_dbid));
        s.agent_groups.retain(|_, o| o.tenant_dbid == tenant_dbid);
        s.business_attributes
            .retain(|_, o| o.tenant_dbid == tenant_dbid);
        s.folders
            .retain(|_, o| o.tenant_dbid.is_none_or(|t| t == tenant_dbid));
        s.transactions.retain(|_, o| o.tenant_dbid == tenant_dbid);
        s.hybrid_integration.retain(|d, _| *d == tenant_dbid);
        s
    }

    /// Virtual Queue DNs (type VirtACDQueue).
    pub fn virtual_queues(&self) -> impl Iterator<Item = &Dn> {
        self.dns
            .values()
            .filter(|d| d.dn_type == DnType::VirtAcdQueue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annex_debug_redacts_secrets() {
        let mut a = Annex::default();
        a.push("config_sync", "client_id", "abc");
        a.push("config_sync", "client_secret", "s3cr3t-value");
        a.push("x", "Password", "hunter2");
        let dbg = format!("{a:?}");
        assert!(dbg.contains("abc"));
        assert!(!dbg.contains("s3cr3t-value"), "{dbg}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert_eq!(a.get("config_sync", "client_secret"), Some("s3cr3t-value"));
    }

    #[test]
    fn tenant_scoping_follows_switches_for_dns() {
        let mut s = Snapshot::default();
        for t in [1, 2] {
            s.tenants.insert(
                t,
                Tenant {
                    dbid: t,
                    name: format!("t{t}"),
                    annex: Annex::default(),
                    last_modified: None,
                },
            );
            s.switches.insert(
                t * 10,
                Switch {
                    dbid: t * 10,
                    tenant_dbid: t,
                    name: "sw".into(),
                    state: ObjectState::Enabled,
                    annex: Annex::default(),
                    last_modified: None,
                },
            );
            s.dns.insert(
                t,
                Dn {
                    dbid: t,
                    switch_dbid: t * 10,
                    tenant_dbid: Some(t),
                    dn_type: DnType::Extension,
                    number: "1".into(),
                    state: ObjectState::Enabled,
                    annex: Annex::default(),
                    last_modified: None,
                },
            );
        }
        let t2 = s.for_tenant(2);
        assert_eq!(t2.tenants.keys().copied().collect::<Vec<_>>(), vec![2]);
        assert_eq!(t2.switches.keys().copied().collect::<Vec<_>>(), vec![20]);
        assert_eq!(t2.dns.keys().copied().collect::<Vec<_>>(), vec![2]);
    }

    #[test]
    fn codes_round_trip() {
        for k in ObjectKind::ALL {
            assert_eq!(ObjectKind::from_code(k.code()), Some(k));
        }
        for c in [1, 2, 3, 4, 5, 6, 14, 19, 22, 25, 99] {
            assert_eq!(DnType::from_code(c).code(), c);
        }
        for c in [1, 2, 3, 7] {
            assert_eq!(ObjectState::from_code(Some(c)).code(), c);
        }
    }

    #[test]
    fn disposition_rule_is_case_sensitive() {
        let mut ba = BusinessAttribute {
            dbid: 1,
            tenant_dbid: 1,
            name: "Codes".into(),
            display_name: None,
            attr_type: BusinessAttributeType::InteractionOperationalAttribute,
            state: ObjectState::Enabled,
            values: vec![],
            annex: Annex::default(),
            last_modified: None,
        };
        assert!(!ba.holds_dispositions());
        ba.annex.push("htcc", "contains", "Dispositions");
        assert!(!ba.holds_dispositions());
        ba.annex.push("htcc", "contains", "dispositions");
        assert!(ba.holds_dispositions());
        ba.attr_type = BusinessAttributeType::Custom;
        assert!(!ba.holds_dispositions());
        ba.attr_type = BusinessAttributeType::InteractionOperationalAttribute;
        ba.annex = Annex::default();
        ba.name = "DispositionCode".into();
        assert!(ba.holds_dispositions());
        ba.name = "dispositioncode".into();
        assert!(!ba.holds_dispositions());
    }
}
