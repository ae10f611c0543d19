//! End-to-end properties of runs on a tiny configuration: resuming gives the same weights
//! bit for bit, micro-batching and scoring repeated sequences once do not change the
//! gradient, rollouts are token-in /
//! token-out and readable by the credit registry, and bad configurations are rejected.

mod common;

use std::sync::atomic::AtomicBool;

use tch::Kind;
use turnwise_train::config::Config;
use turnwise_train::train::run::Trainer;

fn tiny(extra: &[&str]) -> Config {
    common::config_with(
        &[
            "env.group_size=2",
            "env.tasks_per_step=2",
            "env.max_turns=6",
            "loss.entropy_coef=0.01",
            "run.steps=4",
            "checkpoint.every=2",
            "checkpoint.keep=5",
            "eval.episodes=2",
            "eval.max_turns=3",
            "optim.ppo_epochs=2",
            "run.threads=1",
        ],
        extra,
    )
}

/// The rows of a rollout of `seeds` (2 episodes each, at most `turns` turns) under `t`'s
/// policy, with advantage `adv(i)` for the i-th turn.
fn rollout_rows(
    cfg: &Config,
    t: &Trainer,
    seeds: &[u64],
    turns: usize,
    rng: (u64, u64),
    adv: impl Fn(usize) -> f64,
) -> turnwise_train::train::rows::RowSet {
    let envs = turnwise_train::train::envs::make_envs(cfg, 2 * seeds.len(), &[]).unwrap();
    let spec =
        turnwise_train::train::eval::rollout_spec(cfg, &t.policy, envs[0].stop(), turns, false);
    let mut rng = turnwise_core::seed::rng(rng.0, rng.1);
    let (groups, _) =
        turnwise_train::rollout::collect(&t.policy, envs, seeds, "lmrl/maze-fo", &spec, &mut rng)
            .unwrap();
    let batch = turnwise_core::Batch { groups };
    let mut values = turnwise_credit::TurnValues::zeros(&batch);
    for (i, v) in values.values.iter_mut().enumerate() {
        *v = adv(i);
    }
    let h = turnwise_train::rollout::HistorySpec {
        mode: cfg.env.history,
        k: cfg.env.history_k,
        bos: t.policy.tokenizer.bos(),
    };
    let mut rows = turnwise_train::train::rows::RowSet::from_batch(&batch, h, false);
    rows.set_advantages(&values);
    rows
}

#[test]
fn two_plus_two_steps_after_resume_equal_four_straight() {
    tch::set_num_threads(1);
    let tmp = std::env::temp_dir().join(format!("tw-resume-{}", std::process::id()));
    let (_, cb) = common::resume_matches_straight(tiny, &tmp);
    let b = tmp.join("b");
    // The last rollout batch is valid turnwise JSONL for the credit registry.
    let batch = turnwise_core::jsonl::read_batch(&b.join("rollouts/last.jsonl")).unwrap();
    turnwise_credit::registry::run("grpo", &batch, &Default::default(), &[]).unwrap();
    // Token-in / token-out: every action's text is the decoding of its ids.
    let policy = turnwise_train::policy::Policy::load(&cb).unwrap();
    for t in batch.trajectories() {
        for u in &t.turns {
            assert_eq!(
                policy.tokenizer.decode(&u.action.token_ids).unwrap(),
                u.action.text
            );
            assert_eq!(u.action.token_ids.len(), u.action_logprobs.len());
            assert_eq!(u.tokens as usize, u.action.token_ids.len());
        }
    }
    std::fs::remove_dir_all(&tmp).ok();
}

