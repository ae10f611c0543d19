//! The policy update: PPO epochs over one rollout batch, each epoch one optimiser step
//! whose gradient is accumulated over micro-batches. Every aggregation denominator is
//! computed over the whole batch ([`Normaliser`]), so the accumulated gradient does not
//! depend on the micro-batch size. A non-finite loss, gradient or updated weight in any
//! epoch skips the whole step: weights and optimiser state are restored.

use tch::{Kind, Tensor};

use super::rows::RowSet;
use crate::config::{Config, Objective};
use crate::loss::{self, disco, epo, Normaliser, PolicyLossSpec, Rows};
use crate::optim::{all_finite, AdamW};
use crate::policy::Policy;

/// One micro-batch: a range of distinct sequences scored together and the rows (turns)
/// that repeat them.
#[derive(Debug)]
pub struct Chunk {
    /// Distinct sequences of this micro-batch (a range of indices into [`RowSet::uniq`]).
    pub uniq: std::ops::Range<usize>,
    /// Rows, in batch order, whose sequence is in `uniq`.
    pub rows: Vec<usize>,
    /// For each of `rows`, its sequence's position within `uniq` ([R_c], int64).
    pub local: Tensor,
}

/// Splits the distinct sequences of `rows` into micro-batches of at most `micro`.
pub fn plan(rows: &RowSet, micro: usize) -> Vec<Chunk> {
    let micro = micro.max(1);
    let n = rows.unique_len();
    let mut members: Vec<Vec<usize>> = vec![vec![]; n.div_ceil(micro)];
    for (r, &u) in rows.inverse.iter().enumerate() {
        members[u / micro].push(r);
    }
    members
        .into_iter()
        .enumerate()
        .map(|(c, rs)| {
            let start = c * micro;
            let local: Vec<i64> = rs
                .iter()
                .map(|&r| (rows.inverse[r] - start) as i64)
                .collect();
            Chunk {
                uniq: start..(start + micro).min(n),
                rows: rs,
                local: Tensor::from_slice(&local),
            }
        })
        .collect()
}

/// Behaviour- and reference-policy quantities, computed once before the epochs, per
/// micro-batch of distinct sequences ([A]: that micro-batch's longest action).
pub struct Frozen {
    /// The micro-batches.
    pub chunks: Vec<Chunk>,
    /// log π_old [U_c, A] per chunk.
    pub logp_old: Vec<Tensor>,
    /// Entropies under π_old [U_c, A] per chunk (for metrics and the EPO history).
    pub entropy_old: Vec<Tensor>,
    /// log π_ref [U_c, A] per chunk (when a KL term is used).
    pub logp_ref: Option<Vec<Tensor>>,
    /// Action-token masks [U_c, A] per chunk (1 = action token, 0 = padding).
    pub mask: Vec<Tensor>,
}

impl Frozen {
    /// Per-distinct-sequence sums over tokens of `f(chunk index)` ([U_c, A] each), in
    /// [`RowSet::uniq`] order.
    pub fn row_sums(&self, f: impl Fn(usize) -> Tensor) -> Vec<f64> {
        (0..self.chunks.len())
            .flat_map(|c| {
                Vec::<f64>::try_from(f(c).sum_dim_intlist(1, false, Kind::Double))
                    .unwrap_or_default()
            })
            .collect()
    }
}

/// Computes [`Frozen`] for `rows` in micro-batches of `micro` distinct sequences (no
/// gradient).
pub fn freeze(
    rows: &RowSet,
    policy: &Policy,
    reference: Option<Reference<'_>>,
    micro: usize,
) -> anyhow::Result<Frozen> {
    tch::no_grad(|| {
        let mut f = Frozen {
            chunks: plan(rows, micro),
            logp_old: vec![],
            entropy_old: vec![],
            logp_ref: reference.map(|_| vec![]),
            mask: vec![],
        };
        for c in &f.chunks {
            let s = rows.score_unique(policy, c.uniq.clone())?;
            f.logp_old.push(s.logp);
            f.entropy_old.push(s.entropy);
            f.mask.push(s.mask);
            if let (Some(r), Some(v)) = (reference, f.logp_ref.as_mut()) {
                let s = match r {
                    Reference::Copy(p) => rows.score_unique(p, c.uniq.clone())?,
                    Reference::AdaptersOff => policy
                        .model
                        .with_adapters_off(|| rows.score_unique(policy, c.uniq.clone()))?,
                };
                v.push(s.logp);
            }
        }
        Ok(f)
    })
}

