//! `turnwise bench credit`: times every case of [`turnwise_credit::bench::all_cases`]
//! single-threaded (one warm-up run, then the median of `--runs` runs) and reports ms,
//! turns/s, the target, pass/fail and the peak extra heap memory of one run, measured by
//! the counting global allocator ([`super::alloc`]) and compared with the batch's own
//! size (estimated from its data structures, cross-checked against the allocator's count
//! of what building the cases allocated).

use std::collections::HashMap;
use std::io::Write;
use std::mem::size_of;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use turnwise_core::{Batch, Group, Trajectory, Turn, TurnExt};
use turnwise_credit::bench::{all_cases, BenchCase};
use turnwise_credit::registry;

use super::{alloc, npy};

/// Arguments of `turnwise bench credit`.
#[derive(clap::Args)]
pub struct Args {
    /// Multiply the batch sizes (1.0 = 8,192 groups × 8 trajectories × ~15 turns); the
    /// targets scale with it.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Timed runs per method after one warm-up run; the median is reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Only benchmark this method (repeatable).
    #[arg(long = "method", value_name = "NAME")]
    methods: Vec<String>,
    /// Write the synthetic batch and the Rust outputs as `.npy` arrays into this folder
    /// (read by `bench/credit_reference.py`).
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,
}

/// Bytes of a batch: inline sizes of every element plus the heap capacity of its strings,
/// vectors and boxed extensions (free-form metadata maps and tool calls are not counted).
pub fn batch_bytes(b: &Batch) -> usize {
    let text = |t: &turnwise_core::trajectory::Text| t.text.capacity() + 4 * t.token_ids.capacity();
    let turn = |u: &Turn| {
        text(&u.observation)
            + text(&u.action)
            + 4 * u.action_logprobs.capacity()
            + u.anchor.as_ref().map_or(0, |a| a.len())
            + u.ext.as_ref().map_or(0, |_| size_of::<TurnExt>())
    };
    let traj = |t: &Trajectory| {
        t.id.capacity()
            + t.group_id.capacity()
            + size_of::<Turn>() * t.turns.capacity()
            + t.turns.iter().map(turn).sum::<usize>()
    };
    let group = |g: &Group| {
        g.prompt_id.capacity()
            + size_of::<Trajectory>() * g.trajectories.capacity()
            + g.trajectories.iter().map(traj).sum::<usize>()
    };
    size_of::<Batch>()
        + size_of::<Group>() * b.groups.capacity()
        + b.groups.iter().map(group).sum::<usize>()
}

/// CPU time of the calling thread, in seconds (`CLOCK_THREAD_CPUTIME_ID`): unlike wall
/// time it does not count the time the thread waits for a core on a busy machine.
pub(crate) fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return f64::NAN;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn median(x: &mut [f64]) -> f64 {
    x.sort_by(f64::total_cmp);
    x[x.len() / 2]
}

struct Row {
    method: &'static str,
    turns: usize,
    median: f64,
    cpu: f64,
    min: f64,
    target: f64,
    peak_extra: usize,
    batch: usize,
}

fn mib(x: usize) -> f64 {
    x as f64 / (1 << 20) as f64
}

fn time_case(c: &BenchCase, runs: usize) -> Result<(Row, Vec<f64>)> {
    let run = || registry::run(c.method, &c.batch, &c.params, &[]);
    // Warm-up run, also measuring the peak extra heap.
    let before = alloc::reset_peak();
    let out = run().with_context(|| format!("{} failed", c.method))?;
    let peak_extra = alloc::peak().saturating_sub(before);
    let values = out
        .turn_values()
        .map(|v| v.values.clone())
        .unwrap_or_default();
    drop(out);
    let (mut wall, mut cpu) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for _ in 0..runs {
        let (t0, c0) = (Instant::now(), thread_cpu_seconds());
        let out = run()?;
        wall.push(t0.elapsed().as_secs_f64());
        cpu.push(thread_cpu_seconds() - c0);
        drop(out);
    }
    let row = Row {
        method: c.method,
        turns: c.batch.num_turns(),
        median: median(&mut wall),
        cpu: median(&mut cpu),
        min: wall[0],
        target: c.target_seconds,
        peak_extra,
        batch: batch_bytes(&c.batch),
    };
    Ok((row, values))
}

