//! `exas`: the EX Engage Connector Agent State Sync Service.
//!
//! Settings come from the environment (`exas --help` lists them, from
//! `engage_exas::config::SETTINGS`); a missing mandatory variable stops start-up with one line
//! naming each of them. `exas --check-config` validates them without starting anything.

use engage_exas::config::{ExasConfig, SETTINGS};
use engage_exas::service::Service;
use engage_ops::config::ProcessEnv;
use std::process::ExitCode;

fn main() -> ExitCode {
    if let Some(code) = engage_ops::cli::answer(&SETTINGS, ExasConfig::read) {
        return code;
    }
    engage_ops::service::service_main(
        "exas",
        ExasConfig::read(&ProcessEnv),
        |c| &c.log,
        |c| async move { Service::start(&c).await },
    )
}
