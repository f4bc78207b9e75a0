//! Dependency health: each service registers its dependencies (Config DB, store, Stat Server
//! link, SIP Server links, GC token) and keeps their status current; `/health` reports them.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The state of one dependency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DependencyStatus {
    /// Whether the dependency works.
    pub up: bool,
    /// A short human explanation (never a secret).
    pub detail: String,
}

/// Shared, cheaply cloneable dependency health.
#[derive(Debug, Clone, Default)]
pub struct Health {
    inner: Arc<Mutex<BTreeMap<String, DependencyStatus>>>,
}

/// The `/health` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthReport {
    /// `UP` when every dependency is up, else `DOWN`.
    pub status: &'static str,
    /// Each dependency's status by name.
    pub dependencies: BTreeMap<String, DependencyStatus>,
}

impl Health {
    /// An empty registry.
    pub fn new() -> Health {
        Health::default()
    }

    /// Marks a dependency up.
    pub fn up(&self, name: &str, detail: impl Into<String>) {
        self.set(name, true, detail.into());
    }

    /// Marks a dependency down.
    pub fn down(&self, name: &str, detail: impl Into<String>) {
        self.set(name, false, detail.into());
    }

    fn set(&self, name: &str, up: bool, detail: String) {
        let mut map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        map.insert(name.to_string(), DependencyStatus { up, detail });
    }

    /// The current report; healthy only if at least one dependency is registered and all are up.
    pub fn report(&self) -> HealthReport {
        let map = self
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let ok = !map.is_empty() && map.values().all(|d| d.up);
        HealthReport {
            status: if ok { "UP" } else { "DOWN" },
            dependencies: map,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_dependency_makes_service_down() {
        let h = Health::new();
        assert_eq!(
            h.report().status,
            "DOWN",
            "nothing checked yet is not healthy"
        );
        h.up("store", "redis 127.0.0.1:6379");
        h.up("gc", "token valid");
        assert_eq!(h.report().status, "UP");
        h.down("gc", "503 from token endpoint");
        let r = h.report();
        assert_eq!(r.status, "DOWN");
        assert!(!r.dependencies["gc"].up);
    }
}
