//! Exponential backoff with jitter and a ceiling, as a pure function of the attempt number and
//! a random sample the caller supplies.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::Duration;

/// Exponential backoff: `initial · 2^(round-1)`, times a jitter factor in [0.75, 1.25], and
/// never above `max`.
///
/// The randomness is an input (`sample`, any `u64`), so tests pick it; [`Jitter`] supplies it in
/// production. The jitter spreads the reconnects of many clients after a shared server restart.
///
/// ```
/// use std::time::Duration;
/// use engage_base::Backoff;
/// let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
/// let first = b.next_delay(0); // factor 0.75
/// assert_eq!(first, Duration::from_millis(75));
/// let second = b.next_delay(500); // factor 1.25 of 200 ms
/// assert_eq!(second, Duration::from_millis(250));
/// for _ in 0..10 {
///     assert!(b.next_delay(u64::MAX) <= Duration::from_secs(1));
/// }
/// b.reset();
/// assert_eq!(b.next_delay(250), Duration::from_millis(100));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    round: u32,
}

impl Backoff {
    /// A backoff starting at `initial` and never waiting longer than `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            round: 0,
        }
    }

    /// The first delay (before jitter).
    pub fn initial(&self) -> Duration {
        self.initial
    }

    /// The ceiling: no delay is longer.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The delay before retry round `round` (1 = the first retry) with jitter `sample`:
    /// `initial · 2^(round-1)` (round 0 counts as 1), times `0.75 + (sample mod 501) / 1000`,
    /// capped at `max`. Pure: the same inputs give the same delay; never panics.
    pub fn delay(&self, round: u32, sample: u64) -> Duration {
        let exp = round.saturating_sub(1).min(20);
        let base = self.initial.saturating_mul(1u32 << exp).min(self.max);
        let permille = 750 + (sample % 501);
        let jittered = Duration::try_from_secs_f64(base.as_secs_f64() * permille as f64 / 1000.0)
            .unwrap_or(base);
        jittered.min(self.max)
    }

    /// The delay before the next retry round; each call moves one round on.
    pub fn next_delay(&mut self, sample: u64) -> Duration {
        self.round = self.round.saturating_add(1);
        self.delay(self.round, sample)
    }

    /// Rounds taken since the last [`Backoff::reset`].
    pub fn rounds(&self) -> u32 {
        self.round
    }

    /// Starts again from `initial` (after a success).
    pub fn reset(&mut self) {
        self.round = 0;
    }
}

/// A source of jitter samples for [`Backoff`]: std's randomly keyed hasher over a counter, so
/// no random-number crate is needed and two processes never draw the same sequence.
#[derive(Debug, Clone, Default)]
pub struct Jitter {
    keys: RandomState,
    counter: u64,
}

impl Jitter {
    /// A source with fresh random keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next sample.
    pub fn sample(&mut self) -> u64 {
        self.counter = self.counter.wrapping_add(1);
        self.keys.hash_one(self.counter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn grows_doubling_and_jitters_within_bounds() {
        let b = Backoff::new(ms(100), ms(1000));
        for sample in [0u64, 250, 500, 12345, u64::MAX] {
            let d1 = b.delay(1, sample);
            assert!(d1 >= ms(75) && d1 <= ms(125), "{d1:?}");
            let d3 = b.delay(3, sample);
            assert!(d3 >= ms(300) && d3 <= ms(500), "{d3:?}");
        }
        assert_eq!(b.delay(1, 0), ms(75));
        assert_eq!(b.delay(1, 250), ms(100));
        assert_eq!(b.delay(1, 500), ms(125));
        assert_eq!(b.delay(0, 250), b.delay(1, 250));
    }

    #[test]
    fn never_exceeds_the_ceiling_even_with_jitter() {
        let b = Backoff::new(ms(100), ms(1000));
        for round in [5, 10, 30, u32::MAX] {
            for sample in 0..501 {
                let d = b.delay(round, sample);
                assert!(d >= ms(750) && d <= ms(1000), "round {round}: {d:?}");
            }
        }
    }

    #[test]
    fn extreme_settings_never_panic() {
        let b = Backoff::new(Duration::MAX, Duration::MAX);
        assert!(b.delay(30, 500) > Duration::ZERO);
        let z = Backoff::new(Duration::ZERO, Duration::ZERO);
        assert_eq!(z.delay(u32::MAX, u64::MAX), Duration::ZERO);
        // A ceiling below the first delay wins.
        let c = Backoff::new(ms(500), ms(100));
        assert_eq!(c.delay(1, 500), ms(100));
    }

    #[test]
    fn next_delay_steps_rounds_and_reset_starts_over() {
        let mut b = Backoff::new(ms(10), ms(10_000));
        let seq: Vec<_> = (0..4).map(|_| b.next_delay(250)).collect();
        assert_eq!(seq, vec![ms(10), ms(20), ms(40), ms(80)]);
        assert_eq!(b.rounds(), 4);
        b.reset();
        assert_eq!(b.rounds(), 0);
        assert_eq!(b.next_delay(250), ms(10));
    }

    #[test]
    fn jitter_samples_vary() {
        let mut j = Jitter::new();
        let a: Vec<u64> = (0..8).map(|_| j.sample()).collect();
        let mut dedup = a.clone();
        dedup.sort_unstable();
        dedup.dedup();
        assert!(dedup.len() > 1, "{a:?}");
    }
}
