//! Overflow-safe mean and unbiased standard deviation for group normalisation
//! (`credit-outcome.md` §0.3: unbiased std, `(x − μ)/(σ + ε)`).
//!
//! When the largest magnitude of a set exceeds [`SCALE_ABOVE`], the values are multiplied
//! by an exact power of two `c` that brings it near 1 before summing and squaring, so
//! `(x − μ)²` cannot overflow for any finite input; every derived quantity is then
//! evaluated in the scaled domain (`(x·c − μc)/(σc + ε·c)`). Below the threshold `c = 1`
//! and the result is the plain two-pass formula, bit for bit.

/// Magnitude above which values are rescaled before squaring.
pub const SCALE_ABOVE: f64 = 1e100;

/// The power of two `c` such that `max_abs · c` lies in `[1, 2)`, or 1 when no scaling is
/// needed (`max_abs ≤ SCALE_ABOVE`).
pub fn scale_for(max_abs: f64) -> f64 {
    if max_abs <= SCALE_ABOVE || !max_abs.is_finite() {
        return 1.0;
    }
    let e = ((max_abs.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    2f64.powi(-e)
}

/// Mean and unbiased std of a set of values, both of the values times [`Moments::scale`].
/// When all values are equal the mean is that value exactly, so centred values are exactly
/// 0 (`credit-outcome.md` §0.3: "all rewards equal → A = 0 exactly").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    /// Exact power of two the values were multiplied by (1 unless they were huge).
    pub scale: f64,
    /// Mean of the scaled values (weighted by multiplicity).
    pub mean: f64,
    /// Unbiased std of the scaled values (NaN for fewer than two values).
    pub std: f64,
    /// Number of values (sum of the weights).
    pub n: f64,
}

impl Moments {
    /// Moments of `x` (torch `.mean()` / `.std()` semantics).
    pub fn of(x: &[f64]) -> Moments {
        Self::weighted(x.iter().map(|&v| (v, 1.0)))
    }

    /// Moments of values repeated `w` times each: `(value, weight)` pairs. verl-agent's
    /// per-step episode statistics count a trajectory's outcome once per step.
    pub fn weighted<I>(it: I) -> Moments
    where
        I: Iterator<Item = (f64, f64)> + Clone,
    {
        let (mut n, mut sum, mut max_abs) = (0.0, 0.0, 0.0f64);
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for (x, w) in it.clone() {
            n += w;
            sum += w * x;
            max_abs = max_abs.max(x.abs());
            if w > 0.0 {
                lo = lo.min(x);
                hi = hi.max(x);
            }
        }
        let scale = scale_for(max_abs);
        let mean = if n == 0.0 {
            0.0
        } else if lo == hi {
            // all values equal: the mean is that value exactly, so x − μ = 0 exactly (§0.3)
            lo * scale
        } else if scale == 1.0 {
            sum / n
        } else {
            it.clone().map(|(x, w)| w * (x * scale)).sum::<f64>() / n
        };
        let std = if n < 2.0 {
            f64::NAN
        } else {
            let ss: f64 = it
                .map(|(x, w)| {
                    let d = x * scale - mean;
                    w * d * d
                })
                .sum();
            (ss / (n - 1.0)).sqrt()
        };
        Moments {
            scale,
            mean,
            std,
            n,
        }
    }

    /// verl's group-of-one rule: mean 0, std 1.
    pub fn unit() -> Moments {
        Moments {
            scale: 1.0,
            mean: 0.0,
            std: 1.0,
            n: 1.0,
        }
    }

    /// `(x − μ)/(σ + ε)`, evaluated in the scaled domain.
    #[inline]
    pub fn norm(&self, x: f64, eps: f64) -> f64 {
        (x * self.scale - self.mean) / (self.std + eps * self.scale)
    }

    /// `x − μ` (overflows only where the true difference does).
    #[inline]
    pub fn center(&self, x: f64) -> f64 {
        (x * self.scale - self.mean) / self.scale
    }

    /// `(x − μ)/(σ + ε)` if `by_std`, else `x − μ`.
    #[inline]
    pub fn apply(&self, x: f64, eps: f64, by_std: bool) -> f64 {
        if by_std {
            self.norm(x, eps)
        } else {
            self.center(x)
        }
    }

    /// The unscaled mean μ.
    pub fn mean(&self) -> f64 {
        self.mean / self.scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{mean, std_unbiased};

    #[test]
    fn plain_values_match_two_pass_formula_bitwise() {
        let x = [0.3, -1.25, 7.5, 2.0, 0.125];
        let m = Moments::of(&x);
        assert_eq!(m.scale, 1.0);
        assert_eq!(m.mean, mean(&x));
        assert_eq!(m.std, std_unbiased(&x));
    }

    #[test]
    fn huge_values_do_not_overflow() {
        let x = [1.5e307, -1.7e308, 9e307];
        let m = Moments::of(&x);
        assert!(m.std.is_finite() && m.mean.is_finite());
        // Compare with the same values scaled down by hand.
        let y: Vec<f64> = x.iter().map(|v| v * 2f64.powi(-1023)).collect();
        let r = Moments::of(&y);
        for v in x {
            let a = m.norm(v, 1e-6);
            let b = (v * 2f64.powi(-1023) - r.mean) / r.std;
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }

    #[test]
    fn all_equal_values_centre_to_exact_zero() {
        let x = [0.1, 0.1, 0.1];
        assert_ne!(x.iter().sum::<f64>() / 3.0, 0.1); // the naive mean is off by an ulp
        let m = Moments::of(&x);
        assert_eq!((m.center(0.1), m.norm(0.1, 1e-6), m.std), (0.0, 0.0, 0.0));
    }

    #[test]
    fn weighted_equals_repeated() {
        let w = Moments::weighted([(1.0, 3.0), (0.0, 2.0)].into_iter());
        let r = Moments::of(&[1.0, 1.0, 1.0, 0.0, 0.0]);
        assert!((w.mean - r.mean).abs() < 1e-15 && (w.std - r.std).abs() < 1e-15);
    }
}
