//! A generation session: a batch of rows sharing one [`KvCache`] that lives across turns.
//! `append` feeds tokens (prompts, then observations) into every row; `generate` samples a
//! continuation of every (active) row. Nothing already cached is recomputed, which is what a
//! multi-turn agent loop needs (turn t+1 costs only its new tokens).

use super::filter::draw;
use super::{Decode, Generation, SamplingConfig, StopReason};
use crate::error::{ModelError, Result};
use crate::model::cache::KvCache;
use crate::model::skinny;
use crate::model::Policy;
use rand::Rng as _;
use tch::{Kind, Tensor};

/// Rows of token sequences being extended together.
pub struct Session<'a> {
    policy: &'a Policy,
    cache: KvCache,
    /// Next position id of each row (count of its real tokens).
    next_pos: Vec<i64>,
    /// Logits [B, V] after each row's last real token.
    last_logits: Option<Tensor>,
    /// Sampled tokens not yet fed through the model (a row's final token).
    pending: Vec<Vec<u32>>,
    /// Whether each row has at least one token.
    started: Vec<bool>,
    /// How many `generate` calls ran (decorrelates the seeds of successive turns).
    turns: u64,
}

impl<'a> Session<'a> {
    /// An empty session of `batch` rows with room for `capacity` tokens per row (it grows
    /// if needed).
    pub fn new(policy: &'a Policy, batch: usize, capacity: usize) -> Result<Self> {
        if batch == 0 {
            return Err(ModelError::option("prompts", "need at least one row"));
        }
        Ok(Session {
            policy,
            cache: KvCache::new(policy, batch, capacity)?,
            next_pos: vec![0; batch],
            last_logits: None,
            pending: vec![vec![]; batch],
            started: vec![false; batch],
            turns: 0,
        })
    }

    /// Replaces the rows by copies of existing rows: new row i is old row `rows[i]` (repeats
    /// allowed), with its cache slots, positions, pending tokens and next-token logits. A
    /// prompt shared by several rows is thus prefilled once and fanned out.
    pub fn select_rows(&mut self, rows: &[usize]) -> Result<()> {
        let b = self.next_pos.len();
        if rows.is_empty() || rows.iter().any(|&r| r >= b) {
            return Err(ModelError::option(
                "rows",
                format!("need at least one row index, each below {b}"),
            ));
        }
        let idx: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
        let idx = Tensor::f_from_slice(&idx)?.f_to_device(self.policy.device())?;
        self.cache.select_rows(&idx)?;
        self.next_pos = rows.iter().map(|&r| self.next_pos[r]).collect();
        self.pending = rows.iter().map(|&r| self.pending[r].clone()).collect();
        self.started = rows.iter().map(|&r| self.started[r]).collect();
        if let Some(l) = &self.last_logits {
            self.last_logits = Some(l.f_index_select(0, &idx)?);
        }
        Ok(())
    }

    /// The cache (slots used, capacity).
    pub fn cache(&self) -> &KvCache {
        &self.cache
    }

    /// Appends `tokens[r]` to row r (rows may get different counts, or none). Within the
    /// block, shorter rows are left-padded with masked slots; positions continue per row.
    pub fn append(&mut self, tokens: &[Vec<u32>]) -> Result<()> {
        let b = self.next_pos.len();
        if tokens.len() != b {
            return Err(ModelError::option(
                "tokens",
                format!("{} rows given, the session has {b}", tokens.len()),
            ));
        }
        let vocab = self.policy.config.vocab_size as u32;
        let rows: Vec<Vec<u32>> = tokens
            .iter()
            .zip(&mut self.pending)
            .map(|(t, p)| {
                let mut r = std::mem::take(p);
                r.extend_from_slice(t);
                r
            })
            .collect();
        for (r, row) in rows.iter().enumerate() {
            if let Some(bad) = row.iter().find(|&&x| x >= vocab) {
                return Err(ModelError::option(
                    "tokens",
                    format!("row {r}: token {bad} is outside the vocabulary (size {vocab})"),
                ));
            }
        }
        let t = rows.iter().map(Vec::len).max().unwrap_or(0);
        if t == 0 {
            return Ok(());
        }
        let (mut ids, mut pos, mut keep) = (vec![], vec![], vec![]);
        for (r, row) in rows.iter().enumerate() {
            let pad = t - row.len();
            ids.extend(std::iter::repeat_n(0i64, pad));
            ids.extend(row.iter().map(|&x| x as i64));
            pos.extend(std::iter::repeat_n(self.next_pos[r], pad));
            pos.extend((0..row.len() as i64).map(|i| self.next_pos[r] + i));
            keep.extend(std::iter::repeat_n(false, pad));
            keep.extend(std::iter::repeat_n(true, row.len()));
            self.next_pos[r] += row.len() as i64;
        }
        let has_new: Vec<bool> = rows.iter().map(|r| !r.is_empty()).collect();
        self.feed(&ids, &pos, &keep, t as i64, &has_new)?;
        for (s, n) in self.started.iter_mut().zip(&has_new) {
            *s |= *n;
        }
        Ok(())
    }

