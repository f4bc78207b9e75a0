//! `exec`: the all-in-one EX Engage Connector binary (demo and operations CLI).

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
    Demo,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo => engage_connector::demo::run(),
    }
}