#[test]
fn micro_batch_size_does_not_change_the_gradient() {
    use turnwise_train::train::update;
    tch::set_num_threads(1);
    let cfg = tiny(&["loss.agg=seq-mean-token-mean", "loss.entropy_coef=0.01"]);
    let tmp = std::env::temp_dir().join(format!("tw-micro-{}", std::process::id()));
    let t = Trainer::start(cfg.clone(), &tmp, |_, _| true).unwrap();
    let rows = rollout_rows(&cfg, &t, &[11, 12], 3, (1, 2), |i| (i as f64 * 0.37).sin());
    assert!(rows.len() >= 6);
    let spec = update::loss_spec(&cfg, &[], 0);
    let norm = turnwise_train::loss::Normaliser::from_counts(cfg.loss.agg, &rows.counts(), None);
    let grads = |micro: usize| {
        let mut opt =
            turnwise_train::optim::AdamW::new(t.policy.parameters(), 0.9, 0.999, 1e-8, 0.0);
        opt.zero_grad();
        let frozen = update::freeze(&rows, &t.policy, None, micro).unwrap();
        let (loss, ..) = update::accumulate(&t.policy, &rows, &frozen, &spec, &norm).unwrap();
        let g: Vec<f64> = opt
            .params
            .iter()
            .flat_map(|p| Vec::<f64>::try_from(p.grad().to_kind(Kind::Double).view([-1])).unwrap())
            .collect();
        (loss, g)
    };
    let (l1, g1) = grads(rows.len());
    let (l2, g2) = grads(1);
    let (l3, g3) = grads(3);
    assert!(
        (l1 - l2).abs() < 1e-5 && (l1 - l3).abs() < 1e-5,
        "{l1} {l2} {l3}"
    );
    let scale = g1.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(1e-6);
    assert!(scale > 1e-6, "no gradient");
    for ((a, b), c) in g1.iter().zip(&g2).zip(&g3) {
        assert!(
            (a - b).abs() <= 1e-4 * scale && (a - c).abs() <= 1e-4 * scale,
            "{a} {b} {c}"
        );
    }
    std::fs::remove_dir_all(&tmp).ok();
}

/// `model.gradient_checkpointing`: the update's accumulated gradient over several
/// micro-batches equals the plain one, and a short run ends at the same weights.
#[test]
fn gradient_checkpointing_changes_neither_the_gradient_nor_the_run() {
    use turnwise_train::train::update;
    tch::set_num_threads(1);
    let cfg = tiny(&["model.layers=3", "loss.agg=seq-mean-token-mean"]);
    let tmp = std::env::temp_dir().join(format!("tw-ckpt-{}", std::process::id()));
    let mut t = Trainer::start(cfg.clone(), &tmp.join("g"), |_, _| true).unwrap();
    let rows = rollout_rows(&cfg, &t, &[31, 32], 3, (5, 6), |i| (i as f64 * 0.53).sin());
    let spec = update::loss_spec(&cfg, &[], 0);
    let norm = turnwise_train::loss::Normaliser::from_counts(cfg.loss.agg, &rows.counts(), None);
    let mut grads = |on: bool| {
        t.policy.model.set_gradient_checkpointing(on);
        let mut opt =
            turnwise_train::optim::AdamW::new(t.policy.parameters(), 0.9, 0.999, 1e-8, 0.0);
        opt.zero_grad();
        let frozen = update::freeze(&rows, &t.policy, None, 2).unwrap();
        assert!(frozen.chunks.len() > 1);
        let (loss, ..) = update::accumulate(&t.policy, &rows, &frozen, &spec, &norm).unwrap();
        let g: Vec<Vec<f64>> = opt
            .params
            .iter()
            .map(|p| Vec::<f64>::try_from(p.grad().to_kind(Kind::Double).view([-1])).unwrap())
            .collect();
        (loss, g)
    };
    let (l0, g0) = grads(false);
    let (l1, g1) = grads(true);
    assert_eq!(l0, l1);
    for (i, (a, b)) in g0.iter().zip(&g1).enumerate() {
        let scale = a.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        assert!(scale > 0.0, "parameter {i}: no gradient");
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-5 * scale, "parameter {i}: {x} vs {y}");
        }
    }
    drop(t);
    let stop = AtomicBool::new(false);
    let run = |dir: &str, on: &str| {
        let c = tiny(&["model.layers=3", on]);
        let mut t = Trainer::start(c, &tmp.join(dir), |_, _| true).unwrap();
        t.run(&stop, |_| {}).unwrap();
        let d = turnwise_train::train::checkpoint::dir_of(&tmp.join(dir), 4);
        let mut w = tch::Tensor::read_safetensors(d.join("model.safetensors")).unwrap();
        w.sort_by(|a, b| a.0.cmp(&b.0));
        (w, common::weights(&d))
    };
    let (plain, plain_bytes) = run("a", "model.gradient_checkpointing=false");
    let (ckpt, ckpt_bytes) = run("b", "model.gradient_checkpointing=true");
    eprintln!(
        "bit-identical weights after 4 steps: {}",
        plain_bytes == ckpt_bytes
    );
    for ((n, a), (m, b)) in plain.iter().zip(&ckpt) {
        assert_eq!(n, m);
        let d = (a - b).abs().max().double_value(&[]);
        assert!(d <= 1e-5, "{n}: weights differ by {d:e}");
    }
    std::fs::remove_dir_all(&tmp).ok();
}

