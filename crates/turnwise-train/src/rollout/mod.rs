//! Rollouts: per task seed a group of G episodes; every live episode of the batch
//! generates together each turn (one forward pass per token). How generation and
//! environment steps alternate depends on where the environments run ([`Env::is_remote`]):
//! in-process environments step in microseconds, so the whole batch generates in one call
//! per turn and then every environment steps; environments behind a server step on a worker
//! thread while the other half of the batch generates (a two-stage pipeline, so generation
//! never waits on the network). Both orders are fixed for a batch, so a seed gives the same
//! episodes on every run. Contexts are extended with token ids only ([`context`]); actions
//! come from a [`Sampler`]. The credit fields an environment declares
//! ([`Env::credit_fields`]) are copied from each step's `Info` into the turn
//! ([`record_step_fields`]).

pub mod chat;
pub mod context;
pub mod sampler;

use std::time::Instant;

use serde_json::json;
use turnwise_core::trajectory::Text;
use turnwise_core::{Group, Trajectory, Turn};
use turnwise_envs::render::{Parsed, Style, TurnCtx};
use turnwise_envs::{Env, Info};

use crate::policy::generate::{Generated, SampleSpec};
use crate::policy::PolicyTokenizer;
pub use chat::Format;
pub use context::{context_of, final_context, HistorySpec};
pub use sampler::Sampler;

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
    /// Raw text or the model's chat template ([`chat`]).
    pub format: Format,
}

impl RolloutSpec {
    /// The environment action of a sampled output ([`chat::parse`]).
    pub fn parse<'a>(&self, env: &dyn Env, output: &'a str) -> turnwise_envs::render::Parsed<'a> {
        chat::parse(self.format, self.style, env, output)
    }
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
    /// Seconds spent stepping environments.
    pub env_s: f64,
}

impl RolloutStats {
    fn add(&mut self, tokens: usize, gen_s: f64, env_steps: usize, env_s: f64) {
        self.tokens += tokens;
        self.gen_s += gen_s;
        self.env_steps += env_steps;
        self.env_s += env_s;
    }
}

struct Episode {
    env: Box<dyn Env>,
    /// The credit fields the environment declares.
    fields: &'static [&'static str],
    traj: Trajectory,
    pending: Option<Generated>,
    done: bool,
    success: bool,
}

/// Metadata key of the error that ended an episode early (a remote environment that died
/// or timed out); such an episode is truncated and left out of the update.
pub const ENV_ERROR_KEY: &str = "env_error";

fn fail(ep: &mut Episode, error: &str) {
    ep.done = true;
    ep.traj.truncated = true;
    ep.traj.terminated = false;
    ep.traj.metadata.insert(ENV_ERROR_KEY.into(), json!(error));
}

/// What the state before a turn tells the turn: its observation (text and ids), anchor
/// and subgoal.
fn push_observation(ep: &mut Episode, observation: Text, info: &Info) {
    let env_step = ep.traj.turns.len() as u64;
    let mut turn = Turn {
        observation,
        anchor: info.state_key.as_deref().map(Box::from),
        ..Turn::default()
    };
    turn.ext_mut().env_step = Some(env_step);
    if ep.fields.contains(&"subgoal") {
        turn.subgoal = info.subgoal;
        // HiPER: a new subgoal starts at the first turn and wherever the subgoal changes.
        let prev = ep.traj.turns.last().and_then(|u| u.subgoal);
        turn.ext_mut().switch = Some(ep.traj.turns.is_empty() || prev != info.subgoal);
    }
    ep.traj.turns.push(turn);
}

/// Copies the credit fields `fields` (the environment's [`Env::credit_fields`]) of one
/// step into the turn that took it: `score` (the progress after the action), `valid`
/// (well formatted and legal), `answer` (the step's answer, else the parsed action),
/// `correct` (the step solved the task), `tool_calls`, `answer_f1`.
pub fn record_step_fields(turn: &mut Turn, fields: &[&str], info: &Info, parsed: &Parsed<'_>) {
    for &f in fields {
        match f {
            "score" => turn.score = info.progress,
            "valid" => turn.ext_mut().valid = Some(parsed.format_ok && info.action_valid),
            "answer" => {
                let a = info.answer.as_deref().unwrap_or(parsed.action);
                turn.ext_mut().answer = Some(a.to_owned());
            }
            "correct" => turn.ext_mut().correct = Some(info.success),
            "tool_calls" => turn.ext_mut().tool_calls = info.tool_calls.clone(),
            "answer_f1" => turn.ext_mut().answer_f1 = info.answer_f1,
            _ => {}
        }
    }
}

