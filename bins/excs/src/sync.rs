//! The reconciler: makes the GC org match a [`DesiredOrg`], remembering what it did in the store.
//!
//! Idempotent by construction, so a restart in the middle of a sync resumes without duplicates:
//! every GC object is mapped in the store right after it is created, and a create that fails
//! because the name exists (a crash between create and map) adopts the existing object instead.
//!
//! Two kinds of cycles:
//! - *full* (at start and every drift-check interval): lists the GC side and restores every
//!   mapped field that drifted in GC (fields EXCS does not manage are never touched);
//! - *incremental* (every poll): writes only objects whose desired state changed since they were
//!   last applied (a hash per object in the store), so a quiet contact center costs nothing.
//!
//! Deletion rules of the guide: a person leaving the scope makes its user inactive and removes it
//! from every queue; a re-created person (new DBID, same user name) reactivates the user; a
//! deleted VQ keeps its queue with no members; skills and wrap-up codes are never deleted.
//! Objects deleted in GC after EXCS mapped them are not re-created (they are remembered in the
//! store until it is cleared). A person with no mapping whose e-mail belongs to a *deleted* GC
//! user (GC keeps the e-mail, so a create conflicts) restores that user with a `state` PATCH,
//! as the terraform provider does.
//!
//! Genesys Cloud fidelity (see `gcex/README.md`): user PATCHes re-read and retry on a stale
//! `version` (409 or 400); the external id is read before it is posted; skills are changed
//! with chunked `PATCH …/routingskills/bulk` and single DELETEs (never the replace-all PUT);
//! queues are updated read-modify-write, because their PUT replaces the whole queue.
//!
//! Users go through GC's SCIM API by default ([`UserApi`], `EXCS_USER_API`; issue 17): a new
//! person is one `POST /api/v2/scim/v2/users` with everything the guide's Person → User table
//! names plus roles and skills; a changed one is one GET and at most one PATCH of the
//! attributes EXCS owns (`If-Match`, re-read on `invalidVers`); roles are only ever added, a
//! configured role the org lacks is left out (logged once, `excs_roles_missing`); skills EXCS
//! does not manage are written back unchanged. The Users API path stays for orgs without SCIM.

use super::desired::{DesiredOrg, DesiredQueue, DesiredUser, NameConflict};
use super::rules::{PersonClass, RoleNames};
use engage_ops::metrics::Metrics;
use engage_store::schema::keys;
use engage_store::{
    IdKind, IdMap, JsonView, Namespace, PRESENCE_SOURCE_KEY, PersonRecord, Store, StoreError,
};
use gcex::routing::{QueueRequest, WrapupCodeRequest};
use gcex::scim::{
    PATH_WORK_EMAIL, PatchOp, ScimEmail, ScimEnterpriseUser, ScimExternalId, ScimRoutingEntry,
    ScimUserExtensions, ScimUserRole, ScimV2CreateUser, ScimV2PatchOperation, ScimV2PatchRequest,
    path_external_ids, path_routing_skills,
};
use gcex::users::{Contact, CreateUser, SkillAssignment, UpdateUser, User, UserState};
use gcex::{EntityRef, GcClient, GcError, collect_all};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

/// The external-id authority EXCS registers users under (our design; GC leaves it free).
pub const EXTERNAL_ID_AUTHORITY: &str = "engage-connector";
/// The presence source EXCS creates once for the connector.
pub const PRESENCE_SOURCE_NAME: &str = "EX Engage Connector";

/// How EXCS provisions users (`EXCS_USER_API`).
///
/// - [`UserApi::Scim`] (default): `POST /api/v2/scim/v2/users` creates a user with its state,
///   e-mails, external id, roles and routing skills in one request (the guide's Person → User
///   table names exactly SCIM's fields); updates are one GET and, when something EXCS owns
///   differs, one PATCH with `If-Match`.
/// - [`UserApi::Users`]: the Users API (create, external id, roles, skills: about five
///   requests per new user), for orgs where SCIM is not enabled.
///
/// Queues, members, skills and wrap-up codes are the same on both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserApi {
    /// Genesys Cloud's SCIM 2.0 API.
    #[default]
    Scim,
    /// The Users API.
    Users,
}

impl std::str::FromStr for UserApi {
    type Err = String;

    fn from_str(s: &str) -> Result<UserApi, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "scim" => Ok(UserApi::Scim),
            "users" => Ok(UserApi::Users),
            other => Err(format!(
                "scim (GC's SCIM API) or users (the Users API, for orgs without SCIM), not {other:?}"
            )),
        }
    }
}

/// What can stop a sync cycle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// Genesys Cloud refused or could not be reached.
    #[error("Genesys Cloud: {0}")]
    Gc(#[from] GcError),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl SyncError {
    /// Whether the next cycle may succeed without operator action.
    pub fn is_retryable(&self) -> bool {
        match self {
            SyncError::Gc(e) => e.is_retryable(),
            SyncError::Store(e) => e.is_retryable(),
        }
    }
}

/// What one cycle did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncReport {
    /// Users created.
    pub users_created: usize,
    /// Users updated (fields, state, roles or skills).
    pub users_updated: usize,
    /// Users made inactive because their person left the scope.
    pub users_deactivated: usize,
    /// Deleted GC users restored because an unmapped person owns their e-mail.
    pub users_restored: usize,
    /// Skills created.
    pub skills_created: usize,
    /// Queues created.
    pub queues_created: usize,
    /// Queues updated (name, description, members or wrap-up codes).
    pub queues_updated: usize,
    /// Wrap-up codes created.
    pub wrap_up_codes_created: usize,
    /// Objects skipped because they were deleted in GC.
    pub skipped_deleted_in_gc: usize,
    /// Per-object failures (the cycle goes on; they are retried next cycle).
    pub errors: Vec<String>,
    /// Config DB changes (created / changed / deleted objects) the poll found.
    pub config_changes: usize,
    /// True when the poll found no Config DB change, no drift check was due and nothing was
    /// left to retry, so GC was not touched.
    pub unchanged: bool,
}

impl SyncReport {
    /// Whether the cycle created, changed, deactivated or restored anything in GC.
    pub fn wrote_anything(&self) -> bool {
        self.users_created
            + self.users_updated
            + self.users_deactivated
            + self.users_restored
            + self.skills_created
            + self.queues_created
            + self.queues_updated
            + self.wrap_up_codes_created
            > 0
    }

    /// One line with the figures of the cycle, for the log: what it wrote, what failed, how long
    /// it took, how many GC requests it made (and how many GC answered 429).
    pub fn summary(&self, took: std::time::Duration, requests: u64, rate_limited: u64) -> String {
        let secs = took.as_secs_f64();
        format!(
            "users {} created, {} updated, {} deactivated, {} restored; skills {} created; queues \
             {} created, {} updated; wrap-up codes {} created; {} skipped (deleted in GC); {} \
             failed; {} Config DB changes; {:.1} s, {} GC requests ({:.1}/s), {} rate-limited",
            self.users_created,
            self.users_updated,
            self.users_deactivated,
            self.users_restored,
            self.skills_created,
            self.queues_created,
            self.queues_updated,
            self.wrap_up_codes_created,
            self.skipped_deleted_in_gc,
            self.errors.len(),
            self.config_changes,
            secs,
            requests,
            requests as f64 / secs.max(0.001),
            rate_limited,
        )
    }
}

/// Live status for `/status`: progress of the initial sync, last result, conflicts.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncProgress {
    /// `InProgress`, `Success` or `Failed`.
    pub status: String,
    /// When the last cycle finished (RFC 3339), if any.
    pub time_stamp: Option<String>,
    /// Objects handled so far in the current cycle.
    pub done: usize,
    /// Objects to handle in the current cycle.
    pub total: usize,
    /// Per kind (`skills`, `users`, `queues`): `[done, total]` in the current cycle.
    pub kinds: BTreeMap<String, [usize; 2]>,
    /// Whether the initial sync has completed once.
    pub initial_sync_done: bool,
    /// Case-insensitive name conflicts (reported once each in the log).
    pub conflicts: Vec<NameConflict>,
    /// Last cycle's report.
    pub last_report: Option<SyncReport>,
    /// Last failure, if the last cycle failed.
    pub last_error: Option<String>,
    /// Why cycles are refused now, if they are ([`crate::guard`]).
    pub blocked: Option<crate::guard::CycleBlock>,
}

