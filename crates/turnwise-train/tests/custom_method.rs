//! A credit method defined outside turnwise (here, in this test crate) is registered at run
//! time and trains with `credit.method` like a built-in one.

mod common;

use turnwise_core::Batch;
use turnwise_credit::output::CreditOutput;
use turnwise_credit::params::{Default as D, ParamKind, ParamSpec, Params};
use turnwise_credit::{registry, CreditError, Estimator, MethodInfo, OutputKind, Status};
use turnwise_train::train::run::Trainer;

/// Advantage of turn t = scale · (r_t − mean reward of the batch's turns).
struct CenteredReward;

static PARAMS: &[ParamSpec] = &[ParamSpec {
    name: "scale",
    kind: ParamKind::Float,
    default: D::Float(1.0),
    doc: "multiplier",
}];

impl Estimator for CenteredReward {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "centered_reward",
            paper: "a user's own method",
            idea: "Turn reward minus the batch mean, times scale.",
            fields: &["reward"],
            params: PARAMS,
            status: Status::Assumption("test method"),
            output: "advantages",
            kind: OutputKind::Advantages,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        let all: Vec<f64> = batch
            .trajectories()
            .flat_map(|t| t.turns.iter().map(|u| u.reward.unwrap_or(0.0)))
            .collect();
        let mean = all.iter().sum::<f64>() / all.len().max(1) as f64;
        let scale = p.f64("scale");
        let v = batch
            .trajectories()
            .map(|t| {
                t.turns
                    .iter()
                    .map(|u| scale * (u.reward.unwrap_or(0.0) - mean))
                    .collect()
            })
            .collect();
        Ok(CreditOutput::per_turn(
            turnwise_credit::TurnValues::from_nested(v),
        ))
    }
}

#[test]
fn a_method_registered_from_another_crate_trains() {
    tch::set_num_threads(1);
    registry::register(&CenteredReward).unwrap();
    let cfg = common::config_with(
        &[
            "env.group_size=2",
            "env.tasks_per_step=2",
            "env.max_turns=4",
            "run.steps=2",
            "eval.episodes=2",
            "eval.max_turns=3",
            "credit.method=\"centered_reward\"",
            "credit.params.scale=0.5",
            "eval.every=1",
        ],
        &[],
    );
    let tmp = std::env::temp_dir().join(format!("tw-custom-{}", std::process::id()));
    let mut t = Trainer::start(cfg, &tmp, |_, _| true).unwrap();
    let m = t.step().unwrap();
    assert!(m.loss.is_finite() && m.grad_norm > 0.0, "{m:?}");
    let batch = turnwise_core::jsonl::read_batch(&tmp.join("rollouts/last.jsonl")).unwrap();
    // kept at evaluation steps for reports
    let kept = turnwise_core::jsonl::read_batch(&tmp.join("rollouts/step-000001.jsonl")).unwrap();
    assert_eq!(kept, batch);
    let rewards: Vec<f64> = batch
        .trajectories()
        .flat_map(|t| t.turns.iter().map(|u| u.reward.unwrap()))
        .collect();
    let mean = rewards.iter().sum::<f64>() / rewards.len() as f64;
    for t in batch.trajectories() {
        for u in &t.turns {
            let a = u.ext().credit.as_ref().unwrap()["advantage"];
            assert!((a - 0.5 * (u.reward.unwrap() - mean)).abs() < 1e-9);
        }
    }
    std::fs::remove_dir_all(&tmp).ok();
}
