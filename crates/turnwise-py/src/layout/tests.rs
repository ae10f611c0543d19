use super::*;
use serde_json::Map;
use turnwise_credit::params::Params;
use turnwise_credit::registry;

#[test]
fn contiguous_and_interleaved_groups() {
    let g = Grouping::of(&[7, 7, 3, 3, 3, 9]);
    assert_eq!(g.ids, vec![7, 3, 9]);
    assert_eq!(g.group_offsets, vec![0, 2, 5, 6]);
    assert_eq!(g.members, vec![0, 1, 2, 3, 4, 5]);
    let g = Grouping::of(&[1, 2, 1, 2, 5]);
    assert_eq!(g.ids, vec![1, 2, 5]);
    assert_eq!(g.group_offsets, vec![0, 2, 4, 5]);
    assert_eq!(g.members, vec![0, 2, 1, 3, 4]);
    assert_eq!(Grouping::of(&[]).group_offsets, vec![0]);
    // non-decreasing ids (the look-up-free path) and a run that comes back
    let g = Grouping::of(&[0, 0, 1, 1, 1, 4]);
    assert_eq!(g.ids, vec![0, 1, 4]);
    assert_eq!(g.group_offsets, vec![0, 2, 5, 6]);
    let g = Grouping::of(&[3, 3, 1, 3]);
    assert_eq!(g.ids, vec![3, 1]);
    assert_eq!(g.group_offsets, vec![0, 3, 4]);
    assert_eq!(g.members, vec![0, 1, 3, 2]);
}

/// Two groups given interleaved: the batch path's outputs come back in the caller's order
/// and equal the method's values on the same groups given as a batch.
#[test]
fn batch_path_outputs_return_in_caller_order() {
    // trajectory i: turns, outcome, group
    let spec = [
        (2, 1.0, 0),
        (1, 0.0, 1),
        (3, 0.0, 0),
        (2, 1.0, 1),
        (1, 1.0, 0),
    ];
    let mut offsets = vec![0];
    for (n, _, _) in spec {
        offsets.push(offsets.last().unwrap() + n);
    }
    let n_turns = *offsets.last().unwrap();
    let rewards: Vec<f64> = (0..n_turns).map(|j| j as f64 * 0.25 - 0.5).collect();
    let ab = ArrayBatch {
        traj_offsets: offsets.clone(),
        grouping: Grouping::of(&spec.map(|s| s.2 as i64)),
        fields: vec![
            (
                field("outcome").unwrap(),
                Values::Float(spec.map(|s| s.1).to_vec()),
            ),
            (field("reward").unwrap(), Values::Float(rewards.clone())),
        ],
    };
    let batch = ab.to_batch();
    assert_eq!(batch.groups.len(), 2);
    let ids: Vec<&str> = batch.groups[0]
        .trajectories
        .iter()
        .map(|t| t.id.as_str())
        .collect();
    assert_eq!(ids, ["0", "2", "4"]);
    assert_eq!(
        batch.groups[1].trajectories[1].turns[1].reward,
        Some(rewards[offsets[3] + 1])
    );
    for method in ["rloo", "trloo", "grpo"] {
        let m = registry::get(method).unwrap();
        let p = Params::resolve(method, m.info().params, &Map::new(), &[]).unwrap();
        let out = m.compute(&batch, &p).unwrap();
        let Output::Turn(got) = &ab.outputs(out.clone(), false)[0].1 else {
            panic!("{method}: per-turn output expected")
        };
        let want = out.turn_values().unwrap();
        for (k, t) in batch.trajectories().enumerate() {
            let i: usize = t.id.parse().unwrap();
            assert_eq!(
                &got[offsets[i]..offsets[i + 1]],
                want.traj(k),
                "{method} trajectory {i}"
            );
        }
    }
}
