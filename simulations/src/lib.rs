//! Deterministic simulation of Pith's tasking protocol.
//!
//! [`world::World`] is a seeded discrete-event simulator: one PRNG ([`rng`]), simulated time,
//! a simulated network with per-link FIFO and cross-sender reordering, a simulated task store
//! ([`db::SimDb`]) that applies the writer's real commands, and faults (lost wake-ups, failing
//! and panicking bodies, cancellations, worker crashes, process crashes with recovery). It
//! drives the real state machines of `pith_actors::machine` and checks the invariants after
//! every event. A seed replays a run exactly. See `simulations/README.md`.

pub mod cluster;
pub mod db;
pub mod rng;
pub mod world;

pub use cluster::{
    ClusterFailure, ClusterMutation, ClusterSummary, run_cluster_mutant, run_cluster_seed,
};
pub use world::{Failure, Mutation, Summary, World, run_seed};
