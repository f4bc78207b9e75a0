//! A SIP Server simulator over TCP, for tests (feature `sim`).
//!
//! It accepts T-Library clients and answers, echoing the request's `ReferenceID`:
//!
//! - `RequestRegisterClient` → `EventServerConnected` (or `EventError` when a password is
//!   required by [`SimServer::set_password`] and the client sent another one);
//! - `RequestRegisterAddress` → `EventRegistered` with `ThisDN` (the DN is then registered
//!   on that connection), or `EventError` for a DN given to [`SimServer::reject_dn`];
//!   `RequestUnregisterAddress` → `EventUnregistered`;
//! - `RequestStartCallMonitoring` → `EventAck` (the connection then receives call events);
//!   `RequestStopCallMonitoring` → `EventAck`;
//! - `RequestQueryServer` (our ADDP poll) → `EventServerInfo`;
//! - anything else → `EventError`.
//!
//! A request sent before the client is registered is answered with `EventError`. The test
//! pushes events with [`SimServer::send_to_dn`], [`SimServer::send_to_call_monitors`] and
//! [`SimServer::broadcast`]; each goes out in the order pushed. [`SimServer::stop`] drops every
//! connection at once (a crash); [`SimServer::restart`] listens again on the same port;
//! [`SimServer::set_frozen`] keeps connections open but answers nothing (a hung server).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::codec::Framed;

use crate::codec::TlibCodec;
use crate::message::Message;
use crate::message_type::MessageType;

/// What the simulator pushes to a client.
#[derive(Debug, Clone)]
enum Push {
    /// A message, framed by the codec.
    Msg(Message),
    /// Raw bytes, written as they are (malformed frames, for fault tests).
    Raw(bytes::Bytes),
}

#[derive(Debug)]
struct Client {
    id: usize,
    tx: mpsc::UnboundedSender<Push>,
    registered: bool,
    dns: HashSet<String>,
    monitoring: bool,
}

#[derive(Debug, Default)]
struct State {
    clients: Vec<Client>,
    password: Option<String>,
    rejected_dns: HashSet<String>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    next_id: AtomicUsize,
    requests: AtomicUsize,
    addp_polls: AtomicUsize,
    frozen: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not poison the simulator for the others.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A simulated SIP Server listening on one TCP port.
#[derive(Debug)]
pub struct SimServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl SimServer {
    /// Starts a server on `addr` (port 0 picks a free port).
    pub async fn start(addr: SocketAddr) -> std::io::Result<Self> {
        let mut s = Self {
            addr,
            shared: Arc::new(Shared::default()),
            task: None,
        };
        s.listen().await?;
        Ok(s)
    }

    async fn listen(&mut self) -> std::io::Result<()> {
        let listener = engage_base::net::listen(self.addr)?;
        self.addr = listener.local_addr()?;
        self.task = Some(tokio::spawn(accept_loop(listener, self.shared.clone())));
        Ok(())
    }

    /// The address it listens on (with the actual port).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requires this application password from now on (`None`: any password is accepted).
    pub fn set_password(&self, password: Option<&str>) {
        self.shared.lock().password = password.map(str::to_owned);
    }

    /// Stops listening and drops every connection at once (a crash, for clients).
    pub async fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
        self.shared.lock().clients.clear();
    }

    /// Starts again on the same port after [`SimServer::stop`].
    pub async fn restart(&mut self) -> std::io::Result<()> {
        self.stop().await;
        self.listen().await
    }

