//! Folder filtering (`SYNC_CUSTOMER_OBJECTS_ONLY`, `SYNC_CUSTOMER_FOLDER_NAME`): a pure function
//! over a [`Snapshot`].
//!
//! When enabled, a Person, Skill, DN or Agent Group is kept only if it sits in a folder whose
//! name is listed, or in any subfolder (at any depth) of such a folder; the listed folder may
//! itself be at any depth. Business Attributes are never filtered; the other kinds (switches,
//! agent logins, folders, transactions, tenants) are kept as they are.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Dbid, ObjectKey, ObjectKind, Snapshot};

/// Folder filter settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FolderFilter {
    /// `SYNC_CUSTOMER_OBJECTS_ONLY`.
    pub enabled: bool,
    /// `SYNC_CUSTOMER_FOLDER_NAME`, split on commas and trimmed (names are case-sensitive).
    pub folder_names: Vec<String>,
}

/// Invalid folder filter settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// Filtering on with no folder names.
    #[error(
        "SYNC_CUSTOMER_OBJECTS_ONLY is true but SYNC_CUSTOMER_FOLDER_NAME is empty: set it to a \
         comma-separated list of CME folder names, or turn filtering off"
    )]
    NoFolders,
    /// Not a boolean.
    #[error("SYNC_CUSTOMER_OBJECTS_ONLY must be true or false, got `{0}`")]
    NotABoolean(String),
}

impl FolderFilter {
    /// A filter that keeps everything.
    pub fn off() -> FolderFilter {
        FolderFilter::default()
    }

    /// Builds a filter from the two settings' raw values (`None` = unset).
    pub fn from_settings(
        objects_only: Option<&str>,
        folder_names: Option<&str>,
    ) -> Result<FolderFilter, FilterError> {
        let enabled = match objects_only.map(|s| s.trim().to_ascii_lowercase()) {
            None => false,
            Some(s) if s.is_empty() || s == "false" || s == "0" || s == "no" => false,
            Some(s) if s == "true" || s == "1" || s == "yes" => true,
            Some(s) => return Err(FilterError::NotABoolean(s)),
        };
        let folder_names: Vec<String> = folder_names
            .unwrap_or("")
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if enabled && folder_names.is_empty() {
            return Err(FilterError::NoFolders);
        }
        Ok(FolderFilter {
            enabled,
            folder_names,
        })
    }

    /// The folders selected: every folder named in the list plus all their descendants.
    pub fn selected_folders(&self, snapshot: &Snapshot) -> BTreeSet<Dbid> {
        let mut children: BTreeMap<Dbid, Vec<Dbid>> = BTreeMap::new();
        for f in snapshot.folders.values() {
            if let Some(p) = f.parent_folder() {
                children.entry(p).or_default().push(f.dbid);
            }
        }
        let mut selected = BTreeSet::new();
        let mut stack: Vec<Dbid> = snapshot
            .folders
            .values()
            .filter(|f| self.folder_names.contains(&f.name))
            .map(|f| f.dbid)
            .collect();
        // The `selected` set also guards against parent cycles.
        while let Some(d) = stack.pop() {
            if selected.insert(d) {
                stack.extend(children.get(&d).into_iter().flatten().copied());
            }
        }
        selected
    }

    /// Whether an object of a filterable kind passes.
    pub fn passes(
        &self,
        key: ObjectKey,
        index: &BTreeMap<ObjectKey, Dbid>,
        selected: &BTreeSet<Dbid>,
    ) -> bool {
        !self.enabled || index.get(&key).is_some_and(|f| selected.contains(f))
    }