/// Writes the batch's arrays (group / trajectory offsets, outcomes, rewards, per-group
/// anchor ids in first-seen order) into `dir`.
fn export_batch(dir: &Path, b: &Batch) -> Result<()> {
    let (mut goff, mut toff) = (vec![0i64], vec![0i64]);
    let (mut outcome, mut reward, mut anchor) = (Vec::new(), Vec::new(), Vec::new());
    let mut ids: HashMap<&str, i64> = HashMap::new();
    for g in &b.groups {
        ids.clear();
        for t in &g.trajectories {
            outcome.push(t.outcome.unwrap_or(f64::NAN));
            for u in &t.turns {
                reward.push(u.reward.unwrap_or(f64::NAN));
                let a = u.anchor.as_deref().unwrap_or("");
                let n = ids.len() as i64;
                anchor.push(*ids.entry(a).or_insert(n));
            }
            toff.push(reward.len() as i64);
        }
        goff.push(outcome.len() as i64);
    }
    npy::write_i64(&dir.join("group_offsets.npy"), &goff)?;
    npy::write_i64(&dir.join("traj_offsets.npy"), &toff)?;
    npy::write_f64(&dir.join("outcome.npy"), &outcome)?;
    npy::write_f64(&dir.join("reward.npy"), &reward)?;
    npy::write_i64(&dir.join("anchor_id.npy"), &anchor)?;
    Ok(())
}

/// Runs the command; returns the exit status (1 if a target was missed).
pub fn run(args: Args) -> Result<i32> {
    if !(args.scale.is_finite() && args.scale > 0.0) {
        bail!("--scale {}: must be a positive number", args.scale);
    }
    if args.runs == 0 {
        bail!("--runs 0: need at least one timed run");
    }
    for m in &args.methods {
        registry::get(m)?;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let live0 = alloc::live();
    let t0 = Instant::now();
    let mut cases = all_cases(args.scale);
    let built = alloc::live().saturating_sub(live0);
    cases.retain(|c| args.methods.is_empty() || args.methods.iter().any(|m| m == c.method));
    if cases.is_empty() {
        bail!("no benchmark case for the given --method");
    }
    let estimated: usize = cases.iter().map(|c| batch_bytes(&c.batch)).sum();
    writeln!(
        out,
        "built {} case(s) in {:.1} s; allocator counted {:.1} MiB for all cases, estimate for the selected batches {:.1} MiB{}",
        cases.len(),
        t0.elapsed().as_secs_f64(),
        mib(built),
        mib(estimated),
        if cfg!(debug_assertions) {
            "\nwarning: debug build; targets apply to --release"
        } else {
            ""
        }
    )?;
    if let Some(dir) = &args.export {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let b = cases
            .iter()
            .find(|c| {
                c.batch.groups.iter().any(|g| {
                    g.trajectories
                        .iter()
                        .any(|t| t.turns.iter().any(|u| u.anchor.is_some()))
                })
            })
            .map_or(&cases[0].batch, |c| &c.batch);
        export_batch(dir, b)?;
    }
    writeln!(
        out,
        "{:<14} {:>8} {:>8} {:>8} {:>8} {:>9} {:>7} {:>6} {:>10} {:>8}",
        "method",
        "turns",
        "wall ms",
        "min ms",
        "cpu ms",
        "Mturns/s",
        "target",
        "result",
        "extra MiB",
        "of batch"
    )?;
    let mut failed = 0;
    for c in &cases {
        let (r, values) = time_case(c, args.runs)?;
        let pass = r.cpu <= r.target;
        failed += usize::from(!pass);
        writeln!(
            out,
            "{:<14} {:>8} {:>8.2} {:>8.2} {:>8.2} {:>9.1} {:>7.1} {:>6} {:>10.1} {:>7.1}%",
            r.method,
            r.turns,
            r.median * 1e3,
            r.min * 1e3,
            r.cpu * 1e3,
            r.turns as f64 / r.cpu / 1e6,
            r.target * 1e3,
            if pass { "pass" } else { "FAIL" },
            mib(r.peak_extra),
            100.0 * r.peak_extra as f64 / r.batch as f64,
        )?;
        if let Some(dir) = &args.export {
            npy::write_f64(&dir.join(format!("adv_{}.npy", r.method)), &values)?;
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    writeln!(
        out,
        "times: median of {} runs after a warm-up; result and turns/s use the thread's CPU time \
         (equal to wall time on an idle core; load average now: {})",
        args.runs,
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    )?;
    writeln!(
        out,
        "peak extra = heap high-water mark of one run above the live heap before it (counting allocator; the output is included), as a share of the case's batch (estimated bytes)"
    )?;
    Ok(i32::from(failed > 0))
}
