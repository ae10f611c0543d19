//! Every built-in environment restores a snapshot exactly: after `restore`, a fresh
//! environment (reset to another task) takes the same steps as the original did from the
//! moment of the snapshot, for the same actions; foreign snapshots are refused.

use rand::Rng as _;
use turnwise_core::seed::{self, Rng as ChaCha8Rng};
use turnwise_envs::{registry, Env, Step};

/// Actions: the expert's move half of the time, else a random valid one or garbage.
fn pick(env: &dyn Env, rng: &mut ChaCha8Rng) -> String {
    let space = env.action_space();
    match rng.random_range(0..4) {
        0 | 1 => env.expert_action().unwrap_or_else(|| space[0].to_string()),
        2 if !space.is_empty() => space[rng.random_range(0..space.len())].to_string(),
        _ => "no such move".into(),
    }
}

fn play(env: &mut dyn Env, actions: &[String]) -> Vec<Step> {
    let mut out = vec![];
    for a in actions {
        let s = env.step(a);
        let end = s.terminated || s.truncated;
        out.push(s);
        if end {
            break;
        }
    }
    out
}

#[test]
fn every_builtin_env_restores_a_state_exactly() {
    for spec in registry::ALL {
        for (seed, prefix) in [(3u64, 0usize), (11, 1), (41, 3)] {
            let mut rng = seed::rng(seed, 7);
            let mut env = registry::make(spec.name, &[]).unwrap();
            env.reset(seed);
            let mut ended = false;
            for _ in 0..prefix {
                let a = pick(&*env, &mut rng);
                let s = env.step(&a);
                if s.terminated || s.truncated {
                    ended = true;
                    break;
                }
            }
            if ended {
                continue;
            }
            let snap = env
                .snapshot()
                .unwrap_or_else(|| panic!("{}: no snapshot", spec.name));
            let actions: Vec<String> = (0..12).map(|_| pick(&*env, &mut rng)).collect();
            let expert_before = env.expert_action();
            let want = play(&mut *env, &actions);
            assert!(!want.is_empty());

            // A fresh environment on another task, restored twice (the snapshot is not
            // consumed or changed by restoring or by the original's later steps).
            for _ in 0..2 {
                let mut other = registry::make(spec.name, &[]).unwrap();
                other.reset(seed + 1000);
                other.step(&pick(&*other, &mut rng));
                assert!(other.restore(&snap), "{}: restore refused", spec.name);
                assert_eq!(other.expert_action(), expert_before, "{}", spec.name);
                assert_eq!(other.gold_action(), env.gold_action(), "{}", spec.name);
                let got = play(&mut *other, &actions);
                assert_eq!(got, want, "{} seed {seed} prefix {prefix}", spec.name);
            }
        }
    }
}

#[test]
fn a_foreign_snapshot_is_refused_and_changes_nothing() {
    let mut maze = registry::make("lmrl/maze-fo", &[]).unwrap();
    maze.reset(1);
    let snap = maze.snapshot().unwrap();
    let mut wordle = registry::make("wordle/standard", &[]).unwrap();
    wordle.reset(5);
    let before = wordle.expert_action();
    assert!(!wordle.restore(&snap));
    assert_eq!(wordle.expert_action(), before);
    let mut ta = registry::make("try-again", &[]).unwrap();
    ta.reset(2);
    assert!(!ta.restore(&snap));
}