/// Shared, cloneable progress.
#[derive(Debug, Clone, Default)]
pub struct SharedProgress(Arc<Mutex<SyncProgress>>);

/// How often a long sync cycle logs its progress.
pub const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

impl SharedProgress {
    /// One object of `kind` handled.
    pub fn step(&self, kind: &str) {
        self.update(|p| {
            p.done += 1;
            if let Some(k) = p.kinds.get_mut(kind) {
                k[0] += 1;
            }
        });
    }

    /// The progress line the log shows every 10 s of a long cycle: per kind, the rate, GC
    /// requests per second, 429s, and the time left at the current rate.
    pub fn describe(&self, done_per_s: f64, gc_per_s: f64, rate_limited: u64) -> String {
        let p = self.get();
        let kinds: Vec<String> = p
            .kinds
            .iter()
            .map(|(k, [d, t])| format!("{k} {d}/{t}"))
            .collect();
        let left = p.total.saturating_sub(p.done);
        let eta = if done_per_s > 0.0 {
            let secs = left as f64 / done_per_s;
            if secs >= 90.0 {
                format!("about {:.0} min left", (secs / 60.0).ceil())
            } else {
                format!("about {secs:.0} s left")
            }
        } else {
            "no progress in the last interval".into()
        };
        format!(
            "{}; {done_per_s:.1} objects/s, {gc_per_s:.1} GC requests/s, rate-limited {rate_limited}; {eta}",
            kinds.join(", ")
        )
    }

    /// A snapshot of the progress.
    pub fn get(&self) -> SyncProgress {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut SyncProgress)) {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Records (or clears) the reason cycles are refused.
    pub(crate) fn set_blocked(&self, blocked: Option<crate::guard::CycleBlock>) {
        self.update(|p| p.blocked = blocked);
    }

    /// Records a poll that found nothing to do: a successful state stays successful with a
    /// fresh time stamp (so `/status` shows the org was checked recently).
    pub(crate) fn checked_unchanged(&self) {
        let now = now_stamp();
        self.update(|p| {
            if p.status == "Success" {
                p.time_stamp = now;
            }
        });
    }
}

/// Now, as `/status` prints it (UTC, milliseconds).
fn now_stamp() -> Option<String> {
    time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .ok()
}

fn is_work_email(c: &Contact) -> bool {
    c.media_type.as_deref() == Some("EMAIL") && c.kind.as_deref() == Some("WORK")
}

fn hash_of(v: &impl Hash) -> String {
    let mut h = DefaultHasher::new();
    v.hash(&mut h);
    format!("{:016x}", h.finish())
}

fn user_hash(u: &DesiredUser) -> String {
    let skills: Vec<(&String, u64)> = u.skills.iter().map(|(k, v)| (k, v.to_bits())).collect();
    hash_of(&(
        &u.user_name,
        &u.email,
        &u.display_name,
        &u.external_id,
        u.active,
        u.class,
        skills,
        &u.agent_logins,
        &u.employee_id,
    ))
}

fn queue_hash(q: &DesiredQueue, member_ids: &BTreeSet<String>, codes: &BTreeSet<String>) -> String {
    hash_of(&(&q.name, &q.description, member_ids, codes))
}

/// GC's side, as listed during a full cycle (names lower-cased for case-insensitive match).
#[derive(Debug, Default)]
struct GcView {
    users_by_email: HashMap<String, User>,
    users_by_id: HashMap<String, User>,
    skills_by_name: HashMap<String, String>,
    skill_ids: BTreeSet<String>,
    queues_by_name: HashMap<String, String>,
    queue_ids: BTreeSet<String>,
    codes_by_name: HashMap<String, String>,
    roles_by_name: HashMap<String, String>,
    /// Lower-cased role name → the org's spelling (SCIM names roles).
    role_names: HashMap<String, String>,
    /// Skill id → its name in GC (SCIM names skills, case-sensitively).
    skill_names: HashMap<String, String>,
}

/// What the SCIM path needs to name a user's skills and roles (SCIM names them; the Users
/// API takes ids).
struct OrgNames<'a> {
    /// Engage skill name → GC skill id (the skills EXCS manages).
    skill_ids: &'a BTreeMap<String, String>,
    /// GC skill id → its name in GC.
    skill_names: &'a HashMap<String, String>,
    /// Lower-cased role name → the org's spelling.
    role_names: &'a HashMap<String, String>,
}

impl OrgNames<'_> {
    /// The person's routing skills by GC name.
    fn desired_skills(&self, user: &DesiredUser) -> Vec<ScimRoutingEntry> {
        user.skills
            .iter()
            .filter_map(|(name, p)| {
                let id = self.skill_ids.get(name)?;
                let gc_name = self.skill_names.get(id).cloned().unwrap_or(name.clone());
                Some(ScimRoutingEntry::new(gc_name, *p))
            })
            .collect()
    }

    /// The operation that makes the user's managed skills `desired`, keeping the skills EXCS
    /// does not manage: a `replace` of the list with the unmanaged ones plus `desired`. When
    /// GC's answer carried no skill list at all, only an `add` of `desired` (nothing removed:
    /// what the user has is unknown).
    fn skills_op(
        &self,
        current: &gcex::scim::ScimV2User,
        desired: &[ScimRoutingEntry],
    ) -> Option<ScimV2PatchOperation> {
        let managed: BTreeSet<String> = self
            .skill_ids
            .iter()
            .map(|(name, id)| self.skill_names.get(id).unwrap_or(name).to_lowercase())
            .collect();
        let Some(listed) = current
            .genesys
            .as_ref()
            .and_then(|g| g.routing_skills.as_ref())
        else {
            return (!desired.is_empty()).then(|| {
                ScimV2PatchOperation::new(
                    PatchOp::Add,
                    path_routing_skills(),
                    serde_json::to_value(desired).unwrap_or_default(),
                )
            });
        };
        let key = |list: &[&ScimRoutingEntry]| -> BTreeMap<String, u64> {
            list.iter()
                .map(|e| (e.name.to_lowercase(), e.proficiency.to_bits()))
                .collect()
        };
        let current_managed: Vec<&ScimRoutingEntry> = listed
            .iter()
            .filter(|e| managed.contains(&e.name.to_lowercase()))
            .collect();
        if key(&current_managed) == key(&desired.iter().collect::<Vec<_>>()) {
            return None;
        }
        let list: Vec<ScimRoutingEntry> = listed
            .iter()
            .filter(|e| !managed.contains(&e.name.to_lowercase()))
            .cloned()
            .chain(desired.iter().cloned())
            .collect();
        Some(ScimV2PatchOperation::new(
            PatchOp::Replace,
            path_routing_skills(),
            serde_json::to_value(list).unwrap_or_default(),
        ))
    }
}

/// The EXCS reconciler.
#[derive(Debug, Clone)]
pub struct Reconciler {
    gc: GcClient,
    store: Arc<dyn Store>,
    ids: IdMap,
    json: JsonView,
    roles: RoleNames,
    metrics: Metrics,
    progress: SharedProgress,
    division: Option<EntityRef>,
    /// Set the connector's presence source as each agent's primary one.
    primary_presence_source: bool,
    /// How users are provisioned.
    user_api: UserApi,
    reported_conflicts: BTreeSet<Vec<String>>,
    /// Configured role names already reported missing in the org (logged once each).
    reported_missing_roles: BTreeSet<String>,
    /// Whether GC's refusal of the SCIM API was logged already (once per process).
    reported_scim_refused: Arc<std::sync::atomic::AtomicBool>,
    progress_every: std::time::Duration,
}

