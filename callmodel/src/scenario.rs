//! Scenario files (`tests/scenarios/*.yaml`, format in `callmodel/SCENARIOS.md`; feature
//! `scenario`): one call flow as normalized Engage events, the model settings and look-ups it
//! assumes, and the outputs it must produce. The model's scenario test runs them directly; the
//! connector's SIP Server simulator plays their steps as TLib events and its end-to-end tests
//! compare what reaches the GC emulator with their expectations.
//!
//! Reading files is the only IO here, and only when a caller asks ([`Scenario::load`],
//! [`Scenario::load_dir`]); the model itself never touches this module.

use crate::{EngageEvent, ModelConfig, StaticLookups};
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// One scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Scenario {
    /// Short name.
    pub name: String,
    /// What the flow is, in words.
    #[serde(default)]
    pub description: Option<String>,
    /// Model settings the expectations assume (default settings when absent).
    #[serde(default)]
    pub config: Option<ModelConfig>,
    /// Queue / agent / wrap-up code look-ups the expectations assume.
    #[serde(default)]
    pub lookups: StaticLookups,
    /// The Engage side, in order.
    pub steps: Vec<Step>,
    /// The expected outputs (GC events, recording segments, closures), as written in the file.
    pub expect: Vec<serde_yaml::Value>,
}

/// One step: an Engage event, or "event time has advanced to" (for timeouts).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Step {
    /// Event time (ms) advances to this value without an event.
    Timeout {
        /// The new event time, ms.
        timeout: u64,
    },
    /// An Engage event.
    Event(Box<EngageEvent>),
}

/// A scenario file could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file or directory could not be read.
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid scenario (see `callmodel/SCENARIOS.md` for the format).
    Parse {
        /// The path.
        path: PathBuf,
        /// Why.
        source: serde_yaml::Error,
    },
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => {
                write!(f, "cannot read scenario {}: {source}", path.display())
            }
            Self::Parse { path, source } => {
                write!(f, "scenario {} is invalid: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for ScenarioError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Parse { source, .. } => Some(source),
        }
    }
}

impl Scenario {
    /// Parses one scenario from YAML text (`path` only names it in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
        serde_yaml::from_str(text).map_err(|source| ScenarioError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads one scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Scenario::parse(path, &text)
    }

    /// Every `*.yaml` scenario of a directory, sorted by file name.
    pub fn load_dir(dir: &Path) -> Result<Vec<(PathBuf, Scenario)>, ScenarioError> {
        let io = |source| ScenarioError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        paths.sort();
        paths
            .into_iter()
            .map(|p| Scenario::load(&p).map(|s| (p, s)))
            .collect()
    }

    /// The project's scenario directory (`tests/scenarios` at the workspace root), for tests,
    /// benches and the demo run from the source tree.
    pub fn project_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios")
    }

    /// The Engage events of the steps, in order (timeouts skipped).
    pub fn events(&self) -> impl Iterator<Item = &EngageEvent> {
        self.steps.iter().filter_map(|s| match s {
            Step::Event(e) => Some(e.as_ref()),
            Step::Timeout { .. } => None,
        })
    }

    /// The model settings to run this scenario with.
    pub fn model_config(&self) -> ModelConfig {
        self.config.clone().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_project_scenario_loads() {
        let all = Scenario::load_dir(&Scenario::project_dir()).unwrap();
        assert!(all.len() >= 29, "{} scenarios", all.len());
        for (path, s) in &all {
            assert!(s.events().count() > 0, "{} has no event", path.display());
            assert!(!s.expect.is_empty(), "{} expects nothing", path.display());
        }
    }

    #[test]
    fn a_broken_file_names_itself() {
        let err = Scenario::parse(Path::new("x.yaml"), "name: [").unwrap_err();
        assert!(err.to_string().contains("x.yaml"), "{err}");
        let err = Scenario::load(Path::new("/nonexistent/y.yaml")).unwrap_err();
        assert!(err.to_string().contains("y.yaml"), "{err}");
    }
}
