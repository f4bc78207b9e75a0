//! What the GC org should look like for one Config DB snapshot: a pure function of the snapshot
//! and the EXCS settings. The reconciler ([`super::sync`]) then makes GC match it.

use super::rules::{self, PersonClass, RoleNames, SkillScale};
use engage_cfgdb::FolderFilter;
use engage_cfgdb::model::{Dbid, DnType, ObjectState, Snapshot};
use engage_store::{DnRecord, LoginRecord};
use std::collections::{BTreeMap, BTreeSet};

/// The EXCS settings that shape the desired org.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredSettings {
    /// Tenant name for queue descriptions (`TENANT_NAME` / `TENANT_ID` / `default_tenant`).
    pub tenant_name: String,
    /// `EXCS_GC_QUEUE_NAME_SUFFIX`.
    pub queue_suffix: String,
    /// Role names per person class (`hybrid_integration`).
    pub roles: RoleNames,
    /// `skill_level_min_value`.
    pub skill_level_min: Option<i64>,
    /// `skill_level_max_value`.
    pub skill_level_max: Option<i64>,
    /// Folder filtering.
    pub filter: FolderFilter,
}

impl Default for DesiredSettings {
    fn default() -> Self {
        DesiredSettings {
            tenant_name: "default_tenant".into(),
            queue_suffix: "Engage-external".into(),
            roles: RoleNames::default(),
            skill_level_min: None,
            skill_level_max: None,
            filter: FolderFilter::off(),
        }
    }
}

/// A GC user derived from a Person.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredUser {
    /// The person's DBID.
    pub person_dbid: Dbid,
    /// GC `email` / userName: the first valid e-mail of User Name, Employee ID, E-Mail.
    pub user_name: String,
    /// GC `name` (display name).
    pub display_name: String,
    /// The E-Mail field, if set (GC `emails`).
    pub email: Option<String>,
    /// `DBID_username`.
    pub external_id: String,
    /// State Enabled.
    pub active: bool,
    /// Non-agent, agent or supervisor.
    pub class: PersonClass,
    /// Routing skills by skill name → proficiency 0.0–5.0.
    pub skills: BTreeMap<String, f64>,
    /// Employee ID (Stat Server's agent id), if any.
    pub employee_id: Option<String>,
    /// Engage User Name.
    pub engage_user_name: String,
    /// Agent logins (switch and login code).
    pub agent_logins: Vec<LoginRecord>,
}

/// A GC queue derived from a Virtual Queue DN.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredQueue {
    /// The DN's DBID (`peerId`).
    pub dn_dbid: Dbid,
    /// `<DN>__<SWITCH>__<suffix>`.
    pub name: String,
    /// `Engage Reference: ...; Last modified: ...;`.
    pub description: String,
    /// Persons that must be members (empty when the DN is deleted).
    pub members: BTreeSet<Dbid>,
    /// The VQ DN's number (what SIP Server reports in `ThisDN`).
    pub number: String,
    /// The switch name.
    pub switch: String,
}

/// A case-insensitive name conflict: several Engage objects would map to one GC object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NameConflict {
    /// The GC object type (`user`, `skill`, `queue`, `wrapupCode`).
    pub object_type: &'static str,
    /// The names that collide.
    pub names: Vec<String>,
    /// The one that is synchronized (lowest DBID); the others are skipped until renamed.
    pub kept: String,
}

/// A person that cannot be synchronized, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkippedPerson {
    /// DBID.
    pub dbid: Dbid,
    /// Engage User Name.
    pub user_name: String,
    /// Why it is not synchronized.
    pub reason: String,
}

/// The whole desired org.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DesiredOrg {
    /// Users by person DBID.
    pub users: BTreeMap<Dbid, DesiredUser>,
    /// Persons not synchronized.
    pub skipped: Vec<SkippedPerson>,
    /// Skill names by skill DBID.
    pub skills: BTreeMap<Dbid, String>,
    /// Queues by DN DBID.
    pub queues: BTreeMap<Dbid, DesiredQueue>,
    /// Wrap-up code names (distinct).
    pub wrap_up_codes: Vec<String>,
    /// Extension DNs for EXCP/EXAS.
    pub extensions: Vec<DnRecord>,
    /// Name conflicts found.
    pub conflicts: Vec<NameConflict>,
}

