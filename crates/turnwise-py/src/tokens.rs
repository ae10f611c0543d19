//! Credit on token rows, as verl, SkyRL and TRL hold a batch: `(rows, tokens)` rewards
//! and a response mask whose runs of 1 are the turns ([`crate::spans`]). Per-turn rewards
//! and outcomes are read off the token rewards, the method runs per turn, and its
//! per-turn (or per-token) advantages go back onto the turns' tokens.
//!
//! The frameworks' arrays are read where they lie (any mask dtype, float32 or float64
//! rewards; a copy only for non-contiguous arrays), with the GIL released, and the output
//! is written once, in the rewards' dtype, so a torch tensor wraps it without a copy.

use numpy::{PyArray1, PyArray2, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use turnwise_credit::registry;

use crate::arrays;
use crate::credit::{params_map, read_fields, read_group_ids, run_arrays};
use crate::errors;
use crate::layout::{field, ArrayBatch, Grouping, Output, Values};
use crate::spans::{Flag, Real, RowSums, Spans};

/// Runs `$body` with `$s: &[T]` bound to the elements of `$obj` (row-major; borrowed when
/// C-contiguous) for the first element type `T` among `$t` that `$obj` has.
macro_rules! with_elems {
    ($obj:expr, |$s:ident| $body:expr, [$($t:ty),+]) => {{
        let mut done = None;
        $(
            if done.is_none() {
                if let Ok(a) = $obj.cast::<PyArrayDyn<$t>>() {
                    let r = a.readonly();
                    let owned: Vec<$t>;
                    let $s: &[$t] = match r.as_slice() {
                        Ok(s) => s,
                        Err(_) => {
                            owned = r.as_array().iter().copied().collect();
                            &owned
                        }
                    };
                    done = Some($body);
                }
            }
        )+
        done
    }};
}

/// Calls `$body` with `$m` the mask's elements, of whichever dtype it has.
macro_rules! with_mask {
    ($obj:expr, |$m:ident| $body:expr) => {
        with_elems!(
            $obj,
            |$m| $body,
            [bool, i64, i32, i16, i8, u8, u16, u32, u64, f32, f64]
        )
        .ok_or_else(|| arrays::bad_dtype("response_mask", $obj, "bool, an integer or a float type"))
    };
}

/// The shape `(rows, cols)` of a 2-D array argument.
fn shape_2d(what: &str, obj: &Bound<'_, PyAny>) -> PyResult<(usize, usize)> {
    arrays::expect_2d(what, arrays::untyped(what, obj)?.shape())
}

/// The turns of `response_mask`, found with the GIL released.
fn read_spans(py: Python<'_>, response_mask: &Bound<'_, PyAny>) -> PyResult<Spans> {
    let (rows, cols) = shape_2d("response_mask", response_mask)?;
    with_mask!(response_mask, |m| py.detach(|| Spans::of(m, rows, cols)))
}

/// Element type of token rewards and of the advantages written for them.
#[derive(Clone, Copy)]
enum Dtype {
    F32,
    F64,
}

/// One pass over `response_mask` and `token_level_rewards` (GIL released): the turns and
/// the reward sums ([`Spans::scan`]), and the rewards' dtype.
fn scan<'py>(
    py: Python<'py>,
    rewards: &Bound<'py, PyAny>,
    response_mask: &Bound<'py, PyAny>,
    turn_rewards: bool,
) -> PyResult<(Spans, RowSums, Dtype)> {
    let (rows, cols) = shape_2d("response_mask", response_mask)?;
    let shape = arrays::untyped("token_level_rewards", rewards)?
        .shape()
        .to_vec();
    if shape != [rows, cols] {
        return Err(errors::array(format!(
            "token_level_rewards: expected shape {:?} (that of response_mask), got {shape:?}",
            [rows, cols]
        )));
    }
    fn go<M: Flag, R: Real>(
        py: Python<'_>,
        m: &[M],
        x: &[R],
        (rows, cols): (usize, usize),
        turn_rewards: bool,
    ) -> PyResult<(Spans, RowSums)> {
        py.detach(|| Spans::scan(m, x, rows, cols, turn_rewards))
            .map_err(|i| {
                let (r, c) = (i / cols.max(1), i % cols.max(1));
                let v = x[i].to_f64();
                errors::array(if v.is_finite() {
                    format!("token_level_rewards: the sum of row {r} overflows")
                } else {
                    format!("token_level_rewards: {v} at row {r}, token {c} is not a finite number")
                })
            })
    }
    let dims = (rows, cols);
    let f32s = with_elems!(
        rewards,
        |x| with_mask!(response_mask, |m| go(py, m, x, dims, turn_rewards)),
        [f32]
    );
    if let Some(out) = f32s {
        return Ok(add_dtype(out??, Dtype::F32));
    }
    let f64s = with_elems!(
        rewards,
        |x| with_mask!(response_mask, |m| go(py, m, x, dims, turn_rewards)),
        [f64]
    );
    match f64s {
        Some(out) => Ok(add_dtype(out??, Dtype::F64)),
        None => Err(arrays::bad_dtype(
            "token_level_rewards",
            rewards,
            "float64 or float32",
        )),
    }
}

