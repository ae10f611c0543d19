//! LMRL maze: texts, rewards and step order exactly as spec §1.1; the BFS expert's
//! average return over the 25 evaluation starts is LMRL's optimum −6.84.

use turnwise_envs::envs::maze::{eval_starts, Maze, GOAL};
use turnwise_envs::{registry, score, Env};

fn maze_at(fo: bool, r: usize, c: usize) -> Box<dyn Env> {
    let name = if fo { "lmrl/maze-fo" } else { "lmrl/maze-po" };
    registry::make(name, &[("start".into(), format!("{r},{c}"))]).unwrap()
}

#[test]
fn observation_strings_match_spec() {
    let mut e = maze_at(true, 5, 3);
    assert_eq!(
        e.reset(0).text,
        "The goal is at position 8, 6. Your current position is at position 5, 3. There are walls to your left, below you.\n"
    );
    let mut e = maze_at(true, 1, 10);
    assert_eq!(
        e.reset(0).text,
        "The goal is at position 8, 6. Your current position is at position 1, 1 0. There are walls above you, below you.\n"
    );
    let mut e = maze_at(true, 1, 11);
    assert_eq!(
        e.reset(0).text,
        "The goal is at position 8, 6. Your current position is at position 1, 1 1. There are walls to your right, above you, below you.\n"
    );
    let mut e = maze_at(true, 5, 6);
    assert_eq!(
        e.reset(0).text,
        "The goal is at position 8, 6. Your current position is at position 5, 6. There is a wall above you.\n"
    );
    let mut e = maze_at(true, 5, 5);
    assert!(e
        .reset(0)
        .text
        .ends_with("There are walls above you, below you.\n"));
    let mut e = maze_at(false, 5, 3);
    assert_eq!(
        e.reset(0).text,
        "There are walls to your left, below you.\n"
    );
    let mut e = maze_at(true, 6, 6);
    assert!(e
        .reset(0)
        .text
        .ends_with("There are walls to your right, to your left.\n"));
}

#[test]
fn no_walls_sentence_never_occurs_but_is_spelled_right() {
    // The double-T maze has no open crossroads; the zero-wall phrase is LMRL's text.
    for (r, c) in eval_starts() {
        let mut e = maze_at(true, r, c);
        assert!(!e.reset(0).text.contains("no walls"));
    }
}

#[test]
fn rewards_and_step_order() {
    let mut e = maze_at(true, 7, 6);
    e.reset(0);
    let s = e.step("move up");
    assert_eq!((s.reward, s.terminated, s.truncated), (-1.0, false, false));
    assert!(s.info.action_valid && s.info.action_effective);
    let s = e.step("move left"); // into a wall: valid, ineffective, -1
    assert_eq!(s.reward, -1.0);
    assert!(s.info.action_valid && !s.info.action_effective);
    let s = e.step("move up\n"); // the stop string is not part of the action
    assert_eq!(s.reward, -4.0);
    assert!(!s.info.action_valid);
    let s = e.step("Move down");
    assert_eq!(s.reward, -4.0);
    e.step("move down");
    let s = e.step("move down");
    assert_eq!(s.observation, "Success\n");
    assert_eq!((s.reward, s.terminated, s.truncated), (0.0, true, false));
    assert!(s.info.success);
}

#[test]
fn failure_after_100_steps_is_truncation() {
    let mut e = maze_at(true, 1, 1);
    e.reset(0);
    let mut ret = 0.0;
    for i in 0..100 {
        let s = e.step(if i % 2 == 0 { "move left" } else { "junk" });
        assert!(!s.done());
        ret += s.reward;
    }
    let s = e.step("move right");
    assert_eq!(s.observation, "Failure\n");
    assert_eq!((s.reward, s.terminated, s.truncated), (-1.0, false, true));
    ret += s.reward;
    assert_eq!(ret, -50.0 - 200.0 - 1.0);
    // Valid actions only: the minimum return is -101 (LMRL's normalisation minimum).
    let mut e = maze_at(true, 1, 1);
    e.reset(0);
    let mut ret = 0.0;
    loop {
        let s = e.step("move left");
        ret += s.reward;
        if s.done() {
            break;
        }
    }
    assert_eq!(ret, score::MAZE_FO.min);
}

#[test]
fn expert_return_over_25_starts_is_lmrl_optimum() {
    let starts = eval_starts();
    assert_eq!(starts.len(), 25);
    assert!(!starts.contains(&GOAL));
    let mut total = 0.0;
    for (r, c) in starts {
        let mut e = maze_at(true, r, c);
        e.reset(0);
        let mut ret = 0.0;
        let mut n = 0;
        while let Some(a) = e.expert_action() {
            let s = e.step(&a);
            ret += s.reward;
            n += 1;
            if s.done() {
                assert!(s.info.success);
                break;
            }
        }
        assert!(n <= 12, "optimal path at most 12 steps");
        total += ret;
    }
    let avg = total / 25.0;
    assert!((avg - score::MAZE_FO.max).abs() < 1e-12, "{avg}");
    assert!((score::MAZE_FO.score(avg) - 100.0).abs() < 1e-9);
}

#[test]
fn random_start_is_deterministic_and_covers_all_cells() {
    let mut a = Maze::new(true);
    let mut b = Maze::new(true);
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..2000 {
        let oa = a.reset(seed);
        assert_eq!(oa, b.reset(seed));
        seen.insert(a.position());
    }
    assert_eq!(seen.len(), 25);
}

#[test]
fn bad_start_option_is_an_error() {
    for bad in ["8,6", "0,0", "x", "1,"] {
        let e = registry::make("lmrl/maze-fo", &[("start".into(), bad.into())]);
        assert!(e.is_err(), "{bad}");
    }
    let e = registry::make("lmrl/maze-fo", &[("strat".into(), "1,1".into())]);
    let msg = e.err().unwrap().to_string();
    assert!(msg.contains("did you mean `start`"), "{msg}");
}
