//! Gold-answer log-probs (IGPO / A²TGPO inputs): the trainer's values equal an independent
//! teacher-forced scoring of the answer after the right contexts, and a configuration
//! naming IGPO trains on an environment that knows its answer and is refused on one that
//! does not.

mod common;

use std::sync::atomic::AtomicBool;

use tch::Kind;
use turnwise_train::config::Config;
use turnwise_train::train::run::Trainer;
use turnwise_train::train::{envs, eval, gold};

fn cfg(extra: &[&str]) -> Config {
    common::config_with(
        &[
            "model.max_context=256",
            "env.name=\"wordle/standard\"",
            "env.group_size=2",
            "env.tasks_per_step=2",
            "env.max_turns=4",
            "sampling.max_action_tokens=12",
            "credit.method=\"igpo\"",
            "run.steps=2",
            "eval.episodes=2",
            "eval.max_turns=4",
            "run.threads=1",
        ],
        extra,
    )
}

/// Mean log-prob of the last `n` tokens of `seq` under `t`'s policy (independent path).
fn mean_tail(t: &Trainer, seq: &[u32], n: usize) -> f64 {
    let s = tch::no_grad(|| t.policy.score_actions(&[seq], &[n])).unwrap();
    (s.logp * s.mask).sum(Kind::Double).double_value(&[]) / n as f64
}

#[test]
fn gold_logprobs_score_the_answer_after_each_turn() {
    tch::set_num_threads(1);
    let tmp = std::env::temp_dir().join(format!("tw-gold-{}", std::process::id()));
    let c = cfg(&[]);
    let t = Trainer::start(c.clone(), &tmp.join("a"), |_, _| true).unwrap();
    let e = envs::make_envs(&c, 4, &[]).unwrap();
    let spec = eval::rollout_spec(&c, &t.policy, envs::STYLE.end_of_action(&*e[0]), 4, false);
    let mut rng = turnwise_core::seed::rng(5, 6);
    let (groups, _) = turnwise_train::rollout::collect(
        &t.policy,
        e,
        &[31, 32],
        "wordle/standard",
        &spec,
        &mut rng,
    )
    .unwrap();
    let mut batch = turnwise_core::Batch { groups };
    let probe = envs::make_envs(&c, 1, &[]).unwrap().remove(0);
    let format = |g: &str| envs::STYLE.format_action(&*probe, g);
    gold::annotate(&mut batch, &t.policy, spec.history, format, 3).unwrap();

    let mut checked = 0;
    for traj in batch.trajectories() {
        let g = traj.ext().gold_answer.as_deref().unwrap();
        // LMRL Wordle: the answer is a spaced guess ending in the stop string.
        assert_eq!(format(g), format!("{g}\n"));
        let ids = t.policy.tokenizer.encode(g).unwrap();
        let n = traj.turns.len();
        let ctx = |k: usize| turnwise_train::rollout::context_of(traj, k, spec.history);
        let with_gold = |mut c: Vec<u32>| {
            c.extend_from_slice(&ids);
            c
        };
        let init = traj.ext().gold_logprob_initial.as_ref().unwrap()[0];
        assert!((init - mean_tail(&t, &with_gold(ctx(0)), ids.len())).abs() < 1e-5);
        for k in 0..n {
            let got = traj.turns[k].ext().gold_logprob.as_ref().unwrap()[0];
            let want = if k + 1 < n {
                mean_tail(&t, &with_gold(ctx(k + 1)), ids.len())
            } else {
                let mut c = ctx(k);
                c.extend_from_slice(&traj.turns[k].action.token_ids);
                mean_tail(&t, &with_gold(c), ids.len())
            };
            assert!((got - want).abs() < 1e-5, "turn {k}: {got} vs {want}");
            assert!(got < 0.0);
            checked += 1;
        }
    }
    assert!(checked >= 4);

    // IGPO trains end to end here; on the maze (no single answer) it is refused.
    let mut t = Trainer::start(cfg(&[]), &tmp.join("b"), |_, _| true).unwrap();
    let end = t
        .run(&AtomicBool::new(false), |m| assert!(m.loss.is_finite()))
        .unwrap();
    assert_eq!(end.line["step"], 2, "{}", end.line);
    let err = Trainer::start(
        cfg(&["env.name=\"lmrl/maze-fo\""]),
        &tmp.join("c"),
        |_, _| true,
    )
    .err()
    .expect("the maze has no gold answer");
    assert!(err.to_string().contains("gold_logprob"), "{err}");
    std::fs::remove_dir_all(&tmp).ok();
}
