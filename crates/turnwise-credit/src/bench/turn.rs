//! Benchmark batches of the turn-level methods: deterministic synthetic batches
//! (`turnwise_core::seed`), sized as in the issue at `scale = 1`: IGPO, A²TGPO and SIOP
//! over 1,000,000 turns (target 100 ms each, single-threaded), MatchTIR over 100,000
//! turns with up to 8 tool calls per turn (target 1 s, Hungarian and greedy).

use rand::{Rng as _, RngCore};
use serde_json::{json, Map, Value};
use turnwise_core::seed::{self, Rng};
use turnwise_core::{Batch, Group, ToolCall, Trajectory, TrajectoryExt, Turn, TurnExt};

use super::BenchCase;

/// Rollouts per prompt group in the synthetic batches (IGPO's group size).
pub const GROUP_SIZE: usize = 16;
/// Maximum turns per trajectory (IGPO's `max_turns`).
pub const MAX_TURNS: usize = 10;

/// Builds groups of [`GROUP_SIZE`] trajectories of 1..=[`MAX_TURNS`] turns until the batch
/// holds at least `turns` turns; `traj(rng, group, T)` makes one trajectory.
fn build(
    turns: usize,
    stream: u64,
    group_size: usize,
    mut group_ext: impl FnMut(&mut Rng, &mut Group),
    mut traj: impl FnMut(&mut Rng, usize) -> Trajectory,
) -> Batch {
    let mut rng = seed::rng(0x7e57_c0de, stream);
    let mut batch = Batch::default();
    let mut n = 0;
    while n < turns {
        let mut g = Group {
            prompt_id: format!("p{}", batch.groups.len()),
            ..Group::default()
        };
        group_ext(&mut rng, &mut g);
        for k in 0..group_size {
            let t_len = rng.random_range(1..=MAX_TURNS);
            let mut t = traj(&mut rng, t_len);
            t.id = format!("{}-{k}", g.prompt_id);
            t.group_id = g.prompt_id.clone();
            n += t_len;
            g.trajectories.push(t);
        }
        batch.groups.push(g);
    }
    batch
}

fn turn(tokens: u32, ext: TurnExt) -> Turn {
    Turn {
        tokens,
        ext: Some(Box::new(ext)),
        ..Turn::default()
    }
}

/// Gold-answer log-probs rising towards the answer (IGPO / A²TGPO / SIOP inputs); about
/// 5 % of trajectories are truncated and 1 % of log-probs missing (fallback paths).
fn gold_batch(turns: usize, stream: u64, with_cluster: bool) -> Batch {
    build(
        turns,
        stream,
        GROUP_SIZE,
        |_, _| {},
        |rng, t_len| {
            let mut lp = -3.0 * rng.random::<f64>() - 0.5;
            let turns = (0..t_len)
                .map(|t| {
                    lp = (lp + 0.6 * rng.random::<f64>() - 0.2).min(0.0);
                    let missing = rng.next_u32() % 100 == 0;
                    let last = t + 1 == t_len;
                    let gold = (!missing && (with_cluster || !last)).then(|| vec![lp]);
                    turn(
                        16,
                        TurnExt {
                            gold_logprob: gold,
                            ..TurnExt::default()
                        },
                    )
                })
                .collect();
            let cluster = (rng.next_u32() % 10 != 0)
                .then(|| ["A", "B", "C"][rng.random_range(0..3)].to_owned());
            Trajectory {
                turns,
                outcome: Some([0.0, 0.5, 1.0][rng.random_range(0..3)]),
                truncated: rng.next_u32() % 20 == 0,
                ext: Some(Box::new(TrajectoryExt {
                    gold_logprob_initial: Some(vec![-3.5]),
                    answer_cluster: if with_cluster { cluster } else { None },
                    evidence: with_cluster.then(|| rng.random::<f64>()),
                    ..TrajectoryExt::default()
                })),
                ..Trajectory::default()
            }
        },
    )
}

const TOOLS: [&str; 6] = [
    "search",
    "weather",
    "lookup",
    "calculator",
    "translate",
    "open",
];
const KEYS: [&str; 5] = ["q", "k", "city", "lang", "x"];

fn random_call(rng: &mut Rng) -> ToolCall {
    let mut args = Map::new();
    for _ in 0..rng.random_range(1..=3) {
        let key = KEYS[rng.random_range(0..KEYS.len())];
        let v: Value = match rng.random_range(0..3) {
            0 => json!(rng.random_range(0..4)),
            1 => json!(["paris", "rome", "oslo"][rng.random_range(0..3)]),
            _ => json!(rng.random_range(0..4) as f64),
        };
        args.insert(key.to_owned(), v);
    }
    ToolCall {
        name: TOOLS[rng.random_range(0..TOOLS.len())].to_owned(),
        arguments: Value::Object(args),
    }
}

/// Tool-use trajectories: 0–8 calls on every non-final turn, `answer_f1` on the final
/// turn of non-truncated ones; 2–8 ground-truth calls per group of 8.
fn tool_batch(turns: usize) -> Batch {
    build(
        turns,
        3,
        8,
        |rng, g| {
            let n = rng.random_range(2..=8);
            g.gt_tool_calls = Some((0..n).map(|_| random_call(rng)).collect());
        },
        |rng, t_len| {
            let truncated = rng.next_u32() % 10 == 0;
            let turns = (0..t_len)
                .map(|t| {
                    let answer = t + 1 == t_len && !truncated;
                    let calls = if answer {
                        Vec::new()
                    } else {
                        (0..rng.random_range(0..=8))
                            .map(|_| random_call(rng))
                            .collect()
                    };
                    turn(
                        32,
                        TurnExt {
                            tool_calls: Some(calls),
                            answer_f1: answer.then(|| rng.random::<f64>()),
                            ..TurnExt::default()
                        },
                    )
                })
                .collect();
            Trajectory {
                turns,
                truncated,
                ..Trajectory::default()
            }
        },
    )
}

fn params(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn size(base: usize, scale: f64) -> usize {
    ((base as f64 * scale).round() as usize).max(1)
}

/// The turn-level benchmark cases.
pub fn cases(scale: f64) -> Vec<BenchCase> {
    let big = size(1_000_000, scale);
    let tools = size(100_000, scale);
    vec![
        BenchCase {
            method: "igpo",
            params: Map::new(),
            batch: gold_batch(big, 1, false),
            target_seconds: 0.1,
        },
        BenchCase {
            method: "a2tgpo",
            params: Map::new(),
            batch: gold_batch(big, 1, false),
            target_seconds: 0.1,
        },
        BenchCase {
            method: "siop",
            params: Map::new(),
            batch: gold_batch(big, 2, true),
            target_seconds: 0.1,
        },
        BenchCase {
            method: "matchtir",
            params: params(json!({"assignment": "hungarian"})),
            batch: tool_batch(tools),
            target_seconds: 1.0,
        },
        BenchCase {
            method: "matchtir",
            params: params(json!({"assignment": "km_greedy"})),
            batch: tool_batch(tools),
            target_seconds: 1.0,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_deterministic_and_sized() {
        let a = cases(0.001);
        let b = cases(0.001);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.batch, y.batch);
            assert!(x.batch.num_turns() >= 100);
            let out = crate::registry::run(x.method, &x.batch, &x.params, &[]).unwrap();
            let v = out.turn_values().unwrap();
            assert!(v.values.iter().all(|x| x.is_finite()));
        }
    }
}
