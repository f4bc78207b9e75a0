//! A Stat Server agent-state watcher: opens the CurrentState and CurrentStateReason statistics
//! of the given agents on a Stat Server (with an optional backup) and prints each agent's
//! normalized state (logged in/out, ready / not ready + reason / after-call work, call type)
//! whenever it changes.
//!
//! ```text
//! cargo run -p engage-statserver --example agent_watch -- \
//!     --server stat-primary:2060 [--backup stat-backup:2060] [--tenant Resources] agent1 agent2
//! ```
//!
//! With no `--server` it starts the crate's Stat Server simulator (feature `sim`) on loopback,
//! walks two agents through a few states and exits: a self-contained demonstration of the
//! client API that needs no real server.

use std::collections::HashMap;
use std::time::Duration;

use engage_statserver::client::{ClientConfig, ClientEvent, Endpoint, StatClient};
use engage_statserver::sim::{SimServer, SimWorld};
use engage_statserver::{
    ActionRecord, AgentState, AgentStatus, DnAction, KvList, KvValue, ReferenceId, ServerMode,
    StatSpec, StatSubject, StatValue,
};

/// Command-line settings.
struct Args {
    server: Option<Endpoint>,
    backup: Option<Endpoint>,
    tenant: String,
    agents: Vec<String>,
}

fn endpoint(s: &str) -> Result<Endpoint, String> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("{s}: expected host:port"))?;
    let port = port
        .parse()
        .map_err(|e| format!("{s}: bad port {port:?}: {e}"))?;
    Ok(Endpoint::new(host, port))
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        server: None,
        backup: None,
        tenant: "Resources".to_owned(),
        agents: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--server" => args.server = Some(endpoint(&value("--server")?)?),
            "--backup" => args.backup = Some(endpoint(&value("--backup")?)?),
            "--tenant" => args.tenant = value("--tenant")?,
            "-h" | "--help" => {
                return Err(
                    "usage: agent_watch [--server host:port [--backup host:port]] \
                            [--tenant NAME] [AGENT…]"
                        .to_owned(),
                );
            }
            agent if !agent.starts_with('-') => args.agents.push(agent.to_owned()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(args)
}

/// An agent status with one DN and the given actions (for the simulator).
fn status(agent: &str, time: i64, actions: Vec<ActionRecord>) -> AgentStatus {
    AgentStatus::single_dn(
        agent,
        format!("place_{agent}"),
        "5001",
        "SIP",
        time,
        actions,
    )
}

/// The agent-state changes the simulator plays, one per second.
fn demo_script(agents: &[String]) -> Vec<(String, AgentStatus)> {
    let a = &agents[0];
    let b = agents.get(1).unwrap_or(a);
    let now = 1_764_000_000;
    let not_ready = |reason: &str| {
        ActionRecord::new(DnAction::NotReadyForNextCall, now)
            .with_attached_data(KvList::new().with("ReasonCode", KvValue::Str(reason.into())))
    };
    vec![
        (
            a.clone(),
            status(
                a,
                now,
                vec![ActionRecord::new(DnAction::WaitForNextCall, now)],
            ),
        ),
        (b.clone(), status(b, now, vec![not_ready("Break")])),
        (
            a.clone(),
            status(
                a,
                now + 1,
                vec![
                    ActionRecord::new(DnAction::WaitForNextCall, now),
                    ActionRecord::new(DnAction::CallInbound, now + 1),
                ],
            ),
        ),
        (
            a.clone(),
            status(
                a,
                now + 2,
                vec![ActionRecord::new(DnAction::AfterCallWork, now + 2)],
            ),
        ),
        (b.clone(), AgentStatus::logged_out(b.as_str(), now + 3)),
    ]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = parse_args()?;
    // No server given: run the simulator on loopback and play a short script.
    let sim = match &args.server {
        Some(_) => None,
        None => {
            let sim =
                SimServer::start(SimWorld::new(), "127.0.0.1:0".parse()?, ServerMode::Primary)
                    .await?;
            println!(
                "no --server: using the Stat Server simulator on {}",
                sim.local_addr()
            );
            args.server = Some(Endpoint::new("127.0.0.1", sim.local_addr().port()));
            if args.agents.is_empty() {
                args.agents = vec!["agent1".into(), "agent2".into()];
            }
            Some(sim)
        }
    };
    if args.agents.is_empty() {
        return Err("name at least one agent to watch".into());
    }
    let Some(server) = args.server.take() else {
        unreachable!("set above")
    };
    let (client, mut events) = StatClient::start(ClientConfig::new(server, args.backup.take()));
    // CurrentStateReason (subject DnAction) carries the not-ready reason, so it alone is enough
    // to watch states (EXAS opens CurrentState / DnStatus as well). Every agent's statistic goes
    // out in one pipelined burst.
    let refs = client.open_many(args.agents.iter().map(|a| {
        StatSpec::agent_current_state(a.as_str(), args.tenant.as_str(), StatSubject::DnAction)
    }))?;
    let watched: HashMap<ReferenceId, &str> = refs
        .iter()
        .copied()
        .zip(args.agents.iter().map(String::as_str))
        .collect();

    let mut script = sim.as_ref().map(|_| demo_script(&args.agents).into_iter());
    let mut last: HashMap<String, AgentState> = HashMap::new();
    let mut opened = 0;
    let watch = async {
        while let Some(ev) = events.recv().await {
            let got_value = matches!(ev, ClientEvent::Value { .. });
            match ev {
                ClientEvent::Value {
                    reference_id,
                    value: StatValue::AgentStatus(status),
                    ..
                } => {
                    let state = AgentState::summarize(&status);
                    let agent = watched.get(&reference_id).copied().unwrap_or("?");
                    if last.get(agent) != Some(&state) {
                        println!(
                            "{agent}: {:?}, {:?}, call {:?} (since {})",
                            state.login, state.readiness, state.call, state.since
                        );
                        last.insert(agent.to_owned(), state);
                    }
                }
                ClientEvent::Opened { .. } => opened += 1,
                other => println!("{other:?}"),
            }
            // Demonstration: once every statistic is open, each value received plays the next
            // change; the value of the last one ends it.
            if let (Some(sim), Some(script)) = (&sim, script.as_mut())
                && opened == refs.len()
                && got_value
            {
                match script.next() {
                    Some((agent, status)) => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        sim.set_agent_state(&agent, status);
                    }
                    None => break,
                }
            }
        }
    };
    if sim.is_some() {
        tokio::time::timeout(Duration::from_secs(30), watch)
            .await
            .map_err(|_| "the simulated agent states did not arrive within 30 s")?;
    } else {
        watch.await;
    }
    client.shutdown();
    Ok(())
}
