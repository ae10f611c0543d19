//! The credit stage: reward shaping, then the advantage estimator, and the estimator's
//! output turned into the rows' advantages according to its kind
//! ([`turnwise_credit::OutputKind`]):
//!
//! * reward shaping runs on a copy of the batch, in order: the KL penalty of
//!   `loss.kl_in_reward` (r_t −= β·Σ_k (log π_old − log π_ref) over the turn's tokens,
//!   §12.3), then each reward shaper: `rewards` shapers replace the turns' rewards
//!   (`ufo_reward`), `length reward` shapers add a reward computed from the turn's response
//!   length (`dapo_overlong`, `resp_len` = the turn's sampled action tokens); the outcome is
//!   then the shaped return;
//! * `advantages`: one per turn, broadcast to its tokens; `token advantages`: token by
//!   token; `sequence weights` (DisCO's ∂J/∂s_i on s_i = the trajectory's mean action-token
//!   log-prob): each token of trajectory i gets w_i/n_i divided by the weight the loss
//!   aggregation gives it, so the surrogate's gradient at θ_old is Σ_i w_i ∇s_i;
//!   `reverse-sequential`: see [`super::sequential`];
//! * a per-turn `clip_eps` extra becomes the row's clip range (A²TGPO).

use std::collections::BTreeMap;

use anyhow::{anyhow, Result};
use serde_json::{Map, Value};
use turnwise_core::Batch;
use turnwise_credit::output::Main;
use turnwise_credit::{registry, CreditOutput, Extra, MethodInfo, OutputKind, TurnValues};

use crate::config::{toml_to_json, Config};
use crate::loss::Normaliser;
use crate::train::annotate::Plan;
use crate::train::rows::RowSet;
use crate::train::update::Frozen;

/// What the credit stage produced.
pub struct Credited {
    /// The estimator.
    pub estimator: &'static MethodInfo,
    /// Its resolved parameters (JSON), to run it again (reverse-sequential update).
    pub params: Map<String, Value>,
    /// Its output.
    pub output: CreditOutput,
    /// The batch credit read, when reward shaping changed it.
    pub shaped: Option<Batch>,
    /// Per turn, the advantage the loss applied (filled by [`Credited::apply`] and the
    /// reverse-sequential update).
    pub applied: Option<TurnValues>,
}

fn run(name: &str, batch: &Batch, params: &Map<String, Value>) -> Result<CreditOutput> {
    registry::run(name, batch, params, &[]).map_err(|e| anyhow!("credit: {e}"))
}

/// The parameters of method `m` in `cfg`: `credit.params` for `credit.method`,
/// `credit.shaper_params.NAME` for a listed shaper, defaults for `credit.base`.
fn params_of(cfg: &Config, m: &MethodInfo) -> Map<String, Value> {
    if m.name == cfg.credit.method {
        return toml_to_json(&cfg.credit.params);
    }
    match cfg.credit.shaper_params.get(m.name) {
        Some(toml::Value::Table(t)) => toml_to_json(t),
        _ => Map::new(),
    }
}

/// Adds `beta · Σ_k (log π_old − log π_ref)` of each turn's tokens as a penalty to its
/// reward.
fn kl_penalty(batch: &mut Batch, rows: &RowSet, frozen: &Frozen, beta: f64) {
    let Some(refs) = &frozen.logp_ref else { return };
    let kl_u = frozen.row_sums(|c| (&frozen.logp_old[c] - &refs[c]) * &frozen.mask[c]);
    let mut trajs: Vec<&mut turnwise_core::Trajectory> = batch.trajectories_mut().collect();
    for r in 0..rows.len() {
        let u = &mut trajs[rows.traj[r]].turns[rows.turn[r]];
        u.reward = Some(u.reward.unwrap_or(0.0) - beta * kl_u[rows.inverse[r]]);
    }
}

/// Runs a `length reward` shaper on every turn: `resp_len` = the turn's action tokens;
/// `max_resp_len` and `buffer_len` default to the per-turn token budget and a fifth of it
/// (DAPO's 20480 / 4096) when the configuration does not set them.
fn length_reward(
    cfg: &Config,
    m: &MethodInfo,
    batch: &mut Batch,
    params: &Map<String, Value>,
) -> Result<()> {
    let mut p = params.clone();
    let budget = cfg.sampling.max_action_tokens as i64;
    p.entry("max_resp_len").or_insert(Value::from(budget));
    p.entry("buffer_len")
        .or_insert(Value::from((budget / 5).max(1)));
    let mut cache: BTreeMap<u32, f64> = BTreeMap::new();
    for u in batch.trajectories_mut().flat_map(|t| t.turns.iter_mut()) {
        let r = match cache.get(&u.tokens) {
            Some(r) => *r,
            None => {
                let mut q = p.clone();
                q.insert("resp_len".into(), Value::from(u.tokens));
                let out = run(m.name, &Batch::default(), &q)?;
                let r = match out.main {
                    Main::Scalars(s) => s.first().map(|x| x.1).unwrap_or(0.0),
                    _ => return Err(anyhow!("{}: expected a scalar reward", m.name)),
                };
                cache.insert(u.tokens, r);
                r
            }
        };
        u.reward = Some(u.reward.unwrap_or(0.0) + r);
    }
    Ok(())
}

