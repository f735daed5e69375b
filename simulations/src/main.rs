//! `cargo run -p simulations -- --seed S [--trace]` replays one run;
//! `cargo run -p simulations -- --seeds N [--from S]` sweeps N seeds and reports seeds/s.
//! `--mutation exclusive-twice|skip-fifo` swaps in a broken lock (the sweep must fail).
//! `--cluster` runs the multi-node simulation (membership, lease, fencing) instead; with
//! `PITH_SIM_TRACE=1` a single seed prints every event.

use std::process::ExitCode;
use std::time::Instant;

use simulations::{Mutation, World, run_cluster_seed, run_seed};

fn parse_seed(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut seed, mut seeds, mut from, mut trace, mut mutation, mut cluster) =
        (None, None, 0u64, false, Mutation::None, false);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seed" => seed = args.next().as_deref().and_then(parse_seed),
            "--seeds" => seeds = args.next().and_then(|s| s.parse::<u64>().ok()),
            "--from" => from = args.next().as_deref().and_then(parse_seed).unwrap_or(0),
            "--trace" => trace = true,
            "--cluster" => cluster = true,
            "--mutation" => {
                mutation = match args.next().as_deref() {
                    Some("exclusive-twice") => Mutation::ExclusiveTwice,
                    Some("skip-fifo") => Mutation::SkipFifo,
                    other => {
                        eprintln!("unknown mutation {other:?} (exclusive-twice, skip-fifo)");
                        return ExitCode::from(2);
                    }
                }
            }
            _ => {
                eprintln!(
                    "usage: simulations [--cluster] (--seed S [--trace] | --seeds N [--from S]) [--mutation exclusive-twice|skip-fifo]"
                );
                return ExitCode::from(2);
            }
        }
    }
    if cluster {
        let (from, n) = match seed {
            Some(s) => (s, 1),
            None => (from, seeds.unwrap_or(10_000)),
        };
        let t0 = Instant::now();
        for s in from..from + n {
            if let Err(f) = run_cluster_seed(s) {
                println!("{f}");
                return ExitCode::FAILURE;
            }
        }
        println!(
            "ok: {n} cluster seeds ({from}..{}), {:.0} seeds/s",
            from + n,
            n as f64 / t0.elapsed().as_secs_f64()
        );
        return ExitCode::SUCCESS;
    }
    if let Some(s) = seed {
        let mut w = World::new(s, mutation);
        println!("seed={s} params={:?}", w.params);
        w.print_trace(trace);
        return match w.run() {
            Ok(sum) => {
                println!("ok seed={s} {sum:?}");
                ExitCode::SUCCESS
            }
            Err(f) => {
                println!("{f}");
                ExitCode::FAILURE
            }
        };
    }
    let n = seeds.unwrap_or(1000);
    let t0 = Instant::now();
    let mut events = 0;
    for s in from..from + n {
        match run_seed(s, mutation) {
            Ok(sum) => events += sum.events,
            Err(f) => {
                println!("{f}");
                println!("({} seeds passed before it)", s - from);
                return ExitCode::FAILURE;
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "ok: {n} seeds ({from}..{}), {events} events, {:.0} seeds/s, {:.0} events/s",
        from + n,
        n as f64 / secs,
        events as f64 / secs
    );
    ExitCode::SUCCESS
}