    /// Whether it is listening.
    pub fn is_running(&self) -> bool {
        self.task.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Connected clients now.
    pub fn connections(&self) -> usize {
        self.shared.lock().clients.len()
    }

    /// Clients that completed `RequestRegisterClient`.
    pub fn registered_clients(&self) -> usize {
        self.shared
            .lock()
            .clients
            .iter()
            .filter(|c| c.registered)
            .count()
    }

    /// How many connections have `dn` registered.
    pub fn registrations(&self, dn: &str) -> usize {
        self.shared
            .lock()
            .clients
            .iter()
            .filter(|c| c.dns.contains(dn))
            .count()
    }

    /// How many connections monitor calls.
    pub fn call_monitors(&self) -> usize {
        self.shared
            .lock()
            .clients
            .iter()
            .filter(|c| c.monitoring)
            .count()
    }

    /// Answers `RequestRegisterAddress` for `dn` with `EventError` (code 71) from now on, as
    /// for a DN missing from the configuration.
    pub fn reject_dn(&self, dn: &str) {
        self.shared.lock().rejected_dns.insert(dn.to_owned());
    }

    /// Freezes the server (`true`): connections stay open but every request and pushed event
    /// is swallowed, as by a hung process; clients notice only through ADDP.
    pub fn set_frozen(&self, frozen: bool) {
        self.shared.frozen.store(frozen, Ordering::SeqCst);
    }

    /// `RequestQueryServer` messages (the client's ADDP polls) received since start.
    pub fn addp_polls(&self) -> usize {
        self.shared.addp_polls.load(Ordering::SeqCst)
    }

    /// Requests received since start (over restarts).
    pub fn requests_received(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    fn push(&self, msg: &Message, to: impl Fn(&Client) -> bool) -> usize {
        let st = self.shared.lock();
        st.clients
            .iter()
            .filter(|c| c.registered && to(c))
            .filter(|c| c.tx.send(Push::Msg(msg.clone())).is_ok())
            .count()
    }

    /// Sends `msg` to every registered client; returns how many it was queued for.
    pub fn broadcast(&self, msg: Message) -> usize {
        self.push(&msg, |_| true)
    }

    /// Sends `msg` to every client that registered `dn`; returns how many.
    pub fn send_to_dn(&self, dn: &str, msg: Message) -> usize {
        self.push(&msg, |c| c.dns.contains(dn))
    }

    /// Sends `msg` to every client that started call monitoring; returns how many.
    pub fn send_to_call_monitors(&self, msg: Message) -> usize {
        self.push(&msg, |c| c.monitoring)
    }

    /// Writes `bytes` as they are to every client that started call monitoring (e.g. a
    /// malformed frame, as a real server's odd data would arrive); returns how many.
    pub fn send_raw_to_call_monitors(&self, bytes: bytes::Bytes) -> usize {
        self.shared
            .lock()
            .clients
            .iter()
            .filter(|c| c.registered && c.monitoring)
            .filter(|c| c.tx.send(Push::Raw(bytes.clone())).is_ok())
            .count()
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Connection tasks live in the set: aborting this task drops the set, which aborts them.
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve(stream, shared.clone()));
                }
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

fn answer(shared: &Shared, id: usize, req: &Message) -> Message {
    let reply = |t: MessageType| {
        let b = Message::builder(t);
        match req.reference_id() {
            Some(r) => b.reference_id(r),
            None => b,
        }
    };
    let error = |code: i32, text: &str| {
        reply(MessageType::EventError)
            .error_code(code)
            .error_message(text)
            .build()
    };
    let mut st = shared.lock();
    let password = st.password.clone();
    let rejected = req.this_dn().is_some_and(|d| st.rejected_dns.contains(d));
    let Some(client) = st.clients.iter_mut().find(|c| c.id == id) else {
        return error(1, "connection closed");
    };
    let registered = client.registered;
    match req.msg_type() {
        MessageType::RequestRegisterClient => {
            if password.is_some_and(|p| req.application_password() != Some(p.as_str())) {
                return error(53, "Invalid password");
            }
            client.registered = true;
            reply(MessageType::EventServerConnected).build()
        }
        MessageType::RequestQueryServer => reply(MessageType::EventServerInfo).build(),
        _ if !registered => error(2, "client not registered"),
        MessageType::RequestRegisterAddress if rejected => error(71, "DN not configured"),
        MessageType::RequestRegisterAddress => match req.this_dn() {
            Some(dn) => {
                client.dns.insert(dn.to_owned());
                reply(MessageType::EventRegistered).this_dn(dn).build()
            }
            None => error(3, "ThisDN missing"),
        },
        MessageType::RequestUnregisterAddress => match req.this_dn() {
            Some(dn) => {
                client.dns.remove(dn);
                reply(MessageType::EventUnregistered).this_dn(dn).build()
            }
            None => error(3, "ThisDN missing"),
        },
        MessageType::RequestStartCallMonitoring => {
            client.monitoring = true;
            reply(MessageType::EventAck).build()
        }
        MessageType::RequestStopCallMonitoring => {
            client.monitoring = false;
            reply(MessageType::EventAck).build()
        }
        _ => error(4, "not supported by the simulator"),
    }
}

async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
    let (tx, mut rx) = mpsc::unbounded_channel();
    shared.lock().clients.push(Client {
        id,
        tx,
        registered: false,
        dns: HashSet::new(),
        monitoring: false,
    });
    let mut framed = Framed::new(stream, TlibCodec::default());
    loop {
        tokio::select! {
            item = framed.next() => match item {
                Some(Ok(req)) => {
                    shared.requests.fetch_add(1, Ordering::SeqCst);
                    if req.msg_type() == MessageType::RequestQueryServer {
                        shared.addp_polls.fetch_add(1, Ordering::SeqCst);
                    }
                    if shared.frozen.load(Ordering::SeqCst) {
                        continue;
                    }
                    let reply = answer(&shared, id, &req);
                    if framed.send(reply).await.is_err() {
                        break;
                    }
                }
                _ => break,
            },
            Some(ev) = rx.recv() => {
                if shared.frozen.load(Ordering::SeqCst) {
                    continue;
                }
                let sent = match ev {
                    Push::Msg(m) => framed.send(m).await.is_ok(),
                    Push::Raw(b) => {
                        use tokio::io::AsyncWriteExt;
                        SinkExt::<Message>::flush(&mut framed).await.is_ok()
                            && framed.get_mut().write_all(&b).await.is_ok()
                    }
                };
                if !sent {
                    break;
                }
            }
        }
    }
    shared.lock().clients.retain(|c| c.id != id);
}