/// π_ref of the KL term.
#[derive(Clone, Copy)]
pub enum Reference<'a> {
    /// A frozen copy of the starting weights (`RUN/reference`).
    Copy(&'a Policy),
    /// The policy's own base model: its LoRA adapters switched off (no second copy).
    AdaptersOff,
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
    /// Epochs skipped: all of them when the step was skipped (a non-finite loss, gradient
    /// or weight in some epoch), else 0.
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
        // With the KL in the reward (`kl_in_reward`), the loss only measures it: counting
        // it as a loss term too would apply it twice.
        kl: l
            .kl
            .map(|k| (k, if l.kl_in_reward { 0.0 } else { l.kl_coef })),
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
        drift: (l.objective == Objective::TaLpo)
            .then(|| (l.ta_lpo, step as f64 / cfg.run.steps.max(1) as f64)),
    }
}

/// Accumulates the gradient of one epoch's loss over the micro-batches of `frozen`:
/// each scores its distinct sequences once and expands them to its rows. Returns
/// (loss, entropy, kl, clipped tokens).
pub fn accumulate(
    policy: &Policy,
    rows: &RowSet,
    frozen: &Frozen,
    spec: &PolicyLossSpec,
    norm: &Normaliser,
) -> anyhow::Result<(f64, f64, f64, f64)> {
    let planned = frozen.chunks.last().map_or(0, |c| c.uniq.end);
    anyhow::ensure!(
        planned == rows.unique_len()
            && frozen.chunks.iter().map(|c| c.rows.len()).sum::<usize>() == rows.len(),
        "π_old was computed for another batch ({planned} distinct sequences, this one has {})",
        rows.unique_len()
    );
    let (mut loss, mut ent, mut kl, mut clipped) = (0.0, 0.0, 0.0, 0.0);
    for (c, ch) in frozen.chunks.iter().enumerate() {
        // A chunk whose rows are all masked adds nothing to the loss or the gradient.
        if ch.rows.iter().all(|&r| !rows.live[r]) {
            continue;
        }
        let s = rows.score_unique(policy, ch.uniq.clone())?;
        let expand = |t: &Tensor| t.index_select(0, &ch.local);
        let width = s.logp.size()[1];
        let clip = rows.clip_eps.as_ref().map(|v| {
            let t: Vec<f32> = ch.rows.iter().map(|&r| v[r] as f32).collect();
            let t = Tensor::from_slice(&t).view([-1, 1]);
            (t.shallow_clone(), t)
        });
        let batch = Rows {
            logp_new: expand(&s.logp),
            logp_old: expand(&frozen.logp_old[c]),
            adv: rows.adv_tensor(&ch.rows, width),
            mask: expand(&frozen.mask[c]) * rows.live_tensor(&ch.rows),
            logp_ref: frozen.logp_ref.as_ref().map(|v| expand(&v[c])),
            entropy: Some(expand(&s.entropy)),
            clip,
            env_step: ch.rows.iter().map(|&r| rows.env_step[r]).collect(),
        };
        let terms = loss::policy_loss(&batch, spec, norm);
        policy.model.backward(&terms.loss)?;
        loss += terms.loss.double_value(&[]);
        ent += terms.entropy.map_or(0.0, |t| t.double_value(&[]));
        kl += terms.kl.map_or(0.0, |t| t.double_value(&[]));
        clipped += terms.clipped_tokens;
    }
    Ok((loss, ent, kl, clipped))
}

