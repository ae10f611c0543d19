//! `turnwise env bench --env textworld/…|scienceworld`: steps per second through the
//! Python OpenEnv server (turnwise's client, one session) next to the package's own Python
//! loop in-process (`python/servers/bench.py`, one process for the whole bench), the two
//! alternating episode by episode (A B, then B A) so both see the same machine, with the
//! median of the per-round ratios. Both sides play the same seeds with the expert's
//! actions; wall and CPU time count steps only (not resets). CPU time is reported for both
//! sides: this client's thread plus the server's processes (when turnwise started the
//! server) against the in-process loop's thread.

use std::time::Instant;

use anyhow::{anyhow, Result};
use turnwise_envs::{options::Options, registry, Env};
use turnwise_openenv::hosted;
use turnwise_openenv::in_process::{InProcessLoop, Played};

use crate::cmd::bench::credit::thread_cpu_seconds;

/// One expert episode through the server, and the server's CPU seconds meanwhile
/// (`Played::cpu_seconds` is this client thread's).
fn through_server(env: &mut dyn Env, seed: u64, server: &[u32]) -> Result<(Played, f64)> {
    let o = env.reset(seed);
    if let Some(e) = o.info.error {
        return Err(anyhow!("reset failed: {e}"));
    }
    let (c0, s0) = (thread_cpu_seconds(), processes_cpu_seconds(server));
    let (mut steps, t) = (0usize, Instant::now());
    while let Some(a) = env.expert_action() {
        let s = env.step(&a);
        if let Some(e) = s.info.error {
            return Err(anyhow!("step failed: {e}"));
        }
        steps += 1;
        if s.done() {
            break;
        }
    }
    let played = Played {
        steps,
        seconds: t.elapsed().as_secs_f64(),
        cpu_seconds: thread_cpu_seconds() - c0,
    };
    Ok((played, processes_cpu_seconds(server) - s0))
}

/// CPU seconds of all threads of `pids`, to the nanosecond (Linux `/proc/PID/task/*/schedstat`;
/// processes that are gone count 0).
fn processes_cpu_seconds(pids: &[u32]) -> f64 {
    let mut ns = 0u64;
    for pid in pids {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let stat = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
            ns += stat
                .split_whitespace()
                .next()
                .and_then(|x| x.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    ns as f64 * 1e-9
}

/// One side's totals over a round.
#[derive(Default)]
struct Side {
    steps: usize,
    seconds: f64,
    cpu_seconds: f64,
    server_cpu_seconds: f64,
}

impl Side {
    fn add(&mut self, p: Played, server_cpu_seconds: f64) {
        self.steps += p.steps;
        self.seconds += p.seconds;
        self.cpu_seconds += p.cpu_seconds;
        self.server_cpu_seconds += server_cpu_seconds;
    }
    fn steps_per_second(&self) -> f64 {
        self.steps as f64 / self.seconds
    }
    fn ms_per_step(&self, seconds: f64) -> f64 {
        1e3 * seconds / self.steps.max(1) as f64
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Runs the side-by-side bench of a hosted environment.
pub fn run(name: &str, kvs: &[String], episodes: usize, rounds: usize) -> Result<i32> {
    let overrides = kvs
        .iter()
        .map(|s| Options::split_kv(s))
        .collect::<Result<Vec<_>, _>>()?;
    let (game, _) = hosted::hosted_game(name).ok_or_else(|| anyhow!("{name} is not hosted"))?;
    let game_opts = hosted::game_option_pairs(name, &overrides)?;
    let mut env = registry::make(name, &overrides)?;
    // Empty for a server the user started (option `url`): its CPU is not ours to read.
    let server = hosted::server_processes(game);
    if server.is_empty() {
        println!("{name}: the server was not started by turnwise: its CPU time is not measured");
    }
    let mut local = InProcessLoop::start(game, &game_opts).map_err(|e| anyhow!(e))?;
    // Warm-up, untimed: compiles or loads the games, warms caches and JITs on both sides.
    for seed in 0..episodes as u64 {
        through_server(&mut *env, seed, &server)?;
        local.play(seed, 1).map_err(|e| anyhow!(e))?;
    }
    let (mut ratios, mut cpu_ratios) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let (mut a, mut b) = (Side::default(), Side::default());
        for seed in 0..episodes as u64 {
            let served_first = (seed as usize + round).is_multiple_of(2);
            for served in [served_first, !served_first] {
                if served {
                    let (p, server_cpu) = through_server(&mut *env, seed, &server)?;
                    a.add(p, server_cpu);
                } else {
                    b.add(local.play(seed, 1).map_err(|e| anyhow!(e))?, 0.0);
                }
            }
        }
        let ratio = b.steps_per_second() / a.steps_per_second();
        ratios.push(ratio);
        let (client, local_cpu) = (a.ms_per_step(a.cpu_seconds), b.ms_per_step(b.cpu_seconds));
        let mut cpu = format!("CPU ms/step: client {client:.2}");
        if !server.is_empty() {
            let server_cpu = a.ms_per_step(a.server_cpu_seconds);
            cpu_ratios.push((client + server_cpu) / local_cpu);
            cpu += &format!(" + server {server_cpu:.2}");
        }
        println!(
            "{name} round {round}: server {:.1} steps/s, in-process {:.1} steps/s ({} steps a side), in-process/server {ratio:.3}; {cpu} vs in-process {local_cpu:.2}",
            a.steps_per_second(),
            b.steps_per_second(),
            a.steps,
        );
    }
    let m = median(ratios);
    let mut summary = format!(
        "{name}: median in-process/server ratio {m:.3} over {rounds} rounds (the server adds {:+.1} % wall time per step)",
        (m - 1.0) * 100.0
    );
    if !cpu_ratios.is_empty() {
        summary += &format!(
            "; CPU per step, (client + server) / in-process: median {:.3}",
            median(cpu_ratios)
        );
    }
    println!("{summary}");
    Ok(0)
}
