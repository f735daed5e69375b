//! Node identity and membership: who this process is ([`identity`]), its rows in the node
//! registry with their heartbeat ([`registry`]), and the ractor_cluster node that joins every
//! live peer found there ([`join`], deciding through the pure [`membership`] machine).

pub mod identity;
pub mod join;
pub mod membership;
pub mod registry;
pub mod secret;

pub use identity::new_identity;
pub use join::{ClusterConfig, Node};
pub use registry::{AppKind, Registration};
