//! Client-side request limiter: at most N requests per sliding window.
//!
//! A slot is held from the moment a request is sent until `window` after its answer arrived.
//! The server counts a request when it receives it, which is between those two instants, so a
//! server counting over the same sliding window never sees more than N: the client stays under
//! the org limit whatever the network delay.

use crate::config::RateLimit;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The longest sliding window honoured (one day): a larger configured window is clamped.
const MAX_WINDOW: Duration = Duration::from_secs(86_400);

#[derive(Debug, Default)]
struct State {
    in_flight: u32,
    done: VecDeque<Instant>,
    blocked_until: Option<Instant>,
}

/// The limiter shared by all requests of one client (one token at a time).
#[derive(Debug, Clone)]
pub(crate) struct Limiter {
    limit: RateLimit,
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
}

/// Held while a request is in flight; releasing it starts the slot's window.
pub(crate) struct Permit {
    limiter: Option<Limiter>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(l) = self.limiter.take() {
            {
                let mut s = l.state.lock().unwrap_or_else(PoisonError::into_inner);
                s.in_flight = s.in_flight.saturating_sub(1);
                s.done.push_back(Instant::now());
            }
            l.notify.notify_waiters();
        }
    }
}

impl Limiter {
    pub(crate) fn new(mut limit: RateLimit) -> Self {
        // A window beyond a day is a configuration mistake; clamping keeps the time arithmetic
        // (`instant + window`) from overflowing.
        limit.window = limit.window.min(MAX_WINDOW);
        Self {
            limit,
            state: Arc::default(),
            notify: Arc::new(Notify::new()),
        }
    }

    /// The longest sliding window honoured (one day).
    /// Every caller waits until `until` (after a 429 with `Retry-After`).
    pub(crate) fn block_until(&self, until: Instant) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if s.blocked_until.is_none_or(|b| b < until) {
            s.blocked_until = Some(until);
        }
    }

    /// Waits for a free slot.
    pub(crate) async fn acquire(&self) -> Permit {
        loop {
            let notified = self.notify.notified();
            let wait: Option<Duration> = {
                let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                let now = Instant::now();
                match s.blocked_until {
                    Some(b) if b > now => Some(b - now),
                    _ => {
                        s.blocked_until = None;
                        if self.limit.max_requests == 0 {
                            return Permit { limiter: None };
                        }
                        while s
                            .done
                            .front()
                            .is_some_and(|t| *t + self.limit.window <= now)
                        {
                            s.done.pop_front();
                        }
                        let used = s.in_flight as usize + s.done.len();
                        if used < self.limit.max_requests as usize {
                            s.in_flight += 1;
                            return Permit {
                                limiter: Some(self.clone()),
                            };
                        }
                        // Full: wait for the oldest finished slot to leave the window, or for
                        // an in-flight request to finish.
                        s.done
                            .front()
                            .map(|t| (*t + self.limit.window).saturating_duration_since(now))
                    }
                }
            };
            match wait {
                Some(d) => {
                    tokio::select! {
                        _ = tokio::time::sleep(d) => {}
                        _ = notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn never_more_than_n_in_a_window() {
        let l = Limiter::new(RateLimit {
            max_requests: 3,
            window: Duration::from_secs(10),
        });
        let start = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..7 {
            let p = l.acquire().await;
            starts.push(Instant::now() - start);
            drop(p);
        }
        // Requests 4..6 wait a window after requests 1..3 completed, and so on.
        for (i, s) in starts.iter().enumerate() {
            let expected = Duration::from_secs(10) * (i as u32 / 3);
            assert_eq!(*s, expected, "request {i}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn in_flight_requests_hold_slots() {
        let l = Limiter::new(RateLimit {
            max_requests: 1,
            window: Duration::from_secs(1),
        });
        let p = l.acquire().await;
        let l2 = l.clone();
        let t = tokio::spawn(async move {
            let _p = l2.acquire().await;
            Instant::now()
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        let released = Instant::now();
        drop(p);
        let got = t.await.expect("task");
        assert_eq!(got - released, Duration::from_secs(1));
    }

    #[test]
    fn a_window_beyond_a_day_is_clamped() {
        let l = Limiter::new(RateLimit {
            max_requests: 1,
            window: Duration::MAX,
        });
        assert_eq!(l.limit.window, MAX_WINDOW);
    }

    #[tokio::test(start_paused = true)]
    async fn block_until_pauses_everyone() {
        let l = Limiter::new(RateLimit::disabled());
        let start = Instant::now();
        l.block_until(start + Duration::from_secs(2));
        let _p = l.acquire().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(2));
    }
}
