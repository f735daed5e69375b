//! Pith's actors and the pure state machines they wrap.
//!
//! - [`machine`]: the tasking protocol (sequencer, per-resource queues, grant tracking,
//!   dispatcher, worker slot, recovery) as deterministic state machines with no I/O.
//! - [`tasking`]: the ractor actors around them — lock service, resource locks, dispatcher,
//!   workers and their supervisor — and the [`tasking::Tasking`] handle the API uses.
//! - [`tasks`]: core's task bodies (orphan cleanup, purge, modify, repair, …) and
//!   [`plugin`]: what a plugin declares below HTTP (its detail types and task bodies).
//! - [`download`]: the HTTP client of remotes, shared by syncs, repair and the content app.
//! - [`stages`]: the one sync pipeline (Pulp's `DeclarativeVersion`) every plugin's sync feeds.

pub mod analytics;
pub mod download;
pub mod fetch;
pub mod machine;
pub mod plugin;
pub mod stages;
pub mod tasking;
pub mod tasks;
pub mod tls;
