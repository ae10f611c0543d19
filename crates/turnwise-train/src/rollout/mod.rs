//! Rollouts: per task seed a group of G episodes; every live episode of the batch
//! generates together each turn (one forward pass per token), and environments are
//! stepped on a worker thread while the other half of the batch generates (a two-stage
//! pipeline, so environments never wait on a single episode and generation never waits on
//! environments). Contexts are extended with token ids only ([`context`]).

pub mod context;

use std::time::Instant;

use serde_json::json;
use turnwise_core::trajectory::Text;
use turnwise_core::{Group, Trajectory, Turn};
use turnwise_envs::render::{Style, TurnCtx};
use turnwise_envs::Env;

use crate::policy::generate::{Generated, SampleSpec};
use crate::policy::{Policy, PolicyTokenizer};
pub use context::{context_of, HistorySpec};

/// How episodes are played.
#[derive(Debug, Clone, Copy)]
pub struct RolloutSpec {
    /// Turn budget; an episode reaching it is truncated.
    pub max_turns: usize,
    /// Context budget in tokens (the model's position table); an episode whose next
    /// context would not fit with a full action is truncated.
    pub max_context: usize,
    /// History kept in contexts.
    pub history: HistorySpec,
    /// Sampling settings.
    pub sample: SampleSpec,
    /// How observations are rendered and outputs parsed (`turnwise_envs::render`).
    pub style: Style,
}

/// Counters of one rollout.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RolloutStats {
    /// Generated tokens.
    pub tokens: usize,
    /// Environment steps.
    pub env_steps: usize,
    /// Seconds spent generating (main thread).
    pub gen_s: f64,
    /// Seconds spent stepping environments (worker thread).
    pub env_s: f64,
}

struct Episode {
    env: Box<dyn Env>,
    traj: Trajectory,
    pending: Option<Generated>,
    done: bool,
    success: bool,
}

fn push_observation(
    ep: &mut Episode,
    text: &str,
    anchor: Option<String>,
    tok: &PolicyTokenizer,
) -> anyhow::Result<()> {
    let env_step = ep.traj.turns.len() as u64;
    let mut turn = Turn {
        observation: Text {
            text: text.to_owned(),
            token_ids: tok.encode(text)?,
        },
        anchor: anchor.map(String::into_boxed_str),
        ..Turn::default()
    };
    turn.ext_mut().env_step = Some(env_step);
    ep.traj.turns.push(turn);
    Ok(())
}

/// Applies each episode's pending action to its environment and records the outcome.
fn step_all(
    eps: &mut [Episode],
    spec: &RolloutSpec,
    tok: &PolicyTokenizer,
) -> anyhow::Result<(usize, f64)> {
    let t0 = Instant::now();
    let mut n = 0;
    for ep in eps.iter_mut() {
        let Some(g) = ep.pending.take() else { continue };
        let text = tok.decode(&g.ids)?;
        let action = spec.style.parse(&*ep.env, &text).action.to_owned();
        let step = ep.env.step(&action);
        n += 1;
        let turn = ep
            .traj
            .turns
            .last_mut()
            .expect("an observation precedes every action");
        turn.tokens = g.ids.len() as u32;
        turn.action = Text {
            text: text.clone(),
            token_ids: g.ids,
        };
        turn.action_logprobs = g.logprobs;
        turn.reward = Some(step.reward);
        ep.success |= step.info.success;
        if step.terminated || step.truncated {
            ep.done = true;
            ep.traj.terminated = step.terminated;
            ep.traj.truncated = step.truncated;
        } else if ep.traj.turns.len() >= spec.max_turns {
            ep.done = true;
            ep.traj.truncated = true;
        } else {
            let ctx = TurnCtx {
                turn: ep.traj.turns.len() + 1,
                max_tokens: spec.sample.max_new,
            };
            let obs = spec
                .style
                .observation(&*ep.env, ctx, &step.observation, Some(step.reward));
            push_observation(ep, &obs, step.info.state_key.map(|k| k.to_string()), tok)?;
            let t = ep.traj.turns.len() - 1;
            if context_of(&ep.traj, t, spec.history).len() + spec.sample.max_new > spec.max_context
            {
                ep.traj.turns.pop();
                ep.done = true;
                ep.traj.truncated = true;
            }
        }
    }
    Ok((n, t0.elapsed().as_secs_f64()))
}

