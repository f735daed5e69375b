//! Who runs the cluster's lock service: each node with workers keeps a [`LeaseKeeper`] that
//! takes the database lease when it is free, renews it every tick, and steps down — stops its
//! lock service — as soon as a renewal is refused (someone else took over under a newer
//! epoch) or it has not managed to renew for two thirds of the ttl (the others may take it
//! over at one ttl). Safety never depends on this timing: every task start is fenced against
//! the lease epoch in the database, so a lock service that has not noticed it is deposed
//! (a paused process, a jumped clock) cannot start anything. The timing only keeps the
//! deposed one from wasting work.

/// Milliseconds on the node's monotonic clock.
pub type Millis = u64;

/// Inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseIn {
    /// Periodic tick (every ttl/3).
    Tick,
    /// The answer to `TryAcquire`: the new epoch, or `None` (held by a live node, or the
    /// database failed).
    Acquired(Option<i64>),
    /// The answer to `Renew`: `Some(true)` renewed, `Some(false)` taken over, `None` failed.
    Renewed(Option<bool>),
    /// Our lock service stopped by itself (a failure): take the lease again (new epoch).
    LockServiceDown,
    /// The node is shutting down.
    Shutdown,
}

/// Outputs (intents for the shell).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseOut {
    /// Run the conditional acquire; answer with `Acquired`.
    TryAcquire,
    /// Renew under `epoch`; answer with `Renewed`.
    Renew(i64),
    /// Rebuild the lock service from the task table under `epoch`.
    StartLockService(i64),
    /// Stop the lock service of `epoch`.
    StopLockService(i64),
    /// Give the lease of `epoch` up (clean shutdown), so another node takes it at once.
    Release(i64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Candidate,
    Holding { epoch: i64, renewed: Millis },
    Stopped,
}

/// The machine.
#[derive(Clone, Debug)]
pub struct LeaseKeeper {
    ttl: Millis,
    state: State,
    pending: bool,
    quick_retries: u32,
}

impl LeaseKeeper {
    /// A candidate that has not tried yet.
    pub fn new(ttl: Millis) -> LeaseKeeper {
        LeaseKeeper {
            ttl: ttl.max(3),
            state: State::Candidate,
            pending: false,
            quick_retries: 0,
        }
    }

    /// The epoch we hold, if any.
    pub fn epoch(&self) -> Option<i64> {
        match self.state {
            State::Holding { epoch, .. } => Some(epoch),
            _ => None,
        }
    }

    fn step_down(&mut self, out: &mut Vec<LeaseOut>) {
        if let State::Holding { epoch, .. } = self.state {
            out.push(LeaseOut::StopLockService(epoch));
        }
        self.state = State::Candidate;
    }

