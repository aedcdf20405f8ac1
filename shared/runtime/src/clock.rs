//! Time is an argument. Domain code receives `now`; services read it from a [`Clock`].
//!
//! Production uses [`SystemClock`]. Tests and the demo use [`ManualClock`], which only moves
//! when told to, and wakes everything sleeping on it when it does, so a test can pass a
//! deadline instantly and deterministically. The manual clock is never the default: a service
//! uses it only when the embedding code passes one in (`govshare demo`, the test harness).

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// A source of the current instant that can also be slept on.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;

    /// Completes once `now() >= at`.
    fn sleep_until(&self, at: DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// The clock every service is given.
pub type SharedClock = Arc<dyn Clock>;

/// Wall-clock time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let wait = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            tokio::time::sleep(wait).await;
        })
    }
}

/// A clock that moves only when told to.
#[derive(Debug, Clone)]
pub struct ManualClock {
    tx: Arc<watch::Sender<DateTime<Utc>>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self { tx: Arc::new(watch::Sender::new(start)) }
    }

    /// Moves the clock forward (never back: time-ordered ids and dues rely on it).
    pub fn advance(&self, by: chrono::Duration) {
        self.tx.send_modify(|now| *now += by.max(chrono::Duration::zero()));
    }

    /// Moves the clock to `at` if that is later than now.
    pub fn set(&self, at: DateTime<Utc>) {
        self.tx.send_modify(|now| *now = (*now).max(at));
    }

    pub fn shared(&self) -> SharedClock {
        Arc::new(self.clone())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.tx.borrow()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let mut rx = self.tx.subscribe();
        Box::pin(async move {
            // The sender lives as long as `self`, so `wait_for` only ends when the time comes.
            let _ = rx.wait_for(|now| *now >= at).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sleeper_on_the_manual_clock_wakes_when_the_clock_passes_its_time() {
        let start: DateTime<Utc> = "2026-01-05T00:00:00Z".parse().unwrap();
        let clock = ManualClock::new(start);
        let waker = clock.clone();
        let sleeper = tokio::spawn(async move { clock.sleep_until(start + chrono::Duration::hours(2)).await });
        waker.advance(chrono::Duration::hours(1));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!sleeper.is_finished(), "one hour is not enough");
        waker.advance(chrono::Duration::hours(1));
        tokio::time::timeout(Duration::from_secs(1), sleeper).await.unwrap().unwrap();
    }

    #[test]
    fn the_manual_clock_never_goes_back() {
        let start: DateTime<Utc> = "2026-01-05T00:00:00Z".parse().unwrap();
        let clock = ManualClock::new(start);
        clock.set(start - chrono::Duration::days(1));
        clock.advance(chrono::Duration::days(-1));
        assert_eq!(clock.now(), start);
    }
}
