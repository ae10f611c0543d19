//! The reverse-sequential update of SeeUPO (`credit-outcome.md` §11): turns are updated as
//! separate agents, last turn index first. For k = K−1 … 0: the estimator runs on the batch
//! with the `seq_log_ratio` measured so far (the later turns' mean token log-ratio after
//! their update, 0 for turns not yet updated), turn k's rows get their advantages and
//! alone carry loss for one update (`optim.ppo_epochs` epochs), then ℓ_{i,k} =
//! (1/L) Σ log(π_new/π_old) of their tokens is measured and written into the batch.
//! SeeUPO's released configuration pairs this with the GSPO ratio and seq-mean-token-mean
//! aggregation (`loss.ratio = "sequence"`, `loss.agg = "seq-mean-token-mean"`).

use anyhow::{anyhow, Result};
use tch::Kind;
use turnwise_core::Batch;
use turnwise_credit::{registry, TurnValues};

use super::credit::Credited;
use crate::config::Config;
use crate::loss::PolicyLossSpec;
use crate::optim::AdamW;
use crate::policy::Policy;
use crate::train::rows::RowSet;
use crate::train::update::{self, Frozen, UpdateStats};

/// What the update reads.
pub struct Parts<'a> {
    /// The policy.
    pub policy: &'a Policy,
    /// The configuration.
    pub cfg: &'a Config,
    /// π_old / π_ref of the rows.
    pub frozen: &'a Frozen,
    /// The loss settings.
    pub spec: PolicyLossSpec,
    /// Learning rate.
    pub lr: f64,
}

/// Sets `seq_log_ratio` of every turn to 0 (no turn updated yet), before credit runs.
pub fn reset(batch: &mut Batch) {
    let ell: Vec<Vec<f64>> = batch
        .trajectories()
        .map(|t| vec![0.0; t.turns.len()])
        .collect();
    write_ratio(batch, &ell);
}

/// Sets `seq_log_ratio` of every turn of `batch` (0 where not yet measured).
fn write_ratio(batch: &mut Batch, ell: &[Vec<f64>]) {
    for (i, t) in batch.trajectories_mut().enumerate() {
        for (k, u) in t.turns.iter_mut().enumerate() {
            u.ext_mut().seq_log_ratio = Some(ell[i][k]);
        }
    }
}

/// Updates turn by turn, last first; returns the statistics over the turn updates
/// (mean loss, last entropy / KL / clip fraction, largest gradient norm, skipped epochs
/// when every turn update skipped) and records the advantages each turn was updated with.
pub fn update(
    p: &Parts,
    opt: &mut AdamW,
    credited: &mut Credited,
    rows: &mut RowSet,
    batch: &mut Batch,
) -> Result<UpdateStats> {
    let cfg = p.cfg;
    let mut ell: Vec<Vec<f64>> = batch
        .trajectories()
        .map(|t| vec![0.0; t.turns.len()])
        .collect();
    let k_max = batch.max_turns();
    let live = rows.live.clone();
    let mut applied = TurnValues::zeros(batch);
    let mut st = UpdateStats::default();
    let mut updates = 0usize;
    let mut all_skipped = true;
    let old_sums = p
        .frozen
        .row_sums(|c| &p.frozen.logp_old[c] * &p.frozen.mask[c]);
    for k in (0..k_max).rev() {
        let input = credited.shaped.as_mut().unwrap_or(&mut *batch);
        write_ratio(input, &ell);
        let out = registry::run(credited.estimator.name, input, &credited.params, &[])
            .map_err(|e| anyhow!("credit: {e}"))?;
        let adv = out
            .turn_values()
            .ok_or_else(|| anyhow!("{} returned no per-turn values", credited.estimator.name))?;
        rows.set_advantages(adv);
        for (r, &was) in live.iter().enumerate() {
            rows.live[r] = was && rows.turn[r] == k;
            if rows.turn[r] == k {
                applied.traj_mut(rows.traj[r])[k] = rows.adv[r];
            }
        }
        let turn_rows: Vec<usize> = (0..rows.len()).filter(|&r| rows.live[r]).collect();
        if turn_rows.is_empty() {
            continue;
        }
        let u = update::update(p.policy, opt, rows, p.frozen, cfg, &p.spec, None, p.lr)?;
        updates += 1;
        st.loss += u.loss;
        st.entropy = u.entropy;
        st.kl = u.kl;
        st.clip_frac = u.clip_frac;
        st.grad_norm = st.grad_norm.max(u.grad_norm);
        all_skipped &= u.skipped == cfg.optim.ppo_epochs;
        // ℓ of turn k's rows under the updated policy.
        let seqs: Vec<&[u32]> = turn_rows.iter().map(|&r| rows.seqs[r].as_slice()).collect();
        let lens: Vec<usize> = turn_rows.iter().map(|&r| rows.action_len[r]).collect();
        let mut new_sums = Vec::with_capacity(turn_rows.len());
        for (s, l) in seqs
            .chunks(cfg.optim.micro_batch.max(1))
            .zip(lens.chunks(cfg.optim.micro_batch.max(1)))
        {
            let sc = tch::no_grad(|| p.policy.score_actions(s, l))?;
            new_sums.extend(Vec::<f64>::try_from(
                (&sc.logp * &sc.mask).sum_dim_intlist(1, false, Kind::Double),
            )?);
        }
        for (j, &r) in turn_rows.iter().enumerate() {
            let n = rows.action_len[r].max(1) as f64;
            ell[rows.traj[r]][k] = (new_sums[j] - old_sums[rows.inverse[r]]) / n;
        }
    }
    rows.live = live;
    write_ratio(batch, &ell);
    if let Some(b) = credited.shaped.as_mut() {
        write_ratio(b, &ell);
    }
    if updates > 0 {
        st.loss /= updates as f64;
    }
    st.skipped = if updates > 0 && all_skipped {
        cfg.optim.ppo_epochs
    } else {
        0
    };
    credited.applied = Some(applied);
    Ok(st)
}
