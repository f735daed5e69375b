//! The tasking runtime's actors: thin ractor shells around [`crate::machine`].
//!
//! Supervision tree of one node (see [`node::TaskingNode`]):
//! ```text
//! LockService ──links── ResourceLock × (one per resource with queued claims)
//! Dispatcher
//! WorkerPool ──links── Worker × N
//! ```
//! - A `ResourceLock` that fails takes the `LockService` down with it; the lock service is
//!   restarted by [`node::TaskingNode`]'s watchdog and rebuilds every queue from the task table
//!   (the table is the source of truth; lost grants only delay tasks).
//! - A `Worker` that fails is replaced by the pool; the task it had is failed with
//!   "Worker has gone missing." and its locks are released.
//! - The dispatcher holds no durable state; if it dies the node restarts the tasking tree.

pub mod dispatcher;
pub mod handle;
pub mod lock_service;
pub mod node;
pub mod pool;
pub mod resource_lock;
pub mod wire;
pub mod worker;

pub use handle::{CancelOutcome, TaskSpec, Tasking, TaskingError};
pub use node::{NodeIdentity, TaskingNode};
