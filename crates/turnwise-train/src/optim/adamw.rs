//! AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", arXiv 1711.05101,
//! Algorithm 2) with bias correction, over an explicit parameter list so that its state
//! (m, v, step) can be checkpointed and restored bit for bit. Also global gradient-norm
//! clipping (Pascanu et al. 2013), with non-finite norms reported instead of applied.
//!
//! Mixed precision (Micikevicius et al. 2018, "Mixed Precision Training", §3.1): a 16-bit
//! parameter (bf16, f16) gets an f32 master copy; moments are f32, the update is applied to
//! the master in f32 and the parameter is the master rounded to 16 bits. Small updates that
//! would vanish in bf16 (8 bits of mantissa) thus accumulate.

use tch::{Kind, Tensor};

/// Whether every element of every tensor is finite.
pub fn all_finite(ts: &[Tensor]) -> bool {
    tch::no_grad(|| {
        ts.iter()
            .all(|t| t.numel() == 0 || t.isfinite().all().int64_value(&[]) != 0)
    })
}

/// A copy of the parameters and the AdamW state, to undo a step ([`AdamW::restore`]).
pub struct Snapshot {
    params: Vec<Tensor>,
    masters: Vec<Option<Tensor>>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    step: u64,
}

/// AdamW state: first and second moments per parameter, and the step count.
pub struct AdamW {
    /// The parameters being optimised (shallow clones of the model's variables).
    pub params: Vec<Tensor>,
    /// f32 master weights of 16-bit parameters (`None`: the parameter is its own master).
    pub masters: Vec<Option<Tensor>>,
    /// First moments m (f32 for 16-bit parameters).
    pub m: Vec<Tensor>,
    /// Second moments v.
    pub v: Vec<Tensor>,
    /// Number of updates applied.
    pub step: u64,
    /// β1.
    pub beta1: f64,
    /// β2.
    pub beta2: f64,
    /// ε.
    pub eps: f64,
    /// Decoupled weight decay λ.
    pub weight_decay: f64,
}

impl AdamW {
    /// A fresh optimiser over `params` (16-bit ones get f32 masters and moments).
    pub fn new(params: Vec<Tensor>, beta1: f64, beta2: f64, eps: f64, weight_decay: f64) -> Self {
        let masters: Vec<Option<Tensor>> = tch::no_grad(|| {
            params
                .iter()
                .map(|p| {
                    matches!(p.kind(), Kind::BFloat16 | Kind::Half)
                        .then(|| p.detach().to_kind(Kind::Float))
                })
                .collect()
        });
        let zeros = |i: usize| match &masters[i] {
            Some(w) => w.zeros_like(),
            None => params[i].zeros_like(),
        };
        let m = (0..params.len()).map(zeros).collect();
        let v = (0..params.len()).map(zeros).collect();
        AdamW {
            params,
            masters,
            m,
            v,
            step: 0,
            beta1,
            beta2,
            eps,
            weight_decay,
        }
    }

    /// Copies the parameters, moments and step count.
    pub fn snapshot(&self) -> Snapshot {
        let copy = |ts: &[Tensor]| -> Vec<Tensor> {
            tch::no_grad(|| ts.iter().map(|t| t.detach().copy()).collect())
        };
        Snapshot {
            params: copy(&self.params),
            masters: tch::no_grad(|| {
                self.masters
                    .iter()
                    .map(|w| w.as_ref().map(|w| w.copy()))
                    .collect()
            }),
            m: copy(&self.m),
            v: copy(&self.v),
            step: self.step,
        }
    }

    /// Puts back the parameters, moments and step count of `s` (in place: the model's
    /// variables are the same tensors).
    pub fn restore(&mut self, s: &Snapshot) {
        tch::no_grad(|| {
            for (dst, src) in [
                (&mut self.params, &s.params),
                (&mut self.m, &s.m),
                (&mut self.v, &s.v),
            ] {
                for (d, c) in dst.iter_mut().zip(src) {
                    d.copy_(c);
                }
            }
            for (d, c) in self.masters.iter_mut().zip(&s.masters) {
                if let (Some(d), Some(c)) = (d, c) {
                    d.copy_(c);
                }
            }
        });
        self.step = s.step;
    }

