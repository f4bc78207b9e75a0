//! `excp`: the EX Engage Connector Conversation Provider Service.
//!
//! Settings come from the environment (see `engage_excp::config`); a missing
//! mandatory variable stops start-up with one line naming each of them.

use engage_excp::config::ExcpConfig;
use engage_excp::service::Service;
use engage_ops::config::ProcessEnv;
use std::process::ExitCode;

fn main() -> ExitCode {
    engage_ops::service::service_main(
        "excp",
        ExcpConfig::read(&ProcessEnv),
        |c| &c.log,
        |c| async move { Service::start(&c).await },
    )
}
