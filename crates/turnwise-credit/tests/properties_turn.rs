//! Properties of the turn-level estimators (`credit-turn.md`), on random batches that carry
//! every field any of them reads: no NaN/inf for finite inputs (magnitudes from 1e-150 to
//! 1e150), equivariance under permuting a group's trajectories, the zero-sum identities
//! the formulas promise, and the singleton / all-equal rules.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use turnwise_core::{Batch, Group, ToolCall, Trajectory, TrajectoryExt, Turn, TurnExt};
use turnwise_credit::check::compare;
use turnwise_credit::{registry, CreditOutput, Extra};

/// Every turn-level method with a parameter set; the property tests run all of them.
fn methods() -> Vec<(&'static str, Value)> {
    vec![
        ("igpo", json!({})),
        (
            "igpo",
            json!({"norm_mode": "separate", "info_gain_type": "log_prob_diff", "gamma": 0.9}),
        ),
        ("a2tgpo", json!({})),
        ("siop", json!({})),
        ("siop", json!({"eta": 0.0, "gamma": 0.95})),
        ("pbsd", json!({})),
        ("pbsd", json!({"mode": "additive"})),
        ("matchtir", json!({})),
        (
            "matchtir",
            json!({"assignment": "hungarian", "unmatched_penalty": -0.5}),
        ),
        ("matchtir", json!({"assignment": "ot"})),
        ("hiper_hae", json!({})),
        ("archer", json!({})),
        ("turn_level_gae", json!({})),
        ("turn_level_gae", json!({"whiten": true})),
    ]
}

fn run(method: &str, params: &Value, batch: &Batch) -> CreditOutput {
    let Value::Object(p) = params else {
        unreachable!()
    };
    registry::run(method, batch, p, &[]).unwrap_or_else(|e| panic!("{method}: {e}"))
}

const TOOLS: [&str; 3] = ["search", "weather", "lookup"];

fn call(name: usize, key: usize, val: usize) -> ToolCall {
    let mut args = Map::new();
    args.insert(["q", "k", "city"][key % 3].to_owned(), json!(val % 3));
    ToolCall {
        name: TOOLS[name % 3].to_owned(),
        arguments: Value::Object(args),
    }
}

/// Raw random numbers for one turn.
type TurnSeed = (f64, f64, f64, f64, f64, bool, u8);

fn turn_seed() -> impl Strategy<Value = TurnSeed> {
    (
        0.0..1.0f64,
        -1.0..1.0f64,
        -1.0..1.0f64,
        -1.0..1.0f64,
        -1.0..1.0f64,
        any::<bool>(),
        any::<u8>(),
    )
}

/// One trajectory: turns, outcome, truncated, answer mode, evidence.
type TrajSeed = (Vec<TurnSeed>, f64, bool, u8, f64);

fn traj_seed() -> impl Strategy<Value = TrajSeed> {
    (
        prop::collection::vec(turn_seed(), 1..6),
        -1.0..1.0f64,
        prop::bool::weighted(0.2),
        0u8..4,
        0.0..1.0f64,
    )
}

fn batch_seed() -> impl Strategy<Value = Vec<Vec<TrajSeed>>> {
    prop::collection::vec(prop::collection::vec(traj_seed(), 1..6), 1..4)
}