/// Keeps, among objects whose names collide ignoring case, only the one with the lowest key;
/// records each collision.
fn dedupe_case<T>(
    items: BTreeMap<Dbid, T>,
    name: impl Fn(&T) -> &str,
    object_type: &'static str,
    conflicts: &mut Vec<NameConflict>,
) -> BTreeMap<Dbid, T> {
    let mut groups: BTreeMap<String, Vec<Dbid>> = BTreeMap::new();
    for (k, v) in &items {
        groups.entry(name(v).to_lowercase()).or_default().push(*k);
    }
    let mut drop = BTreeSet::new();
    for ids in groups.values().filter(|ids| ids.len() > 1) {
        let mut names: Vec<String> = ids
            .iter()
            .filter_map(|k| items.get(k).map(|v| name(v).to_string()))
            .collect();
        let kept = names.first().cloned().unwrap_or_default();
        names.sort();
        names.dedup();
        conflicts.push(NameConflict {
            object_type,
            names,
            kept,
        });
        drop.extend(ids.iter().skip(1).copied());
    }
    items
        .into_iter()
        .filter(|(k, _)| !drop.contains(k))
        .collect()
}

/// Computes the desired org from a snapshot.
pub fn desired_org(snapshot: &Snapshot, settings: &DesiredSettings) -> DesiredOrg {
    let filtered = settings.filter.apply(snapshot);
    let mut out = DesiredOrg::default();

    // Skills (folder-filtered, not deleted).
    let skills: BTreeMap<Dbid, String> = filtered
        .skills
        .values()
        .filter(|s| s.state != ObjectState::Deleted)
        .map(|s| (s.dbid, s.name.clone()))
        .collect();
    out.skills = dedupe_case(skills, |n| n.as_str(), "skill", &mut out.conflicts);

    // Proficiency scale per skill: MIN/MAX across every configured person.
    let mut levels: BTreeMap<Dbid, Vec<i64>> = BTreeMap::new();
    for p in snapshot
        .persons
        .values()
        .filter(|p| p.state != ObjectState::Deleted)
    {
        for l in &p.skills {
            levels.entry(l.skill_dbid).or_default().push(l.level);
        }
    }
    let scales: BTreeMap<Dbid, SkillScale> = levels
        .into_iter()
        .filter_map(|(k, v)| {
            SkillScale::from_levels(v, settings.skill_level_min, settings.skill_level_max)
                .map(|s| (k, s))
        })
        .collect();

    // Users.
    let mut users = BTreeMap::new();
    for p in filtered
        .persons
        .values()
        .filter(|p| p.state != ObjectState::Deleted)
    {
        let engage_user_name = p.user_name.clone().unwrap_or_default();
        let Some(user_name) = rules::pick_user_name(
            &engage_user_name,
            p.employee_id.as_deref(),
            p.email.as_deref(),
        ) else {
            out.skipped.push(SkippedPerson {
                dbid: p.dbid,
                user_name: engage_user_name,
                reason: "none of User Name, Employee ID, E-Mail is a valid e-mail address".into(),
            });
            continue;
        };
        let htcc_roles: Vec<&str> = p
            .annex
            .section("htcc")
            .map(|s| s.values("roles").iter().map(String::as_str).collect())
            .unwrap_or_default();
        let class = PersonClass::of(p.is_agent, htcc_roles);
        let skills = p
            .skills
            .iter()
            .filter_map(|l| {
                let name = out.skills.get(&l.skill_dbid)?;
                let scale = scales.get(&l.skill_dbid)?;
                Some((name.clone(), scale.proficiency(l.level)))
            })
            .collect();
        let agent_logins = p
            .agent_logins
            .iter()
            .filter_map(|id| snapshot.agent_logins.get(id))
            .filter(|l| l.state != ObjectState::Deleted)
            .map(|l| LoginRecord {
                switch_dbid: l.switch_dbid,
                switch: snapshot
                    .switches
                    .get(&l.switch_dbid)
                    .map(|s| s.name.clone())
                    .unwrap_or_default(),
                login_code: l.login_code.clone(),
            })
            .collect();
        users.insert(
            p.dbid,
            DesiredUser {
                person_dbid: p.dbid,
                display_name: rules::display_name(
                    p.first_name.as_deref(),
                    p.last_name.as_deref(),
                    &engage_user_name,
                ),
                email: p.email.clone().filter(|e| rules::is_valid_email(e)),
                external_id: rules::external_id(p.dbid, &engage_user_name),
                active: p.state == ObjectState::Enabled,
                class,
                skills,
                employee_id: p.employee_id.clone(),
                engage_user_name,
                agent_logins,
                user_name,
            },
        );
    }
    out.users = dedupe_case(users, |u| u.user_name.as_str(), "user", &mut out.conflicts);

    // Queue membership from (V)AGs linked by hybrid/WFM_queue_number.
    let mut members_by_number: BTreeMap<String, BTreeSet<Dbid>> = BTreeMap::new();
    for g in filtered
        .agent_groups
        .values()
        .filter(|g| g.state != ObjectState::Deleted)
    {
        let numbers = g.wfm_queue_numbers();
        if numbers.is_empty() {
            continue;
        }
        // One rule, cfgdb's: a VAG's script replaces its stored rows (evaluated against the
        // whole snapshot: the folder filter may hide a skill the script names).
        let mut members = engage_cfgdb::vag::queue_members(snapshot, g);
        members.retain(|d| out.users.contains_key(d));
        for n in numbers {
            members_by_number
                .entry(n.to_string())
                .or_default()
                .extend(members.iter().copied());
        }
    }

    // Queues from Virtual Queue DNs. A deleted VQ keeps its queue (if mapped) with no members.
    let mut queues = BTreeMap::new();
    for dn in filtered
        .dns
        .values()
        .filter(|d| d.dn_type == DnType::VirtAcdQueue)
    {
        let switch = snapshot
            .switches
            .get(&dn.switch_dbid)
            .map(|s| s.name.clone())
            .unwrap_or_else(|| format!("switch{}", dn.switch_dbid));
        let members = if dn.state == ObjectState::Deleted {
            BTreeSet::new()
        } else {
            members_by_number
                .get(&dn.number)
                .cloned()
                .unwrap_or_default()
        };
        queues.insert(
            dn.dbid,
            DesiredQueue {
                dn_dbid: dn.dbid,
                name: rules::queue_name(&dn.number, &switch, &settings.queue_suffix),
                description: rules::queue_description(
                    &settings.tenant_name,
                    &switch,
                    &dn.number,
                    dn.last_modified,
                ),
                members,
                number: dn.number.clone(),
                switch: switch.clone(),
            },
        );
    }
    out.queues = dedupe_case(queues, |q| q.name.as_str(), "queue", &mut out.conflicts);

    // Wrap-up codes: every value of every disposition attribute (never folder-filtered).
    let values: Vec<&str> = snapshot
        .disposition_attributes()
        .filter(|b| b.state != ObjectState::Deleted)
        .flat_map(|b| b.values.iter())
        .filter(|v| v.state != ObjectState::Deleted)
        .map(|v| v.name.as_str())
        .collect();
    let codes: BTreeMap<Dbid, String> = rules::wrap_up_code_names(values)
        .into_iter()
        .enumerate()
        .map(|(i, n)| (i as Dbid, n))
        .collect();
    out.wrap_up_codes = dedupe_case(codes, |n| n.as_str(), "wrapupCode", &mut out.conflicts)
        .into_values()
        .collect();

    // Extension DNs (folder-filtered) for EXCP and EXAS.
    out.extensions = filtered
        .dns
        .values()
        .filter(|d| d.dn_type == DnType::Extension && d.state != ObjectState::Deleted)
        .map(|d| {
            let switch = snapshot
                .switches
                .get(&d.switch_dbid)
                .map(|s| s.name.as_str())
                .unwrap_or("");
            DnRecord::new(&d.number, d.dbid, switch, d.switch_dbid)
        })
        .collect();
    out
}
