//! Who to dial: a pure machine over the node registry (which processes are alive, on the
//! database's clock) and the sessions ractor_cluster reports. ractor_cluster has no discovery
//! or reconnect of its own; this is both. The join actor ([`crate::join`]) feeds it and
//! performs its dials; the simulator drives the same code.
//!
//! Rules: every live peer we are not connected to is dialled, with exponential backoff after
//! failures; a dropped session is redialled at once while the peer's row is live. Of two
//! nodes, the one whose incarnation sorts lower dials first and the other waits two periods,
//! which avoids most simultaneous connects (ractor resolves the rest) without depending on
//! one direction being reachable.

use std::collections::BTreeMap;

/// Milliseconds on the caller's clock.
pub type Millis = u64;

/// One live row of the registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerRow {
    /// The peer's process incarnation (its cluster node name).
    pub incarnation: String,
    /// Its advertised `host:port`.
    pub addr: String,
}

/// Inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberIn {
    /// The registry's live peers (ourselves excluded).
    Live(Vec<PeerRow>),
    /// A session with this peer is ready.
    Up(String),
    /// A session with this peer ended, or a dial failed.
    Down(String),
    /// Time passed.
    Tick,
}

/// Outputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberOut {
    /// Open a connection.
    Dial {
        /// The peer.
        incarnation: String,
        /// Where.
        addr: String,
    },
}

#[derive(Clone, Debug)]
struct Peer {
    addr: String,
    /// In the registry's last read.
    live: bool,
    connected: bool,
    next_dial: Millis,
    failures: u32,
}

/// The machine.
#[derive(Clone, Debug)]
pub struct Membership {
    me: String,
    period: Millis,
    peers: BTreeMap<String, Peer>,
}

/// 250 ms doubling per failure, capped at one period.
fn backoff(failures: u32, period: Millis) -> Millis {
    (250u64 << failures.min(10)).min(period)
}

impl Membership {
    /// For the node `me`, re-reading the registry every `period` ms.
    pub fn new(me: &str, period: Millis) -> Membership {
        Membership {
            me: me.to_owned(),
            period: period.max(1),
            peers: BTreeMap::new(),
        }
    }

    /// Applies one input at `now`; `jitter` (0..period/4 from the caller's seeded or real
    /// randomness) spreads redials.
    pub fn handle(
        &mut self,
        now: Millis,
        input: MemberIn,
        jitter: Millis,
        out: &mut Vec<MemberOut>,
    ) {
        match input {
            MemberIn::Live(rows) => {
                let live: BTreeMap<String, String> = rows
                    .into_iter()
                    .filter(|r| r.incarnation != self.me)
                    .map(|r| (r.incarnation, r.addr))
                    .collect();
                // A connected peer whose row went stale stays until its session drops: the
                // registry decides who is dialled, not who is hung up on.
                self.peers
                    .retain(|inc, p| p.connected || live.contains_key(inc));
                for (inc, p) in self.peers.iter_mut() {
                    p.live = live.contains_key(inc);
                }
                for (inc, addr) in live {
                    // The lower incarnation dials at once; it sees a new row at its next read at
                    // the latest, so the higher one waits two periods before trying itself.
                    let first = if self.me < inc {
                        now
                    } else {
                        now + 2 * self.period
                    };
                    let p = self.peers.entry(inc).or_insert(Peer {
                        addr: addr.clone(),
                        live: true,
                        connected: false,
                        next_dial: first,
                        failures: 0,
                    });
                    p.addr = addr;
                }
            }
            MemberIn::Up(inc) => {
                if let Some(p) = self.peers.get_mut(&inc) {
                    p.connected = true;
                    p.failures = 0;
                } else {
                    // It dialled us before we read its row.
                    self.peers.insert(
                        inc,
                        Peer {
                            addr: String::new(),
                            live: false,
                            connected: true,
                            next_dial: now,
                            failures: 0,
                        },
                    );
                }
            }
            MemberIn::Down(inc) => {
                if let Some(p) = self.peers.get_mut(&inc) {
                    let was = std::mem::replace(&mut p.connected, false);
                    p.next_dial = if was {
                        now
                    } else {
                        now + backoff(p.failures, self.period) + jitter
                    };
                    p.failures = p.failures.saturating_add(1);
                }
            }
            MemberIn::Tick => {}
        }
        for (inc, p) in self.peers.iter_mut() {
            if p.live && !p.connected && p.next_dial <= now {
                out.push(MemberOut::Dial {
                    incarnation: inc.clone(),
                    addr: p.addr.clone(),
                });
                // Until the dial resolves (Up or Down), do not dial again.
                p.next_dial = now + self.period + jitter;
            }
        }
    }

    /// Peers with a ready session.
    pub fn connected(&self) -> usize {
        self.peers.values().filter(|p| p.connected).count()
    }

    /// Whether we have a ready session with `incarnation`.
    pub fn is_connected(&self, incarnation: &str) -> bool {
        self.peers.get(incarnation).is_some_and(|p| p.connected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: &str) -> PeerRow {
        PeerRow {
            incarnation: i.into(),
            addr: format!("{i}:1"),
        }
    }

    fn dials(out: &[MemberOut]) -> Vec<String> {
        out.iter()
            .map(|MemberOut::Dial { incarnation, .. }| incarnation.clone())
            .collect()
    }

    #[test]
    fn lower_dials_at_once_higher_after_a_period_and_drops_redial() {
        let mut m = Membership::new("b", 1000);
        let mut out = Vec::new();
        m.handle(
            0,
            MemberIn::Live(vec![row("a"), row("c"), row("b")]),
            0,
            &mut out,
        );
        assert_eq!(dials(&out), vec!["c"]);
        out.clear();
        m.handle(999, MemberIn::Tick, 0, &mut out);
        assert!(out.is_empty());
        m.handle(1000, MemberIn::Tick, 0, &mut out);
        // "c"'s dial has not resolved within a period: dialled again.
        assert_eq!(dials(&out), vec!["c"]);
        out.clear();
        m.handle(2000, MemberIn::Tick, 0, &mut out);
        // "a" is due after two periods (and "c" again).
        assert_eq!(dials(&out), vec!["a", "c"]);
        out.clear();
        m.handle(2001, MemberIn::Up("a".into()), 0, &mut out);
        m.handle(2002, MemberIn::Up("c".into()), 0, &mut out);
        assert_eq!(m.connected(), 2);
        m.handle(2500, MemberIn::Down("c".into()), 0, &mut out);
        assert_eq!(dials(&out), vec!["c"]);
        out.clear();
        // A failed dial backs off.
        m.handle(2501, MemberIn::Down("c".into()), 7, &mut out);
        assert!(out.is_empty());
        m.handle(2501 + 500 + 7, MemberIn::Tick, 0, &mut out);
        assert_eq!(dials(&out), vec!["c"]);
    }

    #[test]
    fn stale_rows_are_forgotten_unless_connected() {
        let mut m = Membership::new("a", 1000);
        let mut out = Vec::new();
        m.handle(0, MemberIn::Live(vec![row("b"), row("c")]), 0, &mut out);
        m.handle(1, MemberIn::Up("b".into()), 0, &mut out);
        out.clear();
        m.handle(5000, MemberIn::Live(vec![]), 0, &mut out);
        assert!(out.is_empty());
        assert!(m.is_connected("b"));
        m.handle(5001, MemberIn::Down("b".into()), 0, &mut out);
        // Down while its row is gone: nothing to redial to.
        m.handle(6000, MemberIn::Live(vec![]), 0, &mut out);
        assert!(out.is_empty());
        assert_eq!(m.connected(), 0);
    }
}