impl Reconciler {
    /// A reconciler writing to `gc` and remembering its work in `store` under `ns`.
    pub fn new(
        gc: GcClient,
        store: Arc<dyn Store>,
        ns: Namespace,
        roles: RoleNames,
        metrics: Metrics,
        progress: SharedProgress,
    ) -> Reconciler {
        Reconciler {
            ids: IdMap::new(store.clone(), ns.clone()),
            json: JsonView::new(store.clone(), ns),
            gc,
            store,
            roles,
            metrics,
            progress,
            division: None,
            reported_conflicts: BTreeSet::new(),
            primary_presence_source: false,
            user_api: UserApi::default(),
            reported_missing_roles: BTreeSet::new(),
            reported_scim_refused: Arc::default(),
            progress_every: PROGRESS_EVERY,
        }
    }

    /// Logs a long cycle's progress every `every` (`EXCS_PROGRESS_LOG_SECS`; default
    /// [`PROGRESS_EVERY`]).
    pub fn with_progress_every(mut self, every: std::time::Duration) -> Reconciler {
        self.progress_every = every.max(std::time::Duration::from_millis(100));
        self
    }

    /// Provisions users through `api` (`EXCS_USER_API`; see [`UserApi`]).
    pub fn with_user_api(mut self, api: UserApi) -> Reconciler {
        self.user_api = api;
        self
    }

    /// Makes the connector's presence source each synced agent's primary presence source
    /// (`EXCS_SET_PRIMARY_PRESENCE_SOURCE`; see [`crate::service::ExcsSettings`]).
    pub fn with_primary_presence_source(mut self, on: bool) -> Reconciler {
        self.primary_presence_source = on;
        self
    }

    /// The progress handle (for `/status`).
    pub fn progress(&self) -> SharedProgress {
        self.progress.clone()
    }

    /// The store this reconciler writes its maps to.
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    async fn view(&self) -> Result<GcView, SyncError> {
        let mut v = GcView::default();
        for state in [UserState::Active, UserState::Inactive] {
            for u in collect_all(self.gc.users(Some(state))).await? {
                if let Some(e) = u.email.clone().or_else(|| u.username.clone()) {
                    v.users_by_email.insert(e.to_lowercase(), u.clone());
                }
                v.users_by_id.insert(u.id.clone(), u);
            }
        }
        for s in collect_all(self.gc.skills(None)).await? {
            v.skills_by_name.insert(s.name.to_lowercase(), s.id.clone());
            v.skill_names.insert(s.id.clone(), s.name.clone());
            v.skill_ids.insert(s.id);
        }
        for q in collect_all(self.gc.queues(None)).await? {
            v.queues_by_name.insert(q.name.to_lowercase(), q.id.clone());
            v.queue_ids.insert(q.id);
        }
        for c in collect_all(self.gc.wrapup_codes()).await? {
            v.codes_by_name.insert(c.name.to_lowercase(), c.id);
        }
        for r in collect_all(self.gc.roles(None)).await? {
            v.role_names.insert(r.name.to_lowercase(), r.name.clone());
            v.roles_by_name.insert(r.name.to_lowercase(), r.id);
        }
        Ok(v)
    }

    async fn applied(&self, kind: &str, key: &str) -> Result<Option<String>, SyncError> {
        Ok(self.json.get(&keys::applied(kind, key)).await?)
    }

    async fn set_applied(&self, kind: &str, key: &str, hash: &str) -> Result<(), SyncError> {
        Ok(self
            .json
            .put(&keys::applied(kind, key), &hash.to_string())
            .await?)
    }

    async fn deleted_in_gc(&self, kind: &str, key: &str) -> Result<bool, SyncError> {
        Ok(self
            .json
            .get::<bool>(&keys::gc_deleted(kind, key))
            .await?
            .unwrap_or(false))
    }

    async fn mark_deleted_in_gc(&self, kind: &str, key: &str) -> Result<(), SyncError> {
        tracing::warn!(
            kind,
            key,
            "object was deleted in GC; not re-creating it until the store is cleared"
        );
        Ok(self.json.put(&keys::gc_deleted(kind, key), &true).await?)
    }

    /// Runs one cycle. `full` lists GC and restores drift; otherwise only changed objects are
    /// written.
    pub async fn run_cycle(
        &mut self,
        desired: &DesiredOrg,
        full: bool,
    ) -> Result<SyncReport, SyncError> {
        // A long cycle (the initial sync of a large site at GC's rate limit takes minutes)
        // says how far it is every 10 s; a short one says nothing until it ends.
        let progress = self.progress.clone();
        let gc = self.gc.clone();
        let every = self.progress_every;
        let reporter = async move {
            let mut last = (progress.get().done, gc.stats(), tokio::time::Instant::now());
            loop {
                tokio::time::sleep(every).await;
                let (done, stats, now) =
                    (progress.get().done, gc.stats(), tokio::time::Instant::now());
                let secs = now.duration_since(last.2).as_secs_f64().max(0.001);
                let line = progress.describe(
                    done.saturating_sub(last.0) as f64 / secs,
                    stats.requests.saturating_sub(last.1.requests) as f64 / secs,
                    stats.rate_limited,
                );
                tracing::info!(full, "sync in progress: {line}");
                last = (done, stats, now);
            }
        };
        let (started, before) = (tokio::time::Instant::now(), self.gc.stats());
        let r = tokio::select! {
            r = self.run_cycle_inner(desired, full) => r,
            () = reporter => unreachable!("the reporter never ends"),
        };
        self.metrics.record_gc("excs", &self.gc);
        if let Ok(rep) = &r {
            let took = started.elapsed();
            let after = self.gc.stats();
            let line = rep.summary(
                took,
                after.requests.saturating_sub(before.requests),
                after.rate_limited.saturating_sub(before.rate_limited),
            );
            // A cycle that changed something, failed on objects or took long says so at INFO;
            // the quiet drift checks of an idle site at DEBUG.
            if rep.wrote_anything() || !rep.errors.is_empty() || took >= self.progress_every {
                tracing::info!(full, "sync cycle done: {line}");
            } else {
                tracing::debug!(full, "sync cycle done: {line}");
            }
        }
        r
    }

    async fn run_cycle_inner(
        &mut self,
        desired: &DesiredOrg,
        full: bool,
    ) -> Result<SyncReport, SyncError> {
        let total = desired.users.len() + desired.queues.len() + desired.skills.len();
        self.progress.update(|p| {
            p.status = "InProgress".into();
            p.done = 0;
            p.total = total;
            p.kinds = BTreeMap::from([
                ("skills".to_string(), [0, desired.skills.len()]),
                ("users".to_string(), [0, desired.users.len()]),
                ("queues".to_string(), [0, desired.queues.len()]),
            ]);
            p.conflicts = desired.conflicts.clone();
        });
        for c in &desired.conflicts {
            if self.reported_conflicts.insert(c.names.clone()) {
                tracing::error!(
                    object_type = c.object_type,
                    names = ?c.names,
                    kept = %c.kept,
                    "case-insensitive name conflict: only one object is synchronized; rename the others in Engage"
                );
                self.metrics.inc(
                    "excs_name_conflicts_total",
                    "Case-insensitive name conflicts detected.",
                    &[("type", c.object_type)],
                );
            }
        }
        self.metrics.set(
            "excs_name_conflicts",
            "Current case-insensitive name conflicts.",
            &[],
            desired.conflicts.len() as f64,
        );
        let result = self.cycle(desired, full).await;
        let now = now_stamp();
        match &result {
            Ok(report) => {
                self.progress.update(|p| {
                    p.status = if report.errors.is_empty() {
                        "Success"
                    } else {
                        "Failed"
                    }
                    .into();
                    p.time_stamp = now;
                    p.done = p.total;
                    p.initial_sync_done = true;
                    p.last_report = Some(report.clone());
                    p.last_error = report.errors.first().cloned();
                });
                self.metrics.inc(
                    "excs_sync_cycles_total",
                    "Sync cycles run.",
                    &[("result", "ok")],
                );
            }
            Err(e) => {
                let msg = e.to_string();
                self.progress.update(|p| {
                    p.status = "Failed".into();
                    p.time_stamp = now;
                    p.last_error = Some(msg);
                });
                self.metrics.inc(
                    "excs_sync_cycles_total",
                    "Sync cycles run.",
                    &[("result", "error")],
                );
            }
        }
        result
    }

