//! Properties of the outcome-level estimators (`credit-outcome.md`):
//!
//! * finite output for any finite input, magnitudes 1e-300 … 1e300 and mixed;
//! * zero-sum where the method promises it: GRPO, Dr. GRPO, RLOO, PRE-GRPO, DisCO (per
//!   group, over trajectories); over-turn mask with `exclude_from_stats` (over the kept
//!   trajectories); TRLOO, the turn mean baseline and MAPO's turn term (per prompt and turn
//!   index reached by ≥ 2); SCRL (per position reached by the whole group); GiGPO with
//!   per-step episode statistics (over all turns of a group); REINFORCE++-baseline (over
//!   all tokens of the batch);
//! * permuting trajectories within a group permutes the output;
//! * the group-of-one and all-equal rules of each section;
//! * missing inputs are errors naming the field, the method and the place.

mod outcome_support;

use outcome_support::*;
use proptest::prelude::*;
use serde_json::json;
use turnwise_credit::{registry, CreditError};

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn finite_for_any_finite_input(spec in spec(0), scale in scale()) {
        for mode in [Mode::Real, Mode::Binary] {
            let batch = build(&spec, scale, mode);
            for (m, p) in variants() {
                match registry::run(m, &batch, &p, &[]) {
                    Ok(out) => {
                        for v in values(&out) {
                            prop_assert!(v.is_finite(), "{m} {p:?}: {v} at scale {scale:e} ({mode:?})");
                        }
                    }
                    Err(CreditError::BadInput { method, .. })
                        if mode == Mode::Real && ["a_grae", "scrl"].contains(&method) => {}
                    Err(CreditError::BadInput { method, .. }) if method.starts_with("reinforce_pp") => {}
                    Err(e) => prop_assert!(false, "{m} {p:?}: {e}"),
                }
            }
        }
    }

    #[test]
    fn per_trajectory_values_sum_to_zero(spec in spec(1), scale in scale()) {
        for (m, p, mode) in [
            ("grpo", json!({}), Mode::Real),
            ("dr_grpo", json!({}), Mode::Real),
            ("rloo", json!({}), Mode::Real),
            ("pre_grpo", json!({}), Mode::Real),
            ("disco", json!({}), Mode::Binary),
            ("disco", json!({"basic": true}), Mode::Binary),
        ] {
            let batch = build(&spec, scale, mode);
            let out = run(m, &p, &batch);
            for (g, first) in groups(&batch) {
                if g.trajectories.len() < 2 {
                    continue;
                }
                let a: Vec<f64> = (0..g.trajectories.len()).map(|j| out.traj(first + j)[0]).collect();
                prop_assert!(sums_to_zero(&a), "{m}: {a:?}");
            }
        }
        // over-turn mask: zero-sum over the trajectories kept in the statistics
        let batch = build(&spec, scale, Mode::Real);
        let out = run("over_turn_mask", &json!({"exclude_from_stats": true}), &batch);
        for (g, first) in groups(&batch) {
            let kept: Vec<f64> = g.trajectories.iter().enumerate()
                .filter(|(_, t)| !t.truncated).map(|(j, _)| out.traj(first + j)[0]).collect();
            if kept.len() >= 2 {
                prop_assert!(sums_to_zero(&kept), "over_turn_mask: {kept:?}");
            }
        }
    }

    #[test]
    fn per_turn_index_values_sum_to_zero(spec in spec(0), scale in scale()) {
        let batch = build(&spec, scale, Mode::Real);
        for (m, p) in [
            ("trloo", json!({"gamma": 0.9})),
            ("turn_mean_baseline", json!({})),
            ("mapo", json!({"lam": 1.0, "incremental": true})),
        ] {
            let out = run(m, &p, &batch);
            for (g, first) in groups(&batch) {
                for k in 0..g.max_turns() {
                    let col: Vec<f64> = (0..g.trajectories.len())
                        .filter_map(|j| out.traj(first + j).get(k).copied()).collect();
                    if col.len() >= 2 {
                        prop_assert!(sums_to_zero(&col), "{m} turn {k}: {col:?}");
                    }
                }
            }
        }
        let bin = build(&spec, scale, Mode::Binary);
        let out = run("scrl", &json!({}), &bin);
        for (g, first) in groups(&bin) {
            let full = g.trajectories.iter().map(|t| t.turns.len()).min().unwrap_or(0);
            for k in 0..full {
                let col: Vec<f64> = (0..g.trajectories.len()).map(|j| out.traj(first + j)[k]).collect();
                if col.len() >= 2 {
                    prop_assert!(sums_to_zero(&col), "scrl position {k}: {col:?}");
                }
            }
        }
    }

    #[test]
    fn gigpo_per_step_and_rpp_baseline_sum_to_zero(spec in spec(0), scale in scale()) {
        let batch = build(&spec, scale, Mode::Real);
        for mode in ["mean_std_norm", "mean_norm"] {
            let out = run("gigpo", &json!({"mode": mode, "episode_stats": "per_step"}), &batch);
            // the episode term alone, to scale the tolerance when the two terms cancel
            let ep = run("gigpo", &json!({"mode": mode, "episode_stats": "per_step", "omega": 0.0}), &batch);
            for (g, first) in groups(&batch) {
                let rows = first..first + g.trajectories.len();
                let all: Vec<f64> = rows.clone().flat_map(|i| out.traj(i).to_vec()).collect();
                let size: f64 = rows.flat_map(|i| ep.traj(i).to_vec()).map(f64::abs).sum();
                let (s, m): (f64, f64) = (all.iter().sum(), all.iter().map(|x| x.abs()).sum());
                if all.len() >= 2 {
                    prop_assert!(s.abs() <= 1e-9 * (m + size) + 1e-300, "gigpo {mode}: {all:?}");
                }
            }
        }
        if batch.trajectories().flat_map(|t| &t.turns).map(|u| u.tokens).sum::<u32>() >= 2 {
            let out = run("reinforce_pp", &json!({"baseline": true}), &batch);
            let weighted: Vec<f64> = batch.trajectories().enumerate()
                .flat_map(|(i, t)| t.turns.iter().zip(out.traj(i)).map(|(u, a)| a * u.tokens as f64).collect::<Vec<_>>())
                .collect();
            // verl's whitening divides by count + 1e-8, so Σ A = Σx·1e-8/(n + 1e-8)/root
            // with root ≥ 1e-4: |Σ A| ≤ max|x|·1e-4 ≤ 2e-4·max|R| (x = R − group mean).
            let rmax = batch.trajectories().filter_map(|t| t.outcome).fold(0.0f64, |m, r| m.max(r.abs()));
            let (s, m): (f64, f64) = (weighted.iter().sum(), weighted.iter().map(|x| x.abs()).sum());
            prop_assert!(s.abs() <= 1e-9 * m + 2e-4 * rmax + 1e-300, "reinforce_pp baseline: {weighted:?}");
        }
    }

    #[test]
    fn permuting_trajectories_permutes_the_output(spec in spec(0), scale in scale(), seed in any::<u64>()) {
        for mode in [Mode::Real, Mode::Binary] {
            let batch = build(&spec, scale, mode);
            let shuffled = shuffle_within_groups(&batch, seed);
            for (m, p) in variants() {
                let (Ok(a), Ok(b)) = (registry::run(m, &batch, &p, &[]), registry::run(m, &shuffled, &p, &[])) else {
                    continue; // same error either way is checked by the finiteness property
                };
                let (ja, jb) = (a.main_json(&batch), b.main_json(&shuffled));
                let tol = 1e-9 * values(&a).iter().fold(1e-300f64, |x, v| x.max(v.abs()));
                for (id, va) in ja.as_object().unwrap() {
                    let (fa, fb) = (flatten(va), flatten(&jb[id]));
                    prop_assert_eq!(fa.len(), fb.len());
                    for (x, y) in fa.iter().zip(&fb) {
                        prop_assert!((x - y).abs() <= tol, "{m} {p:?} {id}: {x} vs {y}");
                    }
                }
            }
        }
    }

    #[test]
    fn groups_of_one_follow_each_sections_rule(spec in spec(1), scale in scale()) {
        let batch = singletons(&build(&spec, scale, Mode::Real));
        let bin = singletons(&build(&spec, scale, Mode::Binary));
        let e = 1.0 + 1e-6;
        let grpo = run("grpo", &json!({}), &batch);
        let dr = run("dr_grpo", &json!({}), &batch);
        let raw = run("rloo", &json!({}), &batch);
        let zero = run("rloo", &json!({"singleton": "zero"}), &batch);
        let trloo = run("trloo", &json!({"gamma": 1.0}), &batch);
        let tmb = run("turn_mean_baseline", &json!({}), &batch);
        let gigpo = run("gigpo", &json!({}), &distinct_anchors(&batch));
        let agrae = run("a_grae", &json!({}), &bin);
        let otm = run("over_turn_mask", &json!({}), &batch);
        let disco = run("disco", &json!({}), &bin);
        let scrl = run("scrl", &json!({}), &bin);
        for (i, t) in batch.trajectories().enumerate() {
            let r = t.outcome.unwrap();
            // G_k = r_k + G_{k+1}, in the same order of operations as the definition
            let mut suffix = vec![0.0; t.turns.len()];
            let mut acc = 0.0;
            for (s, u) in suffix.iter_mut().zip(&t.turns).rev() {
                acc += u.reward.unwrap(); // r + acc == acc + r exactly
                *s = acc;
            }
            for (k, _) in t.turns.iter().enumerate() {
                prop_assert!(close(grpo.traj(i)[k], r / e), "grpo");
                prop_assert!(close(dr.traj(i)[k], r), "dr_grpo");
                prop_assert!(close(raw.traj(i)[k], r), "rloo raw");
                prop_assert_eq!(zero.traj(i)[k], 0.0, "rloo zero");
                prop_assert!(close(trloo.traj(i)[k], suffix[k]), "trloo: {} vs {}", trloo.traj(i)[k], suffix[k]);
                prop_assert!(close(tmb.traj(i)[k], suffix[k]), "turn_mean_baseline");
                // one step row: μ = 0, σ = 1; several: their std is 0 → episode term 0
                let ep = if t.turns.len() == 1 { r / e } else { 0.0 };
                prop_assert!(close(gigpo.traj(i)[k], ep), "gigpo: {} vs {ep}", gigpo.traj(i)[k]);
                prop_assert_eq!(agrae.traj(i)[k], 0.0, "a_grae guarded singleton");
                prop_assert!(close(otm.traj(i)[k], if t.truncated { 0.0 } else { r / e }), "over_turn_mask");
                prop_assert_eq!(disco.traj(i)[k], 0.0, "disco");
            }
        }
        for (i, t) in bin.trajectories().enumerate() {
            let mut run_c = 1.0;
            for k in 0..t.turns.len() {
                run_c *= t.turns[k].reward.unwrap();
                prop_assert!(close(scrl.traj(i)[k], run_c / e), "scrl");
            }
        }
    }

    #[test]
    fn all_equal_outcomes_give_zero(spec in spec(1), scale in scale(), c in 0.0f64..1.0) {
        let v = c * if scale == MIXED { 1.0 } else { scale };
        let batch = all_equal(&build(&spec, scale, Mode::Real), v, 0.0);
        let returns = all_equal(&build(&spec, scale, Mode::Real), v, v);
        let unit = all_equal(&build(&spec, 1.0, Mode::Binary), c, c);
        for (m, p, b) in [
            ("grpo", json!({}), &batch),
            ("grpo", json!({"std_mode": "batch"}), &batch),
            ("dr_grpo", json!({}), &batch),
            ("over_turn_mask", json!({"exclude_from_stats": true}), &batch),
            ("gigpo", json!({}), &batch),
            ("gigpo", json!({"mode": "mean_norm", "episode_stats": "per_trajectory"}), &batch),
            ("pre_grpo", json!({"w_eff": 0.0}), &batch),
            ("a_grae", json!({}), &unit),
            ("scrl", json!({}), &unit),
            ("seeupo", json!({"special_norm": false}), &batch),
        ] {
            let out = run(m, &p, b);
            for (i, t) in b.trajectories().enumerate() {
                let kept = b.groups.iter().any(|g| g.trajectories.iter().filter(|u| !u.truncated).count() >= 2
                    && g.trajectories.iter().any(|u| u.id == t.id));
                if m != "over_turn_mask" || (!t.truncated && kept) {
                    for &x in out.traj(i) {
                        prop_assert_eq!(x, 0.0, "{} {}", m, p);
                    }
                }
            }
        }
        // leave-one-out and turn baselines: zero up to the rounding of the sum
        for m in ["rloo", "trloo", "turn_mean_baseline"] {
            let out = run(m, &json!({}), &returns);
            for x in &out.values {
                prop_assert!(x.abs() <= 1e-12 * 8.0 * v.abs() + 1e-300, "{m}: {x}");
            }
        }
    }
}