/// Applies each episode's pending action to its environment and records the outcome.
fn step_all(
    eps: &mut [Episode],
    spec: &RolloutSpec,
    tok: &PolicyTokenizer,
) -> anyhow::Result<(usize, f64)> {
    let t0 = Instant::now();
    let mut n = 0;
    // Environments that wait on a server step concurrently, one thread each.
    let outputs: Vec<Option<(Generated, String)>> = eps
        .iter_mut()
        .map(|ep| {
            ep.pending
                .take()
                .map(|g| tok.decode(&g.ids).map(|t| (g, t)))
                .transpose()
        })
        .collect::<anyhow::Result<_>>()?;
    // (action, format_ok) of each output.
    let parsed: Vec<Option<(String, bool)>> = eps
        .iter()
        .zip(&outputs)
        .map(|(ep, o)| {
            o.as_ref().map(|(_, t)| {
                let p = spec.parse(&*ep.env, t);
                (p.action.to_owned(), p.format_ok)
            })
        })
        .collect();
    let step_one = |ep: &mut Episode, (action, _): &(String, bool)| ep.env.step(action);
    let steps: Vec<Option<turnwise_envs::Step>> = if eps.iter().any(|e| e.env.is_remote()) {
        std::thread::scope(|sc| {
            let hs: Vec<_> = eps
                .iter_mut()
                .zip(&parsed)
                .map(|(ep, p)| p.as_ref().map(|p| sc.spawn(|| step_one(ep, p))))
                .collect();
            hs.into_iter()
                .map(|h| h.map(|h| h.join().expect("environment step panicked")))
                .collect()
        })
    } else {
        eps.iter_mut()
            .zip(&parsed)
            .map(|(ep, p)| p.as_ref().map(|p| step_one(ep, p)))
            .collect()
    };
    let outcomes = outputs.into_iter().zip(parsed).zip(steps);
    for (ep, ((out, parsed), step)) in eps.iter_mut().zip(outcomes) {
        let (Some((g, text)), Some((action, format_ok)), Some(step)) = (out, parsed, step) else {
            continue;
        };
        let parsed = Parsed {
            action: &action,
            format_ok,
        };
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
        record_step_fields(turn, ep.fields, &step.info, &parsed);
        ep.success |= step.info.success;
        if let Some(e) = &step.info.error {
            fail(ep, e);
            continue;
        }
        if step.terminated {
            ep.done = true;
            ep.traj.terminated = true;
            ep.traj.truncated = step.truncated;
            continue;
        }
        let ctx = TurnCtx {
            turn: ep.traj.turns.len() + 1,
            max_tokens: spec.sample.max_new,
        };
        let rendered = spec
            .style
            .observation(&*ep.env, ctx, &step.observation, Some(step.reward));
        let action = &ep.traj.turns.last().expect("just played").action.token_ids;
        let obs = chat::observation(spec.format, tok, &*ep.env, Some(action), &rendered)?;
        if step.truncated || ep.traj.turns.len() >= spec.max_turns {
            // Cut by the environment's or the trainer's turn budget: keep s_T for critics.
            ep.done = true;
            ep.traj.truncated = true;
            ep.traj.ext_mut().final_observation = Some(obs);
            continue;
        }
        push_observation(ep, obs, &step.info);
        let t = ep.traj.turns.len() - 1;
        if context_of(&ep.traj, t, spec.history).len() + spec.sample.max_new > spec.max_context {
            // The next context does not fit: the episode ends before that turn.
            let last = ep.traj.turns.pop().expect("just pushed");
            ep.done = true;
            ep.traj.truncated = true;
            ep.traj.ext_mut().final_observation = Some(last.observation);
        }
    }
    Ok((n, t0.elapsed().as_secs_f64()))
}

/// Samples the next action of every live episode of `eps` in one batch.
fn generate_all(
    eps: &mut [Episode],
    sampler: &dyn Sampler,
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
    let out = sampler.generate(&contexts, &spec.sample, rng)?;
    let mut n = 0;
    for (i, g) in live.into_iter().zip(out) {
        n += g.ids.len();
        eps[i].pending = Some(g);
    }
    Ok((n, t0.elapsed().as_secs_f64()))
}