fn add_dtype((s, sums): (Spans, RowSums), d: Dtype) -> (Spans, RowSums, Dtype) {
    (s, sums, d)
}

/// The method's main output on the token rows, in element type `T`; `Err(turn)`: a
/// per-token output whose list for `turn` does not match the turn's length.
fn write_rows<T: Real>(spans: &Spans, main: &Output) -> Result<Vec<T>, usize> {
    match main {
        Output::Turn(v) => Ok(spans.write_turns(v)),
        Output::List { values, offsets } => spans.write_tokens(values, offsets),
        _ => unreachable!("checked by the caller"),
    }
}

/// `v` as a `(rows, cols)` NumPy array that owns it (no copy).
fn to_2d<'py, T: numpy::Element>(
    py: Python<'py>,
    v: Vec<T>,
    shape: [usize; 2],
) -> PyResult<Bound<'py, PyAny>> {
    Ok(PyArray1::from_vec(py, v)
        .reshape(shape)?
        .cast_into::<PyArray2<T>>()?
        .into_any())
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
    let s = read_spans(py, response_mask)?;
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
) -> PyResult<Bound<'py, PyAny>> {
    let s = read_spans(py, response_mask)?;
    let (r, shape) = arrays::floats("turn_rewards", turn_rewards)?;
    arrays::expect_len("turn_rewards", &shape, s.turns(), "turn of response_mask")?;
    if let Some(j) = r.iter().position(|x| !x.is_finite()) {
        return Err(errors::array(format!(
            "turn_rewards: {} at turn {j} is not a finite number",
            r[j]
        )));
    }
    let out = py.detach(|| s.write_ends::<f64>(&r));
    to_2d(py, out, [s.rows(), s.cols])
}

/// `turnwise.token_advantages(method, token_level_rewards, response_mask, group_ids,
/// params=None, **fields)`: `(rows, tokens)` advantages of `method`, of the rewards' dtype
/// (float32 or float64; the method computes in float64). Each row is a trajectory of
/// group `group_ids[row]`; its turns are the runs of nonzero `response_mask` (any numeric
/// or bool dtype); `reward` per turn is the sum of the token rewards from the turn's first
/// token up to the next turn, `outcome` the row's sum, `tokens` the turn's length (each
/// overridable by a field of the same name; computed only when the method reads it).
/// Other fields (per turn in row order, or per row) as in `advantages_from_arrays`.
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
) -> PyResult<Bound<'py, PyAny>> {
    let params = params_map(params)?;
    let reads = registry::get(method).map_err(errors::credit)?.info().fields;
    let given = |name: &str| fields.is_some_and(|f| f.contains(name).unwrap_or(false));
    let derive = |name: &str| reads.contains(&name) && !given(name);
    let (spans, sums, dtype) = scan(py, token_level_rewards, response_mask, derive("reward"))?;
    let ids = read_group_ids(group_ids, spans.rows())?;
    let mut fields = read_fields(fields, &spans.traj_offsets)?;
    if derive("reward") {
        fields.push((
            field("reward").expect("a core field"),
            Values::Float(sums.turn),
        ));
    }
    if !given("outcome") {
        fields.push((
            field("outcome").expect("a core field"),
            Values::Float(sums.outcome),
        ));
    }
    if derive("tokens") {
        fields.push((
            field("tokens").expect("a core field"),
            Values::Int(spans.lengths()),
        ));
    }
    let traj_offsets = spans.traj_offsets.clone();
    let ab = ArrayBatch {
        grouping: Grouping::of(&ids),
        traj_offsets,
        fields,
    };
    let mut outs = run_arrays(py, method, &ab, &params)?;
    drop(ab);
    let main = outs.swap_remove(0).1;
    if !matches!(main, Output::Turn(_) | Output::List { .. }) {
        return Err(errors::CreditError::new_err(format!(
            "method {method} does not output advantages per turn or per token"
        )));
    }
    let shape = [spans.rows(), spans.cols];
    let written = match dtype {
        Dtype::F32 => py
            .detach(|| write_rows::<f32>(&spans, &main))
            .map(|v| to_2d(py, v, shape)),
        Dtype::F64 => py
            .detach(|| write_rows::<f64>(&spans, &main))
            .map(|v| to_2d(py, v, shape)),
    };
    written.map_err(|t| {
        let n = match &main {
            Output::List { offsets, .. } => offsets[t + 1] - offsets[t],
            _ => 0,
        };
        errors::CreditError::new_err(format!(
            "method {method}: returned {n} values for turn {t}, which has {} tokens",
            spans.end[t] - spans.start[t]
        ))
    })?
}

/// Adds the functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(turn_spans, m)?)?;
    m.add_function(wrap_pyfunction!(rewards_at_turn_ends, m)?)?;
    m.add_function(wrap_pyfunction!(token_advantages, m)?)?;
    Ok(())
}
