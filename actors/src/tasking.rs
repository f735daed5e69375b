//! The tasking runtime's actors: thin ractor shells around [`crate::machine`].
//!
//! Supervision tree of one node (see [`node::TaskingNode`]):
//! ```text
//! Root ──links── WorkerHost ──links── Worker × N
//!      └─links── LockService (only while this node holds the lease)
//!                  ├─owns─── ClusterDispatcher (a plain struct, no actor)
//!                  └─links── ResourceLock × (one per resource with queued claims)
//! ```
//! - The lock service is the cluster's single sequencer; it runs on the node holding the
//!   lease in `core_locklease` and is found by every node through a process group
//!   ([`routes`]). A failing `ResourceLock` takes it down; the root restarts it
//!   under a new epoch, rebuilding every queue from the task table.
//! - A `Worker` that fails is replaced by its host; the task it had is failed with
//!   "Worker has gone missing." (or handed back if it had not started).
//! - Cross-node messages go only to `LockService` and `WorkerHost`, whose payloads are plain
//!   data ([`wire`]).

pub mod dispatcher;
pub mod handle;
pub mod host;
pub mod liveness;
pub mod lock_service;
pub mod node;
pub mod resource_lock;
pub mod routes;
pub mod wire;
pub mod worker;

pub use handle::{CancelOutcome, TaskSpec, Tasking, TaskingError};
pub use liveness::Liveness;
pub use node::{NodeIdentity, TaskingNode};
