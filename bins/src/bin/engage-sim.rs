//! `engage-sim`: the simulated Genesys side for tests, benches and the demo.
//!
//! - `engage-sim seed-db --url postgres://…|sqlite:PATH --agents N [--schema]` writes a
//!   generated contact center into a Config DB (the only tool of ours that writes there; never
//!   point it at a production Config DB).
//! - `engage-sim stat --listen 127.0.0.1:2060` serves the Stat Server simulator (agents start
//!   logged out; tests drive them through the library's control API).

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Simulated Genesys Engage components.
#[derive(Debug, Parser)]
#[command(name = "engage-sim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
    /// Serve the Stat Server simulator.
    Stat {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:2060")]
        listen: std::net::SocketAddr,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().command {
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
