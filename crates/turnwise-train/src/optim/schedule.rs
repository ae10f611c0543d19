//! Learning-rate schedules: linear warm-up, then constant or cosine decay
//! (Loshchilov & Hutter, SGDR, arXiv 1608.03983, Eq. 5, without restarts).

use crate::config::{OptimConfig, Schedule};

/// The learning rate of step `step` (0-based) of `total` steps with peak `lr`.
pub fn lr_at(cfg: &OptimConfig, lr: f64, step: u64, total: u64) -> f64 {
    if step < cfg.warmup_steps {
        return lr * (step + 1) as f64 / cfg.warmup_steps as f64;
    }
    match cfg.schedule {
        Schedule::Constant => lr,
        Schedule::Cosine => {
            let span = total.saturating_sub(cfg.warmup_steps).max(1) as f64;
            let t = ((step - cfg.warmup_steps) as f64 / span).min(1.0);
            let min = lr * cfg.min_lr_ratio;
            min + 0.5 * (lr - min) * (1.0 + (std::f64::consts::PI * t).cos())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_cosine_reaches_the_floor() {
        let cfg = OptimConfig {
            warmup_steps: 4,
            schedule: Schedule::Cosine,
            min_lr_ratio: 0.1,
            ..Default::default()
        };
        assert_eq!(lr_at(&cfg, 1.0, 0, 20), 0.25);
        assert_eq!(lr_at(&cfg, 1.0, 3, 20), 1.0);
        assert_eq!(lr_at(&cfg, 1.0, 4, 20), 1.0);
        assert!((lr_at(&cfg, 1.0, 20, 20) - 0.1).abs() < 1e-12);
        let mid = lr_at(&cfg, 1.0, 12, 20);
        assert!((mid - 0.55).abs() < 1e-12, "{mid}");
    }
}
