//! The curricula options inside real RL steps on tiny configurations: dynamic sampling
//! trains on groups with signal only and logs what it dropped, ExIt restarts groups from
//! its buffer, MEM1 keeps contexts bounded, the temporally-aware objective trains.

mod common;

use turnwise_train::config::Config;
use turnwise_train::curricula::dynamic::has_signal;
use turnwise_train::curricula::exit::learning_signal;
use turnwise_train::rollout::context_of;
use turnwise_train::train::run::Trainer;

fn tiny(extra: &[&str]) -> Config {
    common::config_with(
        &[
            "env.group_size=4",
            "env.tasks_per_step=3",
            "env.max_turns=6",
            "run.steps=3",
            "checkpoint.every=10",
            "eval.episodes=2",
            "eval.max_turns=3",
            "run.threads=1",
        ],
        extra,
    )
}

#[test]
fn dynamic_sampling_trains_on_groups_with_signal() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny(&[
        "env.name=\"ragen/bandit\"",
        "model.max_context=512",
        "sampling.max_action_tokens=8",
        "curricula.dynamic_sampling=true",
        "curricula.max_sample_rounds=6",
        "credit.method=\"grpo\"",
    ]);
    let mut t = Trainer::start(cfg, tmp.path(), |_, _| true).unwrap();
    let mut dropped = 0;
    for _ in 0..3 {
        let m = t.step().unwrap();
        let rounds = m.sample_rounds.unwrap();
        assert!((1..=6).contains(&rounds));
        dropped += m.dropped_groups.unwrap();
        let batch =
            turnwise_core::jsonl::read_batch(&tmp.path().join("rollouts/last.jsonl")).unwrap();
        if batch.groups.iter().any(has_signal) {
            assert!(
                batch.groups.iter().all(has_signal),
                "a zero-variance group was kept"
            );
            assert!(batch.groups.len() <= 3);
        }
    }
    // An untrained policy on a 0/1 bandit: some groups agree, and were dropped.
    assert!(dropped > 0);
}

#[test]
fn exit_restarts_groups_from_its_buffer() {
    let tmp = tempfile::tempdir().unwrap();
    // A short warm start, so that the policy's moves (and the group's returns) differ.
    let cfg = tiny(&[
        "curricula.exit=true",
        "curricula.exit_prob=1.0",
        "run.steps=4",
        "sft.enabled=true",
        "sft.episodes=40",
        "sft.steps=60",
        "sft.batch=16",
    ]);
    let mut t = Trainer::start(cfg, tmp.path(), |_, _| true).unwrap();
    let mut restarts = 0;
    for _ in 0..4 {
        let m = t.step().unwrap();
        let (r, size) = (m.exit_restarts.unwrap(), m.exit_buffer.unwrap());
        assert!(size <= 256);
        assert_eq!(size, t.curricula.exit.points.len());
        assert!(t.curricula.exit.points.iter().all(|p| p.priority > 0.0));
        restarts += r;
    }
    // The maze's returns differ within groups, so the buffer fills after a step and the
    // following slots restart from it.
    assert!(restarts > 0);
    let batch = turnwise_core::jsonl::read_batch(&tmp.path().join("rollouts/last.jsonl")).unwrap();
    assert!(batch.groups.iter().map(learning_signal).all(f64::is_finite));
}

#[test]
fn mem1_contexts_stay_bounded_in_training() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny(&[
        "env.name=\"lmrl/maze-po\"",
        "env.history=\"mem1\"",
        "env.max_turns=12",
        "model.max_context=256",
        "run.steps=1",
    ]);
    let mut t = Trainer::start(cfg, tmp.path(), |_, _| true).unwrap();
    t.step().unwrap();
    let batch = turnwise_core::jsonl::read_batch(&tmp.path().join("rollouts/last.jsonl")).unwrap();
    let h = turnwise_train::rollout::HistorySpec {
        mode: turnwise_train::config::HistoryMode::Mem1,
        k: 0,
        bos: t.policy.tokenizer.bos(),
    };
    let mut longest = 0;
    for tr in batch.groups.iter().flat_map(|g| &g.trajectories) {
        let first = tr.turns[0].observation.token_ids.len();
        for k in 0..tr.turns.len() {
            let c = context_of(tr, k, h).len();
            let bound = 1
                + first
                + tr.turns[k.saturating_sub(1)].action.token_ids.len()
                + tr.turns[k].observation.token_ids.len();
            assert!(c <= bound);
            longest = longest.max(tr.turns.len());
        }
    }
    assert!(longest > 2, "episodes long enough to consolidate");
}

#[test]
fn the_temporally_aware_objective_trains() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny(&["loss.objective=\"ta-lpo\"", "run.steps=2"]);
    let mut t = Trainer::start(cfg, tmp.path(), |_, _| true).unwrap();
    for _ in 0..2 {
        let m = t.step().unwrap();
        assert!(m.loss.is_finite() && m.grad_norm.is_finite());
        assert_eq!(m.skipped, 0);
        assert!((0.0..=1.0).contains(&m.clip_frac));
    }
}