/// Shapes rewards and runs the estimator of `plan` on `batch`.
pub fn assign(
    cfg: &Config,
    plan: &Plan,
    batch: &Batch,
    frozen: &Frozen,
    rows: &RowSet,
) -> Result<Credited> {
    let mut shaped = None;
    if (cfg.loss.kl_in_reward && frozen.logp_ref.is_some()) || !plan.shapers.is_empty() {
        let mut b = batch.clone();
        if cfg.loss.kl_in_reward {
            kl_penalty(&mut b, rows, frozen, cfg.loss.kl_coef);
        }
        for m in &plan.shapers {
            let params = params_of(cfg, m);
            match m.kind {
                OutputKind::Rewards => {
                    let out = run(m.name, &b, &params)?;
                    let r = out
                        .turn_values()
                        .ok_or_else(|| anyhow!("{}: expected per-turn rewards", m.name))?;
                    for (i, t) in b.trajectories_mut().enumerate() {
                        for (u, v) in t.turns.iter_mut().zip(r.traj(i)) {
                            u.reward = Some(*v);
                        }
                    }
                }
                OutputKind::LengthReward => length_reward(cfg, m, &mut b, &params)?,
                k => return Err(anyhow!("{} is not a reward shaper ({})", m.name, k.name())),
            }
        }
        for t in b.trajectories_mut() {
            t.outcome = Some(t.total_reward());
        }
        shaped = Some(b);
    }
    let params = params_of(cfg, plan.estimator);
    let output = run(
        plan.estimator.name,
        shaped.as_ref().unwrap_or(batch),
        &params,
    )?;
    Ok(Credited {
        estimator: plan.estimator,
        params,
        output,
        shaped,
        applied: None,
    })
}

impl Credited {
    /// Sets the rows' advantages (and clip ranges) from the output, by kind.
    pub fn apply(&mut self, cfg: &Config, rows: &mut RowSet) -> Result<()> {
        let name = self.estimator.name;
        let per_turn = || {
            self.output
                .turn_values()
                .ok_or_else(|| anyhow!("credit.method {name:?} returned no per-turn values"))
        };
        match self.estimator.kind {
            OutputKind::Advantages | OutputKind::ReverseSequential => {
                rows.set_advantages(per_turn()?)
            }
            OutputKind::TokenAdvantages => match &self.output.main {
                Main::PerToken(v) => rows.set_token_advantages(v),
                _ => {
                    return Err(anyhow!(
                        "credit.method {name:?} returned no per-token values"
                    ))
                }
            },
            OutputKind::SequenceWeights => {
                let w = per_turn()?;
                let norm = Normaliser::from_counts(cfg.loss.agg, &rows.counts(), cfg.loss.max_len);
                let mut n_traj = vec![0usize; w.num_trajectories()];
                for r in 0..rows.len() {
                    if rows.live[r] {
                        n_traj[rows.traj[r]] += rows.action_len[r];
                    }
                }
                rows.set_advantages(w);
                for r in 0..rows.len() {
                    let n = n_traj[rows.traj[r]].max(1) as f64;
                    rows.adv[r] /= n * norm.token_weight(rows.action_len[r]);
                }
            }
            k => return Err(anyhow!("credit.method {name:?}: cannot apply {}", k.name())),
        }
        rows.set_clip(match self.output.extra("clip_eps") {
            Some(Extra::PerTurn(v)) => Some(v),
            _ => None,
        });
        let mut applied = match self.output.turn_values() {
            Some(v) => TurnValues::zeros_like(v),
            None => TurnValues::from_nested(vec![]),
        };
        if applied.num_trajectories() > 0 {
            for r in 0..rows.len() {
                applied.traj_mut(rows.traj[r])[rows.turn[r]] = rows.adv[r];
            }
            self.applied = Some(applied);
        }
        Ok(())
    }

    /// Writes what credit gave each turn into its `credit` field: `advantage` (as the loss
    /// applied it), `reward` (after shaping, when shaping ran), and the per-turn extras of
    /// the output (`turn_rewards`, `clip_eps`, `returns`, `q_targets.0`, …).
    pub fn annotate_turns(&self, batch: &mut Batch, rows: &RowSet) {
        let mut adv: Vec<Vec<Option<f64>>> = batch
            .trajectories()
            .map(|t| vec![None; t.turns.len()])
            .collect();
        match &self.applied {
            Some(a) => {
                for (i, v) in adv.iter_mut().enumerate() {
                    for (k, x) in v.iter_mut().enumerate() {
                        *x = Some(a.traj(i)[k]);
                    }
                }
            }
            None => {
                for r in 0..rows.len() {
                    adv[rows.traj[r]][rows.turn[r]] = Some(rows.adv[r]);
                }
            }
        }
        let shaped: Option<Vec<Vec<Option<f64>>>> = self.shaped.as_ref().map(|b| {
            b.trajectories()
                .map(|t| t.turns.iter().map(|u| u.reward).collect())
                .collect()
        });
        for (i, t) in batch.trajectories_mut().enumerate() {
            for (k, u) in t.turns.iter_mut().enumerate() {
                let mut m = BTreeMap::new();
                if let Some(a) = adv[i][k] {
                    m.insert("advantage".to_owned(), a);
                }
                if let Some(r) = shaped.as_ref().and_then(|s| s[i][k]) {
                    m.insert("reward".to_owned(), r);
                }
                for (name, e) in &self.output.extras {
                    match e {
                        Extra::PerTurn(v) => {
                            if let Some(x) = v.traj(i).get(k) {
                                m.insert((*name).to_owned(), *x);
                            }
                        }
                        Extra::PerTurnVec(v) => {
                            if let Some(xs) = v.get(i).and_then(|t| t.get(k)) {
                                for (h, x) in xs.iter().enumerate() {
                                    m.insert(format!("{name}.{h}"), *x);
                                }
                            }
                        }
                        _ => {}
                    }
                }
                u.ext_mut().credit = Some(m);
            }
        }
    }
}
