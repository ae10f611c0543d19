//! Progress scores and subgoals (`Env::credit_fields`): the expert's progress rises to 1
//! at success, stays in [0, 1], and subgoals only change where progress does.

use turnwise_envs::{registry, Env};

/// Plays the expert from `seed`; returns the progress and subgoal after each step and
/// whether the episode was solved.
fn expert_progress(env: &mut dyn Env, seed: u64) -> (Vec<f64>, Vec<Option<u32>>, bool) {
    let obs = env.reset(seed);
    let mut p = vec![obs.info.progress.expect("progress at reset")];
    let mut sub = vec![obs.info.subgoal];
    let mut solved = false;
    for _ in 0..200 {
        let Some(a) = env.expert_action() else { break };
        let s = env.step(&a);
        p.push(s.info.progress.expect("progress after a step"));
        sub.push(s.info.subgoal);
        solved |= s.info.success;
        if s.done() {
            break;
        }
    }
    (p, sub, solved)
}

#[test]
fn the_expert_makes_progress_to_one() {
    for name in ["lmrl/maze-fo", "ragen/sokoban", "wordle/standard"] {
        let mut env = registry::make(name, &[]).unwrap();
        assert!(env.credit_fields().contains(&"score"), "{name}");
        for seed in 0..20 {
            let (p, sub, solved) = expert_progress(&mut *env, seed);
            assert!(
                p.iter().all(|x| (0.0..=1.0).contains(x)),
                "{name} {seed}: {p:?}"
            );
            if solved {
                assert_eq!(*p.last().unwrap(), 1.0, "{name} {seed}: {p:?}");
            }
            assert!(p[0] < 1.0, "{name} {seed}: starts solved");
            for w in sub.windows(2).zip(p.windows(2)) {
                if w.0[0] != w.0[1] {
                    assert!(
                        w.1[0] != w.1[1],
                        "{name} {seed}: subgoal changed without progress"
                    );
                }
            }
        }
    }
}

#[test]
fn maze_progress_is_the_fraction_of_the_start_distance_covered() {
    use turnwise_envs::envs::maze::progress;
    assert_eq!(progress(0, 7), 1.0);
    assert_eq!(progress(7, 7), 0.0);
    assert_eq!(progress(9, 7), 0.0);
    assert!((progress(3, 6) - 0.5).abs() < 1e-12);
    // the maze's expert takes one cell per step: progress rises by 1/d0 per move
    let mut env = registry::make("lmrl/maze-fo", &[]).unwrap();
    let (p, sub, solved) = expert_progress(&mut *env, 3);
    assert!(solved);
    let d0 = p.len() - 1;
    for (k, x) in p.iter().enumerate() {
        assert!((x - k as f64 / d0 as f64).abs() < 1e-12, "{p:?}");
    }
    // subgoals: quarters of the way
    assert_eq!(sub.first(), Some(&Some(0)));
    assert_eq!(sub.last(), Some(&Some(4)));
}

#[test]
fn frozenlake_progress_is_zero_in_a_hole_and_one_at_the_goal() {
    let mut env =
        registry::make("ragen/frozenlake", &[("slippery".into(), "false".into())]).unwrap();
    for seed in 0..20 {
        let (p, _, solved) = expert_progress(&mut *env, seed);
        assert!(p.iter().all(|x| (0.0..=1.0).contains(x)));
        if solved {
            assert_eq!(*p.last().unwrap(), 1.0);
        }
    }
}
