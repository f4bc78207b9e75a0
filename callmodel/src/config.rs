//! Model configuration (from the `hybrid_integration` transaction and EXCP settings).

use serde::{Deserialize, Serialize};

/// Settings of the call model. Part of the serialized state, so a restored model behaves the same.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct ModelConfig {
    /// `sourceConfiguration.sourceId` of every established event (the Engage platform id).
    pub source_id: String,
    /// `sta_userdata_language_key`: user-data key holding the call's language.
    pub sta_userdata_language_key: Option<String>,
    /// `sta_default_language`: language used when the user data has none.
    pub sta_default_language: Option<String>,
    /// Whether agents do after-call work: user legs carry `afterCallWorkRequired: true` and
    /// every answered agent communication gets a disposition event after it ends.
    pub after_call_work_required: bool,
    /// User-data key (call data or the agent desktop's `EventUserEvent`) holding the
    /// disposition code name; the name maps to a GC wrap-up code through [`crate::Lookups`].
    pub disposition_key: Option<String>,
    /// How long after an agent's communication ended a disposition may still arrive (ms);
    /// then the disposition is reported as skipped.
    pub wrap_up_timeout_ms: u64,
    /// A conversation with no event for this long (ms of event time) is closed as stale.
    pub stale_call_timeout_ms: u64,
    /// How many closed calls are remembered so late or duplicated events for them are ignored.
    pub closed_call_memory: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            source_id: "engage".to_owned(),
            sta_userdata_language_key: None,
            sta_default_language: None,
            after_call_work_required: false,
            disposition_key: None,
            wrap_up_timeout_ms: 120_000,
            stale_call_timeout_ms: 4 * 3_600_000,
            closed_call_memory: 100_000,
        }
    }
}
