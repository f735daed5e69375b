//! Messages' payloads that may cross nodes: plain data with serde, converted to bytes for
//! ractor_cluster through [`bytes_via_serde!`]. No `ActorRef`s, no reply ports inside payloads.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use pith_entities::ResourceClaim;

/// Implements `ractor::BytesConvertable` through serde_json for local types. Decoding a corrupt
/// frame panics inside ractor's `catch_unwind`, which turns it into a decode error.
#[macro_export]
macro_rules! bytes_via_serde {
    ($($t:ty),* $(,)?) => {$(
        impl ractor::BytesConvertable for $t {
            fn into_bytes(self) -> Vec<u8> {
                serde_json::to_vec(&self).unwrap_or_default()
            }
            fn from_bytes(bytes: Vec<u8>) -> Self {
                #[allow(clippy::expect_used)]
                serde_json::from_slice(&bytes).expect("malformed tasking frame")
            }
        }
    )*};
}

/// What the lock service needs to queue a task and what a worker needs to run it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TaskSummary {
    /// Protocol version of this payload.
    pub v: u8,
    /// The task.
    pub id: Uuid,
    /// Pulp's dotted name.
    pub name: String,
    /// Body arguments (JSON text).
    pub args: String,
    /// Reserved resources.
    pub resources: Vec<Claim>,
}

/// A [`ResourceClaim`] on the wire.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claim {
    /// Resource name.
    pub resource: String,
    /// Exclusive or shared.
    pub exclusive: bool,
}

impl From<&ResourceClaim> for Claim {
    fn from(c: &ResourceClaim) -> Claim {
        Claim {
            resource: c.resource.clone(),
            exclusive: c.exclusive,
        }
    }
}

/// A task id on the wire.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TaskKey(pub Uuid);

/// Several task summaries (a wake-up may carry a burst).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct WakeUp(pub Vec<TaskSummary>);

/// The lock service's answer to an immediate dispatch.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum ImmediateDecision {
    /// Every resource is free: run it inline now, under this epoch.
    Granted {
        /// Lock-service epoch for the fenced start.
        epoch: i64,
    },
    /// It must wait behind earlier tasks.
    Deferred,
}

/// A resource queue's answer about one claim.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct GrantNote {
    /// The task.
    pub task: Uuid,
    /// Granted (for `Enqueued`: at once).
    pub granted: bool,
}

bytes_via_serde!(TaskSummary, TaskKey, WakeUp, ImmediateDecision, GrantNote);

/// A task the lock service hands to one worker of a node: what the body needs, and the epoch
/// its start is fenced against.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RunOrder {
    /// The worker within its node.
    pub worker: u32,
    /// The task.
    pub task: ReadyTask,
}

/// A task ready to run, with what its body needs.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReadyTask {
    /// The task.
    pub id: Uuid,
    /// Pulp's dotted name.
    pub name: String,
    /// Body arguments (JSON text).
    pub args: String,
    /// The lock-service epoch it was granted under.
    pub epoch: i64,
}

/// A node's worker host greets a lock service it has not talked to yet (a new one, or one on
/// a node that just joined): these workers of mine are idle.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct HostHello {
    /// The node's process incarnation (its workers' owner identity).
    pub incarnation: String,
    /// Idle workers.
    pub idle: Vec<u32>,
}

/// A worker became idle (`done`: the task it finished or could not start; `None`: it is new).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct WorkerNote {
    /// The node's process incarnation.
    pub incarnation: String,
    /// The worker within the node.
    pub worker: u32,
    /// The task it was given, if any.
    pub done: Option<Uuid>,
}

/// A node refused (or lost before starting) a run order: the task still holds its locks and
/// must go to another worker. The fenced start makes a duplicate harmless.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Rejected {
    /// The node's process incarnation.
    pub incarnation: String,
    /// The order.
    pub order: RunOrder,
}

bytes_via_serde!(RunOrder, ReadyTask, HostHello, WorkerNote, Rejected);
