//! The cluster simulation inside `cargo test`: a time-bounded seed sweep (membership, lease,
//! fencing, partitions, crashes, pauses, clock jumps, database outages) and replay.
//! `PITH_SIM_FROM=S PITH_SIM_SEEDS=N` sweeps other or more seeds.

use std::time::{Duration, Instant};

use simulations::{ClusterMutation, run_cluster_mutant, run_cluster_seed};

const SEEDS: u64 = 3_000;
const BUDGET: Duration = Duration::from_secs(45);

#[test]
fn cluster_sweep_holds_every_invariant() {
    let start = std::env::var("PITH_SIM_FROM")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0u64);
    let seeds = std::env::var("PITH_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEEDS);
    let budget = if seeds > SEEDS { Duration::MAX } else { BUDGET };
    let t0 = Instant::now();
    let (mut n, mut failed, mut epochs) = (0u64, 0usize, 0i64);
    for seed in start..start + seeds {
        match run_cluster_seed(seed) {
            Ok(s) => {
                failed += s.failed;
                epochs = epochs.max(s.epoch);
            }
            Err(f) => panic!("{f}"),
        }
        n += 1;
        if t0.elapsed() > budget {
            break;
        }
    }
    println!(
        "cluster sweep: {n} seeds from {start}, {:.0} seeds/s, {failed} tasks failed with lost nodes, highest epoch {epochs}",
        n as f64 / t0.elapsed().as_secs_f64()
    );
    assert!(n >= 300, "the sweep covered only {n} seeds");
    assert!(
        failed > 0,
        "no seed ever lost a node with a running task: the faults are too weak"
    );
    assert!(epochs > 2, "the lease never moved");
}

#[test]
fn cluster_seed_replays_identically() {
    for seed in [3u64, 99, 4242] {
        assert_eq!(run_cluster_seed(seed).ok(), run_cluster_seed(seed).ok());
    }
}

#[test]
fn a_cluster_without_fencing_or_holders_first_is_caught() {
    for m in [ClusterMutation::NoFence, ClusterMutation::HoldersByPosition] {
        let caught = (0..20_000u64).find_map(|seed| run_cluster_mutant(seed, m).err());
        let f = caught.unwrap_or_else(|| panic!("{m:?} was never caught"));
        println!("{m:?} caught: {f}");
    }
}
