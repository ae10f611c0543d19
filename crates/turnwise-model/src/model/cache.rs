//! The key/value cache: per layer one preallocated [B, kv_heads, capacity, head_dim] tensor
//! for keys and one for values, written in place slot by slot (never re-concatenated), plus
//! a [B, capacity] "real token" mask so rows may hold padding anywhere (left padding of
//! prompts, ragged observation appends in multi-turn sessions).

use super::Policy;
use crate::error::Result;
use tch::{Kind, Tensor};

/// Cached keys and values of a batch of sequences.
pub struct KvCache {
    pub(crate) k: Vec<Tensor>,
    pub(crate) v: Vec<Tensor>,
    /// [B, capacity] bool: slot holds a real token (false: padding, never attended to).
    pub(crate) keep: Tensor,
    /// Slots written so far (the same for every row).
    pub(crate) len: i64,
    /// Whether any written slot is padding (then attention needs an explicit mask).
    pub(crate) padded: bool,
    batch: i64,
}

impl KvCache {
    /// An empty cache for `batch` rows with room for `capacity` slots.
    pub fn new(policy: &Policy, batch: usize, capacity: usize) -> Result<Self> {
        let (batch, cap) = (batch as i64, capacity.max(1) as i64);
        let c = &policy.config;
        let shape = [batch, c.num_kv_heads() as i64, cap, c.head_dim() as i64];
        let opts = (policy.dtype().kind(), policy.device());
        let mut k = Vec::with_capacity(c.num_hidden_layers);
        let mut v = Vec::with_capacity(c.num_hidden_layers);
        for _ in 0..c.num_hidden_layers {
            k.push(Tensor::f_zeros(shape, opts)?);
            v.push(Tensor::f_zeros(shape, opts)?);
        }
        let keep = Tensor::f_zeros([batch, cap], (Kind::Bool, policy.device()))?;
        Ok(KvCache {
            k,
            v,
            keep,
            len: 0,
            padded: false,
            batch,
        })
    }

    /// Rows.
    pub fn batch(&self) -> usize {
        self.batch as usize
    }

    /// Slots written.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slots allocated.
    pub fn capacity(&self) -> usize {
        self.keep.size()[1] as usize
    }

    /// Keeps batch rows `idx` ([B'] int64; repeats allowed) in that order.
    pub fn select_rows(&mut self, idx: &Tensor) -> Result<()> {
        for i in 0..self.k.len() {
            self.k[i] = self.k[i].f_index_select(0, idx)?;
            self.v[i] = self.v[i].f_index_select(0, idx)?;
        }
        self.keep = self.keep.f_index_select(0, idx)?;
        self.batch = idx.size()[0];
        Ok(())
    }

    /// Makes room for `extra` more slots, growing the storage geometrically (one copy per
    /// doubling) when needed.
    pub fn reserve(&mut self, extra: usize) -> Result<()> {
        let need = self.len + extra as i64;
        let cap = self.capacity() as i64;
        if need <= cap {
            return Ok(());
        }
        let new_cap = need.max(2 * cap);
        let grow = |t: &Tensor, dim: usize| -> Result<Tensor> {
            let mut shape = t.size();
            shape[dim] = new_cap;
            let n = Tensor::f_zeros(&shape, (t.kind(), t.device()))?;
            n.f_narrow(dim as i64, 0, cap)?.f_copy_(t)?;
            Ok(n)
        };
        for i in 0..self.k.len() {
            self.k[i] = grow(&self.k[i], 2)?;
            self.v[i] = grow(&self.v[i], 2)?;
        }
        self.keep = grow(&self.keep, 1)?;
        Ok(())
    }
}
