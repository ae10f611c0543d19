//! A method defined outside turnwise-credit joins the registry at run time.

use serde_json::json;
use turnwise_core::{Batch, Group, Trajectory, Turn};
use turnwise_credit::output::CreditOutput;
use turnwise_credit::params::Params;
use turnwise_credit::{
    registry, CreditError, Estimator, MethodInfo, OutputKind, Status, TurnValues,
};

/// Advantage = the trajectory's outcome, on every turn.
struct OutcomeAsAdvantage;

impl Estimator for OutcomeAsAdvantage {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "outcome_as_advantage",
            paper: "test",
            idea: "A = R on every turn.",
            fields: &["outcome"],
            params: &[],
            status: Status::Assumption("test method"),
            output: "advantages",
            kind: OutputKind::Advantages,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, _: &Params) -> Result<CreditOutput, CreditError> {
        let v = batch
            .trajectories()
            .map(|t| vec![t.outcome.unwrap_or(0.0); t.turns.len()])
            .collect();
        Ok(CreditOutput::per_turn(TurnValues::from_nested(v)))
    }
}

#[test]
fn an_outside_method_registers_runs_and_cannot_take_a_taken_name() {
    registry::register(&OutcomeAsAdvantage).unwrap();
    assert!(registry::all().any(|m| m.info().name == "outcome_as_advantage"));
    let batch = Batch {
        groups: vec![Group {
            prompt_id: "p".into(),
            trajectories: vec![Trajectory {
                id: "t".into(),
                turns: vec![Turn::default(), Turn::default()],
                outcome: Some(0.5),
                ..Trajectory::default()
            }],
            ..Group::default()
        }],
    };
    let out = registry::run("outcome_as_advantage", &batch, &Default::default(), &[]).unwrap();
    assert_eq!(out.main_json(&batch), json!({"t": [0.5, 0.5]}));
    // a second registration of the name, or a built-in's name, is refused
    assert!(registry::register(&OutcomeAsAdvantage).is_err());
    struct Fake;
    impl Estimator for Fake {
        fn info(&self) -> &'static MethodInfo {
            registry::get("grpo").unwrap().info()
        }
        fn compute(&self, _: &Batch, _: &Params) -> Result<CreditOutput, CreditError> {
            unreachable!()
        }
    }
    assert!(registry::register_boxed(Box::new(Fake)).is_err());
}
