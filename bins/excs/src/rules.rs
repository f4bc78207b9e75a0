//! The deployment guide's EXCS mapping rules, as pure functions. Each rule is tested here; the
//! engine only composes them.

use std::collections::BTreeSet;

/// Whether `s` is a valid e-mail address for a GC `userName` (conservative check: one `@`, a
/// non-empty local part without spaces, a dotted domain with non-empty labels).
pub fn is_valid_email(s: &str) -> bool {
    let s = s.trim();
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    if local.is_empty() || domain.contains('@') || s.chars().any(char::is_whitespace) {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
}

/// The GC `userName`: the first valid e-mail among User Name, Employee ID and E-Mail, in that
/// order. `None` means the person is not synchronized (the engine logs one error line).
pub fn pick_user_name(
    user_name: &str,
    employee_id: Option<&str>,
    email: Option<&str>,
) -> Option<String> {
    [Some(user_name), employee_id, email]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|c| is_valid_email(c))
        .map(str::to_string)
}

/// The GC `displayName`: "First Last" (whichever are present), else the User Name.
pub fn display_name(first: Option<&str>, last: Option<&str>, user_name: &str) -> String {
    let parts: Vec<&str> = [first, last]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        user_name.trim().to_string()
    } else {
        parts.join(" ")
    }
}

/// The GC `externalId` of a person: `DBID_username` (the Engage User Name).
pub fn external_id(dbid: i64, user_name: &str) -> String {
    format!("{dbid}_{}", user_name.trim())
}

/// A person's role class, which decides the GC roles it gets.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum PersonClass {
    /// "Is Agent" unchecked.
    NonAgent,
    /// "Is Agent" checked.
    Agent,
    /// An agent whose annex `htcc/roles` lists `Supervisor`.
    Supervisor,
}

impl PersonClass {
    /// Classifies a person from its agent flag and its annex `htcc/roles` values (each value may
    /// itself be a comma-separated list).
    pub fn of<'a>(is_agent: bool, htcc_roles: impl IntoIterator<Item = &'a str>) -> PersonClass {
        if !is_agent {
            return PersonClass::NonAgent;
        }
        let supervisor = htcc_roles
            .into_iter()
            .flat_map(|v| v.split(','))
            .any(|r| r.trim() == "Supervisor");
        if supervisor {
            PersonClass::Supervisor
        } else {
            PersonClass::Agent
        }
    }
}

/// The role names per class, from `hybrid_integration` (`nonagent_role_names`,
/// `agent_role_names`, `supervisor_role_names`), defaulting to the guide's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleNames {
    /// Roles of non-agents (default Employee).
    pub non_agent: Vec<String>,
    /// Roles of agents (default Employee, User).
    pub agent: Vec<String>,
    /// Roles of supervisors (default Employee, User, Supervisor).
    pub supervisor: Vec<String>,
}

impl Default for RoleNames {
    fn default() -> Self {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect();
        RoleNames {
            non_agent: v(&["Employee"]),
            agent: v(&["Employee", "User"]),
            supervisor: v(&["Employee", "User", "Supervisor"]),
        }
    }
}

impl RoleNames {
    /// Overrides from comma-separated option values (absent or empty keeps the default).
    pub fn with_overrides(
        non_agent: Option<&str>,
        agent: Option<&str>,
        supervisor: Option<&str>,
    ) -> RoleNames {
        let parse = |s: Option<&str>, d: Vec<String>| {
            let v: Vec<String> = s
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect();
            if v.is_empty() { d } else { v }
        };
        let d = RoleNames::default();
        RoleNames {
            non_agent: parse(non_agent, d.non_agent),
            agent: parse(agent, d.agent),
            supervisor: parse(supervisor, d.supervisor),
        }
    }

    /// The roles a new user of `class` gets.
    pub fn at_creation(&self, class: PersonClass) -> &[String] {
        match class {
            PersonClass::NonAgent => &self.non_agent,
            PersonClass::Agent => &self.agent,
            PersonClass::Supervisor => &self.supervisor,
        }
    }

