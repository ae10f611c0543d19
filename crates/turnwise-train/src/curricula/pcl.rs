//! Prompt Curriculum Learning (Gao et al. 2025, PCL): a value model predicts each candidate
//! task's expected reward under the current policy (its pass rate for 0/1 rewards); the
//! step trains on the tasks whose prediction is closest to a target τ (0.5: the tasks of
//! intermediate difficulty, where a group's reward variance p(1−p) and so the GRPO signal
//! is largest). The value model is fitted to the observed pass rates of the tasks played.
//!
//! The value model is a critic network ([`ValueNet`], built from `[critic]`: its own small
//! transformer or a head on the policy) with one output read at the last token of the
//! task's first context. Each step draws a pool of `curricula.pcl_pool × env.tasks_per_step`
//! candidate tasks (the step's regular tasks first), predicts their pass rates, plays the
//! `tasks_per_step` nearest `curricula.pcl_target`, and fits the model to the pass rates
//! observed in the groups played (squared loss).

use anyhow::Result;
use turnwise_core::seed::{self, Split};
use turnwise_core::Group;

use crate::config::Config;
use crate::policy::Policy;
use crate::rollout::{context_of, first_observation, HistorySpec, RolloutSpec};
use crate::train::critic::net::{Fit, Samples, ValueNet};
use crate::train::envs::make_envs;

/// PCL's value model and what it predicted for the tasks of the current step.
pub struct Pcl {
    net: ValueNet,
    /// Predicted pass rate of each task seed chosen this step.
    chosen: Vec<(u64, f64)>,
    /// The pool's predictions and the chosen indices (the step's report).
    pool: Vec<f64>,
    picked: Vec<usize>,
}

/// The seed of candidate `j` of step `step`'s pool: the step's `n` regular task seeds
/// (`j < n`), then a stream of train seeds disjoint from the regular and refill ones.
pub fn candidate_seed(run_seed: u64, step: u64, j: usize, n: usize, pool: usize) -> u64 {
    if j < n {
        return seed::task_seed(run_seed, Split::Train, step * n as u64 + j as u64);
    }
    let index = (1u64 << 61) | (step * (n * pool) as u64 + j as u64);
    seed::task_seed(run_seed, Split::Train, index)
}

/// A played task: its seed, its first context and the pass rate of its group.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// The task seed.
    pub seed: u64,
    /// The first turn's context ids.
    pub context: Vec<u32>,
    /// The fraction of the group's episodes that succeeded.
    pub rate: f64,
}

/// Step `step`'s pool of `n × per_slot` candidate task seeds ([`candidate_seed`]).
pub fn pool_seeds(run_seed: u64, step: u64, n: usize, per_slot: usize) -> Vec<u64> {
    (0..n * per_slot)
        .map(|j| candidate_seed(run_seed, step, j, n, per_slot))
        .collect()
}

/// The first context of each task in `seeds`: `<bos>` and the first observation's ids,
/// exactly what an episode's first turn sees.
pub fn first_contexts(
    cfg: &Config,
    policy: &Policy,
    spec: &RolloutSpec,
    seeds: &[u64],
) -> Result<Vec<Vec<u32>>> {
    let mut env = make_envs(cfg, 1, &[])?.remove(0);
    seeds
        .iter()
        .map(|&s| {
            let (first, _) = first_observation(&mut *env, s, spec, &policy.tokenizer)?;
            let mut ids: Vec<u32> = spec.history.bos.into_iter().collect();
            ids.extend(first.token_ids);
            Ok(ids)
        })
        .collect()
}

impl Observed {
    /// What group `g` tells the value model (`None` for a group without turns or seed).
    pub fn of(g: &Group, h: HistorySpec) -> Option<Observed> {
        let t = g.trajectories.first().filter(|t| !t.turns.is_empty())?;
        Some(Observed {
            seed: g.seed?,
            context: context_of(t, 0, h),
            rate: pass_rate(g),
        })
    }
}

impl Pcl {
    /// A fresh value model (predicting 0 everywhere: the first step plays the regular tasks).
    pub fn new(cfg: &Config, policy: &Policy) -> Result<Pcl> {
        Ok(Pcl {
            net: ValueNet::new(cfg, policy, 1, false)?,
            chosen: vec![],
            pool: vec![],
            picked: vec![],
        })
    }

    /// Predicted pass rates of the tasks whose first contexts are `contexts`.
    pub fn predict(
        &self,
        cfg: &Config,
        policy: &Policy,
        contexts: &[Vec<u32>],
    ) -> Result<Vec<f64>> {
        let at: Vec<usize> = contexts.iter().map(|c| c.len().saturating_sub(1)).collect();
        let v = self
            .net
            .predict(policy, contexts, &at, false, cfg.optim.micro_batch)?;
        Ok(v.into_iter().map(|r| r[0]).collect())
    }