/// Builds a batch: `mag` scales rewards, outcomes, values and log-ratios; `lp_mag` scales
/// the (non-positive) gold log-probs.
fn build(seed: &[Vec<TrajSeed>], mag: f64, lp_mag: f64) -> Batch {
    let mut batch = Batch::default();
    for (gi, gs) in seed.iter().enumerate() {
        let mut g = Group {
            prompt_id: format!("p{gi}"),
            gt_tool_calls: Some(vec![call(0, 0, 1), call(1, 2, 0)]),
            ..Group::default()
        };
        for (ti, (turns, outcome, truncated, mode, evidence)) in gs.iter().enumerate() {
            let n = turns.len();
            let turns = turns
                .iter()
                .enumerate()
                .map(|(t, &(u, a, b, c, d, sw, k))| {
                    let last = t + 1 == n;
                    Turn {
                        tokens: 4,
                        reward: Some(a * mag),
                        ext: Some(Box::new(TurnExt {
                            gold_logprob: Some(vec![-u * lp_mag]),
                            teacher_logprob: Some(b * mag),
                            student_logprob: Some(c * mag),
                            tool_calls: Some(
                                (0..k % 4)
                                    .map(|j| call((k / 4 + j) as usize, j as usize, k as usize))
                                    .collect(),
                            ),
                            answer_f1: (last && !truncated).then_some(u),
                            switch: Some(sw),
                            value_high: Some(b * mag),
                            value_low: Some(c * mag),
                            q: Some(vec![a * mag, b * mag]),
                            v: Some(vec![c * mag, d * mag]),
                            v_target_next: Some(vec![d * mag, a * mag]),
                            q_target_pi: Some(vec![b * mag, d * mag]),
                            value: Some(d * mag),
                            ..TurnExt::default()
                        })),
                        ..Turn::default()
                    }
                })
                .collect();
            g.trajectories.push(Trajectory {
                id: format!("p{gi}-t{ti}"),
                group_id: g.prompt_id.clone(),
                turns,
                outcome: Some(outcome * mag),
                truncated: *truncated,
                ext: Some(Box::new(TrajectoryExt {
                    gold_logprob_initial: Some(vec![-0.5 * lp_mag]),
                    answer_cluster: (*mode < 3).then(|| ["A", "B", "C"][*mode as usize].to_owned()),
                    evidence: Some(*evidence),
                    bootstrap_value: Some(outcome * mag),
                    bootstrap_value_high: Some(-outcome * mag),
                    ..TrajectoryExt::default()
                })),
                ..Trajectory::default()
            });
        }
        batch.groups.push(g);
    }
    batch
}

fn magnitudes() -> impl Strategy<Value = (f64, f64)> {
    (
        prop::sample::select(vec![1e-150, 1e-6, 1.0, 1e6, 1e150]),
        prop::sample::select(vec![1e-300, 1e-3, 1.0, 30.0, 1e6]),
    )
}

fn all_values(out: &CreditOutput) -> Vec<f64> {
    let mut v = out.turn_values().expect("per-turn output").values.clone();
    for (_, e) in &out.extras {
        match e {
            Extra::PerTurn(x) | Extra::PerTrajectoryList(x) => v.extend(&x.values),
            Extra::PerTrajectory(x) => v.extend(x),
            Extra::PerTurnVec(x) => v.extend(x.iter().flatten().flatten()),
        }
    }
    v
}

