//! Whether this node may take work: only while its heartbeat reaches the database. A node that
//! cannot heartbeat for a whole ttl is declared lost by the others (its running tasks are
//! failed), so it must stop starting tasks by itself before that happens.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Shared between the heartbeat (which records successes) and the worker host (which asks).
#[derive(Clone, Debug)]
pub struct Liveness {
    origin: Instant,
    last_ok_ms: Arc<AtomicU64>,
    ttl: Duration,
}

impl Liveness {
    /// Fresh as of now.
    pub fn new(ttl: Duration) -> Liveness {
        Liveness {
            origin: Instant::now(),
            last_ok_ms: Arc::new(AtomicU64::new(0)),
            ttl,
        }
    }

    /// A heartbeat was written.
    pub fn beat(&self) {
        let ms = self.origin.elapsed().as_millis() as u64;
        self.last_ok_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// True while the last successful heartbeat is younger than the ttl (minus a safety
    /// margin of one heartbeat period, so we stop before the others call us lost).
    pub fn fresh(&self) -> bool {
        let age = self.origin.elapsed().saturating_sub(Duration::from_millis(
            self.last_ok_ms.load(Ordering::Relaxed),
        ));
        age < self.ttl - self.ttl / 3
    }
}
