//! MatchTIR — bipartite-matching turn rewards and dual-level advantages (Qu et al.,
//! arXiv 2601.10712), `credit-turn.md` §5. Exact port of `quchangle1/MatchTIR`
//! (`tool.py: compute_process_KM / compute_process_ot`, `core_algos.py`).
//!
//! Every predicted call of the trajectory's non-answer turns is matched to the group's
//! `gt_tool_calls` (greedy "KM" as in the code, a true Hungarian assignment, or Sinkhorn
//! OT); a turn's reward is the mean reward of its calls, or `answer_f1` on the answer turn.
//! `A = (A^traj + A^turn)/2`: the GRPO z-score of `Σ_t r_t` and the per-turn-index z-score
//! of `D_t = r_t + γ D_{t+1}` (unbiased std; a single member uses mean 0, std 1).

use turnwise_core::{Batch, ToolCall, Trajectory};

use crate::error::CreditError;
use crate::estimator::{Estimator, MethodInfo, OutputKind, Status};
use crate::output::{CreditOutput, Extra, TurnValues};
use crate::params::{Default as D, ParamKind, ParamSpec, Params, EPS_PARAM};
use crate::stats::{mean, std_unbiased};
use crate::turn::index_stats::{IndexStats, StdKind};

pub mod assignment;
pub mod similarity;
pub mod sinkhorn;

use assignment::Sim;

const M: &str = "matchtir";

/// How predicted calls are matched to ground-truth calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignment {
    /// The authors' greedy max-first matching (named "KM" in the code).
    KmGreedy,
    /// A true maximum-weight (Kuhn–Munkres) assignment, the paper's wording.
    Hungarian,
    /// Sinkhorn optimal transport (`compute_process_ot`).
    Ot,
}

/// MatchTIR's parameters (names as in the reference `matchtir`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchtirParams {
    /// Matching.
    pub assignment: Assignment,
    /// Reward of an unmatched call (0.0 as the code calls it; function default −0.5).
    pub unmatched_penalty: f64,
    /// Entropic regularisation of the OT variant.
    pub ot_reg: f64,
    /// λ of the discounted turn returns (hard-coded 0.9 in the code).
    pub gamma: f64,
    /// ε added to the std.
    pub eps: f64,
}

/// Result of [`matchtir_advantages`].
#[derive(Debug, Clone, PartialEq)]
pub struct MatchtirOutput {
    /// `A_{i,t}`, per turn.
    pub advantages: TurnValues,
    /// `r_{i,t}`, per turn.
    pub turn_rewards: TurnValues,
    /// `A^traj_i`, per trajectory.
    pub traj_adv: Vec<f64>,
    /// `A^turn_{i,t}`, per turn.
    pub turn_adv: TurnValues,
}

/// Scratch buffers reused across trajectories (no per-turn allocation).
#[derive(Default)]
struct Scratch<'b> {
    preds: Vec<(&'b ToolCall, usize)>,
    sim: Vec<f64>,
    pairs: Vec<(f64, u32, u32)>,
    assign: Vec<Option<u32>>,
    cost: Vec<f64>,
    marg_a: Vec<f64>,
    marg_b: Vec<f64>,
    work: Vec<f64>,
    plan: Vec<f64>,
    count: Vec<u32>,
}