    /// Chooses `n` of step `step`'s candidate tasks: the predictions nearest
    /// `curricula.pcl_target`, in pool order.
    pub fn choose(
        &mut self,
        cfg: &Config,
        policy: &Policy,
        spec: &RolloutSpec,
        step: u64,
        n: usize,
    ) -> Result<Vec<u64>> {
        let seeds = pool_seeds(cfg.run.seed, step, n, cfg.curricula.pcl_pool);
        let contexts = first_contexts(cfg, policy, spec, &seeds)?;
        let pred = self.predict(cfg, policy, &contexts)?;
        let picked = select(&pred, n, cfg.curricula.pcl_target);
        self.chosen = picked.iter().map(|&i| (seeds[i], pred[i])).collect();
        self.pool = pred;
        self.picked = picked;
        Ok(self.chosen.iter().map(|c| c.0).collect())
    }

    /// Fits the value model to the pass rates of the fresh tasks played this step (every
    /// round's groups, those dynamic sampling dropped included; not ExIt's restarts) and
    /// returns the report of the tasks PCL chose.
    pub fn learn(
        &mut self,
        cfg: &Config,
        policy: &Policy,
        played: &[Observed],
    ) -> Result<Calibration> {
        let mut s = Samples::default();
        for o in played {
            let at = o.context.len().saturating_sub(1);
            s.push(o.context.clone(), at, 0, o.rate, 0.0);
        }
        let observed: Vec<f64> = self
            .chosen
            .iter()
            .map(|(seed, _)| {
                played
                    .iter()
                    .find(|o| o.seed == *seed)
                    .map_or(f64::NAN, |o| o.rate)
            })
            .collect();
        let report = calibration(
            &self.pool,
            &self.picked,
            &observed,
            cfg.curricula.pcl_target,
        );
        if !s.seqs.is_empty() {
            let fit = Fit {
                clip: None,
                epochs: cfg.critic.epochs,
                lr: cfg.critic.lr,
                grad_clip: cfg.optim.grad_clip,
                micro: cfg.optim.micro_batch,
            };
            self.net.fit(policy, &s, &fit)?;
        }
        Ok(report)
    }
}

/// The indices of the `n` candidates whose predicted pass rate is closest to `target`
/// (ties: the earlier candidate), in candidate order.
pub fn select(pred: &[f64], n: usize, target: f64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..pred.len()).collect();
    idx.sort_by(|&a, &b| {
        let da = (pred[a] - target).abs();
        let db = (pred[b] - target).abs();
        da.total_cmp(&db).then(a.cmp(&b))
    });
    idx.truncate(n);
    idx.sort_unstable();
    idx
}

/// The fraction of `g`'s members that succeeded (0 for an empty group).
pub fn pass_rate(g: &Group) -> f64 {
    let n = g.trajectories.len();
    if n == 0 {
        return 0.0;
    }
    let ok = g
        .trajectories
        .iter()
        .filter(|t| t.success == Some(true))
        .count();
    ok as f64 / n as f64
}

/// Predicted against observed pass rates of one step's tasks (`pcl_*` in `metrics.jsonl`).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Calibration {
    /// Mean predicted pass rate of the selected tasks.
    #[serde(rename = "pcl_predicted")]
    pub predicted: f64,
    /// Mean observed pass rate of the selected tasks.
    #[serde(rename = "pcl_observed")]
    pub observed: f64,
    /// Mean |predicted − observed| over the tasks.
    #[serde(rename = "pcl_abs_error")]
    pub abs_error: f64,
    /// Mean |predicted − τ| of the selected tasks.
    #[serde(rename = "pcl_distance")]
    pub distance: f64,
    /// Mean |predicted − τ| over all candidates (what uniform sampling would give).
    #[serde(rename = "pcl_pool_distance")]
    pub pool_distance: f64,
}

