//! SIOP — Self-Induced Outcome Potential (Hu et al., arXiv 2605.04984), `credit-turn.md` §3.
//! Exact port of `dl-m9/SIOP` (`siop_process_reward.py`,
//! `core_algos.py: compute_siop_turn_level_advantage`).
//!
//! Outcome modes `c` (clusters of the group's final answers) get a reliability weight
//! `q(c) = softmax_c(log m(c) + η r̄(c))` (`m(c)` = frequency, `r̄(c)` = mean evidence); the
//! turn reward is the potential difference `r_t = q·[log(p̂(t)+1e−8) − log(p̂(t−1)+1e−8)]`
//! with `p̂ = Σ_α α exp(ℓ_α)`, plus `(1−λ)q` on the final turn; rewards are z-normalised over
//! all turns of the group (unbiased std) and accumulated backwards with γ.

use turnwise_core::{Batch, Group, Trajectory};

use crate::error::CreditError;
use crate::estimator::{Estimator, MethodInfo, OutputKind, Status};
use crate::output::{CreditOutput, Extra, TurnValues};
use crate::params::{Default as D, ParamKind, ParamSpec, Params};
use crate::stats::{mean, std_unbiased, EPS};
use crate::turn::cluster::{self, Clusterer};
use crate::turn::prefetch;

/// SIOP's parameters (names as in the reference `siop`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SiopParams {
    /// λ: the terminal bonus is `(1−λ)·q`.
    pub lam: f64,
    /// η: evidence tilt of `q` (0: frequency only).
    pub eta: f64,
    /// ε inside the logarithm of the potential.
    pub eps_log: f64,
    /// γ of the backward accumulation.
    pub gamma: f64,
    /// ε added to the std.
    pub eps: f64,
    /// Divide by the std (otherwise only centre).
    pub norm_by_std: bool,
}

/// Result of [`siop_advantages`].
#[derive(Debug, Clone, PartialEq)]
pub struct SiopOutput {
    /// `A_t`, per turn.
    pub advantages: TurnValues,
    /// `r_t`, per turn.
    pub turn_rewards: TurnValues,
    /// `q(c_i)`, per trajectory.
    pub q: Vec<f64>,
}

/// How a mode is identified: by a given `answer_cluster` id (held by the trajectory, index
/// in the group, that opened the mode) or by a clusterer's label of raw answers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ModeKey {
    Given { head: usize },
    Raw(u32),
}

/// One outcome mode of a group while computing `q`.
#[derive(Debug, Clone, Copy)]
struct Mode {
    key: ModeKey,
    count: usize,
    ev_sum: f64,
    ev_n: usize,
    weight: f64,
}

/// The raw final answer of a trajectory without `answer_cluster`: its last turn's `answer`.
fn raw_answer(t: &Trajectory) -> Option<&str> {
    if t.ext().answer_cluster.is_some() {
        return None;
    }
    t.turns.last().and_then(|u| u.ext().answer.as_deref())
}

/// The mode index of every trajectory of `g` (`None`: no answer). Given `answer_cluster`
/// ids are used as they are; otherwise the final turn's `answer` is clustered by `clus`.
fn assign_modes(
    g: &Group,
    clus: &dyn Clusterer,
    modes: &mut Vec<Mode>,
    label: &mut Vec<Option<usize>>,
) {
    modes.clear();
    label.clear();
    let any_raw = g.trajectories.iter().any(|t| raw_answer(t).is_some());
    let mut raw_labels: Vec<Option<u32>> = Vec::new();
    if any_raw {
        let answers: Vec<Option<&str>> = g.trajectories.iter().map(raw_answer).collect();
        raw_labels.resize(answers.len(), None);
        clus.cluster(g, &answers, &mut raw_labels);
    }
    for (i, t) in g.trajectories.iter().enumerate() {
        let given = t.ext().answer_cluster.as_deref();
        let raw = raw_labels.get(i).copied().flatten();
        if given.is_none() && raw.is_none() {
            label.push(None);
            continue;
        }
        let found = modes.iter().position(|m| match (given, m.key) {
            (Some(c), ModeKey::Given { head }) => {
                g.trajectories[head].ext().answer_cluster.as_deref() == Some(c)
            }
            (None, ModeKey::Raw(r)) => raw == Some(r),
            _ => false,
        });
        let k = found.unwrap_or_else(|| {
            modes.push(Mode {
                key: match raw {
                    Some(r) if given.is_none() => ModeKey::Raw(r),
                    _ => ModeKey::Given { head: i },
                },
                count: 0,
                ev_sum: 0.0,
                ev_n: 0,
                weight: 0.0,
            });
            modes.len() - 1
        });
        let m = &mut modes[k];
        m.count += 1;
        if let Some(e) = t.ext().evidence {
            m.ev_sum += e;
            m.ev_n += 1;
        }
        label.push(Some(k));
    }
}