#[test]
fn scoring_repeated_sequences_once_gives_the_gradient_of_every_row() {
    use turnwise_train::train::{rows, update};
    tch::set_num_threads(1);
    tch::manual_seed(7);
    let cfg = tiny(&["loss.agg=seq-mean-token-mean", "loss.entropy_coef=0.01"]);
    let tmp = std::env::temp_dir().join(format!("tw-dedup-{}", std::process::id()));
    let t = Trainer::start(cfg.clone(), &tmp, |_, _| true).unwrap();
    let mut rs = rollout_rows(&cfg, &t, &[21, 22], 4, (3, 4), |i| (i as f64 * 0.61).cos());
    // Repeat every other row with its own advantage and liveness, so repeats are certain.
    for i in (0..rs.len()).step_by(2) {
        rs.seqs.push(rs.seqs[i].clone());
        rs.action_len.push(rs.action_len[i]);
        rs.adv.push(0.3 - rs.adv[i]);
        rs.live.push(i % 4 == 0);
        rs.env_step.push(rs.env_step[i]);
        rs.traj.push(rs.traj[i]);
    }
    let refs: Vec<&[u32]> = rs.seqs.iter().map(Vec::as_slice).collect();
    (rs.uniq, rs.inverse) = rows::distinct(&refs, &rs.action_len);
    assert!(rs.unique_len() < rs.len(), "no repeated sequence");
    for (r, &u) in rs.inverse.iter().enumerate() {
        assert_eq!(rs.seqs[rs.uniq[u]], rs.seqs[r]);
    }
    let all: Vec<usize> = (0..rs.len()).collect();
    let lspec = update::loss_spec(&cfg, &[], 0);
    let norm = turnwise_train::loss::Normaliser::from_counts(cfg.loss.agg, &rs.counts(), None);
    let old_all = tch::no_grad(|| t.policy.score_actions(&refs, &rs.action_len))
        .unwrap()
        .logp;
    let frozen = update::freeze(&rs, &t.policy, None, 3).unwrap();
    // Move θ away from θ_old so that ratios differ from 1 and clipping can act.
    tch::no_grad(|| {
        for p in t.policy.parameters() {
            let mut p = p;
            let noise = p.randn_like() * 0.2;
            let _ = p.f_add_(&noise).unwrap();
        }
    });
    let mut opt = turnwise_train::optim::AdamW::new(t.policy.parameters(), 0.9, 0.999, 1e-8, 0.0);
    let grads = |opt: &turnwise_train::optim::AdamW| -> Vec<f64> {
        opt.params
            .iter()
            .flat_map(|p| Vec::<f64>::try_from(p.grad().to_kind(Kind::Double).view([-1])).unwrap())
            .collect()
    };
    opt.zero_grad();
    let (loss_once, ..) = update::accumulate(&t.policy, &rs, &frozen, &lspec, &norm).unwrap();
    let g_once = grads(&opt);

    opt.zero_grad();
    let s = t.policy.score_actions(&refs, &rs.action_len).unwrap();
    let width = s.logp.size()[1];
    let every = turnwise_train::loss::Rows {
        logp_new: s.logp,
        logp_old: old_all,
        adv: rs.adv_tensor(&all, width),
        mask: s.mask * rs.live_tensor(&all),
        logp_ref: None,
        entropy: Some(s.entropy),
        clip: None,
        env_step: rs.env_step.clone(),
    };
    let terms = turnwise_train::loss::policy_loss(&every, &lspec, &norm);
    terms.loss.backward();
    let loss_every = terms.loss.double_value(&[]);
    let g_every = grads(&opt);

    assert!(
        terms.clipped_tokens > 0.0,
        "the test should exercise the clip"
    );
    assert!(
        (loss_once - loss_every).abs() < 1e-5,
        "{loss_once} {loss_every}"
    );
    let scale = g_every.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    assert!(scale > 1e-6, "no gradient");
    for (a, b) in g_once.iter().zip(&g_every) {
        assert!((a - b).abs() <= 1e-4 * scale, "{a} {b}");
    }
    std::fs::remove_dir_all(&tmp).ok();
}

