//! Shared numerics, with the conventions of `credit-outcome.md` §0.3 and
//! `credit-turn.md` §0.2: unbiased std (ddof 1), `(x − μ)/(σ + ε)` with ε = 1e-6.

/// ε added to the standard deviation in group normalisation (verl).
pub const EPS: f64 = 1e-6;

/// Mean of `x` (0 for an empty slice).
pub fn mean(x: &[f64]) -> f64 {
    if x.is_empty() {
        0.0
    } else {
        x.iter().sum::<f64>() / x.len() as f64
    }
}

/// Unbiased sample standard deviation `sqrt(Σ(x−μ)²/(n−1))` (torch `.std()`); NaN for n < 2.
pub fn std_unbiased(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return f64::NAN;
    }
    let m = mean(x);
    (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() - 1) as f64).sqrt()
}

/// IGPO's std: `sqrt(mean((x−μ)²) + 1e−8)`, and 1 for n ≤ 1 (`credit-turn.md` §0.2).
pub fn std_igpo(x: &[f64]) -> f64 {
    if x.len() <= 1 {
        return 1.0;
    }
    let m = mean(x);
    (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / x.len() as f64 + 1e-8).sqrt()
}

/// What a group of one gets in GRPO-style normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Singleton {
    /// verl: mean 0, std 1, so `A = x/(1+ε)` (or `x` without std).
    Verl,
    /// No relative signal: `A = 0`.
    Zero,
}

/// Mean and scale used by [`group_norm`] for the values `x` of one group.
pub fn group_stats(x: &[f64], singleton: Singleton) -> Option<(f64, f64)> {
    match x.len() {
        0 => None,
        1 => match singleton {
            Singleton::Verl => Some((0.0, 1.0)),
            Singleton::Zero => None,
        },
        _ => Some((mean(x), std_unbiased(x))),
    }
}

/// GRPO group normalisation in place: `(x − μ)/(σ + ε)`, or `x − μ` without std
/// (`credit-outcome.md` §1). A singleton follows `singleton`; all-equal values give 0.
pub fn group_norm(x: &mut [f64], eps: f64, norm_by_std: bool, singleton: Singleton) {
    match group_stats(x, singleton) {
        None => x.iter_mut().for_each(|v| *v = 0.0),
        Some((m, s)) => {
            if norm_by_std {
                let inv = 1.0 / (s + eps);
                x.iter_mut().for_each(|v| *v = (*v - m) * inv);
            } else {
                x.iter_mut().for_each(|v| *v -= m);
            }
        }
    }
}

/// Discounted returns `G_t = r_t + γ G_{t+1}`, computed backwards, into `out`.
pub fn discounted_returns(
    rewards: impl DoubleEndedIterator<Item = f64> + ExactSizeIterator,
    gamma: f64,
    out: &mut [f64],
) {
    let mut run = 0.0;
    for (i, r) in rewards.enumerate().rev() {
        run = r + gamma * run;
        out[i] = run;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unbiased_std_matches_definition() {
        assert!((std_unbiased(&[1.0, 0.0, 0.0, 1.0]) - (1.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert!(std_unbiased(&[1.0]).is_nan());
    }

    #[test]
    fn group_norm_rules() {
        let mut x = [1.0, 1.0];
        group_norm(&mut x, EPS, true, Singleton::Verl);
        assert_eq!(x, [0.0, 0.0]);
        let mut x = [0.7];
        group_norm(&mut x, EPS, true, Singleton::Verl);
        assert!((x[0] - 0.7 / (1.0 + EPS)).abs() < 1e-15);
        let mut x = [0.7];
        group_norm(&mut x, EPS, true, Singleton::Zero);
        assert_eq!(x, [0.0]);
    }

    #[test]
    fn returns_discount_backwards() {
        let mut out = [0.0; 3];
        discounted_returns([1.0, 0.0, 2.0].into_iter(), 0.5, &mut out);
        assert_eq!(out, [1.5, 1.0, 2.0]);
    }
}
