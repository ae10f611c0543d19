//! Teacher-forced scoring for training: per-token log-probabilities log π_θ(x_t | x_<t) and
//! entropies H(π_θ(· | x_<t)) over padded batches, differentiable through every parameter.

use crate::error::{ModelError, Result};
use crate::model::Policy;
use tch::{Device, Kind, Tensor};

/// A right-padded batch of token sequences.
pub struct SeqBatch {
    /// Token ids [B, T] (int64), padded with `pad_id` after each sequence.
    pub ids: Tensor,
    /// Positions [B, T] (0, 1, 2, ... in every row).
    pub positions: Tensor,
    /// Real length of each row.
    pub lengths: Vec<usize>,
}

impl SeqBatch {
    /// Right-pads `seqs` to the longest one. Right padding needs no attention mask: causal
    /// attention never lets a real token see the padding after it.
    pub fn right_padded(seqs: &[Vec<u32>], pad_id: u32, device: Device) -> Result<Self> {
        let t = seqs.iter().map(Vec::len).max().unwrap_or(0);
        if seqs.is_empty() || t == 0 {
            return Err(ModelError::option(
                "sequences",
                "empty batch or empty sequences",
            ));
        }
        let mut flat = Vec::with_capacity(seqs.len() * t);
        for s in seqs {
            flat.extend(s.iter().map(|&x| x as i64));
            flat.extend(std::iter::repeat_n(pad_id as i64, t - s.len()));
        }
        let b = seqs.len() as i64;
        let ids = Tensor::f_from_slice(&flat)?
            .f_view([b, t as i64])?
            .f_to_device(device)?;
        let positions = Tensor::f_arange(t as i64, (Kind::Int64, device))?
            .f_unsqueeze(0)?
            .f_expand([b, t as i64], false)?;
        Ok(SeqBatch {
            ids,
            positions,
            lengths: seqs.iter().map(Vec::len).collect(),
        })
    }

    /// A [B, T] f32 mask from per-token weights (e.g. 1 on policy tokens, 0 on prompt and
    /// observation tokens), zero on padding.
    pub fn mask_from(&self, weights: &[Vec<f32>]) -> Result<Tensor> {
        let t = self.ids.size()[1] as usize;
        let mut flat = vec![0f32; weights.len() * t];
        for (b, w) in weights.iter().enumerate() {
            if w.len() != self.lengths.get(b).copied().unwrap_or(usize::MAX) {
                return Err(ModelError::option(
                    "loss_mask",
                    format!(
                        "row {b} has {} weights for {:?} tokens",
                        w.len(),
                        self.lengths.get(b)
                    ),
                ));
            }
            flat[b * t..b * t + w.len()].copy_from_slice(w);
        }
        Ok(Tensor::f_from_slice(&flat)?
            .f_view([weights.len() as i64, t as i64])?
            .f_to_device(self.ids.device())?)
    }
}

/// Per-token statistics aligned with the input tokens: column t scores token t given the
/// tokens before it; column 0 (no context) is 0.
pub struct TokenStats {
    /// log π_θ(x_t | x_<t), [B, T] f32 (f64 for an f64 model).
    pub logprobs: Tensor,
    /// H(π_θ(· | x_<t)) = −Σ_v π log π, [B, T] f32, when requested.
    pub entropy: Option<Tensor>,
}

impl Policy {
    /// Teacher-forced log-probabilities (and optionally entropies) of `ids` [B, T].
    ///
    /// `keep` ([B, T] bool) marks real tokens when rows are left-padded or padded inside;
    /// `None` for right-padded batches. `temperature` divides the logits first (1.0 = the
    /// model's own distribution; use the sampling temperature to score samples, as in the
    /// raw log-probs of [`crate::sample::Generation`]). Gradients flow to every trainable
    /// parameter.
    pub fn token_logprobs(
        &self,
        ids: &Tensor,
        positions: &Tensor,
        keep: Option<&Tensor>,
        temperature: f64,
        with_entropy: bool,
    ) -> Result<TokenStats> {
        if !(temperature > 0.0 && temperature.is_finite()) {
            return Err(ModelError::option(
                "temperature",
                "must be positive for scoring",
            ));
        }
        let (b, t) = (ids.size()[0], ids.size()[1]);
        let hidden = self.forward_hidden(ids, positions, keep, None)?;
        let logits = self.logits(&hidden.f_narrow(1, 0, t - 1)?)?;
        // Softmax in at least f32 (bf16 logits are upcast; f64 stays f64 for gradient checks).
        let acc = if logits.kind() == Kind::Double {
            Kind::Double
        } else {
            Kind::Float
        };
        let mut logits = logits.f_to_kind(acc)?;
        if temperature != 1.0 {
            logits = logits.f_div_scalar(temperature)?;
        }
        let logp = logits.f_log_softmax(-1, acc)?;
        let targets = ids.f_narrow(1, 1, t - 1)?.f_unsqueeze(-1)?;
        let lp = logp.f_gather(-1, &targets, false)?.f_squeeze_dim(-1)?;
        let zero = Tensor::f_zeros([b, 1], (acc, ids.device()))?;
        let logprobs = Tensor::f_cat(&[&zero, &lp], 1)?;
        let entropy = if with_entropy {
            let h = logp
                .f_exp()?
                .f_mul(&logp)?
                .f_sum_dim_intlist(-1, false, acc)?
                .f_neg()?;
            Some(Tensor::f_cat(&[&zero, &h], 1)?)
        } else {
            None
        };
        Ok(TokenStats { logprobs, entropy })
    }

    /// Log-probabilities of every token after the first for one sequence (what
    /// `turnwise model logprobs` prints), computed without autograd.
    pub fn sequence_logprobs(&self, tokens: &[u32]) -> Result<Vec<f32>> {
        if tokens.len() < 2 {
            return Err(ModelError::option("token-ids", "need at least two tokens"));
        }
        let vocab = self.config.vocab_size as u32;
        if let Some(bad) = tokens.iter().find(|&&x| x >= vocab) {
            return Err(ModelError::option(
                "token-ids",
                format!("token {bad} is outside the vocabulary (size {vocab})"),
            ));
        }
        let batch = SeqBatch::right_padded(&[tokens.to_vec()], 0, self.device())?;
        let stats =
            tch::no_grad(|| self.token_logprobs(&batch.ids, &batch.positions, None, 1.0, false))?;
        let lp = stats
            .logprobs
            .f_narrow(1, 1, tokens.len() as i64 - 1)?
            .f_flatten(0, -1)?;
        Ok(Vec::<f32>::try_from(
            &lp.f_to_device(Device::Cpu)?.f_to_kind(Kind::Float)?,
        )?)
    }
}
