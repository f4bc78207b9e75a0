//! `excp`: the EX Engage Connector Conversation Provider Service.
//!
//! Settings come from the environment (see `engage_connector::excp::config`); a missing
//! mandatory variable stops start-up with one line naming each of them.

use engage_connector::excp::config::ExcpConfig;
use engage_connector::excp::service::Service;
use engage_connector::ops::config::ProcessEnv;
use std::process::ExitCode;

fn main() -> ExitCode {
    engage_connector::ops::main::service_main(
        "excp",
        ExcpConfig::read(&ProcessEnv),
        |c| &c.log,
        |c| async move { Service::start(&c).await.map_err(|e| e.to_string()) },
    )
}