/// The turn rewards of one trajectory (§5 "turn reward") into `r`.
fn turn_rewards<'b>(
    traj: &'b Trajectory,
    gts: &[ToolCall],
    p: &MatchtirParams,
    s: &mut Scratch<'b>,
    r: &mut [f64],
) -> Result<(), CreditError> {
    s.preds.clear();
    s.count.clear();
    s.count.resize(r.len(), 0);
    for (t, u) in traj.turns.iter().enumerate() {
        let e = u.ext();
        if let Some(f1) = e.answer_f1 {
            r[t] = f1;
            continue;
        }
        r[t] = 0.0;
        for (c, call) in e.tool_calls.iter().flatten().enumerate() {
            if similarity::arguments(call).is_none() {
                return Err(CreditError::BadInput {
                    method: M,
                    message: format!(
                        "trajectory {:?} turn {t}: tool_calls[{c}].arguments must be a JSON object",
                        traj.id
                    ),
                });
            }
            s.preds.push((call, t));
        }
    }
    let (np, ng) = (s.preds.len(), gts.len());
    if np == 0 {
        return Ok(());
    }
    let mut add = |k: usize, x: f64, s: &mut Scratch<'b>| {
        let t = s.preds[k].1;
        r[t] += x;
        s.count[t] += 1;
    };
    if ng == 0 {
        // ASSUMPTION (§5 edge cases): KM leaves every call unmatched; OT gives 0.
        let x = if p.assignment == Assignment::Ot {
            0.0
        } else {
            p.unmatched_penalty
        };
        for k in 0..np {
            add(k, x, s);
        }
    } else {
        s.sim.clear();
        for &(call, _) in &s.preds {
            s.sim
                .extend(gts.iter().map(|g| similarity::tool_similarity(call, g)));
        }
        let sim = Sim {
            s: &s.sim,
            rows: np,
            cols: ng,
        };
        if p.assignment == Assignment::Ot {
            s.cost.clear();
            s.cost.extend(s.sim.iter().map(|x| -x));
            s.marg_a.clear();
            s.marg_a.resize(np, 1.0 / np as f64);
            s.marg_b.clear();
            s.marg_b.resize(ng, 1.0 / ng as f64);
            sinkhorn::sinkhorn(
                &s.marg_a,
                &s.marg_b,
                &s.cost,
                p.ot_reg,
                1000,
                1e-9,
                &mut s.work,
                &mut s.plan,
            );
            for k in 0..np {
                let row = k * ng..(k + 1) * ng;
                let x: f64 = s.plan[row.clone()]
                    .iter()
                    .zip(&s.sim[row])
                    .map(|(a, b)| a * b)
                    .sum();
                add(k, x, s);
            }
        } else {
            s.assign.clear();
            s.assign.resize(np, None);
            match p.assignment {
                Assignment::Hungarian => assignment::hungarian(sim, &mut s.assign),
                _ => assignment::greedy(sim, &mut s.pairs, &mut s.assign),
            }
            for k in 0..np {
                let x = match s.assign[k] {
                    Some(j) => s.sim[k * ng + j as usize],
                    None => p.unmatched_penalty,
                };
                add(k, x, s);
            }
        }
    }
    for (x, &c) in r.iter_mut().zip(&s.count) {
        if c > 0 {
            *x /= c as f64;
        }
    }
    Ok(())
}

