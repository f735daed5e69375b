//! The life of one task on one worker: fenced start, body, final state, release.
//!
//! ```text
//! Idle --Assign--> Starting --StartWritten(ok)--> Running --BodyDone--> (WriteFinish) Idle
//!                     |  StartWritten(refused): the task was canceled or the grant is stale --> Idle
//! ```
//! The slot does not wait for the final state's commit: the shell releases the task's locks
//! once that write has committed, while the worker already starts its next task, whose fenced
//! start the batching writer commits after (usually together with) the previous finish. That
//! halves the commits a worker waits for per task without ever releasing a lock early.
//! Cancel while running aborts the body; the task ends `canceled`. Shutdown either drains
//! (finish the running task, then exit) or aborts (the task ends `failed`, "Aborted during
//! worker shutdown.").

use super::TaskId;

/// How a body ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// It returned a result.
    Completed,
    /// It returned an error or panicked; the text is Pulp's `error.description`.
    Failed(String),
    /// It was aborted (cancel or shutdown).
    Aborted,
}

/// The final state a finished task gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Final {
    /// `completed`.
    Completed,
    /// `failed` with `{"description": …}`.
    Failed(String),
    /// `failed` with `{"reason": …}`.
    FailedReason(String),
    /// `canceled`.
    Canceled,
}

/// Inputs.
#[derive(Clone, Debug, PartialEq)]
pub enum SlotIn {
    /// Run this task (granted under `epoch`).
    Assign {
        /// The task.
        task: TaskId,
        /// Lock-service epoch of the grant.
        epoch: i64,
    },
    /// The fenced start was written (`true`) or refused (`false`).
    StartWritten(bool),
    /// The body ended.
    BodyDone(Outcome),
    /// Cancel the task if it is this worker's.
    Cancel(TaskId),
    /// Stop: `abort` = SIGINT semantics, else finish the current task first.
    Shutdown {
        /// Abort the running task.
        abort: bool,
    },
}

/// Outputs (commands for the actor shell).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotOut {
    /// Write `waiting → running` fenced by `epoch`.
    WriteStart {
        /// The task.
        task: TaskId,
        /// Epoch.
        epoch: i64,
    },
    /// Spawn the body.
    SpawnBody(TaskId),
    /// Abort the running body.
    AbortBody(TaskId),
    /// Write the final state, then (after its commit) release the task's locks.
    WriteFinish {
        /// The task.
        task: TaskId,
        /// Its final state.
        state: Final,
    },
    /// Ready for the next task.
    Idle,
    /// The worker may stop.
    Exit,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Starting { task: TaskId, cancel: bool },
    Running { task: TaskId, cancel: bool },
    Stopped,
}

/// One worker's slot.
#[derive(Clone, Debug)]
pub struct WorkerSlot {
    phase: Phase,
    draining: bool,
    aborting: bool,
}

impl Default for WorkerSlot {
    fn default() -> Self {
        WorkerSlot {
            phase: Phase::Idle,
            draining: false,
            aborting: false,
        }
    }
}

impl WorkerSlot {
    /// The task this slot is busy with.
    pub fn current(&self) -> Option<TaskId> {
        match self.phase {
            Phase::Starting { task, .. } | Phase::Running { task, .. } => Some(task),
            Phase::Idle | Phase::Stopped => None,
        }
    }

    /// True once the slot has exited.
    pub fn stopped(&self) -> bool {
        self.phase == Phase::Stopped
    }

