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