/// `t` ([U_c, A]) zero-padded on the right to `width` columns.
fn widen(t: &Tensor, width: i64) -> Tensor {
    let a = t.size()[1];
    if a == width {
        t.shallow_clone()
    } else {
        t.constant_pad_nd([0, width - a])
    }
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
    let s = rows.score_unique(policy, 0..rows.unique_len())?;
    let width = s.logp.size()[1];
    let inv = Tensor::from_slice(&rows.inverse.iter().map(|&u| u as i64).collect::<Vec<_>>());
    let all = |chunks: &[Tensor]| {
        let w: Vec<Tensor> = chunks.iter().map(|t| widen(t, width)).collect();
        Tensor::cat(&w, 0).index_select(0, &inv)
    };
    let old = all(&frozen.logp_old);
    let mask = all(&frozen.mask) * rows.live_tensor(&(0..rows.len()).collect::<Vec<_>>());
    let logp = s.logp.index_select(0, &inv);
    let n_traj = outcomes.len() as i64;
    let per_token = match d.scoring {
        disco::Scoring::LogL => logp.shallow_clone(),
        disco::Scoring::LRatio => (&logp - &old).clamp(-20.0, 20.0).exp(),
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
    let kl = disco::kl_old(&logp, &old, &mask);
    let loss = -j + disco::kl_penalty_tensor(&kl, d.beta, d.delta);
    policy.model.backward(&loss)?;
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
    let norm = Normaliser::from_counts(cfg.loss.agg, &rows.counts(), cfg.loss.max_len);
    let mut st = UpdateStats::default();
    let epochs = cfg.optim.ppo_epochs;
    // NaN guard: a non-finite loss, gradient or updated weight in any epoch skips the
    // whole step, with weights and AdamW state restored to what they were before it.
    let before = opt.snapshot();
    for _ in 0..epochs {
        opt.zero_grad();
        let (loss, ent, kl, clipped) = match (cfg.loss.objective, disco_groups) {
            (Objective::Disco, Some((g, o))) => {
                let (l, k) = accumulate_disco(policy, rows, frozen, g, o, cfg)?;
                (l, 0.0, k, 0.0)
            }
            _ => accumulate(policy, rows, frozen, spec, &norm)?,
        };
        let gn = opt.clip_grad_norm(cfg.optim.grad_clip);
        st.grad_norm = gn;
        st.loss += loss / epochs as f64;
        st.entropy = ent;
        st.kl = kl;
        st.clip_frac = clipped / norm.tokens.max(1.0);
        let finite = loss.is_finite() && gn.is_finite() && {
            opt.step(lr);
            all_finite(&opt.params)
        };
        if !finite {
            opt.restore(&before);
            opt.zero_grad();
            st.skipped = epochs;
            break;
        }
    }
    Ok(st)
}

#[cfg(test)]
mod tests {
    use tch::Tensor;

    use super::loss_spec;
    use crate::config::Config;
    use crate::loss::{policy_loss, AggMode, KlKind, Normaliser, Rows};

    /// The loss with a KL: a loss term with `kl_in_reward = false`; with it true the KL is
    /// in the reward already, so the loss is the policy-gradient term alone.
    #[test]
    fn kl_in_reward_is_not_also_a_loss_term() {
        let rows = || Rows {
            logp_new: Tensor::from_slice(&[-0.5f32, -1.0, -0.2]).view([1, 3]),
            logp_old: Tensor::from_slice(&[-0.5f32, -1.0, -0.2]).view([1, 3]),
            adv: Tensor::from_slice(&[0.7f32, 0.7, 0.7]).view([1, 3]),
            mask: Tensor::from_slice(&[1.0f32, 1.0, 1.0]).view([1, 3]),
            logp_ref: Some(Tensor::from_slice(&[-0.9f32, -1.1, -0.4]).view([1, 3])),
            entropy: None,
            clip: None,
            env_step: vec![0],
        };
        let norm = Normaliser::from_counts(AggMode::TokenMean, &[3], None);
        let mut cfg = Config::default();
        cfg.loss.kl = Some(KlKind::K1);
        cfg.loss.kl_coef = 0.5;
        cfg.loss.entropy_coef = 0.0;
        // ratio 1: pg = −A = −0.7; k1 = mean(x − y) = (0.4 + 0.1 + 0.2)/3
        let pg = -0.7;
        let kl = (0.4 + 0.1 + 0.2) / 3.0;
        let as_loss = policy_loss(&rows(), &loss_spec(&cfg, &[], 0), &norm);
        assert!((as_loss.loss.double_value(&[]) - (pg + 0.5 * kl)).abs() < 1e-6);
        cfg.loss.kl_in_reward = true;
        let in_reward = policy_loss(&rows(), &loss_spec(&cfg, &[], 0), &norm);
        assert!((in_reward.loss.double_value(&[]) - pg).abs() < 1e-6);
        // still measured for the metrics
        let measured = in_reward.kl.expect("kl measured").double_value(&[]);
        assert!((measured - kl).abs() < 1e-6);
    }
}
