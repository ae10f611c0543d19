//! Where a model's parameters come from ([`Source`]): a seeded initialiser (as
//! `transformers`' `_init_weights`) or a checkpoint's tensors, read in a fixed order, converted
//! to the model's dtype and device and registered in its variable store.

use super::add_var;
use super::fused::Fused;
use super::linear::Linear;
use crate::error::{ModelError, Result};
use rand::Rng as _;
use std::collections::HashMap;
use std::path::Path;
use tch::{nn, Device, Kind, Tensor};

/// How a parameter starts when it is not read from a checkpoint.
#[derive(Clone, Copy)]
pub(crate) enum Init {
    Normal,
    Ones,
    Zeros,
}

/// Where parameters come from: a seeded initialiser or a checkpoint's tensors.
pub(crate) enum Source<'a> {
    Random {
        rng: Box<turnwise_core::seed::Rng>,
        std: f64,
    },
    Checkpoint {
        tensors: &'a mut HashMap<String, Tensor>,
        dir: &'a Path,
    },
}

impl Source<'_> {
    fn take(&mut self, name: &str, shape: &[i64], init: Init) -> Result<Tensor> {
        match self {
            Source::Random { rng, std } => {
                let n: i64 = shape.iter().product();
                let t = match init {
                    Init::Ones => Tensor::f_ones(shape, (Kind::Float, Device::Cpu))?,
                    Init::Zeros => Tensor::f_zeros(shape, (Kind::Float, Device::Cpu))?,
                    Init::Normal => {
                        let v: Vec<f32> = (0..n).map(|_| (normal(rng) * *std) as f32).collect();
                        Tensor::f_from_slice(&v)?.f_view(shape)?
                    }
                };
                Ok(t)
            }
            Source::Checkpoint { tensors, dir } => {
                let t = tensors.remove(name).ok_or_else(|| {
                    ModelError::checkpoint(*dir, format!("missing tensor `{name}`"))
                })?;
                if t.size() != shape {
                    return Err(ModelError::checkpoint(
                        *dir,
                        format!(
                            "tensor `{name}` has shape {:?}, config.json implies {shape:?}",
                            t.size()
                        ),
                    ));
                }
                Ok(t)
            }
        }
    }
}

impl Source<'_> {
    /// A tensor converted to the model's kind and device (`opts`), not yet registered.
    fn load(
        &mut self,
        name: &str,
        shape: &[i64],
        init: Init,
        opts: (Kind, Device),
    ) -> Result<Tensor> {
        Ok(self
            .take(name, shape, init)?
            .f_to_kind(opts.0)?
            .f_to_device(opts.1)?)
    }

    /// A trainable parameter registered under its Hugging Face name.
    pub(crate) fn param(
        &mut self,
        root: &nn::Path,
        name: &str,
        shape: &[i64],
        init: Init,
        opts: (Kind, Device),
    ) -> Result<Tensor> {
        Ok(add_var(
            root,
            name,
            self.load(name, shape, init, opts)?,
            true,
        ))
    }

    /// A projection `<name>.weight` [out, inp] (and `<name>.bias`).
    pub(crate) fn linear(
        &mut self,
        root: &nn::Path,
        name: &str,
        out: i64,
        inp: i64,
        bias: bool,
        opts: (Kind, Device),
    ) -> Result<Linear> {
        let weight = self.param(
            root,
            &format!("{name}.weight"),
            &[out, inp],
            Init::Normal,
            opts,
        )?;
        let bias = if bias {
            Some(self.param(root, &format!("{name}.bias"), &[out], Init::Zeros, opts)?)
        } else {
            None
        };
        Ok(Linear {
            name: name.to_string(),
            weight,
            bias,
            lora: None,
        })
    }

    /// Projections `<prefix>.<part>` with the same input width stored in one block
    /// ([`Fused`]); each part's weight and bias are views of it, registered under their own
    /// names. Read (or drawn) in the order part 1 weight, part 1 bias, part 2 weight, ...,
    /// so a seeded initialisation equals that of separate tensors.
    pub(crate) fn group(
        &mut self,
        root: &nn::Path,
        prefix: &str,
        parts: &[(&str, i64)],
        inp: i64,
        bias: bool,
        opts: (Kind, Device),
    ) -> Result<(Fused, Vec<Linear>)> {
        let (mut ws, mut bs) = (vec![], vec![]);
        for (n, out) in parts {
            ws.push(self.load(
                &format!("{prefix}.{n}.weight"),
                &[*out, inp],
                Init::Normal,
                opts,
            )?);
            if bias {
                bs.push(self.load(&format!("{prefix}.{n}.bias"), &[*out], Init::Zeros, opts)?);
            }
        }
        let (fused, wv, bv) = Fused::stack(&ws, &bs)?;
        let mut bv = bv.into_iter();
        let lins = parts
            .iter()
            .zip(wv)
            .map(|((n, _), w)| {
                let name = format!("{prefix}.{n}");
                Linear {
                    weight: add_var(root, &format!("{name}.weight"), w, true),
                    bias: bv
                        .next()
                        .map(|b| add_var(root, &format!("{name}.bias"), b, true)),
                    name,
                    lora: None,
                }
            })
            .collect();
        Ok((fused, lins))
    }
}

/// The last of a group's projections (each group has as many as it was given).
pub(crate) fn pop(l: &mut Vec<Linear>) -> Linear {
    l.pop().expect("one projection per part")
}

/// A standard normal draw (Box–Muller), so initialisation depends only on the seed.
fn normal(rng: &mut turnwise_core::seed::Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}
