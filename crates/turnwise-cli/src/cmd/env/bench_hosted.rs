//! `turnwise env bench --env textworld/…|scienceworld`: steps per second through the
//! Python OpenEnv server (turnwise's client, one session) next to the package's own Python
//! loop in-process (`python/servers/bench.py`), interleaved round by round (A B A B), with
//! the median of the per-round ratios. Both sides play the same seeds with the expert's
//! actions and time steps only (not resets).

use std::time::Instant;

use anyhow::{anyhow, Result};
use turnwise_envs::{options::Options, registry};
use turnwise_openenv::hosted;

/// Steps and stepping seconds of `episodes` expert episodes through the server.
fn through_server(env: &mut dyn turnwise_envs::Env, episodes: usize) -> Result<(usize, f64)> {
    let (mut steps, mut secs) = (0usize, 0.0);
    for seed in 0..episodes as u64 {
        let o = env.reset(seed);
        if let Some(e) = o.info.error {
            return Err(anyhow!("reset failed: {e}"));
        }
        let t = Instant::now();
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
        secs += t.elapsed().as_secs_f64();
    }
    Ok((steps, secs))
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
    // Warm-up: compiles or loads the games both sides will play.
    through_server(&mut *env, episodes)?;
    let mut ratios = Vec::new();
    for round in 0..rounds {
        let (sa, ta) = through_server(&mut *env, episodes)?;
        let (sb, tb) =
            hosted::bench_in_process(game, &game_opts, episodes, 0).map_err(|e| anyhow!(e))?;
        let (a, b) = (sa as f64 / ta, sb as f64 / tb);
        ratios.push(b / a);
        println!(
            "{name} round {round}: server {a:.1} steps/s ({sa} steps), in-process {b:.1} steps/s ({sb} steps), in-process/server {:.3}",
            b / a
        );
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    println!(
        "{name}: median in-process/server ratio {median:.3} over {rounds} rounds (server overhead {:+.1} %)",
        (median - 1.0) * 100.0
    );
    Ok(0)
}
