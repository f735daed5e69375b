//! Deterministic simulation of Pith's tasking and cluster protocols.
//!
//! Not built yet: this crate is where the seeded simulator of issue #6 goes. It will drive the
//! pure machines in `pith_actors::machine` (sequencer, resource queues, grant tracker,
//! dispatcher, worker slot, recovery) — the same code the actors run — under simulated time,
//! a simulated task store and fault injection. Until then those machines are covered by their
//! unit tests and by the property test in `actors/src/machine.rs`.
