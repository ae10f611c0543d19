//! The flat array layout of a batch (no Python here): trajectory offsets into the turns,
//! one group id per trajectory, and one column per input field, each per turn or per
//! trajectory. Methods with a columnar kernel run on it directly
//! ([`turnwise_credit::Columns`]); every other method runs on a [`Batch`] built from it,
//! whose outputs are put back in the caller's trajectory order. A trajectory's id is its
//! index in the caller's order and a group's id is its group id, so error messages name
//! rows the caller can find.

use rustc_hash::{FxHashMap, FxHashSet};
use turnwise_core::{Batch, Group, Trajectory, Turn};
use turnwise_credit::output::{CreditOutput, Extra, Main, TokenValues, TurnValues};
use turnwise_credit::Columns;

/// Whether a field has one value per turn or per trajectory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// One value (or row) per turn.
    Turn,
    /// One value (or row) per trajectory.
    Trajectory,
}

/// The type of a field's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A finite number.
    Float,
    /// Numbers, one row per element (a 1-D array is a row of one); NaN marks an unknown
    /// value where the method allows it.
    FloatRow,
    /// An identifier (integer); equal ids are equal states / answers. Negative: none.
    Id,
    /// A non-negative count.
    Count,
    /// A flag.
    Bool,
}

/// Writes element `j` of a field's values into a turn or a trajectory.
#[derive(Clone, Copy)]
pub enum Setter {
    /// A per-turn field.
    Turn(fn(&mut Turn, &Values, usize)),
    /// A per-trajectory field.
    Trajectory(fn(&mut Trajectory, &Values, usize)),
}

/// One input field of the array layout.
#[derive(Clone, Copy)]
pub struct FieldSpec {
    /// Wire name (as in the JSON Lines format).
    pub name: &'static str,
    /// Value type.
    pub kind: Kind,
    /// Where the value goes.
    pub set: Setter,
}

impl FieldSpec {
    /// Per turn or per trajectory.
    pub fn level(&self) -> Level {
        match self.set {
            Setter::Turn(_) => Level::Turn,
            Setter::Trajectory(_) => Level::Trajectory,
        }
    }
}

impl std::fmt::Debug for FieldSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FieldSpec({})", self.name)
    }
}

const fn turn(name: &'static str, kind: Kind, set: fn(&mut Turn, &Values, usize)) -> FieldSpec {
    FieldSpec {
        name,
        kind,
        set: Setter::Turn(set),
    }
}

const fn traj(
    name: &'static str,
    kind: Kind,
    set: fn(&mut Trajectory, &Values, usize),
) -> FieldSpec {
    FieldSpec {
        name,
        kind,
        set: Setter::Trajectory(set),
    }
}

