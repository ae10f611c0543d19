//! The policy update: PPO epochs over one rollout batch, each epoch one optimiser step
//! whose gradient is accumulated over micro-batches. Every aggregation denominator is
//! computed over the whole batch ([`Normaliser`]), so the accumulated gradient does not
//! depend on the micro-batch size. A non-finite loss or gradient skips the update.

use tch::{Kind, Tensor};

use super::rows::RowSet;
use crate::config::{Config, Objective};
use crate::loss::{self, disco, epo, Normaliser, PolicyLossSpec, Rows};
use crate::optim::AdamW;
use crate::policy::Policy;

/// Behaviour- and reference-policy quantities, computed once before the epochs.
pub struct Frozen {
    /// log π_old per micro-batch chunk.
    pub logp_old: Vec<Tensor>,
    /// Entropies under π_old per chunk (for metrics and the EPO history).
    pub entropy_old: Vec<Tensor>,
    /// log π_ref per chunk (when a KL term is used).
    pub logp_ref: Option<Vec<Tensor>>,
    /// Token masks per chunk.
    pub mask: Vec<Tensor>,
}

/// The micro-batch ranges of `n` rows.
pub fn chunks(n: usize, micro: usize) -> Vec<std::ops::Range<usize>> {
    (0..n)
        .step_by(micro.max(1))
        .map(|s| s..(s + micro).min(n))
        .collect()
}

/// Computes [`Frozen`] for `rows` (no gradient).
pub fn freeze(
    rows: &RowSet,
    policy: &Policy,
    reference: Option<&Policy>,
    micro: usize,
) -> anyhow::Result<Frozen> {
    tch::no_grad(|| {
        let mut f = Frozen {
            logp_old: vec![],
            entropy_old: vec![],
            logp_ref: reference.map(|_| vec![]),
            mask: vec![],
        };
        for r in chunks(rows.len(), micro) {
            let s = rows.score(policy, r.clone())?;
            f.logp_old.push(s.logp);
            f.entropy_old.push(s.entropy);
            f.mask.push(s.mask * rows.live_tensor(r.clone()));
            if let (Some(p), Some(v)) = (reference, f.logp_ref.as_mut()) {
                v.push(rows.score(p, r)?.logp);
            }
        }
        Ok(f)
    })
}

/// Statistics of one update.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UpdateStats {
    /// Mean loss over epochs.
    pub loss: f64,
    /// Mean aggregated entropy of the last epoch (π_θ).
    pub entropy: f64,
    /// Aggregated KL to the reference (last epoch; 0 without a reference).
    pub kl: f64,
    /// Fraction of valid tokens where the clip was active (last epoch).
    pub clip_frac: f64,
    /// Gradient norm before clipping (last epoch).
    pub grad_norm: f64,
    /// Epochs whose update was skipped (non-finite loss or gradient).
    pub skipped: usize,
}

/// The loss settings of the configuration, with the EPO history and phase weight.
pub fn loss_spec(cfg: &Config, history: &[f64], step: u64) -> PolicyLossSpec {
    let l = &cfg.loss;
    PolicyLossSpec {
        clip_low: l.clip_low,
        clip_high: l.clip_high,
        dual_clip: l.dual_clip,
        ratio: l.ratio,
        kl: l.kl.map(|k| (k, l.kl_coef)),
        entropy_coef: l.entropy_coef,
        epo: l.epo.as_ref().map(|e| {
            (
                epo::EpoSmoothing {
                    smooth_coef: e.smooth_coef,
                    min_ratio: e.min_ratio,
                    max_ratio: e.max_ratio,
                    out_range_penalty: e.out_range_penalty,
                    mode: e.mode,
                    max_steps: e.max_steps,
                    phase_weight: e
                        .phase_weight
                        .then(|| epo::phase_weight(step as i64, e.max_epochs)),
                },
                history.to_vec(),
            )
        }),
    }
}

