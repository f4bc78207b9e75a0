//! `gcex-emulator`: a stateful Genesys Cloud EX org over HTTP, for tests and the demo.
//!
//! ```text
//! gcex-emulator --listen 127.0.0.1:8089 --client-id demo --client-secret demo-secret
//! ```
//!
//! The API base and the auth base are both `http://LISTEN`; the inspection API is under
//! `/emulator/…`. Every option can come from its `GCEX_EMULATOR_*` variable (all ours: the
//! emulator is test tooling, never part of a deployment); `--check-config` validates them and
//! prints them, the client secret redacted, without listening.

use clap::Parser;
use gcex::emulator::{Emulator, EmulatorConfig};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

/// Serve an emulated Genesys Cloud EX org (Platform API + /oauth/token) on one port.
#[derive(Parser)]
#[command(
    name = "gcex-emulator",
    version = engage_ops::cli::VERSION,
    about = "Serve an emulated Genesys Cloud EX org (Platform API, /oauth/token, /emulator inspection) on one port",
    after_help = "Settings: each option above can be set by its [env: GCEX_EMULATOR_*] variable instead (all of them our additions, none in the deployment guide; none mandatory). The client secret's value is never printed."
)]
struct Cli {
    /// Validate the options and variables and print the effective configuration (the
    /// client secret redacted); exit 0 when valid, 2 otherwise. Listens on nothing.
    #[arg(long)]
    check_config: bool,
    /// Address to listen on.
    #[arg(long, env = "GCEX_EMULATOR_LISTEN", default_value = "127.0.0.1:8089")]
    listen: SocketAddr,
    /// The accepted OAuth client id.
    #[arg(
        long,
        env = "GCEX_EMULATOR_CLIENT_ID",
        default_value = "emulator-client"
    )]
    client_id: String,
    /// The accepted OAuth client secret.
    #[arg(
        long,
        env = "GCEX_EMULATOR_CLIENT_SECRET",
        default_value = "emulator-secret",
        hide_env_values = true
    )]
    client_secret: String,
    /// The org id to report.
    #[arg(long, env = "GCEX_EMULATOR_ORG_ID")]
    organization_id: Option<String>,
    /// Access token lifetime in seconds.
    #[arg(
        long,
        env = "GCEX_EMULATOR_TOKEN_LIFETIME_SECS",
        default_value_t = 86_400
    )]
    token_lifetime_secs: u64,
    /// Requests per minute per token; 0 disables the limit.
    #[arg(long, env = "GCEX_EMULATOR_RATE_LIMIT_PER_MIN", default_value_t = 300)]
    rate_limit_per_min: u32,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.check_config {
        println!(
            "gcex-emulator {}: effective configuration\n",
            engage_ops::cli::VERSION
        );
        println!("  GCEX_EMULATOR_LISTEN                = {}", cli.listen);
        println!("  GCEX_EMULATOR_CLIENT_ID             = {}", cli.client_id);
        println!(
            "  GCEX_EMULATOR_CLIENT_SECRET         = {}",
            engage_ops::settings::REDACTED
        );
        println!(
            "  GCEX_EMULATOR_ORG_ID                = {}",
            cli.organization_id.as_deref().unwrap_or("(generated)")
        );
        println!(
            "  GCEX_EMULATOR_TOKEN_LIFETIME_SECS   = {}",
            cli.token_lifetime_secs
        );
        println!(
            "  GCEX_EMULATOR_RATE_LIMIT_PER_MIN    = {}",
            cli.rate_limit_per_min
        );
        println!("\nconfiguration valid");
        return ExitCode::SUCCESS;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gcex-emulator: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let mut cfg = EmulatorConfig::new(cli.client_id, cli.client_secret)
            .with_listen(cli.listen)
            .with_token_lifetime(Duration::from_secs(cli.token_lifetime_secs.max(1)))
            .with_rate_limit(cli.rate_limit_per_min, Duration::from_secs(60));
        if let Some(org) = cli.organization_id {
            cfg = cfg.with_organization_id(org);
        }
        let handle = match Emulator::start(cfg).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("gcex-emulator: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!(
            "gcex-emulator listening on {} (API and auth base: {}; inspection: {}/emulator/org)",
            handle.addr(),
            handle.base_url(),
            handle.base_url()
        );
        if let Err(e) = tokio::signal::ctrl_c().await {
            eprintln!("gcex-emulator: cannot wait for Ctrl-C: {e}");
        }
        handle.shutdown().await;
        ExitCode::SUCCESS
    })
}
