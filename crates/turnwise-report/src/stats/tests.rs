use super::*;
use proptest::prelude::*;

/// Brute force: every one of the nⁿ ordered resamples, equally weighted.
fn brute_force(xs: &[f64]) -> Vec<(f64, f64)> {
    let n = xs.len();
    let total = n.pow(n as u32);
    let mut out: Vec<(f64, f64)> = (0..total)
        .map(|mut k| {
            let mut s = 0.0;
            for _ in 0..n {
                s += xs[k % n];
                k /= n;
            }
            (s / n as f64, 1.0)
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

#[test]
fn two_values_give_the_textbook_bootstrap_distribution() {
    // {0, 1}: resample means 0, ½, 1 with probabilities ¼, ½, ¼.
    let d = bootstrap_means(&[0.0, 1.0], 0);
    assert_eq!(d, vec![(0.0, 1.0), (0.5, 2.0), (1.0, 1.0)]);
    assert_eq!(
        bootstrap_ci(&[0.0, 1.0], 0.95, 0),
        Some(Interval { lo: 0.0, hi: 1.0 })
    );
    // 40% interval: the 30% and 70% quantiles are both ½.
    assert_eq!(
        bootstrap_ci(&[0.0, 1.0], 0.4, 0),
        Some(Interval { lo: 0.5, hi: 0.5 })
    );
}

#[test]
fn one_value_and_constant_samples_have_a_point_interval() {
    assert_eq!(
        bootstrap_ci(&[3.5], 0.95, 0),
        Some(Interval { lo: 3.5, hi: 3.5 })
    );
    assert_eq!(
        bootstrap_ci(&[2.0; 7], 0.95, 0),
        Some(Interval { lo: 2.0, hi: 2.0 })
    );
    assert_eq!(bootstrap_ci(&[], 0.95, 0), None);
    assert_eq!(bootstrap_ci(&[1.0, f64::NAN], 0.95, 0), None);
}

#[test]
fn monte_carlo_bootstrap_is_seeded_and_close_to_the_exact_one() {
    let xs: Vec<f64> = (0..12).map(|i| ((i * 37) % 11) as f64).collect();
    let a = bootstrap_ci(&xs, 0.95, 7).unwrap();
    assert_eq!(a, bootstrap_ci(&xs, 0.95, 7).unwrap());
    // Normal approximation of the bootstrap distribution: mean ± 1.96·σ/√n (σ with n).
    let m = mean(&xs);
    let s = std_dev(&xs) * ((xs.len() - 1) as f64 / xs.len() as f64).sqrt();
    let half = 1.96 * s / (xs.len() as f64).sqrt();
    assert!((a.lo - (m - half)).abs() < 0.25, "{a:?} vs {}", m - half);
    assert!((a.hi - (m + half)).abs() < 0.25, "{a:?} vs {}", m + half);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn exact_bootstrap_matches_brute_force(xs in prop::collection::vec(-100.0f64..100.0, 1..6)) {
        let exact = bootstrap_means(&xs, 0);
        let total: f64 = exact.iter().map(|p| p.1).sum();
        prop_assert!((total - (xs.len() as f64).powi(xs.len() as i32)).abs() < 1e-6);
        let brute = brute_force(&xs);
        for q in [0.025, 0.1, 0.5, 0.9, 0.975] {
            let (a, b) = (quantile(&exact, q), quantile(&brute, q));
            prop_assert!((a - b).abs() < 1e-9, "q {q}: {a} vs {b}");
        }
    }

    #[test]
    fn bootstrap_interval_lies_within_the_sample_and_holds_the_mean(
        xs in prop::collection::vec(-1e3f64..1e3, 1..9)
    ) {
        let ci = bootstrap_ci(&xs, 0.95, 1).unwrap();
        let lo = xs.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        prop_assert!(lo - 1e-9 <= ci.lo && ci.lo <= ci.hi && ci.hi <= hi + 1e-9);
        let m = mean(&xs);
        prop_assert!(ci.lo <= m + 1e-9 && m - 1e-9 <= ci.hi, "{ci:?} {m}");
    }

    #[test]
    fn sign_flip_p_is_symmetric_and_at_least_its_minimum(
        d in prop::collection::vec(-10.0f64..10.0, 1..10)
    ) {
        let p = sign_flip_p(&d, 0).unwrap();
        let neg: Vec<f64> = d.iter().map(|x| -x).collect();
        prop_assert_eq!(p, sign_flip_p(&neg, 0).unwrap());
        prop_assert!(p >= sign_flip_min_p(d.len()) - 1e-15 && p <= 1.0);
    }
}

#[test]
fn sign_flip_textbook_cases() {
    // All five differences positive: only the observed pattern and its mirror reach 15.
    assert_eq!(sign_flip_p(&[1.0, 2.0, 3.0, 4.0, 5.0], 0), Some(0.0625));
    assert_eq!(sign_flip_min_p(5), 0.0625);
    // {1, 2, 3}: |Σ| over the 8 patterns is 6, 4, 2, 0, 0, 2, 4, 6: two reach 6.
    assert_eq!(sign_flip_p(&[1.0, 2.0, 3.0], 0), Some(0.25));
    // A zero mean difference: every pattern reaches it.
    assert_eq!(sign_flip_p(&[1.0, -1.0], 0), Some(1.0));
    // Ties within rounding count (0.1 + 0.2 vs 0.3).
    assert_eq!(sign_flip_p(&[0.1, 0.2, -0.3], 0), Some(1.0));
    assert_eq!(sign_flip_p(&[], 0), None);
}

#[test]
fn sign_flip_monte_carlo_beyond_twenty_pairs() {
    let d = vec![1.0; 25];
    // Only the all-positive and all-negative patterns reach 25: p ≈ 2/2²⁵, i.e. ≈ 1/(B+1).
    let p = sign_flip_p(&d, 3).unwrap();
    assert!(p > 0.0 && p < 1e-4, "{p}");
}

#[test]
fn paired_t_textbook_case() {
    // d = 1..5: t = 3 / (√2.5 / √5) = 4.2426, df = 4, two-sided p = 0.013236.
    let p = paired_t_p(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
    assert!((p - 0.013_236).abs() < 1e-5, "{p}");
    assert_eq!(paired_t_p(&[1.0]), None);
    assert_eq!(paired_t_p(&[2.0, 2.0]), None);
}
