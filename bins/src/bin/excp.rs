//! `excp`: the EX Engage Connector Conversation Provider Service.
//!
//! Settings come from the environment (`excp --help` lists them, from
//! `engage_excp::config::SETTINGS`); a missing mandatory variable stops start-up with one line
//! naming each of them. `excp --check-config` validates them without starting anything.

use engage_excp::config::{ExcpConfig, SETTINGS};
use engage_excp::service::Service;
use engage_ops::config::ProcessEnv;
use std::process::ExitCode;

fn main() -> ExitCode {
    if let Some(code) = engage_ops::cli::answer(&SETTINGS, ExcpConfig::read) {
        return code;
    }
    engage_ops::service::service_main(
        "excp",
        ExcpConfig::read(&ProcessEnv),
        |c| &c.log,
        |c| async move { Service::start(&c).await },
    )
}
