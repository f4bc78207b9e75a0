//! The one place that names Config DB tables and columns.
//!
//! [`SchemaMap::default()`] is the schema in `cfgdb/SCHEMA.md` (and `cfgdb/sql/*.sql`). A site
//! whose Config DB differs overrides only what differs, from configuration: every struct here is
//! `serde`-deserializable with defaults, so `{"person": {"email": "email_addr"}}` (JSON, or the
//! same in TOML/YAML) renames one column and keeps everything else.
//!
//! The reader, the doctor, the change poller and the seeder all build their SQL from this map;
//! no table or column name is spelled anywhere else.

use serde::{Deserialize, Serialize};

macro_rules! table_map {
    (
        $(#[$meta:meta])*
        $name:ident, $table:literal, { $( $(#[$fmeta:meta])* $field:ident = $col:literal ),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        #[non_exhaustive]
        pub struct $name {
            /// Table name.
            pub table: String,
            $( $(#[$fmeta])* pub $field: String, )*
        }

        impl Default for $name {
            fn default() -> Self {
                Self { table: $table.to_string(), $( $field: $col.to_string(), )* }
            }
        }

        impl $name {
            /// The column names this map expects, in declaration order.
            pub fn columns(&self) -> Vec<&str> {
                vec![ $( self.$field.as_str(), )* ]
            }
        }
    };
}

table_map!(
    /// `cfg_tenant` (public).
    TenantMap, "cfg_tenant", {
    /// Tenant DBID.
    dbid = "dbid",
    /// Tenant name.
    name = "name",
});

table_map!(
    /// `cfg_switch` (public).
    SwitchMap, "cfg_switch", {
    /// Switch DBID.
    dbid = "dbid",
    /// Owning tenant.
    tenant_dbid = "tenant_dbid",
    /// Switch name.
    name = "name",
    /// Object state (1 Enabled, 2 Disabled, 3 Deleted).
    state = "state",
});

table_map!(
    /// `cfg_person` (public; the e-mail column name is ours, see SCHEMA.md).
    PersonMap, "cfg_person", {
    /// Person DBID.
    dbid = "dbid",
    /// Owning tenant.
    tenant_dbid = "tenant_dbid",
    /// First name.
    first_name = "first_name",
    /// Last name.
    last_name = "last_name",
    /// User name.
    user_name = "user_name",
    /// Employee ID.
    employee_id = "employee_id",
    /// E-mail address (SDK field `emailAddress`).
    email = "email_address",
    /// Is-agent flag (1 False, 2 True).
    is_agent = "is_agent",
    /// Object state.
    state = "state",
});

table_map!(
    /// `cfg_skill` (public).
    SkillMap, "cfg_skill", {
    /// Skill DBID.
    dbid = "dbid",
    /// Owning tenant.
    tenant_dbid = "tenant_dbid",
    /// Skill name.
    name = "name",
    /// Object state.
    state = "state",
});

table_map!(
    /// `cfg_skill_level` (public).
    SkillLevelMap, "cfg_skill_level", {
    /// Person DBID.
    person_dbid = "person_dbid",
    /// Skill DBID.
    skill_dbid = "skill_dbid",
    /// Level.
    level = "level_",
});

table_map!(
    /// `cfg_agent_login` (public).
    AgentLoginMap, "cfg_agent_login", {
    /// Agent login DBID.
    dbid = "dbid",
    /// Owning tenant.
    tenant_dbid = "tenant_dbid",
    /// Switch DBID.
    switch_dbid = "switch_dbid",
    /// Login code.
    login_code = "login_code",
    /// Object state.
    state = "state",
});

table_map!(
    /// `cfg_login_info` (public): person to agent login.
    LoginInfoMap, "cfg_login_info", {
    /// Person DBID.
    person_dbid = "person_dbid",
    /// Agent login DBID.
    agent_login_dbid = "agent_login_dbid",
});

table_map!(
    /// `cfg_group` (public header; `group_type` is our design).
    GroupMap, "cfg_group", {
    /// Group DBID.
    dbid = "dbid",
    /// Owning tenant.
    tenant_dbid = "tenant_dbid",
    /// Group name.
    name = "name",
    /// Group type (1 Agent, 2 Place, 3 DN, 4 Access). Our design.
    group_type = "group_type",
    /// Object state.
    state = "state",
});

table_map!(
    /// `cfg_agent_group` (public): agent group members.
    AgentGroupMap, "cfg_agent_group", {
    /// Group DBID.
    group_dbid = "group_dbid",
    /// Person DBID.
    agent_dbid = "agent_dbid",
});

table_map!(
    /// `cfg_dn` (public).
    DnMap, "cfg_dn", {
    /// DN DBID.
    dbid = "dbid",
    /// Switch DBID (the DN's tenant is its switch's).
    switch_dbid = "switch_dbid",
    /// DN type (1 Extension, 3 ACDQueue, 4 RoutingPoint, 5 VirtACDQueue, ...).
    dn_type = "type",
    /// DN number.
    number = "number_",
    /// Object state.
    state = "state",
});

table_map!(
    /// `cfg_flex_prop` (public): the annex tree.
    FlexPropMap, "cfg_flex_prop", {
    /// Row DBID.
    dbid = "dbid",
    /// Owner object DBID.
    object_dbid = "object_dbid",
    /// Owner object type.
    object_type = "object_type",
    /// Parent row DBID (0 or NULL for a section row).
    parent_dbid = "parent_dbid",
    /// Row type (not documented publicly; written by the seeder, never read or checked).
    prop_type = "prop_type",
    /// Section or key name.
    prop_name = "prop_name",
    /// Key value.
    prop_value = "prop_value",
});

table_map!(
    /// `cfg_transaction` (our design).
    TransactionMap, "cfg_transaction", {
    /// Transaction DBID.
    dbid = "dbid",
    /// Owning tenant.
    tenant_dbid = "tenant_dbid",
    /// Transaction name.
    name = "name",
    /// Object state.
    state = "state",
});

table_map!(
    /// `cfg_folder` (our design).
    FolderMap, "cfg_folder", {
    /// Folder DBID.
    dbid = "dbid",
    /// Owning tenant.
    tenant_dbid = "tenant_dbid",
    /// Folder name.
    name = "name",
    /// The object type the folder holds.
    folder_type = "type",
    /// Parent object type (22 = folder for nesting; 7 tenant, 1 switch, ...).
    parent_type = "parent_type",
    /// Parent object DBID.
    parent_dbid = "parent_dbid",
    /// Object state.
    state = "state",
});

table_map!(
    /// `cfg_folder_object` (our design): which object sits in which folder.
    FolderObjectMap, "cfg_folder_object", {
    /// Folder DBID.
    folder_dbid = "folder_dbid",
    /// Object type.
    object_type = "object_type",
    /// Object DBID.
    object_dbid = "object_dbid",
});

table_map!(
    /// `cfg_enumerator` (our design): Business Attributes.
    EnumeratorMap, "cfg_enumerator", {
    /// Business attribute DBID.
    dbid = "dbid",
    /// Owning tenant.
    tenant_dbid = "tenant_dbid",
    /// Name.
    name = "name",
    /// Display name.
    display_name = "display_name",
    /// Type (1 InteractionOperationalAttribute, 2 Role, 3 ContactAttribute, 4 Custom).
    enum_type = "type",
    /// Object state.
    state = "state",
});

table_map!(
    /// `cfg_enum_value` (our design): Business Attribute values.
    EnumValueMap, "cfg_enum_value", {
    /// Value DBID.
    dbid = "dbid",
    /// Owning tenant.
    tenant_dbid = "tenant_dbid",
    /// The business attribute it belongs to.
    enumerator_dbid = "enumerator_dbid",
    /// Name.
    name = "name",
    /// Display name.
    display_name = "display_name",
    /// Is-default flag (1 False, 2 True).
    is_default = "is_default",
    /// Object state.
    state = "state",
});

table_map!(
    /// `cfg_hist_log` (our design): the change history.
    HistoryMap, "cfg_hist_log", {
    /// Monotonic record id.
    id = "id",
    /// Changed object type.
    object_type = "object_type",
    /// Changed object DBID.
    object_dbid = "object_dbid",
    /// Operation (1 created, 2 changed, 3 deleted).
    operation = "operation",
    /// Change time, seconds since the Unix epoch, UTC.
    change_time = "change_time",
});

/// Every Config DB table and column name the crate uses. Defaults are the schema in SCHEMA.md.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SchemaMap {
    /// Schema prefix override (e.g. `dbo`); `None` uses the dialect's default.
    pub schema: Option<String>,
    /// Tenants.
    pub tenant: TenantMap,
    /// Switches.
    pub switch: SwitchMap,
    /// Persons.
    pub person: PersonMap,
    /// Skills.
    pub skill: SkillMap,
    /// Skill levels.
    pub skill_level: SkillLevelMap,
    /// Agent logins.
    pub agent_login: AgentLoginMap,
    /// Person to agent login links.
    pub login_info: LoginInfoMap,
    /// Group headers.
    pub group: GroupMap,
    /// Agent group members.
    pub agent_group: AgentGroupMap,
    /// DNs.
    pub dn: DnMap,
    /// Annex.
    pub flex_prop: FlexPropMap,
    /// Transactions.
    pub transaction: TransactionMap,
    /// Folders.
    pub folder: FolderMap,
    /// Folder contents.
    pub folder_object: FolderObjectMap,
    /// Business attributes.
    pub enumerator: EnumeratorMap,
    /// Business attribute values.
    pub enum_value: EnumValueMap,
    /// Change history.
    pub history: HistoryMap,
}

/// A mapping override could not be parsed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
#[error(
    "invalid Config DB schema mapping: {0}. Fix the mapping document (see cfgdb/SCHEMA.md for the keys)"
)]
pub struct MappingError(String);

impl SchemaMap {
    /// Parses a JSON override document; absent keys keep their defaults.
    pub fn from_json(text: &str) -> Result<SchemaMap, MappingError> {
        let map: SchemaMap = serde_json::from_str(text).map_err(|e| MappingError(e.to_string()))?;
        map.validate()?;
        Ok(map)
    }

    /// Checks every name is a plain SQL identifier (letters, digits, `_`, `$`, `#`), so a name
    /// can never inject SQL.
    pub fn validate(&self) -> Result<(), MappingError> {
        if let Some(s) = &self.schema {
            check_ident(s)?;
        }
        for (table, cols) in self.expected() {
            check_ident(table)?;
            for c in cols {
                check_ident(c)?;
            }
        }
        Ok(())
    }

    /// Every table with the columns the crate reads from it (what `doctor` checks; the
    /// seeder writes [`FlexPropMap::prop_type`] too).
    pub fn expected(&self) -> Vec<(&str, Vec<&str>)> {
        vec![
            (self.tenant.table.as_str(), self.tenant.columns()),
            (self.switch.table.as_str(), self.switch.columns()),
            (self.person.table.as_str(), self.person.columns()),
            (self.skill.table.as_str(), self.skill.columns()),
            (self.skill_level.table.as_str(), self.skill_level.columns()),
            (self.agent_login.table.as_str(), self.agent_login.columns()),
            (self.login_info.table.as_str(), self.login_info.columns()),
            (self.group.table.as_str(), self.group.columns()),
            (self.agent_group.table.as_str(), self.agent_group.columns()),
            (self.dn.table.as_str(), self.dn.columns()),
            (
                self.flex_prop.table.as_str(),
                // `prop_type` is written by the seeder but never read.
                self.flex_prop
                    .columns()
                    .into_iter()
                    .filter(|c| *c != self.flex_prop.prop_type)
                    .collect(),
            ),
            (self.transaction.table.as_str(), self.transaction.columns()),
            (self.folder.table.as_str(), self.folder.columns()),
            (
                self.folder_object.table.as_str(),
                self.folder_object.columns(),
            ),
            (self.enumerator.table.as_str(), self.enumerator.columns()),
            (self.enum_value.table.as_str(), self.enum_value.columns()),
            (self.history.table.as_str(), self.history.columns()),
        ]
    }
}

fn check_ident(s: &str) -> Result<(), MappingError> {
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '#'));
    if ok {
        Ok(())
    } else {
        Err(MappingError(format!(
            "`{s}` is not a plain SQL identifier (letters, digits, _ $ #, not starting with a digit)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_one_column_keeps_the_rest() {
        let m = SchemaMap::from_json(r#"{"person": {"email": "email_addr"}, "schema": "cfg"}"#)
            .unwrap();
        assert_eq!(m.person.email, "email_addr");
        assert_eq!(m.person.table, "cfg_person");
        assert_eq!(m.dn.number, "number_");
        assert_eq!(m.schema.as_deref(), Some("cfg"));
    }

    #[test]
    fn rejects_unknown_keys_and_injection() {
        assert!(SchemaMap::from_json(r#"{"person": {"emial": "x"}}"#).is_err());
        let e = SchemaMap::from_json(r#"{"person": {"table": "cfg_person; drop table x"}}"#)
            .unwrap_err();
        assert!(e.to_string().contains("not a plain SQL identifier"), "{e}");
    }

    #[test]
    fn schema_md_documents_every_table_and_column() {
        let doc = include_str!("../SCHEMA.md");
        for (table, cols) in SchemaMap::default().expected() {
            assert!(
                doc.contains(&format!("## {table} (")),
                "SCHEMA.md lacks table {table}"
            );
            for c in cols {
                assert!(
                    doc.contains(&format!("| {c} | `")),
                    "SCHEMA.md lacks {table}.{c}"
                );
            }
        }
    }

    #[test]
    fn expected_lists_every_table_once() {
        let m = SchemaMap::default();
        let tables: Vec<&str> = m.expected().iter().map(|(t, _)| *t).collect();
        let mut dedup = tables.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(tables.len(), dedup.len());
        assert_eq!(tables.len(), 17);
        assert!(m.expected().iter().all(|(_, c)| !c.is_empty()));
    }
}
