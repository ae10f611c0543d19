//! Batch → Group → Trajectory → Turn, the data every turnwise stage exchanges.
//!
//! A turn is one observation followed by one action. The policy's tokens exist only in
//! [`Turn::action`], so which tokens receive gradient is decided by the type, not by a
//! chat template (LMRL-Gym's `Text(text, is_action)` segments, made structural).
//! Method-specific quantities (gold-answer log-probs, critic values, tool calls, …) live
//! in the boxed [`TurnExt`] / [`TrajectoryExt`], so the common path stays compact.

use serde_json::Value;

/// A piece of text and its token ids. Tokens may be empty when only text is known
/// (demonstrations, reference vectors).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Text {
    /// The decoded text.
    pub text: String,
    /// The token ids, exactly as they enter the model's context (token-in / token-out).
    pub token_ids: Vec<u32>,
}

/// A borrowed view of one segment of a trajectory's context: LMRL-Gym's
/// `Text(text, is_action)`. Produced by [`Trajectory::segments`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment<'a> {
    /// The segment's text.
    pub text: &'a str,
    /// The segment's token ids.
    pub token_ids: &'a [u32],
    /// `true` for tokens the policy produced (loss mask 1), `false` for everything else.
    pub is_action: bool,
}

/// A tool call of a turn (MatchTIR) or of a group's ground truth (`gt_tool_calls`).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The tool's name.
    pub name: String,
    /// Its arguments, as a JSON object (`arguments` in turns, `parameters` in ground truth).
    pub arguments: Value,
}

/// Optional per-turn quantities that only some methods read. A method that needs a field
/// that is `None` fails with an error naming the field and the method.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TurnExt {
    /// IGPO / A²TGPO / SIOP: length-normalised log-prob of the gold answer(s) after this
    /// turn's context; several references give several values (NaN where unknown).
    pub gold_logprob: Option<Vec<f64>>,
    /// UFO: whether this turn's answer was correct.
    pub correct: Option<bool>,
    /// UFO: the answer given in this turn.
    pub answer: Option<String>,
    /// UFO: whether the turn was well formatted.
    pub valid: Option<bool>,
    /// SeeUPO: the turn's sequence-level log importance ratio.
    pub seq_log_ratio: Option<f64>,
    /// EPO: environment step index of the turn.
    pub env_step: Option<u64>,
    /// Per-token entropies of the action (EPO, entropy bonus).
    pub entropy: Option<Vec<f64>>,
    /// Loss-side: the turn's advantage.
    pub adv: Option<f64>,
    /// Loss-side: per-token log-probs under the current policy.
    pub logp_new: Option<Vec<f64>>,
    /// Loss-side: per-token log-probs under the behaviour (rollout) policy.
    pub logp_old: Option<Vec<f64>>,
    /// Loss-side: per-token log-probs under the frozen reference policy.
    pub logp_ref: Option<Vec<f64>>,
    /// PBSD: summed log-prob of the action under the privileged teacher.
    pub teacher_logprob: Option<f64>,
    /// PBSD: summed log-prob of the action under the student.
    pub student_logprob: Option<f64>,
    /// MatchTIR: the tool calls the turn made.
    pub tool_calls: Option<Vec<ToolCall>>,
    /// MatchTIR: F1 of the turn's final answer.
    pub answer_f1: Option<f64>,
    /// HiPER: whether a new subgoal starts at this turn.
    pub switch: Option<bool>,
    /// HiPER: high-level (planner) value estimate.
    pub value_high: Option<f64>,
    /// HiPER: low-level (executor) value estimate.
    pub value_low: Option<f64>,
    /// ArCHer: Q estimates (one per critic head).
    pub q: Option<Vec<f64>>,
    /// ArCHer: V estimates (one per critic head).
    pub v: Option<Vec<f64>>,
    /// ArCHer: target-network V of the next state (one per head).
    pub v_target_next: Option<Vec<f64>>,
    /// ArCHer: target-network Q at the policy's action (one per head).
    pub q_target_pi: Option<Vec<f64>>,
    /// Turn-level GAE: the critic's value of the state before this turn.
    pub value: Option<f64>,
    /// What credit assignment gave this turn, by name (written by the trainer with each
    /// step's rollouts): `advantage` (the turn's advantage as applied; the mean over its
    /// tokens for per-token methods), `reward` (the reward credit saw, after shaping), and
    /// the method's per-turn extras (`turn_rewards`, `clip_eps`, `returns`, …).
    pub credit: Option<std::collections::BTreeMap<String, f64>>,
}

/// One turn: the observation the policy saw, the action it produced, and the feedback.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Turn {
    /// Environment text (and tokens) that preceded the action; never trained on.
    pub observation: Text,
    /// The policy's output; the only tokens that receive gradient.
    pub action: Text,
    /// Sampling log-probs of `action.token_ids` under the behaviour policy (raw distribution).
    pub action_logprobs: Vec<f32>,
    /// n_{i,t}: number of loss-masked policy tokens of the turn (= `action.token_ids.len()`
    /// when tokens are known).
    pub tokens: u32,
    /// r_{i,t}: per-turn environment reward.
    pub reward: Option<f64>,
    /// s_{i,t}: per-turn quality or judge score (PRE-GRPO, MAPO).
    pub score: Option<f64>,
    /// Anchor / state key of the state before the action (GiGPO's step grouping).
    pub anchor: Option<Box<str>>,
    /// Subgoal id (hierarchical methods), when the environment provides one.
    pub subgoal: Option<u32>,
    /// Method-specific fields.
    pub ext: Option<Box<TurnExt>>,
}

