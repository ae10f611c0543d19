//! The critic's network ([`ValueNet`]): features of a token (the final hidden state at
//! that position) from the policy itself (`critic.kind = "head"`, read without gradient) or
//! from its own small transformer (`"separate"`), and a linear head with one output per
//! value the method needs. An optional target copy (ArCHer) follows the critic by Polyak
//! averaging. [`ValueNet::fit`] takes optimiser steps on (sequence, position, head,
//! target) samples with a squared or clipped value loss; every distinct (sequence,
//! position) is run once.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context as _, Result};
use tch::{Device, Kind, Tensor};

use crate::config::{Config, CriticKind, ModelConfig};
use crate::optim::AdamW;
use crate::policy::{model_config, Policy};

/// Weights of a critic: its own trunk (separate kind) and the linear head.
struct Weights {
    trunk: Option<turnwise_model::Policy>,
    /// [d, H]
    w: Tensor,
    /// [H]
    b: Tensor,
}

impl Weights {
    /// Named tensors, in a fixed order.
    fn named(&self) -> Vec<(String, Tensor)> {
        let mut v: Vec<(String, Tensor)> = match &self.trunk {
            Some(m) => m
                .var_store()
                .variables()
                .into_iter()
                .map(|(k, t)| (format!("trunk.{k}"), t))
                .collect(),
            None => vec![],
        };
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.push(("head.w".into(), self.w.shallow_clone()));
        v.push(("head.b".into(), self.b.shallow_clone()));
        v
    }
}

/// A critic with `heads` outputs per position.
pub struct ValueNet {
    kind: CriticKind,
    online: Weights,
    target: Option<Weights>,
    opt: AdamW,
    max_context: usize,
}

/// Training samples: the value of output `head` at token `at` of sequence `seq` should be
/// `target`; `old` is its value when the step's credit was computed (value clipping).
#[derive(Debug, Default, Clone)]
pub struct Samples {
    /// Token sequences.
    pub seqs: Vec<Vec<u32>>,
    /// Position whose features are read, per sample (index into its sequence).
    pub at: Vec<usize>,
    /// Output index, per sample.
    pub head: Vec<usize>,
    /// Target value, per sample.
    pub target: Vec<f64>,
    /// Value before this step's update, per sample.
    pub old: Vec<f64>,
}

impl Samples {
    /// Adds one sample.
    pub fn push(&mut self, seq: Vec<u32>, at: usize, head: usize, target: f64, old: f64) {
        self.seqs.push(seq);
        self.at.push(at);
        self.head.push(head);
        self.target.push(target);
        self.old.push(old);
    }
}

/// How [`ValueNet::fit`] trains.
#[derive(Debug, Clone, Copy)]
pub struct Fit {
    /// ε_v of the clipped value loss (`None`: squared loss).
    pub clip: Option<f64>,
    /// Optimiser steps.
    pub epochs: usize,
    /// Learning rate.
    pub lr: f64,
    /// Global gradient-norm clip (0: off).
    pub grad_clip: f64,
    /// Distinct (sequence, position) points per forward pass.
    pub micro: usize,
}

/// The sequence cut to its last `max` tokens with the position shifted accordingly (a
/// critic reads contexts longer than the model's budget from their end).
fn clip_to(seq: &[u32], at: usize, max: usize) -> (&[u32], usize) {
    let end = (at + 1).min(seq.len());
    let start = end.saturating_sub(max);
    (&seq[start..end], at - start)
}

/// Distinct (sequence, position) pairs: representatives and the map sample → pair.
fn distinct_points(seqs: &[&[u32]], at: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let mut seen: HashMap<(&[u32], usize), usize> = HashMap::with_capacity(seqs.len());
    let mut uniq = vec![];
    let inverse = seqs
        .iter()
        .zip(at)
        .enumerate()
        .map(|(i, (s, &a))| {
            *seen.entry((s, a)).or_insert_with(|| {
                uniq.push(i);
                uniq.len() - 1
            })
        })
        .collect();
    (uniq, inverse)
}

