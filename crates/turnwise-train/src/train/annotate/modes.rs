//! SIOP's outcome modes (`credit-turn.md` §3, "Production of the inputs"), verifier-free:
//! per prompt group, the final answers (the last turn's `answer`, from the environment)
//! are clustered greedily with the method's `clusterer` (turnwise's string clusterers;
//! the paper's NLI entailment is a [`turnwise_credit::turn::cluster::Clusterer`] to plug
//! in); each mode's reference is its first member's answer; `gold_logprob_initial` and
//! every turn's `gold_logprob` are the behaviour policy's mean log-prob of the trajectory's
//! own mode reference (scored as the gold-answer annotator scores the gold answer,
//! [`crate::train::gold`]). `evidence` stays null: the built-in answer environments return
//! no tool observations to entail the answer (SIOP then uses frequencies only).

use anyhow::Result;
use turnwise_core::Batch;
use turnwise_credit::turn::cluster;

use super::{Annotator, AnnotatorSpec, Context};

/// Fields this annotator fills (`evidence` as null).
pub const FIELDS: &[&str] = &[
    "answer_cluster",
    "evidence",
    "gold_logprob_initial",
    "gold_logprob",
];

/// The final answer of a trajectory: its last turn's `answer` when that turn was valid.
fn final_answer(t: &turnwise_core::Trajectory) -> Option<&str> {
    let last = t.turns.last()?.ext();
    if last.valid == Some(false) {
        return None;
    }
    last.answer.as_deref().filter(|a| !a.trim().is_empty())
}

/// Fills SIOP's modes and their references' log-probs.
pub struct Modes {
    clusterer: &'static dyn cluster::Clusterer,
}

impl Annotator for Modes {
    fn name(&self) -> &'static str {
        "answer_modes"
    }

    fn provides(&self) -> &'static [&'static str] {
        FIELDS
    }

    fn annotate(&mut self, batch: &mut Batch, cx: &Context) -> Result<()> {
        let mut references: Vec<Option<String>> = Vec::with_capacity(batch.num_trajectories());
        for g in &mut batch.groups {
            let answers: Vec<Option<&str>> = g.trajectories.iter().map(final_answer).collect();
            let mut labels = vec![None; answers.len()];
            self.clusterer.cluster(g, &answers, &mut labels);
            let heads: Vec<Option<String>> = labels
                .iter()
                .map(|l| {
                    l.and_then(|c| {
                        let head = labels.iter().position(|x| *x == Some(c))?;
                        answers[head].map(str::to_owned)
                    })
                })
                .collect();
            for ((t, l), head) in g.trajectories.iter_mut().zip(&labels).zip(heads) {
                t.ext_mut().answer_cluster = l.map(|c| c.to_string());
                references.push(head);
            }
        }
        crate::train::gold::score_answers(
            batch,
            cx.policy,
            cx.history,
            &references,
            cx.format,
            cx.cfg.optim.micro_batch,
        )?;
        // A trajectory without an answer has no mode (q = 0): its log-probs are unknown.
        for (t, r) in batch.trajectories_mut().zip(&references) {
            if r.is_none() {
                t.ext_mut().gold_logprob_initial = Some(vec![f64::NAN]);
                for u in &mut t.turns {
                    u.ext_mut().gold_logprob = Some(vec![f64::NAN]);
                }
            }
        }
        Ok(())
    }
}

/// Registry entry of [`Modes`]: wanted by a method reading `answer_cluster`; available
/// where the environment grades answers (`answer` among its credit fields).
pub static SPEC: AnnotatorSpec = AnnotatorSpec {
    name: "answer_modes",
    provides: FIELDS,
    wanted: |f| f.contains(&"answer_cluster"),
    available: |p| {
        if p.env.credit_fields().contains(&"answer") {
            Ok(())
        } else {
            Err("the environment gives no per-turn `answer` to cluster".into())
        }
    },
    build: |p, _| {
        let name = p
            .cfg
            .credit
            .params
            .get("clusterer")
            .and_then(|v| v.as_str())
            .unwrap_or("normalized");
        Ok(Box::new(Modes {
            clusterer: cluster::by_name(name),
        }))
    },
};
