//! Projections that read the same input — a layer's query, key and value projections, and
//! its MLP's gate and up projections — stored as row blocks of one weight tensor. Each
//! projection's weight (and bias) is a view into that block, registered under its Hugging
//! Face name, so training, LoRA, the optimizer and checkpoints see separate parameters as
//! before while decoding with a KV cache reads the block in one matrix product: one
//! product instead of three (or two) per layer and step, and for a few rows computed as
//! `W xᵀ` (W streamed as the left operand) instead of `x Wᵀ` (MKL's sgemm repacks the right
//! operand, the whole weight, on every call; docs/model.md, "Generation speed"), or for f32 on
//! the CPU by the few-row kernel of [`super::skinny`].

use super::linear::Linear;
use super::skinny;
use crate::error::Result;
use tch::Tensor;

/// The most rows for which decoding computes `(W xᵀ)ᵀ` rather than `x Wᵀ`.
pub const FEW_ROWS: i64 = 64;

/// `x Wᵀ` for a 2-D `x` [rows, in] and `w` [out, in], without autograd: f32 on the CPU with
/// up to [`skinny::MAX_ROWS`] rows by the few-row kernel ([`skinny`]); otherwise as
/// `(W xᵀ)ᵀ` for up to [`FEW_ROWS`] rows, else as `x Wᵀ`. Equal up to float rounding.
pub fn matmul_wt(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    if let Some(y) = skinny::xwt_tensor(x, w)? {
        return Ok(y);
    }
    if x.size()[0] <= FEW_ROWS {
        Ok(w.f_matmul(&x.f_transpose(0, 1)?)?.f_transpose(0, 1)?)
    } else {
        Ok(x.f_linear::<Tensor>(w, None)?)
    }
}

/// `x Wᵀ + b` for `x` [.., in] and `w` [out, in] → [.., out], without autograd: the leading
/// dimensions flattened into rows for [`matmul_wt`].
pub fn linear_decode(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let mut shape = x.size();
    let d = shape.pop().unwrap_or(1);
    let rows: i64 = shape.iter().product();
    let y = matmul_wt(&x.f_reshape([rows, d])?, w)?;
    let y = match bias {
        Some(b) => y.f_add(b)?,
        None => y,
    };
    shape.push(w.size()[0]);
    Ok(y.f_reshape(&shape)?)
}

/// The shared storage of a group of projections with the same input.
#[derive(Debug)]
pub struct Fused {
    /// The projections' weights stacked by rows ([Σ out, in]); never a parameter itself.
    pub weight: Tensor,
    /// Their biases, concatenated ([Σ out]), if the layout has them.
    pub bias: Option<Tensor>,
}

impl Fused {
    /// Stacks `weights` (each [out_i, in]) and `biases` into one block and returns it with
    /// each part's view of it (weights, then biases, in the order given).
    pub fn stack(
        weights: &[Tensor],
        biases: &[Tensor],
    ) -> Result<(Self, Vec<Tensor>, Vec<Tensor>)> {
        let weight = Tensor::f_cat(weights, 0)?;
        let bias = if biases.is_empty() {
            None
        } else {
            Some(Tensor::f_cat(biases, 0)?)
        };
        let views = |all: &Tensor, parts: &[Tensor]| -> Result<Vec<Tensor>> {
            let mut off = 0;
            parts
                .iter()
                .map(|p| {
                    let n = p.size()[0];
                    let v = all.f_narrow(0, off, n)?;
                    off += n;
                    Ok(v)
                })
                .collect()
        };
        let w = views(&weight, weights)?;
        let b = match &bias {
            Some(all) => views(all, biases)?,
            None => vec![],
        };
        Ok((Fused { weight, bias }, w, b))
    }

    /// The outputs of `parts` (the projections whose views this block holds, in order) for
    /// `x` [.., in], from one product with the block; active LoRA adapters are added per
    /// part. Without autograd only (the block is not a parameter).
    pub fn forward(&self, x: &Tensor, parts: &[&Linear]) -> Result<Vec<Tensor>> {
        let y = linear_decode(x, &self.weight, self.bias.as_ref())?;
        let mut off = 0;
        parts
            .iter()
            .map(|p| {
                let n = p.weight.size()[0];
                let part = y.f_narrow(-1, off, n)?;
                off += n;
                p.add_adapter(x, part)
            })
            .collect()
    }
}
