//! `exec`: the all-in-one EX Engage Connector command: the demo on embedded defaults (feature
//! `demo`, on by default: it links the in-project simulators and GC emulator) and the
//! operator's checks. Packaged operator tooling is built with `--no-default-features` and then
//! links no simulator; the services themselves are the `excs`, `exas` and `excp` binaries of
//! `engage-connector`, which never do.
//!
//! `exec --help` lists the settings it reads (`exec doctor`'s `EXCS_CONFIG_DB_*`, the table of
//! `engage_excs::service::CONFIG_DB_SETTINGS`); `exec --check-config` validates them.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use engage_ops::cli::{Request, respond};
use engage_ops::config::{Lookup, ProcessEnv};
use engage_ops::settings::ServiceSettings;
use std::process::ExitCode;

/// EX Engage Connector: all-in-one demo and operations CLI.
#[derive(Debug, Parser)]
#[command(name = "exec", version = engage_ops::cli::VERSION, about)]
struct Cli {
    /// Validate the settings `exec doctor` reads and print them (secrets redacted); exit 0
    /// when valid, 2 with the error otherwise. Connects to nothing.
    #[arg(long)]
    check_config: bool,
    #[command(subcommand)]
    command: Option<Command>,
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
    /// Confirm, once, a sync cycle EXCS refused for removing too much (its /status says how
    /// many): VALUE is `true` or the number of removals to allow. Written to the shared store
    /// named by EXEC_ORG_ID, EXEC_TENANT_ID and EXEC_REDIS_* (or EXEC_STORE_PATH); EXCS's next
    /// poll uses it and removes it. No restart.
    ConfirmRemovals {
        /// `true`, or the largest number of removals to allow.
        value: String,
    },
}

/// What `exec` reads from the environment: `exec doctor`'s Config DB settings.
static SETTINGS: ServiceSettings = ServiceSettings::new(
    "exec",
    "EX Engage Connector all-in-one demo and operations CLI",
    &[
        engage_excs::service::CONFIG_DB_SETTINGS,
        engage_ops::config::COMMON_SETTINGS,
        engage_ops::config::STORE_SETTINGS,
    ],
);

fn read_db(lookup: &dyn Lookup) -> Result<engage_cfgdb::DbConfig, engage_cfgdb::db::ConfigError> {
    engage_cfgdb::DbConfig::from_lookup(|k| lookup.get(k))
}

fn main() -> ExitCode {
    let command = Cli::command().after_help(SETTINGS.settings_help());
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if cli.check_config {
        let names: Vec<String> = std::env::vars_os()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        let code = respond(
            &SETTINGS,
            &Request::CheckConfig,
            &ProcessEnv,
            read_db,
            &names,
            &mut std::io::stdout().lock(),
            &mut std::io::stderr().lock(),
        );
        return ExitCode::from(code.unwrap_or(0));
    }
    match cli.command {
        #[cfg(feature = "demo")]
        Some(Command::Demo) => engage_sim::demo::run(),
        Some(Command::Doctor) => doctor(),
        Some(Command::ConfirmRemovals { value }) => confirm_removals(&value),
        None => {
            eprintln!("exec: a command is needed; see exec --help");
            ExitCode::from(2)
        }
    }
}

/// A current-thread runtime for command `what`; `None` after saying why it could not start.
fn runtime(what: &str) -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("exec {what}: {e}");
            None
        }
    }
}

fn confirm_removals(value: &str) -> ExitCode {
    let mut env = engage_ops::config::EnvReader::new(&ProcessEnv);
    let common = engage_ops::config::CommonConfig::read(&mut env);
    let store = engage_ops::config::store_settings(&mut env);
    if let Err(e) = env.finish() {
        eprintln!("exec confirm-removals: {e}");
        return ExitCode::from(2);
    }
    let Some(rt) = runtime("confirm-removals") else {
        return ExitCode::FAILURE;
    };
    rt.block_on(async {
        let store = match store.open().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("exec confirm-removals: {e}");
                return ExitCode::FAILURE;
            }
        };
        let ns = engage_store::Namespace::new(&common.tenant_id, &common.org_id);
        let json = engage_store::JsonView::new(store, ns);
        match engage_excs::service::confirm_removals(&json, value).await {
            Ok(c) => {
                println!(
                    "confirmed ({c:?}): EXCS runs the refused cycle once at its next poll if it plans no more removals than that"
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("exec confirm-removals: {e}");
                ExitCode::from(2)
            }
        }
    })
}

fn doctor() -> ExitCode {
    let cfg = match read_db(&ProcessEnv) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("exec doctor: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(rt) = runtime("doctor") else {
        return ExitCode::FAILURE;
    };
    rt.block_on(async {
        let db = match engage_excs::service::open_config_db(&cfg) {
            Ok(db) => db,
            Err(e) => {
                eprintln!("exec doctor: cannot open the Config DB: {e}");
                return ExitCode::FAILURE;
            }
        };
        match engage_cfgdb::doctor(db.as_ref(), &engage_cfgdb::SchemaMap::default()).await {
            Ok(report) => {
                println!("{report}");
                if report.is_ok() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(e) => {
                eprintln!("exec doctor: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
