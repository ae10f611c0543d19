//! What estimators return: per-turn values in batch order (flat, with offsets), plus
//! named auxiliary outputs (`turn_rewards`, `clip_eps`, …).

use serde_json::{Map, Value};
use turnwise_core::Batch;

/// One value per turn of every trajectory of a batch, stored flat in batch order.
/// `traj(i)` is the slice of trajectory `i` (batch order, across groups).
#[derive(Debug, Clone, PartialEq)]
pub struct TurnValues {
    /// All values, trajectory after trajectory.
    pub values: Vec<f64>,
    /// `offsets[i]..offsets[i + 1]` is trajectory `i`'s range; `len = trajectories + 1`.
    pub offsets: Vec<usize>,
}

impl TurnValues {
    /// Zeros shaped like `batch`.
    pub fn zeros(batch: &Batch) -> Self {
        let mut offsets = Vec::with_capacity(batch.num_trajectories() + 1);
        offsets.push(0);
        let mut n = 0;
        for t in batch.trajectories() {
            n += t.turns.len();
            offsets.push(n);
        }
        TurnValues {
            values: vec![0.0; n],
            offsets,
        }
    }

    /// Zeros with the same shape as `other` (no pass over the batch).
    pub fn zeros_like(other: &TurnValues) -> Self {
        TurnValues {
            values: vec![0.0; other.values.len()],
            offsets: other.offsets.clone(),
        }
    }

    /// From one list per trajectory (batch order).
    pub fn from_nested(lists: Vec<Vec<f64>>) -> Self {
        let mut offsets = Vec::with_capacity(lists.len() + 1);
        offsets.push(0);
        let mut values = Vec::with_capacity(lists.iter().map(Vec::len).sum());
        for l in lists {
            values.extend(l);
            offsets.push(values.len());
        }
        TurnValues { values, offsets }
    }

    /// Number of trajectories.
    pub fn num_trajectories(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Values of trajectory `i`.
    pub fn traj(&self, i: usize) -> &[f64] {
        &self.values[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Mutable values of trajectory `i`.
    pub fn traj_mut(&mut self, i: usize) -> &mut [f64] {
        let (a, b) = (self.offsets[i], self.offsets[i + 1]);
        &mut self.values[a..b]
    }

    /// `{traj_id: [v_turn0, …]}` in batch order.
    pub fn to_json(&self, batch: &Batch) -> Value {
        let mut m = Map::new();
        for (i, t) in batch.trajectories().enumerate() {
            m.insert(t.id.clone(), Value::from(self.traj(i).to_vec()));
        }
        Value::Object(m)
    }
}

/// Per-token values: `[trajectory][turn][token]` (REINFORCE++ with γ < 1).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenValues(pub Vec<Vec<Vec<f64>>>);

/// An auxiliary output.
#[derive(Debug, Clone, PartialEq)]
pub enum Extra {
    /// One value per turn.
    PerTurn(TurnValues),
    /// One value per trajectory.
    PerTrajectory(Vec<f64>),
    /// A list of values per trajectory whose length is not the number of turns (HiPER's
    /// per-segment planner advantages, `credit-turn.md` §6); laid out like [`TurnValues`].
    PerTrajectoryList(TurnValues),
    /// Several values per turn: `[trajectory][turn][head]` (ArCHer's double-critic
    /// targets, `credit-turn.md` §7.1).
    PerTurnVec(Vec<Vec<Vec<f64>>>),
}

/// The main output of a method.
#[derive(Debug, Clone, PartialEq)]
pub enum Main {
    /// One value per turn (advantages, or rewards for reward shapers).
    PerTurn(TurnValues),
    /// One value per token.
    PerToken(TokenValues),
    /// Named scalars (reward shapers of one quantity, e.g. DAPO's overlong penalty).
    Scalars(Vec<(&'static str, f64)>),
}

/// Everything a method returns.
#[derive(Debug, Clone, PartialEq)]
pub struct CreditOutput {
    /// The main output, shaped like the test vectors' `expected`.
    pub main: Main,
    /// Named auxiliary outputs, shaped like the test vectors' `expected_extra`.
    pub extras: Vec<(&'static str, Extra)>,
}

impl CreditOutput {
    /// Per-turn main output without extras.
    pub fn per_turn(v: TurnValues) -> Self {
        CreditOutput {
            main: Main::PerTurn(v),
            extras: Vec::new(),
        }
    }

    /// Adds an auxiliary output.
    pub fn with_extra(mut self, name: &'static str, extra: Extra) -> Self {
        self.extras.push((name, extra));
        self
    }

    /// The per-turn main output, if that is its shape.
    pub fn turn_values(&self) -> Option<&TurnValues> {
        match &self.main {
            Main::PerTurn(v) => Some(v),
            _ => None,
        }
    }

    /// An auxiliary output by name.
    pub fn extra(&self, name: &str) -> Option<&Extra> {
        self.extras.iter().find(|(n, _)| *n == name).map(|(_, e)| e)
    }

    /// The main output as JSON, shaped like the vectors' `expected`.
    pub fn main_json(&self, batch: &Batch) -> Value {
        match &self.main {
            Main::PerTurn(v) => v.to_json(batch),
            Main::PerToken(TokenValues(v)) => {
                let mut m = Map::new();
                for (t, vals) in batch.trajectories().zip(v) {
                    m.insert(t.id.clone(), serde_json::json!(vals));
                }
                Value::Object(m)
            }
            Main::Scalars(s) => Value::Object(
                s.iter()
                    .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
                    .collect(),
            ),
        }
    }

    /// The extras as JSON, shaped like the vectors' `expected_extra`.
    pub fn extras_json(&self, batch: &Batch) -> Value {
        let mut m = Map::new();
        for (name, e) in &self.extras {
            let v = match e {
                Extra::PerTurn(v) | Extra::PerTrajectoryList(v) => v.to_json(batch),
                Extra::PerTurnVec(v) => Value::Object(
                    batch
                        .trajectories()
                        .zip(v)
                        .map(|(t, x)| (t.id.clone(), serde_json::json!(x)))
                        .collect(),
                ),
                Extra::PerTrajectory(v) => Value::Object(
                    batch
                        .trajectories()
                        .zip(v)
                        .map(|(t, x)| (t.id.clone(), Value::from(*x)))
                        .collect(),
                ),
            };
            m.insert((*name).to_owned(), v);
        }
        Value::Object(m)
    }
}
