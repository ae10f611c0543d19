//! PBSD's privileged teacher (`credit-turn.md` §4): per turn, `teacher_logprob` = Σ over
//! the turn's action tokens of log π(tok | x, y*, history) and `student_logprob` = the same
//! without y*. Both are the policy itself (self-distillation) at temperature 1, before this
//! step's update (π_old); the student sums come from the step's π_old pass.
//!
//! ASSUMPTION (the paper does not say how y* enters the teacher's context): the verified
//! answer y* is the environment's own answer (`Env::gold_action`) written as the policy
//! would write it (`Style::format_action`), placed right after the beginning-of-sequence
//! id, before the turn's context. When the longer context would exceed the model's
//! context budget, its oldest tokens after y* are dropped.

use anyhow::Result;
use tch::Kind;
use turnwise_core::Batch;

use super::{reads_any, Annotator, AnnotatorSpec, Context};
use crate::train::rows::distinct;

/// Fields this annotator fills.
pub const FIELDS: &[&str] = &["teacher_logprob", "student_logprob"];

/// The teacher's sequence of a row: `bos`, the hint, then the row's context and action
/// (its own `bos` removed), trimmed from the front of the context to `max_len` tokens.
pub fn teacher_sequence(
    row: &[u32],
    bos: Option<u32>,
    hint: &[u32],
    action_len: usize,
    max_len: usize,
) -> Vec<u32> {
    let body = match bos {
        Some(b) if row.first() == Some(&b) => &row[1..],
        _ => row,
    };
    let head = usize::from(bos.is_some()) + hint.len();
    let keep = max_len.saturating_sub(head).max(action_len).min(body.len());
    let mut s: Vec<u32> = bos.into_iter().collect();
    s.extend_from_slice(hint);
    s.extend_from_slice(&body[body.len() - keep..]);
    s
}

/// Fills `teacher_logprob` and `student_logprob` of every turn.
pub struct Teacher;

impl Annotator for Teacher {
    fn name(&self) -> &'static str {
        "teacher"
    }

    fn provides(&self) -> &'static [&'static str] {
        FIELDS
    }

    fn annotate(&mut self, batch: &mut Batch, cx: &Context) -> Result<()> {
        let rows = cx.rows;
        let f = cx.frozen;
        let student_u = f.row_sums(|c| &f.logp_old[c] * &f.mask[c]);
        let tok = &cx.policy.tokenizer;
        let max_len = cx.cfg.model.max_context as usize;
        let golds: Vec<Option<String>> = batch
            .trajectories()
            .map(|t| t.ext().gold_answer.clone())
            .collect();
        let mut hints: Vec<Option<Vec<u32>>> = Vec::with_capacity(golds.len());
        for g in &golds {
            hints.push(match g {
                Some(g) => Some(tok.encode(&(cx.format)(g))?),
                None => None,
            });
        }
        // Teacher sequences of the rows whose trajectory has a privileged answer.
        let mut idx = vec![];
        let mut seqs = vec![];
        for r in 0..rows.len() {
            if let Some(h) = &hints[rows.traj[r]] {
                idx.push(r);
                seqs.push(teacher_sequence(
                    &rows.seqs[r],
                    tok.bos(),
                    h,
                    rows.action_len[r],
                    max_len,
                ));
            }
        }
        let refs: Vec<&[u32]> = seqs.iter().map(Vec::as_slice).collect();
        let lens: Vec<usize> = idx.iter().map(|&r| rows.action_len[r]).collect();
        let (uniq, inverse) = distinct(&refs, &lens);
        let mut teacher_u = Vec::with_capacity(uniq.len());
        for chunk in uniq.chunks(cx.cfg.optim.micro_batch.max(1)) {
            let r: Vec<&[u32]> = chunk.iter().map(|&i| refs[i]).collect();
            let l: Vec<usize> = chunk.iter().map(|&i| lens[i]).collect();
            let s = tch::no_grad(|| cx.policy.score_actions(&r, &l))?;
            teacher_u.extend(Vec::<f64>::try_from((&s.logp * &s.mask).sum_dim_intlist(
                1,
                false,
                Kind::Double,
            ))?);
        }
        let mut teacher_row = vec![None; rows.len()];
        for (k, &r) in idx.iter().enumerate() {
            teacher_row[r] = Some(teacher_u[inverse[k]]);
        }
        let mut trajs: Vec<&mut turnwise_core::Trajectory> = batch.trajectories_mut().collect();
        for (i, t) in trajs.iter_mut().enumerate() {
            if hints[i].is_some() {
                // turns without action tokens: log 1 under both
                for u in &mut t.turns {
                    let e = u.ext_mut();
                    e.teacher_logprob = Some(0.0);
                    e.student_logprob = Some(0.0);
                }
            }
        }
        for (r, teacher) in teacher_row.into_iter().enumerate() {
            if let Some(v) = teacher {
                let e = trajs[rows.traj[r]].turns[rows.turn[r]].ext_mut();
                e.teacher_logprob = Some(v);
                e.student_logprob = Some(student_u[rows.inverse[r]]);
            }
        }
        Ok(())
    }
}

/// Registry entry of [`Teacher`]: available where the environment knows its task's
/// answer.
pub static SPEC: AnnotatorSpec = AnnotatorSpec {
    name: "teacher",
    provides: FIELDS,
    wanted: |f| reads_any(f, FIELDS),
    available: |p| match p.env.gold_action() {
        Some(_) => Ok(()),
        None => Err("the environment has no privileged answer (Env::gold_action)".into()),
    },
    build: |_, _| Ok(Box::new(Teacher)),
};

#[cfg(test)]
mod tests {
    use super::teacher_sequence;

    #[test]
    fn the_hint_follows_bos_and_the_oldest_context_goes_first() {
        // row = bos 1 2 3 | action 9
        let row = [0, 1, 2, 3, 9];
        assert_eq!(
            teacher_sequence(&row, Some(0), &[7, 8], 1, 16),
            vec![0, 7, 8, 1, 2, 3, 9]
        );
        assert_eq!(
            teacher_sequence(&row, Some(0), &[7, 8], 1, 5),
            vec![0, 7, 8, 3, 9]
        );
        assert_eq!(teacher_sequence(&[1, 9], None, &[7], 1, 8), vec![7, 1, 9]);
    }
}
