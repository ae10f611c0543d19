//! What the trainer samples and remembers (issue 16, `docs/training.md` "Curricula and
//! experience"): the step's collect stage ([`collect`]) with DAPO's dynamic sampling
//! ([`dynamic`]), ExIt's restarts from earlier episodes' states ([`exit`]), Prompt
//! Curriculum Learning's task choice by predicted pass rate ([`pcl`]), GAIN-RL's by the
//! policy's angle concentration ([`gain`]), RISE's self-correction phases ([`rise`]) and
//! SLEA-RL's step-level experience library ([`slea`]); environment wrappers ([`wrap`]).

pub mod collect;
pub mod dynamic;
pub mod exit;
pub mod gain;
pub mod pcl;
pub mod rise;
pub mod slea;
pub mod wrap;

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

/// A one-layer policy over the words of `vocab` (unit tests).
#[cfg(test)]
pub(crate) fn tiny_policy(vocab: &str, seed: u64) -> crate::policy::Policy {
    let mc = crate::config::ModelConfig {
        d_model: 16,
        layers: 1,
        heads: 2,
        d_ff: 24,
        max_context: 32,
        ..crate::config::ModelConfig::default()
    };
    let tok = crate::policy::WordTokenizer::build([vocab]);
    crate::policy::Policy::new(&mc, tok, seed).unwrap()
}
