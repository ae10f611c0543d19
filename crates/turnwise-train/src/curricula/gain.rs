//! GAIN-RL (Wang et al. 2025, "Angles Don't Lie: Unlocking Training-Efficient RL Through
//! the Model's Own Signals"): tasks whose token hidden states point in similar directions
//! (high *angle concentration*) give larger gradients, so the data is ordered by the
//! model's own angle concentration, descending, and each epoch samples around a centre μ
//! that moves through that order as accuracy and concentration rise.
//!
//! The authors' code (`wangqinsi1/GAINRL`, `grpo_trainer.py`, `gainrl_trainer.py`):
//! concentration = mean of the non-zero entries of `tril(cos, k = 1)`, the cosine
//! similarity matrix of a prompt's token vectors; sampling without replacement with
//! p(i) ∝ exp(−½((i − μ)/σ)²) over the sorted indices, σ = 1000, μ₀ = 0; update
//! μ ← μ + clamp(500·tanh(2(acc − 0.5)) + 500·tanh(2·angle), 0, 1000) with the epoch's mean
//! accuracy and concentration, the new μ applying to the next epoch.
//!
//! In turnwise tasks are a stream of seeds, not a fixed data set: each step draws a pool of
//! `curricula.gain_pool × env.tasks_per_step` candidates ([`super::pcl::pool_seeds`]),
//! measures every candidate's concentration with the current policy (refreshed every
//! step), sorts the pool and samples the step's tasks around μ, expressed as a quantile of
//! the pool; σ and the largest shift of μ are `curricula.gain_sigma` (the code's 1000 over a
//! data set of 7,500 problems ≈ 0.133), and μ moves after every step.

use anyhow::Result;
use rand::seq::index::sample_weighted;
use tch::{Kind, Tensor};
use turnwise_core::seed;

use super::pcl::{first_contexts, pool_seeds, Observed};
use crate::config::Config;
use crate::policy::Policy;
use crate::rollout::RolloutSpec;

/// The angle concentration of token vectors `h` [T, d]: the mean of the non-zero entries
/// of `tril(cos, k = 1)` where cos[i][j] is the cosine similarity of rows i and j (the
/// authors' training-time metric; 0 for an empty sequence).
pub fn angle_concentration(h: &Tensor) -> Result<f64> {
    let h = h.to_kind(Kind::Double);
    if h.size()[0] == 0 {
        return Ok(0.0);
    }
    let norm = (&h * &h)
        .sum_dim_intlist([1i64].as_slice(), true, Kind::Double)
        .sqrt();
    let x = &h / norm;
    let cos = x.matmul(&x.transpose(0, 1));
    let c = cos.tril(1);
    let nz = c.ne(0.0).sum(Kind::Double).double_value(&[]);
    Ok(if nz == 0.0 {
        0.0
    } else {
        c.sum(Kind::Double).double_value(&[]) / nz
    })
}

/// The centre after an epoch with mean accuracy `acc` and mean concentration `angle`, in
/// units of `sigma`: μ + σ·clamp(½·tanh(2(acc − ½)) + ½·tanh(2·angle), 0, 1) (the code's
/// update with 1000 = σ), capped at 1 (the end of the pool's order).
pub fn next_center(center: f64, acc: f64, angle: f64, sigma: f64) -> f64 {
    let adj = 0.5 * (2.0 * (acc - 0.5)).tanh() + 0.5 * (2.0 * angle).tanh();
    (center + sigma * adj.clamp(0.0, 1.0)).min(1.0)
}

/// `n` of `len` ranks drawn without replacement with p(i) ∝ exp(−½((q_i − μ)/σ)²), q_i =
/// i/(len − 1) the rank's quantile; sorted.
pub fn sample(rng: &mut seed::Rng, len: usize, n: usize, center: f64, sigma: f64) -> Vec<usize> {
    let q = |i: usize| i as f64 / (len.max(2) - 1) as f64;
    let w = |i: usize| (-0.5 * ((q(i) - center) / sigma).powi(2)).exp().max(1e-300);
    let mut v = match sample_weighted(rng, len, w, n.min(len)) {
        Ok(ix) => ix.into_vec(),
        Err(_) => (0..n.min(len)).collect(),
    };
    v.sort_unstable();
    v
}

