//! `exrp`: the EX Engage Connector Recording Provider.
//!
//! Settings come from the environment (`exrp --help` lists them, from
//! `engage_exrp::config::SETTINGS`); a missing mandatory variable stops start-up with one line
//! naming each of them. `exrp --check-config` validates them without starting anything.

use engage_exrp::config::{ExrpConfig, SETTINGS};
use engage_exrp::service::Service;
use engage_ops::config::ProcessEnv;
use std::process::ExitCode;

fn main() -> ExitCode {
    if let Some(code) = engage_ops::cli::answer(&SETTINGS, ExrpConfig::read) {
        return code;
    }
    engage_ops::service::service_main(
        "exrp",
        ExrpConfig::read(&ProcessEnv),
        |c| &c.log,
        |c| async move { Service::start(&c).await },
    )
}
