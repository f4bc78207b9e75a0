//! What every service shares to be operable: configuration from the environment, logging,
//! health, metrics and the HTTP endpoints that expose them.

pub mod config;
pub mod health;
pub mod http;
pub mod logging;
pub mod main;
pub mod metrics;
