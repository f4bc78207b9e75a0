//! The removal guard: decides, before the reconciler runs, whether a cycle may deactivate and
//! remove what it plans to. Pure (no store, no clock, no GC): the service reads what is mapped
//! today ([`CurrentOrg`]) and passes it in with the desired org.
//!
//! Why: the reconciler ([`super::sync`]) deactivates every mapped user missing from a Config DB
//! read, empties every mapped queue whose VQ is missing, removes queue members and drops the
//! extension DN records EXCP relies on. An empty table, a folder-name typo, the wrong tenant or
//! a half-read snapshot would then wipe the org. The guard turns such reads into faults:
//!
//! - **Empty read** ([`BlockReason::EmptyRead`]): no person (or no agent) in scope while the org
//!   has mapped active users (or agents). Never an instruction, never confirmable: the cycle is
//!   refused until a read brings persons back, then sync resumes by itself.
//! - **Too many removals** ([`BlockReason::TooManyRemovals`]): a category (users deactivated,
//!   queues emptied, queue memberships removed, extension DN records dropped) would lose more
//!   than `EXCS_MAX_REMOVAL_PERCENT` (default 10) of what it holds. Refused unless the operator
//!   confirms with `EXCS_CONFIRM_REMOVALS` ([`Confirmation`]).
//!
//! Skills and wrap-up codes are never deleted by the reconciler, so they are not counted.
//!
//! The share allowed without confirmation is `floor(held × percent / 100)`, at least 1 when the
//! percent is above 0 (one removal is never a mass removal); 0 asks for confirmation of every
//! removal; 100 turns the limit off (empty reads are still refused).

use super::desired::DesiredOrg;
use super::rules::PersonClass;
use engage_cfgdb::model::Dbid;
use std::collections::{BTreeMap, BTreeSet};

/// Default of `EXCS_MAX_REMOVAL_PERCENT`.
pub const DEFAULT_MAX_REMOVAL_PERCENT: u8 = 10;

/// How much a cycle may remove without confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RemovalPolicy {
    /// The largest share (percent, 0–100) of a category one cycle may remove; 100 disables the
    /// limit.
    pub max_percent: u8,
}

impl Default for RemovalPolicy {
    fn default() -> Self {
        RemovalPolicy {
            max_percent: DEFAULT_MAX_REMOVAL_PERCENT,
        }
    }
}

impl RemovalPolicy {
    /// A policy allowing `max_percent` (clamped to 100).
    pub fn new(max_percent: u8) -> RemovalPolicy {
        RemovalPolicy {
            max_percent: max_percent.min(100),
        }
    }

    /// How many of `held` objects one cycle may remove without confirmation.
    pub fn allowed(&self, held: usize) -> usize {
        match self.max_percent {
            0 => 0,
            p if p >= 100 => usize::MAX,
            p => (held.saturating_mul(usize::from(p)) / 100).max(1),
        }
    }
}

/// The operator's confirmation of a refused cycle (`EXCS_CONFIRM_REMOVALS`).
///
/// One-shot: the service uses it for the first refused cycle it unlocks and then forgets it
/// until the next start, and logs that the setting should be removed. It never unlocks an
/// empty read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Confirmation {
    /// Nothing confirmed (unset, empty or `false`).
    #[default]
    None,
    /// `true`: allow the next refused cycle once, whatever it removes.
    Once,
    /// A number N: allow the next refused cycle once if it removes at most N objects in all
    /// (the figure `/status` and the log show as `planned`). A larger plan stays refused.
    UpTo(usize),
}

impl Confirmation {
    /// Parses `EXCS_CONFIRM_REMOVALS`: empty / `false` / `no` / `0` = none, `true` / `yes` =
    /// once, a positive number = at most that many removals.
    pub fn parse(value: &str) -> Result<Confirmation, String> {
        let v = value.trim();
        match v.to_ascii_lowercase().as_str() {
            "" | "false" | "no" | "0" => Ok(Confirmation::None),
            "true" | "yes" => Ok(Confirmation::Once),
            _ => v.parse::<usize>().map(Confirmation::UpTo).map_err(|_| {
                format!(
                    "`{v}` is neither true/false nor a number of removals; set it to the \
                     planned count /status shows (e.g. 12) or to true to allow one refused cycle"
                )
            }),
        }
    }