/// MatchTIR turn rewards and fused dual-level advantages (§5).
pub fn matchtir_advantages(
    batch: &Batch,
    p: &MatchtirParams,
) -> Result<MatchtirOutput, CreditError> {
    let mut rew = TurnValues::zeros(batch);
    let mut disc = TurnValues::zeros_like(&rew);
    let mut adv = TurnValues::zeros_like(&rew);
    let mut traj_adv = Vec::with_capacity(batch.num_trajectories());
    let mut scratch = Scratch::default();
    let mut scores: Vec<f64> = Vec::new();
    let mut stats = IndexStats::default();
    let mut ti = 0;
    for g in &batch.groups {
        let first = ti;
        let has_calls = g.trajectories.iter().flat_map(|t| &t.turns).any(|u| {
            u.ext().answer_f1.is_none()
                && u.ext().tool_calls.as_ref().is_some_and(|c| !c.is_empty())
        });
        let gts: &[ToolCall] = match &g.gt_tool_calls {
            Some(v) => v,
            None if has_calls => {
                return Err(CreditError::missing_group(M, "gt_tool_calls", &g.prompt_id))
            }
            None => &[],
        };
        scores.clear();
        for traj in &g.trajectories {
            let r = rew.traj_mut(ti);
            turn_rewards(traj, gts, p, &mut scratch, r)?;
            scores.push(r.iter().sum());
            let mut acc = 0.0;
            let d = disc.traj_mut(ti);
            for t in (0..d.len()).rev() {
                acc = rew.traj(ti)[t] + p.gamma * acc;
                d[t] = acc;
            }
            ti += 1;
        }
        let (mu, sd) = if scores.len() == 1 {
            (0.0, 1.0)
        } else {
            (mean(&scores), std_unbiased(&scores))
        };
        stats.compute(&disc, first..ti, |i| disc.traj(i).len(), StdKind::Unbiased);
        for (k, &sc) in scores.iter().enumerate() {
            let i = first + k;
            let a_traj = (sc - mu) / (sd + p.eps);
            traj_adv.push(a_traj);
            let d = disc.traj_mut(i);
            for (t, x) in d.iter_mut().enumerate() {
                let (m, s, n) = stats.get(t);
                let (m, s) = if n == 1 { (0.0, 1.0) } else { (m, s) };
                *x = (*x - m) / (s + p.eps);
            }
            for (a, &x) in adv.traj_mut(i).iter_mut().zip(disc.traj(i)) {
                *a = (a_traj + x) / 2.0;
            }
        }
    }
    Ok(MatchtirOutput {
        advantages: adv,
        turn_rewards: rew,
        traj_adv,
        turn_adv: disc,
    })
}

static PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "assignment",
        kind: ParamKind::Choice(&["km_greedy", "hungarian", "ot"]),
        default: D::Str("km_greedy"),
        doc: "greedy max-first (code), true Kuhn–Munkres (paper wording) or Sinkhorn OT",
    },
    ParamSpec {
        name: "unmatched_penalty",
        kind: ParamKind::Float,
        default: D::Float(0.0),
        doc: "reward of an unmatched call (0.0 as called; function default −0.5)",
    },
    ParamSpec {
        name: "ot_reg",
        kind: ParamKind::Float,
        default: D::Float(0.1),
        doc: "entropic regularisation of the OT variant",
    },
    ParamSpec {
        name: "gamma",
        kind: ParamKind::Float,
        default: D::Float(0.9),
        doc: "λ of the discounted turn returns (hard-coded 0.9 in the code)",
    },
    EPS_PARAM,
];

/// `matchtir`: registry adapter of [`matchtir_advantages`].
pub struct Matchtir;

impl Estimator for Matchtir {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "matchtir",
            paper: "MatchTIR, bipartite matching for tool-integrated reasoning (arXiv 2601.10712)",
            idea: "Turn reward = similarity of its tool calls to the matched ground-truth calls; advantage = mean of trajectory and per-turn-index z-scores.",
            fields: &["gt_tool_calls", "tool_calls", "answer_f1"],
            params: PARAMS,
            status: Status::Exact(
                "quchangle1/MatchTIR tool.py compute_process_KM / compute_process_ot, core_algos.py",
            ),
            output: "advantages",
            kind: OutputKind::Advantages,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        let params = MatchtirParams {
            assignment: match p.str("assignment") {
                "hungarian" => Assignment::Hungarian,
                "ot" => Assignment::Ot,
                _ => Assignment::KmGreedy,
            },
            unmatched_penalty: p.f64("unmatched_penalty"),
            ot_reg: p.f64("ot_reg"),
            gamma: p.f64("gamma"),
            eps: p.f64("eps"),
        };
        let o = matchtir_advantages(batch, &params)?;
        Ok(CreditOutput::per_turn(o.advantages)
            .with_extra("turn_rewards", Extra::PerTurn(o.turn_rewards))
            .with_extra("traj_adv", Extra::PerTrajectory(o.traj_adv))
            .with_extra("turn_adv", Extra::PerTurn(o.turn_adv)))
    }
}