    /// The roles to *add* when a person moves from `old` to `new`: agent→supervisor adds the
    /// supervisor roles, supervisor→agent adds the agent roles; nothing else changes roles, and
    /// roles are never removed.
    pub fn on_transition(&self, old: PersonClass, new: PersonClass) -> &[String] {
        match (old, new) {
            (PersonClass::Agent, PersonClass::Supervisor) => &self.supervisor,
            (PersonClass::Supervisor, PersonClass::Agent) => &self.agent,
            _ => &[],
        }
    }
}

/// The per-skill level range used to turn Engage levels into GC proficiencies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SkillScale {
    /// MIN across persons, clamped to the configured bounds.
    pub min: i64,
    /// MAX across persons, clamped to the configured bounds.
    pub max: i64,
}

impl SkillScale {
    /// The scale of one skill from every person's level for it, with the optional
    /// `skill_level_min_value` / `skill_level_max_value` bounds. `None` when no person has it.
    pub fn from_levels(
        levels: impl IntoIterator<Item = i64>,
        bound_min: Option<i64>,
        bound_max: Option<i64>,
    ) -> Option<SkillScale> {
        let (mut min, mut max) = (i64::MAX, i64::MIN);
        let mut any = false;
        for l in levels {
            any = true;
            min = min.min(l);
            max = max.max(l);
        }
        if !any {
            return None;
        }
        let clamp = |v: i64| {
            let v = bound_min.map_or(v, |b| v.max(b));
            bound_max.map_or(v, |b| v.min(b))
        };
        Some(SkillScale {
            min: clamp(min),
            max: clamp(max),
        })
    }

    /// GC proficiency for an Engage level: `5 * level / (MAX - MIN)`, rounded to one decimal and
    /// kept within 0.0..=5.0 (the guide's formula).
    ///
    /// Our definition for `MAX == MIN` (the formula divides by zero): every person holds the
    /// skill at the single observed level, so a positive level is the top of the range, 5.0,
    /// and a level of zero or below is 0.0.
    pub fn proficiency(&self, level: i64) -> f64 {
        let span = self.max - self.min;
        let raw = if span <= 0 {
            if level > 0 { 5.0 } else { 0.0 }
        } else {
            5.0 * level as f64 / span as f64
        };
        let rounded = (raw * 10.0).round() / 10.0;
        rounded.clamp(0.0, 5.0)
    }
}

/// The GC queue name of a virtual queue DN: `<DN>__<SWITCH>__<suffix>`; the suffix is
/// `EXCS_GC_QUEUE_NAME_SUFFIX` without a leading dash (default `Engage-external`).
pub fn queue_name(dn: &str, switch: &str, suffix: &str) -> String {
    let suffix = suffix.trim().trim_start_matches('-');
    let suffix = if suffix.is_empty() {
        "Engage-external"
    } else {
        suffix
    };
    format!("{dn}__{switch}__{suffix}")
}

/// The GC queue description: `Engage Reference: <TENANT>-<SWITCH>-<DN>; Last modified:
/// <hh:mm:ss MM/DD/YYYY>;` in UTC; the last-modified part is omitted when the DN has no history.
pub fn queue_description(
    tenant: &str,
    switch: &str,
    dn: &str,
    last_modified_unix: Option<i64>,
) -> String {
    let mut s = format!("Engage Reference: {tenant}-{switch}-{dn};");
    if let Some(dt) =
        last_modified_unix.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
    {
        s.push_str(&format!(
            " Last modified: {:02}:{:02}:{:02} {:02}/{:02}/{:04};",
            dt.hour(),
            dt.minute(),
            dt.second(),
            u8::from(dt.month()),
            dt.day(),
            dt.year()
        ));
    }
    s
}

