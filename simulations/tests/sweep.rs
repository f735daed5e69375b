//! The simulator inside `cargo test`: a time-bounded sweep, replay determinism, recorded
//! regressions, and proof that the checker fails on a broken lock.

use std::time::{Duration, Instant};

use simulations::{Mutation, run_seed};

/// Seeds per test run at most, and the wall-clock budget (whichever ends first).
const SWEEP_SEEDS: u64 = 4_000;
const SWEEP_BUDGET: Duration = Duration::from_secs(60);

#[test]
fn sweep_holds_every_invariant() {
    let start = std::env::var("PITH_SIM_FROM")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0u64);
    let t0 = Instant::now();
    let mut n = 0;
    for seed in start..start + SWEEP_SEEDS {
        if let Err(f) = run_seed(seed, Mutation::None) {
            panic!("{f}");
        }
        n += 1;
        if t0.elapsed() > SWEEP_BUDGET {
            break;
        }
    }
    let rate = n as f64 / t0.elapsed().as_secs_f64();
    println!("sweep: {n} seeds from {start}, {rate:.0} seeds/s");
    assert!(
        n >= 1_000,
        "the sweep covered only {n} seeds within its budget"
    );
}

#[test]
fn same_seed_same_run() {
    for seed in [1u64, 77, 123_456, 0xdead_beef] {
        let a = run_seed(seed, Mutation::None).expect("seed passes");
        let b = run_seed(seed, Mutation::None).expect("seed passes");
        assert_eq!(a, b, "seed {seed} did not replay identically");
    }
    assert_ne!(
        run_seed(1, Mutation::None).unwrap().trace_hash,
        run_seed(2, Mutation::None).unwrap().trace_hash
    );
}

#[test]
fn recorded_regressions_pass() {
    let text = include_str!("../regressions.txt");
    for line in text.lines() {
        let Some(seed) = line
            .split('#')
            .next()
            .and_then(|s| s.trim().parse::<u64>().ok())
        else {
            continue;
        };
        if let Err(f) = run_seed(seed, Mutation::None) {
            panic!("{f}");
        }
    }
}

fn first_failure(m: Mutation) -> Option<(u64, &'static str)> {
    (0..500).find_map(|seed| run_seed(seed, m).err().map(|f| (seed, f.invariant)))
}

#[test]
fn a_lock_that_grants_exclusive_twice_is_caught() {
    let (seed, inv) = first_failure(Mutation::ExclusiveTwice)
        .expect("the sweep must catch a lock that grants an exclusive resource twice");
    println!("caught at seed {seed} by {inv}");
    assert!(matches!(
        inv,
        "no_conflicting_tasks_run_at_once" | "fifo_per_resource"
    ));
}

#[test]
fn a_lock_that_skips_fifo_is_caught() {
    let (seed, inv) =
        first_failure(Mutation::SkipFifo).expect("the sweep must catch a lock that skips FIFO");
    println!("caught at seed {seed} by {inv}");
    assert!(matches!(
        inv,
        "no_conflicting_tasks_run_at_once" | "fifo_per_resource"
    ));
}
