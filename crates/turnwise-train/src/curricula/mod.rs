//! What the trainer samples and remembers (issue 16, `docs/training.md` "Curricula and
//! experience"): the step's collect stage ([`collect`]) with DAPO's dynamic sampling
//! ([`dynamic`]) and ExIt's restarts from earlier episodes' states ([`exit`]).

pub mod collect;
pub mod dynamic;
pub mod exit;

/// A group whose members have these outcomes (unit tests).
#[cfg(test)]
pub(crate) fn group_of(outcomes: &[f64]) -> turnwise_core::Group {
    turnwise_core::Group {
        prompt_id: format!("{outcomes:?}"),
        trajectories: outcomes
            .iter()
            .map(|&o| turnwise_core::Trajectory {
                outcome: Some(o),
                ..turnwise_core::Trajectory::default()
            })
            .collect(),
        ..turnwise_core::Group::default()
    }
}