/// Every field the array layout accepts (the JSON Lines fields with a fixed shape;
/// tool calls and per-token lists need the dict form).
pub static FIELDS: &[FieldSpec] = &[
    traj("outcome", Kind::Float, |t, v, i| t.outcome = float(v, i)),
    turn("reward", Kind::Float, |t, v, j| t.reward = float(v, j)),
    turn("score", Kind::Float, |t, v, j| t.score = float(v, j)),
    turn("tokens", Kind::Count, |t, v, j| {
        t.tokens = int(v, j).unwrap_or(0) as u32
    }),
    turn("anchor", Kind::Id, |t, v, j| {
        t.anchor = int(v, j).map(|a| a.to_string().into_boxed_str())
    }),
    turn("subgoal", Kind::Count, |t, v, j| {
        t.subgoal = int(v, j).map(|s| s as u32)
    }),
    turn("gold_logprob", Kind::FloatRow, |t, v, j| {
        t.ext_mut().gold_logprob = row(v, j)
    }),
    turn("correct", Kind::Bool, |t, v, j| {
        t.ext_mut().correct = flag(v, j)
    }),
    turn("answer", Kind::Id, |t, v, j| {
        t.ext_mut().answer = int(v, j).map(|a| a.to_string())
    }),
    turn("valid", Kind::Bool, |t, v, j| {
        t.ext_mut().valid = flag(v, j)
    }),
    turn("seq_log_ratio", Kind::Float, |t, v, j| {
        t.ext_mut().seq_log_ratio = float(v, j)
    }),
    turn("env_step", Kind::Count, |t, v, j| {
        t.ext_mut().env_step = int(v, j).map(|s| s as u64)
    }),
    turn("adv", Kind::Float, |t, v, j| t.ext_mut().adv = float(v, j)),
    turn("teacher_logprob", Kind::Float, |t, v, j| {
        t.ext_mut().teacher_logprob = float(v, j)
    }),
    turn("student_logprob", Kind::Float, |t, v, j| {
        t.ext_mut().student_logprob = float(v, j)
    }),
    turn("answer_f1", Kind::Float, |t, v, j| {
        t.ext_mut().answer_f1 = float(v, j)
    }),
    turn("switch", Kind::Bool, |t, v, j| {
        t.ext_mut().switch = flag(v, j)
    }),
    turn("value_high", Kind::Float, |t, v, j| {
        t.ext_mut().value_high = float(v, j)
    }),
    turn("value_low", Kind::Float, |t, v, j| {
        t.ext_mut().value_low = float(v, j)
    }),
    turn("q", Kind::FloatRow, |t, v, j| t.ext_mut().q = row(v, j)),
    turn("v", Kind::FloatRow, |t, v, j| t.ext_mut().v = row(v, j)),
    turn("v_target_next", Kind::FloatRow, |t, v, j| {
        t.ext_mut().v_target_next = row(v, j)
    }),
    turn("q_target_pi", Kind::FloatRow, |t, v, j| {
        t.ext_mut().q_target_pi = row(v, j)
    }),
    turn("value", Kind::Float, |t, v, j| {
        t.ext_mut().value = float(v, j)
    }),
    traj("terminated", Kind::Bool, |t, v, i| {
        t.terminated = flag(v, i).unwrap_or(false)
    }),
    traj("truncated", Kind::Bool, |t, v, i| {
        t.truncated = flag(v, i).unwrap_or(false)
    }),
    traj("seq_score", Kind::Float, |t, v, i| {
        t.ext_mut().seq_score = float(v, i)
    }),
    traj("gold_logprob_initial", Kind::FloatRow, |t, v, i| {
        t.ext_mut().gold_logprob_initial = row(v, i)
    }),
    traj("answer_cluster", Kind::Id, |t, v, i| {
        t.ext_mut().answer_cluster = int(v, i).map(|c| c.to_string())
    }),
    traj("evidence", Kind::Float, |t, v, i| {
        t.ext_mut().evidence = float(v, i)
    }),
    traj("bootstrap_value", Kind::Float, |t, v, i| {
        t.ext_mut().bootstrap_value = float(v, i)
    }),
    traj("bootstrap_value_high", Kind::Float, |t, v, i| {
        t.ext_mut().bootstrap_value_high = float(v, i)
    }),
];

/// The field named `name`.
pub fn field(name: &str) -> Option<&'static FieldSpec> {
    FIELDS.iter().find(|f| f.name == name)
}

/// A field's values, checked and owned.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// One number per element.
    Float(Vec<f64>),
    /// `width` numbers per element, row after row.
    Rows {
        /// Row-major values.
        values: Vec<f64>,
        /// Numbers per row.
        width: usize,
    },
    /// One integer per element.
    Int(Vec<i64>),
    /// One flag per element.
    Bool(Vec<bool>),
}

/// Groups from one group id per trajectory: groups in order of first appearance, each
/// listing its trajectories in the caller's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Grouping {
    /// `members[group_offsets[g]..group_offsets[g + 1]]` are group `g`'s trajectories.
    pub group_offsets: Vec<usize>,
    /// Trajectory indices, group after group.
    pub members: Vec<usize>,
    /// The id of each group.
    pub ids: Vec<i64>,
}

impl Grouping {
    /// Groups `ids` (one per trajectory). Contiguous ids (the usual layout: a group's
    /// rollouts side by side) cost one pass; interleaved ids are gathered with a hash map.
    pub fn of(ids: &[i64]) -> Grouping {
        let mut g = Grouping {
            group_offsets: vec![0],
            members: Vec::with_capacity(ids.len()),
            ids: Vec::new(),
        };
        // The first id of each run of equal ids; the ids are contiguous when no run's id
        // comes back later. Non-decreasing ids (numbered in order of first appearance,
        // `arange // G`) are, without a look-up.
        let starts = (0..ids.len()).filter(|&i| i == 0 || ids[i - 1] != ids[i]);
        let contiguous = ids.windows(2).all(|w| w[0] <= w[1]) || {
            let mut seen = FxHashSet::default();
            starts.clone().all(|i| seen.insert(ids[i]))
        };
        if contiguous {
            g.ids.extend(starts.clone().map(|i| ids[i]));
            g.members.extend(0..ids.len());
            g.group_offsets.extend(starts.skip(1));
            if !ids.is_empty() {
                g.group_offsets.push(ids.len());
            }
            return g;
        }
        let mut seen: FxHashMap<i64, usize> = FxHashMap::default();
        let mut lists: Vec<Vec<usize>> = Vec::new();
        for (i, &id) in ids.iter().enumerate() {
            let slot = *seen.entry(id).or_insert_with(|| {
                g.ids.push(id);
                lists.push(Vec::new());
                lists.len() - 1
            });
            lists[slot].push(i);
        }
        for l in lists {
            g.members.extend(l);
            g.group_offsets.push(g.members.len());
        }
        g
    }
}