#[test]
fn methods_needing_fields_the_trainer_lacks_are_rejected() {
    let tmp = std::env::temp_dir().join(format!("tw-reject-{}", std::process::id()));
    let mut cfg = tiny(&[]);
    // IGPO reads gold-answer log-probs; the maze has no single answer: refused at start,
    // naming the field and why.
    cfg.credit.method = "igpo".into();
    let err = Trainer::start(cfg.clone(), &tmp, |_, _| true)
        .err()
        .expect("rejected")
        .to_string();
    assert!(
        err.contains("does not compute")
            && err.contains("gold_logprob")
            && err.contains("no single answer"),
        "{err}"
    );
    // A reward shaper cannot be the advantage estimator that follows it.
    cfg.credit.method = "dapo_overlong".into();
    cfg.credit.base = "ufo_reward".into();
    let err = Trainer::start(cfg, &tmp, |_, _| true)
        .err()
        .expect("rejected")
        .to_string();
    assert!(err.contains("credit.base"), "{err}");
    std::fs::remove_dir_all(&tmp).ok();
}

#[test]
fn every_objective_variant_trains_a_step_with_finite_loss() {
    let variants: &[&[&str]] = &[
        &[
            "loss.objective=disco",
            "loss.disco.scoring=Lratio",
            "loss.disco.tau=1.0",
        ],
        &["loss.ratio=sequence", "loss.agg=seq-mean-token-mean"],
        &[
            "loss.kl=k3",
            "loss.kl_coef=0.04",
            "loss.agg=seq-mean-token-sum",
        ],
        &["loss.kl=k1", "loss.kl_coef=0.1", "loss.kl_in_reward=true"],
        &[
            "loss.epo.max_steps=4",
            "loss.dual_clip=3.0",
            "loss.agg=seq-mean-token-sum-norm",
        ],
        &["loss.over_turn_mask=true", "credit.method=dr_grpo"],
    ];
    for (i, v) in variants.iter().enumerate() {
        let mut sets = vec!["run.steps=1"];
        sets.extend_from_slice(v);
        let tmp = std::env::temp_dir().join(format!("tw-variant-{}-{i}", std::process::id()));
        let mut t = Trainer::start(tiny(&sets), &tmp, |_, _| true).unwrap();
        let m = t.step().unwrap();
        assert!(
            m.loss.is_finite() && m.grad_norm.is_finite(),
            "{v:?}: {m:?}"
        );
        assert_eq!(m.skipped, 0, "{v:?}");
        std::fs::remove_dir_all(&tmp).ok();
    }
}

#[test]
fn actions_end_at_the_stop_token_or_at_the_closing_answer_tag() {
    use turnwise_train::train::{envs, eval};
    let tmp = std::env::temp_dir().join(format!("tw-stop-{}", std::process::id()));
    for (env, token, text) in [
        ("lmrl/maze-fo", true, None),
        ("ragen/sokoban", false, Some("</answer>")),
    ] {
        let cfg = tiny(&[&format!("env.name=\"{env}\""), "model.max_context=512"]);
        let t = Trainer::start(cfg.clone(), &tmp.join(env.replace('/', "-")), |_, _| true).unwrap();
        let e = envs::make_envs(&cfg, 1, &[]).unwrap();
        let stop = envs::STYLE.end_of_action(&*e[0]);
        let spec = eval::rollout_spec(&cfg, &t.policy, stop, 3, false);
        // LMRL's "\n" is one word-vocabulary token; RAGEN's `</answer>` is several, so it is
        // matched on the decoded action instead.
        assert_eq!(spec.sample.stop.is_some(), token, "{env}");
        assert_eq!(spec.sample.stop_text, text, "{env}");
    }
    std::fs::remove_dir_all(&tmp).ok();
}