impl ValueNet {
    /// A fresh critic with `heads` outputs (zero head: every value starts at 0), with a
    /// target copy when `with_target`.
    pub fn new(cfg: &Config, policy: &Policy, heads: i64, with_target: bool) -> Result<Self> {
        let c = &cfg.critic;
        let make = |seed: u64| -> Result<Weights> {
            let (trunk, d) = match c.kind {
                CriticKind::Head => (None, policy.model.config.hidden_size as i64),
                CriticKind::Separate => {
                    let mc = model_config(
                        &ModelConfig {
                            path: String::new(),
                            preset: "tiny".into(),
                            d_model: c.d_model,
                            layers: c.layers,
                            heads: c.heads,
                            d_ff: c.d_ff,
                            ..cfg.model.clone()
                        },
                        policy.tokenizer.vocab_size(),
                    )
                    .context("[critic]")?;
                    // The trunk runs where the policy runs; the head stays f32 on the CPU.
                    let m = turnwise_model::Policy::new(
                        mc,
                        policy.model.device(),
                        policy.model.dtype(),
                        seed,
                    )?;
                    (Some(m), c.d_model)
                }
            };
            let w = Tensor::zeros([d, heads], (Kind::Float, Device::Cpu)).set_requires_grad(true);
            let b = Tensor::zeros([heads], (Kind::Float, Device::Cpu)).set_requires_grad(true);
            Ok(Weights { trunk, w, b })
        };
        let seed = cfg.run.seed ^ 0xc817_1c00;
        let online = make(seed)?;
        let target = if with_target {
            let t = make(seed)?;
            copy_weights(&t, &online, 1.0);
            Some(t)
        } else {
            None
        };
        let params = online.named().into_iter().map(|(_, t)| t).collect();
        let o = &cfg.optim;
        Ok(ValueNet {
            kind: c.kind,
            online,
            target,
            opt: AdamW::new(params, o.beta1, o.beta2, o.eps, 0.0),
            max_context: cfg.model.max_context as usize,
        })
    }

    /// Features [B, d] at position `at[i]` of `seqs[i]` (left-padded batch).
    fn features(
        &self,
        w: &Weights,
        policy: &Policy,
        seqs: &[&[u32]],
        at: &[usize],
    ) -> Result<Tensor> {
        let cut: Vec<(&[u32], usize)> = seqs
            .iter()
            .zip(at)
            .map(|(s, &a)| clip_to(s, a, self.max_context))
            .collect();
        let refs: Vec<&[u32]> = cut.iter().map(|c| c.0).collect();
        let (ids, valid) = Policy::pad(&refs);
        let l = ids.size()[1];
        let positions = (valid.to_kind(Kind::Int64).cumsum(1, Kind::Int64) - 1).clamp_min(0);
        let model = w.trunk.as_ref().unwrap_or(&policy.model);
        let dev = model.device();
        let (ids, positions, valid) = (
            ids.to_device(dev),
            positions.to_device(dev),
            valid.to_device(dev),
        );
        let run = || model.forward_hidden(&ids, &positions, Some(&valid), None);
        let h = match self.kind {
            CriticKind::Head => tch::no_grad(run)?,
            CriticKind::Separate => run()?,
        };
        let d = h.size()[2];
        // Row i's last real token sits at column l − 1 (left padding); position p of the
        // (cut) sequence at column l − len + p.
        let cols: Vec<i64> = cut
            .iter()
            .map(|(s, a)| l - s.len() as i64 + *a as i64)
            .collect();
        let b = cols.len() as i64;
        let idx = Tensor::from_slice(&cols)
            .view([b, 1, 1])
            .expand([b, 1, d], false)
            .to_device(dev);
        // The head is f32 on the CPU (a differentiable copy of the features).
        Ok(h.gather(1, &idx, false)
            .squeeze_dim(1)
            .to_kind(Kind::Float)
            .to_device(Device::Cpu))
    }

    fn forward(
        &self,
        w: &Weights,
        policy: &Policy,
        seqs: &[&[u32]],
        at: &[usize],
    ) -> Result<Tensor> {
        let f = self.features(w, policy, seqs, at)?;
        Ok(f.matmul(&w.w) + &w.b)
    }

