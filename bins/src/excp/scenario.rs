//! Scenario files: the type lives in the call model (feature `scenario`); re-exported here for
//! the simulator, the demo and the tests.

pub use engage_callmodel::scenario::{Scenario, ScenarioError, Step};
