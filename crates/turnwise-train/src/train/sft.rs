//! Supervised fine-tuning on demonstrations (`turnwise sft`, the warm start of the default
//! job): negative log-likelihood of the action tokens only, token-mean over a minibatch;
//! observation tokens are context, never targets.

use anyhow::Result;
use rand::distr::weighted::WeightedIndex;
use rand::distr::Distribution;
use rand::Rng as _;
use tch::{Kind, Tensor};
use turnwise_core::{seed, Group};

use super::rows::{distinct, RowSet};
use crate::config::Config;
use crate::optim::{lr_at, AdamW};
use crate::policy::{Policy, PolicyTokenizer};
use crate::rollout::HistorySpec;

/// Encodes every text of `groups` with `tok` (observation and action ids per turn).
pub fn tokenize(groups: &mut [Group], tok: &PolicyTokenizer) -> Result<()> {
    for t in groups.iter_mut().flat_map(|g| g.trajectories.iter_mut()) {
        for u in &mut t.turns {
            u.observation.token_ids = tok.encode(&u.observation.text)?;
            u.action.token_ids = tok.encode(&u.action.text)?;
            u.tokens = u.action.token_ids.len() as u32;
        }
    }
    Ok(())
}

/// SFT statistics.
#[derive(Debug, Clone, Copy, Default)]
pub struct SftStats {
    /// Mean NLL per action token over the last 10% of steps.
    pub final_nll: f64,
    /// Rows (turns) trained on.
    pub rows: usize,
}

/// One supervised phase over a [`RowSet`]: optimiser steps, rows per step, peak learning
/// rate, optional row weights and the random stream of the row draws.
#[derive(Debug, Clone, Copy)]
pub struct Phase<'a> {
    /// Optimiser steps.
    pub steps: u64,
    /// Rows drawn (with replacement) per step.
    pub batch: usize,
    /// Peak learning rate (schedule from `[optim]` over `steps`).
    pub lr: f64,
    /// Row weights: rows are drawn with probability ∝ weight, which makes the token-mean
    /// NLL a weighted regression (reward-weighted regression, RISE); `None`: uniform.
    pub weights: Option<&'a [f64]>,
    /// Stream of `seed::rng(run.seed, stream)` the rows are drawn from.
    pub stream: u64,
}

/// Trains `policy` on tokenised demonstration `groups` for `cfg.sft.steps` steps; `on_step`
/// gets (step, NLL) and returns false to stop (an error: the warm start is incomplete).
pub fn train(
    policy: &Policy,
    groups: &[Group],
    cfg: &Config,
    history: HistorySpec,
    on_step: impl FnMut(u64, f64) -> bool,
) -> Result<SftStats> {
    let batch = turnwise_core::Batch {
        groups: groups.to_vec(),
    };
    let rows = RowSet::from_batch(&batch, history, false);
    anyhow::ensure!(
        !rows.is_empty(),
        "sft: the demonstrations have no action tokens"
    );
    let phase = Phase {
        steps: cfg.sft.steps,
        batch: cfg.sft.batch,
        lr: cfg.sft.lr,
        weights: None,
        stream: 0x5f70,
    };
    train_rows(policy, &rows, cfg, phase, on_step)
}

/// Trains `policy` on the action tokens of `rows` (non-empty) with a fresh AdamW (settings
/// from `[optim]`) for one [`Phase`]; `on_step` as in [`train`].
pub fn train_rows(
    policy: &Policy,
    rows: &RowSet,
    cfg: &Config,
    phase: Phase<'_>,
    mut on_step: impl FnMut(u64, f64) -> bool,
) -> Result<SftStats> {
    let o = &cfg.optim;
    let mut opt = AdamW::new(policy.parameters(), o.beta1, o.beta2, o.eps, o.weight_decay);
    let mut rng = seed::rng(cfg.run.seed, phase.stream);
    let draw = match phase.weights {
        Some(w) => Some(WeightedIndex::new(w)?),
        None => None,
    };
    let steps = phase.steps;
    let tail = (steps / 10).max(1);
    let (mut tail_sum, mut tail_n) = (0.0, 0usize);
    for step in 0..steps {
        let pick: Vec<usize> = (0..phase.batch.min(rows.len()))
            .map(|_| match &draw {
                Some(d) => d.sample(&mut rng),
                None => rng.random_range(0..rows.len()),
            })
            .collect();
        let refs: Vec<&[u32]> = pick.iter().map(|&i| rows.seqs[i].as_slice()).collect();
        let lens: Vec<usize> = pick.iter().map(|&i| rows.action_len[i]).collect();
        opt.zero_grad();
        // Repeated demonstrations in the draw are scored once and counted with multiplicity.
        let (uniq, inverse) = distinct(&refs, &lens);
        let urefs: Vec<&[u32]> = uniq.iter().map(|&i| refs[i]).collect();
        let ulens: Vec<usize> = uniq.iter().map(|&i| lens[i]).collect();
        let s = policy.score_actions(&urefs, &ulens)?;
        let inv = Tensor::from_slice(&inverse.iter().map(|&u| u as i64).collect::<Vec<_>>());
        let (logp, mask) = (s.logp.index_select(0, &inv), s.mask.index_select(0, &inv));
        let nll = -(&logp * &mask).sum(Kind::Float) / mask.sum(Kind::Float).clamp_min(1.0);
        policy.model.backward(&nll)?;
        opt.clip_grad_norm(o.grad_clip);
        let v = nll.double_value(&[]);
        if v.is_finite() {
            opt.step(lr_at(o, phase.lr, step, steps));
        }
        if step + tail >= steps {
            tail_sum += v;
            tail_n += 1;
        }
        if !on_step(step, v) {
            anyhow::bail!(
                "interrupted during SFT at step {}/{steps}; no warm start was saved",
                step + 1
            );
        }
    }
    Ok(SftStats {
        final_nll: tail_sum / tail_n.max(1) as f64,
        rows: rows.len(),
    })
}