/// A batch in the array layout.
#[derive(Debug, Clone)]
pub struct ArrayBatch {
    /// `traj_offsets[i]..traj_offsets[i + 1]` are trajectory `i`'s turns.
    pub traj_offsets: Vec<usize>,
    /// The groups.
    pub grouping: Grouping,
    /// The given fields.
    pub fields: Vec<(&'static FieldSpec, Values)>,
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

impl ArrayBatch {
    /// Number of trajectories.
    pub fn num_trajectories(&self) -> usize {
        self.traj_offsets.len() - 1
    }

    /// Number of turns.
    pub fn num_turns(&self) -> usize {
        self.traj_offsets[self.num_trajectories()]
    }

    /// The values of field `name`, when given.
    pub fn get(&self, name: &str) -> Option<&Values> {
        self.fields
            .iter()
            .find(|(f, _)| f.name == name)
            .map(|(_, v)| v)
    }

    /// The columns view for methods with a columnar kernel.
    pub fn columns(&self) -> Columns<'_> {
        Columns {
            traj_offsets: &self.traj_offsets,
            group_offsets: &self.grouping.group_offsets,
            members: &self.grouping.members,
            outcome: match self.get("outcome") {
                Some(Values::Float(v)) => Some(v),
                _ => None,
            },
        }
    }

    /// The [`Batch`] of these arrays: groups in order of first appearance, trajectory ids
    /// = caller indices, group ids = the given ids.
    pub fn to_batch(&self) -> Batch {
        let g = &self.grouping;
        let groups = (0..g.ids.len())
            .map(|k| {
                let group_id = g.ids[k].to_string();
                let trajectories = g.members[g.group_offsets[k]..g.group_offsets[k + 1]]
                    .iter()
                    .map(|&i| self.trajectory(i, &group_id))
                    .collect();
                Group {
                    prompt_id: group_id,
                    trajectories,
                    ..Group::default()
                }
            })
            .collect();
        Batch { groups }
    }

    fn trajectory(&self, i: usize, group_id: &str) -> Trajectory {
        let (a, b) = (self.traj_offsets[i], self.traj_offsets[i + 1]);
        let mut t = Trajectory {
            id: i.to_string(),
            group_id: group_id.to_owned(),
            turns: vec![Turn::default(); b - a],
            ..Trajectory::default()
        };
        for (spec, values) in &self.fields {
            match spec.set {
                Setter::Trajectory(set) => set(&mut t, values, i),
                Setter::Turn(set) => {
                    for (k, turn) in t.turns.iter_mut().enumerate() {
                        set(turn, values, a + k);
                    }
                }
            }
        }
        t
    }

    /// Values in batch order (trajectory after trajectory of [`ArrayBatch::to_batch`])
    /// put back in the caller's order; `len(k)` is the number of values of batch
    /// trajectory `k`.
    fn unpermute(&self, values: &[f64], offsets: &[usize]) -> (Vec<f64>, Vec<usize>) {
        let m = &self.grouping.members;
        let mut lens = vec![0; m.len()];
        for (k, &i) in m.iter().enumerate() {
            lens[i] = offsets[k + 1] - offsets[k];
        }
        let mut out_offsets = Vec::with_capacity(m.len() + 1);
        out_offsets.push(0);
        for l in &lens {
            out_offsets.push(out_offsets.last().unwrap() + l);
        }
        let mut out = vec![0.0; values.len()];
        for (k, &i) in m.iter().enumerate() {
            out[out_offsets[i]..out_offsets[i + 1]]
                .copy_from_slice(&values[offsets[k]..offsets[k + 1]]);
        }
        (out, out_offsets)
    }

    /// Per-turn values in batch order, in the caller's order.
    pub fn turns_in_order(&self, v: &TurnValues) -> Vec<f64> {
        self.unpermute(&v.values, &v.offsets).0
    }

    /// One value per batch trajectory, in the caller's order.
    pub fn trajectories_in_order(&self, v: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; v.len()];
        for (k, &i) in self.grouping.members.iter().enumerate() {
            out[i] = v[k];
        }
        out
    }

