//! A process-wide counter of changes to what the content app serves.
//!
//! The content app keeps an in-memory index of distributions and publications so that serving
//! a file costs no database round trip. Whatever changes that mapping in this process
//! (distributions created, updated or deleted; publications created or deleted; repositories
//! or versions deleted) calls [`bump`], and the index rebuilds before its next answer. Changes
//! made by other processes are caught by the index's periodic fingerprint check instead.

use std::sync::atomic::{AtomicU64, Ordering};

static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Records that distributions or publications changed (call after the commit).
pub fn bump() {
    GENERATION.fetch_add(1, Ordering::Release);
}

/// The current generation.
pub fn current() -> u64 {
    GENERATION.load(Ordering::Acquire)
}