impl Turn {
    /// The method-specific fields, or an empty set.
    pub fn ext(&self) -> &TurnExt {
        static EMPTY: std::sync::OnceLock<TurnExt> = std::sync::OnceLock::new();
        self.ext
            .as_deref()
            .unwrap_or_else(|| EMPTY.get_or_init(TurnExt::default))
    }

    /// Mutable method-specific fields, created on first use.
    pub fn ext_mut(&mut self) -> &mut TurnExt {
        self.ext.get_or_insert_with(Default::default)
    }
}

/// Optional per-trajectory quantities that only some methods read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrajectoryExt {
    /// DisCO: the trajectory's sequence score s_θ(o|q).
    pub seq_score: Option<f64>,
    /// IGPO / A²TGPO / SIOP: gold-answer log-prob(s) given the prompt alone.
    pub gold_logprob_initial: Option<Vec<f64>>,
    /// SIOP: the cluster of the trajectory's final answer (`None`: no answer).
    pub answer_cluster: Option<String>,
    /// SIOP: evidence score of the final answer.
    pub evidence: Option<f64>,
    /// ArCHer / GAE: value used to bootstrap a truncated trajectory.
    pub bootstrap_value: Option<f64>,
    /// HiPER: high-level bootstrap value of a truncated trajectory.
    pub bootstrap_value_high: Option<f64>,
    /// The task's answer in the environment's action text (`Env::gold_action`), when the
    /// environment has one (gold-answer methods score it; PBSD conditions its teacher on
    /// it).
    pub gold_answer: Option<String>,
    /// The observation after the last action of a truncated trajectory (the state s_T a
    /// critic bootstraps from), when the environment gave one.
    pub final_observation: Option<Text>,
}

/// One episode: the turns of one policy rollout on one task.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trajectory {
    /// Unique id within the batch.
    pub id: String,
    /// Id of the group (task / prompt) this trajectory belongs to.
    pub group_id: String,
    /// The turns, in order.
    pub turns: Vec<Turn>,
    /// R_i: the trajectory-level (final) reward.
    pub outcome: Option<f64>,
    /// The episode ended in a terminal state of the environment.
    pub terminated: bool,
    /// The episode was cut by a turn, token or context budget.
    pub truncated: bool,
    /// The environment reported the task solved (`None`: not known).
    pub success: Option<bool>,
    /// Free-form metadata (environment name, seed, …), kept as given.
    pub metadata: serde_json::Map<String, Value>,
    /// Method-specific fields.
    pub ext: Option<Box<TrajectoryExt>>,
}

impl Trajectory {
    /// The method-specific fields, or an empty set.
    pub fn ext(&self) -> &TrajectoryExt {
        static EMPTY: std::sync::OnceLock<TrajectoryExt> = std::sync::OnceLock::new();
        self.ext
            .as_deref()
            .unwrap_or_else(|| EMPTY.get_or_init(TrajectoryExt::default))
    }

    /// Mutable method-specific fields, created on first use.
    pub fn ext_mut(&mut self) -> &mut TrajectoryExt {
        self.ext.get_or_insert_with(Default::default)
    }

    /// The context as LMRL-style segments: observation, action, observation, action, …
    /// Empty observations are skipped.
    pub fn segments(&self) -> impl Iterator<Item = Segment<'_>> {
        self.turns.iter().flat_map(|t| {
            let obs = (!t.observation.text.is_empty() || !t.observation.token_ids.is_empty())
                .then_some(Segment {
                    text: &t.observation.text,
                    token_ids: &t.observation.token_ids,
                    is_action: false,
                });
            obs.into_iter().chain(std::iter::once(Segment {
                text: &t.action.text,
                token_ids: &t.action.token_ids,
                is_action: true,
            }))
        })
    }

    /// Sum of the per-turn rewards (missing rewards count as 0).
    pub fn total_reward(&self) -> f64 {
        self.turns.iter().filter_map(|t| t.reward).sum()
    }
}

/// The G rollouts of one task or prompt; they share the environment seed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    /// The task / prompt id (verl's `uid`).
    pub prompt_id: String,
    /// The environment seed shared by the group's members, when known.
    pub seed: Option<u64>,
    /// MatchTIR: the ground-truth tool calls of the task.
    pub gt_tool_calls: Option<Vec<ToolCall>>,
    /// The trajectories.
    pub trajectories: Vec<Trajectory>,
}

impl Group {
    /// Turns of the group's longest trajectory (0 for an empty group).
    pub fn max_turns(&self) -> usize {
        self.trajectories
            .iter()
            .map(|t| t.turns.len())
            .max()
            .unwrap_or(0)
    }
}

/// A batch: the unit credit assignment runs on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// The groups, in order.
    pub groups: Vec<Group>,
}

impl Batch {
    /// All trajectories in batch order.
    pub fn trajectories(&self) -> impl Iterator<Item = &Trajectory> {
        self.groups.iter().flat_map(|g| g.trajectories.iter())
    }

    /// All trajectories in batch order, mutably.
    pub fn trajectories_mut(&mut self) -> impl Iterator<Item = &mut Trajectory> {
        self.groups
            .iter_mut()
            .flat_map(|g| g.trajectories.iter_mut())
    }

    /// Number of trajectories.
    pub fn num_trajectories(&self) -> usize {
        self.groups.iter().map(|g| g.trajectories.len()).sum()
    }

    /// Number of turns.
    pub fn num_turns(&self) -> usize {
        self.trajectories().map(|t| t.turns.len()).sum()
    }

    /// Turns of the batch's longest trajectory (0 for an empty batch).
    pub fn max_turns(&self) -> usize {
        self.groups.iter().map(Group::max_turns).max().unwrap_or(0)
    }
}
