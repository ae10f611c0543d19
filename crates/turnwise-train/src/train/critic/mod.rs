//! Critics for the critic-based credit methods, as annotators ([`super::annotate`]): they
//! fill the value fields before credit assignment and fit the targets the method returns
//! after it ([`Annotator::learn`]). The network is [`net::ValueNet`] (`[critic]`: a value
//! head on the policy's features, or a separate small transformer).
//!
//! * [`V_SPEC`], turn-level GAE: `value` = V(s_t) at the last token of turn t's context,
//!   `bootstrap_value` = V(s_T) of a truncated trajectory (its final observation's
//!   context); fitted to the method's `returns` with the clipped value loss.
//! * [`HIER_SPEC`], HiPER: two outputs, `value_high` = V^H(s_t) and `value_low` =
//!   V^L(s_t); V^H is fitted at segment starts to `A^H_k + V^H(s_{t_k})`, V^L at every turn
//!   to `A^L_t + V^L(s_t)` (clipped value loss). Segments come from the environment's
//!   subgoals (`switch`, `docs/environments.md`).
//! * [`Q_SPEC`], ArCHer: four outputs, Q1, Q2 read at the last token of the turn's action
//!   (Q(s_t, a_t)) and V1, V2 at the last token of its context (V(s_t)), plus a target copy
//!   updated by Polyak averaging (`critic.tau`). `v_target_next` = V̄(s_{t+1}) (s_T of a
//!   truncated trajectory from its final observation); `q_target_pi` = Q̄(s_t, a_t).
//!   ASSUMPTION: ArCHer samples a fresh a' ~ π for its V targets; the trainer's batch is
//!   on-policy, so the turn's own action is that sample. Fitted with ArCHer's squared loss
//!   to the method's `q_targets` / `v_targets`.

pub mod net;

use anyhow::{anyhow, Result};
use turnwise_core::Batch;
use turnwise_credit::{CreditOutput, Extra};

use super::annotate::{reads_any, Annotator, AnnotatorSpec, Context};
use crate::config::Config;
use crate::policy::Policy;
use crate::rollout::{context_of, final_context};
use net::{Samples, ValueNet};

/// Which values a critic computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// One state value per turn (turn-level GAE).
    State,
    /// Planner and executor state values (HiPER).
    Hierarchical,
    /// Double Q and V with a target copy (ArCHer).
    DoubleQ,
}

impl Flavour {
    fn heads(self) -> i64 {
        match self {
            Flavour::State => 1,
            Flavour::Hierarchical => 2,
            Flavour::DoubleQ => 4,
        }
    }
}

/// The sequences of one step's trajectories, kept from `annotate` for `learn`.
#[derive(Default)]
struct StepData {
    /// Per trajectory, per turn: the turn's context.
    ctx: Vec<Vec<Vec<u32>>>,
    /// Per trajectory, per turn: context then action.
    sa: Vec<Vec<Vec<u32>>>,
    /// Per trajectory, per turn: online outputs at the context's end.
    v: Vec<Vec<Vec<f64>>>,
    /// Per trajectory, per turn: online outputs at the action's end (DoubleQ).
    q: Vec<Vec<Vec<f64>>>,
}

/// A critic annotator.
pub struct Critic {
    flavour: Flavour,
    net: ValueNet,
    data: StepData,
}

fn last(s: &[u32]) -> usize {
    s.len().saturating_sub(1)
}

impl Critic {
    /// A fresh critic of `flavour` for `policy`.
    pub fn new(cfg: &Config, policy: &Policy, flavour: Flavour) -> Result<Self> {
        Ok(Critic {
            flavour,
            net: ValueNet::new(cfg, policy, flavour.heads(), flavour == Flavour::DoubleQ)?,
            data: StepData::default(),
        })
    }

    /// Predicts outputs at the end of each of `seqs` (online or target).
    fn at_end(&self, cx: &Context, seqs: &[Vec<u32>], target: bool) -> Result<Vec<Vec<f64>>> {
        let at: Vec<usize> = seqs.iter().map(|s| last(s)).collect();
        self.net
            .predict(cx.policy, seqs, &at, target, cx.cfg.optim.micro_batch)
    }
}

/// Splits `flat` (trajectory after trajectory, `lens[i]` each) back into trajectories.
fn regroup<T: Clone>(flat: &[T], lens: &[usize]) -> Vec<Vec<T>> {
    let mut out = Vec::with_capacity(lens.len());
    let mut at = 0;
    for &n in lens {
        out.push(flat[at..at + n].to_vec());
        at += n;
    }
    out
}

