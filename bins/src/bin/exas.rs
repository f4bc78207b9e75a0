//! `exas`: the EX Engage Connector Agent State Sync Service.
//!
//! Settings come from the environment (see `engage_connector::exas::config`); a missing
//! mandatory variable stops start-up with one line naming each of them.

use engage_connector::exas::config::ExasConfig;
use engage_connector::exas::service::Service;
use engage_connector::ops::config::ProcessEnv;
use std::process::ExitCode;

fn main() -> ExitCode {
    engage_connector::ops::main::service_main(
        "exas",
        ExasConfig::read(&ProcessEnv),
        |c| &c.log,
        |c| async move { Service::start(&c).await.map_err(|e| e.to_string()) },
    )
}