#[test]
fn every_outcome_method_is_covered() {
    let names: Vec<&str> = variants().iter().map(|(m, _)| *m).collect();
    for m in turnwise_credit::outcome::METHODS {
        let n = m.info().name;
        assert!(n == "dapo_overlong" || names.contains(&n), "{n} not tested");
    }
}

#[test]
fn missing_inputs_name_field_method_and_place() {
    let spec = vec![vec![traj_spec(3), traj_spec(2)]];
    let full = build(&spec, 1.0, Mode::Binary);
    type Mutate = fn(&mut turnwise_core::Batch);
    let cases: [(&str, &str, Mutate); 9] = [
        ("grpo", "outcome", |b| {
            b.groups[0].trajectories[1].outcome = None
        }),
        ("rloo", "outcome", |b| {
            b.groups[0].trajectories[1].outcome = None
        }),
        ("trloo", "reward", |b| {
            b.groups[0].trajectories[1].turns[1].reward = None
        }),
        ("gigpo", "anchor", |b| {
            b.groups[0].trajectories[1].turns[1].anchor = None
        }),
        ("pre_grpo", "score", |b| {
            b.groups[0].trajectories[1].turns[1].score = None
        }),
        ("mapo", "score", |b| {
            b.groups[0].trajectories[1].turns[1].score = None
        }),
        ("disco", "seq_score", |b| {
            b.groups[0].trajectories[1].ext_mut().seq_score = None
        }),
        ("seeupo", "seq_log_ratio", |b| {
            b.groups[0].trajectories[1].turns[1].ext_mut().seq_log_ratio = None
        }),
        ("ufo_reward", "answer", |b| {
            let e = b.groups[0].trajectories[1].turns[0].ext_mut();
            (e.answer, e.valid, e.correct) = (None, Some(true), Some(false));
        }),
    ];
    for (m, field, mutate) in cases {
        let mut b = full.clone();
        if m == "disco" {
            b.groups[0].trajectories[0].outcome = Some(0.0);
            b.groups[0].trajectories[1].outcome = Some(1.0);
        }
        registry::run(m, &b, &Default::default(), &[]).unwrap_or_else(|e| panic!("{m}: {e}"));
        mutate(&mut b);
        let e = registry::run(m, &b, &Default::default(), &[]).unwrap_err();
        match &e {
            CreditError::MissingField {
                method,
                field: f,
                location,
            } => {
                assert_eq!((*method, *f), (m, field), "{e}");
                assert!(location.contains("\"g0t1\""), "{e}");
            }
            other => panic!("{m}: expected MissingField, got {other}"),
        }
    }
}

#[test]
fn huge_values_keep_their_relative_order_and_scale() {
    // GRPO of {1e300, −1e300, 0} equals GRPO of {1, −1, 0}: scaling cancels exactly in σ units.
    let mut spec = vec![vec![traj_spec(1), traj_spec(1), traj_spec(1)]];
    for (t, u) in spec[0].iter_mut().zip([1.0, -1.0, 0.0]) {
        t.outcome = u;
    }
    let big = run(
        "grpo",
        &json!({"eps": 0.0}),
        &build(&spec, 1e300, Mode::Real),
    );
    let one = run("grpo", &json!({"eps": 0.0}), &build(&spec, 1.0, Mode::Real));
    for (a, b) in big.values.iter().zip(&one.values) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
}
