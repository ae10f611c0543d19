//! DisCO, discriminative constrained optimisation (Li et al., arXiv 2505.12366;
//! Optimization-AI/DisCO `compute_policy_loss_disco*`), `credit-outcome.md` §10.
//!
//! Per question q with positives (R = 1) and negatives (R = 0), over `n_Q` questions of the
//! batch (skipped ones included):
//! DisCO   `J_q = mean_pos s − τ·log mean_neg exp(s/τ)`,
//! DisCO-b `J_q = mean_pos s − mean_neg s`, `J = Σ_q J_q / n_Q`.
//! The output is the effective advantage on the sequence score `∂J/∂s_i`:
//! `1/(n_Q|pos|)` for positives, `−softmax_j(s_j/τ)/n_Q` (or `−1/(n_Q|neg|)`) for
//! negatives, 0 elsewhere, broadcast to every turn. The KL constraint belongs to the loss.

use turnwise_core::{Batch, Trajectory};

use crate::error::CreditError;
use crate::estimator::{Estimator, MethodInfo, OutputKind, Status};
use crate::output::{CreditOutput, TurnValues};
use crate::params::{Default as D, ParamKind, ParamSpec, Params};

use super::common::{broadcast_per_group, outcome, positive};

fn seq_score(t: &Trajectory) -> Result<f64, CreditError> {
    t.ext()
        .seq_score
        .ok_or_else(|| CreditError::missing_traj("disco", "seq_score", &t.id))
}

/// DisCO weights `∂J/∂s_i`, `credit-outcome.md` §10. `tau = None` is DisCO-b.
/// Outcomes other than 0 and 1 are neither positive nor negative (weight 0).
pub fn disco_weights(batch: &Batch, tau: Option<f64>) -> Result<TurnValues, CreditError> {
    let nq = batch.groups.len() as f64;
    let mut z = Vec::new();
    broadcast_per_group(batch, |g, out| {
        let (mut npos, mut nneg) = (0usize, 0usize);
        for t in &g.trajectories {
            let r = outcome("disco", t)?;
            npos += usize::from(r == 1.0);
            nneg += usize::from(r == 0.0);
        }
        if npos == 0 || nneg == 0 {
            return Ok(());
        }
        // softmax over the negatives' s/τ, with the max subtracted
        z.clear();
        let mut zmax = f64::NEG_INFINITY;
        for t in g.trajectories.iter().filter(|t| t.outcome == Some(0.0)) {
            let v = match tau {
                Some(tau) => seq_score(t)? / tau,
                None => 0.0,
            };
            zmax = zmax.max(v);
            z.push(v);
        }
        let denom: f64 = z.iter().map(|v| (v - zmax).exp()).sum();
        let mut neg = z.iter();
        for (w, t) in out.iter_mut().zip(&g.trajectories) {
            let r = t.outcome.unwrap_or(f64::NAN);
            *w = if r == 1.0 {
                seq_score(t)?;
                1.0 / (nq * npos as f64)
            } else if r == 0.0 {
                let v = *neg.next().expect("one z per negative");
                if tau.is_none() {
                    seq_score(t)?;
                }
                -((v - zmax).exp() / denom) / nq
            } else {
                0.0
            };
        }
        Ok(())
    })
}

static PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "tau",
        kind: ParamKind::Float,
        default: D::Float(10.0),
        doc: "τ of the log-sum-exp over negatives (scripts: 10 for logL, 1 for Lratio)",
    },
    ParamSpec {
        name: "basic",
        kind: ParamKind::Bool,
        default: D::Bool(false),
        doc: "DisCO-b: plain mean over negatives instead of the log-sum-exp",
    },
];

/// `disco`: registry adapter of [`disco_weights`].
pub struct Disco;

impl Estimator for Disco {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "disco",
            paper: "DisCO, discriminative constrained optimisation (arXiv 2505.12366)",
            idea: "Raise the sequence score of correct answers and lower it on incorrect ones (log-sum-exp over negatives), equal total weight per question; no difficulty bias.",
            fields: &["outcome", "seq_score"],
            params: PARAMS,
            status: Status::Exact("Optimization-AI/DisCO compute_policy_loss_disco (∂J/∂s weights)"),
            output: "weights",
            kind: OutputKind::SequenceWeights,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        let tau = if p.bool("basic") {
            None
        } else {
            Some(positive("disco", "tau", p.f64("tau"))?)
        };
        disco_weights(batch, tau).map(CreditOutput::per_turn)
    }
}
