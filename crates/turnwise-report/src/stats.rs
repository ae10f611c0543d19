//! Statistics over seeds: the percentile bootstrap interval of a mean (exact for small
//! samples), the paired sign-flip permutation test, and the paired t-test.
//!
//! With the handful of seeds RL comparisons can afford, every figure here is computed
//! exactly where possible: the bootstrap enumerates every distinct resample (a multiset of
//! the n values, weighted by its multinomial probability) up to [`EXACT_BOOTSTRAP_MAX_N`]
//! values, and the permutation test enumerates all 2ⁿ sign patterns up to
//! [`EXACT_PERMUTATION_MAX_N`] pairs. Larger samples fall back to seeded Monte Carlo, so the
//! same input always gives the same output.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Largest sample whose bootstrap distribution is enumerated exactly
/// (C(2n−1, n) = 92,378 distinct resamples at n = 10).
pub const EXACT_BOOTSTRAP_MAX_N: usize = 10;
/// Monte Carlo resamples above [`EXACT_BOOTSTRAP_MAX_N`].
pub const BOOTSTRAP_RESAMPLES: usize = 20_000;
/// Largest number of pairs whose 2ⁿ sign patterns are enumerated exactly.
pub const EXACT_PERMUTATION_MAX_N: usize = 20;
/// Monte Carlo sign patterns above [`EXACT_PERMUTATION_MAX_N`].
pub const PERMUTATION_RESAMPLES: usize = 100_000;

/// A two-sided interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
}

/// Arithmetic mean (NaN for an empty slice).
pub fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Sample standard deviation (n − 1 denominator; NaN below two values).
pub fn std_dev(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return f64::NAN;
    }
    let m = mean(xs);
    (xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (xs.len() - 1) as f64).sqrt()
}

/// The `q`-quantile of a discrete distribution given as (value, weight) pairs sorted by
/// value: the smallest value whose cumulative weight reaches `q` of the total (numpy's
/// `inverted_cdf`).
fn quantile(sorted: &[(f64, f64)], q: f64) -> f64 {
    let total: f64 = sorted.iter().map(|p| p.1).sum();
    let need = q * total * (1.0 - 1e-12);
    let mut cum = 0.0;
    for &(v, w) in sorted {
        cum += w;
        if cum >= need {
            return v;
        }
    }
    sorted.last().map_or(f64::NAN, |p| p.0)
}

/// Every distinct bootstrap resample of `xs` (multisets of size n): (mean, probability
/// weight n!/∏cᵢ! — the weights sum to nⁿ).
fn exact_resample_means(xs: &[f64]) -> Vec<(f64, f64)> {
    let n = xs.len();
    let fact: Vec<f64> = (0..=n)
        .scan(1.0, |f, k| {
            if k > 0 {
                *f *= k as f64;
            }
            Some(*f)
        })
        .collect();
    let mut out = Vec::new();
    // counts[i] = how many times xs[i] is drawn.
    fn rec(
        i: usize,
        left: usize,
        sum: f64,
        weight: f64,
        xs: &[f64],
        fact: &[f64],
        out: &mut Vec<(f64, f64)>,
    ) {
        let n = xs.len();
        if i == n - 1 {
            let s = sum + left as f64 * xs[i];
            out.push((s / n as f64, weight / fact[left]));
            return;
        }
        for c in 0..=left {
            rec(
                i + 1,
                left - c,
                sum + c as f64 * xs[i],
                weight / fact[c],
                xs,
                fact,
                out,
            );
        }
    }
    rec(0, n, 0.0, fact[n], xs, &fact, &mut out);
    out
}