/// Fills `weight` of every mode with `q(c)` (§3 "Formulas").
fn mode_weights(modes: &mut [Mode], eta: f64) {
    let k_valid: usize = modes.iter().map(|m| m.count).sum();
    let kf = k_valid as f64;
    for m in modes.iter_mut() {
        m.weight = m.count as f64 / kf;
    }
    if k_valid < 2 || eta <= 0.0 || modes.len() < 2 {
        return;
    }
    let mut mx = f64::NEG_INFINITY;
    for m in modes.iter_mut() {
        let rbar = if m.ev_n > 0 {
            m.ev_sum / m.ev_n as f64
        } else {
            0.0
        };
        m.weight = (m.count as f64 / kf + 1e-12).ln() + eta * rbar;
        mx = mx.max(m.weight);
    }
    let mut z = 0.0;
    for m in modes.iter() {
        z += (m.weight - mx).exp();
    }
    for m in modes.iter_mut() {
        m.weight = (m.weight - mx).exp() / z;
    }
}

/// `log(p̂ + ε_log)` of one slot, `p̂ = Σ_α α exp(ℓ_α)` over the finite values with
/// `α = 1/#refs` (reference `phat`); `None` when nothing finite is there.
#[inline]
fn log_potential(v: Option<&Vec<f64>>, eps_log: f64) -> Option<f64> {
    let v = v?;
    let alpha = 1.0 / v.len() as f64;
    let mut s = 0.0;
    let mut any = false;
    for &x in v {
        if x.is_finite() {
            s += alpha * x.exp();
            any = true;
        }
    }
    any.then(|| (s + eps_log).ln())
}

/// SIOP advantages (§3), clustering raw answers with `clus` where no `answer_cluster` is
/// given. A missing log-prob makes both differences that touch it 0 (code behaviour).
pub fn siop_advantages(
    batch: &Batch,
    p: &SiopParams,
    clus: &dyn Clusterer,
) -> Result<SiopOutput, CreditError> {
    let mut rew = TurnValues::zeros(batch);
    let mut adv = TurnValues::zeros_like(&rew);
    let mut q_out = Vec::with_capacity(batch.num_trajectories());
    let mut modes = Vec::new();
    let mut label = Vec::new();
    let (mut needed, mut usable) = (0usize, 0usize);
    let mut ahead = prefetch::Lookahead::new(&batch.groups, prefetch::GOLD_LOGPROB);
    let mut ti = 0;
    for (gi, g) in batch.groups.iter().enumerate() {
        prefetch::group_exts(batch.groups.get(gi + 1));
        let first = ti;
        assign_modes(g, clus, &mut modes, &mut label);
        mode_weights(&mut modes, p.eta);
        for (k, traj) in g.trajectories.iter().enumerate() {
            ahead.step();
            let q = label[k].map_or(0.0, |m| modes[m].weight);
            q_out.push(q);
            let r = rew.traj_mut(first + k);
            let t_len = r.len();
            if q == 0.0 || t_len == 0 {
                continue;
            }
            if t_len == 1 {
                r[0] = (1.0 - p.lam) * q;
                continue;
            }
            needed += 1;
            let mut prev = log_potential(traj.ext().gold_logprob_initial.as_ref(), p.eps_log);
            let mut any = prev.is_some();
            for (slot, turn) in r.iter_mut().zip(&traj.turns) {
                let cur = log_potential(turn.ext().gold_logprob.as_ref(), p.eps_log);
                any |= cur.is_some();
                *slot = match (prev, cur) {
                    (Some(a), Some(b)) => q * (b - a),
                    _ => 0.0,
                };
                prev = cur;
            }
            usable += usize::from(any);
            r[t_len - 1] += (1.0 - p.lam) * q;
        }
        ti += g.trajectories.len();
        let lo = rew.offsets[first];
        let hi = rew.offsets[ti];
        let pool = &rew.values[lo..hi];
        if pool.len() <= 1 {
            continue; // advantages stay 0
        }
        let mu = mean(pool);
        let mut sd = std_unbiased(pool);
        if sd < p.eps {
            sd = 1.0;
        }
        let inv = if p.norm_by_std {
            1.0 / (sd + p.eps)
        } else {
            1.0
        };
        for i in first..ti {
            let r = rew.traj(i);
            let a = adv.traj_mut(i);
            let mut acc = 0.0;
            for t in (0..r.len()).rev() {
                acc = (r[t] - mu) * inv + p.gamma * acc;
                a[t] = acc;
            }
        }
    }
    if needed > 0 && usable == 0 {
        // No multi-turn answered trajectory carries any log-prob: the scores were never
        // computed (a missing value here and there only zeroes its differences).
        let needing = || batch.trajectories().filter(|t| t.turns.len() > 1);
        let absent = needing().all(|t| {
            t.ext().gold_logprob_initial.is_none()
                && t.turns.iter().all(|u| u.ext().gold_logprob.is_none())
        });
        if let Some(t) = needing().next().filter(|_| absent) {
            return Err(CreditError::missing_turn("siop", "gold_logprob", &t.id, 0));
        }
    }
    Ok(SiopOutput {
        advantages: adv,
        turn_rewards: rew,
        q: q_out,
    })
}

static PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "lam",
        kind: ParamKind::Float,
        default: D::Float(0.5),
        doc: "λ: terminal reliability bonus (1−λ)·q (train_siop.sh: 0.5)",
    },
    ParamSpec {
        name: "eta",
        kind: ParamKind::Float,
        default: D::Float(1.0),
        doc: "η: evidence tilt of q(c) (train_siop.sh: 1.0; code default 0.0)",
    },
    ParamSpec {
        name: "eps_log",
        kind: ParamKind::Float,
        default: D::Float(1e-8),
        doc: "ε inside log p̂",
    },
    ParamSpec {
        name: "gamma",
        kind: ParamKind::Float,
        default: D::Float(1.0),
        doc: "γ of the backward accumulation over turns",
    },
    ParamSpec {
        name: "eps",
        kind: ParamKind::Float,
        default: D::Float(EPS),
        doc: "ε added to the std (and the σ floor below which σ = 1)",
    },
    ParamSpec {
        name: "norm_by_std",
        kind: ParamKind::Bool,
        default: D::Bool(true),
        doc: "divide by the unbiased std (false: only centre)",
    },
    ParamSpec {
        name: "clusterer",
        kind: ParamKind::Choice(&["normalized", "exact"]),
        default: D::Str("normalized"),
        doc: "how raw final answers (last turn's `answer`) are clustered when `answer_cluster` is absent",
    },
];

/// `siop`: registry adapter of [`siop_advantages`].
pub struct Siop;

impl Estimator for Siop {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "siop",
            paper: "SIOP, Self-Induced Outcome Potential (arXiv 2605.04984)",
            idea: "Verifier-free IGPO: potential difference of the log-support of the rollout's own answer mode, weighted by the mode's reliability q(c).",
            fields: &[
                "answer_cluster",
                "answer",
                "evidence",
                "gold_logprob_initial",
                "gold_logprob",
            ],
            params: PARAMS,
            status: Status::Exact(
                "dl-m9/SIOP siop_process_reward.py, core_algos.py compute_siop_turn_level_advantage",
            ),
            output: "advantages",
            kind: OutputKind::Advantages,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        let params = SiopParams {
            lam: p.f64("lam"),
            eta: p.f64("eta"),
            eps_log: p.f64("eps_log"),
            gamma: p.f64("gamma"),
            eps: p.f64("eps"),
            norm_by_std: p.bool("norm_by_std"),
        };
        let o = siop_advantages(batch, &params, cluster::by_name(p.str("clusterer")))?;
        Ok(CreditOutput::per_turn(o.advantages)
            .with_extra("turn_rewards", Extra::PerTurn(o.turn_rewards))
            .with_extra("q", Extra::PerTrajectory(o.q)))
    }
}
