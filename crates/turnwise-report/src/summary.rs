//! `summary.json`: per environment and method, the final score's mean with its 95%
//! bootstrap interval and per-seed values, the area under the learning curve, steps and
//! seconds to a target score, and a paired test against the baseline method.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::curve::{self, Point};
use crate::run::Metric;
use crate::source::Entry;
use crate::stats::{self, Interval};

/// Confidence level of every interval.
pub const LEVEL: f64 = 0.95;

/// How the statistics are computed (written into `summary.json`).
pub const METHOD_NOTE: &str = "mean over seeds with a 95% percentile bootstrap interval \
(exact: every distinct resample of the seeds, up to 10 seeds); vs baseline: per-seed \
differences (same seed, same environment), their mean with its paired bootstrap interval, \
the exact two-sided sign-flip permutation test (smallest possible p = 2/2^n: 0.0625 with \
5 seeds) and the paired t-test; AUC: trapezoid area under the evaluation curve divided by \
its step range (mean score over training)";

/// A statistic over seeds.
#[derive(Debug, Clone, Serialize)]
pub struct OverSeeds {
    /// Mean over the seeds that have a value.
    pub mean: Option<f64>,
    /// Its 95% bootstrap interval.
    pub ci: Option<Interval>,
    /// Sample standard deviation.
    pub std: Option<f64>,
    /// Per-seed values (seed order as in `seeds`; null where missing).
    pub per_seed: Vec<Option<f64>>,
}

impl OverSeeds {
    fn new(values: Vec<Option<f64>>, seed: u64) -> OverSeeds {
        let xs: Vec<f64> = values.iter().flatten().copied().collect();
        OverSeeds {
            mean: (!xs.is_empty()).then(|| stats::mean(&xs)),
            ci: stats::bootstrap_ci(&xs, LEVEL, seed),
            std: (xs.len() > 1).then(|| stats::std_dev(&xs)),
            per_seed: values,
        }
    }
}

/// Steps and seconds to the target.
#[derive(Debug, Clone, Serialize)]
pub struct ToTarget {
    /// The target score.
    pub target: f64,
    /// Seeds that reached it at some evaluation.
    pub reached: usize,
    /// Per seed: the RL step of the first evaluation at or above the target.
    pub steps: Vec<Option<u64>>,
    /// Per seed: the job's wall-clock seconds at that evaluation (SFT included).
    pub seconds: Vec<Option<f64>>,
    /// Mean steps over the seeds that reached it.
    pub mean_steps: Option<f64>,
    /// Mean seconds over the seeds that reached it.
    pub mean_seconds: Option<f64>,
}

/// A method against the baseline, paired by seed.
#[derive(Debug, Clone, Serialize)]
pub struct VsBaseline {
    /// The baseline method.
    pub baseline: String,
    /// Seeds both have a final score for.
    pub pairs: usize,
    /// Mean of (method − baseline) over those seeds.
    pub mean_diff: Option<f64>,
    /// Its 95% paired bootstrap interval.
    pub ci_diff: Option<Interval>,
    /// Exact two-sided sign-flip permutation p-value.
    pub p_permutation: Option<f64>,
    /// The smallest p-value the permutation test can give with this many pairs.
    pub p_min: f64,
    /// Two-sided paired t-test p-value.
    pub p_t: Option<f64>,
}

/// One method on one environment.
#[derive(Debug, Clone, Serialize)]
pub struct GroupSummary {
    /// Environment.
    pub env: String,
    /// Method label.
    pub method: String,
    /// The metric of every score below.
    pub metric: Metric,
    /// Seeds, in order.
    pub seeds: Vec<u64>,
    /// Per seed: "finished", "failed: …" or "incomplete".
    pub status: Vec<String>,
    /// Final score (a failed or incomplete run: its last evaluation).
    pub final_score: OverSeeds,
    /// Final success rate (0–1).
    pub final_success: OverSeeds,
    /// Warm-start score (step 0).
    pub warm_start: OverSeeds,
    /// Normalised area under the evaluation curve.
    pub auc: OverSeeds,
    /// Wall-clock seconds of the whole job.
    pub wall_s: OverSeeds,
    /// Steps and seconds to the target.
    pub to_target: ToTarget,
    /// Against the baseline (absent for the baseline itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vs_baseline: Option<VsBaseline>,
}

impl GroupSummary {
    /// Per seed: the final score and whether the run finished normally.
    pub fn seed_scores(&self) -> impl Iterator<Item = (Option<f64>, bool)> + '_ {
        self.final_score
            .per_seed
            .iter()
            .zip(&self.status)
            .map(|(v, st)| (*v, st == "finished"))
    }
}

/// The whole summary.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Confidence level of the intervals.
    pub level: f64,
    /// How the statistics are computed.
    pub method: &'static str,
    /// The baseline method.
    pub baseline: Option<String>,
    /// One entry per environment and method.
    pub groups: Vec<GroupSummary>,
}

