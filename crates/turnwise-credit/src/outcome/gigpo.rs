//! GiGPO, group-in-group policy optimisation (Feng et al., arXiv 2505.10978; verl-agent
//! `gigpo/core_gigpo.py`), `credit-outcome.md` §5.
//!
//! Episode level: GRPO of the outcome over the prompt group (statistics over every step
//! row, verl-agent's default, or one value per trajectory, the paper's form). Step level:
//! all turns of the prompt group taken from the **same anchor state** (exact equality of
//! `turn.anchor`) form a step group, compared through their discounted step returns
//! `R_{i,t} = r_{i,t} + γ R_{i,t+1}`. `A_{i,t} = A^E_i + ω·A^S_{i,t}`.

use rustc_hash::FxHashMap;
use turnwise_core::{Batch, Group};

use crate::error::CreditError;
use crate::estimator::{Estimator, MethodInfo, OutputKind, Status};
use crate::moments::{scale_for, Moments};
use crate::output::{CreditOutput, TurnValues};
use crate::params::{Default as D, ParamKind, ParamSpec, Params, EPS_PARAM};

use super::common::{accumulate_returns, outcomes_into, unit_interval, TurnValuesBuilder};

/// Which rows the episode-level mean and std are taken over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpisodeStats {
    /// Every step row (a trajectory counts once per turn): verl-agent's
    /// `compute_mean_std_cross_all_data = True`, the code default.
    PerStep,
    /// One value per trajectory (the paper's equation).
    PerTrajectory,
}

/// GiGPO options, with the names of verl-agent's configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GigpoOptions {
    /// γ, discount of the step return.
    pub gamma: f64,
    /// ω (`step_advantage_w`), weight of the step-level advantage.
    pub omega: f64,
    /// `mean_std_norm` (true) or `mean_norm` (false).
    pub by_std: bool,
    /// ε added to the std.
    pub eps: f64,
    /// Episode-level statistics.
    pub episode_stats: EpisodeStats,
}

/// Scratch buffers reused across groups (no per-turn allocation).
#[derive(Default)]
struct Scratch<'a> {
    rs: Vec<f64>,
    ep: Vec<f64>,
    anchors: Vec<&'a str>,
    slot_of: FxHashMap<&'a str, u32>,
    slots: Vec<u32>,
    sum: Vec<f64>,
    ss: Vec<f64>,
    cnt: Vec<u32>,
}

/// GiGPO advantages, `credit-outcome.md` §5. A step group of one gets `A^S = 0`; an
/// episode group of one row gets μ = 0, σ = 1.
pub fn gigpo_advantages(batch: &Batch, o: GigpoOptions) -> Result<TurnValues, CreditError> {
    let mut out = TurnValuesBuilder::new(batch);
    let mut s = Scratch::default();
    let mut first = 0;
    for g in &batch.groups {
        group(g, first, &mut out, &mut s, o)?;
        first += g.trajectories.len();
    }
    Ok(out.finish())
}