/// Resets `env` to task `seed` and renders its first observation as an episode's first
/// turn sees it: its text and token ids (in the chat format, the template's pieces
/// included), the ids that follow BOS in the first context.
pub fn first_observation(
    env: &mut dyn Env,
    seed: u64,
    spec: &RolloutSpec,
    tok: &PolicyTokenizer,
) -> anyhow::Result<(Text, turnwise_envs::Observation)> {
    let obs = env.reset(seed);
    let ctx = TurnCtx {
        turn: 1,
        max_tokens: spec.sample.max_new,
    };
    let text = spec.style.observation(&*env, ctx, &obs.text, None);
    let first = chat::observation(spec.format, tok, &*env, None, &text)?;
    Ok((first, obs))
}

/// Plays one group of `envs.len() / seeds.len()` episodes per seed with actions from
/// `sampler` and returns the groups (batch order: seed after seed, G episodes each).
pub fn collect(
    sampler: &dyn Sampler,
    envs: Vec<Box<dyn Env>>,
    seeds: &[u64],
    env_name: &str,
    spec: &RolloutSpec,
    rng: &mut turnwise_core::seed::Rng,
) -> anyhow::Result<(Vec<Group>, RolloutStats)> {
    let g = envs.len() / seeds.len().max(1);
    let tok = sampler.tokenizer();
    let mut eps = envs
        .into_iter()
        .enumerate()
        .map(|(i, mut env)| {
            let seed = seeds[i / g];
            let (first, obs) = first_observation(&mut *env, seed, spec, tok)?;
            let fields = env.credit_fields();
            let mut ep = Episode {
                env,
                fields,
                traj: Trajectory {
                    id: format!("{env_name}:{seed}:{}", i % g),
                    group_id: format!("{env_name}:{seed}"),
                    ..Trajectory::default()
                },
                pending: None,
                done: false,
                success: false,
            };
            push_observation(&mut ep, first, &obs.info);
            if let Some(e) = &obs.info.error {
                fail(&mut ep, e);
            }
            Ok(ep)
        })
        .collect::<anyhow::Result<Vec<Episode>>>()?;
    let stats = play(&mut eps, sampler, spec, rng)?;
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
        let group = &mut groups[i / g];
        if group.gt_tool_calls.is_none() && ep.fields.contains(&"gt_tool_calls") {
            group.gt_tool_calls = ep.env.reference_tool_calls();
        }
        group.trajectories.push(ep.traj);
    }
    Ok((groups, stats))
}

/// Plays `eps` to the end. In-process environments step in microseconds: each turn the
/// whole batch generates in one call (the largest batch per call), then every environment
/// steps. Environments behind a server ([`Env::is_remote`]) play in two halves: while one
/// half's environments step on a worker thread, the other half generates, so the servers'
/// latency overlaps generation.
fn play(
    eps: &mut [Episode],
    sampler: &dyn Sampler,
    spec: &RolloutSpec,
    rng: &mut turnwise_core::seed::Rng,
) -> anyhow::Result<RolloutStats> {
    let tok = sampler.tokenizer();
    let mut stats = RolloutStats::default();
    if !eps.iter().any(|e| e.env.is_remote()) {
        while !eps.iter().all(|e| e.done) {
            let (n_tok, s_gen) = generate_all(eps, sampler, spec, rng)?;
            let (n_env, s_env) = step_all(eps, spec, tok)?;
            stats.add(n_tok, s_gen, n_env, s_env);
        }
        return Ok(stats);
    }
    let half = eps.len().div_ceil(2);
    let (a, b) = eps.split_at_mut(half);
    let mut parts = [a, b];
    let (n, s) = generate_all(parts[0], sampler, spec, rng)?;
    stats.add(n, s, 0, 0.0);
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
            let r = generate_all(to_gen, sampler, spec, rng);
            (h.join().expect("environment worker panicked"), r)
        });
        let (n_env, s_env) = stepped?;
        let (n_tok, s_gen) = gen?;
        stats.add(n_tok, s_gen, n_env, s_env);
        stepping = gen_part;
        if parts.iter().all(|p| p.iter().all(|e| e.done)) {
            return Ok(stats);
        }
    }
}
