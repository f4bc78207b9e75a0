//! # engage-ops: what every EX Engage Connector service shares to be operable
//!
//! One job: the plumbing between a service and its operator. Settings from the environment
//! under the deployment guide's names, with one-line errors naming every missing or invalid
//! variable ([`config`]); logging ([`logging`]); dependency health ([`health`]) and Prometheus
//! metrics ([`metrics`], with the process's own: [`process`]) served over HTTP ([`http`]), the `/status` envelope ([`status`]); and the service main loop
//! ([`service::service_main`]). Each service describes every variable it reads in one table
//! ([`settings`]), which drives `--help`, `--check-config` and redaction ([`cli`]).
//!
//! What it must never do: know what a service does (no Engage, call-model or sync logic here),
//! log or print a secret, or report a failed dependency as healthy.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod health;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod process;
pub mod service;
pub mod settings;
pub mod shrink;
pub mod status;
pub mod timed_store;
