//! `exec`: the all-in-one EX Engage Connector command: the demo on embedded defaults (feature
//! `demo`, on by default: it links the in-project simulators and GC emulator) and the
//! operator's checks. Packaged operator tooling is built with `--no-default-features` and then
//! links no simulator; the services themselves are the `excs`, `exas` and `excp` binaries of
//! `engage-connector`, which never do.

use clap::{Parser, Subcommand};

/// EX Engage Connector: all-in-one demo and operations CLI.
#[derive(Debug, Parser)]
#[command(name = "exec", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the connector on embedded defaults (simulated Engage, GC emulator, embedded store)
    /// and print a summary of what it did.
    #[cfg(feature = "demo")]
    Demo,
    /// Check, read-only, that the Config DB named by the EXCS_CONFIG_DB_* variables has every
    /// table and column the connector reads; prints each one that is missing.
    Doctor,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo => engage_sim::demo::run(),
        Command::Doctor => doctor(),
    }
}

fn doctor() -> std::process::ExitCode {
    let cfg = match engage_cfgdb::DbConfig::from_lookup(|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("exec doctor: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("exec doctor: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    rt.block_on(async {
        let db = match engage_excs::service::open_config_db(&cfg) {
            Ok(db) => db,
            Err(e) => {
                eprintln!("exec doctor: cannot open the Config DB: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        match engage_cfgdb::doctor(db.as_ref(), &engage_cfgdb::SchemaMap::default()).await {
            Ok(report) => {
                println!("{report}");
                if report.is_ok() {
                    std::process::ExitCode::SUCCESS
                } else {
                    std::process::ExitCode::FAILURE
                }
            }
            Err(e) => {
                eprintln!("exec doctor: {e}");
                std::process::ExitCode::FAILURE
            }
        }
    })
}
