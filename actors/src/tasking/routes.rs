//! How tasking actors find each other, on this node or another: ractor process groups, which
//! ractor_cluster mirrors to every connected node. Remote actors never appear in the named
//! registry, and an `ActorRef` cannot travel in a message, so groups are the only lookup.
//!
//! - [`LOCK_GROUP`]: the cluster's lock service (one, except briefly during a take-over;
//!   anything a deposed one grants is fenced by its epoch).
//! - [`HOSTS_GROUP`] and [`host_group`]: every node's worker host, and one node's by its
//!   process incarnation.

use ractor::{ActorRef, pg};

use super::host::HostMsg;
use super::lock_service::LockServiceMsg;

/// Group of the lock service.
pub const LOCK_GROUP: &str = "pith.lock_service";
/// Group of every node's worker host.
pub const HOSTS_GROUP: &str = "pith.hosts";

/// The group of one node's worker host.
pub fn host_group(incarnation: &str) -> String {
    format!("pith.host.{incarnation}")
}

/// Every lock service the cluster knows of, this node's first.
pub fn lock_services() -> Vec<ActorRef<LockServiceMsg>> {
    let mut members = pg::get_members(&LOCK_GROUP.to_owned());
    members.sort_by_key(|c| !c.get_id().is_local());
    members.into_iter().map(ActorRef::from).collect()
}

/// Casts to every lock service (normally one). Messages are hints backed by the task table,
/// so a lock service that is not there (yet) only delays things.
pub fn to_lock_services(make: impl Fn() -> LockServiceMsg) {
    for l in lock_services() {
        let _ = l.cast(make());
    }
}

/// Every node's worker host.
pub fn hosts() -> Vec<ActorRef<HostMsg>> {
    pg::get_members(&HOSTS_GROUP.to_owned())
        .into_iter()
        .map(ActorRef::from)
        .collect()
}

/// The worker host of the node with this incarnation, if connected.
pub fn host_of(incarnation: &str) -> Option<ActorRef<HostMsg>> {
    pg::get_members(&host_group(incarnation))
        .into_iter()
        .next()
        .map(ActorRef::from)
}