    /// Values [N][H] at `at[i]` of `seqs[i]` (no gradient), from the online critic or the
    /// target copy, in batches of `micro` distinct points.
    pub fn predict(
        &self,
        policy: &Policy,
        seqs: &[Vec<u32>],
        at: &[usize],
        target: bool,
        micro: usize,
    ) -> Result<Vec<Vec<f64>>> {
        let w = match (&self.target, target) {
            (Some(t), true) => t,
            _ => &self.online,
        };
        let refs: Vec<&[u32]> = seqs.iter().map(Vec::as_slice).collect();
        let (uniq, inverse) = distinct_points(&refs, at);
        let mut vals: Vec<Vec<f64>> = Vec::with_capacity(uniq.len());
        for chunk in uniq.chunks(micro.max(1)) {
            let s: Vec<&[u32]> = chunk.iter().map(|&i| refs[i]).collect();
            let a: Vec<usize> = chunk.iter().map(|&i| at[i]).collect();
            let v = tch::no_grad(|| self.forward(w, policy, &s, &a))?;
            let v: Vec<Vec<f64>> = Vec::<Vec<f64>>::try_from(v.to_kind(Kind::Double))?;
            vals.extend(v);
        }
        Ok(inverse.into_iter().map(|u| vals[u].clone()).collect())
    }

    /// `epochs` optimiser steps (learning rate `lr`, gradient clip `grad_clip`) on the mean
    /// over samples of the value loss: `½(V − y)²`, or with `clip = Some(ε)` PPO's clipped
    /// loss `½·max((V − y)², (V_old + clip(V − V_old, −ε, ε) − y)²)`. Returns the mean loss
    /// of the first epoch (before this step's updates).
    pub fn fit(&mut self, policy: &Policy, s: &Samples, f: &Fit) -> Result<f64> {
        let Fit {
            clip,
            epochs,
            lr,
            grad_clip,
            micro,
        } = *f;
        let n = s.seqs.len();
        if n == 0 {
            return Ok(0.0);
        }
        let refs: Vec<&[u32]> = s.seqs.iter().map(Vec::as_slice).collect();
        let (uniq, inverse) = distinct_points(&refs, &s.at);
        let mut members: Vec<Vec<usize>> = vec![vec![]; uniq.len().div_ceil(micro.max(1))];
        for (i, &u) in inverse.iter().enumerate() {
            members[u / micro.max(1)].push(i);
        }
        let mut first = 0.0;
        for epoch in 0..epochs.max(1) {
            self.opt.zero_grad();
            let mut total = 0.0;
            for (c, rows) in members.iter().enumerate() {
                if rows.is_empty() {
                    continue;
                }
                let start = c * micro.max(1);
                let chunk = &uniq[start..(start + micro.max(1)).min(uniq.len())];
                let seqs: Vec<&[u32]> = chunk.iter().map(|&i| refs[i]).collect();
                let at: Vec<usize> = chunk.iter().map(|&i| s.at[i]).collect();
                let v = self.forward(&self.online, policy, &seqs, &at)?; // [U_c, H]
                let heads = v.size()[1];
                let flat: Vec<i64> = rows
                    .iter()
                    .map(|&i| (inverse[i] - start) as i64 * heads + s.head[i] as i64)
                    .collect();
                let pred = v.reshape([-1]).index_select(0, &Tensor::from_slice(&flat));
                let y = Tensor::from_slice(
                    &rows.iter().map(|&i| s.target[i] as f32).collect::<Vec<_>>(),
                );
                let unclipped = (&pred - &y).square();
                let per = match clip {
                    Some(eps) if eps > 0.0 => {
                        let old = Tensor::from_slice(
                            &rows.iter().map(|&i| s.old[i] as f32).collect::<Vec<_>>(),
                        );
                        let clipped = &old + (&pred - &old).clamp(-eps, eps);
                        unclipped.maximum(&(clipped - &y).square())
                    }
                    _ => unclipped,
                };
                let loss = per.sum(Kind::Float) * (0.5 / n as f64);
                loss.backward();
                total += loss.double_value(&[]);
            }
            if epoch == 0 {
                first = total;
            }
            let norm = self.opt.clip_grad_norm(grad_clip);
            if !total.is_finite() || !norm.is_finite() {
                self.opt.zero_grad();
                continue;
            }
            self.opt.step(lr);
        }
        Ok(first)
    }