fn traj_values<'a>(out: &'a CreditOutput, batch: &Batch, id: &str) -> &'a [f64] {
    let i = batch.trajectories().position(|t| t.id == id).unwrap();
    out.turn_values().unwrap().traj(i)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn finite_inputs_give_finite_outputs(seed in batch_seed(), (mag, lp) in magnitudes()) {
        let batch = build(&seed, mag, lp);
        for (m, p) in methods() {
            let out = run(m, &p, &batch);
            for x in all_values(&out) {
                prop_assert!(x.is_finite(), "{m} {p}: {x} (mag {mag}, lp {lp})");
            }
        }
    }

    #[test]
    fn permuting_a_group_permutes_the_outputs(seed in batch_seed(), rot in 1usize..5) {
        let batch = build(&seed, 1.0, 1.0);
        let mut perm = batch.clone();
        for g in &mut perm.groups {
            let k = rot % g.trajectories.len();
            g.trajectories.rotate_left(k);
        }
        for (m, p) in methods() {
            let (a, b) = (run(m, &p, &batch), run(m, &p, &perm));
            let mut diffs = Vec::new();
            compare(&b.main_json(&perm), &a.main_json(&batch), "main", &mut diffs);
            compare(&b.extras_json(&perm), &a.extras_json(&batch), "extra", &mut diffs);
            prop_assert!(diffs.is_empty(), "{m} {p}: {diffs:?}");
        }
    }

    #[test]
    fn normalised_signals_sum_to_zero(seed in batch_seed()) {
        let batch = build(&seed, 1.0, 1.0);
        // SIOP and joint IGPO with γ = 1: A_{i,0} = Σ_t n_{i,t}, and the n of a group's pool
        // sum to 0.
        for (m, p) in [("siop", json!({})), ("igpo", json!({}))] {
            let out = run(m, &p, &batch);
            for g in &batch.groups {
                let s: f64 = g.trajectories.iter().map(|t| traj_values(&out, &batch, &t.id)[0]).sum();
                prop_assert!(s.abs() < 1e-6, "{m}: group {} sums to {s}", g.prompt_id);
            }
        }
        // MatchTIR: the trajectory-level z-scores of a group of ≥ 2.
        let out = run("matchtir", &json!({}), &batch);
        let Some(Extra::PerTrajectory(ta)) = out.extra("traj_adv") else { panic!() };
        let mut i = 0;
        for g in &batch.groups {
            let n = g.trajectories.len();
            if n > 1 {
                let s: f64 = ta[i..i + n].iter().sum();
                prop_assert!(s.abs() < 1e-6, "matchtir traj_adv sums to {s}");
            }
            i += n;
        }
        // PBSD additive with β = 0 is GRPO.
        let out = run("pbsd", &json!({"mode": "additive", "beta": 0.0}), &batch);
        for g in &batch.groups.iter().filter(|g| g.trajectories.len() > 1).collect::<Vec<_>>() {
            let s: f64 = g.trajectories.iter().map(|t| traj_values(&out, &batch, &t.id)[0]).sum();
            prop_assert!(s.abs() < 1e-6, "pbsd β=0 sums to {s}");
        }
        // Whitened turn-level GAE: mean 0 over the batch.
        let out = run("turn_level_gae", &json!({"whiten": true}), &batch);
        let s: f64 = out.turn_values().unwrap().values.iter().sum();
        prop_assert!(s.abs() < 1e-6, "whitened GAE sums to {s}");
    }

    #[test]
    fn equal_outcomes_and_singletons_follow_the_spec(seed in batch_seed(), r in -1.0..1.0f64) {
        // All trajectories answer at once with the same outcome: IGPO and A²TGPO give 0;
        // PBSD gives 0 in groups of ≥ 2 (a group of one uses mean 0, std 1 instead).
        let mut batch = build(&seed, 1.0, 1.0);
        for t in batch.groups.iter_mut().flat_map(|g| &mut g.trajectories) {
            t.turns.truncate(1);
            t.outcome = Some(r);
        }
        for (m, p) in [("igpo", json!({})), ("a2tgpo", json!({}))] {
            let out = run(m, &p, &batch);
            prop_assert!(out.turn_values().unwrap().values.iter().all(|x| x.abs() < 1e-9), "{m}");
        }
        let out = run("pbsd", &json!({}), &batch);
        for g in batch.groups.iter().filter(|g| g.trajectories.len() > 1) {
            for t in &g.trajectories {
                let got = traj_values(&out, &batch, &t.id)[0];
                prop_assert!(got.abs() < 1e-9, "pbsd: {got}");
            }
        }
        // A group of one single-turn trajectory: IGPO / SIOP pool of one gives 0; MatchTIR
        // uses mean 0, std 1 on both levels.
        let single = Batch { groups: vec![Group {
            trajectories: vec![batch.groups[0].trajectories[0].clone()],
            ..batch.groups[0].clone()
        }] };
        for m in ["igpo", "siop", "a2tgpo"] {
            let out = run(m, &json!({}), &single);
            prop_assert_eq!(&out.turn_values().unwrap().values, &vec![0.0]);
        }
        let out = run("matchtir", &json!({}), &single);
        let Some(Extra::PerTurn(rw)) = out.extra("turn_rewards") else { panic!() };
        let r0 = rw.values[0];
        let want = (r0 + r0) / 2.0 / (1.0 + 1e-6);
        prop_assert!((out.turn_values().unwrap().values[0] - want).abs() < 1e-12);
        // A²TGPO: a singleton turn-index group is neutral (clip = clip_eps).
        let out = run("a2tgpo", &json!({}), &single);
        let Some(Extra::PerTurn(c)) = out.extra("clip_eps") else { panic!() };
        prop_assert!(c.values.iter().all(|&x| (x - 0.2).abs() < 1e-15));
    }
}

