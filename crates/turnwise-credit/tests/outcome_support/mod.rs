//! Batch generators and checks shared by the outcome-level property tests.

#![allow(dead_code)]

use proptest::prelude::*;
use rand::seq::SliceRandom;
use serde_json::{json, Map, Value};
use turnwise_core::{seed, Batch, Group, Trajectory, Turn, TurnExt};
use turnwise_credit::output::Main;
use turnwise_credit::{registry, CreditOutput, TurnValues};

/// Sentinel scale: every value gets its own magnitude between 1e-300 and 1e300.
pub const MIXED: f64 = 0.0;

/// How raw draws in [−1, 1] become field values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Outcomes, rewards and scores are `u × scale` (or mixed magnitudes).
    Real,
    /// Outcomes and rewards are 0/1 (`u > 0`), scores `|u|`: A-GRAE, SCRL, DisCO inputs.
    Binary,
}

/// One turn's raw draws.
#[derive(Debug, Clone)]
pub struct TurnSpec {
    pub r: f64,
    pub s: f64,
    pub anchor: u8,
    pub tokens: u32,
    pub lr: f64,
    pub correct: bool,
    pub answer: u8,
    pub valid: bool,
}

/// One trajectory's raw draws.
#[derive(Debug, Clone)]
pub struct TrajSpec {
    pub outcome: f64,
    pub seq_score: f64,
    pub truncated: bool,
    pub turns: Vec<TurnSpec>,
}

fn turn_spec() -> impl Strategy<Value = TurnSpec> {
    (
        -1.0f64..1.0,
        -1.0f64..1.0,
        0u8..3,
        1u32..4,
        -1.0f64..1.0,
        any::<bool>(),
        0u8..3,
        prop::bool::weighted(0.8),
    )
        .prop_map(
            |(r, s, anchor, tokens, lr, correct, answer, valid)| TurnSpec {
                r,
                s,
                anchor,
                tokens,
                lr,
                correct,
                answer,
                valid,
            },
        )
}

/// Groups of 1–4 trajectories, 1–3 groups, `min_turns`–5 turns each.
pub fn spec(min_turns: usize) -> impl Strategy<Value = Vec<Vec<TrajSpec>>> {
    let traj = (
        -1.0f64..1.0,
        -1.0f64..1.0,
        prop::bool::weighted(0.25),
        prop::collection::vec(turn_spec(), min_turns..6),
    )
        .prop_map(|(outcome, seq_score, truncated, turns)| TrajSpec {
            outcome,
            seq_score,
            truncated,
            turns,
        });
    prop::collection::vec(prop::collection::vec(traj, 1..5), 1..4)
}

/// Magnitudes: tiny, ordinary, huge, or mixed.
pub fn scale() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(1.0),
        Just(1e-300),
        Just(1e-150),
        Just(1e-6),
        Just(1e6),
        Just(1e150),
        Just(1e300),
        Just(MIXED),
    ]
}

/// A fixed trajectory spec with `n` turns (unit tests).
pub fn traj_spec(n: usize) -> TrajSpec {
    TrajSpec {
        outcome: 0.5,
        seq_score: -0.3,
        truncated: false,
        turns: (0..n)
            .map(|k| TurnSpec {
                r: 0.25 * k as f64 + 0.5,
                s: 0.1 * k as f64,
                anchor: (k % 2) as u8,
                tokens: 2,
                lr: 0.1,
                correct: k == 1,
                answer: k as u8,
                valid: true,
            })
            .collect(),
    }
}

fn value(u: f64, scale: f64) -> f64 {
    if scale == MIXED {
        let e = ((u.abs() * 1e6) as i64 % 601 - 300) as i32;
        u * 10f64.powi(e)
    } else {
        u * scale
    }
}

/// The batch of `spec` at `scale` in `mode`. Trajectory ids are `g{g}t{j}`.
pub fn build(spec: &[Vec<TrajSpec>], scale: f64, mode: Mode) -> Batch {
    let bin = |u: f64| if u > 0.0 { 1.0 } else { 0.0 };
    let groups = spec
        .iter()
        .enumerate()
        .map(|(g, trajs)| Group {
            prompt_id: format!("g{g}"),
            trajectories: trajs
                .iter()
                .enumerate()
                .map(|(j, t)| {
                    let mut tr = Trajectory {
                        id: format!("g{g}t{j}"),
                        group_id: format!("g{g}"),
                        outcome: Some(match mode {
                            Mode::Real => value(t.outcome, scale),
                            Mode::Binary => bin(t.outcome),
                        }),
                        truncated: t.truncated,
                        turns: t
                            .turns
                            .iter()
                            .map(|u| Turn {
                                tokens: u.tokens,
                                reward: Some(match mode {
                                    Mode::Real => value(u.r, scale),
                                    Mode::Binary => bin(u.r),
                                }),
                                score: Some(match mode {
                                    Mode::Real => value(u.s, scale),
                                    Mode::Binary => u.s.abs(),
                                }),
                                anchor: Some(format!("state {}", u.anchor).into_boxed_str()),
                                ext: Some(Box::new(TurnExt {
                                    seq_log_ratio: Some(u.lr),
                                    correct: Some(u.correct),
                                    answer: Some(format!("{}", u.answer)),
                                    valid: Some(u.valid),
                                    ..TurnExt::default()
                                })),
                                ..Turn::default()
                            })
                            .collect(),
                        ..Trajectory::default()
                    };
                    tr.ext_mut().seq_score = Some(match mode {
                        Mode::Real => value(t.seq_score, scale),
                        Mode::Binary => t.seq_score,
                    });
                    tr
                })
                .collect(),
            ..Group::default()
        })
        .collect();
    Batch { groups }
}

