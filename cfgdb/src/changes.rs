//! Change detection: Config DB changes as typed deltas (created / changed / deleted per
//! object kind and DBID).
//!
//! Two sources, so nothing is missed:
//! - a fingerprint (stable 64-bit FNV-1a hash of the object's canonical JSON, including its
//!   annex and relations, but not its last-modified time, so a history purge is not a change)
//!   per `(kind, dbid)`, diffed between snapshots: authoritative, and independent of the
//!   history log (which Configuration Server purges);
//! - the history log (`cfg_hist_log`), polled cheaply by id: when it shows new records a new
//!   snapshot is taken at once, and an object with a new record whose fingerprint did not move
//!   (a change to a column this crate does not read) is still reported as changed, so its
//!   last-modified time can flow on; without new records a full snapshot is still taken every
//!   [`PollerConfig::full_scan_every`] polls, which catches changes whose history was purged
//!   or never written.
//!
//! The diff is pure ([`diff`], [`ChangeTracker`]); [`Poller`] is the thin async driver.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::db::{Cols, ConfigDb, Error};
use crate::mapping::SchemaMap;
use crate::model::{Dbid, ObjectKind, ObjectState, Snapshot};
use crate::reader::{history_since_query, read_snapshot};

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[non_exhaustive]
pub enum ChangeKind {
    /// New (or no longer marked Deleted).
    Created,
    /// Any read field, relation, annex entry or last-modified time changed.
    Changed,
    /// Removed (or marked Deleted).
    Deleted,
}

/// One change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Delta {
    /// Object kind.
    pub kind: ObjectKind,
    /// DBID.
    pub dbid: Dbid,
    /// What happened.
    pub change: ChangeKind,
}

/// Fingerprints per `(kind, dbid)` of every live (not Deleted) object.
pub type Fingerprints = BTreeMap<(ObjectKind, Dbid), u64>;

/// FNV-1a 64: stable across Rust versions and processes (safe to persist).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn hash<T: Serialize>(v: &T) -> u64 {
    // Serializing plain data into a Vec cannot fail; an empty vec would only collide.
    fnv1a64(&serde_json::to_vec(v).unwrap_or_default())
}

/// Fingerprints of a snapshot. Objects in state Deleted count as absent.
pub fn fingerprints(s: &Snapshot) -> Fingerprints {
    let mut f = Fingerprints::new();
    let live = |st: ObjectState| st != ObjectState::Deleted;
    for o in s.tenants.values() {
        f.insert((ObjectKind::Tenant, o.dbid), hash(o));
    }
    for o in s.switches.values().filter(|o| live(o.state)) {
        f.insert((ObjectKind::Switch, o.dbid), hash(o));
    }
    for o in s.persons.values().filter(|o| live(o.state)) {
        f.insert((ObjectKind::Person, o.dbid), hash(o));
    }
    for o in s.skills.values().filter(|o| live(o.state)) {
        f.insert((ObjectKind::Skill, o.dbid), hash(o));
    }
    for o in s.agent_logins.values().filter(|o| live(o.state)) {
        f.insert((ObjectKind::AgentLogin, o.dbid), hash(o));
    }
    for o in s.dns.values().filter(|o| live(o.state)) {
        f.insert((ObjectKind::Dn, o.dbid), hash(o));
    }
    for o in s.agent_groups.values().filter(|o| live(o.state)) {
        f.insert((ObjectKind::AgentGroup, o.dbid), hash(o));
    }
    for o in s.business_attributes.values().filter(|o| live(o.state)) {
        f.insert((ObjectKind::BusinessAttribute, o.dbid), hash(o));
        for v in o.values.iter().filter(|v| live(v.state)) {
            f.insert((ObjectKind::BusinessAttributeValue, v.dbid), hash(v));
        }
    }
    for o in s.folders.values().filter(|o| live(o.state)) {
        f.insert((ObjectKind::Folder, o.dbid), hash(o));
    }
    for o in s.transactions.values().filter(|o| live(o.state)) {
        f.insert((ObjectKind::Transaction, o.dbid), hash(o));
    }
    f
}

