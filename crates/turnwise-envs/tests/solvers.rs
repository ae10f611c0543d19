//! Every expert solves its environment on many seeds, or reaches its documented optimum.

use turnwise_envs::envs::frozenlake::FrozenLake;
use turnwise_envs::{registry, Env, Step};

/// Plays `env` from `seed` with its expert; returns (return, success, steps).
fn play(env: &mut dyn Env, seed: u64) -> (f64, bool, usize) {
    env.reset(seed);
    let (mut ret, mut n) = (0.0, 0);
    let mut last = Step::default();
    while let Some(a) = env.expert_action() {
        last = env.step(&a);
        ret += last.reward;
        n += 1;
        if last.done() {
            break;
        }
        assert!(n < 10_000, "expert does not end the episode");
    }
    (ret, last.info.success, n)
}

fn rate(name: &str, opts: &[(&str, &str)], seeds: u64) -> f64 {
    let opts: Vec<(String, String)> = opts
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut env = registry::make(name, &opts).unwrap();
    (0..seeds).filter(|s| play(env.as_mut(), *s).1).count() as f64 / seeds as f64
}

#[test]
fn maze_expert_always_reaches_the_goal() {
    assert_eq!(rate("lmrl/maze-fo", &[], 300), 1.0);
    assert_eq!(rate("lmrl/maze-po", &[], 300), 1.0);
}

#[test]
fn sokoban_expert_solves_levels_within_the_action_budget() {
    // Unbounded budget: the BFS expert solves every generated level (levels are solvable
    // by construction, reverse play).
    let unbounded = [("max_actions", "1000"), ("max_turns", "1000")];
    assert_eq!(rate("ragen/sokoban", &unbounded, 150), 1.0);
    let larger = [
        ("variant", "larger"),
        ("max_actions", "1000"),
        ("max_turns", "1000"),
    ];
    assert_eq!(rate("ragen/sokoban", &larger, 40), 1.0);
    // RAGEN's budget (10 actions, 5 turns): most levels are solvable within it.
    assert!(rate("ragen/sokoban", &[], 150) >= 0.9);
}

#[test]
fn wordle_experts_solve_within_six_guesses() {
    assert!(rate("lmrl/wordle", &[], 120) >= 0.98);
    assert!(rate("wordle/standard", &[], 40) >= 0.95);
}

#[test]
fn bandit_math_and_try_again_experts_are_always_right() {
    assert_eq!(rate("ragen/bandit", &[], 200), 1.0);
    assert_eq!(rate("math/arith", &[], 300), 1.0);
    let mut env = registry::make("try-again", &[]).unwrap();
    for s in 0..100 {
        let (ret, ok, n) = play(env.as_mut(), s);
        assert!(ok && n == 1 && ret == 1.0);
    }
}

/// The expert's success rate matches the success probability its dynamic programme
/// predicts (averaged over random maps), within 4 standard errors, and beats the best
/// one-action-per-turn policy (finite-horizon value iteration over 5 steps).
#[test]
fn frozenlake_expert_reaches_its_planned_optimum() {
    let n = 300u64;
    let mut env = registry::make("ragen/frozenlake", &[]).unwrap();
    let wins = (0..n).filter(|s| play(env.as_mut(), *s).1).count() as f64 / n as f64;
    let (mut predicted, mut one_per_turn) = (0.0, 0.0);
    for s in 0..n {
        let mut g = FrozenLake::with_defaults();
        turnwise_envs::envs::ragen::Game::reset(&mut g, s);
        predicted += g.turn_value(g.position(), 10, 5, 2).value;
        one_per_turn += g.best_action(5).1;
    }
    predicted /= n as f64;
    one_per_turn /= n as f64;
    let se = (predicted * (1.0 - predicted) / n as f64).sqrt();
    assert!((wins - predicted).abs() < 4.0 * se, "{wins} vs {predicted}");
    assert!(predicted > one_per_turn, "{predicted} vs {one_per_turn}");
    let mut g = FrozenLake::with_defaults();
    turnwise_envs::envs::ragen::Game::reset(&mut g, 1);
    let single = g.turn_value(g.position(), 5, 5, 1).value;
    assert!((single - g.best_action(5).1).abs() < 1e-12);
}