impl Annotator for Critic {
    fn name(&self) -> &'static str {
        "critic"
    }

    fn provides(&self) -> &'static [&'static str] {
        match self.flavour {
            Flavour::State => V_FIELDS,
            Flavour::Hierarchical => HIER_FIELDS,
            Flavour::DoubleQ => Q_FIELDS,
        }
    }

    fn annotate(&mut self, batch: &mut Batch, cx: &Context) -> Result<()> {
        let h = cx.history;
        let lens: Vec<usize> = batch.trajectories().map(|t| t.turns.len()).collect();
        let mut ctx = vec![];
        let mut sa = vec![];
        for t in batch.trajectories() {
            for k in 0..t.turns.len() {
                let c = context_of(t, k, h);
                let mut s = c.clone();
                s.extend_from_slice(&t.turns[k].action.token_ids);
                ctx.push(c);
                sa.push(s);
            }
        }
        let finals: Vec<Option<Vec<u32>>> = batch
            .trajectories()
            .map(|t| t.truncated.then(|| final_context(t, h)).flatten())
            .collect();
        let final_seqs: Vec<Vec<u32>> = finals.iter().flatten().cloned().collect();
        let v = self.at_end(cx, &ctx, false)?;
        let fv = self.at_end(cx, &final_seqs, false)?;
        let (q, tq, tv, tfv) = if self.flavour == Flavour::DoubleQ {
            (
                self.at_end(cx, &sa, false)?,
                self.at_end(cx, &sa, true)?,
                self.at_end(cx, &ctx, true)?,
                self.at_end(cx, &final_seqs, true)?,
            )
        } else {
            (vec![], vec![], vec![], vec![])
        };
        self.data = StepData {
            ctx: regroup(&ctx, &lens),
            sa: regroup(&sa, &lens),
            v: regroup(&v, &lens),
            q: if q.is_empty() {
                vec![]
            } else {
                regroup(&q, &lens)
            },
        };
        let tq = if tq.is_empty() {
            vec![]
        } else {
            regroup(&tq, &lens)
        };
        let tv = if tv.is_empty() {
            vec![]
        } else {
            regroup(&tv, &lens)
        };
        let mut fi = 0;
        for (i, t) in batch.trajectories_mut().enumerate() {
            let fin = finals[i].as_ref().map(|_| {
                fi += 1;
                fi - 1
            });
            let vs = &self.data.v[i];
            let n = t.turns.len();
            for (k, u) in t.turns.iter_mut().enumerate() {
                let e = u.ext_mut();
                match self.flavour {
                    Flavour::State => e.value = Some(vs[k][0]),
                    Flavour::Hierarchical => {
                        e.value_high = Some(vs[k][0]);
                        e.value_low = Some(vs[k][1]);
                    }
                    Flavour::DoubleQ => {
                        let qs = &self.data.q[i][k];
                        e.q = Some(vec![qs[0], qs[1]]);
                        e.v = Some(vec![vs[k][2], vs[k][3]]);
                        e.q_target_pi = Some(vec![tq[i][k][0], tq[i][k][1]]);
                        e.v_target_next = if k + 1 < n {
                            Some(vec![tv[i][k + 1][2], tv[i][k + 1][3]])
                        } else {
                            fin.map(|f| vec![tfv[f][2], tfv[f][3]])
                        };
                    }
                }
            }
            if t.truncated {
                // V(s_T); 0 when the trajectory recorded no final observation.
                let boot = |head: usize| fin.map_or(0.0, |f| fv[f][head]);
                match self.flavour {
                    Flavour::State => t.ext_mut().bootstrap_value = Some(boot(0)),
                    Flavour::Hierarchical => t.ext_mut().bootstrap_value_high = Some(boot(0)),
                    Flavour::DoubleQ => {}
                }
            }
        }
        Ok(())
    }

    fn learn(
        &mut self,
        batch: &Batch,
        credit: &CreditOutput,
        cx: &Context,
    ) -> Result<Vec<(&'static str, f64)>> {
        let d = &self.data;
        let mut s = Samples::default();
        let per_turn = |name: &str| match credit.extra(name) {
            Some(Extra::PerTurn(v)) => Ok(v),
            _ => Err(anyhow!("the credit method returned no per-turn `{name}`")),
        };
        let per_list = |name: &str| match credit.extra(name) {
            Some(Extra::PerTrajectoryList(v)) => Ok(v),
            _ => Err(anyhow!("the credit method returned no `{name}`")),
        };
        let per_vec = |name: &str| match credit.extra(name) {
            Some(Extra::PerTurnVec(v)) => Some(v),
            _ => None,
        };
        let c = &cx.cfg.critic;
        let clip = Some(c.value_clip);
        match self.flavour {
            Flavour::State => {
                let ret = per_turn("returns")?;
                for i in 0..batch.num_trajectories() {
                    for (k, &y) in ret.traj(i).iter().enumerate() {
                        let x = &d.ctx[i][k];
                        s.push(x.clone(), last(x), 0, y, d.v[i][k][0]);
                    }
                }
            }
            Flavour::Hierarchical => {
                let adv = credit
                    .turn_values()
                    .ok_or_else(|| anyhow!("hiper_hae returned no per-turn advantages"))?;
                let high = per_list("high_advantages")?;
                let starts = per_list("segment_starts")?;
                for i in 0..batch.num_trajectories() {
                    for (k, &a) in adv.traj(i).iter().enumerate() {
                        let x = &d.ctx[i][k];
                        s.push(x.clone(), last(x), 1, a + d.v[i][k][1], d.v[i][k][1]);
                    }
                    for (&a, &st) in high.traj(i).iter().zip(starts.traj(i)) {
                        let k = st as usize;
                        let x = &d.ctx[i][k];
                        s.push(x.clone(), last(x), 0, a + d.v[i][k][0], d.v[i][k][0]);
                    }
                }
            }
            Flavour::DoubleQ => {
                let qt = per_vec("q_targets")
                    .ok_or_else(|| anyhow!("archer returned no `q_targets`"))?;
                for (i, turns) in qt.iter().enumerate() {
                    for (k, ys) in turns.iter().enumerate() {
                        for (h, &y) in ys.iter().enumerate().take(2) {
                            let x = &d.sa[i][k];
                            s.push(x.clone(), last(x), h, y, d.q[i][k][h]);
                        }
                    }
                }
                if let Some(vt) = per_vec("v_targets") {
                    for (i, turns) in vt.iter().enumerate() {
                        for (k, ys) in turns.iter().enumerate() {
                            for (h, &y) in ys.iter().enumerate().take(2) {
                                let x = &d.ctx[i][k];
                                s.push(x.clone(), last(x), 2 + h, y, d.v[i][k][2 + h]);
                            }
                        }
                    }
                }
            }
        }
        let clip = if self.flavour == Flavour::DoubleQ {
            None
        } else {
            clip
        };
        let o = &cx.cfg.optim;
        let fit = net::Fit {
            clip,
            epochs: c.epochs,
            lr: c.lr,
            grad_clip: o.grad_clip,
            micro: o.micro_batch,
        };
        let loss = self.net.fit(cx.policy, &s, &fit)?;
        if self.flavour == Flavour::DoubleQ {
            self.net.update_target(c.tau);
        }
        Ok(vec![("value_loss", loss)])
    }

    fn is_finite(&self) -> bool {
        self.net.is_finite()
    }

    fn save(&self, dir: &std::path::Path) -> Result<()> {
        self.net.save(dir)
    }

    fn load(&mut self, dir: &std::path::Path) -> Result<()> {
        self.net.load(dir)
    }
}

