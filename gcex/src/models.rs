//! Small shared model types.

use serde::{Deserialize, Serialize};

/// A reference to another object: `{id, name, selfUri}` (divisions, queues, programs, roles…).
/// Requests send only `id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityRef {
    /// The object's id.
    pub id: String,
    /// Its name, in answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its URI, in answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}

impl EntityRef {
    /// A reference by id only, as requests send it.
    pub fn id(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: None,
            self_uri: None,
        }
    }
}
