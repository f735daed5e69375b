//! Who this process is.

use pith_actors::tasking::NodeIdentity;

/// The host name (the kernel's node name), for Pulp-style names.
pub fn hostname() -> String {
    let u = rustix::system::uname();
    u.nodename().to_string_lossy().into_owned()
}

/// A fresh identity: `node` is stable across restarts of the same service (`kind@host:port`),
/// the incarnation is new on every start.
pub fn new_identity(kind: &str, port: Option<u16>) -> NodeIdentity {
    let host = hostname();
    let node = match port {
        Some(p) => format!("{kind}@{host}:{p}"),
        None => format!("{kind}@{host}"),
    };
    NodeIdentity {
        node,
        incarnation: uuid::Uuid::new_v4().to_string(),
        hostname: host,
        pid: std::process::id(),
    }
}