    /// Sets every gradient to zero.
    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
    }

    /// The global L2 norm of the gradients.
    pub fn grad_norm(&self) -> f64 {
        let mut total = 0.0f64;
        for p in &self.params {
            let g = p.grad();
            if g.defined() {
                total += g
                    .to_kind(Kind::Double)
                    .square()
                    .sum(Kind::Double)
                    .double_value(&[]);
            }
        }
        total.sqrt()
    }

    /// Scales the gradients so their global norm is at most `max_norm` (0: no clipping);
    /// returns the norm before clipping (non-finite: gradients untouched).
    pub fn clip_grad_norm(&mut self, max_norm: f64) -> f64 {
        let norm = self.grad_norm();
        if max_norm > 0.0 && norm.is_finite() && norm > max_norm {
            let scale = max_norm / (norm + 1e-6);
            for p in &self.params {
                let mut g = p.grad();
                if g.defined() {
                    let _ = g.g_mul_scalar_(scale);
                }
            }
        }
        norm
    }

    /// One AdamW update with learning rate `lr`:
    /// θ ← θ − lr·λ·θ; m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²;
    /// θ ← θ − lr·m̂/(√v̂ + ε) with m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ).
    pub fn step(&mut self, lr: f64) {
        self.step += 1;
        let t = self.step as i32;
        let bc1 = 1.0 - self.beta1.powi(t);
        let bc2 = 1.0 - self.beta2.powi(t);
        tch::no_grad(|| {
            let params = self.params.iter_mut().zip(&mut self.masters);
            for (((p, master), m), v) in params.zip(&mut self.m).zip(&mut self.v) {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                // θ is the f32 master of a 16-bit parameter, else the parameter itself.
                let (w, g) = match master.as_mut() {
                    Some(w) => (w, g.to_kind(Kind::Float)),
                    None => (&mut *p, g),
                };
                if self.weight_decay != 0.0 {
                    let _ = w.g_mul_scalar_(1.0 - lr * self.weight_decay);
                }
                let _ = m.g_mul_scalar_(self.beta1);
                let _ = m.g_add_(&(&g * (1.0 - self.beta1)));
                let _ = v.g_mul_scalar_(self.beta2);
                let _ = v.g_add_(&(g.square() * (1.0 - self.beta2)));
                let denom = (&*v / bc2).sqrt() + self.eps;
                let update = (&*m / bc1) / denom * lr;
                let _ = w.g_sub_(&update);
                if let Some(w) = master.as_ref() {
                    p.copy_(w);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_each_weight_by_lr_against_the_gradient_sign() {
        let p = Tensor::from_slice(&[1.0f64, -2.0]).set_requires_grad(true);
        let mut opt = AdamW::new(vec![p.shallow_clone()], 0.9, 0.999, 1e-8, 0.0);
        (&p * &Tensor::from_slice(&[3.0f64, -0.5]))
            .sum(Kind::Double)
            .backward();
        opt.step(0.1);
        let got: Vec<f64> = Vec::try_from(&p.detach()).unwrap();
        assert!(
            (got[0] - 0.9).abs() < 1e-6 && (got[1] + 1.9).abs() < 1e-6,
            "{got:?}"
        );
    }

    #[test]
    fn weight_decay_is_decoupled() {
        let p = Tensor::from_slice(&[2.0f64]).set_requires_grad(true);
        let mut opt = AdamW::new(vec![p.shallow_clone()], 0.9, 0.999, 1e-8, 0.5);
        (&p * 0.0).sum(Kind::Double).backward();
        opt.step(0.1);
        // Zero gradient: only the decay acts, θ·(1 − lr·λ).
        assert!((p.double_value(&[0]) - 2.0 * 0.95).abs() < 1e-12);
    }

    #[test]
    fn restore_undoes_steps_bit_for_bit() {
        let p = Tensor::from_slice(&[1.0f64, -2.0]).set_requires_grad(true);
        let mut opt = AdamW::new(vec![p.shallow_clone()], 0.9, 0.999, 1e-8, 0.1);
        let snap = opt.snapshot();
        for _ in 0..2 {
            opt.zero_grad();
            (&p * &p).sum(Kind::Double).backward();
            opt.step(0.1);
        }
        assert!(Vec::<f64>::try_from(&p.detach()).unwrap() != [1.0, -2.0]);
        opt.restore(&snap);
        assert_eq!(Vec::<f64>::try_from(&p.detach()).unwrap(), [1.0, -2.0]);
        assert_eq!(opt.step, 0);
        assert!(all_finite(&opt.m) && all_finite(&opt.params));
        assert_eq!(opt.m[0].abs().sum(Kind::Double).double_value(&[]), 0.0);
        tch::no_grad(|| {
            let _ = opt.params[0].fill_(f64::NAN);
        });
        assert!(!all_finite(&opt.params));
    }

    #[test]
    fn clipping_bounds_the_global_norm() {
        let p = Tensor::from_slice(&[0.0f64, 0.0]).set_requires_grad(true);
        let mut opt = AdamW::new(vec![p.shallow_clone()], 0.9, 0.999, 1e-8, 0.0);
        (&p * &Tensor::from_slice(&[3.0f64, 4.0]))
            .sum(Kind::Double)
            .backward();
        assert!((opt.clip_grad_norm(1.0) - 5.0).abs() < 1e-12);
        assert!((opt.grad_norm() - 1.0).abs() < 1e-5);
    }
}