/// Brute-force maximum-weight matching total of a `p × g` matrix (p ≤ g), for checking
/// the Hungarian assignment.
fn best_total(s: &[f64], p: usize, g: usize) -> f64 {
    fn go(s: &[f64], p: usize, g: usize, i: usize, used: &mut Vec<bool>) -> f64 {
        if i == p {
            return 0.0;
        }
        let mut best = f64::NEG_INFINITY;
        for j in 0..g {
            if !used[j] {
                used[j] = true;
                best = best.max(s[i * g + j] + go(s, p, g, i + 1, used));
                used[j] = false;
            }
        }
        best
    }
    go(s, p, g, 0, &mut vec![false; g])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn hungarian_finds_a_maximum_matching(p in 1usize..6, g in 1usize..6, seed in prop::collection::vec(0u8..5, 36)) {
        use turnwise_credit::turn::matchtir::assignment::{greedy, hungarian, Sim};
        let s: Vec<f64> = seed[..p * g].iter().map(|&x| f64::from(x) / 4.0).collect();
        let sim = Sim { s: &s, rows: p, cols: g };
        let mut a = vec![None; p];
        hungarian(sim, &mut a);
        let total: f64 = a.iter().enumerate().filter_map(|(i, j)| j.map(|j| s[i * g + j as usize])).sum();
        // the transposed problem has the same optimum
        let t: Vec<f64> = (0..g * p).map(|k| s[(k % p) * g + k / p]).collect();
        let want = if p <= g { best_total(&s, p, g) } else { best_total(&t, g, p) };
        prop_assert!((total - want).abs() < 1e-9, "{total} vs {want}");
        let mut used = vec![false; g];
        for j in a.iter().flatten() {
            prop_assert!(!used[*j as usize]);
            used[*j as usize] = true;
        }
        // greedy never beats the optimum
        greedy(sim, &mut Vec::new(), &mut a);
        let gt: f64 = a.iter().enumerate().filter_map(|(i, j)| j.map(|j| s[i * g + j as usize])).sum();
        prop_assert!(gt <= want + 1e-9);
    }
}

#[test]
fn siop_clusters_raw_answers_like_given_ids() {
    let mut seed_batch = build(
        &[vec![
            (
                vec![(0.3, 0.0, 0.0, 0.0, 0.0, false, 0); 2],
                1.0,
                false,
                0,
                0.9,
            ),
            (
                vec![(0.6, 0.0, 0.0, 0.0, 0.0, false, 0); 3],
                0.0,
                false,
                0,
                0.2,
            ),
            (
                vec![(0.1, 0.0, 0.0, 0.0, 0.0, false, 0); 2],
                0.0,
                false,
                1,
                0.5,
            ),
            (
                vec![(0.8, 0.0, 0.0, 0.0, 0.0, false, 0); 1],
                0.0,
                false,
                3,
                0.5,
            ),
        ]],
        1.0,
        1.0,
    );
    let given = run("siop", &json!({}), &seed_batch);
    let answers = [Some("Paris"), Some(" paris. "), Some("Rome"), None];
    for (t, a) in seed_batch.groups[0].trajectories.iter_mut().zip(answers) {
        t.ext_mut().answer_cluster = None;
        t.turns.last_mut().unwrap().ext_mut().answer = a.map(str::to_owned);
    }
    let raw = run("siop", &json!({}), &seed_batch);
    assert_eq!(given.main_json(&seed_batch), raw.main_json(&seed_batch));
    // exact clustering separates "Paris" from " paris. "
    let exact = run("siop", &json!({"clusterer": "exact"}), &seed_batch);
    assert_ne!(given.main_json(&seed_batch), exact.main_json(&seed_batch));
}