/// Fields of the state critic.
pub const V_FIELDS: &[&str] = &["value", "bootstrap_value"];
/// Fields of the hierarchical critic.
pub const HIER_FIELDS: &[&str] = &["value_high", "value_low", "bootstrap_value_high"];
/// Fields of the double-Q critic.
pub const Q_FIELDS: &[&str] = &["q", "v", "v_target_next", "q_target_pi"];

/// Registry entry of the state critic (turn-level GAE).
pub static V_SPEC: AnnotatorSpec = AnnotatorSpec {
    name: "critic",
    provides: V_FIELDS,
    wanted: |f| reads_any(f, V_FIELDS),
    available: |_| Ok(()),
    build: |p, policy| Ok(Box::new(Critic::new(p.cfg, policy, Flavour::State)?)),
};

/// The critics' registry entries (state, hierarchical, double-Q).
pub static SPECS: [&AnnotatorSpec; 3] = [&V_SPEC, &HIER_SPEC, &Q_SPEC];

/// Registry entry of the hierarchical critic (HiPER).
pub static HIER_SPEC: AnnotatorSpec = AnnotatorSpec {
    name: "hierarchical critic",
    provides: HIER_FIELDS,
    wanted: |f| reads_any(f, HIER_FIELDS),
    available: |_| Ok(()),
    build: |p, policy| Ok(Box::new(Critic::new(p.cfg, policy, Flavour::Hierarchical)?)),
};

/// Registry entry of the double-Q critic (ArCHer).
pub static Q_SPEC: AnnotatorSpec = AnnotatorSpec {
    name: "double-Q critic",
    provides: Q_FIELDS,
    wanted: |f| reads_any(f, Q_FIELDS),
    available: |_| Ok(()),
    build: |p, policy| Ok(Box::new(Critic::new(p.cfg, policy, Flavour::DoubleQ)?)),
};