/// Samples the next action of every live episode of `eps` in one batch.
fn generate_all(
    eps: &mut [Episode],
    policy: &Policy,
    spec: &RolloutSpec,
    rng: &mut turnwise_core::seed::Rng,
) -> anyhow::Result<(usize, f64)> {
    let t0 = Instant::now();
    let live: Vec<usize> = (0..eps.len())
        .filter(|&i| !eps[i].done && eps[i].pending.is_none())
        .collect();
    if live.is_empty() {
        return Ok((0, 0.0));
    }
    let contexts: Vec<Vec<u32>> = live
        .iter()
        .map(|&i| context_of(&eps[i].traj, eps[i].traj.turns.len() - 1, spec.history))
        .collect();
    let out = policy.generate(&contexts, &spec.sample, rng)?;
    let mut n = 0;
    for (i, g) in live.into_iter().zip(out) {
        n += g.ids.len();
        eps[i].pending = Some(g);
    }
    Ok((n, t0.elapsed().as_secs_f64()))
}

/// Plays one group of `envs.len() / seeds.len()` episodes per seed and returns the groups
/// (batch order: seed after seed, G episodes each).
pub fn collect(
    policy: &Policy,
    envs: Vec<Box<dyn Env>>,
    seeds: &[u64],
    env_name: &str,
    spec: &RolloutSpec,
    rng: &mut turnwise_core::seed::Rng,
) -> anyhow::Result<(Vec<Group>, RolloutStats)> {
    let g = envs.len() / seeds.len().max(1);
    let tok = &policy.tokenizer;
    let mut eps = envs
        .into_iter()
        .enumerate()
        .map(|(i, mut env)| {
            let seed = seeds[i / g];
            let obs = env.reset(seed);
            let mut ep = Episode {
                env,
                traj: Trajectory {
                    id: format!("{env_name}:{seed}:{}", i % g),
                    group_id: format!("{env_name}:{seed}"),
                    ..Trajectory::default()
                },
                pending: None,
                done: false,
                success: false,
            };
            let ctx = TurnCtx {
                turn: 1,
                max_tokens: spec.sample.max_new,
            };
            let text = spec.style.observation(&*ep.env, ctx, &obs.text, None);
            push_observation(
                &mut ep,
                &text,
                obs.info.state_key.map(|k| k.to_string()),
                tok,
            )?;
            Ok(ep)
        })
        .collect::<anyhow::Result<Vec<Episode>>>()?;
    let mut stats = RolloutStats::default();
    // Two halves: while one half's environments step on a worker thread, the other half generates.
    let half = eps.len().div_ceil(2);
    let (a, b) = eps.split_at_mut(half);
    let mut parts = [a, b];
    let (n, s) = generate_all(parts[0], policy, spec, rng)?;
    stats.tokens += n;
    stats.gen_s += s;
    let mut stepping = 0;
    loop {
        let gen_part = 1 - stepping;
        let [p0, p1] = &mut parts;
        let (to_step, to_gen) = if stepping == 0 {
            (&mut **p0, &mut **p1)
        } else {
            (&mut **p1, &mut **p0)
        };
        let (stepped, gen) = std::thread::scope(|sc| {
            let h = sc.spawn(|| step_all(to_step, spec, tok));
            let r = generate_all(to_gen, policy, spec, rng);
            (h.join().expect("environment worker panicked"), r)
        });
        let (n_env, s_env) = stepped?;
        let (n_tok, s_gen) = gen?;
        stats.env_steps += n_env;
        stats.env_s += s_env;
        stats.tokens += n_tok;
        stats.gen_s += s_gen;
        stepping = gen_part;
        let all_done = parts.iter().all(|p| p.iter().all(|e| e.done));
        if all_done {
            break;
        }
    }
    let mut groups: Vec<Group> = seeds
        .iter()
        .map(|&seed| Group {
            prompt_id: format!("{env_name}:{seed}"),
            seed: Some(seed),
            gt_tool_calls: None,
            trajectories: Vec::with_capacity(g),
        })
        .collect();
    for (i, mut ep) in eps.into_iter().enumerate() {
        ep.traj.outcome = Some(ep.traj.total_reward());
        ep.traj.metadata.insert("env".into(), json!(env_name));
        ep.traj.metadata.insert("seed".into(), json!(seeds[i / g]));
        ep.traj.success = Some(ep.success);
        if let Some(gold) = ep.env.gold_action() {
            ep.traj.ext_mut().gold_answer = Some(gold);
        }
        groups[i / g].trajectories.push(ep.traj);
    }
    Ok((groups, stats))
}
