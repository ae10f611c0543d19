//! `try-again`: UFO's unary-feedback wrapper (spec §4; `lichengliu03/unary-feedback`,
//! `ragen/env/metamathqa/env.py`): a single-answer task becomes up to `max_attempts`
//! attempts. A wrong answer gets only `"Incorrect. Please think again."`; a right one gets
//! `"Correct!"` and ends the episode. Reward `gamma^k` for a correct answer at attempt k
//! (0-based, γ = 0.5), else 0; when the episode ends, `λ·(1 − E/T)` is subtracted
//! (λ = 0.5, E = distinct answers lower-cased with all whitespace removed, as upstream's
//! `_minimal_normalize_answer`, T = valid answers). Where the answer sits inside a longer
//! reply (`math/arith` with `answer=free`), E counts the inner task's answers
//! (`info.answer`), not the replies.
//!
//! Generic over any registered environment whose episodes are one step: the inner env is
//! reset with the episode's seed for every attempt (same question), and its `info.success`
//! decides correctness.

use std::collections::HashSet;

use turnwise_core::answer::minimal_key;

use crate::env::{Env, Info, Observation, Step, Text};
use crate::error::EnvError;
use crate::options::{OptionKind, OptionSpec, Options};
use crate::registry::{self, EnvSpec};
use crate::snapshot::Snapshot;

/// The try-again wrapper.
pub struct TryAgain {
    inner: Box<dyn Env>,
    f: Fields,
}

/// A try-again snapshot: the wrapper's fields and its inner environment's snapshot.
struct Saved {
    outer: Fields,
    inner: Snapshot,
}

/// The wrapper's settings and episode state (everything but the inner environment).
#[derive(Clone)]
struct Fields {
    max_attempts: usize,
    feedback: String,
    correct: String,
    gamma: f64,
    lambda: f64,
    seed: u64,
    attempts: usize,
    answers: Vec<String>,
    question: Text,
    done: bool,
}

impl TryAgain {
    fn repetition_penalty(&self) -> f64 {
        if self.f.answers.is_empty() {
            return 0.0;
        }
        let distinct: HashSet<&String> = self.f.answers.iter().collect();
        self.f.lambda * (1.0 - distinct.len() as f64 / self.f.answers.len() as f64)
    }
}

impl Env for TryAgain {
    fn snapshot(&self) -> Option<Snapshot> {
        let inner = self.inner.snapshot()?;
        Some(Snapshot::new(Saved {
            outer: self.f.clone(),
            inner,
        }))
    }

    fn restore(&mut self, snapshot: &Snapshot) -> bool {
        let Some(saved) = snapshot.get::<Saved>() else {
            return false;
        };
        if !self.inner.restore(&saved.inner) {
            return false;
        }
        self.f = saved.outer.clone();
        true
    }

    fn reset(&mut self, seed: u64) -> Observation {
        self.f.seed = seed;
        self.f.attempts = 0;
        self.f.answers.clear();
        self.f.done = false;
        let o = self.inner.reset(seed);
        self.f.question = o.text.clone();
        o
    }

    fn step(&mut self, action: &str) -> Step {
        if self.f.done {
            return Step {
                terminated: true,
                ..Step::default()
            };
        }
        if self.f.attempts > 0 {
            self.inner.reset(self.f.seed);
        }
        let inner = self.inner.step(action);
        let k = self.f.attempts;
        self.f.attempts += 1;
        if inner.info.action_valid {
            // The inner task's answer where it sits inside a longer reply (free text).
            let given = inner.info.answer.as_deref().unwrap_or(action);
            self.f.answers.push(minimal_key(given));
        }
        let correct = inner.info.success;
        let terminated = correct;
        let truncated = !correct && self.f.attempts >= self.f.max_attempts;
        self.f.done = terminated || truncated;
        let mut reward = if correct {
            self.f.gamma.powi(k as i32)
        } else {
            0.0
        };
        if self.f.done {
            reward -= self.repetition_penalty();
        }
        Step {
            observation: Text::Owned(if correct {
                self.f.correct.clone()
            } else {
                self.f.feedback.clone()
            }),
            reward,
            terminated,
            truncated,
            info: Info {
                success: correct,
                action_valid: inner.info.action_valid,
                action_effective: inner.info.action_valid,
                ground_truth: inner.info.ground_truth,
                answer: inner.info.answer,
                state_key: Some(Text::Owned(format!(
                    "{}#{}",
                    self.f.question, self.f.attempts
                ))),
                ..Info::default()
            },
        }
    }

    fn instructions(&self) -> Text {
        self.inner.instructions()
    }