    /// Applies one input at `now`.
    pub fn handle(&mut self, now: Millis, input: LeaseIn, out: &mut Vec<LeaseOut>) {
        match input {
            LeaseIn::Tick => match self.state {
                State::Stopped => {}
                _ if self.pending => {
                    // An answer is outstanding (a hung database): never hold on beyond the
                    // point where another node may take over.
                    if let State::Holding { renewed, .. } = self.state
                        && now.saturating_sub(renewed) > self.ttl * 2 / 3
                    {
                        self.step_down(out);
                    }
                }
                State::Holding { epoch, renewed } => {
                    if now.saturating_sub(renewed) > self.ttl * 2 / 3 {
                        self.step_down(out);
                        self.pending = true;
                        out.push(LeaseOut::TryAcquire);
                    } else {
                        self.pending = true;
                        out.push(LeaseOut::Renew(epoch));
                    }
                }
                State::Candidate => {
                    self.quick_retries = 0;
                    self.pending = true;
                    out.push(LeaseOut::TryAcquire);
                }
            },
            LeaseIn::Acquired(got) => {
                self.pending = false;
                match (got, &self.state) {
                    (Some(epoch), State::Stopped) => out.push(LeaseOut::Release(epoch)),
                    (Some(epoch), _) => {
                        // Taking it again while holding (a restart) also raises the epoch.
                        if let State::Holding { epoch: old, .. } = self.state
                            && old != epoch
                        {
                            out.push(LeaseOut::StopLockService(old));
                        }
                        self.state = State::Holding {
                            epoch,
                            renewed: now,
                        };
                        out.push(LeaseOut::StartLockService(epoch));
                    }
                    (None, State::Stopped) => {}
                    (None, _) => self.step_down(out),
                }
            }
            LeaseIn::Renewed(answer) => {
                self.pending = false;
                match (answer, &mut self.state) {
                    (Some(true), State::Holding { renewed, .. }) => *renewed = now,
                    (Some(false), State::Holding { .. }) => self.step_down(out),
                    (None, State::Holding { renewed, .. })
                        if now.saturating_sub(*renewed) > self.ttl * 2 / 3 =>
                    {
                        self.step_down(out)
                    }
                    _ => {}
                }
            }
            LeaseIn::LockServiceDown => {
                if matches!(self.state, State::Holding { .. }) && !self.pending {
                    self.state = State::Candidate;
                    // Restart at once, but not in a tight loop if starting keeps failing.
                    if self.quick_retries < 3 {
                        self.quick_retries += 1;
                        self.pending = true;
                        out.push(LeaseOut::TryAcquire);
                    }
                }
            }
            LeaseIn::Shutdown => {
                if let State::Holding { epoch, .. } = self.state {
                    out.push(LeaseOut::StopLockService(epoch));
                    out.push(LeaseOut::Release(epoch));
                }
                self.state = State::Stopped;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(k: &mut LeaseKeeper, now: Millis, i: LeaseIn) -> Vec<LeaseOut> {
        let mut out = Vec::new();
        k.handle(now, i, &mut out);
        out
    }

    #[test]
    fn takes_renews_and_steps_down_when_taken_over() {
        let mut k = LeaseKeeper::new(3000);
        assert_eq!(run(&mut k, 0, LeaseIn::Tick), vec![LeaseOut::TryAcquire]);
        assert_eq!(
            run(&mut k, 5, LeaseIn::Acquired(Some(4))),
            vec![LeaseOut::StartLockService(4)]
        );
        assert_eq!(run(&mut k, 1000, LeaseIn::Tick), vec![LeaseOut::Renew(4)]);
        assert!(run(&mut k, 1001, LeaseIn::Renewed(Some(true))).is_empty());
        assert_eq!(run(&mut k, 2000, LeaseIn::Tick), vec![LeaseOut::Renew(4)]);
        assert_eq!(
            run(&mut k, 2001, LeaseIn::Renewed(Some(false))),
            vec![LeaseOut::StopLockService(4)]
        );
        assert_eq!(k.epoch(), None);
        assert_eq!(run(&mut k, 3000, LeaseIn::Tick), vec![LeaseOut::TryAcquire]);
        assert!(run(&mut k, 3001, LeaseIn::Acquired(None)).is_empty());
    }

    #[test]
    fn steps_down_before_the_others_may_take_over() {
        let mut k = LeaseKeeper::new(3000);
        run(&mut k, 0, LeaseIn::Tick);
        run(&mut k, 0, LeaseIn::Acquired(Some(1)));
        // A renewal that never answers (hung database).
        assert_eq!(run(&mut k, 1000, LeaseIn::Tick), vec![LeaseOut::Renew(1)]);
        assert!(run(&mut k, 2000, LeaseIn::Tick).is_empty());
        assert_eq!(
            run(&mut k, 2001, LeaseIn::Tick),
            vec![LeaseOut::StopLockService(1)]
        );
        // A paused process wakes up long after: it steps down before anything else.
        let mut k = LeaseKeeper::new(3000);
        run(&mut k, 0, LeaseIn::Tick);
        run(&mut k, 0, LeaseIn::Acquired(Some(7)));
        assert_eq!(
            run(&mut k, 60_000, LeaseIn::Tick),
            vec![LeaseOut::StopLockService(7), LeaseOut::TryAcquire]
        );
    }

    #[test]
    fn a_failed_lock_service_restarts_under_a_new_epoch_and_shutdown_releases() {
        let mut k = LeaseKeeper::new(3000);
        run(&mut k, 0, LeaseIn::Tick);
        run(&mut k, 0, LeaseIn::Acquired(Some(2)));
        assert_eq!(
            run(&mut k, 10, LeaseIn::LockServiceDown),
            vec![LeaseOut::TryAcquire]
        );
        assert_eq!(
            run(&mut k, 11, LeaseIn::Acquired(Some(3))),
            vec![LeaseOut::StartLockService(3)]
        );
        assert_eq!(
            run(&mut k, 12, LeaseIn::Shutdown),
            vec![LeaseOut::StopLockService(3), LeaseOut::Release(3)]
        );
        assert!(run(&mut k, 13, LeaseIn::Tick).is_empty());
    }
}
