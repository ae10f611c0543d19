//! Credit on token rows, as verl, SkyRL and TRL hold a batch: `(rows, tokens)` rewards
//! and a response mask whose runs of 1 are the turns ([`crate::spans`]). Per-turn rewards
//! and outcomes are read off the token rewards, the method runs per turn, and its
//! per-turn (or per-token) advantages go back onto the turns' tokens.

use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::arrays;
use crate::credit::{params_map, read_fields, read_group_ids, run_arrays};
use crate::errors;
use crate::layout::{field, ArrayBatch, Grouping, Output, Values};
use crate::spans::Spans;

fn read_mask(obj: &Bound<'_, PyAny>) -> PyResult<(Spans, usize)> {
    let (mask, shape) = arrays::mask("response_mask", obj)?;
    let (rows, cols) = arrays::expect_2d("response_mask", &shape)?;
    Ok((Spans::of(&mask, rows, cols, false), rows))
}

fn to_2d<'py>(
    py: Python<'py>,
    v: Vec<f64>,
    rows: usize,
    cols: usize,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    Ok(PyArray1::from_vec(py, v)
        .reshape([rows, cols])?
        .cast_into::<PyArray2<f64>>()?)
}

/// Three index arrays: `(traj_offsets, start, end)`.
type SpanArrays<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
);

fn offsets_array<'py>(py: Python<'py>, v: &[usize]) -> Bound<'py, PyArray1<i64>> {
    PyArray1::from_vec(py, v.iter().map(|&x| x as i64).collect())
}

/// `turnwise.turn_spans(response_mask)`: the turns of each row, as
/// `(traj_offsets, start, end)` (row `r`'s turns are `traj_offsets[r]:traj_offsets[r+1]`;
/// turn `t` covers tokens `start[t]:end[t]`).
#[pyfunction]
fn turn_spans<'py>(
    py: Python<'py>,
    response_mask: &Bound<'py, PyAny>,
) -> PyResult<SpanArrays<'py>> {
    let (s, _) = read_mask(response_mask)?;
    Ok((
        offsets_array(py, &s.traj_offsets),
        offsets_array(py, &s.start),
        offsets_array(py, &s.end),
    ))
}

/// `turnwise.rewards_at_turn_ends(response_mask, turn_rewards)`: a `(rows, tokens)`
/// float64 array holding each turn's reward on its last token (flat `turn_rewards`, one
/// per turn in row order): the layout [`token_advantages`] reads.
#[pyfunction]
fn rewards_at_turn_ends<'py>(
    py: Python<'py>,
    response_mask: &Bound<'py, PyAny>,
    turn_rewards: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let (s, rows) = read_mask(response_mask)?;
    let (r, shape) = arrays::floats("turn_rewards", turn_rewards)?;
    arrays::expect_len("turn_rewards", &shape, s.turns(), "turn of response_mask")?;
    if let Some(j) = r.iter().position(|x| !x.is_finite()) {
        return Err(errors::array(format!(
            "turn_rewards: {} at turn {j} is not a finite number",
            r[j]
        )));
    }
    to_2d(py, s.at_ends(&r), rows, s.cols)
}

/// `turnwise.token_advantages(method, token_level_rewards, response_mask, group_ids,
/// params=None, **fields)`: `(rows, tokens)` float64 advantages of `method`. Each row is a
/// trajectory of group `group_ids[row]`; its turns are the runs of 1 in `response_mask`;
/// `reward` per turn is the sum of the token rewards from the turn's first token up to the
/// next turn, `outcome` the row's sum, `tokens` the turn's length (each overridable by a
/// field of the same name). Other fields (per turn in row order, or per row) as in
/// `advantages_from_arrays`.
#[pyfunction]
#[pyo3(signature = (method, token_level_rewards, response_mask, group_ids, params=None, **fields))]
fn token_advantages<'py>(
    py: Python<'py>,
    method: &str,
    token_level_rewards: &Bound<'py, PyAny>,
    response_mask: &Bound<'py, PyAny>,
    group_ids: &Bound<'py, PyAny>,
    params: Option<&Bound<'py, PyAny>>,
    fields: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let params = params_map(params)?;
    let (spans, rows) = read_mask(response_mask)?;
    let (rewards, shape) = arrays::floats("token_level_rewards", token_level_rewards)?;
    if shape != [rows, spans.cols] {
        return Err(errors::array(format!(
            "token_level_rewards: expected shape {:?} (that of response_mask), got {shape:?}",
            [rows, spans.cols]
        )));
    }
    if let Some(j) = rewards.iter().position(|x| !x.is_finite()) {
        return Err(errors::array(format!(
            "token_level_rewards: {} at row {}, token {} is not a finite number",
            rewards[j],
            j / spans.cols.max(1),
            j % spans.cols.max(1)
        )));
    }
    let ids = read_group_ids(group_ids, rows)?;
    let mut fields = read_fields(fields, &spans.traj_offsets)?;
    let (turn_rewards, outcome) = py.detach(|| spans.rewards(&rewards));
    for (name, values) in [
        ("reward", Values::Float(turn_rewards)),
        ("outcome", Values::Float(outcome)),
        ("tokens", Values::Int(spans.lengths())),
    ] {
        if !fields.iter().any(|(f, _)| f.name == name) {
            fields.push((field(name).expect("a core field"), values));
        }
    }
    let ab = ArrayBatch {
        grouping: Grouping::of(&ids),
        traj_offsets: spans.traj_offsets.clone(),
        fields,
    };
    let mut outs = run_arrays(py, method, &ab, &params)?;
    let tokens = match outs.swap_remove(0).1 {
        Output::Turn(v) => py.detach(|| spans.scatter(&v)),
        Output::List { values, offsets } => {
            spans.scatter_tokens(&values, &offsets).map_err(|t| {
                errors::CreditError::new_err(format!(
                    "method {method}: returned {} values for turn {t}, which has {} tokens",
                    offsets[t + 1] - offsets[t],
                    spans.end[t] - spans.start[t]
                ))
            })?
        }
        _ => {
            return Err(errors::CreditError::new_err(format!(
                "method {method} does not output advantages per turn or per token"
            )))
        }
    };
    to_2d(py, tokens, rows, spans.cols)
}

/// Adds the functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(turn_spans, m)?)?;
    m.add_function(wrap_pyfunction!(rewards_at_turn_ends, m)?)?;
    m.add_function(wrap_pyfunction!(token_advantages, m)?)?;
    Ok(())
}
