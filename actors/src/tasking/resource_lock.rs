//! One actor per resource with queued claims: owns that resource's [`ResourceQueue`] and
//! reports grants to the lock service. Never remotable; the lock service stops it when its
//! queue empties.

use ractor::{Actor, ActorProcessingErr, ActorRef};
use ractor_cluster_derive::RactorMessage;
use uuid::Uuid;

use super::lock_service::LockServiceMsg;
use super::wire::GrantNote;
use crate::machine::resource_queue::ResourceQueue;

/// Messages from the lock service (always in its queue order).
#[derive(Debug, RactorMessage)]
pub enum ResourceLockMsg {
    /// Queue a claim.
    Enqueue {
        /// The task.
        task: Uuid,
        /// Its queue position.
        seq: i64,
        /// Exclusive or shared.
        exclusive: bool,
    },
    /// Drop a task's claim.
    Release(Uuid),
    /// The queue is empty and nothing more will come: stop.
    Shutdown,
}

/// The actor.
#[derive(Debug)]
pub struct ResourceLock;

/// Its state.
#[derive(Debug)]
pub struct ResourceLockState {
    queue: ResourceQueue,
    service: ActorRef<LockServiceMsg>,
}

impl Actor for ResourceLock {
    type Msg = ResourceLockMsg;
    type State = ResourceLockState;
    type Arguments = ActorRef<LockServiceMsg>;

    async fn pre_start(
        &self,
        _me: ActorRef<Self::Msg>,
        service: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(ResourceLockState {
            queue: ResourceQueue::default(),
            service,
        })
    }

    async fn handle(
        &self,
        me: ActorRef<Self::Msg>,
        msg: Self::Msg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ResourceLockMsg::Enqueue {
                task,
                seq,
                exclusive,
            } => {
                let granted = st.queue.enqueue(task, seq, exclusive);
                let now = granted.contains(&task);
                st.service
                    .cast(LockServiceMsg::Enqueued(GrantNote { task, granted: now }))?;
                for t in granted.into_iter().filter(|t| *t != task) {
                    st.service.cast(LockServiceMsg::Granted(GrantNote {
                        task: t,
                        granted: true,
                    }))?;
                }
            }
            ResourceLockMsg::Release(task) => {
                for t in st.queue.release(task) {
                    st.service.cast(LockServiceMsg::Granted(GrantNote {
                        task: t,
                        granted: true,
                    }))?;
                }
            }
            ResourceLockMsg::Shutdown => me.stop(None),
        }
        Ok(())
    }
}