    /// Runs the model on a [B, t] block and updates the last logits of rows with new tokens:
    /// one token per row by [`Policy::decode_step`] where it applies, else by
    /// [`Session::forward_block`].
    fn feed(
        &mut self,
        ids: &[i64],
        pos: &[i64],
        keep: &[bool],
        t: i64,
        has_new: &[bool],
    ) -> Result<()> {
        let b = has_new.len() as i64;
        let dev = self.policy.device();
        let stepped = if t == 1 {
            let (policy, cache) = (self.policy, &mut self.cache);
            tch::no_grad(|| policy.decode_step(ids, pos, keep, cache))?
        } else {
            None
        };
        let logits = match stepped {
            Some(l) => l,
            None => self.forward_block(ids, pos, keep, t)?,
        };
        let logits = logits.f_to_kind(Kind::Float)?;
        self.last_logits = Some(match (&self.last_logits, has_new.iter().all(|&n| n)) {
            (Some(old), false) => {
                let m = Tensor::f_from_slice(has_new)?
                    .f_view([b, 1])?
                    .f_to_device(dev)?;
                logits.f_where_self(&m, old)?
            }
            _ => logits,
        });
        Ok(())
    }

    /// The logits [B, V] after a [B, t] block, by torch's forward pass with the cache.
    fn forward_block(&mut self, ids: &[i64], pos: &[i64], keep: &[bool], t: i64) -> Result<Tensor> {
        let b = (ids.len() as i64) / t;
        let dev = self.policy.device();
        let ids_t = Tensor::f_from_slice(ids)?
            .f_view([b, t])?
            .f_to_device(dev)?;
        let pos_t = Tensor::f_from_slice(pos)?
            .f_view([b, t])?
            .f_to_device(dev)?;
        let keep_t = if keep.iter().all(|&k| k) {
            None
        } else {
            Some(
                Tensor::f_from_slice(keep)?
                    .f_view([b, t])?
                    .f_to_device(dev)?,
            )
        };
        tch::no_grad(|| -> Result<Tensor> {
            let h = self.policy.forward_hidden(
                &ids_t,
                &pos_t,
                keep_t.as_ref(),
                Some(&mut self.cache),
            )?;
            self.policy
                .decode_logits(&h.f_narrow(1, t - 1, 1)?.f_squeeze_dim(1)?)
        })
    }

    /// Continues every row; see [`Session::generate_rows`].
    pub fn generate(
        &mut self,
        cfg: &SamplingConfig,
        decoder: Option<&dyn Decode>,
    ) -> Result<Vec<Generation>> {
        let all = vec![true; self.next_pos.len()];
        self.generate_rows(cfg, decoder, &all)
    }