    /// A method's output on [`ArrayBatch::to_batch`] (or on the columns, `in_order`), as
    /// arrays in the caller's order.
    pub fn outputs(&self, out: CreditOutput, in_order: bool) -> Vec<(String, Output)> {
        let turns = |v: TurnValues| {
            if in_order {
                v.values
            } else {
                self.turns_in_order(&v)
            }
        };
        let mut res = Vec::with_capacity(1 + out.extras.len());
        res.push((
            "values".to_owned(),
            match out.main {
                Main::PerTurn(v) => Output::Turn(turns(v)),
                Main::PerToken(t) => self.tokens_output(&t),
                Main::Scalars(s) => {
                    Output::Scalars(s.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect())
                }
            },
        ));
        for (name, e) in out.extras {
            let o = match e {
                Extra::PerTurn(v) => Output::Turn(turns(v)),
                Extra::PerTrajectory(v) => Output::Trajectory(if in_order {
                    v
                } else {
                    self.trajectories_in_order(&v)
                }),
                Extra::PerTrajectoryList(v) => {
                    let (values, offsets) = if in_order {
                        (v.values, v.offsets)
                    } else {
                        self.unpermute(&v.values, &v.offsets)
                    };
                    Output::List { values, offsets }
                }
                Extra::PerTurnVec(v) => self.turn_rows(&v),
            };
            res.push((name.to_owned(), o));
        }
        res
    }

    fn tokens_output(&self, t: &TokenValues) -> Output {
        let mut values = Vec::new();
        let mut offsets = vec![0];
        let flat: Vec<&Vec<f64>> = t.0.iter().flatten().collect();
        // batch-order turn index of each caller turn
        let by_turn = self.batch_turn_positions();
        for &p in &by_turn {
            values.extend_from_slice(flat[p]);
            offsets.push(values.len());
        }
        Output::List { values, offsets }
    }

    /// For each turn in the caller's order, its position in batch order.
    fn batch_turn_positions(&self) -> Vec<usize> {
        let m = &self.grouping.members;
        let mut start = vec![0; m.len()];
        let mut n = 0;
        for &i in m {
            start[i] = n;
            n += self.traj_offsets[i + 1] - self.traj_offsets[i];
        }
        let start = &start;
        (0..m.len())
            .flat_map(|i| {
                (0..self.traj_offsets[i + 1] - self.traj_offsets[i]).map(move |k| start[i] + k)
            })
            .collect()
    }

    fn turn_rows(&self, v: &[Vec<Vec<f64>>]) -> Output {
        let flat: Vec<&Vec<f64>> = v.iter().flatten().collect();
        let width = flat.iter().map(|r| r.len()).max().unwrap_or(0);
        let mut values = Vec::with_capacity(flat.len() * width);
        for p in self.batch_turn_positions() {
            let r = flat[p];
            values.extend_from_slice(r);
            values.extend(std::iter::repeat_n(f64::NAN, width - r.len()));
        }
        Output::Rows { values, width }
    }
}

/// One output array of a method, in the caller's order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// One value per turn.
    Turn(Vec<f64>),
    /// One value per trajectory.
    Trajectory(Vec<f64>),
    /// A list per trajectory (or per turn, for per-token values), flat with offsets.
    List {
        /// The values.
        values: Vec<f64>,
        /// `offsets[i]..offsets[i + 1]` is element `i`'s list.
        offsets: Vec<usize>,
    },
    /// Several values per turn (NaN-padded to `width`).
    Rows {
        /// Row-major values.
        values: Vec<f64>,
        /// Values per row.
        width: usize,
    },
    /// Named scalars.
    Scalars(Vec<(String, f64)>),
}

fn row(values: &Values, j: usize) -> Option<Vec<f64>> {
    match values {
        Values::Float(v) => Some(vec![v[j]]),
        Values::Rows { values, width } => Some(values[j * width..(j + 1) * width].to_vec()),
        _ => None,
    }
}

fn float(values: &Values, j: usize) -> Option<f64> {
    match values {
        Values::Float(v) => finite(v[j]),
        _ => None,
    }
}

fn int(values: &Values, j: usize) -> Option<i64> {
    match values {
        Values::Int(v) => Some(v[j]).filter(|x| *x >= 0),
        _ => None,
    }
}

fn flag(values: &Values, j: usize) -> Option<bool> {
    match values {
        Values::Bool(v) => Some(v[j]),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