/// What GAIN-RL did in one step (`gain_*` in `metrics.jsonl`).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct GainReport {
    /// μ the step's tasks were sampled around (quantile of the pool's order).
    #[serde(rename = "gain_center")]
    pub center: f64,
    /// Mean angle concentration of the chosen tasks.
    #[serde(rename = "gain_angle")]
    pub angle: f64,
    /// Mean angle concentration of the whole pool.
    #[serde(rename = "gain_pool_angle")]
    pub pool_angle: f64,
}

/// GAIN-RL's sampling centre and the step's chosen tasks.
#[derive(Debug, Default)]
pub struct Gain {
    /// μ, a quantile of the pool's order (0: the most concentrated task).
    pub center: f64,
    chosen: Vec<u64>,
    report: GainReport,
}

impl Gain {
    /// The step's tasks: `n` of the pool sorted by the policy's angle concentration
    /// (descending), sampled around μ.
    pub fn choose(
        &mut self,
        cfg: &Config,
        policy: &Policy,
        spec: &RolloutSpec,
        step: u64,
        n: usize,
    ) -> Result<Vec<u64>> {
        let seeds = pool_seeds(cfg.run.seed, step, n, cfg.curricula.gain_pool);
        let angles = first_contexts(cfg, policy, spec, &seeds)?
            .iter()
            .map(|c| angle_concentration(&policy_states(policy, c)?))
            .collect::<Result<Vec<f64>>>()?;
        let mut order: Vec<usize> = (0..seeds.len()).collect();
        order.sort_by(|&a, &b| angles[b].total_cmp(&angles[a]).then(a.cmp(&b)));
        let mut rng = seed::rng(cfg.run.seed, 0x5000_0000 + step);
        let sigma = cfg.curricula.gain_sigma;
        let ranks = sample(&mut rng, order.len(), n, self.center, sigma);
        self.chosen = ranks.iter().map(|&r| seeds[order[r]]).collect();
        let mean = |v: &mut dyn Iterator<Item = f64>, k: usize| v.sum::<f64>() / k.max(1) as f64;
        self.report = GainReport {
            center: self.center,
            angle: mean(&mut ranks.iter().map(|&r| angles[order[r]]), ranks.len()),
            pool_angle: mean(&mut angles.iter().copied(), angles.len()),
        };
        Ok(self.chosen.clone())
    }

    /// Moves μ with the chosen tasks' mean pass rate and concentration and returns the
    /// step's report (μ as sampled, before the move).
    pub fn learn(&mut self, cfg: &Config, played: &[Observed]) -> GainReport {
        let rates: Vec<f64> = played
            .iter()
            .filter(|o| self.chosen.contains(&o.seed))
            .map(|o| o.rate)
            .collect();
        let acc = rates.iter().sum::<f64>() / rates.len().max(1) as f64;
        self.center = next_center(
            self.center,
            acc,
            self.report.angle,
            cfg.curricula.gain_sigma,
        );
        self.report
    }
}