/// Every outcome-level method with the parameter variants the properties exercise.
pub fn variants() -> Vec<(&'static str, Map<String, Value>)> {
    let v = |m, p: Value| (m, p.as_object().cloned().unwrap_or_default());
    vec![
        v("grpo", json!({})),
        v("grpo", json!({"std_mode": "batch"})),
        v("dr_grpo", json!({})),
        v("rloo", json!({})),
        v("rloo", json!({"singleton": "zero"})),
        v("reinforce_pp", json!({})),
        v("reinforce_pp", json!({"gamma": 0.9})),
        v("reinforce_pp", json!({"baseline": true})),
        v(
            "reinforce_pp_tokens",
            json!({"gamma": 0.9, "reset_at_observation": true}),
        ),
        v("trloo", json!({"gamma": 0.9})),
        v("turn_mean_baseline", json!({})),
        v("gigpo", json!({})),
        v(
            "gigpo",
            json!({"mode": "mean_norm", "episode_stats": "per_trajectory"}),
        ),
        v("a_grae", json!({})),
        v(
            "a_grae",
            json!({"guard_singleton": false, "norm_by_std": false}),
        ),
        v("pre_grpo", json!({"t_max": 6})),
        v("mapo", json!({"incremental": true, "gamma": 0.9})),
        v("mapo", json!({"batch_target": "return"})),
        v("scrl", json!({})),
        v("scrl", json!({"progress_aware": false})),
        v("disco", json!({})),
        v("disco", json!({"basic": true})),
        v("seeupo", json!({})),
        v(
            "seeupo",
            json!({"norm_by_std": true, "special_norm": false}),
        ),
        v("over_turn_mask", json!({})),
        v("over_turn_mask", json!({"exclude_from_stats": true})),
        v("ufo_reward", json!({})),
    ]
}

/// Every number of a method's main output.
pub fn values(out: &CreditOutput) -> Vec<f64> {
    match &out.main {
        Main::PerTurn(v) => v.values.clone(),
        Main::PerToken(t) => t.0.iter().flatten().flatten().copied().collect(),
        Main::Scalars(s) => s.iter().map(|(_, v)| *v).collect(),
    }
}

/// Runs a per-turn method; panics with the error otherwise.
pub fn run(m: &str, p: &Value, b: &Batch) -> TurnValues {
    let out =
        registry::run(m, b, p.as_object().unwrap(), &[]).unwrap_or_else(|e| panic!("{m} {p}: {e}"));
    out.turn_values().expect("per-turn output").clone()
}

/// Each group with the batch index of its first trajectory.
pub fn groups(b: &Batch) -> Vec<(&Group, usize)> {
    let mut first = 0;
    b.groups
        .iter()
        .map(|g| {
            first += g.trajectories.len();
            (g, first - g.trajectories.len())
        })
        .collect()
}

/// `|Σ a| ≤ 1e-9 · Σ |a|`.
pub fn sums_to_zero(a: &[f64]) -> bool {
    let s: f64 = a.iter().sum();
    let m: f64 = a.iter().map(|x| x.abs()).sum();
    s.abs() <= 1e-9 * m + 1e-300
}

/// Relative closeness at 1e-12.
pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()) + 1e-300
}

/// All numbers of a JSON value, depth first.
pub fn flatten(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(flatten).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        _ => vec![],
    }
}

/// The batch with the trajectories of each group in a random order.
pub fn shuffle_within_groups(b: &Batch, s: u64) -> Batch {
    let mut rng = seed::rng(s, 0);
    let mut out = b.clone();
    for g in &mut out.groups {
        g.trajectories.shuffle(&mut rng);
    }
    out
}

/// Every trajectory in a group of its own.
pub fn singletons(b: &Batch) -> Batch {
    Batch {
        groups: b
            .trajectories()
            .map(|t| Group {
                prompt_id: t.id.clone(),
                trajectories: vec![t.clone()],
                ..Group::default()
            })
            .collect(),
    }
}

/// Every turn with an anchor of its own.
pub fn distinct_anchors(b: &Batch) -> Batch {
    let mut out = b.clone();
    for g in &mut out.groups {
        for t in &mut g.trajectories {
            let id = t.id.clone();
            for (k, u) in t.turns.iter_mut().enumerate() {
                u.anchor = Some(format!("{id}/{k}").into_boxed_str());
            }
        }
    }
    out
}

/// Groups of ≥ 2 trajectories cut to their shortest length, with every outcome `r`,
/// every turn reward `turn_reward` and every score 0.5.
pub fn all_equal(b: &Batch, r: f64, turn_reward: f64) -> Batch {
    let mut out = b.clone();
    out.groups.retain(|g| g.trajectories.len() >= 2);
    for g in &mut out.groups {
        let n = g
            .trajectories
            .iter()
            .map(|t| t.turns.len())
            .min()
            .unwrap_or(0);
        for t in &mut g.trajectories {
            t.outcome = Some(r);
            t.turns.truncate(n);
            for u in &mut t.turns {
                u.reward = Some(turn_reward);
                u.score = Some(0.5);
            }
        }
    }
    out
}