    /// Applies the filter, returning the filtered snapshot. Agent group member lists are left
    /// as stored (members outside the selection stay listed; callers map only known persons).
    pub fn apply(&self, snapshot: &Snapshot) -> Snapshot {
        if !self.enabled {
            return snapshot.clone();
        }
        let selected = self.selected_folders(snapshot);
        let index = snapshot.folder_index();
        let keep = |kind: ObjectKind, dbid: Dbid| {
            self.passes(ObjectKey::new(kind, dbid), &index, &selected)
        };
        let mut out = snapshot.clone();
        out.persons.retain(|d, _| keep(ObjectKind::Person, *d));
        out.skills.retain(|d, _| keep(ObjectKind::Skill, *d));
        out.dns.retain(|d, _| keep(ObjectKind::Dn, *d));
        out.agent_groups
            .retain(|d, _| keep(ObjectKind::AgentGroup, *d));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    fn folder(dbid: Dbid, name: &str, parent: Option<Dbid>, objects: Vec<ObjectKey>) -> Folder {
        Folder {
            dbid,
            tenant_dbid: Some(1),
            name: name.into(),
            folder_type: 3,
            parent: Some(match parent {
                Some(p) => ObjectKey {
                    object_type: object_type::FOLDER,
                    dbid: p,
                },
                None => ObjectKey {
                    object_type: object_type::TENANT,
                    dbid: 1,
                },
            }),
            state: ObjectState::Enabled,
            objects,
        }
    }

    fn person(dbid: Dbid) -> Person {
        Person {
            dbid,
            tenant_dbid: 1,
            first_name: None,
            last_name: None,
            user_name: Some(format!("p{dbid}")),
            employee_id: None,
            email: None,
            is_agent: true,
            state: ObjectState::Enabled,
            skills: vec![],
            agent_logins: vec![],
            annex: Annex::default(),
            last_modified: None,
        }
    }

    fn snap() -> Snapshot {
        let mut s = Snapshot::default();
        for d in 1..=5 {
            s.persons.insert(d, person(d));
        }
        let p = |d| ObjectKey::new(ObjectKind::Person, d);
        // Persons(10) > Sales(11) > Tier2(12);  Persons(10) > Support(13); person 5 at root.
        s.folders
            .insert(10, folder(10, "Persons", None, vec![p(1)]));
        s.folders
            .insert(11, folder(11, "Sales", Some(10), vec![p(2)]));
        s.folders
            .insert(12, folder(12, "Tier2", Some(11), vec![p(3)]));
        s.folders
            .insert(13, folder(13, "Support", Some(10), vec![p(4)]));
        // A skill in Sales with the same DBID as a person: types must not mix.
        s.skills.insert(
            2,
            Skill {
                dbid: 2,
                tenant_dbid: 1,
                name: "S".into(),
                state: ObjectState::Enabled,
                annex: Annex::default(),
                last_modified: None,
            },
        );
        s.business_attributes.insert(
            1,
            BusinessAttribute {
                dbid: 1,
                tenant_dbid: 1,
                name: "DispositionCode".into(),
                display_name: None,
                attr_type: BusinessAttributeType::InteractionOperationalAttribute,
                state: ObjectState::Enabled,
                values: vec![],
                annex: Annex::default(),
                last_modified: None,
            },
        );
        s
    }

    #[test]
    fn settings_parse() {
        let f = FolderFilter::from_settings(Some("true"), Some(" Sales , EX_EVOLUTION,")).unwrap();
        assert!(f.enabled);
        assert_eq!(f.folder_names, vec!["Sales", "EX_EVOLUTION"]);
        assert_eq!(
            FolderFilter::from_settings(Some("true"), Some(" , ")),
            Err(FilterError::NoFolders)
        );
        assert!(!FolderFilter::from_settings(None, None).unwrap().enabled);
        assert!(matches!(
            FolderFilter::from_settings(Some("maybe"), None),
            Err(FilterError::NotABoolean(_))
        ));
    }

    #[test]
    fn nested_folder_includes_subfolders_only() {
        let s = snap();
        let f = FolderFilter::from_settings(Some("true"), Some("Sales")).unwrap();
        let out = f.apply(&s);
        assert_eq!(out.persons.keys().copied().collect::<Vec<_>>(), vec![2, 3]);
        // The skill with DBID 2 is not in any folder: a person's folder link does not apply.
        assert!(out.skills.is_empty());
        // Business attributes are never filtered.
        assert_eq!(out.business_attributes.len(), 1);
    }

    #[test]
    fn root_folder_selects_everything_below() {
        let s = snap();
        let f = FolderFilter::from_settings(Some("true"), Some("Persons")).unwrap();
        assert_eq!(
            f.apply(&s).persons.keys().copied().collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        let f = FolderFilter::from_settings(Some("true"), Some("Tier2,Support")).unwrap();
        assert_eq!(
            f.apply(&s).persons.keys().copied().collect::<Vec<_>>(),
            vec![3, 4]
        );
        let f = FolderFilter::from_settings(Some("false"), Some("Tier2")).unwrap();
        assert_eq!(f.apply(&s).persons.len(), 5);
        // Names are case-sensitive.
        let f = FolderFilter::from_settings(Some("true"), Some("sales")).unwrap();
        assert!(f.apply(&s).persons.is_empty());
    }

    #[test]
    fn parent_cycle_terminates() {
        let mut s = snap();
        s.folders.insert(20, folder(20, "A", Some(21), vec![]));
        s.folders.insert(
            21,
            folder(
                21,
                "B",
                Some(20),
                vec![ObjectKey::new(ObjectKind::Person, 5)],
            ),
        );
        let f = FolderFilter::from_settings(Some("true"), Some("A")).unwrap();
        assert_eq!(
            f.apply(&s).persons.keys().copied().collect::<Vec<_>>(),
            vec![5]
        );
    }
}