    /// Whether this confirmation unlocks a plan of `planned` removals.
    pub fn covers(&self, planned: usize) -> bool {
        match self {
            Confirmation::None => false,
            Confirmation::Once => true,
            Confirmation::UpTo(n) => planned <= *n,
        }
    }
}

/// A mapped person as the store shows it before the cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MappedPerson {
    /// Whether its GC user is active (a mapped person without a published record counts as
    /// active: the reconciler would deactivate it).
    pub active: bool,
    /// Whether it was published as an agent (or supervisor).
    pub is_agent: bool,
}

/// What is mapped and published before the cycle (read from the store by the service).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CurrentOrg {
    /// Mapped persons by DBID.
    pub persons: BTreeMap<Dbid, MappedPerson>,
    /// Mapped queues by VQ DN DBID; `true` when already emptied (its VQ left the scope).
    pub queues: BTreeMap<Dbid, bool>,
    /// Members (person DBIDs) of each queue as last applied; `None` when unknown (first cycle
    /// after the store was cleared), in which case memberships are not counted.
    pub members: Option<BTreeMap<Dbid, BTreeSet<Dbid>>>,
    /// Published extension DN record keys (`dn:{switch}:{number}`).
    pub extensions: BTreeSet<String>,
}

/// What the Config DB read held before folder filtering (for the explanation of an empty read).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadSummary {
    /// Persons in the snapshot (any folder, not deleted).
    pub persons_read: usize,
    /// Whether a folder filter is on.
    pub folder_filter: bool,
}

/// A kind of removal the guard counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Category {
    /// Users made inactive.
    Users,
    /// Queues emptied (their VQ left the scope).
    Queues,
    /// Queue memberships removed.
    QueueMembers,
    /// Extension DN records dropped from the store (EXCP stops monitoring them).
    Extensions,
}

impl Category {
    /// The metric / log label.
    pub fn label(&self) -> &'static str {
        match self {
            Category::Users => "users",
            Category::Queues => "queues",
            Category::QueueMembers => "queueMembers",
            Category::Extensions => "extensions",
        }
    }
}

/// The removals one category would see.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Removal {
    /// The category.
    pub category: Category,
    /// How many would be removed.
    pub planned: usize,
    /// How many the category holds now.
    pub held: usize,
    /// How many may go without confirmation.
    pub allowed: usize,
    /// Up to ten of the objects (DBIDs or keys), for the log.
    pub sample: Vec<String>,
}

impl Removal {
    /// Whether this category exceeds its limit.
    pub fn over_limit(&self) -> bool {
        self.planned > self.allowed
    }
}

/// Everything a cycle would remove.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovalPlan {
    /// Per category (only categories with something held or planned).
    pub removals: Vec<Removal>,
}

impl RemovalPlan {
    /// Total planned removals over every category (what `EXCS_CONFIRM_REMOVALS=N` compares).
    pub fn planned(&self) -> usize {
        self.removals.iter().map(|r| r.planned).sum()
    }

    /// Whether any category exceeds its limit.
    pub fn over_limit(&self) -> bool {
        self.removals.iter().any(Removal::over_limit)
    }

    /// The planned count of one category.
    pub fn planned_in(&self, category: Category) -> usize {
        self.removals
            .iter()
            .filter(|r| r.category == category)
            .map(|r| r.planned)
            .sum()
    }
}

/// Why a cycle is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum BlockReason {
    /// No person, or no agent, in scope while the org has some: a faulty read.
    EmptyRead,
    /// More removals than `EXCS_MAX_REMOVAL_PERCENT` allows, not confirmed.
    TooManyRemovals,
}