/// Accumulates the gradient of one epoch's loss over micro-batches; returns
/// (loss, entropy, kl, clipped tokens).
pub fn accumulate(
    policy: &Policy,
    rows: &RowSet,
    frozen: &Frozen,
    spec: &PolicyLossSpec,
    norm: &Normaliser,
    micro: usize,
) -> anyhow::Result<(f64, f64, f64, f64)> {
    let (mut loss, mut ent, mut kl, mut clipped) = (0.0, 0.0, 0.0, 0.0);
    for (c, r) in chunks(rows.len(), micro).into_iter().enumerate() {
        let s = rows.score(policy, r.clone())?;
        let width = s.logp.size()[1];
        let clip = rows.clip_eps.as_ref().map(|v| {
            let t: Vec<f32> = v[r.clone()].iter().map(|&x| x as f32).collect();
            let t = Tensor::from_slice(&t).view([-1, 1]);
            (t.shallow_clone(), t)
        });
        let batch = Rows {
            logp_new: s.logp,
            logp_old: frozen.logp_old[c].shallow_clone(),
            adv: rows.adv_tensor(r.clone(), width),
            mask: frozen.mask[c].shallow_clone(),
            logp_ref: frozen.logp_ref.as_ref().map(|v| v[c].shallow_clone()),
            entropy: Some(s.entropy),
            clip,
            env_step: rows.env_step[r].to_vec(),
        };
        let terms = loss::policy_loss(&batch, spec, norm);
        terms.loss.backward();
        loss += terms.loss.double_value(&[]);
        ent += terms.entropy.map_or(0.0, |t| t.double_value(&[]));
        kl += terms.kl.map_or(0.0, |t| t.double_value(&[]));
        clipped += terms.clipped_tokens;
    }
    Ok((loss, ent, kl, clipped))
}

/// DisCO (§10) over the whole batch at once (its objective couples the rows of a
/// question): s per trajectory = mean log-prob (or ratio) over all its action tokens,
/// outcome = success (1) or failure (0). Returns (loss, kl).
pub fn accumulate_disco(
    policy: &Policy,
    rows: &RowSet,
    frozen: &Frozen,
    groups: &[Vec<usize>],
    outcomes: &[f64],
    cfg: &Config,
) -> anyhow::Result<(f64, f64)> {
    let d = &cfg.loss.disco;
    let all = 0..rows.len();
    let s = rows.score(policy, all.clone())?;
    let old = Tensor::cat(&frozen.logp_old, 0);
    let mask = Tensor::cat(&frozen.mask, 0);
    let n_traj = outcomes.len() as i64;
    let per_token = match d.scoring {
        disco::Scoring::LogL => s.logp.shallow_clone(),
        disco::Scoring::LRatio => (&s.logp - &old).clamp(-20.0, 20.0).exp(),
    };
    let idx = Tensor::from_slice(&rows.traj.iter().map(|&t| t as i64).collect::<Vec<_>>());
    let sums = Tensor::zeros([n_traj], (Kind::Float, tch::Device::Cpu)).index_add(
        0,
        &idx,
        &(&per_token * &mask).sum_dim_intlist(1, false, Kind::Float),
    );
    let counts = Tensor::zeros([n_traj], (Kind::Float, tch::Device::Cpu)).index_add(
        0,
        &idx,
        &mask.sum_dim_intlist(1, false, Kind::Float),
    );
    let scores = sums / counts.clamp_min(1.0);
    let j = disco::objective(&scores, groups, outcomes, d.tau, d.basic, groups.len());
    let kl = disco::kl_old(&s.logp, &old, &mask);
    let loss = -j + disco::kl_penalty_tensor(&kl, d.beta, d.delta);
    loss.backward();
    Ok((loss.double_value(&[]), kl.double_value(&[])))
}

/// Runs `cfg.optim.ppo_epochs` updates on `rows` with learning rate `lr`.
#[allow(clippy::too_many_arguments)]
pub fn update(
    policy: &Policy,
    opt: &mut AdamW,
    rows: &RowSet,
    frozen: &Frozen,
    cfg: &Config,
    spec: &PolicyLossSpec,
    disco_groups: Option<(&[Vec<usize>], &[f64])>,
    lr: f64,
) -> anyhow::Result<UpdateStats> {
    let micro = cfg.optim.micro_batch;
    let norm = Normaliser::from_counts(cfg.loss.agg, &rows.counts(), cfg.loss.max_len);
    let mut st = UpdateStats::default();
    let epochs = cfg.optim.ppo_epochs;
    for _ in 0..epochs {
        opt.zero_grad();
        let (loss, ent, kl, clipped) = match (cfg.loss.objective, disco_groups) {
            (Objective::Disco, Some((g, o))) => {
                let (l, k) = accumulate_disco(policy, rows, frozen, g, o, cfg)?;
                (l, 0.0, k, 0.0)
            }
            _ => accumulate(policy, rows, frozen, spec, &norm, micro)?,
        };
        let gn = opt.clip_grad_norm(cfg.optim.grad_clip);
        st.grad_norm = gn;
        st.loss += loss / epochs as f64;
        st.entropy = ent;
        st.kl = kl;
        st.clip_frac = clipped / norm.tokens.max(1.0);
        if !loss.is_finite() || !gn.is_finite() {
            st.skipped += 1;
            opt.zero_grad();
            continue;
        }
        opt.step(lr);
    }
    Ok(st)
}
