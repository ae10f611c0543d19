//! The loss-side reference vectors (`policy_loss`, `kl_estimate`, `disco_kl_penalty`,
//! `epo_phase_weight`, `epo_history`, `epo_entropy`) pass, plus gradient properties the
//! vectors cannot show (clip gradients, GSPO, DisCO weights, straight-through KL).

use std::path::PathBuf;

use tch::{Kind, Tensor};
use turnwise_core::jsonl::{self, Record};
use turnwise_credit::check::compare;
use turnwise_train::loss::{self, disco, ppo, vectors, AggMode, Normaliser};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

#[test]
fn loss_side_vectors_match() {
    let mut checked = std::collections::BTreeMap::<String, usize>::new();
    let mut failures = Vec::new();
    for rec in jsonl::open(&fixture("vectors_outcome.jsonl")).unwrap() {
        let (line, Record::Case(case)) = rec.unwrap() else {
            panic!("not a case")
        };
        let Some(eval) = vectors::evaluator(&case.method) else {
            continue;
        };
        *checked.entry(case.method.clone()).or_default() += 1;
        match eval(&case) {
            Ok(got) => {
                let mut diffs = Vec::new();
                compare(
                    &got,
                    case.expected.as_ref().unwrap(),
                    "expected",
                    &mut diffs,
                );
                if !diffs.is_empty() {
                    failures.push(format!("line {line} {}: {diffs:?}", case.name));
                }
            }
            Err(e) => failures.push(format!("line {line} {}: {e}", case.name)),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    for (kind, _) in vectors::KINDS {
        assert!(
            checked.get(*kind).copied().unwrap_or(0) >= 1,
            "no case of {kind}"
        );
    }
}

fn d(v: &[f64]) -> Tensor {
    Tensor::from_slice(v).to_kind(Kind::Double)
}

#[test]
fn clipped_tokens_have_no_gradient_and_dual_clip_caps_negative_advantages() {
    // ratio 2.0 with A > 0 is clipped at 1.2 (no gradient); ratio 0.5 with A > 0 is not.
    let new = d(&[2f64.ln(), 0.5f64.ln()])
        .view([1, 2])
        .set_requires_grad(true);
    let old = d(&[0.0, 0.0]).view([1, 2]);
    let rho = ppo::ratio(
        &new,
        &old,
        &d(&[1.0, 1.0]).view([1, 2]),
        ppo::RatioKind::Token,
    );
    let (l, active) = ppo::clipped_surrogate(
        &rho,
        &d(&[1.0, 1.0]).view([1, 2]),
        &ppo::Clip::uniform(0.2, 0.28, None),
    );
    l.sum(Kind::Double).backward();
    let g: Vec<f64> = Vec::try_from(new.grad().view([-1])).unwrap();
    assert_eq!(g[0], 0.0);
    assert!(
        (g[1] + 0.5).abs() < 1e-12,
        "d(−A·ρ)/dlogp = −ρ = −0.5, got {}",
        g[1]
    );
    assert_eq!(
        Vec::<f32>::try_from(active.view([-1])).unwrap(),
        vec![1.0, 0.0]
    );
    // Dual clip: A = −1, ρ = 10 → loss capped at −A·c = 3.
    let rho = d(&[10.0]).view([1, 1]);
    let (l, _) = ppo::clipped_surrogate(
        &rho,
        &d(&[-1.0]).view([1, 1]),
        &ppo::Clip::uniform(0.2, 0.2, Some(3.0)),
    );
    assert_eq!(l.double_value(&[0, 0]), 3.0);
}

#[test]
fn per_row_clip_ranges_apply_row_by_row() {
    let rho = d(&[1.5, 1.5]).view([2, 1]);
    let adv = d(&[1.0, 1.0]).view([2, 1]);
    let clip = ppo::Clip {
        low: d(&[0.2, 0.2]).view([2, 1]),
        high: d(&[0.1, 0.4]).view([2, 1]),
        dual_c: None,
    };
    let (l, _) = ppo::clipped_surrogate(&rho, &adv, &clip);
    let v: Vec<f64> = Vec::try_from(l.view([-1])).unwrap();
    // A > 0, ρ = 1.5: the row with ε_high = 0.1 is clipped at 1.1, the other at 1.4.
    assert!(
        (v[0] + 1.1).abs() < 1e-12 && (v[1] + 1.4).abs() < 1e-12,
        "{v:?}"
    );
    let rho = d(&[0.5, 0.5]).view([2, 1]);
    let clip = ppo::Clip {
        low: d(&[0.2, 0.6]).view([2, 1]),
        high: d(&[0.2, 0.2]).view([2, 1]),
        dual_c: None,
    };
    let (l, _) = ppo::clipped_surrogate(&rho, &adv, &clip);
    let v: Vec<f64> = Vec::try_from(l.view([-1])).unwrap();
    assert!(
        (v[0] + 0.5).abs() < 1e-12 && (v[1] + 0.5).abs() < 1e-12,
        "{v:?}"
    );
}

#[test]
fn gspo_ratio_is_the_sequence_geometric_mean_with_token_gradients() {
    let new = d(&[-1.0, -2.0, 0.0]).view([1, 3]).set_requires_grad(true);
    let old = d(&[-1.5, -1.5, -9.0]).view([1, 3]);
    let mask = d(&[1.0, 1.0, 0.0]).view([1, 3]);
    let r = ppo::ratio(&new, &old, &mask, ppo::RatioKind::Sequence);
    let expect = ((0.5 - 0.5) / 2.0f64).exp();
    assert!((r.double_value(&[0, 0]) - expect).abs() < 1e-12);
    assert!((r.double_value(&[0, 1]) - expect).abs() < 1e-12);
    (r * &mask).sum(Kind::Double).backward();
    let g: Vec<f64> = Vec::try_from(new.grad().view([-1])).unwrap();
    assert!((g[0] - expect).abs() < 1e-12 && g[2] == 0.0);
}

#[test]
fn aggregation_modes_match_hand_computation() {
    let x = d(&[1.0, 2.0, 3.0, 4.0, 0.0, 0.0]).view([2, 3]);
    let mask = d(&[1.0, 1.0, 1.0, 1.0, 0.0, 0.0]).view([2, 3]);
    let counts = [3, 1];
    let cases = [
        (AggMode::TokenMean, 10.0 / 4.0),
        (AggMode::SeqMeanTokenSum, (6.0 + 4.0) / 2.0),
        (AggMode::SeqMeanTokenMean, (2.0 + 4.0) / 2.0),
        (AggMode::SeqMeanTokenSumNorm, 10.0 / 3.0),
    ];
    for (mode, want) in cases {
        let n = Normaliser::from_counts(mode, &counts, None);
        let got = loss::aggregate(&x, &mask, &n).double_value(&[]);
        assert!((got - want).abs() < 1e-12, "{mode:?}: {got} vs {want}");
        // Splitting rows into two micro-batches and summing gives the same value.
        let a = loss::aggregate(&x.narrow(0, 0, 1), &mask.narrow(0, 0, 1), &n).double_value(&[]);
        let b = loss::aggregate(&x.narrow(0, 1, 1), &mask.narrow(0, 1, 1), &n).double_value(&[]);
        assert!((a + b - want).abs() < 1e-12, "{mode:?} split");
    }
}

#[test]
fn disco_gradients_are_the_reference_weights() {
    // One question, two positives, two negatives, plus one skipped question (n_Q = 2).
    let s = d(&[0.5, -0.2, -1.0, -0.4, 0.3]).set_requires_grad(true);
    let outcomes = [1.0, 1.0, 0.0, 0.0, 1.0];
    let tau = 10.0;
    let j = disco::objective(&s, &[vec![0, 1, 2, 3], vec![4]], &outcomes, tau, false, 2);
    j.backward();
    let g: Vec<f64> = Vec::try_from(s.grad()).unwrap();
    let (z0, z1) = ((-1.0f64 / tau).exp(), (-0.4f64 / tau).exp());
    let want = [
        0.25,
        0.25,
        -z0 / (z0 + z1) / 2.0,
        -z1 / (z0 + z1) / 2.0,
        0.0,
    ];
    for (a, b) in g.iter().zip(want) {
        assert!((a - b).abs() < 1e-12, "{g:?} vs {want:?}");
    }
    let s2 = d(&[0.5, -0.2, -1.0, -0.4]).set_requires_grad(true);
    disco::objective(&s2, &[vec![0, 1, 2, 3]], &outcomes, tau, true, 1).backward();
    let g: Vec<f64> = Vec::try_from(s2.grad()).unwrap();
    assert_eq!(g, vec![0.5, 0.5, -0.5, -0.5]);
}

#[test]
fn straight_through_kl_has_k3_value_and_k2_gradient() {
    let x = d(&[-0.5, -2.0]).set_requires_grad(true);
    let y = d(&[-0.7, -0.4]);
    let v = loss::kl_estimate(&x, &y, loss::KlKind::K3Plus);
    let k3 = loss::kl_estimate(&x, &y, loss::KlKind::K3);
    assert!(f64::try_from((&v - &k3).abs().max()).unwrap() < 1e-12);
    v.sum(Kind::Double).backward();
    let g: Vec<f64> = Vec::try_from(x.grad()).unwrap();
    assert!(
        (g[0] - 0.2).abs() < 1e-12 && (g[1] + 1.6).abs() < 1e-12,
        "{g:?}"
    );
}