    /// target ← (1 − τ)·target + τ·online.
    pub fn update_target(&mut self, tau: f64) {
        if let Some(t) = &self.target {
            copy_weights(t, &self.online, tau);
        }
    }

    /// Whether every weight and moment is finite (checkpoints are written from finite
    /// values only).
    pub fn is_finite(&self) -> bool {
        let mut all: Vec<Tensor> = self.online.named().into_iter().map(|(_, t)| t).collect();
        if let Some(t) = &self.target {
            all.extend(t.named().into_iter().map(|(_, t)| t));
        }
        all.extend(
            self.opt
                .m
                .iter()
                .chain(&self.opt.v)
                .map(Tensor::shallow_clone),
        );
        crate::optim::all_finite(&all)
    }

    /// Saves weights, target and optimiser moments as `dir/critic.safetensors` (and the
    /// optimiser step in `dir/critic_state.json`).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let mut named = self.online.named();
        if let Some(t) = &self.target {
            named.extend(
                t.named()
                    .into_iter()
                    .map(|(k, v)| (format!("target.{k}"), v)),
            );
        }
        for (i, (m, v)) in self.opt.m.iter().zip(&self.opt.v).enumerate() {
            named.push((format!("opt.m.{i}"), m.shallow_clone()));
            named.push((format!("opt.v.{i}"), v.shallow_clone()));
            if let Some(w) = &self.opt.masters[i] {
                named.push((format!("opt.w.{i}"), w.shallow_clone()));
            }
        }
        let host: Vec<(String, Tensor)> = named
            .into_iter()
            .map(|(k, t)| (k, t.to_device(Device::Cpu)))
            .collect();
        Tensor::write_safetensors(&host, dir.join("critic.safetensors"))?;
        std::fs::write(
            dir.join("critic_state.json"),
            serde_json::json!({"opt_step": self.opt.step}).to_string(),
        )?;
        Ok(())
    }

    /// Restores what [`ValueNet::save`] wrote in `dir`.
    pub fn load(&mut self, dir: &Path) -> Result<()> {
        let path = dir.join("critic.safetensors");
        let saved: HashMap<String, Tensor> = Tensor::read_safetensors(&path)
            .with_context(|| format!("{}", path.display()))?
            .into_iter()
            .collect();
        let get = |k: &str| {
            saved
                .get(k)
                .with_context(|| format!("{}: missing `{k}`", path.display()))
        };
        tch::no_grad(|| -> Result<()> {
            for (k, mut t) in self.online.named() {
                t.copy_(get(&k)?);
            }
            if let Some(tg) = &self.target {
                for (k, mut t) in tg.named() {
                    t.copy_(get(&format!("target.{k}"))?);
                }
            }
            for i in 0..self.opt.m.len() {
                self.opt.m[i].copy_(get(&format!("opt.m.{i}"))?);
                self.opt.v[i].copy_(get(&format!("opt.v.{i}"))?);
                if let Some(w) = &mut self.opt.masters[i] {
                    w.copy_(get(&format!("opt.w.{i}"))?);
                }
            }
            Ok(())
        })?;
        let state: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("critic_state.json"))?)?;
        self.opt.step = state["opt_step"].as_u64().unwrap_or(0);
        Ok(())
    }
}

/// dst ← (1 − τ)·dst + τ·src, tensor by tensor (τ = 1: a copy).
fn copy_weights(dst: &Weights, src: &Weights, tau: f64) {
    tch::no_grad(|| {
        for ((_, mut d), (_, s)) in dst.named().into_iter().zip(src.named()) {
            let mixed = &d * (1.0 - tau) + &s * tau;
            d.copy_(&mixed);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::{clip_to, distinct_points};

    #[test]
    fn long_sequences_are_read_from_their_end() {
        assert_eq!(clip_to(&[1, 2, 3, 4, 5], 4, 3), (&[3, 4, 5][..], 2));
        assert_eq!(clip_to(&[1, 2, 3, 4, 5], 1, 3), (&[1, 2][..], 1));
        let a = [1u32, 2];
        let (u, inv) = distinct_points(&[&a, &a, &a[..1]], &[1, 1, 0]);
        assert_eq!((u, inv), (vec![0, 2], vec![0, 0, 1]));
    }
}