/// The deltas from `old` to `new`, ordered by kind, DBID.
pub fn diff(old: &Fingerprints, new: &Fingerprints) -> Vec<Delta> {
    let mut out = Vec::new();
    for (&(kind, dbid), h) in new {
        match old.get(&(kind, dbid)) {
            None => out.push(Delta {
                kind,
                dbid,
                change: ChangeKind::Created,
            }),
            Some(o) if o != h => out.push(Delta {
                kind,
                dbid,
                change: ChangeKind::Changed,
            }),
            Some(_) => {}
        }
    }
    for &(kind, dbid) in old.keys() {
        if !new.contains_key(&(kind, dbid)) {
            out.push(Delta {
                kind,
                dbid,
                change: ChangeKind::Deleted,
            });
        }
    }
    out.sort();
    out
}

/// Pure change tracker: remembers the last fingerprints and history cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeTracker {
    fingerprints: Fingerprints,
    history_cursor: Option<i64>,
}

impl ChangeTracker {
    /// A tracker whose baseline is `snapshot` (no deltas for what it already holds).
    pub fn baseline(snapshot: &Snapshot) -> ChangeTracker {
        ChangeTracker {
            fingerprints: fingerprints(snapshot),
            history_cursor: snapshot.history_cursor,
        }
    }

    /// A tracker from persisted fingerprints (e.g. after a restart).
    pub fn from_fingerprints(
        fingerprints: Fingerprints,
        history_cursor: Option<i64>,
    ) -> ChangeTracker {
        ChangeTracker {
            fingerprints,
            history_cursor,
        }
    }

    /// Takes a new snapshot in; returns the deltas since the previous one.
    pub fn apply(&mut self, snapshot: &Snapshot) -> Vec<Delta> {
        let new = fingerprints(snapshot);
        let deltas = diff(&self.fingerprints, &new);
        self.fingerprints = new;
        self.history_cursor = snapshot.history_cursor.or(self.history_cursor);
        deltas
    }

    /// The current fingerprints (for persisting).
    pub fn fingerprints(&self) -> &Fingerprints {
        &self.fingerprints
    }

    /// The largest history id seen.
    pub fn history_cursor(&self) -> Option<i64> {
        self.history_cursor
    }
}

/// Poller settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollerConfig {
    /// Time between polls (default 5 s).
    pub interval: Duration,
    /// Take a full snapshot every N polls even without new history (default 1: every poll,
    /// which never depends on the history log; raise it on very large Config DBs).
    pub full_scan_every: u32,
}

impl PollerConfig {
    /// Settings with an interval and a full-scan period (in polls, at least 1).
    pub fn new(interval: Duration, full_scan_every: u32) -> PollerConfig {
        PollerConfig {
            interval,
            full_scan_every: full_scan_every.max(1),
        }
    }
}

impl Default for PollerConfig {
    fn default() -> Self {
        PollerConfig {
            interval: Duration::from_secs(5),
            full_scan_every: 1,
        }
    }
}

/// One poll's outcome.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PollOutcome {
    /// The deltas (empty when nothing changed).
    pub deltas: Vec<Delta>,
    /// The snapshot read, when one was taken this poll.
    pub snapshot: Option<Snapshot>,
    /// History records seen since the previous poll.
    pub history: Vec<HistoryRecord>,
}

/// One history log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HistoryRecord {
    /// Record id.
    pub id: i64,
    /// Object type code.
    pub object_type: i64,
    /// Object DBID.
    pub object_dbid: Dbid,
    /// Operation (1 created, 2 changed, 3 deleted).
    pub operation: i64,
    /// Unix seconds, UTC.
    pub change_time: i64,
}

/// The async change poller over a read-only [`ConfigDb`] (owned, so it can run in a spawned
/// task).
pub struct Poller {
    db: Arc<dyn ConfigDb>,
    map: SchemaMap,
    config: PollerConfig,
    tracker: ChangeTracker,
    polls_since_scan: u32,
}

impl Poller {
    /// A poller with the given baseline (use [`ChangeTracker::baseline`] on the initial
    /// snapshot so the initial sync is not reported again as "created").
    pub fn new(
        db: Arc<dyn ConfigDb>,
        map: SchemaMap,
        config: PollerConfig,
        tracker: ChangeTracker,
    ) -> Self {
        Poller {
            db,
            map,
            config,
            tracker,
            polls_since_scan: 0,
        }
    }

