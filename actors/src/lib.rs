//! Pith's actors and the pure state machines they wrap.
//!
//! - [`machine`]: the tasking protocol (sequencer, per-resource queues, grant tracking,
//!   dispatcher, worker slot, recovery) as deterministic state machines with no I/O.
//! - [`tasking`]: the ractor actors around them — lock service, resource locks, dispatcher,
//!   workers and their supervisor — and the [`tasking::Tasking`] handle the API uses.
//! - [`tasks`]: task bodies (orphan cleanup, purge, and test-only bodies).

pub mod analytics;
pub mod fetch;
pub mod machine;
pub mod tasking;
pub mod tasks;
pub mod tls;