#[test]
fn pcl_plays_the_candidates_predicted_nearest_the_target() {
    use turnwise_train::curricula::collect::step_seeds;
    use turnwise_train::curricula::pcl::candidate_seed;
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny(&[
        "curricula.pcl=true",
        "curricula.pcl_pool=3",
        "critic.epochs=4",
        "sft.enabled=true",
        "sft.episodes=40",
        "sft.steps=60",
        "sft.batch=16",
    ]);
    let mut t = Trainer::start(cfg.clone(), tmp.path(), |_, _| true).unwrap();
    let mut any_success = false;
    for step in 0..3u64 {
        let m = t.step().unwrap();
        let c = m.pcl.expect("a PCL report");
        any_success |= c.observed > 0.0;
        // the chosen tasks are the pool's nearest to τ = 0.5
        assert!(c.distance <= c.pool_distance + 1e-12, "{c:?}");
        assert!((0.0..=1.0).contains(&c.observed), "{c:?}");
        let line = serde_json::to_value(&m).unwrap();
        for k in [
            "pcl_predicted",
            "pcl_observed",
            "pcl_abs_error",
            "pcl_distance",
        ] {
            assert!(line[k].is_number(), "{k} missing from {line}");
        }
        let batch =
            turnwise_core::jsonl::read_batch(&tmp.path().join("rollouts/last.jsonl")).unwrap();
        let seeds: Vec<u64> = batch.groups.iter().map(|g| g.seed.unwrap()).collect();
        let pool: Vec<u64> = (0..9)
            .map(|j| candidate_seed(cfg.run.seed, step, j, 3, 3))
            .collect();
        assert!(seeds.iter().all(|s| pool.contains(s)), "{seeds:?}");
        if step == 0 {
            // an untrained value model predicts 0 everywhere: the regular tasks are played
            assert_eq!(seeds, step_seeds(&cfg, 0));
            assert_eq!(c.predicted, 0.0);
        }
    }
    // fitted to pass rates that were not all 0, the value model no longer predicts 0
    // for every candidate
    let c = t.step().unwrap().pcl.unwrap();
    assert_eq!(c.pool_distance != 0.5, any_success, "{c:?}");
}

#[test]
fn gain_rl_samples_around_a_centre_that_only_moves_forward() {
    use turnwise_train::curricula::pcl::pool_seeds;
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny(&["curricula.gain_rl=true", "curricula.gain_pool=3"]);
    let mut t = Trainer::start(cfg.clone(), tmp.path(), |_, _| true).unwrap();
    let mut last = 0.0;
    for step in 0..3u64 {
        let m = t.step().unwrap();
        let r = m.gain.expect("a GAIN-RL report");
        if step == 0 {
            assert_eq!(r.center, 0.0);
        }
        assert!(r.center >= last && r.center <= 1.0, "{r:?}");
        last = r.center;
        for a in [r.angle, r.pool_angle] {
            assert!((-1.0..=1.0).contains(&a), "{r:?}");
        }
        let line = serde_json::to_value(&m).unwrap();
        assert!(line["gain_center"].is_number(), "{line}");
        let batch =
            turnwise_core::jsonl::read_batch(&tmp.path().join("rollouts/last.jsonl")).unwrap();
        let pool = pool_seeds(cfg.run.seed, step, 3, 3);
        assert_eq!(batch.groups.len(), 3);
        assert!(batch.groups.iter().all(|g| pool.contains(&g.seed.unwrap())));
    }
    assert!(t.curricula.gain.center >= last);
}

#[test]
fn rise_trains_on_each_groups_best_self_correction() {
    use turnwise_train::curricula::rise::best_of_group;
    let tmp = tempfile::tempdir().unwrap();
    // Wordle: every guess is an attempt with the verifier's colouring as feedback.
    let cfg = tiny(&[
        "env.name=\"lmrl/wordle\"",
        "env.group_size=6",
        "model.max_context=256",
        "curricula.rise=true",
        "curricula.rise_steps=3",
        "sft.enabled=true",
        "sft.episodes=40",
        "sft.steps=60",
        "sft.batch=16",
    ]);
    let mut t = Trainer::start(cfg, tmp.path(), |_, _| true).unwrap();
    for _ in 0..3 {
        let m = t.step().unwrap();
        let batch =
            turnwise_core::jsonl::read_batch(&tmp.path().join("rollouts/last.jsonl")).unwrap();
        let best: Vec<usize> = batch.groups.iter().filter_map(best_of_group).collect();
        match m.rise {
            None => assert!(best.is_empty()),
            Some(r) => {
                assert_eq!(r.kept, best.len());
                assert!(r.rows >= 2 * r.kept, "{r:?}");
                assert!(r.nll.is_finite() && r.nll >= 0.0, "{r:?}");
            }
        }
    }
}