fn group<'a>(
    g: &'a Group,
    first: usize,
    out: &mut TurnValuesBuilder,
    s: &mut Scratch<'a>,
    o: GigpoOptions,
) -> Result<(), CreditError> {
    const M: &str = "gigpo";
    // Episode level.
    outcomes_into(M, g, &mut s.rs)?;
    let rows = match o.episode_stats {
        EpisodeStats::PerStep => g.trajectories.iter().map(|t| t.turns.len()).sum(),
        EpisodeStats::PerTrajectory => g.trajectories.len(),
    };
    let em = if rows <= 1 {
        Moments::unit()
    } else {
        match o.episode_stats {
            EpisodeStats::PerStep => Moments::weighted(
                s.rs.iter()
                    .zip(&g.trajectories)
                    .map(|(&r, t)| (r, t.turns.len() as f64)),
            ),
            EpisodeStats::PerTrajectory => Moments::of(&s.rs),
        }
    };
    s.ep.clear();
    s.ep.extend(s.rs.iter().map(|&r| em.apply(r, o.eps, o.by_std)));

    // Step returns (into the output rows) and the anchors, in one forward pass over the
    // turns, prefetching each anchor's bytes; then the anchors are interned into slots.
    s.slot_of.clear();
    s.slots.clear();
    s.anchors.clear();
    let mut max_abs = 0.0f64;
    for t in &g.trajectories {
        let row = out.push_rewards(M, t)?;
        for (k, turn) in t.turns.iter().enumerate() {
            let a = turn
                .anchor
                .as_deref()
                .ok_or_else(|| CreditError::missing_turn(M, "anchor", &t.id, k))?;
            prefetch(a.as_bytes());
            s.anchors.push(a);
        }
        max_abs = max_abs.max(accumulate_returns(o.gamma, row));
    }
    for &a in &s.anchors {
        let next = s.slot_of.len() as u32;
        s.slots.push(*s.slot_of.entry(a).or_insert(next));
    }
    let n_slots = s.slot_of.len();
    let c = scale_for(max_abs);
    s.sum.clear();
    s.sum.resize(n_slots, 0.0);
    s.ss.clear();
    s.ss.resize(n_slots, 0.0);
    s.cnt.clear();
    s.cnt.resize(n_slots, 0);
    let n = g.trajectories.len();
    let mut pos = 0;
    for j in 0..n {
        for &x in out.traj(first + j) {
            let k = s.slots[pos] as usize;
            s.sum[k] += x * c;
            s.cnt[k] += 1;
            pos += 1;
        }
    }
    for (m, &k) in s.sum.iter_mut().zip(&s.cnt) {
        *m /= k as f64;
    }
    pos = 0;
    for j in 0..n {
        for &x in out.traj(first + j) {
            let k = s.slots[pos] as usize;
            let d = x * c - s.sum[k];
            s.ss[k] += d * d;
            pos += 1;
        }
    }
    for (v, &k) in s.ss.iter_mut().zip(&s.cnt) {
        // std of the slot (unused for singletons, whose step advantage is 0)
        *v = if k > 1 {
            (*v / (k - 1) as f64).sqrt()
        } else {
            1.0
        };
    }
    // Final advantages.
    pos = 0;
    let ceps = o.eps * c;
    for j in 0..n {
        let ep = s.ep[j];
        for x in out.traj_mut(first + j) {
            let k = s.slots[pos] as usize;
            let step = if s.cnt[k] > 1 {
                let d = *x * c - s.sum[k];
                if o.by_std {
                    d / (s.ss[k] + ceps)
                } else {
                    d / c
                }
            } else {
                0.0
            };
            *x = ep + o.omega * step;
            pos += 1;
        }
    }
    Ok(())
}

/// Hints the CPU to fetch the first cache line of `b` (the anchor's bytes are read a
/// moment later by the hash; issuing the loads early overlaps their cache misses).
#[inline(always)]
fn prefetch(b: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint with no architectural effect; SSE is part of x86_64.
    #[allow(unused_unsafe)]
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(b.as_ptr().cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = b;
}

static PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "gamma",
        kind: ParamKind::Float,
        default: D::Float(0.95),
        doc: "γ, discount of the step return (verl-agent examples: 0.95)",
    },
    ParamSpec {
        name: "omega",
        kind: ParamKind::Float,
        default: D::Float(1.0),
        doc: "ω (step_advantage_w), weight of the step-level advantage",
    },
    ParamSpec {
        name: "mode",
        kind: ParamKind::Choice(&["mean_std_norm", "mean_norm"]),
        default: D::Str("mean_std_norm"),
        doc: "normalisation of both levels: (x − μ)/(σ + ε) or x − μ",
    },
    EPS_PARAM,
    ParamSpec {
        name: "episode_stats",
        kind: ParamKind::Choice(&["per_step", "per_trajectory"]),
        default: D::Str("per_step"),
        doc: "episode μ/σ over every step row (code default) or one value per trajectory (paper)",
    },
];

/// `gigpo`: registry adapter of [`gigpo_advantages`].
pub struct Gigpo;

impl Estimator for Gigpo {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "gigpo",
            paper: "GiGPO, Group-in-Group Policy Optimization for LLM Agent Training (arXiv 2505.10978)",
            idea: "Episode-level GRPO plus ω times a step-level GRPO of discounted step returns over the turns that left the same anchor state.",
            fields: &["outcome", "reward", "anchor"],
            params: PARAMS,
            status: Status::Exact("verl-agent gigpo/core_gigpo.py (exact anchor equality)"),
            output: "advantages",
            kind: OutputKind::Advantages,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        let o = GigpoOptions {
            gamma: unit_interval("gigpo", "gamma", p.f64("gamma"))?,
            omega: p.f64("omega"),
            by_std: p.str("mode") == "mean_std_norm",
            eps: p.f64("eps"),
            episode_stats: match p.str("episode_stats") {
                "per_trajectory" => EpisodeStats::PerTrajectory,
                _ => EpisodeStats::PerStep,
            },
        };
        gigpo_advantages(batch, o).map(CreditOutput::per_turn)
    }
}
