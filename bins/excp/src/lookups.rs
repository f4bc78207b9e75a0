//! The call model's look-ups (VQ → GC queue, extension → GC user, disposition → wrap-up code),
//! loaded from what EXCS publishes in the store: `vq:{switch}:{number}` records, extension
//! `dn:{switch}:{number}` records, `person:{dbid}` records with the GC user and the agent
//! logins, and the wrap-up code id map.
//!
//! Who sits at an extension is not configuration: an agent logs in there. The engine follows
//! `EventAgentLogin` / `EventAgentLogout` on the registered extensions (their `AgentID` is the
//! login code) and [`AgentAt`] answers the model with the logged-in agent's GC user; an
//! extension EXCS published with an owner (`DnRecord::person_dbid`) is the fallback.
//!
//! The call model asks synchronously, so the maps are loaded into memory and refreshed by the
//! service every few seconds (a new snapshot replaces the old one whole).

use engage_callmodel::{Lookups, StaticLookups};
use engage_store::schema::keys;
use engage_store::{DnRecord, IdKind, IdMap, JsonView, PersonRecord, StoreResult, VqRecord};
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

/// One snapshot of the look-ups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExcpLookups {
    /// The call model's three maps (the one [`StaticLookups`] implementation): VQ DN number →
    /// GC queue id; extension DN number → GC user id of the (active, agent) person it belongs
    /// to, where EXCS knows the owner; disposition (business attribute value) name → GC
    /// wrap-up code id.
    pub maps: StaticLookups,
    /// Every extension DN number of the switch (registered for agent events).
    pub extensions: std::collections::BTreeSet<String>,
    /// Agent login code → GC user id of the (active, agent) person who has it.
    pub logins: BTreeMap<String, String>,
    /// Numbers that exist on several switches while no switch was chosen (the lowest DN DBID
    /// wins); set `EXCP_SWITCH_NAME` to pick one.
    pub ambiguous: Vec<String>,
}

impl Lookups for ExcpLookups {
    fn queue_id(&self, vq_dn: &str) -> Option<&str> {
        self.maps.queue_id(vq_dn)
    }
    fn agent_user_id(&self, extension_dn: &str) -> Option<&str> {
        self.maps.agent_user_id(extension_dn)
    }
    fn wrap_up_code_id(&self, disposition: &str) -> Option<&str> {
        self.maps.wrap_up_code_id(disposition)
    }
}

impl ExcpLookups {
    /// Loads the look-ups for the DNs of `switch` (every switch when `None`; a number found on
    /// several switches then maps to the entry with the lowest DN DBID and is listed in
    /// [`ExcpLookups::ambiguous`]).
    pub async fn load(json: &JsonView, ids: &IdMap, switch: Option<&str>) -> StoreResult<Self> {
        let on_switch = |s: &str| switch.is_none_or(|want| want == s);
        let mut out = ExcpLookups::default();
        let mut vq_seen: BTreeMap<String, i64> = BTreeMap::new();
        for (_, vq) in json.scan::<VqRecord>(keys::VQ_PREFIX).await? {
            if !on_switch(&vq.switch) {
                continue;
            }
            match vq_seen.get(&vq.number) {
                Some(&dbid) if dbid <= vq.dn_dbid => {
                    out.ambiguous.push(vq.number.clone());
                    continue;
                }
                Some(_) => out.ambiguous.push(vq.number.clone()),
                None => {}
            }
            vq_seen.insert(vq.number.clone(), vq.dn_dbid);
            out.maps.queues.insert(vq.number, vq.queue_id);
        }
        for (_, person) in json.scan::<PersonRecord>(PersonRecord::PREFIX).await? {
            if !(person.active && person.is_agent) {
                continue;
            }
            for l in person.logins.iter().filter(|l| on_switch(&l.switch)) {
                out.logins
                    .insert(l.login_code.clone(), person.gc_user_id.clone());
            }
        }
        let mut persons: BTreeMap<i64, Option<PersonRecord>> = BTreeMap::new();
        let mut dn_seen: BTreeMap<String, i64> = BTreeMap::new();
        for (_, dn) in json.scan::<DnRecord>(keys::DN_PREFIX).await? {
            if !on_switch(&dn.switch) {
                continue;
            }
            out.extensions.insert(dn.number.clone());
            let Some(person_dbid) = dn.person_dbid else {
                continue;
            };
            if let Some(&dbid) = dn_seen.get(&dn.number) {
                out.ambiguous.push(dn.number.clone());
                if dbid <= dn.dbid {
                    continue;
                }
            }
            let person = match persons.entry(person_dbid) {
                Entry::Occupied(o) => o.into_mut(),
                Entry::Vacant(v) => {
                    let rec = json
                        .get::<PersonRecord>(&PersonRecord::key(person_dbid))
                        .await?;
                    v.insert(rec)
                }
            };
            let Some(person) = person else {
                continue;
            };
            if person.active && person.is_agent {
                dn_seen.insert(dn.number.clone(), dn.dbid);
                out.maps.agents.insert(dn.number, person.gc_user_id.clone());
            }
        }
        out.maps.wrap_up_codes = ids.all(IdKind::WrapUpCode).await?.into_iter().collect();
        out.ambiguous.sort();
        out.ambiguous.dedup();
        Ok(out)
    }
}

/// The look-ups the call model sees: [`ExcpLookups`] plus who is logged in where.
#[derive(Debug, Clone, Copy)]
pub struct AgentAt<'a> {
    /// The loaded look-ups.
    pub base: &'a ExcpLookups,
    /// Extension → login code of the agent logged in there.
    pub logged_in: &'a BTreeMap<String, String>,
}

impl Lookups for AgentAt<'_> {
    fn queue_id(&self, vq_dn: &str) -> Option<&str> {
        self.base.queue_id(vq_dn)
    }
    fn agent_user_id(&self, extension_dn: &str) -> Option<&str> {
        self.logged_in
            .get(extension_dn)
            .and_then(|code| self.base.logins.get(code))
            .map(String::as_str)
            .or_else(|| self.base.agent_user_id(extension_dn))
    }
    fn wrap_up_code_id(&self, disposition: &str) -> Option<&str> {
        self.base.wrap_up_code_id(disposition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logged_in_agent_wins_over_the_owner() {
        let base = ExcpLookups {
            maps: StaticLookups {
                agents: BTreeMap::from([("1000".into(), "owner".into())]),
                ..StaticLookups::default()
            },
            logins: BTreeMap::from([("7000".into(), "user-7000".into())]),
            ..ExcpLookups::default()
        };
        let mut logged_in = BTreeMap::new();
        let l = AgentAt {
            base: &base,
            logged_in: &logged_in,
        };
        assert_eq!(l.agent_user_id("1000"), Some("owner"));
        assert_eq!(l.agent_user_id("1001"), None);
        logged_in.insert("1001".to_string(), "7000".to_string());
        logged_in.insert("1000".to_string(), "unknown-login".to_string());
        let l = AgentAt {
            base: &base,
            logged_in: &logged_in,
        };
        assert_eq!(l.agent_user_id("1001"), Some("user-7000"));
        assert_eq!(
            l.agent_user_id("1000"),
            Some("owner"),
            "an unmapped login falls back"
        );
    }
}