impl BlockReason {
    /// The metric label (`excs_cycles_blocked_total{reason}`).
    pub fn label(&self) -> &'static str {
        match self {
            BlockReason::EmptyRead => "empty_read",
            BlockReason::TooManyRemovals => "too_many_removals",
        }
    }
}

/// A refused cycle: why, the figures, and what the operator can do (shown in `/status`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CycleBlock {
    /// Why.
    pub reason: BlockReason,
    /// One sentence naming the likely causes and the way out.
    pub message: String,
    /// Persons in the Config DB read (before the folder filter).
    pub persons_read: usize,
    /// Persons in scope (after the filter).
    pub persons_in_scope: usize,
    /// Agents (and supervisors) in scope.
    pub agents_in_scope: usize,
    /// Mapped users that are active in GC.
    pub active_users_mapped: usize,
    /// Of them, agents.
    pub active_agents_mapped: usize,
    /// The removals the cycle would have made.
    pub plan: RemovalPlan,
}

/// The guard's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Run the cycle.
    Proceed {
        /// What it will remove.
        plan: RemovalPlan,
        /// Whether it runs only because the operator confirmed it (the service then consumes
        /// the confirmation).
        confirmed: bool,
    },
    /// Do not run it.
    Blocked(CycleBlock),
}

fn sample<T: ToString>(items: impl IntoIterator<Item = T>) -> Vec<String> {
    items.into_iter().take(10).map(|i| i.to_string()).collect()
}

/// What the cycle for `desired` would remove from `current`, under `policy`.
pub fn plan_removals(
    desired: &DesiredOrg,
    current: &CurrentOrg,
    policy: &RemovalPolicy,
) -> RemovalPlan {
    let mut removals = Vec::new();
    let mut push = |category, planned: Vec<String>, held: usize| {
        if held > 0 || !planned.is_empty() {
            removals.push(Removal {
                category,
                planned: planned.len(),
                held,
                allowed: policy.allowed(held),
                sample: sample(planned),
            });
        }
    };

    // Users: an active mapped person leaving the scope, or disabled in Engage, is deactivated.
    let active: Vec<Dbid> = current
        .persons
        .iter()
        .filter(|(_, p)| p.active)
        .map(|(d, _)| *d)
        .collect();
    let deactivated: Vec<String> = active
        .iter()
        .filter(|d| desired.users.get(d).is_none_or(|u| !u.active))
        .map(ToString::to_string)
        .collect();
    push(Category::Users, deactivated, active.len());

    // Queues: a mapped, not yet emptied queue whose VQ left the scope is emptied.
    let open: Vec<Dbid> = current
        .queues
        .iter()
        .filter(|(_, emptied)| !**emptied)
        .map(|(d, _)| *d)
        .collect();
    let emptied: Vec<String> = open
        .iter()
        .filter(|d| !desired.queues.contains_key(d))
        .map(ToString::to_string)
        .collect();
    push(Category::Queues, emptied, open.len());

    // Memberships: every (queue, person) pair applied before and not desired now, for persons
    // who stay active (a deactivated user leaves its queues too, but is counted as a user).
    if let Some(members) = &current.members {
        let held = members.values().map(BTreeSet::len).sum();
        let stays = |p: &Dbid| desired.users.get(p).is_some_and(|u| u.active);
        let mut gone = Vec::new();
        for (q, before) in members {
            let now = desired.queues.get(q).map(|dq| &dq.members);
            for p in before.iter().filter(|p| stays(p)) {
                if !now.is_some_and(|m| m.contains(p)) {
                    gone.push(format!("{q}/{p}"));
                }
            }
        }
        push(Category::QueueMembers, gone, held);
    }

    // Extension DN records.
    let wanted: BTreeSet<String> = desired
        .extensions
        .iter()
        .map(|d| engage_store::schema::keys::dn(&d.switch, &d.number))
        .collect();
    let dropped: Vec<String> = current
        .extensions
        .iter()
        .filter(|k| !wanted.contains(*k))
        .cloned()
        .collect();
    push(Category::Extensions, dropped, current.extensions.len());

    RemovalPlan { removals }
}

