//! Property: any group written as a batch line reads back identically.

use std::path::Path;

use proptest::prelude::*;
use turnwise_core::jsonl::{group_to_line, parse_record, Record};
use turnwise_core::trajectory::Text;
use turnwise_core::{Group, Trajectory, Turn};

fn turn() -> impl Strategy<Value = Turn> {
    (
        ".{0,12}",
        prop::collection::vec(0u32..50_000, 0..6),
        ".{0,12}",
        prop::option::of(-1e6f64..1e6),
        prop::option::of("[a-z0-9(), ]{0,8}"),
    )
        .prop_map(|(obs, ids, act, reward, anchor)| {
            let logprobs = ids.iter().map(|&i| -(i as f32) / 1e4).collect();
            Turn {
                observation: Text {
                    text: obs,
                    token_ids: vec![],
                },
                tokens: ids.len() as u32,
                action: Text {
                    text: act,
                    token_ids: ids,
                },
                action_logprobs: logprobs,
                reward,
                anchor: anchor.map(String::into_boxed_str),
                ..Default::default()
            }
        })
}

fn group() -> impl Strategy<Value = Group> {
    prop::collection::vec(
        (
            prop::collection::vec(turn(), 0..4),
            prop::option::of(-10.0f64..10.0),
            any::<bool>(),
        ),
        1..4,
    )
    .prop_map(|trajs| Group {
        prompt_id: "p".into(),
        seed: Some(7),
        gt_tool_calls: None,
        trajectories: trajs
            .into_iter()
            .enumerate()
            .map(|(i, (turns, outcome, truncated))| Trajectory {
                id: format!("t{i}"),
                group_id: "p".into(),
                turns,
                outcome,
                truncated,
                terminated: !truncated,
                ..Default::default()
            })
            .collect(),
    })
}

proptest! {
    #[test]
    fn group_lines_round_trip(g in group()) {
        let line = group_to_line(&g);
        prop_assert!(!line.contains('\n'));
        let Record::Group(back) = parse_record(&line, Path::new("x"), 1).unwrap() else {
            panic!("not a group")
        };
        prop_assert_eq!(back, g);
    }
}
