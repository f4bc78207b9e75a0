//! A TLib call monitor: connects to a SIP Server / T-Server (with an optional backup),
//! registers DNs, and prints every call event it receives.
//!
//! ```text
//! cargo run -p engage-tlib --example call_monitor -- \
//!     --server sip-primary:3000 [--backup sip-backup:3000] [--app EX_Engage_Connector] \
//!     [--password …] [--call-monitoring] 5001 5002
//! ```
//!
//! With no `--server` it starts the crate's SIP Server simulator (feature `sim`) on loopback,
//! plays one call (ringing, established, released) on DN 5001 and exits: a self-contained
//! demonstration of the client API that needs no real server.

use std::time::{Duration, UNIX_EPOCH};

use engage_tlib::client::{ClientConfig, ClientEvent, Endpoint, TlibClient};
use engage_tlib::sim::SimServer;
use engage_tlib::{CallUuid, ConnId, KvList, Message, MessageType};

/// Command-line settings.
struct Args {
    server: Option<Endpoint>,
    backup: Option<Endpoint>,
    app: String,
    password: String,
    call_monitoring: bool,
    dns: Vec<String>,
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
        app: "EX_Engage_Connector".to_owned(),
        password: String::new(),
        call_monitoring: false,
        dns: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--server" => args.server = Some(endpoint(&value("--server")?)?),
            "--backup" => args.backup = Some(endpoint(&value("--backup")?)?),
            "--app" => args.app = value("--app")?,
            "--password" => args.password = value("--password")?,
            "--call-monitoring" => args.call_monitoring = true,
            "-h" | "--help" => {
                return Err(
                    "usage: call_monitor [--server host:port [--backup host:port]] \
                            [--app NAME] [--password P] [--call-monitoring] [DN…]"
                        .to_owned(),
                );
            }
            dn if !dn.starts_with('-') => args.dns.push(dn.to_owned()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(args)
}

/// One line per call event: type, DN, ConnID, CallUUID, ANI and the event time.
fn describe(m: &Message) -> String {
    let mut line = format!("{:<22}", m.msg_type().to_string());
    if let Some(dn) = m.this_dn() {
        line += &format!(" dn={dn}");
    }
    if let Some(c) = m.conn_id() {
        line += &format!(" conn={c}");
    }
    if let Some(u) = m.call_uuid() {
        line += &format!(" uuid={u}");
    }
    if let Some(ani) = m.ani() {
        line += &format!(" ani={ani}");
    }
    // TimeStamp is epoch microseconds.
    if let Some(us) = m.time_stamp() {
        line += &format!(
            " at={}.{:06}s",
            us.div_euclid(1_000_000),
            us.rem_euclid(1_000_000)
        );
    }
    if let Some(ud) = m.user_data() {
        line += &format!(" user_data={ud:?}");
    }
    line
}

/// The call the simulator plays on `dn`.
fn demo_call(dn: &str) -> Vec<Message> {
    let conn: ConnId = "006e02a8d7a3b001".parse().expect("16 hex digits");
    let uuid: CallUuid = "0123456789ABCDEFGHIJKLMNOPQRSTUV"
        .parse()
        .expect("32 chars");
    let now_us = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64);
    let ud = KvList::new().with("CustomerId", "4711");
    [
        MessageType::EventRinging,
        MessageType::EventEstablished,
        MessageType::EventReleased,
    ]
    .into_iter()
    .enumerate()
    .map(|(i, t)| {
        Message::builder(t)
            .this_dn(dn)
            .conn_id(conn)
            .call_uuid(uuid)
            .ani("+4930123456")
            .time_stamp(now_us + i as i64 * 1_000_000)
            .user_data(&ud)
            .build()
    })
    .collect()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = parse_args()?;
    // No server given: run the simulator on loopback and play one call.
    let sim = match &args.server {
        Some(_) => None,
        None => {
            let sim = SimServer::start("127.0.0.1:0".parse()?).await?;
            println!(
                "no --server: using the SIP Server simulator on {}",
                sim.local_addr()
            );
            args.server = Some(Endpoint::new("127.0.0.1", sim.local_addr().port()));
            if args.dns.is_empty() {
                args.dns = vec!["5001".into(), "5002".into()];
            }
            Some(sim)
        }
    };
    let Some(server) = args.server.take() else {
        unreachable!("set above")
    };
    let mut config = ClientConfig::new(server, args.backup.take(), args.app.clone());
    config.app_password = args.password.clone();
    config.dns_to_register = args.dns.clone();
    config.call_monitoring = args.call_monitoring;
    let (client, mut events) = TlibClient::start(config)?;

    let demo = async {
        while let Some(ev) = events.recv().await {
            match ev {
                ClientEvent::Registered { which } => {
                    println!("registered on the {which} server: DNs {:?}", args.dns);
                    if let Some(sim) = &sim {
                        for m in demo_call(&args.dns[0]) {
                            sim.send_to_dn(&args.dns[0], m);
                        }
                    }
                }
                ClientEvent::Message(m) => {
                    println!("{}", describe(&m));
                    if sim.is_some() && m.msg_type() == MessageType::EventReleased {
                        break;
                    }
                }
                other => println!("{other:?}"),
            }
        }
    };
    if sim.is_some() {
        // The demonstration ends by itself; never hang if something goes wrong.
        tokio::time::timeout(Duration::from_secs(30), demo)
            .await
            .map_err(|_| "the simulated call did not arrive within 30 s")?;
    } else {
        demo.await;
    }
    client.shutdown();
    Ok(())
}
