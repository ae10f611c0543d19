//! Learning curves: one run's evaluation points, the area under them, the first point
//! that reaches a target, and the pointwise mean and interval over seeds.

use serde::Serialize;

use crate::stats::{self, Interval};

/// One evaluation of a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    /// RL step the evaluation was taken after (0: the warm start).
    pub step: u64,
    /// Wall-clock seconds of the job when the evaluation finished.
    pub seconds: f64,
    /// The score (the environment's headline metric).
    pub score: f64,
}

/// Normalised area under the curve: the trapezoid integral of score over steps divided
/// by the step range, i.e. the curve's mean score over training (in score units). One
/// point: its score. None without points.
pub fn auc(points: &[Point]) -> Option<f64> {
    match points {
        [] => None,
        [p] => Some(p.score),
        _ => {
            let span = (points[points.len() - 1].step - points[0].step) as f64;
            if span <= 0.0 {
                return Some(stats::mean(
                    &points.iter().map(|p| p.score).collect::<Vec<_>>(),
                ));
            }
            let area: f64 = points
                .windows(2)
                .map(|w| (w[1].step - w[0].step) as f64 * (w[0].score + w[1].score) / 2.0)
                .sum();
            Some(area / span)
        }
    }
}

/// The first evaluation whose score reaches `target`.
pub fn first_reaching(points: &[Point], target: f64) -> Option<Point> {
    points.iter().copied().find(|p| p.score >= target)
}

/// The mean curve of several seeds with its pointwise bootstrap interval.
#[derive(Debug, Clone, Serialize)]
pub struct Band {
    /// Steps where at least one seed has an evaluation.
    pub steps: Vec<u64>,
    /// Mean score over the seeds evaluated at that step.
    pub mean: Vec<f64>,
    /// Pointwise 95% bootstrap interval of that mean.
    pub ci: Vec<Interval>,
    /// Seeds evaluated at that step.
    pub n: Vec<usize>,
}

/// Pointwise mean and bootstrap interval over `curves` (one per seed) at every step any
/// of them was evaluated; a seed contributes where it has a point at that step.
pub fn band(curves: &[Vec<Point>], level: f64) -> Band {
    let mut steps: Vec<u64> = curves.iter().flatten().map(|p| p.step).collect();
    steps.sort_unstable();
    steps.dedup();
    let mut b = Band {
        steps: Vec::new(),
        mean: Vec::new(),
        ci: Vec::new(),
        n: Vec::new(),
    };
    for s in steps {
        let xs: Vec<f64> = curves
            .iter()
            .filter_map(|c| c.iter().find(|p| p.step == s).map(|p| p.score))
            .filter(|x| x.is_finite())
            .collect();
        let Some(ci) = stats::bootstrap_ci(&xs, level, s) else {
            continue;
        };
        b.steps.push(s);
        b.mean.push(stats::mean(&xs));
        b.ci.push(ci);
        b.n.push(xs.len());
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(v: &[(u64, f64)]) -> Vec<Point> {
        v.iter()
            .map(|&(step, score)| Point {
                step,
                seconds: step as f64,
                score,
            })
            .collect()
    }

    #[test]
    fn auc_of_a_straight_line_is_its_midpoint() {
        assert_eq!(auc(&pts(&[(0, 0.0), (10, 100.0)])), Some(50.0));
        assert_eq!(auc(&pts(&[(0, 0.0), (5, 50.0), (10, 100.0)])), Some(50.0));
    }

    #[test]
    fn auc_weights_uneven_spacing() {
        // 0→10 at 0 then jump to 100 over 10→20: area 0 + 500 + … over 20.
        assert_eq!(auc(&pts(&[(0, 0.0), (10, 0.0), (20, 100.0)])), Some(25.0));
        assert_eq!(auc(&pts(&[(4, 7.0)])), Some(7.0));
        assert_eq!(auc(&[]), None);
    }

    #[test]
    fn first_reaching_finds_the_first_point_at_or_above() {
        let c = pts(&[(0, 50.0), (10, 96.0), (20, 94.0), (30, 99.0)]);
        assert_eq!(first_reaching(&c, 95.0).map(|p| p.step), Some(10));
        assert_eq!(first_reaching(&c, 96.0).map(|p| p.step), Some(10));
        assert_eq!(first_reaching(&c, 99.5), None);
    }

    #[test]
    fn band_uses_the_seeds_present_at_each_step() {
        let a = pts(&[(0, 0.0), (10, 10.0)]);
        let b = pts(&[(0, 2.0)]);
        let band = band(&[a, b], 0.95);
        assert_eq!(band.steps, vec![0, 10]);
        assert_eq!(band.mean, vec![1.0, 10.0]);
        assert_eq!(band.n, vec![2, 1]);
        assert_eq!(band.ci[0], Interval { lo: 0.0, hi: 2.0 });
    }
}
