//! `exas`: the EX Engage Connector Agent State Sync Service.
//!
//! Settings come from the environment (see `engage_connector::exas::config`); a missing
//! mandatory variable stops start-up with one line naming each of them.

use engage_connector::exas::config::ExasConfig;
use engage_connector::exas::service::Service;
use engage_connector::ops::config::ProcessEnv;
use std::process::ExitCode;

fn main() -> ExitCode {
    let config = match ExasConfig::read(&ProcessEnv) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("exas: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = engage_connector::ops::logging::init("exas", &config.log) {
        eprintln!("exas: cannot set up logging: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("exas: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let service = match Service::start(&config).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "EXAS cannot start");
                eprintln!("exas: {e}");
                return ExitCode::FAILURE;
            }
        };
        tracing::info!(addr = %service.http_addr, "EXAS started");
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("EXAS stopping");
        service.shutdown().await;
        ExitCode::SUCCESS
    })
}