/// The policy's final hidden states [T, d] over context `ids` (no gradient).
/// ASSUMPTION: the authors read the inputs of the last layer's `mlp.up_proj`; turnwise reads
/// the final (normalised) hidden states, the features the policy head sees.
fn policy_states(policy: &Policy, ids: &[u32]) -> Result<Tensor> {
    let (t, valid) = Policy::pad(&[ids]);
    let positions = (valid.to_kind(Kind::Int64).cumsum(1, Kind::Int64) - 1).clamp_min(0);
    let dev = policy.model.device();
    let h = tch::no_grad(|| {
        policy.model.forward_hidden(
            &t.to_device(dev),
            &positions.to_device(dev),
            Some(&valid.to_device(dev)),
            None,
        )
    })?;
    Ok(h.squeeze_dim(0)
        .to_kind(Kind::Float)
        .to_device(tch::Device::Cpu))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference's formula, written out entry by entry.
    fn naive(rows: &[Vec<f64>]) -> f64 {
        let norm = |r: &Vec<f64>| r.iter().map(|x| x * x).sum::<f64>().sqrt();
        let (mut sum, mut nz) = (0.0, 0usize);
        for i in 0..rows.len() {
            for j in 0..rows.len() {
                if j > i + 1 {
                    continue;
                }
                let dot: f64 = rows[i].iter().zip(&rows[j]).map(|(a, b)| a * b).sum();
                let c = dot / (norm(&rows[i]) * norm(&rows[j]));
                if c != 0.0 {
                    sum += c;
                    nz += 1;
                }
            }
        }
        sum / nz as f64
    }

    #[test]
    fn angle_concentration_is_the_masked_mean_cosine() {
        let rows = vec![
            vec![1.0, 0.0, 2.0],
            vec![0.5, -1.0, 0.0],
            vec![3.0, 1.0, 1.0],
            vec![0.0, 2.0, 0.0],
        ];
        let t = Tensor::from_slice(&rows.concat()).view([4, 3]);
        let got = angle_concentration(&t).unwrap();
        assert!(
            (got - naive(&rows)).abs() < 1e-12,
            "{got} vs {}",
            naive(&rows)
        );
        // identical directions: every cosine is 1
        let same = Tensor::from_slice(&[1.0, 2.0, 2.0, 4.0, 0.5, 1.0]).view([3, 2]);
        assert!((angle_concentration(&same).unwrap() - 1.0).abs() < 1e-12);
        // orthogonal directions: only the diagonal (1) is non-zero
        let orth = Tensor::from_slice(&[1.0, 0.0, 0.0, 1.0]).view([2, 2]);
        assert!((angle_concentration(&orth).unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn the_centre_moves_as_the_code_does() {
        // the code: μ + clamp(500·tanh(2(acc−0.5)) + 500·tanh(2·angle), 0, 1000), σ = 1000
        for (acc, angle) in [
            (0.9f64, 0.3f64),
            (0.1, 0.1),
            (0.5, 0.0),
            (1.0, 1.0),
            (0.2, 0.6),
        ] {
            let code = (500.0 * (2.0 * (acc - 0.5f64)).tanh() + 500.0 * (2.0 * angle).tanh())
                .clamp(0.0, 1000.0);
            let ours = next_center(0.2, acc, angle, 0.1);
            assert!((ours - (0.2 + code / 1000.0 * 0.1)).abs() < 1e-12);
        }
        // low accuracy and concentration: μ stays; never beyond the end of the order
        assert_eq!(next_center(0.3, 0.0, 0.0, 0.1), 0.3);
        assert_eq!(next_center(0.99, 1.0, 1.0, 0.5), 1.0);
    }

    #[test]
    fn sampling_follows_the_centre() {
        let mut rng = seed::rng(1, 2);
        let mut low = 0.0;
        let mut high = 0.0;
        for _ in 0..200 {
            let a = sample(&mut rng, 40, 4, 0.0, 0.133);
            let b = sample(&mut rng, 40, 4, 1.0, 0.133);
            assert_eq!(a.len(), 4);
            assert!(a.windows(2).all(|w| w[0] < w[1]), "distinct, sorted");
            low += a.iter().sum::<usize>() as f64 / 4.0;
            high += b.iter().sum::<usize>() as f64 / 4.0;
        }
        // μ = 0 samples the most concentrated tasks (low ranks), μ = 1 the least
        assert!(low / 200.0 < 8.0, "{}", low / 200.0);
        assert!(high / 200.0 > 31.0, "{}", high / 200.0);
        assert_eq!(sample(&mut rng, 3, 5, 0.5, 0.1), vec![0, 1, 2]);
    }
}
