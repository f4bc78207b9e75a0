//! Look-ups the model needs from the connector's maps (EXCS id maps, extension DN records,
//! agent log-in state). Passed in on every call so the model stays pure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the model asks the outside world. Implementations must answer the same way on both
/// EXCP instances of an HA pair for their outputs to be identical.
pub trait Lookups {
    /// The GC queue id of a virtual queue DN mapped to GC, or `None` if the VQ is not mapped.
    fn queue_id(&self, vq_dn: &str) -> Option<&str>;
    /// The GC user id of the mapped agent logged in on this extension DN, or `None` when no
    /// agent is logged in there or the agent is not mapped (out of sync scope).
    fn agent_user_id(&self, extension_dn: &str) -> Option<&str>;
    /// The GC wrap-up code id for an Engage disposition code name, if mapped.
    fn wrap_up_code_id(&self, disposition: &str) -> Option<&str>;
}

/// Look-ups held as plain maps; used by tests, scenario files and simple deployments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StaticLookups {
    /// VQ DN -> GC queue id.
    pub queues: BTreeMap<String, String>,
    /// Extension DN -> GC user id of the logged-in, mapped agent.
    pub agents: BTreeMap<String, String>,
    /// Disposition code name -> GC wrap-up code id.
    pub wrap_up_codes: BTreeMap<String, String>,
}

impl Lookups for StaticLookups {
    fn queue_id(&self, vq_dn: &str) -> Option<&str> {
        self.queues.get(vq_dn).map(String::as_str)
    }
    fn agent_user_id(&self, extension_dn: &str) -> Option<&str> {
        self.agents.get(extension_dn).map(String::as_str)
    }
    fn wrap_up_code_id(&self, disposition: &str) -> Option<&str> {
        self.wrap_up_codes.get(disposition).map(String::as_str)
    }
}