/// Groups `entries` by environment and label, in first-seen order.
pub fn group(entries: &[Entry]) -> Vec<((String, String), Vec<&Entry>)> {
    let mut order: Vec<(String, String)> = Vec::new();
    let mut map: BTreeMap<(String, String), Vec<&Entry>> = BTreeMap::new();
    for e in entries {
        let k = (e.run.env.clone(), e.label.clone());
        if !map.contains_key(&k) {
            order.push(k.clone());
        }
        map.entry(k).or_default().push(e);
    }
    order
        .into_iter()
        .map(|k| {
            let mut v = map.remove(&k).unwrap_or_default();
            v.sort_by_key(|e| e.run.seed);
            (k, v)
        })
        .collect()
}

fn status(e: &Entry) -> String {
    match (&e.failed, e.run.finished()) {
        (Some(why), _) => format!("failed: {why}"),
        (None, true) => "finished".into(),
        (None, false) => "incomplete".into(),
    }
}

/// Summarises `entries` against `baseline`; `target` overrides each metric's default.
pub fn summarise(entries: &[Entry], baseline: Option<&str>, target: Option<f64>) -> Summary {
    let groups = group(entries);
    let finals: BTreeMap<(String, String), BTreeMap<u64, f64>> = groups
        .iter()
        .map(|(k, es)| {
            let m = es
                .iter()
                .filter_map(|e| e.run.last_score().map(|s| (e.run.seed, s)))
                .collect();
            (k.clone(), m)
        })
        .collect();
    let mut out = Vec::new();
    for ((env, label), es) in &groups {
        let metric = es[0].run.metric;
        let target = target.unwrap_or(metric.default_target());
        let h = hash(env, label);
        let curves: Vec<&[Point]> = es.iter().map(|e| e.run.evals.as_slice()).collect();
        let hits: Vec<Option<Point>> = curves
            .iter()
            .map(|c| curve::first_reaching(c, target))
            .collect();
        let reached: Vec<Point> = hits.iter().flatten().copied().collect();
        let vs_baseline = baseline.filter(|b| b != label).and_then(|b| {
            let base = finals.get(&(env.clone(), b.to_owned()))?;
            let mine = &finals[&(env.clone(), label.clone())];
            let d: Vec<f64> = mine
                .iter()
                .filter_map(|(s, x)| base.get(s).map(|y| x - y))
                .collect();
            Some(VsBaseline {
                baseline: b.to_owned(),
                pairs: d.len(),
                mean_diff: (!d.is_empty()).then(|| stats::mean(&d)),
                ci_diff: stats::bootstrap_ci(&d, LEVEL, h ^ 1),
                p_permutation: stats::sign_flip_p(&d, h ^ 2),
                p_min: stats::sign_flip_min_p(d.len()),
                p_t: stats::paired_t_p(&d),
            })
        });
        out.push(GroupSummary {
            env: env.clone(),
            method: label.clone(),
            metric,
            seeds: es.iter().map(|e| e.run.seed).collect(),
            status: es.iter().map(|e| status(e)).collect(),
            final_score: OverSeeds::new(es.iter().map(|e| e.run.last_score()).collect(), h),
            final_success: OverSeeds::new(
                es.iter()
                    .map(|e| e.run.eval_success.last().copied())
                    .collect(),
                h ^ 3,
            ),
            warm_start: OverSeeds::new(
                es.iter()
                    .map(|e| e.run.evals.first().filter(|p| p.step == 0).map(|p| p.score))
                    .collect(),
                h ^ 4,
            ),
            auc: OverSeeds::new(curves.iter().map(|c| curve::auc(c)).collect(), h ^ 5),
            wall_s: OverSeeds::new(
                es.iter()
                    .map(|e| e.run.evals.last().map(|p| p.seconds))
                    .collect(),
                h ^ 6,
            ),
            to_target: ToTarget {
                target,
                reached: reached.len(),
                steps: hits.iter().map(|p| p.map(|p| p.step)).collect(),
                seconds: hits.iter().map(|p| p.map(|p| p.seconds)).collect(),
                mean_steps: (!reached.is_empty()).then(|| {
                    stats::mean(&reached.iter().map(|p| p.step as f64).collect::<Vec<_>>())
                }),
                mean_seconds: (!reached.is_empty())
                    .then(|| stats::mean(&reached.iter().map(|p| p.seconds).collect::<Vec<_>>())),
            },
            vs_baseline,
        });
    }
    Summary {
        level: LEVEL,
        method: METHOD_NOTE,
        baseline: baseline.map(str::to_owned),
        groups: out,
    }
}

/// A stable seed for the Monte Carlo fallbacks of one group (FNV-1a).
fn hash(env: &str, label: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in env.bytes().chain([0]).chain(label.bytes()) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
pub(crate) mod tests;