    /// Applies one input.
    pub fn handle(&mut self, input: SlotIn, out: &mut Vec<SlotOut>) {
        match (self.phase.clone(), input) {
            (Phase::Idle, SlotIn::Assign { task, epoch }) if !self.draining => {
                self.phase = Phase::Starting {
                    task,
                    cancel: false,
                };
                out.push(SlotOut::WriteStart { task, epoch });
            }
            (Phase::Starting { task, cancel }, SlotIn::StartWritten(true)) => {
                if cancel || self.aborting {
                    self.finish(task, out);
                } else {
                    self.phase = Phase::Running {
                        task,
                        cancel: false,
                    };
                    out.push(SlotOut::SpawnBody(task));
                }
            }
            (Phase::Starting { .. }, SlotIn::StartWritten(false)) => self.idle(out),
            (Phase::Starting { task, .. }, SlotIn::Cancel(t)) if t == task => {
                self.phase = Phase::Starting { task, cancel: true };
            }
            (Phase::Running { task, .. }, SlotIn::Cancel(t)) if t == task => {
                self.phase = Phase::Running { task, cancel: true };
                out.push(SlotOut::AbortBody(task));
            }
            (Phase::Running { task, cancel }, SlotIn::BodyDone(outcome)) => {
                let state = match outcome {
                    _ if self.aborting => {
                        Final::FailedReason("Aborted during worker shutdown.".into())
                    }
                    Outcome::Failed(msg) => Final::Failed(msg),
                    _ if cancel => Final::Canceled,
                    Outcome::Completed => Final::Completed,
                    Outcome::Aborted => Final::Canceled,
                };
                out.push(SlotOut::WriteFinish { task, state });
                self.idle(out);
            }
            (phase, SlotIn::Shutdown { abort }) => {
                self.draining = true;
                self.aborting |= abort;
                match phase {
                    Phase::Idle => {
                        self.phase = Phase::Stopped;
                        out.push(SlotOut::Exit);
                    }
                    Phase::Running { task, .. } if abort => out.push(SlotOut::AbortBody(task)),
                    _ => {}
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, task: TaskId, out: &mut Vec<SlotOut>) {
        let state = if self.aborting {
            Final::FailedReason("Aborted during worker shutdown.".into())
        } else {
            Final::Canceled
        };
        out.push(SlotOut::WriteFinish { task, state });
        self.idle(out);
    }

    fn idle(&mut self, out: &mut Vec<SlotOut>) {
        if self.draining {
            self.phase = Phase::Stopped;
            out.push(SlotOut::Exit);
        } else {
            self.phase = Phase::Idle;
            out.push(SlotOut::Idle);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn run(slot: &mut WorkerSlot, input: SlotIn) -> Vec<SlotOut> {
        let mut out = Vec::new();
        slot.handle(input, &mut out);
        out
    }

    #[test]
    fn happy_path_cancel_and_shutdowns() {
        let a = Uuid::from_u128(1);
        let mut s = WorkerSlot::default();
        let start = SlotOut::WriteStart { task: a, epoch: 3 };
        assert_eq!(
            run(&mut s, SlotIn::Assign { task: a, epoch: 3 }),
            vec![start]
        );
        assert_eq!(
            run(&mut s, SlotIn::StartWritten(true)),
            vec![SlotOut::SpawnBody(a)]
        );
        assert_eq!(run(&mut s, SlotIn::Cancel(a)), vec![SlotOut::AbortBody(a)]);
        let canceled = SlotOut::WriteFinish {
            task: a,
            state: Final::Canceled,
        };
        let out = run(&mut s, SlotIn::BodyDone(Outcome::Aborted));
        assert_eq!(out, vec![canceled, SlotOut::Idle]);

        // Refused start (canceled while waiting): back to idle, nothing released here.
        run(&mut s, SlotIn::Assign { task: a, epoch: 3 });
        assert_eq!(
            run(&mut s, SlotIn::StartWritten(false)),
            vec![SlotOut::Idle]
        );

        // SIGTERM drains: the running task completes, then the worker exits.
        run(&mut s, SlotIn::Assign { task: a, epoch: 3 });
        run(&mut s, SlotIn::StartWritten(true));
        assert_eq!(run(&mut s, SlotIn::Shutdown { abort: false }), vec![]);
        let done = SlotOut::WriteFinish {
            task: a,
            state: Final::Completed,
        };
        let out = run(&mut s, SlotIn::BodyDone(Outcome::Completed));
        assert_eq!(out, vec![done, SlotOut::Exit]);

        // SIGINT aborts: failed with Pulp's reason.
        let mut s = WorkerSlot::default();
        run(&mut s, SlotIn::Assign { task: a, epoch: 1 });
        run(&mut s, SlotIn::StartWritten(true));
        let out = run(&mut s, SlotIn::Shutdown { abort: true });
        assert_eq!(out, vec![SlotOut::AbortBody(a)]);
        let reason = Final::FailedReason("Aborted during worker shutdown.".into());
        let aborted = SlotOut::WriteFinish {
            task: a,
            state: reason,
        };
        let out = run(&mut s, SlotIn::BodyDone(Outcome::Aborted));
        assert_eq!(out, vec![aborted, SlotOut::Exit]);
    }
}