    /// The tracker state.
    pub fn tracker(&self) -> &ChangeTracker {
        &self.tracker
    }

    /// Polls once: reads new history records and, when there are any or a full scan is due,
    /// a snapshot; returns the deltas.
    pub async fn poll_once(&mut self) -> Result<PollOutcome, Error> {
        let cursor = self.tracker.history_cursor().unwrap_or(i64::MIN);
        let q = history_since_query(&self.map, self.db.dialect(), cursor);
        let rows = self.db.read(std::slice::from_ref(&q)).await?;
        let mut history = Vec::new();
        for r in rows.first().map(Vec::as_slice).unwrap_or(&[]) {
            let c = Cols {
                row: r,
                what: "history",
            };
            history.push(HistoryRecord {
                id: c.int_req(0)?,
                object_type: c.int_req(1)?,
                object_dbid: c.int_req(2)?,
                operation: c.int(3)?.unwrap_or(0),
                change_time: c.int(4)?.unwrap_or(0),
            });
        }
        self.polls_since_scan += 1;
        let due = self.polls_since_scan >= self.config.full_scan_every.max(1);
        if history.is_empty() && !due {
            return Ok(PollOutcome {
                deltas: Vec::new(),
                snapshot: None,
                history,
            });
        }
        self.polls_since_scan = 0;
        let snapshot = read_snapshot(self.db.as_ref(), &self.map).await?;
        let mut deltas = self.tracker.apply(&snapshot);
        let fp = self.tracker.fingerprints();
        for h in &history {
            let Some(kind) = ObjectKind::from_code(h.object_type) else {
                continue;
            };
            if fp.contains_key(&(kind, h.object_dbid))
                && !deltas
                    .iter()
                    .any(|d| d.kind == kind && d.dbid == h.object_dbid)
            {
                deltas.push(Delta {
                    kind,
                    dbid: h.object_dbid,
                    change: ChangeKind::Changed,
                });
            }
        }
        deltas.sort();
        if let Some(max) = history.iter().map(|h| h.id).max() {
            self.tracker.history_cursor =
                Some(self.tracker.history_cursor.map_or(max, |c| c.max(max)));
        }
        Ok(PollOutcome {
            deltas,
            snapshot: Some(snapshot),
            history,
        })
    }

