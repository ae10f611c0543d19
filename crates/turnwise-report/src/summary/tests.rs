use std::path::PathBuf;

use super::*;
use crate::run::Run;

/// A finished run whose evaluations are `scores` at steps 0, 10, 20, …
pub(crate) fn entry(env: &str, method: &str, seed: u64, scores: &[f64]) -> Entry {
    let evals: Vec<Point> = scores
        .iter()
        .enumerate()
        .map(|(i, &s)| Point {
            step: 10 * i as u64,
            seconds: 5.0 * (i + 1) as f64,
            score: s,
        })
        .collect();
    Entry {
        run: Run {
            dir: PathBuf::from(format!("/runs/{method}/{seed}")),
            config_text: String::new(),
            config: toml::Table::new(),
            env: env.into(),
            method: method.into(),
            seed,
            steps_planned: 10 * (scores.len() as u64 - 1),
            metric: Metric::NormalisedScore,
            eval_success: vec![1.0; evals.len()],
            evals,
            steps: vec![],
            final_line: Some(serde_json::json!({"phase": "final", "stopped_by": "steps"})),
            bad_lines: 0,
        },
        label: method.into(),
        source: PathBuf::from("/runs"),
        failed: None,
    }
}

#[test]
fn summary_has_means_intervals_auc_targets_and_paired_tests() {
    let mut es = Vec::new();
    for s in 0..5u64 {
        es.push(entry("maze", "grpo", s, &[50.0, 60.0, 70.0 + s as f64]));
        es.push(entry(
            "maze",
            "trloo",
            s,
            &[50.0, 96.0, 98.0 + 0.1 * s as f64],
        ));
    }
    let sum = summarise(&es, Some("grpo"), None);
    assert_eq!(sum.groups.len(), 2);
    let g = &sum.groups[0];
    assert_eq!((g.method.as_str(), g.seeds.len()), ("grpo", 5));
    assert_eq!(g.final_score.mean, Some(72.0));
    let ci = g.final_score.ci.unwrap();
    assert!(ci.lo >= 70.0 && ci.hi <= 74.0 && ci.lo < 72.0 && ci.hi > 72.0);
    assert!(g.vs_baseline.is_none());
    assert_eq!(g.to_target.reached, 0);
    // AUC of seed 0: (10·55 + 10·65) / 20 = 60.
    assert_eq!(g.auc.per_seed[0], Some(60.0));

    let t = &sum.groups[1];
    assert_eq!(t.to_target.reached, 5);
    assert_eq!(t.to_target.steps[0], Some(10));
    assert_eq!(t.to_target.seconds[0], Some(10.0));
    let v = t.vs_baseline.as_ref().unwrap();
    assert_eq!(v.pairs, 5);
    // Differences 28 − 0.9·s: all positive, so the exact test gives its minimum 2/32.
    assert_eq!(v.p_permutation, Some(0.0625));
    assert_eq!(v.p_min, 0.0625);
    assert!((v.mean_diff.unwrap() - 26.2).abs() < 1e-9);
    assert!(v.p_t.unwrap() < 1e-4);
    let ci = v.ci_diff.unwrap();
    assert!(ci.lo > 0.0);
}

#[test]
fn pairs_only_seeds_both_methods_have() {
    let es = vec![
        entry("maze", "grpo", 0, &[0.0, 10.0]),
        entry("maze", "grpo", 1, &[0.0, 20.0]),
        entry("maze", "rloo", 1, &[0.0, 25.0]),
        entry("maze", "rloo", 2, &[0.0, 99.0]),
    ];
    let sum = summarise(&es, Some("grpo"), Some(50.0));
    let v = sum.groups[1].vs_baseline.as_ref().unwrap();
    assert_eq!((v.pairs, v.mean_diff), (1, Some(5.0)));
    assert_eq!(sum.groups[1].to_target.reached, 1);
    assert_eq!(sum.groups[1].to_target.target, 50.0);
}

#[test]
fn failed_and_incomplete_runs_keep_their_last_score_and_say_so() {
    let mut a = entry("maze", "grpo", 0, &[50.0, 31.0]);
    a.failed = Some("diverged".into());
    let mut b = entry("maze", "grpo", 1, &[50.0, 90.0]);
    b.run.final_line = None;
    let sum = summarise(&[a, b], None, None);
    let g = &sum.groups[0];
    assert_eq!(g.status, vec!["failed: diverged", "incomplete"]);
    assert_eq!(g.final_score.per_seed, vec![Some(31.0), Some(90.0)]);
}

#[test]
fn summary_serialises() {
    let es = vec![entry("maze", "grpo", 0, &[1.0, 2.0])];
    let v = serde_json::to_value(summarise(&es, Some("grpo"), None)).unwrap();
    assert_eq!(v["groups"][0]["final_score"]["mean"], 2.0);
    assert_eq!(v["groups"][0]["metric"], "normalised_score");
}
