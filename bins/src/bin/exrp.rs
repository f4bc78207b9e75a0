//! `exrp`: the EX Engage Connector Recording Provider.
//!
//! Settings come from the environment (see `engage_exrp`'s crate doc); a missing mandatory
//! variable stops start-up with one line naming each of them.

use engage_exrp::config::ExrpConfig;
use engage_exrp::service::Service;
use engage_ops::config::ProcessEnv;
use std::process::ExitCode;

fn main() -> ExitCode {
    engage_ops::service::service_main(
        "exrp",
        ExrpConfig::read(&ProcessEnv),
        |c| &c.log,
        |c| async move { Service::start(&c).await },
    )
}
