//! DisCO's sequence score (`credit-outcome.md` §10): `seq_score` of a trajectory is the
//! behaviour policy's mean log-probability of its action tokens, s(o|q) = (1/|o|) Σ log
//! π_old(o_k | …) (the paper's `logL` scoring), read from the step's π_old pass (no
//! extra forward).

use anyhow::Result;
use turnwise_core::Batch;

use super::{reads_any, Annotator, AnnotatorSpec, Context};

/// Fields this annotator fills.
pub const FIELDS: &[&str] = &["seq_score"];

/// Per trajectory (batch order): Σ over its action tokens of `per_row(r)`'s token values,
/// and its number of action tokens, from the frozen per-row sums of `values` (`U` values
/// per distinct sequence, [`super::super::rows::RowSet::uniq`] order).
pub fn per_trajectory(cx: &Context, n_traj: usize, sums: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let counts = cx.frozen.row_sums(|c| cx.frozen.mask[c].shallow_clone());
    let mut s = vec![0.0; n_traj];
    let mut n = vec![0.0; n_traj];
    for (r, &u) in cx.rows.inverse.iter().enumerate() {
        s[cx.rows.traj[r]] += sums[u];
        n[cx.rows.traj[r]] += counts[u];
    }
    (s, n)
}

/// Fills `seq_score`.
pub struct SeqScore;

impl Annotator for SeqScore {
    fn name(&self) -> &'static str {
        "seq_score"
    }

    fn provides(&self) -> &'static [&'static str] {
        FIELDS
    }

    fn annotate(&mut self, batch: &mut Batch, cx: &Context) -> Result<()> {
        let f = cx.frozen;
        let logp = f.row_sums(|c| &f.logp_old[c] * &f.mask[c]);
        let (s, n) = per_trajectory(cx, batch.num_trajectories(), &logp);
        for (i, t) in batch.trajectories_mut().enumerate() {
            // A trajectory without action tokens scores 0 (log 1).
            t.ext_mut().seq_score = Some(if n[i] > 0.0 { s[i] / n[i] } else { 0.0 });
        }
        Ok(())
    }
}

/// Registry entry of [`SeqScore`] (every environment).
pub static SPEC: AnnotatorSpec = AnnotatorSpec {
    name: "seq_score",
    provides: FIELDS,
    wanted: |f| reads_any(f, FIELDS),
    available: |_| Ok(()),
    build: |_, _| Ok(Box::new(SeqScore)),
};