    fn stop(&self) -> Option<&'static str> {
        self.inner.stop()
    }

    fn action_format(&self) -> crate::env::ActionFormat {
        self.inner.action_format()
    }

    fn budget_left(&self) -> Option<u32> {
        Some((self.f.max_attempts - self.f.attempts) as u32)
    }

    /// Every turn is a graded attempt: `valid` (format and parse), `answer` (the action)
    /// and `correct` (the inner task's success), UFO's inputs.
    fn credit_fields(&self) -> &'static [&'static str] {
        &["valid", "answer", "correct"]
    }

    /// The inner task's answer.
    fn gold_action(&self) -> Option<String> {
        self.inner.gold_action()
    }

    /// The inner task's expert answer (right at the first attempt).
    fn expert_action(&self) -> Option<String> {
        if self.f.done {
            None
        } else {
            self.inner.expert_action()
        }
    }

    fn action_space(&self) -> Vec<Text> {
        self.inner.action_space()
    }
}

fn make(opts: &Options) -> Result<Box<dyn Env>, EnvError> {
    let inner_name = opts.str("inner");
    if inner_name == SPEC.name {
        return Err(opts.bad(
            "inner",
            inner_name,
            "a single-answer environment other than try-again",
        ));
    }
    let inner_opts: Vec<String> = opts
        .str("inner_options")
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let inner = registry::make_from_strings(inner_name, &inner_opts)?;
    Ok(Box::new(TryAgain {
        inner,
        f: Fields {
            max_attempts: opts.count("max_attempts", 1, 1000)?,
            feedback: opts.str("feedback").to_owned(),
            correct: opts.str("correct_feedback").to_owned(),
            gamma: opts.float("gamma"),
            lambda: opts.float("repetition_penalty"),
            seed: 0,
            attempts: 0,
            answers: vec![],
            question: Text::Borrowed(""),
            done: true,
        },
    }))
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "inner",
        kind: OptionKind::Str,
        default: "math/arith",
        doc: "the single-answer environment to wrap",
    },
    OptionSpec {
        name: "inner_options",
        kind: OptionKind::Str,
        default: "",
        doc: "options of the inner environment, `K=V;K=V`",
    },
    OptionSpec {
        name: "max_attempts",
        kind: OptionKind::Int,
        default: "5",
        doc: "UFO max_turn / max_actions_per_traj",
    },
    OptionSpec {
        name: "feedback",
        kind: OptionKind::Str,
        default: "Incorrect. Please think again.",
        doc: "unary feedback after a wrong answer (UFO code; the paper says \"Let's try again.\")",
    },
    OptionSpec {
        name: "correct_feedback",
        kind: OptionKind::Str,
        default: "Correct!",
        doc: "text after a correct answer",
    },
    OptionSpec {
        name: "gamma",
        kind: OptionKind::Float,
        default: "0.5",
        doc: "reward decay: a correct answer at attempt k earns gamma^k",
    },
    OptionSpec {
        name: "repetition_penalty",
        kind: OptionKind::Float,
        default: "0.5",
        doc: "lambda of the end-of-episode penalty lambda*(1 - distinct/valid answers)",
    },
];

/// `try-again`.
pub static SPEC: EnvSpec = EnvSpec {
    name: "try-again",
    doc: "UFO try-again wrapper over a single-answer env: up to 5 attempts, feedback `Incorrect. Please think again.`, reward 0.5^k, repetition penalty 0.5*(1-E/T).",
    options: OPTIONS,
    make,
};

#[cfg(test)]
mod tests {
    use crate::env::ActionFormat;
    use crate::registry::make_from_strings;

    fn episode(inner: &str, replies: &[&str]) -> (f64, ActionFormat) {
        let opts = [
            "inner=math/arith".to_owned(),
            format!("inner_options=kind=arith;difficulty=0;{inner}"),
            "max_attempts=2".to_owned(),
        ];
        let mut env = make_from_strings("try-again", &opts).unwrap();
        env.reset(1);
        let gold: i64 = env.gold_action().unwrap().parse().unwrap();
        let (w, v) = ((gold + 1).to_string(), (gold + 2).to_string());
        let ret = replies
            .iter()
            .map(|r| env.step(&r.replace('W', &w).replace('V', &v)).reward)
            .sum();
        (ret, env.action_format())
    }

    /// UFO's penalty λ(1 − E/T) counts distinct answers: with free text, two differently
    /// worded replies giving the same wrong number W are one answer (E = 1, T = 2).
    #[test]
    fn free_text_replies_are_penalised_by_the_answers_they_give() {
        let (ret, format) = episode("answer=free", &["I think W", "it is surely W."]);
        assert_eq!(format, ActionFormat::Free);
        assert_eq!(ret, -0.25);
        let (ret, _) = episode("answer=free", &["I think W", "so V"]);
        assert_eq!(ret, 0.0);
        let (ret, format) = episode("answer=tag", &["W", " W"]);
        assert_eq!(format, ActionFormat::AnswerTag);
        assert_eq!(ret, -0.25);
    }
}