/// The report of one PCL step: `pred` over the whole candidate pool, `chosen` the selected
/// indices, `observed` their pass rates (in `chosen` order).
pub fn calibration(pred: &[f64], chosen: &[usize], observed: &[f64], target: f64) -> Calibration {
    let n = chosen.len().max(1) as f64;
    let mean = |it: &mut dyn Iterator<Item = f64>, d: f64| it.sum::<f64>() / d;
    Calibration {
        predicted: mean(&mut chosen.iter().map(|&i| pred[i]), n),
        observed: mean(&mut observed.iter().copied(), n),
        abs_error: mean(
            &mut chosen
                .iter()
                .zip(observed)
                .map(|(&i, o)| (pred[i] - o).abs()),
            n,
        ),
        distance: mean(&mut chosen.iter().map(|&i| (pred[i] - target).abs()), n),
        pool_distance: mean(
            &mut pred.iter().map(|p| (p - target).abs()),
            pred.len().max(1) as f64,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use turnwise_core::Trajectory;

    #[test]
    fn selects_the_predictions_nearest_the_target() {
        let pred = [0.9, 0.45, 0.1, 0.55, 0.5, 0.0, 0.7];
        assert_eq!(select(&pred, 3, 0.5), vec![1, 3, 4]);
        assert_eq!(select(&pred, 1, 0.0), vec![5]);
        assert_eq!(select(&pred, 10, 0.5).len(), 7);
        // ties keep the earlier candidate
        assert_eq!(select(&[0.4, 0.6, 0.4], 1, 0.5), vec![0]);
    }

    #[test]
    fn selected_tasks_are_nearer_the_target_than_uniform_sampling() {
        // a pool of predictions spread over [0, 1]
        let mut x = 12345u64;
        let pred: Vec<f64> = (0..256)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect();
        let chosen = select(&pred, 32, 0.5);
        let obs = vec![0.5; 32];
        let c = calibration(&pred, &chosen, &obs, 0.5);
        // keeping the nearest eighth of uniform predictions: mean distance ≈ 1/32 against
        // the pool's ≈ 1/4
        assert!(c.distance < 0.2 * c.pool_distance, "{c:?}");
        assert!(chosen.iter().all(|&i| (pred[i] - 0.5).abs() <= 0.07));
    }

    #[test]
    fn candidate_pools_start_with_the_regular_tasks() {
        let pool: Vec<u64> = (0..12).map(|j| candidate_seed(5, 2, j, 3, 4)).collect();
        let regular: Vec<u64> = (0..3)
            .map(|i| seed::task_seed(5, Split::Train, 2 * 3 + i))
            .collect();
        assert_eq!(pool[..3], regular[..]);
        let mut all: Vec<u64> = (0..40)
            .flat_map(|step| (0..12).map(move |j| candidate_seed(5, step, j, 3, 4)))
            .collect();
        let regular_all: Vec<u64> = (0..120)
            .map(|i| seed::task_seed(5, Split::Train, i))
            .collect();
        // extra candidates never replay a regular task, and never repeat
        assert!(all
            .iter()
            .enumerate()
            .filter(|(k, _)| k % 12 >= 3)
            .all(|(_, s)| !regular_all.contains(s)));
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 40 * 12);
    }

    #[test]
    fn the_value_model_learns_pass_rates_and_picks_the_middle() {
        let mut cfg = Config::default();
        cfg.critic.epochs = 150;
        cfg.critic.lr = 1e-2;
        (
            cfg.critic.d_model,
            cfg.critic.layers,
            cfg.critic.heads,
            cfg.critic.d_ff,
        ) = (16, 1, 2, 24);
        let policy = crate::curricula::tiny_policy("a b c d e f g h", 1);
        let task = |seed: u64, words: &str, rate: f64| Observed {
            seed,
            context: policy.tokenizer.encode(words).unwrap(),
            rate,
        };
        let played = [
            task(1, "a b c", 0.0),
            task(2, "d e", 1.0),
            task(3, "f g h", 0.5),
            task(4, "h a", 0.25),
        ];
        let mut pcl = Pcl::new(&cfg, &policy).unwrap();
        let contexts: Vec<Vec<u32>> = played.iter().map(|o| o.context.clone()).collect();
        // untrained: every prediction 0
        let before = pcl.predict(&cfg, &policy, &contexts).unwrap();
        assert!(before.iter().all(|&p| p == 0.0), "{before:?}");
        pcl.learn(&cfg, &policy, &played).unwrap();
        let pred = pcl.predict(&cfg, &policy, &contexts).unwrap();
        for (p, o) in pred.iter().zip(&played) {
            assert!((p - o.rate).abs() < 0.1, "{pred:?}");
        }
        assert_eq!(select(&pred, 1, 0.5), vec![2]);
        assert_eq!(select(&pred, 2, 0.5), vec![2, 3]);
    }

    #[test]
    fn pass_rate_and_calibration() {
        let g = Group {
            trajectories: [true, false, true, true]
                .iter()
                .map(|&s| Trajectory {
                    success: Some(s),
                    ..Trajectory::default()
                })
                .collect(),
            ..Group::default()
        };
        assert_eq!(pass_rate(&g), 0.75);
        assert_eq!(pass_rate(&Group::default()), 0.0);
        let c = calibration(&[0.2, 0.6, 0.5], &[1, 2], &[1.0, 0.5], 0.5);
        assert!((c.predicted - 0.55).abs() < 1e-12);
        assert!((c.observed - 0.75).abs() < 1e-12);
        assert!((c.abs_error - 0.2).abs() < 1e-12);
        assert!((c.distance - 0.05).abs() < 1e-12);
        assert!((c.pool_distance - (0.3 + 0.1 + 0.0) / 3.0).abs() < 1e-12);
    }
}
