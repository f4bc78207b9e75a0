//! Replays one scenario file through the call model and prints what an integrator would send
//! to Genesys Cloud: each GC conversation event as the JSON of its injection array, then the
//! recording segments and closures.
//!
//! ```sh
//! cargo run -p engage-callmodel --example replay -- tests/scenarios/06-hold-retrieve.yaml
//! ```
//!
//! Without an argument it replays `01-inbound-ivr-queue-agent-customer-hangs-up.yaml`.

use engage_callmodel::scenario::{Scenario, Step};
use engage_callmodel::{CallModel, Output};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let path = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Scenario::project_dir().join("01-inbound-ivr-queue-agent-customer-hangs-up.yaml")
        });
    let scenario = match Scenario::load(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("replay: {e}");
            return ExitCode::from(2);
        }
    };
    println!("# {} ({})", scenario.name, path.display());
    let mut model = CallModel::new(scenario.model_config());
    let mut outputs = 0usize;
    for step in &scenario.steps {
        match step {
            Step::Event(ev) => model.handle_input(ev, &scenario.lookups),
            Step::Timeout { timeout } => model.handle_timeout(*timeout),
            _ => {}
        }
        while let Some(out) = model.poll_output() {
            outputs += 1;
            match out {
                Output::Event(e) => println!("{} {}", e.array_name(), e.to_json()),
                other => println!("{other:?}"),
            }
        }
    }
    println!(
        "# {outputs} outputs, {} conversations still live",
        model.live_conversations()
    );
    ExitCode::SUCCESS
}