    /// Samples up to `cfg.max_new_tokens` tokens for each row with `active[r]`; inactive rows
    /// get an empty [`Generation`] with [`StopReason::Inactive`]. The generated tokens stay
    /// in the session: a later `append` continues after them.
    pub fn generate_rows(
        &mut self,
        cfg: &SamplingConfig,
        decoder: Option<&dyn Decode>,
        active: &[bool],
    ) -> Result<Vec<Generation>> {
        cfg.validate()?;
        let b = self.next_pos.len();
        if active.len() != b {
            return Err(ModelError::option(
                "active",
                format!("{} flags for {b} rows", active.len()),
            ));
        }
        if !cfg.stop_strings.is_empty() && decoder.is_none() {
            return Err(ModelError::option("stop", "stop strings need a tokenizer"));
        }
        if self.pending.iter().any(|p| !p.is_empty()) {
            self.append(&vec![vec![]; b])?;
        }
        if let Some(r) = (0..b).find(|&r| active[r] && !self.started[r]) {
            return Err(ModelError::option("prompts", format!("row {r} is empty")));
        }
        let turn = self.turns;
        self.turns += 1;
        let mut rngs: Vec<_> = (0..b as u64)
            .map(|r| turnwise_core::seed::rng(cfg.seed, (turn << 32) ^ r))
            .collect();
        let mut out: Vec<Generation> = (0..b)
            .map(|r| Generation {
                tokens: vec![],
                logprobs_raw: vec![],
                logprobs_trunc: vec![],
                stop_reason: if active[r] {
                    StopReason::MaxTokens
                } else {
                    StopReason::Inactive
                },
            })
            .collect();
        let mut done: Vec<bool> = active.iter().map(|a| !a).collect();
        if cfg.max_new_tokens == 0 || done.iter().all(|&d| d) {
            return Ok(out);
        }
        self.cache.reserve(cfg.max_new_tokens)?;
        let max_stop = cfg.stop_strings.iter().map(String::len).max().unwrap_or(0);
        // On the CPU in f32 the per-step products are the few-row kernel's, which runs its
        // own threads; torch's own ops then run single-threaded (`skinny::decoding`).
        let own_threads = self.policy.device() == tch::Device::Cpu
            && self.policy.dtype().kind() == Kind::Float
            && b as i64 <= skinny::MAX_ROWS;
        let mut run = || -> Result<()> {
            for step in 0..cfg.max_new_tokens {
                let logits = self.last_logits.as_ref().expect("rows started");
                let uniforms: Vec<f64> = rngs.iter_mut().map(|g| g.random::<f64>()).collect();
                let d = draw(logits, cfg, &uniforms)?;
                let mut feed_ids = vec![0i64; b];
                let mut feed_keep = vec![false; b];
                for r in 0..b {
                    if done[r] {
                        continue;
                    }
                    let g = &mut out[r];
                    let tok = d.tokens[r];
                    g.tokens.push(tok);
                    g.logprobs_raw.push(d.raw[r]);
                    g.logprobs_trunc.push(d.trunc[r]);
                    feed_ids[r] = tok as i64;
                    feed_keep[r] = true;
                    if cfg.stop_tokens.contains(&tok) {
                        g.stop_reason = StopReason::StopToken(tok);
                        done[r] = true;
                    } else if let (Some(dec), true) = (decoder, max_stop > 0) {
                        let window = g.tokens.len().min(4 * max_stop + 8);
                        let text = dec.decode(&g.tokens[g.tokens.len() - window..])?;
                        if let Some(s) = cfg.stop_strings.iter().find(|s| text.contains(s.as_str()))
                        {
                            g.stop_reason = StopReason::StopString(s.clone());
                            done[r] = true;
                        }
                    }
                    if step + 1 == cfg.max_new_tokens && !done[r] {
                        done[r] = true;
                    }
                }
                if done.iter().all(|&x| x) || step + 1 == cfg.max_new_tokens {
                    for ((p, &k), &id) in self.pending.iter_mut().zip(&feed_keep).zip(&feed_ids) {
                        if k {
                            p.push(id as u32);
                        }
                    }
                    break;
                }
                let pos = self.next_pos.clone();
                for (p, &k) in self.next_pos.iter_mut().zip(&feed_keep) {
                    *p += k as i64;
                }
                self.feed(&feed_ids, &pos, &feed_keep, 1, &feed_keep)?;
            }
            Ok(())
        };
        if own_threads {
            skinny::decoding(run)?;
        } else {
            run()?;
        }
        Ok(out)
    }
}

/// Row r's generated text up to and excluding the first occurrence of a stop string.
pub fn strip_stop(text: &str, stop: &StopReason) -> String {
    match stop {
        StopReason::StopString(s) => text
            .find(s.as_str())
            .map_or(text, |i| &text[..i])
            .to_string(),
        _ => text.to_string(),
    }
}
