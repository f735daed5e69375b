//! Node identity and membership.
//!
//! Today this is the single-process part: who this process is ([`identity`]) and its rows in
//! the app-status registry with their heartbeat ([`registry`]), which is what the status
//! endpoint, the workers list and lost-worker detection read. Joining processes into one
//! ractor_cluster (NodeServer, auto-join through the registry, lease and fencing across
//! nodes) is the cluster issue's work and will live here too.

pub mod identity;
pub mod registry;

pub use identity::new_identity;
pub use registry::{AppKind, Registration};