/// Whether a business attribute holds disposition codes: type Interaction Operational
/// Attribute, and name `DispositionCode` or annex `htcc/contains=dispositions` (case-sensitive).
pub fn is_disposition_attribute(
    is_interaction_operational: bool,
    name: &str,
    htcc_contains: impl IntoIterator<Item = impl AsRef<str>>,
) -> bool {
    is_interaction_operational
        && (name == "DispositionCode"
            || htcc_contains
                .into_iter()
                .any(|v| v.as_ref() == "dispositions"))
}

/// One wrap-up code per distinct value name across all disposition attributes, in name order.
pub fn wrap_up_code_names<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    values
        .into_iter()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// Case-insensitive name conflicts among objects that map to one GC object type: every group
/// of two or more names equal ignoring case, each group sorted.
pub fn case_conflicts<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<Vec<String>> {
    let mut by_lower: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for n in names {
        by_lower
            .entry(n.to_lowercase())
            .or_default()
            .insert(n.to_string());
    }
    by_lower
        .into_values()
        .filter(|s| s.len() > 1)
        .map(|s| s.into_iter().collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_name_is_first_valid_email_in_order() {
        assert_eq!(
            pick_user_name("jdoe", Some("j.doe@acme.com"), Some("x@acme.com")).as_deref(),
            Some("j.doe@acme.com")
        );
        assert_eq!(
            pick_user_name("jdoe@acme.com", Some("e@acme.com"), None).as_deref(),
            Some("jdoe@acme.com")
        );
        assert_eq!(
            pick_user_name("jdoe", Some("1234"), Some("mail@acme.com")).as_deref(),
            Some("mail@acme.com")
        );
        assert_eq!(
            pick_user_name("jdoe", Some("1234"), Some("not an email")),
            None
        );
        assert_eq!(
            pick_user_name("a@b", None, None),
            None,
            "domain needs a dot"
        );
        assert_eq!(pick_user_name("a b@c.com", None, None), None);
        assert_eq!(pick_user_name("a@@c.com", None, None), None);
    }

    #[test]
    fn display_name_falls_back_to_user_name() {
        assert_eq!(display_name(Some("Jane"), Some("Doe"), "jd"), "Jane Doe");
        assert_eq!(display_name(Some("Jane"), None, "jd"), "Jane");
        assert_eq!(display_name(None, Some(" "), "jd"), "jd");
        assert_eq!(display_name(None, None, "jd"), "jd");
    }

    #[test]
    fn external_id_is_dbid_underscore_username() {
        assert_eq!(external_id(101, "jdoe"), "101_jdoe");
    }

    #[test]
    fn person_classes() {
        assert_eq!(
            PersonClass::of(false, ["Supervisor"]),
            PersonClass::NonAgent
        );
        assert_eq!(
            PersonClass::of(true, Vec::<&str>::new()),
            PersonClass::Agent
        );
        assert_eq!(
            PersonClass::of(true, ["Agent, Supervisor"]),
            PersonClass::Supervisor
        );
        assert_eq!(PersonClass::of(true, ["supervisor"]), PersonClass::Agent);
    }

    #[test]
    fn roles_at_creation_and_on_transition() {
        let r = RoleNames::default();
        assert_eq!(r.at_creation(PersonClass::NonAgent), ["Employee"]);
        assert_eq!(r.at_creation(PersonClass::Agent), ["Employee", "User"]);
        assert_eq!(
            r.at_creation(PersonClass::Supervisor),
            ["Employee", "User", "Supervisor"]
        );
        assert_eq!(
            r.on_transition(PersonClass::Agent, PersonClass::Supervisor),
            ["Employee", "User", "Supervisor"]
        );
        assert_eq!(
            r.on_transition(PersonClass::Supervisor, PersonClass::Agent),
            ["Employee", "User"]
        );
        assert!(
            r.on_transition(PersonClass::Agent, PersonClass::NonAgent)
                .is_empty()
        );
        assert!(
            r.on_transition(PersonClass::NonAgent, PersonClass::Agent)
                .is_empty()
        );
        let o = RoleNames::with_overrides(Some("Staff"), None, Some("Lead, QA "));
        assert_eq!(o.non_agent, ["Staff"]);
        assert_eq!(o.agent, ["Employee", "User"]);
        assert_eq!(o.supervisor, ["Lead", "QA"]);
    }

    #[test]
    fn proficiency_formula() {
        let s = SkillScale::from_levels([1, 5, 10], None, None).unwrap();
        assert_eq!((s.min, s.max), (1, 10));
        // 5 * level / (MAX - MIN) = 5 * level / 9
        assert_eq!(s.proficiency(1), 0.6);
        assert_eq!(s.proficiency(5), 2.8);
        assert_eq!(s.proficiency(9), 5.0);
        assert_eq!(s.proficiency(10), 5.0, "kept within 0..5");
        assert_eq!(s.proficiency(-3), 0.0);
    }

    #[test]
    fn proficiency_bounds_clamp_min_and_max() {
        let s = SkillScale::from_levels([0, 50, 100], Some(0), Some(10)).unwrap();
        assert_eq!((s.min, s.max), (0, 10));
        assert_eq!(s.proficiency(4), 2.0);
        assert_eq!(s.proficiency(100), 5.0);
        let s = SkillScale::from_levels([3, 4], Some(5), None).unwrap();
        assert_eq!((s.min, s.max), (5, 5), "both below the lower bound");
        assert!(SkillScale::from_levels(Vec::<i64>::new(), None, None).is_none());
    }

    #[test]
    fn proficiency_when_max_equals_min() {
        let s = SkillScale::from_levels([7, 7], None, None).unwrap();
        assert_eq!(s.proficiency(7), 5.0);
        let s = SkillScale::from_levels([0], None, None).unwrap();
        assert_eq!(s.proficiency(0), 0.0);
    }

    #[test]
    fn queue_naming() {
        assert_eq!(
            queue_name("VQ_Sales_Leads", "VQ-Switch", "-Engage-external"),
            "VQ_Sales_Leads__VQ-Switch__Engage-external"
        );
        assert_eq!(queue_name("VQ1", "S", ""), "VQ1__S__Engage-external");
        assert_eq!(queue_name("VQ1", "S", "Acme"), "VQ1__S__Acme");
    }

    #[test]
    fn queue_description_with_and_without_history() {
        // 2023-04-19 13:05:25 UTC
        assert_eq!(
            queue_description(
                "tenant001",
                "SIPSwitch",
                "VQ_Sales_Leads",
                Some(1_681_909_525)
            ),
            "Engage Reference: tenant001-SIPSwitch-VQ_Sales_Leads; Last modified: 13:05:25 04/19/2023;"
        );
        assert_eq!(
            queue_description("t", "S", "VQ", None),
            "Engage Reference: t-S-VQ;"
        );
    }

    #[test]
    fn disposition_attributes() {
        let none: [&str; 0] = [];
        assert!(is_disposition_attribute(true, "DispositionCode", none));
        assert!(is_disposition_attribute(true, "Billing", ["dispositions"]));
        assert!(!is_disposition_attribute(true, "Billing", ["Dispositions"]));
        assert!(!is_disposition_attribute(false, "DispositionCode", none));
        assert!(!is_disposition_attribute(true, "dispositioncode", none));
        assert_eq!(
            wrap_up_code_names(["Resolved", "Escalated", "Resolved", " "]),
            ["Escalated", "Resolved"]
        );
    }

    #[test]
    fn conflicts_are_case_insensitive_groups() {
        let c = case_conflicts(["queue1", "Queue1", "queue2", "QUEUE1"]);
        assert_eq!(c, vec![vec!["QUEUE1", "Queue1", "queue1"]]);
        assert!(case_conflicts(["a", "b"]).is_empty());
    }
}
