//! Comparison with vectors produced by running LMRL-Gym's own code
//! (`tests/fixtures/gen_lmrl_vectors.py`): maze texts/rewards/termination for 150
//! episodes with random and junk actions, and Wordle colours / solve rule / consistent
//! counts for 300 games with given hidden words.

use serde_json::Value;
use turnwise_envs::envs::wordle::{lmrl, lmrl_vocab, words};
use turnwise_envs::registry;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn maze_matches_lmrl_code() {
    let cases = load("lmrl_maze_vectors.json");
    let mut steps = 0;
    for case in cases.as_array().unwrap() {
        let fo = case["fully_observed"].as_bool().unwrap();
        let s = &case["start"];
        let start = format!("{},{}", s[0], s[1]);
        let name = if fo { "lmrl/maze-fo" } else { "lmrl/maze-po" };
        let mut env = registry::make(name, &[("start".into(), start)]).unwrap();
        assert_eq!(env.reset(0).text, case["reset"].as_str().unwrap());
        for st in case["steps"].as_array().unwrap() {
            let out = env.step(st["action"].as_str().unwrap());
            assert_eq!(out.observation, st["observation"].as_str().unwrap(), "{st}");
            assert_eq!(out.reward, st["reward"].as_f64().unwrap(), "{st}");
            assert_eq!(out.done(), st["done"].as_bool().unwrap(), "{st}");
            steps += 1;
        }
    }
    assert!(steps > 3000, "{steps}");
}

#[test]
fn wordle_matches_lmrl_code() {
    let games = load("lmrl_wordle_vectors.json");
    let vocab = lmrl_vocab();
    let index = |w: &str| words::lmrl_400().iter().position(|x| *x == w).unwrap() as u16;
    let mut solved_games = 0;
    for g in games.as_array().unwrap() {
        let mut game = lmrl::Game::new(vocab);
        for (t, st) in g.as_array().unwrap().iter().enumerate() {
            let guess = index(st["guess"].as_str().unwrap());
            let target = index(st["target"].as_str().unwrap());
            let (colours, solved) = game.guess_against(vocab, guess, target);
            assert_eq!(colours, st["colours"].as_str().unwrap(), "{st}");
            assert_eq!(
                game.consistent.len() as u64,
                st["consistent"].as_u64().unwrap()
            );
            assert_eq!(solved, st["reward"].as_i64().unwrap() == 0, "{st}");
            assert_eq!(solved || t + 1 == 6, st["terminal"].as_bool().unwrap());
            solved_games += usize::from(solved);
        }
    }
    assert!(solved_games > 50, "{solved_games}");
}
