//! The serde shapes of the JSON Lines format. Kept apart from the domain types so the
//! domain stays compact (boxed extensions) while the wire stays flat, as in the
//! reference vectors. Unknown fields are rejected, so a misspelt field is an error.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::trajectory::{Group, Text, ToolCall, Trajectory, TrajectoryExt, Turn, TurnExt};

/// A number, a list of numbers (nulls allowed), or null.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(f64),
    Many(Vec<Option<f64>>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<f64> {
        match self {
            OneOrMany::One(x) => vec![x],
            OneOrMany::Many(v) => v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect(),
        }
    }
    fn from_vec(v: &[f64]) -> Self {
        if v.len() == 1 && v[0].is_finite() {
            OneOrMany::One(v[0])
        } else {
            OneOrMany::Many(v.iter().map(|x| x.is_finite().then_some(*x)).collect())
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ToolCallWire {
    name: String,
    #[serde(default, alias = "parameters", skip_serializing_if = "Value::is_null")]
    arguments: Value,
}

impl From<ToolCallWire> for ToolCall {
    fn from(w: ToolCallWire) -> Self {
        ToolCall {
            name: w.name,
            arguments: w.arguments,
        }
    }
}
impl From<&ToolCall> for ToolCallWire {
    fn from(t: &ToolCall) -> Self {
        ToolCallWire {
            name: t.name.clone(),
            arguments: t.arguments.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TextWire {
    #[serde(default)]
    text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    token_ids: Vec<u32>,
    /// Only meaningful on actions: sampling log-probs of `token_ids`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    logprobs: Vec<f32>,
}

macro_rules! ext_fields {
    ($( $(#[$m:meta])* $name:ident : $ty:ty ),* $(,)?) => {
        /// Flat wire form of a turn.
        #[derive(Debug, Clone, Default, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(crate) struct TurnWire {
            #[serde(default, skip_serializing_if = "Option::is_none")]
            observation: Option<TextWire>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            action: Option<TextWire>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            tokens: Option<u32>,
            #[serde(default)]
            reward: Option<f64>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            score: Option<f64>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            anchor: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            subgoal: Option<u32>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            gold_logprob: Option<OneOrMany>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            tool_calls: Option<Vec<ToolCallWire>>,
            $( $(#[$m])* #[serde(default, skip_serializing_if = "Option::is_none")] $name: Option<$ty>, )*
        }

        fn ext_from_wire(w: &mut TurnWire) -> Option<Box<TurnExt>> {
            let ext = TurnExt {
                gold_logprob: w.gold_logprob.take().map(OneOrMany::into_vec),
                tool_calls: w.tool_calls.take().map(|v| v.into_iter().map(Into::into).collect()),
                $( $name: w.$name.take(), )*
            };
            (ext != TurnExt::default()).then(|| Box::new(ext))
        }

        fn ext_to_wire(e: &TurnExt, w: &mut TurnWire) {
            w.gold_logprob = e.gold_logprob.as_deref().map(OneOrMany::from_vec);
            w.tool_calls = e.tool_calls.as_ref().map(|v| v.iter().map(Into::into).collect());
            $( w.$name = e.$name.clone(); )*
        }
    };
}

ext_fields! {
    correct: bool,
    answer: String,
    valid: bool,
    seq_log_ratio: f64,
    env_step: u64,
    entropy: Vec<f64>,
    adv: f64,
    logp_new: Vec<f64>,
    logp_old: Vec<f64>,
    logp_ref: Vec<f64>,
    teacher_logprob: f64,
    student_logprob: f64,
    answer_f1: f64,
    switch: bool,
    value_high: f64,
    value_low: f64,
    q: Vec<f64>,
    v: Vec<f64>,
    v_target_next: Vec<f64>,
    q_target_pi: Vec<f64>,
    value: f64,
    credit: std::collections::BTreeMap<String, f64>,
}

impl TurnWire {
    /// Converts to the domain type; `Err` holds (field path, message).
    pub(crate) fn into_turn(mut self) -> Result<Turn, (String, String)> {
        let ext = ext_from_wire(&mut self);
        let observation = self.observation.unwrap_or_default();
        let action = self.action.unwrap_or_default();
        if !action.logprobs.is_empty() && action.logprobs.len() != action.token_ids.len() {
            return Err((
                "action.logprobs".into(),
                format!(
                    "has {} values but action.token_ids has {}",
                    action.logprobs.len(),
                    action.token_ids.len()
                ),
            ));
        }
        let tokens = match self.tokens {
            Some(n) if !action.token_ids.is_empty() && n as usize != action.token_ids.len() => {
                return Err((
                    "tokens".into(),
                    format!("is {n} but action.token_ids has {}", action.token_ids.len()),
                ))
            }
            Some(n) => n,
            None => action.token_ids.len() as u32,
        };
        Ok(Turn {
            observation: Text {
                text: observation.text,
                token_ids: observation.token_ids,
            },
            action: Text {
                text: action.text,
                token_ids: action.token_ids,
            },
            action_logprobs: action.logprobs,
            tokens,
            reward: self.reward,
            score: self.score,
            anchor: self.anchor.map(String::into_boxed_str),
            subgoal: self.subgoal,
            ext,
        })
    }

    pub(crate) fn from_turn(t: &Turn) -> Self {
        let mut w = TurnWire {
            observation: (!t.observation.text.is_empty() || !t.observation.token_ids.is_empty())
                .then(|| TextWire {
                    text: t.observation.text.clone(),
                    token_ids: t.observation.token_ids.clone(),
                    logprobs: Vec::new(),
                }),
            action: (!t.action.text.is_empty() || !t.action.token_ids.is_empty()).then(|| {
                TextWire {
                    text: t.action.text.clone(),
                    token_ids: t.action.token_ids.clone(),
                    logprobs: t.action_logprobs.clone(),
                }
            }),
            tokens: Some(t.tokens),
            reward: t.reward,
            score: t.score,
            anchor: t.anchor.as_deref().map(str::to_owned),
            subgoal: t.subgoal,
            ..Default::default()
        };
        if let Some(e) = &t.ext {
            ext_to_wire(e, &mut w);
        }
        w
    }
}

/// Flat wire form of a trajectory.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TrajectoryWire {
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group_id: Option<String>,
    #[serde(default)]
    turns: Vec<TurnWire>,
    #[serde(default)]
    outcome: Option<f64>,
    #[serde(default)]
    terminated: bool,
    #[serde(default)]
    truncated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    success: Option<bool>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    metadata: serde_json::Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seq_score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gold_logprob_initial: Option<OneOrMany>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    answer_cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    evidence: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bootstrap_value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bootstrap_value_high: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gold_answer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    final_observation: Option<TextWire>,
}

impl TrajectoryWire {
    pub(crate) fn into_trajectory(self, group_id: &str) -> Result<Trajectory, (String, String)> {
        let turns = self
            .turns
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                t.into_turn()
                    .map_err(|(p, m)| (format!("turns[{i}].{p}"), m))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(g) = &self.group_id {
            if g != group_id {
                return Err((
                    "group_id".into(),
                    format!("is {g:?} but the trajectory sits in group {group_id:?}"),
                ));
            }
        }
        let ext = TrajectoryExt {
            seq_score: self.seq_score,
            gold_logprob_initial: self.gold_logprob_initial.map(OneOrMany::into_vec),
            answer_cluster: self.answer_cluster,
            evidence: self.evidence,
            bootstrap_value: self.bootstrap_value,
            bootstrap_value_high: self.bootstrap_value_high,
            gold_answer: self.gold_answer,
            final_observation: self.final_observation.map(|o| Text {
                text: o.text,
                token_ids: o.token_ids,
            }),
        };
        Ok(Trajectory {
            id: self.id,
            group_id: group_id.to_owned(),
            turns,
            outcome: self.outcome,
            terminated: self.terminated,
            truncated: self.truncated,
            success: self.success,
            metadata: self.metadata,
            ext: (ext != TrajectoryExt::default()).then(|| Box::new(ext)),
        })
    }

    pub(crate) fn from_trajectory(t: &Trajectory) -> Self {
        let e = t.ext();
        TrajectoryWire {
            id: t.id.clone(),
            group_id: None,
            turns: t.turns.iter().map(TurnWire::from_turn).collect(),
            outcome: t.outcome,
            terminated: t.terminated,
            truncated: t.truncated,
            success: t.success,
            metadata: t.metadata.clone(),
            seq_score: e.seq_score,
            gold_logprob_initial: e.gold_logprob_initial.as_deref().map(OneOrMany::from_vec),
            answer_cluster: e.answer_cluster.clone(),
            evidence: e.evidence,
            bootstrap_value: e.bootstrap_value,
            bootstrap_value_high: e.bootstrap_value_high,
            gold_answer: e.gold_answer.clone(),
            final_observation: e.final_observation.as_ref().map(|o| TextWire {
                text: o.text.clone(),
                token_ids: o.token_ids.clone(),
                logprobs: Vec::new(),
            }),
        }
    }
}

/// Wire form of a group: one line of a turnwise batch file (with `v`), or one element of a
/// test case's `groups`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupWire {
    /// Format version; required on batch-file lines, absent inside test cases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) v: Option<u32>,
    prompt_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gt_tool_calls: Option<Vec<ToolCallWire>>,
    trajectories: Vec<TrajectoryWire>,
}

impl GroupWire {
    pub(crate) fn into_group(self) -> Result<Group, (String, String)> {
        let prompt_id = self.prompt_id;
        let trajectories = self
            .trajectories
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                t.into_trajectory(&prompt_id)
                    .map_err(|(p, m)| (format!("trajectories[{i}].{p}"), m))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Group {
            prompt_id,
            seed: self.seed,
            gt_tool_calls: self
                .gt_tool_calls
                .map(|v| v.into_iter().map(Into::into).collect()),
            trajectories,
        })
    }

    pub(crate) fn from_group(g: &Group, version: Option<u32>) -> Self {
        GroupWire {
            v: version,
            prompt_id: g.prompt_id.clone(),
            seed: g.seed,
            gt_tool_calls: g
                .gt_tool_calls
                .as_ref()
                .map(|v| v.iter().map(Into::into).collect()),
            trajectories: g
                .trajectories
                .iter()
                .map(TrajectoryWire::from_trajectory)
                .collect(),
        }
    }
}

/// Wire form of one reference test case (`../shared/reference/vectors_*.jsonl`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CaseWire {
    pub(crate) method: String,
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) note: String,
    #[serde(default)]
    pub(crate) params: serde_json::Map<String, Value>,
    #[serde(default)]
    pub(crate) groups: Vec<GroupWire>,
    #[serde(default)]
    pub(crate) expected: Option<Value>,
    #[serde(default)]
    pub(crate) expected_extra: Option<Value>,
}