/// The bootstrap distribution of the mean of `xs` as sorted (mean, weight) pairs: exact
/// up to [`EXACT_BOOTSTRAP_MAX_N`] values, else [`BOOTSTRAP_RESAMPLES`] seeded draws.
pub fn bootstrap_means(xs: &[f64], seed: u64) -> Vec<(f64, f64)> {
    let n = xs.len();
    let mut dist = if n <= EXACT_BOOTSTRAP_MAX_N {
        exact_resample_means(xs)
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..BOOTSTRAP_RESAMPLES)
            .map(|_| {
                let s: f64 = (0..n).map(|_| xs[rng.random_range(0..n)]).sum();
                (s / n as f64, 1.0)
            })
            .collect()
    };
    dist.sort_by(|a, b| a.0.total_cmp(&b.0));
    dist
}

/// The percentile bootstrap interval of the mean at `level` (e.g. 0.95). None for an
/// empty sample or non-finite values. With one value the interval is that value.
///
/// Caveat: the percentile interval of a mean is too narrow for very small samples (its
/// coverage for 5 normal draws is 0.85 rather than 0.95, simulated; `docs/compare.md`).
pub fn bootstrap_ci(xs: &[f64], level: f64, seed: u64) -> Option<Interval> {
    if xs.is_empty() || xs.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let dist = bootstrap_means(xs, seed);
    let a = (1.0 - level) / 2.0;
    Some(Interval {
        lo: quantile(&dist, a),
        hi: quantile(&dist, 1.0 - a),
    })
}

/// Two-sided p-value of the paired sign-flip permutation test of "mean difference = 0"
/// for differences `d` (method − baseline, one per seed): the share of the 2ⁿ sign
/// patterns whose |Σ sᵢdᵢ| reaches the observed |Σ dᵢ| (exact up to
/// [`EXACT_PERMUTATION_MAX_N`] pairs; the observed pattern counts, so p ≥ 2/2ⁿ when no
/// difference is zero). Matches `scipy.stats.permutation_test(…, permutation_type =
/// "samples")` on the pairs. None for an empty or non-finite sample.
pub fn sign_flip_p(d: &[f64], seed: u64) -> Option<f64> {
    if d.is_empty() || d.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let n = d.len();
    let obs = d.iter().sum::<f64>().abs();
    // scipy's tolerance: statistics within 100 ulps of the observed one count as equal.
    let tol = obs * f64::EPSILON * 100.0;
    let hit = |signs: &dyn Fn(usize) -> bool| {
        let t: f64 = (0..n).map(|i| if signs(i) { -d[i] } else { d[i] }).sum();
        t.abs() >= obs - tol
    };
    if n <= EXACT_PERMUTATION_MAX_N {
        let total = 1u64 << n;
        let count = (0..total).filter(|&m| hit(&|i| m >> i & 1 == 1)).count();
        Some(count as f64 / total as f64)
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut count = 1; // the observed pattern
        for _ in 0..PERMUTATION_RESAMPLES {
            let m: Vec<bool> = (0..n).map(|_| rng.random()).collect();
            if hit(&|i| m[i]) {
                count += 1;
            }
        }
        Some(count as f64 / (PERMUTATION_RESAMPLES + 1) as f64)
    }
}

/// The smallest two-sided p-value the exact sign-flip test can give with `n` pairs:
/// 2/2ⁿ (0.0625 at five seeds, so five seeds can never reach p < 0.05).
pub fn sign_flip_min_p(n: usize) -> f64 {
    2.0 / (1u64 << n.min(62)) as f64
}

/// Two-sided p-value of the paired t-test on differences `d` (`scipy.stats.ttest_rel`).
/// None below two pairs, with zero variance, or for non-finite values.
pub fn paired_t_p(d: &[f64]) -> Option<f64> {
    let n = d.len();
    if n < 2 || d.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let sd = std_dev(d);
    if sd == 0.0 || !sd.is_finite() {
        return None;
    }
    let t = mean(d) / (sd / (n as f64).sqrt());
    let dist = StudentsT::new(0.0, 1.0, (n - 1) as f64).ok()?;
    Some((2.0 * (1.0 - dist.cdf(t.abs()))).min(1.0))
}

#[cfg(test)]
mod tests;
