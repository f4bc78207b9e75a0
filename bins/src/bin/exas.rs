//! `exas`: the EX Engage Connector Agent State Sync Service.
//!
//! Settings come from the environment (see `engage_exas::config`); a missing
//! mandatory variable stops start-up with one line naming each of them.

use engage_exas::config::ExasConfig;
use engage_exas::service::Service;
use engage_ops::config::ProcessEnv;
use std::process::ExitCode;

fn main() -> ExitCode {
    engage_ops::service::service_main(
        "exas",
        ExasConfig::read(&ProcessEnv),
        |c| &c.log,
        |c| async move { Service::start(&c).await },
    )
}
