//! The trainer's side of the environments: building them from the `[env]` section, their
//! stop token, in-process expert demonstrations, evaluation task lists and LMRL score
//! normalisation (`environments.md` §1.1, §10).

use anyhow::{anyhow, Result};
use turnwise_core::seed::{self, Split};
use turnwise_core::Group;
use turnwise_envs::demos::{self, DemoConfig};
use turnwise_envs::render::Style;
use turnwise_envs::{registry, Env};

use crate::config::Config;

/// The `[env.options]` table as registry overrides (`KEY`, `VALUE` strings).
pub fn option_pairs(cfg: &Config) -> Vec<(String, String)> {
    cfg.env
        .options
        .iter()
        .map(|(k, v)| {
            let v = match v {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// Builds `n` environments of the configuration, with `extra` option overrides.
pub fn make_envs(cfg: &Config, n: usize, extra: &[(String, String)]) -> Result<Vec<Box<dyn Env>>> {
    let mut opts = option_pairs(cfg);
    opts.extend_from_slice(extra);
    (0..n)
        .map(|_| registry::make(&cfg.env.name, &opts).map_err(|e| anyhow!("env.options: {e}")))
        .collect()
}

/// The render style of the trainer: the benchmark's faithful text.
pub const STYLE: Style = Style::Faithful;

/// Noisy expert demonstrations (`[sft]` episodes, noise) on training seeds.
pub fn demo_groups(cfg: &Config) -> Result<Vec<Group>> {
    let mut env = make_envs(cfg, 1, &[])?.pop().expect("one env");
    let mut rng = seed::rng(cfg.run.seed, 0x5f7);
    let dc = DemoConfig {
        noise: cfg.sft.noise,
        style: STYLE,
        max_turns: cfg.env.max_turns,
        // The budget the rollouts state: RAGEN's prompt says "Max response length: N".
        max_tokens: cfg.sampling.max_action_tokens,
    };
    Ok((0..cfg.sft.episodes as u64)
        .map(|i| {
            let s = seed::task_seed(cfg.run.seed, Split::Train, 1 << 40 | i);
            demos::group(&mut *env, &cfg.env.name, s, 1, &dc, &mut rng)
        })
        .collect())
}

/// Texts the tokenizer is built from: demonstrations, plus every action text and a few
/// first observations of the environment.
pub fn vocabulary_texts(cfg: &Config, demos: &[Group]) -> Result<Vec<String>> {
    let mut texts: Vec<String> = demos
        .iter()
        .flat_map(|g| g.trajectories.iter())
        .flat_map(|t| t.turns.iter())
        .flat_map(|u| [u.observation.text.clone(), u.action.text.clone()])
        .collect();
    let mut env = make_envs(cfg, 1, &[])?.pop().expect("one env");
    for i in 0..64 {
        let obs = env.reset(seed::task_seed(cfg.run.seed, Split::Train, 1 << 41 | i));
        texts.push(STYLE.observation(
            &*env,
            turnwise_envs::render::TurnCtx {
                turn: 1,
                max_tokens: cfg.sampling.max_action_tokens,
            },
            &obs.text,
            None,
        ));
        for a in env.action_space() {
            texts.push(STYLE.format_action(&*env, &a));
        }
    }
    texts.push("Success\nFailure\n".into());
    if cfg.curricula.slea {
        texts.push(crate::curricula::slea::VOCABULARY.into());
    }
    Ok(texts)
}

/// Evaluation tasks: per task, option overrides and a seed. LMRL mazes evaluate the 25
/// start cells (spec §1.1); other environments use `episodes` seeds of the eval split.
pub fn eval_tasks(name: &str, seed: u64, episodes: usize) -> Vec<(Vec<(String, String)>, u64)> {
    let starts = EVAL_STARTS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| f());
    match starts {
        Some(starts) => (0..episodes.max(1))
            .map(|i| {
                let (r, c) = starts[i % starts.len()];
                (
                    vec![("start".to_owned(), format!("{r},{c}"))],
                    seed::task_seed(seed, Split::Eval, i as u64),
                )
            })
            .collect(),
        None => (0..episodes.max(1) as u64)
            .map(|i| (vec![], seed::task_seed(seed, Split::Eval, i)))
            .collect(),
    }
}

/// The fixed evaluation start cells of an environment.
type StartCells = fn() -> Vec<(usize, usize)>;

/// Environments whose evaluation runs over fixed start cells.
const EVAL_STARTS: &[(&str, StartCells)] = &[
    ("lmrl/maze-fo", turnwise_envs::envs::maze::eval_starts),
    ("lmrl/maze-po", turnwise_envs::envs::maze::eval_starts),
];

#[cfg(test)]
mod tests {
    use super::*;
    use turnwise_envs::render::TurnCtx;

    /// The warm start's demonstrations show the prompt the rollouts show: RAGEN's
    /// observation states the response budget, and demonstrations that said "100 words"
    /// while the rollouts said `sampling.max_action_tokens` (40 in configs/sokoban.toml) left
    /// the SFT policy answering `<answer></answer>` on frozenlake (success 0.125 → 0.00).
    #[test]
    fn demonstrations_state_the_rollouts_token_budget() {
        let sets: Vec<String> = [
            "env.name=\"ragen/frozenlake\"",
            "sampling.max_action_tokens=40",
            "sft.episodes=3",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let cfg = crate::config::load(None, &sets).unwrap();
        let demos = demo_groups(&cfg).unwrap();
        let mut env = make_envs(&cfg, 1, &[]).unwrap().pop().unwrap();
        let traj: Vec<_> = demos.iter().flat_map(|g| &g.trajectories).collect();
        assert_eq!(traj.len(), 3);
        for t in traj {
            let seed = t.metadata["seed"].as_u64().unwrap();
            let obs = env.reset(seed);
            // What the rollout renders for its first turn (rollout/mod.rs).
            let ctx = TurnCtx {
                turn: 1,
                max_tokens: cfg.sampling.max_action_tokens,
            };
            let want = STYLE.observation(&*env, ctx, &obs.text, None);
            assert_eq!(t.turns[0].observation.text, want);
            for u in &t.turns {
                let text = &u.observation.text;
                assert!(text.contains("Max response length: 40 words"), "{text}");
            }
        }
    }
}
