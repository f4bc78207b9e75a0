//! The tokio side (feature `tokio`): connecting to an [`Endpoint`] with a time-out, and the
//! listener the simulators bind.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::Endpoint;

/// A connection attempt that failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// The connection was refused, the name did not resolve, …
    Io {
        /// The server.
        endpoint: Endpoint,
        /// Why.
        source: std::io::Error,
    },
    /// No answer within the time-out.
    TimedOut {
        /// The server.
        endpoint: Endpoint,
        /// The time-out.
        after: Duration,
    },
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Io { endpoint, source } => {
                write!(f, "cannot connect to {endpoint}: {source}")
            }
            ConnectError::TimedOut { endpoint, after } => {
                write!(f, "connecting to {endpoint} timed out after {after:?}")
            }
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectError::Io { source, .. } => Some(source),
            ConnectError::TimedOut { .. } => None,
        }
    }
}

/// Connects to `endpoint`, giving up after `timeout`; the stream has `TCP_NODELAY` set (the
/// protocols send small request/answer frames).
pub async fn connect(endpoint: &Endpoint, timeout: Duration) -> Result<TcpStream, ConnectError> {
    let attempt = TcpStream::connect((endpoint.host.as_str(), endpoint.port));
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
        Ok(Err(source)) => Err(ConnectError::Io {
            endpoint: endpoint.clone(),
            source,
        }),
        Err(_) => Err(ConnectError::TimedOut {
            endpoint: endpoint.clone(),
            after: timeout,
        }),
    }
}

/// Binds a listener on `addr` (port 0 picks a free port) with `SO_REUSEADDR`, so a simulator
/// stopped and restarted on the same port binds again at once. Call it inside a tokio runtime.
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connects_to_a_listener_and_reports_a_refusal() {
        let l = listen("127.0.0.1:0".parse().expect("addr")).expect("binds");
        let port = l.local_addr().expect("addr").port();
        let ep = Endpoint::new("127.0.0.1", port);
        let s = connect(&ep, Duration::from_secs(5))
            .await
            .expect("connects");
        assert!(s.nodelay().expect("nodelay"));
        drop(l);
        let e = connect(&ep, Duration::from_secs(5))
            .await
            .expect_err("refused");
        assert!(
            e.to_string()
                .starts_with(&format!("cannot connect to 127.0.0.1:{port}")),
            "{e}"
        );
    }
}
