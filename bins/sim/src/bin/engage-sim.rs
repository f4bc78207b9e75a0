//! `engage-sim`: the simulated Genesys side for tests, benches and the demo.
//!
//! - `engage-sim seed-db --url postgres://…|sqlite:PATH --agents N [--schema]` writes a
//!   generated contact center into a Config DB (the only tool of ours that writes there; never
//!   point it at a production Config DB).
//! - `engage-sim stat --listen 127.0.0.1:2060` serves the Stat Server simulator (agents start
//!   logged out; tests drive them through the library's control API).
//! - `engage-sim sip --listen 127.0.0.1:8000 --scenario FILE… [--every SECS]` serves the SIP
//!   Server simulator (TLib) and, once a call-monitoring client is registered, plays the
//!   scenario files (`tests/scenarios/*.yaml`) as TLib events, shifted to the current time;
//!   again every `SECS` seconds when `--every` is given.
//!
//! It reads no environment variable: `--help` says so, and `--check-config` has nothing to
//! check (exit 0).

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Simulated Genesys Engage components.
#[derive(Debug, Parser)]
#[command(
    name = "engage-sim",
    version = engage_ops::cli::VERSION,
    about,
    after_help = "Settings: engage-sim reads no environment variable; everything is an argument above (test tooling, our addition: never part of a deployment)."
)]
struct Cli {
    /// Validate the settings and print them: engage-sim reads none from the environment, so
    /// this always succeeds (exit 0).
    #[arg(long)]
    check_config: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a generated contact center into a Config DB.
    SeedDb {
        /// `postgres://user@host:port/db` or `sqlite:PATH`.
        #[arg(long)]
        url: String,
        /// Number of agents.
        #[arg(long, default_value_t = 100)]
        agents: usize,
        /// RNG seed (same seed, same data).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Create the schema first.
        #[arg(long)]
        schema: bool,
    },
    /// Serve the SIP Server simulator and play scenario files on it.
    Sip {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8000")]
        listen: std::net::SocketAddr,
        /// Scenario files to play (in order).
        #[arg(long)]
        scenario: Vec<std::path::PathBuf>,
        /// Play them again every this many seconds.
        #[arg(long)]
        every: Option<u64>,
    },
    /// Serve the Stat Server simulator.
    Stat {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:2060")]
        listen: std::net::SocketAddr,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.check_config {
        println!(
            "engage-sim {}: reads no environment variable; configuration valid",
            engage_ops::cli::VERSION
        );
        return ExitCode::SUCCESS;
    }
    let Some(command) = cli.command else {
        eprintln!("engage-sim: a command is needed; see engage-sim --help");
        return ExitCode::from(2);
    };
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(run(command)),
        Err(e) => {
            eprintln!("engage-sim: cannot start the tokio runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> ExitCode {
    match command {
        Command::SeedDb {
            url,
            agents,
            seed,
            schema,
        } => {
            let mut spec = engage_cfgdb::seed::SeedSpec::agents(agents);
            spec.seed = seed;
            match engage_cfgdb::seed::seed_url(&url, &spec, schema).await {
                Ok(data) => {
                    println!(
                        "seeded {} persons, {} DNs, {} agent groups, {} skills",
                        data.count("cfg_person"),
                        data.count("cfg_dn"),
                        data.count("cfg_group"),
                        data.count("cfg_skill")
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("engage-sim seed-db: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Sip {
            listen,
            scenario,
            every,
        } => sip(listen, &scenario, every).await,
        Command::Stat { listen } => {
            let world = engage_statserver::sim::SimWorld::new();
            match engage_statserver::sim::SimServer::start(
                world,
                listen,
                engage_statserver::ServerMode::Primary,
            )
            .await
            {
                Ok(server) => {
                    println!("Stat Server simulator listening on {}", server.local_addr());
                    let _ = tokio::signal::ctrl_c().await;
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("engage-sim stat: cannot listen on {listen}: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn sip(
    listen: std::net::SocketAddr,
    files: &[std::path::PathBuf],
    every: Option<u64>,
) -> ExitCode {
    use engage_callmodel::scenario::Scenario;
    let mut scenarios = Vec::new();
    for f in files {
        match Scenario::load(f) {
            Ok(s) => scenarios.push(s),
            Err(e) => {
                eprintln!("engage-sim sip: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let sim = match engage_tlib::sim::SimServer::start(listen).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("engage-sim sip: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("SIP Server simulator listening on {}", sim.local_addr());
    if scenarios.is_empty() {
        let _ = tokio::signal::ctrl_c().await;
        return ExitCode::SUCCESS;
    }
    let play_all = async {
        loop {
            while sim.call_monitors() == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            for s in &scenarios {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                match engage_sim::player::play(&sim, s, now) {
                    Ok(p) => println!(
                        "played {:?}: {} events, {} deliveries, {} with no registered client",
                        s.name, p.events, p.deliveries, p.undelivered
                    ),
                    Err(e) => eprintln!("engage-sim sip: {:?}: {e}", s.name),
                }
            }
            match every {
                Some(secs) => tokio::time::sleep(std::time::Duration::from_secs(secs.max(1))).await,
                None => std::future::pending::<()>().await,
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = play_all => {}
    }
    ExitCode::SUCCESS
}