    async fn cycle(&mut self, desired: &DesiredOrg, full: bool) -> Result<SyncReport, SyncError> {
        let mut report = SyncReport::default();
        if self.division.is_none() {
            self.division = Some(self.gc.home_division().await?);
        }
        let view = if full { Some(self.view().await?) } else { None };
        self.ensure_presence_source().await?;

        // Skills first: users reference them.
        let mut skill_ids: BTreeMap<String, String> = BTreeMap::new();
        for (dbid, name) in &desired.skills {
            let key = dbid.to_string();
            if let Some(id) = self.ids.gc_id(IdKind::Skill, &key).await? {
                if view.as_ref().is_some_and(|v| !v.skill_ids.contains(&id)) {
                    self.mark_deleted_in_gc("skill", &key).await?;
                    self.ids.remove(IdKind::Skill, &key).await?;
                    report.skipped_deleted_in_gc += 1;
                    continue;
                }
                skill_ids.insert(name.clone(), id);
                continue;
            }
            if self.deleted_in_gc("skill", &key).await? {
                report.skipped_deleted_in_gc += 1;
                continue;
            }
            let existing = match &view {
                Some(v) => v.skills_by_name.get(&name.to_lowercase()).cloned(),
                None => None,
            };
            let id = match existing {
                Some(id) => id,
                None => match self.gc.create_skill(name).await {
                    Ok(s) => {
                        report.skills_created += 1;
                        s.id
                    }
                    Err(e) if e.is_conflict() || e.is_bad_request() => {
                        match self.find_skill(name).await? {
                            Some(id) => id,
                            None => {
                                report.errors.push(format!("skill {name}: {e}"));
                                continue;
                            }
                        }
                    }
                    Err(e) => return Err(e.into()),
                },
            };
            self.ids.set(IdKind::Skill, &key, &id).await?;
            skill_ids.insert(name.clone(), id);
            self.progress.step("skills");
        }

        // Users.
        let (role_ids, role_names) = match &view {
            Some(v) => (v.roles_by_name.clone(), v.role_names.clone()),
            None => {
                let roles = collect_all(self.gc.roles(None)).await?;
                let names = roles
                    .iter()
                    .map(|r| (r.name.to_lowercase(), r.name.clone()))
                    .collect();
                let ids = roles
                    .into_iter()
                    .map(|r| (r.name.to_lowercase(), r.id))
                    .collect();
                (ids, names)
            }
        };
        self.report_missing_roles(&role_ids);
        let skill_names: HashMap<String, String> = skill_ids
            .iter()
            .map(|(name, id)| {
                let gc_name = view
                    .as_ref()
                    .and_then(|v| v.skill_names.get(id))
                    .cloned()
                    .unwrap_or_else(|| name.clone());
                (id.clone(), gc_name)
            })
            .collect();
        let mut user_ids: BTreeMap<i64, String> = BTreeMap::new();
        for (dbid, user) in &desired.users {
            let synced = match self.user_api {
                UserApi::Scim => {
                    let org = OrgNames {
                        skill_ids: &skill_ids,
                        skill_names: &skill_names,
                        role_names: &role_names,
                    };
                    self.sync_user_scim(user, &org, view.as_ref(), full, &mut report)
                        .await
                }
                UserApi::Users => {
                    self.sync_user(
                        user,
                        &skill_ids,
                        &role_ids,
                        view.as_ref(),
                        full,
                        &mut report,
                    )
                    .await
                }
            };
            match synced {
                Ok(Some(id)) => {
                    user_ids.insert(*dbid, id);
                }
                Ok(None) => {}
                Err(SyncError::Gc(e)) if !e.is_retryable() => {
                    report
                        .errors
                        .push(format!("user {} (DBID {dbid}): {e}", user.user_name));
                }
                Err(e) => return Err(e),
            }
            self.progress.step("users");
        }
        // Persons that left the scope: inactive, no queues, no published record.
        for (key, gc_id) in self.ids.all(IdKind::Person).await? {
            let Ok(dbid) = key.parse::<i64>() else {
                continue;
            };
            if desired.users.contains_key(&dbid) {
                continue;
            }
            if self
                .json
                .get::<PersonRecord>(&PersonRecord::key(dbid))
                .await?
                .is_some_and(|r| !r.active)
            {
                continue;
            }
            let deactivated = match self.user_api {
                // One PATCH, no version needed for a single replace.
                UserApi::Scim => self
                    .gc
                    .scim_patch_user(
                        &gc_id,
                        &ScimV2PatchRequest::new(vec![ScimV2PatchOperation::new(
                            PatchOp::Replace,
                            "active",
                            serde_json::Value::Bool(false),
                        )]),
                        None,
                    )
                    .await
                    .map(|_| ()),
                UserApi::Users => self
                    .gc
                    .set_user_state(&gc_id, UserState::Inactive)
                    .await
                    .map(|_| ()),
            };
            match deactivated {
                Ok(()) => report.users_deactivated += 1,
                Err(e) if e.is_not_found() => {}
                Err(e) if !e.is_retryable() => {
                    report
                        .errors
                        .push(format!("deactivate user DBID {dbid}: {e}"));
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            if let Some(mut rec) = self
                .json
                .get::<PersonRecord>(&PersonRecord::key(dbid))
                .await?
            {
                rec.active = false;
                self.json.put(&PersonRecord::key(dbid), &rec).await?;
            }
            self.json
                .delete(&keys::applied("user", &dbid.to_string()))
                .await?;
        }

        // Wrap-up codes (never deleted).
        let mut code_ids: BTreeSet<String> = BTreeSet::new();
        for name in &desired.wrap_up_codes {
            if let Some(id) = self.ids.gc_id(IdKind::WrapUpCode, name).await? {
                code_ids.insert(id);
                continue;
            }
            if self.deleted_in_gc("wrapup", name).await? {
                continue;
            }
            let existing = view
                .as_ref()
                .and_then(|v| v.codes_by_name.get(&name.to_lowercase()).cloned());
            let id = match existing {
                Some(id) => id,
                None => {
                    let body = WrapupCodeRequest {
                        name: name.clone(),
                        description: None,
                        division: self.division.clone(),
                    };
                    match self.gc.create_wrapup_code(&body).await {
                        Ok(c) => {
                            report.wrap_up_codes_created += 1;
                            c.id
                        }
                        Err(e) if e.is_conflict() || e.is_bad_request() => {
                            let found = collect_all(self.gc.wrapup_codes())
                                .await?
                                .into_iter()
                                .find(|c| c.name.eq_ignore_ascii_case(name));
                            match found {
                                Some(c) => c.id,
                                None => {
                                    report.errors.push(format!("wrap-up code {name}: {e}"));
                                    continue;
                                }
                            }
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            };
            self.ids.set(IdKind::WrapUpCode, name, &id).await?;
            code_ids.insert(id);
        }

        // Queues, members and their wrap-up codes.
        for (dbid, queue) in &desired.queues {
            match self
                .sync_queue(
                    queue,
                    &user_ids,
                    &code_ids,
                    view.as_ref(),
                    full,
                    &mut report,
                )
                .await
            {
                Ok(()) => {}
                Err(SyncError::Gc(e)) if !e.is_retryable() => {
                    report
                        .errors
                        .push(format!("queue {} (DN DBID {dbid}): {e}", queue.name));
                }
                Err(e) => return Err(e),
            }
            self.progress.step("queues");
        }
        // VQ records for EXCP (SIP Server names a VQ by switch and number).
        for (dbid, queue) in &desired.queues {
            let Some(queue_id) = self.ids.gc_id(IdKind::Queue, &dbid.to_string()).await? else {
                continue;
            };
            let rec = engage_store::VqRecord {
                number: queue.number.clone(),
                dn_dbid: *dbid,
                switch: queue.switch.clone(),
                queue_id,
            };
            let rel = engage_store::VqRecord::key(&rec.switch, &rec.number);
            if self
                .json
                .get::<engage_store::VqRecord>(&rel)
                .await?
                .as_ref()
                != Some(&rec)
            {
                self.json.put(&rel, &rec).await?;
            }
        }
        // Mapped queues whose DN left the scope keep the queue but lose their members.
        for (key, gc_id) in self.ids.all(IdKind::Queue).await? {
            let Ok(dbid) = key.parse::<i64>() else {
                continue;
            };
            if desired.queues.contains_key(&dbid) {
                continue;
            }
            if self.applied("queue", &key).await?.as_deref() == Some("emptied") {
                continue;
            }
            let members: Vec<String> = match collect_all(self.gc.queue_members(&gc_id)).await {
                Ok(m) => m.into_iter().map(|m| m.id).collect(),
                Err(e) if e.is_not_found() => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            if !members.is_empty() {
                self.gc.remove_queue_members(&gc_id, &members).await?;
                report.queues_updated += 1;
            }
            self.set_applied("queue", &key, "emptied").await?;
        }

        // Extension DNs for EXCP/EXAS.
        let mut live = BTreeSet::new();
        for dn in &desired.extensions {
            let rel = keys::dn(&dn.switch, &dn.number);
            live.insert(rel.clone());
            if self
                .json
                .get::<engage_store::DnRecord>(&rel)
                .await?
                .as_ref()
                != Some(dn)
            {
                self.json.put(&rel, dn).await?;
            }
        }
        for (rest, _) in self
            .json
            .scan::<engage_store::DnRecord>(keys::DN_PREFIX)
            .await?
        {
            let rel = format!("{}{rest}", keys::DN_PREFIX);
            if !live.contains(&rel) {
                self.json.delete(&rel).await?;
            }
        }

        self.metrics.set(
            "excs_users",
            "Users in scope.",
            &[],
            desired.users.len() as f64,
        );
        self.metrics.set(
            "excs_queues",
            "Queues in scope.",
            &[],
            desired.queues.len() as f64,
        );
        self.metrics.inc_by(
            "excs_users_created_total",
            "Users created in GC.",
            &[],
            report.users_created as u64,
        );
        self.metrics.inc_by(
            "excs_users_updated_total",
            "Users updated in GC.",
            &[],
            report.users_updated as u64,
        );
        self.metrics.inc_by(
            "excs_queues_created_total",
            "Queues created in GC.",
            &[],
            report.queues_created as u64,
        );
        Ok(report)
    }

    async fn find_skill(&self, name: &str) -> Result<Option<String>, SyncError> {
        Ok(collect_all(self.gc.skills(None))
            .await?
            .into_iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
            .map(|s| s.id))
    }

    /// Makes the connector's presence source the user's primary one, once per user and source
    /// (a mark in the store; a wiped store checks again).
    async fn ensure_primary_presence_source(&self, gc_id: &str) -> Result<(), SyncError> {
        let Some(source) = self.json.get::<String>(PRESENCE_SOURCE_KEY).await? else {
            return Ok(());
        };
        let mark = keys::applied("primarySource", gc_id);
        if self.json.get::<String>(&mark).await?.as_deref() == Some(source.as_str()) {
            return Ok(());
        }
        let current = self.gc.user_primary_presence_source(gc_id).await?;
        if current.source_id.as_deref() != Some(source.as_str()) {
            self.gc
                .set_user_primary_presence_source(gc_id, &source)
                .await?;
            self.metrics.inc(
                "excs_primary_presence_source_set_total",
                "Agents whose primary presence source EXCS set to the connector's (EXCS_SET_PRIMARY_PRESENCE_SOURCE).",
                &[],
            );
        }
        self.json.put(&mark, &source).await?;
        Ok(())
    }

    async fn ensure_presence_source(&self) -> Result<(), SyncError> {
        if self
            .json
            .get::<String>(PRESENCE_SOURCE_KEY)
            .await?
            .is_some()
        {
            return Ok(());
        }
        let existing = self
            .gc
            .presence_sources()
            .await?
            .into_iter()
            .find(|s| s.name == PRESENCE_SOURCE_NAME)
            .and_then(|s| s.id);
        let id = match existing {
            Some(id) => id,
            None => self
                .gc
                .create_presence_source(
                    PRESENCE_SOURCE_NAME,
                    Some("Agent states mirrored from Genesys Engage"),
                )
                .await?
                .id
                .unwrap_or_default(),
        };
        if !id.is_empty() {
            self.json.put(PRESENCE_SOURCE_KEY, &id).await?;
        }
        Ok(())
    }

    /// Finds the GC user for a person that has no mapping yet: by e-mail in the full view, or
    /// by listing (a re-created person, or a crash between create and map).
    async fn find_user_by_email(
        &self,
        email: &str,
        view: Option<&GcView>,
    ) -> Result<Option<User>, SyncError> {
        if let Some(v) = view {
            return Ok(v.users_by_email.get(&email.to_lowercase()).cloned());
        }
        if let Some(u) = self.gc.find_user_by_email(email).await? {
            return Ok(Some(u));
        }
        // The search may not return inactive users: list them.
        for state in [UserState::Inactive, UserState::Active] {
            let found = collect_all(self.gc.users(Some(state)))
                .await?
                .into_iter()
                .find(|u| {
                    u.email
                        .as_deref()
                        .or(u.username.as_deref())
                        .is_some_and(|e| e.eq_ignore_ascii_case(email))
                });
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// The start both user paths share: what the person is mapped to, or why it is skipped.
    /// `Err(Some(id))`/`Err(None)` end the person's sync with that answer (deleted in GC, or
    /// already applied); `Ok(mapped)` goes on.
    async fn user_start(
        &self,
        key: &str,
        hash: &str,
        view: Option<&GcView>,
        full: bool,
        report: &mut SyncReport,
    ) -> Result<Result<Option<String>, Option<String>>, SyncError> {
        let mapped = self.ids.gc_id(IdKind::Person, key).await?;
        match mapped {
            None if self.deleted_in_gc("user", key).await? => {
                report.skipped_deleted_in_gc += 1;
                Ok(Err(None))
            }
            None => Ok(Ok(None)),
            Some(id) => {
                if view.is_some_and(|v| !v.users_by_id.contains_key(&id)) {
                    // Deleted in GC: remember, never re-create.
                    self.mark_deleted_in_gc("user", key).await?;
                    self.ids.remove(IdKind::Person, key).await?;
                    report.skipped_deleted_in_gc += 1;
                    return Ok(Err(None));
                }
                if !full && self.applied("user", key).await?.as_deref() == Some(hash) {
                    return Ok(Err(Some(id)));
                }
                Ok(Ok(Some(id)))
            }
        }
    }

    async fn sync_user(
        &self,
        user: &DesiredUser,
        skill_ids: &BTreeMap<String, String>,
        role_ids: &HashMap<String, String>,
        view: Option<&GcView>,
        full: bool,
        report: &mut SyncReport,
    ) -> Result<Option<String>, SyncError> {
        let key = user.person_dbid.to_string();
        let hash = user_hash(user);
        let mapped = match self.user_start(&key, &hash, view, full, report).await? {
            Ok(mapped) => mapped,
            Err(answer) => return Ok(answer),
        };
        let state = if user.active {
            UserState::Active
        } else {
            UserState::Inactive
        };
        let (gc_id, created) = match mapped {
            Some(id) => (id, false),
            // Without a listing (incremental cycles), create first: a new person costs one
            // request; a re-created one answers "exists" and is then looked up.
            None => match view.and_then(|v| v.users_by_email.get(&user.user_name.to_lowercase())) {
                Some(existing) => (existing.id.clone(), false),
                None => {
                    let body = CreateUser {
                        name: user.display_name.clone(),
                        email: user.user_name.clone(),
                        addresses: user.email.iter().map(Contact::work_email).collect(),
                        division_id: self.division.as_ref().map(|d| d.id.clone()),
                        state: Some(state),
                        ..CreateUser::default()
                    };
                    match self.gc.create_user(&body).await {
                        Ok(u) => {
                            report.users_created += 1;
                            (u.id, true)
                        }
                        Err(e) if e.is_duplicate() || e.is_bad_request() => {
                            match self.find_user_by_email(&user.user_name, None).await? {
                                Some(u) => (u.id, false),
                                None => match self
                                    .gc
                                    .find_deleted_user_by_email(&user.user_name)
                                    .await?
                                {
                                    Some(u) => {
                                        tracing::info!(
                                            user = %user.user_name,
                                            gc_id = %u.id,
                                            "restoring the deleted GC user that owns this e-mail"
                                        );
                                        self.gc.set_user_state(&u.id, state).await?;
                                        report.users_restored += 1;
                                        (u.id, false)
                                    }
                                    None => return Err(e.into()),
                                },
                            }
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            },
        };
        self.ids.set(IdKind::Person, &key, &gc_id).await?;

        let mut changed = false;
        if !created {
            // Restore mapped fields (name, e-mail, state) without touching anything else.
            let current = match view.and_then(|v| v.users_by_id.get(&gc_id)) {
                Some(u) => u.clone(),
                None => self.gc.get_user(&gc_id, None).await?,
            };
            let name_ok = current.name.as_deref() == Some(user.display_name.as_str());
            let email_ok = current
                .email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(&user.user_name));
            let state_ok = current.state == Some(state);
            if !state_ok {
                self.gc.set_user_state(&gc_id, state).await?;
                changed = true;
            }
            // The Person's E-Mail is the user's WORK e-mail contact; other contacts are the
            // org's own and are kept.
            let addresses = user.email.as_ref().and_then(|e| {
                let has = current
                    .addresses
                    .iter()
                    .any(|c| is_work_email(c) && c.address.as_deref() == Some(e.as_str()));
                (!has).then(|| {
                    let mut list: Vec<Contact> = current
                        .addresses
                        .iter()
                        .filter(|c| !is_work_email(c))
                        .cloned()
                        .collect();
                    list.push(Contact::work_email(e.clone()));
                    list
                })
            });
            if !name_ok || !email_ok || addresses.is_some() {
                let (name, email) = (user.display_name.clone(), user.user_name.clone());
                self.gc
                    .update_user(&gc_id, 5, |_| UpdateUser {
                        name: Some(name.clone()),
                        email: Some(email.clone()),
                        addresses: addresses.clone(),
                        ..UpdateUser::default()
                    })
                    .await?;
                changed = true;
            }
        }

        // External id DBID_username: read first, post only when missing (GC answers 409 to a
        // repeat).
        let prev = self
            .json
            .get::<PersonRecord>(&PersonRecord::key(user.person_dbid))
            .await?;
        if created || full || prev.is_none() {
            self.gc
                .ensure_user_external_id(&gc_id, EXTERNAL_ID_AUTHORITY, &user.external_id)
                .await?;
        }

        // Roles: all at creation; later only class transitions add roles.
        let prev_class: Option<PersonClass> =
            self.json.get(&keys::person_class(user.person_dbid)).await?;
        let to_add: Vec<String> = match (created, prev_class) {
            (true, _) | (false, None) => self.roles.at_creation(user.class).to_vec(),
            (false, Some(old)) => self.roles.on_transition(old, user.class).to_vec(),
        };
        if !to_add.is_empty() {
            let wanted: Vec<String> = to_add
                .iter()
                // A role missing in the org is left out (reported once per cycle).
                .filter_map(|n| role_ids.get(&n.to_lowercase()).cloned())
                .collect();
            let current: BTreeSet<String> = self
                .gc
                .user_roles(&gc_id)
                .await?
                .roles
                .into_iter()
                .map(|r| r.id)
                .collect();
            if wanted.iter().any(|w| !current.contains(w)) {
                let all: Vec<String> = current
                    .iter()
                    .cloned()
                    .chain(wanted)
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                self.gc.set_user_roles(&gc_id, &all).await?;
                changed = true;
            }
        }
        self.json
            .put(&keys::person_class(user.person_dbid), &user.class)
            .await?;

        // Skills: the managed ones follow Engage; skills EXCS does not manage are kept.
        let desired_skills: BTreeMap<String, f64> = user
            .skills
            .iter()
            .filter_map(|(name, p)| skill_ids.get(name).map(|id| (id.clone(), *p)))
            .collect();
        let managed: BTreeSet<&String> = skill_ids.values().collect();
        let current = if created {
            Vec::new()
        } else {
            collect_all(self.gc.user_skills(&gc_id)).await?
        };
        let current_managed: BTreeMap<String, f64> = current
            .iter()
            .filter(|s| managed.contains(&s.id))
            .map(|s| (s.id.clone(), s.proficiency))
            .collect();
        if current_managed != desired_skills {
            // Add or update what differs (chunked PATCH), remove managed skills no longer
            // wanted; skills EXCS does not manage are never sent, so they stay.
            let upsert: Vec<SkillAssignment> = desired_skills
                .iter()
                .filter(|(id, p)| current_managed.get(*id) != Some(*p))
                .map(|(id, p)| SkillAssignment {
                    id: id.clone(),
                    proficiency: *p,
                })
                .collect();
            if !upsert.is_empty() {
                self.gc.patch_user_skills(&gc_id, &upsert).await?;
            }
            for id in current_managed.keys() {
                if !desired_skills.contains_key(id) {
                    self.gc.remove_user_skill(&gc_id, id).await?;
                }
            }
            changed = true;
        }

        if self.primary_presence_source && user.class != PersonClass::NonAgent {
            self.ensure_primary_presence_source(&gc_id).await?;
        }

        // Publish the person for EXAS/EXCP.
        let record = PersonRecord {
            dbid: user.person_dbid,
            gc_user_id: gc_id.clone(),
            user_name: user.engage_user_name.clone(),
            employee_id: user.employee_id.clone(),
            is_agent: user.class != PersonClass::NonAgent,
            active: user.active,
            logins: user.agent_logins.clone(),
        };
        if prev.as_ref() != Some(&record) {
            record.publish(&self.json).await?;
        }
        if changed && !created {
            report.users_updated += 1;
        }
        self.set_applied("user", &key, &hash).await?;
        Ok(Some(gc_id))
    }

    /// Logs once each configured role name (`*_role_names`) the org does not have, and sets
    /// the `excs_roles_missing` gauge: users are created with the other roles (the guide's
    /// rule), on both user APIs.
    fn report_missing_roles(&mut self, role_ids: &HashMap<String, String>) {
        let configured: BTreeSet<&String> = self
            .roles
            .non_agent
            .iter()
            .chain(&self.roles.agent)
            .chain(&self.roles.supervisor)
            .collect();
        let missing: Vec<&String> = configured
            .into_iter()
            .filter(|n| !role_ids.contains_key(&n.to_lowercase()))
            .collect();
        for name in &missing {
            if self.reported_missing_roles.insert(name.to_lowercase()) {
                tracing::warn!(
                    role = %name,
                    "a configured GC role does not exist in the org: users are created with the other roles; create the role or fix *_role_names in hybrid_integration"
                );
            }
        }
        let (metric, help) = crate::service::ROLES_MISSING;
        self.metrics.set(metric, help, &[], missing.len() as f64);
    }

    /// Role names of `names` that exist in the org, in the org's spelling.
    fn existing_roles(names: &[String], role_names: &HashMap<String, String>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for n in names {
            if let Some(org) = role_names.get(&n.to_lowercase())
                && !out.contains(org)
            {
                out.push(org.clone());
            }
        }
        out
    }

    /// The SCIM path of [`Reconciler::sync_user`]: a new person is one `POST` carrying
    /// everything; a known one is one `GET` and, when an attribute EXCS owns differs, one
    /// `PATCH` (retried on a stale `If-Match`).
    async fn sync_user_scim(
        &self,
        user: &DesiredUser,
        org: &OrgNames<'_>,
        view: Option<&GcView>,
        full: bool,
        report: &mut SyncReport,
    ) -> Result<Option<String>, SyncError> {
        let key = user.person_dbid.to_string();
        let hash = user_hash(user);
        let mapped = match self.user_start(&key, &hash, view, full, report).await? {
            Ok(mapped) => mapped,
            Err(answer) => return Ok(answer),
        };
        let skills = org.desired_skills(user);
        let prev_class: Option<PersonClass> =
            self.json.get(&keys::person_class(user.person_dbid)).await?;
        let (gc_id, created) = match mapped {
            Some(id) => (id, false),
            None => match view.and_then(|v| v.users_by_email.get(&user.user_name.to_lowercase())) {
                Some(existing) => (existing.id.clone(), false),
                None => {
                    let roles =
                        Self::existing_roles(self.roles.at_creation(user.class), org.role_names);
                    let body = self.scim_create_body(user, &skills, &roles);
                    match self.gc.scim_create_user(&body).await {
                        Ok(u) => {
                            report.users_created += 1;
                            (u.id, true)
                        }
                        // The userName is taken: a re-created person, a crash between the
                        // create and the map, or a deleted GC user (GC keeps its e-mail).
                        Err(e) if e.is_duplicate() => {
                            match self.gc.scim_find_user_by_user_name(&user.user_name).await? {
                                Some(u) => (u.id, false),
                                None => match self
                                    .gc
                                    .find_deleted_user_by_email(&user.user_name)
                                    .await?
                                {
                                    Some(u) => {
                                        tracing::info!(
                                            user = %user.user_name,
                                            gc_id = %u.id,
                                            "restoring the deleted GC user that owns this e-mail"
                                        );
                                        let state = if user.active {
                                            UserState::Active
                                        } else {
                                            UserState::Inactive
                                        };
                                        self.gc.set_user_state(&u.id, state).await?;
                                        report.users_restored += 1;
                                        (u.id, false)
                                    }
                                    None => return Err(e.into()),
                                },
                            }
                        }
                        Err(e) => {
                            self.report_scim_refused(&e);
                            return Err(e.into());
                        }
                    }
                }
            },
        };
        self.ids.set(IdKind::Person, &key, &gc_id).await?;

        let mut changed = false;
        if !created {
            // Roles: the creation roles for a user EXCS never classified, then only the
            // roles a class transition adds. Never removed.
            let add_roles = match prev_class {
                None => self.roles.at_creation(user.class),
                Some(old) => self.roles.on_transition(old, user.class),
            };
            let add_roles = Self::existing_roles(add_roles, org.role_names);
            changed = self
                .scim_update(&gc_id, user, &skills, &add_roles, org)
                .await?;
        }
        self.json
            .put(&keys::person_class(user.person_dbid), &user.class)
            .await?;
        if self.primary_presence_source && user.class != PersonClass::NonAgent {
            self.ensure_primary_presence_source(&gc_id).await?;
        }
        let prev = self
            .json
            .get::<PersonRecord>(&PersonRecord::key(user.person_dbid))
            .await?;
        let record = PersonRecord {
            dbid: user.person_dbid,
            gc_user_id: gc_id.clone(),
            user_name: user.engage_user_name.clone(),
            employee_id: user.employee_id.clone(),
            is_agent: user.class != PersonClass::NonAgent,
            active: user.active,
            logins: user.agent_logins.clone(),
        };
        if prev.as_ref() != Some(&record) {
            record.publish(&self.json).await?;
        }
        if changed {
            report.users_updated += 1;
        }
        self.set_applied("user", &key, &hash).await?;
        Ok(Some(gc_id))
    }

    /// An org where SCIM is not enabled, or an OAuth client without the directory
    /// permissions, refuses the create with 401/403/404/405: says once what to do.
    fn report_scim_refused(&self, e: &GcError) {
        if matches!(e.status(), Some(401 | 403 | 404 | 405))
            && !self
                .reported_scim_refused
                .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            tracing::error!(
                error = %e,
                "Genesys Cloud refused the SCIM API: give the OAuth client's role directory:user:add and directory:user:edit, or set EXCS_USER_API=users for an org without SCIM"
            );
        }
    }

    /// The one create request of a person: state, userName, displayName, the Person's E-Mail
    /// as the work e-mail, `externalId` (`DBID_username`, also under EXCS's own authority, so
    /// that the Users API path finds the same key), the home division, roles and skills.
    fn scim_create_body(
        &self,
        user: &DesiredUser,
        skills: &[ScimRoutingEntry],
        roles: &[String],
    ) -> ScimV2CreateUser {
        let mut body = ScimV2CreateUser::new(user.user_name.clone(), user.display_name.clone());
        body.active = Some(user.active);
        body.emails = user.email.iter().map(ScimEmail::work).collect();
        body.external_id = Some(user.external_id.clone());
        body.roles = roles.iter().map(ScimUserRole::named).collect();
        if let Some(d) = &self.division {
            let mut ent = ScimEnterpriseUser::default();
            ent.division = Some(d.id.clone());
            body.enterprise = Some(ent);
        }
        let mut ext = ScimUserExtensions::default();
        ext.routing_skills = (!skills.is_empty()).then(|| skills.to_vec());
        ext.external_ids = Some(vec![ScimExternalId::new(
            EXTERNAL_ID_AUTHORITY,
            user.external_id.clone(),
        )]);
        body.genesys = Some(ext);
        body
    }

    /// Reads the SCIM user and PATCHes what EXCS owns and differs: display name, userName,
    /// state, work e-mail, external ids, added roles, the managed skills (skills EXCS does not
    /// manage are kept). Returns whether it patched.
    async fn scim_update(
        &self,
        gc_id: &str,
        user: &DesiredUser,
        skills: &[ScimRoutingEntry],
        add_roles: &[String],
        org: &OrgNames<'_>,
    ) -> Result<bool, SyncError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let current = self.gc.scim_user(gc_id).await?;
            let mut ops = Vec::new();
            let replace = |path: &str, v: serde_json::Value| {
                ScimV2PatchOperation::new(PatchOp::Replace, path, v)
            };
            if current.display_name.as_deref() != Some(user.display_name.as_str()) {
                ops.push(replace("displayName", user.display_name.clone().into()));
            }
            if !current
                .user_name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(&user.user_name))
            {
                ops.push(replace("userName", user.user_name.clone().into()));
            }
            if current.active != Some(user.active) {
                ops.push(replace("active", user.active.into()));
            }
            if let Some(e) = &user.email
                && current.work_email() != Some(e.as_str())
            {
                ops.push(replace(PATH_WORK_EMAIL, e.clone().into()));
            }
            if current.external_id.as_deref() != Some(user.external_id.as_str()) {
                ops.push(replace("externalId", user.external_id.clone().into()));
            }
            if !current
                .external_ids()
                .iter()
                .any(|x| x.authority == EXTERNAL_ID_AUTHORITY && x.value == user.external_id)
            {
                ops.push(ScimV2PatchOperation::new(
                    PatchOp::Add,
                    path_external_ids(),
                    serde_json::json!([{"authority": EXTERNAL_ID_AUTHORITY, "value": user.external_id}]),
                ));
            }
            let roles: Vec<serde_json::Value> = add_roles
                .iter()
                .filter(|r| !current.has_role(r))
                .map(|r| serde_json::json!({"value": r}))
                .collect();
            if !roles.is_empty() {
                ops.push(ScimV2PatchOperation::new(
                    PatchOp::Add,
                    "roles",
                    serde_json::Value::Array(roles),
                ));
            }
            if let Some(op) = org.skills_op(&current, skills) {
                ops.push(op);
            }
            if ops.is_empty() {
                return Ok(false);
            }
            let body = ScimV2PatchRequest::new(ops);
            match self
                .gc
                .scim_patch_user(gc_id, &body, current.version())
                .await
            {
                Ok(_) => return Ok(true),
                Err(e) if e.is_version_conflict() && tries < gcex::users::VERSION_ATTEMPTS => {
                    tracing::debug!(user = gc_id, error = %e, attempt = tries, "stale SCIM version; re-reading");
                    tokio::time::sleep(self.gc.config().retry.backoff(tries - 1)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn sync_queue(
        &self,
        queue: &DesiredQueue,
        user_ids: &BTreeMap<i64, String>,
        code_ids: &BTreeSet<String>,
        view: Option<&GcView>,
        full: bool,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let key = queue.dn_dbid.to_string();
        let member_ids: BTreeSet<String> = queue
            .members
            .iter()
            .filter_map(|d| user_ids.get(d).cloned())
            .collect();
        let hash = queue_hash(queue, &member_ids, code_ids);
        let body = QueueRequest {
            name: queue.name.clone(),
            description: Some(queue.description.clone()),
            division: self.division.clone(),
            peer_id: Some(queue.dn_dbid.to_string()),
            ..QueueRequest::default()
        };
        let mapped = self.ids.gc_id(IdKind::Queue, &key).await?;
        if mapped.is_none() && self.deleted_in_gc("queue", &key).await? {
            report.skipped_deleted_in_gc += 1;
            return Ok(());
        }
        let (id, created) = match mapped {
            Some(id) => {
                if view.is_some_and(|v| !v.queue_ids.contains(&id)) {
                    self.mark_deleted_in_gc("queue", &key).await?;
                    self.ids.remove(IdKind::Queue, &key).await?;
                    report.skipped_deleted_in_gc += 1;
                    return Ok(());
                }
                if !full && self.applied("queue", &key).await?.as_deref() == Some(hash.as_str()) {
                    return Ok(());
                }
                (id, false)
            }
            None => {
                let existing =
                    view.and_then(|v| v.queues_by_name.get(&queue.name.to_lowercase()).cloned());
                match existing {
                    Some(id) => (id, false),
                    None => match self.gc.create_queue(&body).await {
                        Ok(q) => {
                            report.queues_created += 1;
                            (q.id, true)
                        }
                        Err(e) if e.is_conflict() || e.is_bad_request() => {
                            let found = collect_all(self.gc.queues(Some(&queue.name)))
                                .await?
                                .into_iter()
                                .find(|q| q.name.eq_ignore_ascii_case(&queue.name));
                            match found {
                                Some(q) => (q.id, false),
                                None => return Err(e.into()),
                            }
                        }
                        Err(e) => return Err(e.into()),
                    },
                }
            }
        };
        self.ids.set(IdKind::Queue, &key, &id).await?;
        let mut changed = false;
        if !created {
            let current = self.gc.get_queue(&id).await?;
            let same = current.name == queue.name
                && current.description.as_deref() == Some(queue.description.as_str())
                && current.peer_id.as_deref() == Some(key.as_str());
            if !same {
                // The queue PUT replaces the whole queue: write back everything GC has (ACW,
                // media settings, bullseye, …) with only the fields EXCS owns changed.
                self.gc
                    .update_queue_fields(&id, |q| {
                        q.name = queue.name.clone();
                        q.description = Some(queue.description.clone());
                        q.peer_id = Some(key.clone());
                    })
                    .await?;
                changed = true;
            }
        }
        // Members.
        let current: BTreeSet<String> = if created {
            BTreeSet::new()
        } else {
            collect_all(self.gc.queue_members(&id))
                .await?
                .into_iter()
                .map(|m| m.id)
                .collect()
        };
        let add: Vec<String> = member_ids.difference(&current).cloned().collect();
        let remove: Vec<String> = current.difference(&member_ids).cloned().collect();
        if !add.is_empty() {
            self.gc.add_queue_members(&id, &add).await?;
            changed = true;
        }
        if !remove.is_empty() {
            self.gc.remove_queue_members(&id, &remove).await?;
            changed = true;
        }
        // Every mapped wrap-up code on every mapped queue.
        let have: BTreeSet<String> = if created {
            BTreeSet::new()
        } else {
            collect_all(self.gc.queue_wrapup_codes(&id))
                .await?
                .into_iter()
                .map(|c| c.id)
                .collect()
        };
        let missing: Vec<String> = code_ids.difference(&have).cloned().collect();
        if !missing.is_empty() {
            self.gc.add_queue_wrapup_codes(&id, &missing).await?;
            changed = true;
        }
        if changed && !created {
            report.queues_updated += 1;
        }
        self.set_applied("queue", &key, &hash).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_line_says_how_far_how_fast_and_how_long() {
        let p = SharedProgress::default();
        p.update(|s| {
            s.total = 312;
            s.kinds = BTreeMap::from([
                ("skills".to_string(), [0, 0]),
                ("users".to_string(), [0, 300]),
                ("queues".to_string(), [0, 12]),
            ]);
        });
        for _ in 0..124 {
            p.step("users");
        }
        let line = p.describe(1.0, 4.9, 0);
        assert!(
            line.contains("users 124/300") && line.contains("queues 0/12"),
            "{line}"
        );
        assert!(
            line.contains("4.9 GC requests/s") && line.contains("rate-limited 0"),
            "{line}"
        );
        assert!(line.contains("about 4 min left"), "{line}");
        assert!(p.describe(0.0, 0.0, 3).contains("no progress"));
        assert!(p.describe(100.0, 1.0, 0).contains("about 2 s left"));
    }

    #[test]
    fn skill_changes_keep_the_skills_excs_does_not_manage() {
        let skill_ids = BTreeMap::from([
            ("Sales".to_string(), "s1".to_string()),
            ("Billing".to_string(), "s2".to_string()),
        ]);
        let skill_names = HashMap::from([
            ("s1".to_string(), "Sales".to_string()),
            ("s2".to_string(), "billing".to_string()),
        ]);
        let role_names = HashMap::new();
        let org = OrgNames {
            skill_ids: &skill_ids,
            skill_names: &skill_names,
            role_names: &role_names,
        };
        let user_with = |skills: Option<Vec<ScimRoutingEntry>>| {
            let mut u = gcex::scim::ScimV2User::default();
            if let Some(list) = skills {
                let mut ext = ScimUserExtensions::default();
                ext.routing_skills = Some(list);
                u.genesys = Some(ext);
            }
            u
        };
        let e = ScimRoutingEntry::new;
        // The GC spelling of an adopted skill is used; equal lists send nothing.
        let desired = vec![e("Sales", 2.0), e("billing", 1.0)];
        let same = user_with(Some(vec![
            e("billing", 1.0),
            e("Admin", 4.0),
            e("Sales", 2.0),
        ]));
        assert_eq!(org.skills_op(&same, &desired), None);
        // A changed proficiency: the list is replaced, the admin's skill kept.
        let changed = user_with(Some(vec![e("Sales", 3.0), e("Admin", 4.0)]));
        let op = org.skills_op(&changed, &desired).expect("an operation");
        assert_eq!(op.op, PatchOp::Replace);
        let list: Vec<ScimRoutingEntry> =
            serde_json::from_value(op.value.expect("value")).expect("entries");
        assert!(list.contains(&e("Admin", 4.0)) && list.contains(&e("Sales", 2.0)));
        assert_eq!(list.len(), 3);
        // GC sent no list: only add, never remove what is unknown.
        let op = org.skills_op(&user_with(None), &desired).expect("an add");
        assert_eq!(op.op, PatchOp::Add);
        assert_eq!(org.skills_op(&user_with(None), &[]), None);
    }

    #[test]
    fn user_api_settings_parse() {
        assert_eq!("scim".parse::<UserApi>(), Ok(UserApi::Scim));
        assert_eq!(" Users ".parse::<UserApi>(), Ok(UserApi::Users));
        assert!("both".parse::<UserApi>().unwrap_err().contains("scim"));
        assert_eq!(UserApi::default(), UserApi::Scim);
        let names = HashMap::from([
            ("employee".to_string(), "Employee".to_string()),
            ("user".to_string(), "User".to_string()),
        ]);
        let wanted = [
            "employee".to_string(),
            "Ghost".to_string(),
            "USER".to_string(),
        ];
        assert_eq!(
            Reconciler::existing_roles(&wanted, &names),
            ["Employee", "User"],
            "missing roles are left out, the rest in the org's spelling"
        );
    }
}