fn is_agent(class: PersonClass) -> bool {
    class != PersonClass::NonAgent
}

/// Decides whether the cycle for `desired` may run. `confirmation` is the operator's, still
/// unused.
pub fn assess(
    desired: &DesiredOrg,
    current: &CurrentOrg,
    read: &ReadSummary,
    policy: &RemovalPolicy,
    confirmation: Confirmation,
) -> Verdict {
    let plan = plan_removals(desired, current, policy);
    let active_users_mapped = current.persons.values().filter(|p| p.active).count();
    let active_agents_mapped = current
        .persons
        .values()
        .filter(|p| p.active && p.is_agent)
        .count();
    let persons_in_scope = desired.users.len();
    let agents_in_scope = desired.users.values().filter(|u| is_agent(u.class)).count();
    let block = |reason, message: String, plan: RemovalPlan| {
        Verdict::Blocked(CycleBlock {
            reason,
            message,
            persons_read: read.persons_read,
            persons_in_scope,
            agents_in_scope,
            active_users_mapped,
            active_agents_mapped,
            plan,
        })
    };

    let no_persons = persons_in_scope == 0 && active_users_mapped > 0;
    let no_agents = agents_in_scope == 0 && active_agents_mapped > 0;
    if no_persons || no_agents {
        let what = if no_persons { "no person" } else { "no agent" };
        let cause = if read.persons_read == 0 {
            "the Config DB returned no person at all: an empty or half-restored cfg_person \
             table, or the wrong database (EXCS_CONFIG_DB_NAME)"
                .to_string()
        } else if read.folder_filter {
            format!(
                "{} persons were read but the folder filter keeps {persons_in_scope}: check \
                 EXCS_SYNC_CUSTOMER_FOLDER_NAME for a typo (names are exact)",
                read.persons_read
            )
        } else {
            format!(
                "{} persons were read, {persons_in_scope} in scope: check EXEC_TENANT_ID \
                 (the wrong tenant) and that the persons are not all deleted",
                read.persons_read
            )
        };
        let message = format!(
            "Config DB read has {what} in scope while {active_users_mapped} users \
             ({active_agents_mapped} agents) are active in GC; treated as a faulty read, \
             nothing is deactivated. Likely cause: {cause}. Other causes: a folder-filter typo, \
             the wrong EXEC_TENANT_ID, an empty table. Sync resumes by itself once a read \
             brings them back"
        );
        return block(BlockReason::EmptyRead, message, plan);
    }

    if !plan.over_limit() {
        return Verdict::Proceed {
            plan,
            confirmed: false,
        };
    }
    if confirmation.covers(plan.planned()) {
        return Verdict::Proceed {
            plan,
            confirmed: true,
        };
    }
    let over: Vec<String> = plan
        .removals
        .iter()
        .filter(|r| r.over_limit())
        .map(|r| {
            format!(
                "{} {} of {} (at most {} allowed)",
                r.category.label(),
                r.planned,
                r.held,
                r.allowed
            )
        })
        .collect();
    let refused_confirmation = match confirmation {
        Confirmation::UpTo(n) => format!(" (EXCS_CONFIRM_REMOVALS={n} is less than planned)"),
        _ => String::new(),
    };
    let message = format!(
        "this cycle would remove more than EXCS_MAX_REMOVAL_PERCENT={}% allows: {}; \
         nothing is changed{refused_confirmation}. If the Config DB is right, set \
         EXCS_CONFIRM_REMOVALS={} (the planned total) and restart EXCS to run it once, then \
         remove the setting; if not, fix the Config DB or the folder filter and sync resumes",
        policy.max_percent,
        over.join(", "),
        plan.planned()
    );
    block(BlockReason::TooManyRemovals, message, plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::{DesiredQueue, DesiredUser};
    use engage_store::DnRecord;
    use proptest::prelude::*;

    fn user(dbid: Dbid, class: PersonClass, active: bool) -> DesiredUser {
        DesiredUser {
            person_dbid: dbid,
            user_name: format!("u{dbid}@example.com"),
            display_name: format!("U {dbid}"),
            email: None,
            external_id: format!("{dbid}_u{dbid}"),
            active,
            class,
            skills: BTreeMap::new(),
            employee_id: None,
            engage_user_name: format!("u{dbid}"),
            agent_logins: Vec::new(),
        }
    }

    fn queue(dbid: Dbid, members: impl IntoIterator<Item = Dbid>) -> DesiredQueue {
        DesiredQueue {
            dn_dbid: dbid,
            name: format!("q{dbid}"),
            description: String::new(),
            members: members.into_iter().collect(),
            number: dbid.to_string(),
            switch: "sw".into(),
        }
    }

    /// `n` agents 1..=n, one queue 1000 holding all of them, one extension each.
    fn org(n: i64) -> (DesiredOrg, CurrentOrg) {
        let mut d = DesiredOrg::default();
        let mut c = CurrentOrg::default();
        for i in 1..=n {
            d.users.insert(i, user(i, PersonClass::Agent, true));
            c.persons.insert(
                i,
                MappedPerson {
                    active: true,
                    is_agent: true,
                },
            );
            d.extensions
                .push(DnRecord::new(&format!("{}", 5000 + i), 5000 + i, "sw", 1));
            c.extensions.insert(engage_store::schema::keys::dn(
                "sw",
                &format!("{}", 5000 + i),
            ));
        }
        d.queues.insert(1000, queue(1000, 1..=n));
        c.queues.insert(1000, false);
        c.members = Some(BTreeMap::from([(1000, (1..=n).collect())]));
        (d, c)
    }

    fn read(n: usize) -> ReadSummary {
        ReadSummary {
            persons_read: n,
            folder_filter: false,
        }
    }

    fn remove_persons(d: &mut DesiredOrg, dbids: impl IntoIterator<Item = Dbid>) {
        for p in dbids {
            d.users.remove(&p);
            for q in d.queues.values_mut() {
                q.members.remove(&p);
            }
        }
    }

    #[test]
    fn allowed_share() {
        let p = RemovalPolicy::default();
        assert_eq!(p.allowed(0), 1);
        assert_eq!(p.allowed(5), 1, "one removal is never a mass removal");
        assert_eq!(p.allowed(20), 2);
        assert_eq!(p.allowed(1000), 100);
        assert_eq!(RemovalPolicy::new(0).allowed(1000), 0);
        assert_eq!(RemovalPolicy::new(200).allowed(7), usize::MAX);
        assert_eq!(RemovalPolicy::new(50).allowed(usize::MAX), usize::MAX / 100);
    }

    #[test]
    fn confirmation_parsing() {
        assert_eq!(Confirmation::parse(""), Ok(Confirmation::None));
        assert_eq!(Confirmation::parse(" false "), Ok(Confirmation::None));
        assert_eq!(Confirmation::parse("TRUE"), Ok(Confirmation::Once));
        assert_eq!(Confirmation::parse("12"), Ok(Confirmation::UpTo(12)));
        assert!(Confirmation::parse("maybe").is_err());
        assert!(Confirmation::parse("-3").is_err());
        assert!(Confirmation::UpTo(12).covers(12));
        assert!(!Confirmation::UpTo(12).covers(13));
        assert!(!Confirmation::None.covers(0));
    }

    #[test]
    fn nothing_removed_proceeds() {
        let (d, c) = org(20);
        let v = assess(
            &d,
            &c,
            &read(20),
            &RemovalPolicy::default(),
            Confirmation::None,
        );
        let Verdict::Proceed { plan, confirmed } = v else {
            panic!("{v:?}")
        };
        assert!(!confirmed);
        assert_eq!(plan.planned(), 0);
    }

    #[test]
    fn one_of_twenty_proceeds() {
        let (mut d, c) = org(20);
        remove_persons(&mut d, [7]);
        let v = assess(
            &d,
            &c,
            &read(19),
            &RemovalPolicy::default(),
            Confirmation::None,
        );
        let Verdict::Proceed { plan, confirmed } = v else {
            panic!("{v:?}")
        };
        assert!(!confirmed);
        assert_eq!(plan.planned_in(Category::Users), 1);
        assert_eq!(
            plan.planned_in(Category::QueueMembers),
            0,
            "a deactivated user's memberships are counted as the user"
        );
    }

    #[test]
    fn half_the_persons_is_refused_unless_confirmed() {
        let (mut d, c) = org(20);
        remove_persons(&mut d, 1..=10);
        let policy = RemovalPolicy::default();
        let v = assess(&d, &c, &read(10), &policy, Confirmation::None);
        let Verdict::Blocked(b) = v else {
            panic!("{v:?}")
        };
        assert_eq!(b.reason, BlockReason::TooManyRemovals);
        assert_eq!(b.plan.planned_in(Category::Users), 10);
        assert_eq!(b.plan.planned(), 10);
        assert!(
            b.message.contains("EXCS_CONFIRM_REMOVALS=10"),
            "{}",
            b.message
        );
        // A smaller count does not unlock it; the planned count and `true` do.
        assert!(matches!(
            assess(&d, &c, &read(10), &policy, Confirmation::UpTo(9)),
            Verdict::Blocked(_)
        ));
        for conf in [Confirmation::UpTo(10), Confirmation::Once] {
            assert!(matches!(
                assess(&d, &c, &read(10), &policy, conf),
                Verdict::Proceed {
                    confirmed: true,
                    ..
                }
            ));
        }
    }

    #[test]
    fn empty_read_is_a_fault_even_when_confirmed() {
        let (_, c) = org(20);
        let d = DesiredOrg::default();
        let v = assess(
            &d,
            &c,
            &read(0),
            &RemovalPolicy::new(100),
            Confirmation::Once,
        );
        let Verdict::Blocked(b) = v else {
            panic!("{v:?}")
        };
        assert_eq!(b.reason, BlockReason::EmptyRead);
        assert_eq!(b.active_users_mapped, 20);
        assert!(b.message.contains("cfg_person"), "{}", b.message);
        // A folder filter that keeps nobody is named as the likely cause.
        let filtered = ReadSummary {
            persons_read: 20,
            folder_filter: true,
        };
        let Verdict::Blocked(b) = assess(
            &d,
            &c,
            &filtered,
            &RemovalPolicy::default(),
            Confirmation::None,
        ) else {
            panic!("blocked")
        };
        assert!(
            b.message.contains("EXCS_SYNC_CUSTOMER_FOLDER_NAME"),
            "{}",
            b.message
        );
    }

    #[test]
    fn no_agents_left_is_a_fault() {
        let (mut d, c) = org(20);
        for u in d.users.values_mut() {
            u.class = PersonClass::NonAgent;
        }
        let v = assess(
            &d,
            &c,
            &read(20),
            &RemovalPolicy::new(100),
            Confirmation::None,
        );
        assert!(
            matches!(&v, Verdict::Blocked(b) if b.reason == BlockReason::EmptyRead),
            "{v:?}"
        );
    }

    #[test]
    fn an_empty_org_is_not_an_empty_read() {
        let d = DesiredOrg::default();
        let c = CurrentOrg::default();
        let v = assess(
            &d,
            &c,
            &read(0),
            &RemovalPolicy::default(),
            Confirmation::None,
        );
        assert!(matches!(v, Verdict::Proceed { .. }), "{v:?}");
    }

    #[test]
    fn emptied_queues_and_dropped_extensions_count() {
        let (mut d, mut c) = org(20);
        for q in 1001..1011 {
            c.queues.insert(q, false);
        }
        c.queues.insert(2000, true); // already emptied: not counted again
        let v = assess(
            &d,
            &c,
            &read(20),
            &RemovalPolicy::default(),
            Confirmation::None,
        );
        let Verdict::Blocked(b) = v else {
            panic!("{v:?}")
        };
        assert_eq!(b.plan.planned_in(Category::Queues), 10);
        d.extensions.clear();
        let plan = plan_removals(&d, &CurrentOrg::default(), &RemovalPolicy::default());
        assert_eq!(plan.planned(), 0);
        let plan = plan_removals(&d, &c, &RemovalPolicy::default());
        assert_eq!(plan.planned_in(Category::Extensions), 20);
    }

    #[test]
    fn an_emptied_group_table_is_refused() {
        let (mut d, c) = org(20);
        for q in d.queues.values_mut() {
            q.members.clear();
        }
        let Verdict::Blocked(b) = assess(
            &d,
            &c,
            &read(20),
            &RemovalPolicy::default(),
            Confirmation::None,
        ) else {
            panic!("refused")
        };
        assert_eq!(b.plan.planned_in(Category::QueueMembers), 20);
        assert_eq!(b.plan.planned_in(Category::Users), 0);
        // Unknown memberships (first cycle after a wipe) are not counted.
        let unknown = CurrentOrg { members: None, ..c };
        assert_eq!(
            plan_removals(&d, &unknown, &RemovalPolicy::default()).planned(),
            0
        );
    }

    #[test]
    fn disabled_persons_count_as_deactivations() {
        let (mut d, c) = org(10);
        for i in 1..=5 {
            if let Some(u) = d.users.get_mut(&i) {
                u.active = false;
            }
        }
        let plan = plan_removals(&d, &c, &RemovalPolicy::default());
        assert_eq!(plan.planned_in(Category::Users), 5);
    }

    proptest! {
        /// Removing k of n persons is refused exactly when k exceeds the allowed share; nothing
        /// unconfirmed over the limit ever proceeds, and a covering confirmation always does.
        #[test]
        fn refused_exactly_over_the_share(n in 1i64..200, k in 0i64..200, pct in 0u8..=100) {
            let k = k.min(n);
            let (mut d, c) = org(n);
            remove_persons(&mut d, 1..=k);
            let policy = RemovalPolicy::new(pct);
            let v = assess(&d, &c, &read(usize::try_from(n - k).unwrap_or(0)), &policy, Confirmation::None);
            let nu = usize::try_from(n).unwrap_or(0);
            let ku = usize::try_from(k).unwrap_or(0);
            if k == n {
                let empty = matches!(&v, Verdict::Blocked(b) if b.reason == BlockReason::EmptyRead);
                prop_assert!(empty);
            } else if ku > policy.allowed(nu) {
                let refused = matches!(&v, Verdict::Blocked(b) if b.reason == BlockReason::TooManyRemovals);
                prop_assert!(refused);
                let Verdict::Blocked(b) = v else { unreachable!() };
                let planned = b.plan.planned();
                let confirmed = matches!(
                    assess(&d, &c, &read(0), &policy, Confirmation::UpTo(planned)),
                    Verdict::Proceed { confirmed: true, .. }
                );
                prop_assert!(confirmed);
            } else {
                let unconfirmed = matches!(v, Verdict::Proceed { confirmed: false, .. });
                prop_assert!(unconfirmed);
            }
        }

        /// The plan never counts more removals than a category holds.
        #[test]
        fn planned_never_exceeds_held(n in 0i64..100, keep in proptest::collection::btree_set(0i64..120, 0..100)) {
            let (mut d, c) = org(n);
            let gone: Vec<Dbid> = (1..=n).filter(|p| !keep.contains(p)).collect();
            remove_persons(&mut d, gone);
            for r in plan_removals(&d, &c, &RemovalPolicy::default()).removals {
                prop_assert!(r.planned <= r.held, "{:?}", r);
            }
        }
    }
}
