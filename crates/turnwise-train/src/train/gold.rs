//! Gold-answer log-probabilities for IGPO / A²TGPO (credit-turn.md §1 "Inputs", §2):
//! ℓ = the behaviour policy's length-normalised log-probability of the task's answer,
//! appended as a pseudo-response after a context.
//!
//! * `gold_logprob_initial` (ℓ(−1)): after the first context (the prompt: instructions and
//!   first observation).
//! * `gold_logprob` of turn t < T−1 (ℓ(t)): after the context that ends with the
//!   observation which answers turn t's action, i.e. turn t+1's context; of the last turn:
//!   after its own action (IGPO and A²TGPO never read it).
//!
//! ASSUMPTION (ours; the paper's pseudo-response is its search agent's
//! `"…</think>\n<answer>\n{gold}\n</answer>"`): the pseudo-response is the environment's own
//! action format for the answer (`Style::format_action` of [`Env::gold_action`], e.g.
//! `<think></think><answer>42</answer>` or `c r a n e\n`), and only the answer's own tokens
//! are scored (the text before it is context; the text after it cannot change their
//! log-probs). Scored at temperature 1 with no gradient, each distinct sequence once.

use anyhow::Result;
use tch::Kind;
use turnwise_core::Batch;

use super::rows::distinct;
use crate::policy::Policy;
use crate::rollout::{context_of, HistorySpec};

/// Credit fields this module provides.
pub const FIELDS: &[&str] = &["gold_logprob_initial", "gold_logprob"];

/// Splits the formatted pseudo-response `formatted` around `gold`: (text before, gold).
fn split_gold<'a>(formatted: &'a str, gold: &'a str) -> (&'a str, &'a str) {
    match formatted.find(gold) {
        Some(at) => (&formatted[..at], gold),
        None => ("", gold),
    }
}

/// Fills `gold_logprob_initial` and every turn's `gold_logprob` of the trajectories that
/// carry a `gold_answer` (`format` turns the gold action into the policy's output
/// text); others are left without. Scores in micro-batches of `micro` sequences.
pub fn annotate(
    batch: &mut Batch,
    policy: &Policy,
    history: HistorySpec,
    format: impl Fn(&str) -> String,
    micro: usize,
) -> Result<()> {
    let answers: Vec<Option<String>> = batch
        .trajectories()
        .map(|t| t.ext().gold_answer.clone())
        .collect();
    score_answers(batch, policy, history, &answers, format, micro)
}

/// Fills `gold_logprob_initial` and every turn's `gold_logprob` of trajectory `i` (batch
/// order) with the log-probs of the reference answer `answers[i]` (`None`: left without).
pub fn score_answers(
    batch: &mut Batch,
    policy: &Policy,
    history: HistorySpec,
    answers: &[Option<String>],
    format: impl Fn(&str) -> String,
    micro: usize,
) -> Result<()> {
    // (trajectory index, turn index or None for ℓ(−1)) for each scored sequence.
    let mut slots: Vec<(usize, Option<usize>)> = vec![];
    let mut seqs: Vec<Vec<u32>> = vec![];
    let mut lens: Vec<usize> = vec![];
    for (i, traj) in batch.trajectories().enumerate() {
        let Some(gold) = answers.get(i).and_then(|a| a.as_deref()) else {
            continue;
        };
        if traj.turns.is_empty() {
            continue;
        }
        let formatted = format(gold);
        let (before, gold) = split_gold(&formatted, gold);
        let mut tail = policy.tokenizer.encode(before)?;
        let gold_ids = policy.tokenizer.encode(gold)?;
        anyhow::ensure!(
            !gold_ids.is_empty(),
            "gold action {gold:?} encodes to no token"
        );
        tail.extend_from_slice(&gold_ids);
        let n = traj.turns.len();
        for t in 0..=n {
            // t = 0: ℓ(−1); t in 1..n: ℓ(t−1) after turn t's context; t = n: ℓ(n−1).
            let mut s = if t < n {
                context_of(traj, t, history)
            } else {
                let mut c = context_of(traj, n - 1, history);
                c.extend_from_slice(&traj.turns[n - 1].action.token_ids);
                c
            };
            s.extend_from_slice(&tail);
            seqs.push(s);
            lens.push(gold_ids.len());
            slots.push((i, t.checked_sub(1)));
        }
    }
    if seqs.is_empty() {
        return Ok(());
    }
    let refs: Vec<&[u32]> = seqs.iter().map(Vec::as_slice).collect();
    let (uniq, inverse) = distinct(&refs, &lens);
    let mut ell_u = Vec::with_capacity(uniq.len());
    for chunk in uniq.chunks(micro.max(1)) {
        let r: Vec<&[u32]> = chunk.iter().map(|&i| refs[i]).collect();
        let l: Vec<usize> = chunk.iter().map(|&i| lens[i]).collect();
        let s = tch::no_grad(|| policy.score_actions(&r, &l))?;
        let mean = (&s.logp * &s.mask).sum_dim_intlist(1, false, Kind::Double)
            / s.mask.sum_dim_intlist(1, false, Kind::Double);
        ell_u.extend(Vec::<f64>::try_from(mean)?);
    }
    let mut trajs: Vec<&mut turnwise_core::Trajectory> = batch.trajectories_mut().collect();
    for ((i, t), u) in slots.into_iter().zip(inverse) {
        let ell = ell_u[u];
        match t {
            None => trajs[i].ext_mut().gold_logprob_initial = Some(vec![ell]),
            Some(t) => trajs[i].turns[t].ext_mut().gold_logprob = Some(vec![ell]),
        }
    }
    Ok(())
}

/// The gold-answer annotator (IGPO, A²TGPO): scores the environment's own answer.
pub struct Gold;

impl super::annotate::Annotator for Gold {
    fn name(&self) -> &'static str {
        "gold"
    }

    fn provides(&self) -> &'static [&'static str] {
        FIELDS
    }

    fn annotate(&mut self, batch: &mut Batch, cx: &super::annotate::Context) -> Result<()> {
        annotate(
            batch,
            cx.policy,
            cx.history,
            cx.format,
            cx.cfg.optim.micro_batch,
        )
    }
}

/// Registry entry of [`Gold`]: wanted by a method reading the gold fields without
/// answer modes of its own (SIOP's come from [`super::annotate::modes`]); available
/// where the environment knows its task's answer ([`turnwise_envs::Env::gold_action`]).
pub static SPEC: super::annotate::AnnotatorSpec = super::annotate::AnnotatorSpec {
    name: "gold",
    provides: FIELDS,
    wanted: |f| super::annotate::reads_any(f, FIELDS) && !f.contains(&"answer_cluster"),
    available: |p| match p.env.gold_action() {
        Some(_) => Ok(()),
        None => Err("the environment has no single answer (Env::gold_action)".into()),
    },
    build: |_, _| Ok(Box::new(Gold)),
};

#[cfg(test)]
mod tests {
    use super::split_gold;

    #[test]
    fn the_gold_span_is_found_inside_its_format() {
        assert_eq!(
            split_gold("<think></think><answer>42</answer>", "42"),
            ("<think></think><answer>", "42")
        );
        assert_eq!(split_gold("c r a n e\n", "c r a n e"), ("", "c r a n e"));
    }
}
