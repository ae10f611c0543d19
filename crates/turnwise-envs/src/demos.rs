//! Expert demonstrations in the turnwise trajectory format (task item 3): each episode is
//! played by the environment's expert ([`crate::Env::expert_action`]), with a fraction
//! `noise` of uniformly random actions (ε-random), and written as text turns (observation
//! block + policy output), per-turn rewards, outcome = return, terminated / truncated, and
//! anchor = the state key before the action.

use rand::Rng as _;
use serde_json::{json, Map};
use turnwise_core::{Group, Trajectory, Turn};

use crate::env::Env;
use crate::render::{Style, TurnCtx};

/// Settings of a demonstration run.
#[derive(Debug, Clone, Copy)]
pub struct DemoConfig {
    /// Probability of replacing the expert's action by a random one.
    pub noise: f64,
    /// Prompt style of the recorded texts.
    pub style: Style,
    /// Safety cap on turns per episode (environments have their own limits).
    pub max_turns: usize,
    /// Per-turn response budget the observations state (RAGEN's "Max response length");
    /// a policy trained on the demonstrations should see the budget it samples with (the
    /// trainer passes `sampling.max_action_tokens`).
    pub max_tokens: usize,
}

/// Plays one episode from `seed` and records it. `rng` draws the ε-random actions.
pub fn episode(
    env: &mut dyn Env,
    env_name: &str,
    seed: u64,
    cfg: &DemoConfig,
    rng: &mut turnwise_core::seed::Rng,
) -> Trajectory {
    let obs = env.reset(seed);
    let mut text = obs.text.into_owned();
    let mut anchor = obs.info.state_key;
    let mut traj = Trajectory {
        id: format!("{env_name}:{seed}"),
        group_id: format!("{env_name}:{seed}"),
        ..Trajectory::default()
    };
    let mut prev_reward = None;
    let mut success = false;
    for t in 1..=cfg.max_turns {
        let Some(expert) = env.expert_action() else {
            break;
        };
        let space = env.action_space();
        let action = if cfg.noise > 0.0 && !space.is_empty() && rng.random_bool(cfg.noise.min(1.0))
        {
            space[rng.random_range(0..space.len())].to_string()
        } else {
            expert
        };
        let ctx = TurnCtx {
            turn: t,
            max_tokens: cfg.max_tokens,
        };
        let observation = cfg.style.observation(env, ctx, &text, prev_reward);
        let output = cfg.style.format_action(env, &action);
        let step = env.step(&action);
        traj.turns.push(Turn {
            observation: turnwise_core::trajectory::Text {
                text: observation,
                token_ids: vec![],
            },
            action: turnwise_core::trajectory::Text {
                text: output,
                token_ids: vec![],
            },
            reward: Some(step.reward),
            anchor: anchor.take().map(|k| k.into_owned().into_boxed_str()),
            ..Turn::default()
        });
        record_tools(traj.turns.last_mut().expect("just pushed"), &step.info);
        prev_reward = Some(step.reward);
        success |= step.info.success;
        text = step.observation.into_owned();
        anchor = step.info.state_key;
        if step.terminated || step.truncated {
            traj.terminated = step.terminated;
            traj.truncated = step.truncated;
            break;
        }
    }
    traj.outcome = Some(traj.total_reward());
    let mut meta = Map::new();
    meta.insert("env".into(), json!(env_name));
    meta.insert("seed".into(), json!(seed));
    meta.insert("noise".into(), json!(cfg.noise));
    traj.metadata = meta;
    traj.success = Some(success);
    traj
}

/// Copies a tool step's calls and answer F1 into the turn (MatchTIR's `tool_calls` and
/// `answer_f1`).
pub fn record_tools(turn: &mut Turn, info: &crate::env::Info) {
    if info.tool_calls.is_none() && info.answer_f1.is_none() {
        return;
    }
    let e = turn.ext_mut();
    e.tool_calls = info.tool_calls.clone();
    e.answer_f1 = info.answer_f1;
}

/// One group per seed: `group_size` noisy expert episodes sharing the seed.
pub fn group(
    env: &mut dyn Env,
    env_name: &str,
    seed: u64,
    group_size: usize,
    cfg: &DemoConfig,
    rng: &mut turnwise_core::seed::Rng,
) -> Group {
    let trajectories = (0..group_size)
        .map(|i| {
            let mut t = episode(env, env_name, seed, cfg, rng);
            t.id = format!("{env_name}:{seed}:{i}");
            t
        })
        .collect();
    Group {
        prompt_id: format!("{env_name}:{seed}"),
        seed: Some(seed),
        gt_tool_calls: env.reference_tool_calls(),
        trajectories,
    }
}
