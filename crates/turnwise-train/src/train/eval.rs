//! Evaluation (`turnwise eval`): success rate, mean return, mean turns, and the LMRL
//! normalised score where LMRL defines one (`environments.md` §1; maze: over the 25
//! evaluation start cells).

use anyhow::Result;
use serde::Serialize;
use turnwise_core::seed;

use super::envs::{eval_tasks, make_envs, STYLE};
use crate::config::Config;
use crate::policy::generate::SampleSpec;
use crate::policy::Policy;
use crate::policy::PolicyTokenizer;
use crate::rollout::{collect, Format, HistorySpec, RolloutSpec, RolloutStats};

/// The result of an evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Environment name.
    pub env: String,
    /// Episodes played.
    pub episodes: usize,
    /// Fraction of episodes that solved the task.
    pub success_rate: f64,
    /// Mean episode return (sum of rewards).
    pub mean_return: f64,
    /// Mean number of turns.
    pub mean_turns: f64,
    /// LMRL normalised score of the mean return (None where LMRL defines none).
    pub normalised_score: Option<f64>,
    /// Generated tokens per second of generation time.
    pub tokens_per_s: f64,
    /// Environment steps per second of stepping time.
    pub env_steps_per_s: f64,
}

/// The rollout settings of the configuration (training: `env.max_turns`).
pub fn rollout_spec(
    cfg: &Config,
    policy: &Policy,
    stop: Option<&'static str>,
    max_turns: usize,
    greedy: bool,
) -> RolloutSpec {
    let stop_id = stop.and_then(|s| policy.tokenizer.id(s));
    let format = cfg.env.format;
    RolloutSpec {
        max_turns,
        max_context: cfg.model.max_context as usize,
        history: HistorySpec {
            mode: cfg.env.history,
            k: cfg.env.history_k,
            // A chat template writes its own beginning (Llama 3's `<|begin_of_text|>`).
            bos: match format {
                Format::Text => policy.tokenizer.bos(),
                Format::Chat => None,
            },
        },
        sample: SampleSpec {
            max_new: cfg.sampling.max_action_tokens,
            stop: stop_id,
            eos: policy.tokenizer.eos(),
            // A BPE vocabulary can merge the stop string into a longer token (".\n"), so
            // Hugging Face tokenizers also match it on the decoded action.
            stop_text: match (&policy.tokenizer, stop_id) {
                (PolicyTokenizer::Hf(_), _) | (_, None) => stop,
                _ => None,
            },
            temperature: cfg.sampling.temperature,
            greedy,
        },
        style: STYLE,
        format,
    }
}

/// Evaluates `policy` on `env` (default: the configuration's) for `episodes` episodes.
pub fn evaluate(
    policy: &Policy,
    cfg: &Config,
    env: Option<&str>,
    episodes: usize,
) -> Result<EvalReport> {
    let mut cfg = cfg.clone();
    if let Some(e) = env {
        cfg.env.name = e.to_owned();
        cfg.env.options = toml::Table::new();
    }
    let tasks = eval_tasks(&cfg.env.name, cfg.run.seed, episodes);
    let mut envs = Vec::with_capacity(tasks.len());
    for (opts, _) in &tasks {
        envs.extend(make_envs(&cfg, 1, opts)?);
    }
    let seeds: Vec<u64> = tasks.iter().map(|(_, s)| *s).collect();
    let stop = STYLE.end_of_action(&*envs[0]);
    let spec = rollout_spec(&cfg, policy, stop, cfg.eval.max_turns, cfg.eval.greedy);
    let mut rng = seed::rng(cfg.run.seed, 0xe7a1);
    let (groups, stats) = collect(policy, envs, &seeds, &cfg.env.name, &spec, &mut rng)?;
    Ok(report(&cfg.env.name, &groups, &stats))
}

/// Summarises played groups.
pub fn report(env: &str, groups: &[turnwise_core::Group], stats: &RolloutStats) -> EvalReport {
    let trajs: Vec<_> = groups.iter().flat_map(|g| g.trajectories.iter()).collect();
    let n = trajs.len().max(1) as f64;
    let mean_return = trajs.iter().map(|t| t.total_reward()).sum::<f64>() / n;
    let success = trajs.iter().filter(|t| t.success == Some(true)).count() as f64 / n;
    EvalReport {
        env: env.to_owned(),
        episodes: trajs.len(),
        success_rate: success,
        mean_return,
        mean_turns: trajs.iter().map(|t| t.turns.len()).sum::<usize>() as f64 / n,
        normalised_score: turnwise_envs::score::for_env(env).map(|s| s.score(mean_return)),
        tokens_per_s: stats.tokens as f64 / stats.gen_s.max(1e-9),
        env_steps_per_s: stats.env_steps as f64 / stats.env_s.max(1e-9),
    }
}