    /// Polls forever at the configured interval, handing each non-empty batch of deltas (with
    /// the snapshot they came from) to `on_deltas`; read errors go to `on_error` and the loop
    /// keeps polling. Returns when `on_deltas` returns `false`.
    pub async fn run(
        &mut self,
        mut on_deltas: impl FnMut(&[Delta], &Snapshot) -> bool,
        mut on_error: impl FnMut(&Error),
    ) {
        let mut ticker = tokio::time::interval(self.config.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match self.poll_once().await {
                Ok(PollOutcome {
                    deltas,
                    snapshot: Some(s),
                    ..
                }) if !deltas.is_empty() => {
                    if !on_deltas(&deltas, &s) {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => on_error(&e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    fn skill(dbid: Dbid, name: &str) -> Skill {
        Skill {
            dbid,
            tenant_dbid: 1,
            name: name.into(),
            state: ObjectState::Enabled,
            annex: Annex::default(),
            last_modified: None,
        }
    }

    #[test]
    fn created_changed_deleted() {
        let mut a = Snapshot::default();
        a.skills.insert(1, skill(1, "Sales"));
        a.skills.insert(2, skill(2, "Billing"));
        a.skills.insert(3, skill(3, "Claims"));
        let mut t = ChangeTracker::baseline(&a);
        assert!(t.apply(&a).is_empty());

        let mut b = a.clone();
        b.skills.get_mut(&1).unwrap().name = "Sales2".into();
        b.skills.remove(&2);
        b.skills.get_mut(&3).unwrap().state = ObjectState::Deleted;
        b.skills.insert(4, skill(4, "New"));
        // Same DBID in another kind is a different object.
        b.dns.insert(
            1,
            Dn {
                dbid: 1,
                switch_dbid: 1,
                tenant_dbid: None,
                dn_type: DnType::VirtAcdQueue,
                number: "VQ".into(),
                state: ObjectState::Enabled,
                annex: Annex::default(),
                last_modified: None,
            },
        );
        let d = t.apply(&b);
        assert_eq!(
            d,
            vec![
                Delta {
                    kind: ObjectKind::Dn,
                    dbid: 1,
                    change: ChangeKind::Created
                },
                Delta {
                    kind: ObjectKind::Skill,
                    dbid: 1,
                    change: ChangeKind::Changed
                },
                Delta {
                    kind: ObjectKind::Skill,
                    dbid: 2,
                    change: ChangeKind::Deleted
                },
                Delta {
                    kind: ObjectKind::Skill,
                    dbid: 3,
                    change: ChangeKind::Deleted
                },
                Delta {
                    kind: ObjectKind::Skill,
                    dbid: 4,
                    change: ChangeKind::Created
                },
            ]
        );
        // Un-deleting reads as created.
        let mut c = b.clone();
        c.skills.get_mut(&3).unwrap().state = ObjectState::Enabled;
        assert_eq!(
            t.apply(&c),
            vec![Delta {
                kind: ObjectKind::Skill,
                dbid: 3,
                change: ChangeKind::Created
            }]
        );
    }

    #[test]
    fn annex_and_membership_changes_are_changes() {
        let mut a = Snapshot::default();
        a.agent_groups.insert(
            5,
            AgentGroup {
                dbid: 5,
                tenant_dbid: 1,
                name: "G".into(),
                state: ObjectState::Enabled,
                members: vec![1, 2],
                annex: Annex::default(),
                last_modified: None,
            },
        );
        let mut t = ChangeTracker::baseline(&a);
        let mut b = a.clone();
        b.agent_groups.get_mut(&5).unwrap().members.push(3);
        assert_eq!(
            t.apply(&b),
            vec![Delta {
                kind: ObjectKind::AgentGroup,
                dbid: 5,
                change: ChangeKind::Changed
            }]
        );
        let mut c = b.clone();
        c.agent_groups
            .get_mut(&5)
            .unwrap()
            .annex
            .push("hybrid", "WFM_queue_number", "VQ1");
        assert_eq!(t.apply(&c).len(), 1);
    }

    #[test]
    fn history_purge_alone_is_not_a_change() {
        let mut a = Snapshot::default();
        let mut s = skill(1, "Sales");
        s.last_modified = Some(1_700_000_000);
        a.skills.insert(1, s);
        let mut t = ChangeTracker::baseline(&a);
        let mut b = a.clone();
        b.skills.get_mut(&1).unwrap().last_modified = None;
        assert!(t.apply(&b).is_empty());
    }

    proptest::proptest! {
        #[test]
        fn diff_is_exactly_the_set_difference(
            old in proptest::collection::btree_map((0usize..3, 0i64..20), 0u64..4, 0..30),
            new in proptest::collection::btree_map((0usize..3, 0i64..20), 0u64..4, 0..30),
        ) {
            let kinds = [ObjectKind::Person, ObjectKind::Skill, ObjectKind::Dn];
            let conv = |m: &BTreeMap<(usize, i64), u64>| -> Fingerprints {
                m.iter().map(|((k, d), h)| ((kinds[*k], *d), *h)).collect()
            };
            let (o, n) = (conv(&old), conv(&new));
            let d = diff(&o, &n);
            for x in &d {
                let key = (x.kind, x.dbid);
                match x.change {
                    ChangeKind::Created => proptest::prop_assert!(!o.contains_key(&key) && n.contains_key(&key)),
                    ChangeKind::Deleted => proptest::prop_assert!(o.contains_key(&key) && !n.contains_key(&key)),
                    ChangeKind::Changed => proptest::prop_assert!(o[&key] != n[&key]),
                }
            }
            let changed = o.keys().chain(n.keys()).filter(|k| o.get(*k) != n.get(*k)).collect::<std::collections::BTreeSet<_>>();
            proptest::prop_assert_eq!(d.len(), changed.len());
            // Applying the deltas' targets to the old state gives the new state's key set.
            proptest::prop_assert!(diff(&n, &n).is_empty());
        }
    }

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
