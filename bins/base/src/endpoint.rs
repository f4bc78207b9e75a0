//! Server addresses and the primary/backup failover rule, without sockets or clock.

use std::fmt;
use std::time::Duration;

use crate::backoff::Backoff;

/// A server address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Endpoint {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl Endpoint {
    /// An endpoint.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Which server of the HA pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerRole {
    /// The primary server (the `…_PRIMARY_*` settings).
    Primary,
    /// The backup server (the `…_BACKUP_*` settings).
    Backup,
}

impl fmt::Display for ServerRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServerRole::Primary => "primary",
            ServerRole::Backup => "backup",
        })
    }
}

/// Which server of a primary/backup pair to connect to next, and how long to wait first.
///
/// The rule both protocol clients follow: start on the primary; when a link drops, switch to
/// the other server at once (a switchover); when a connection attempt fails, try the other
/// server at once, and only after a full round (both servers failed, or the one server when
/// there is no backup) wait a [`Backoff`] delay that grows with every failed round. A link
/// that was healthy (e.g. completed its registration) resets the backoff when it drops; one
/// that dropped before that counts as a failure, so a server that keeps refusing is not
/// hammered.
///
/// Pure: the caller connects, reports what happened, and sleeps the returned delay.
///
/// ```
/// use std::time::Duration;
/// use engage_base::{Backoff, Endpoint, Failover, ServerRole};
/// let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
/// let mut f = Failover::new(Endpoint::new("a", 1), Some(Endpoint::new("b", 1)), backoff);
/// assert_eq!(f.target(), ServerRole::Primary);
/// assert_eq!(f.connect_failed(250), None); // the backup is tried at once
/// assert_eq!(f.endpoint().host, "b");
/// assert_eq!(f.connect_failed(250), Some(Duration::from_millis(100))); // round over: wait
/// assert_eq!(f.link_up(), None); // up on the primary: no switchover
/// assert_eq!(f.link_lost(true, 0), None); // switch to the backup at once
/// assert_eq!(f.link_up(), Some(ServerRole::Primary)); // switchover from the primary
/// ```
#[derive(Debug, Clone)]
pub struct Failover {
    primary: Endpoint,
    backup: Option<Endpoint>,
    backoff: Backoff,
    target: ServerRole,
    /// The server the last link was up on.
    previous: Option<ServerRole>,
    /// Failures in a row since the last healthy link.
    failures: u32,
}

impl Failover {
    /// A pair (or a single server when `backup` is `None`), starting on the primary.
    pub fn new(primary: Endpoint, backup: Option<Endpoint>, backoff: Backoff) -> Self {
        Self {
            primary,
            backup,
            backoff,
            target: ServerRole::Primary,
            previous: None,
            failures: 0,
        }
    }

    /// The server to connect to now.
    pub fn target(&self) -> ServerRole {
        self.target
    }

    /// The address of [`Failover::target`].
    pub fn endpoint(&self) -> &Endpoint {
        self.endpoint_of(self.target)
    }

    /// The address of a server (the primary's when there is no backup).
    pub fn endpoint_of(&self, role: ServerRole) -> &Endpoint {
        match (role, &self.backup) {
            (ServerRole::Backup, Some(b)) => b,
            _ => &self.primary,
        }
    }

    /// The other server of the pair (the primary again when there is no backup).
    pub fn other(&self, role: ServerRole) -> ServerRole {
        match (role, self.backup.is_some()) {
            (ServerRole::Primary, true) => ServerRole::Backup,
            _ => ServerRole::Primary,
        }
    }

    /// Failures in a row since the last healthy link.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// A link is up on [`Failover::target`]. Returns the previous link's server when it was
    /// the other one (a switchover).
    pub fn link_up(&mut self) -> Option<ServerRole> {
        let from = self.previous.filter(|p| *p != self.target);
        self.previous = Some(self.target);
        from
    }

    /// The link on [`Failover::target`] dropped; the target becomes the other server.
    /// `healthy`: the link had done its job (registered); otherwise it counts as a failure.
    /// Returns the delay to wait before connecting again, if any (`sample`: jitter).
    pub fn link_lost(&mut self, healthy: bool, sample: u64) -> Option<Duration> {
        self.target = self.other(self.target);
        if healthy {
            self.failures = 0;
            None
        } else {
            self.failures = self.failures.saturating_add(1);
            self.retry_delay(sample)
        }
    }

    /// A connection attempt to [`Failover::target`] failed; the target becomes the other
    /// server. Returns the delay to wait first: `None` between the two servers of a round.
    pub fn connect_failed(&mut self, sample: u64) -> Option<Duration> {
        self.failures = self.failures.saturating_add(1);
        self.target = self.other(self.target);
        self.retry_delay(sample)
    }

    fn retry_delay(&self, sample: u64) -> Option<Duration> {
        let paired = self.backup.is_some();
        let round_done = !paired || self.failures.is_multiple_of(2);
        round_done.then(|| {
            let round = if paired {
                self.failures / 2
            } else {
                self.failures
            };
            self.backoff.delay(round, sample)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn pair() -> Failover {
        Failover::new(
            Endpoint::new("p", 1),
            Some(Endpoint::new("b", 2)),
            Backoff::new(ms(100), ms(1000)),
        )
    }

    #[test]
    fn endpoint_displays_host_and_port() {
        assert_eq!(Endpoint::new("sip-1", 3000).to_string(), "sip-1:3000");
        assert_eq!(ServerRole::Backup.to_string(), "backup");
    }

    #[test]
    fn failed_rounds_alternate_servers_and_back_off() {
        let mut f = pair();
        let mut seen = Vec::new();
        for _ in 0..6 {
            let which = f.target();
            seen.push((which, f.connect_failed(250)));
        }
        use ServerRole::*;
        assert_eq!(
            seen,
            vec![
                (Primary, None),
                (Backup, Some(ms(100))),
                (Primary, None),
                (Backup, Some(ms(200))),
                (Primary, None),
                (Backup, Some(ms(400))),
            ]
        );
        assert_eq!(f.target(), Primary);
    }

    #[test]
    fn a_single_server_backs_off_after_every_failure() {
        let mut f = Failover::new(Endpoint::new("p", 1), None, Backoff::new(ms(100), ms(150)));
        assert_eq!(f.connect_failed(250), Some(ms(100)));
        assert_eq!(f.target(), ServerRole::Primary);
        assert_eq!(f.endpoint_of(ServerRole::Backup).host, "p");
        assert_eq!(f.connect_failed(250), Some(ms(150)), "capped");
        assert_eq!(f.link_up(), None);
        assert_eq!(f.link_lost(false, 250), Some(ms(150)));
        assert_eq!(f.link_up(), None, "the same server is no switchover");
    }

    #[test]
    fn a_healthy_link_resets_and_an_unhealthy_one_counts() {
        let mut f = pair();
        assert_eq!(f.connect_failed(250), None);
        assert_eq!(f.link_up(), None);
        assert_eq!(f.target(), ServerRole::Backup);
        assert_eq!(f.link_lost(false, 250), Some(ms(100)));
        assert_eq!(f.target(), ServerRole::Primary);
        assert_eq!(f.link_up(), Some(ServerRole::Backup));
        assert_eq!(f.link_lost(true, 250), None);
        assert_eq!(f.failures(), 0);
        assert_eq!(f.target(), ServerRole::Backup);
        assert_eq!(f.link_up(), Some(ServerRole::Primary));
    }
}
