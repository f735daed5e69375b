//! Persistence for Pith: the sea-orm entities, the migrations that run unchanged on SQLite and
//! PostgreSQL, the per-node batching writer for the task path, and the content-addressed
//! artifact store.
//!
//! Two representation choices keep both databases honest:
//! - every timestamp is a `BIGINT` of microseconds since the Unix epoch (UTC), which compares
//!   and sorts the same way on SQLite (which has no timestamp type) and PostgreSQL;
//! - nothing uses arrays or hstore: a task's resources live in `core_taskresource`.

pub mod access_policies;
pub mod analytics;
pub mod artifacts;
pub mod content;
pub mod content_generation;
pub mod content_guards;
pub mod db;
pub mod detail;
pub mod distributions;
pub mod entity;
pub mod error;
pub mod lease;
pub mod migration;
pub mod nodes;
pub mod publications;
pub mod rbac;
pub mod remotes;
pub mod repositories;
pub mod sessions;
pub mod store;
pub mod tasks;
pub mod time;
pub mod uploads;
pub mod versions;
pub mod writer;

pub use db::{Backend, Db, MAX_BIND};
pub use error::DbError;
pub use store::{ArtifactStore, Digests, StoreError, TempArtifact};
pub use tasks::{NewTask, ResourceClaim, TaskRow, TaskState};
pub use writer::{WriteOp, Writer};

/// Re-exported so that crates above can build queries without naming sea-orm's version twice.
pub use sea_orm;
/// Re-exported so that plugins write their migrations against the same version.
pub use sea_orm_migration;
