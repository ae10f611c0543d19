//! Credit assignment from Python: the method registry, advantages from trajectory dicts
//! (the JSON Lines layout) and from flat NumPy arrays ([`crate::layout`]). The Rust
//! registry does all the work, with the GIL released.

use std::path::Path;

use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde_json::{Map, Value};
use turnwise_core::jsonl::{parse_record, Record};
use turnwise_core::Batch;
use turnwise_credit::estimator::OutputKind;
use turnwise_credit::params::{closest, Params};
use turnwise_credit::{registry, Status};

use crate::arrays;
use crate::errors;
use crate::layout::{field, ArrayBatch, Grouping, Kind, Level, Output, Values, FIELDS};

/// Whether a method's main output is an advantage (per turn or per token) computed in one
/// pass, i.e. whether it can stand in for a framework's advantage estimator.
pub fn is_advantage(kind: OutputKind) -> bool {
    matches!(kind, OutputKind::Advantages | OutputKind::TokenAdvantages)
}

/// `turnwise.methods()`: every registered method with its paper, idea, fields, parameters
/// (name, type, default, doc), status and output (as `turnwise methods --format json`).
#[pyfunction]
fn methods(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let list = PyList::empty(py);
    for m in registry::all() {
        let i = m.info();
        let (status, detail) = match i.status {
            Status::Exact(s) => ("exact", s),
            Status::Assumption(s) => ("assumption", s),
        };
        let d = PyDict::new(py);
        d.set_item("name", i.name)?;
        d.set_item("paper", i.paper)?;
        d.set_item("idea", i.idea)?;
        d.set_item("output", i.output)?;
        d.set_item("kind", i.kind.name())?;
        d.set_item("advantages", is_advantage(i.kind))?;
        d.set_item("fields", i.fields.to_vec())?;
        let params = PyList::empty(py);
        for p in i.params {
            let pd = PyDict::new(py);
            pd.set_item("name", p.name)?;
            pd.set_item("type", p.kind_name())?;
            pd.set_item("default", p.default_value().to_string())?;
            pd.set_item("doc", p.doc)?;
            params.append(pd)?;
        }
        d.set_item("params", params)?;
        d.set_item("status", status)?;
        d.set_item("status_detail", detail)?;
        list.append(d)?;
    }
    Ok(list)
}

/// Method parameters from a Python mapping (or `None`).
pub fn params_map(params: Option<&Bound<'_, PyAny>>) -> PyResult<Map<String, Value>> {
    let Some(p) = params.filter(|p| !p.is_none()) else {
        return Ok(Map::new());
    };
    match pythonize::depythonize::<Value>(p) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(errors::CreditError::new_err(format!(
            "params: expected a dict of parameter values, got {other}"
        ))),
        Err(e) => Err(errors::CreditError::new_err(format!("params: {e}"))),
    }
}

/// Groups (Python dicts in the JSON Lines layout; `"v"` may be left out) as a [`Batch`],
/// read by the same code as `turnwise advantages --input`. Errors name the group's index
/// and the field path.
pub fn batch_from_dicts(groups: &Bound<'_, PyAny>) -> PyResult<Batch> {
    let mut batch = Batch::default();
    for (i, g) in groups.try_iter()?.enumerate() {
        let g = g?;
        let at = |msg: String| errors::FormatError::new_err(format!("groups[{i}]: {msg}"));
        let mut value: Value = pythonize::depythonize(&g).map_err(|e| at(e.to_string()))?;
        let Value::Object(obj) = &mut value else {
            return Err(at("expected a dict (one group of trajectories)".into()));
        };
        obj.entry("v")
            .or_insert(Value::from(turnwise_core::jsonl::FORMAT_VERSION));
        let text = value.to_string();
        match parse_record(&text, Path::new("groups"), i + 1) {
            Ok(Record::Group(g)) => batch.groups.push(g),
            Ok(Record::Case(_)) => {
                return Err(at("is a test case, not a group (pass its `groups`)".into()))
            }
            Err(e) => return Err(at(format!("{}: {}", e.path, e.message))),
        }
    }
    Ok(batch)
}

/// `turnwise.advantages(method, groups, params=None, extras=False)`: method `method` over
/// `groups` (dicts in the JSON Lines layout). Returns `{trajectory id: [value per turn]}`
/// (what `turnwise advantages` prints), or `(values, extras)` with `extras=True`.
#[pyfunction]
#[pyo3(signature = (method, groups, params=None, extras=false))]
fn advantages<'py>(
    py: Python<'py>,
    method: &str,
    groups: &Bound<'py, PyAny>,
    params: Option<&Bound<'py, PyAny>>,
    extras: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let params = params_map(params)?;
    let batch = batch_from_dicts(groups)?;
    let (main, extra) = py
        .detach(|| {
            registry::run(method, &batch, &params, &[])
                .map(|out| (out.main_json(&batch), out.extras_json(&batch)))
        })
        .map_err(errors::credit)?;
    let main = pythonize::pythonize(py, &main)
        .map_err(|e| errors::TurnwiseError::new_err(e.to_string()))?;
    if !extras {
        return Ok(main);
    }
    let extra = pythonize::pythonize(py, &extra)
        .map_err(|e| errors::TurnwiseError::new_err(e.to_string()))?;
    Ok((main, extra).into_pyobject(py)?.into_any())
}

/// Trajectory offsets: integers, `(trajectories + 1,)`, starting at 0, non-decreasing.
pub fn read_offsets(obj: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    let (v, shape) = arrays::ints("traj_offsets", obj)?;
    if shape.len() != 1 || v.is_empty() {
        return Err(errors::array(format!(
            "traj_offsets: expected a 1-D array of trajectories + 1 offsets, got shape {shape:?}"
        )));
    }
    if v[0] != 0 {
        return Err(errors::array(format!(
            "traj_offsets: must start at 0, starts at {}",
            v[0]
        )));
    }
    if let Some(i) = (1..v.len()).find(|&i| v[i] < v[i - 1]) {
        return Err(errors::array(format!(
            "traj_offsets: must not decrease, but traj_offsets[{i}] = {} < traj_offsets[{}] = {}",
            v[i],
            i - 1,
            v[i - 1]
        )));
    }
    Ok(v.into_iter().map(|x| x as usize).collect())
}

/// One group id per trajectory: an integer array, or any sequence of hashable values
/// (strings, as verl's `uid`), numbered in order of first appearance.
pub fn read_group_ids(obj: &Bound<'_, PyAny>, n: usize) -> PyResult<Vec<i64>> {
    if let Ok((v, shape)) = arrays::ints("group_ids", obj) {
        arrays::expect_len("group_ids", &shape, n, "trajectory")?;
        return Ok(v);
    }
    let ids = crate::labels::number_labels(obj)?;
    if ids.len() != n {
        return Err(errors::array(format!(
            "group_ids: expected {n} ids (one per trajectory), got {}",
            ids.len()
        )));
    }
    Ok(ids)
}

/// The trajectory holding flat turn index `j`.
fn trajectory_of(offsets: &[usize], j: usize) -> usize {
    offsets.partition_point(|&o| o <= j) - 1
}

/// Reads the `**fields` arrays: known names, dtypes, lengths; NaN only where a value may
/// be unknown (rows of log-probs), infinity nowhere.
pub fn read_fields(
    fields: Option<&Bound<'_, PyDict>>,
    offsets: &[usize],
) -> PyResult<Vec<(&'static crate::layout::FieldSpec, Values)>> {
    let mut out = Vec::new();
    let Some(fields) = fields else {
        return Ok(out);
    };
    let (n_traj, n_turns) = (offsets.len() - 1, offsets[offsets.len() - 1]);
    for (k, obj) in fields.iter() {
        let name: String = k.extract()?;
        let spec = field(&name).ok_or_else(|| {
            let hint = closest(&name, FIELDS.iter().map(|f| f.name))
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            errors::array(format!("unknown field `{name}`{hint}"))
        })?;
        let (n, of) = match spec.level() {
            Level::Turn => (n_turns, "turn"),
            Level::Trajectory => (n_traj, "trajectory"),
        };
        let what = format!("field `{name}`");
        let locate = |j: usize| match spec.level() {
            Level::Turn => {
                let i = trajectory_of(offsets, j);
                format!("turn {} of trajectory {i}", j - offsets[i])
            }
            Level::Trajectory => format!("trajectory {j}"),
        };
        let values = match spec.kind {
            Kind::Float => {
                let (v, shape) = arrays::floats(&what, &obj)?;
                arrays::expect_len(&what, &shape, n, of)?;
                if let Some(j) = v.iter().position(|x| !x.is_finite()) {
                    return Err(errors::array(format!(
                        "{what}: {} at {} is not a finite number",
                        v[j],
                        locate(j)
                    )));
                }
                Values::Float(v)
            }
            Kind::FloatRow => {
                let (v, shape) = arrays::floats(&what, &obj)?;
                let width = arrays::expect_rows(&what, &shape, n, of)?;
                if let Some(j) = v.iter().position(|x| x.is_infinite()) {
                    return Err(errors::array(format!(
                        "{what}: {} at {} is infinite (NaN marks an unknown value)",
                        v[j],
                        locate(j / width.max(1))
                    )));
                }
                if width == 1 {
                    Values::Float(v)
                } else {
                    Values::Rows { values: v, width }
                }
            }
            Kind::Id | Kind::Count => {
                let (v, shape) = arrays::ints(&what, &obj)?;
                arrays::expect_len(&what, &shape, n, of)?;
                if spec.kind == Kind::Count {
                    if let Some(j) = v.iter().position(|&x| !(0..=u32::MAX as i64).contains(&x)) {
                        return Err(errors::array(format!(
                            "{what}: {} at {} is not a count (0 ..= 2^32 - 1)",
                            v[j],
                            locate(j)
                        )));
                    }
                }
                Values::Int(v)
            }
            Kind::Bool => {
                let (v, shape) = arrays::bools(&what, &obj)?;
                arrays::expect_len(&what, &shape, n, of)?;
                Values::Bool(v)
            }
        };
        out.push((spec, values));
    }
    Ok(out)
}

/// Runs `method` on an array batch with the GIL released: the method's columnar kernel
/// when it has one, else a [`Batch`] built from the arrays. Outputs in the caller's order.
pub fn run_arrays(
    py: Python<'_>,
    method: &str,
    ab: &ArrayBatch,
    params: &Map<String, Value>,
) -> PyResult<Vec<(String, Output)>> {
    py.detach(|| {
        let m = registry::get(method)?;
        let p = Params::resolve(method, m.info().params, params, &[])?;
        if let Some(out) = m.compute_columns(&ab.columns(), &p) {
            return Ok(ab.outputs(out?, true));
        }
        let batch = ab.to_batch();
        let out = m.compute(&batch, &p)?;
        Ok(ab.outputs(out, false))
    })
    .map_err(errors::credit)
}

/// Output arrays as a dict of NumPy arrays (lists as `(values, offsets)` tuples, named
/// scalars as a dict).
pub fn outputs_dict<'py>(
    py: Python<'py>,
    outs: Vec<(String, Output)>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (name, o) in outs {
        match o {
            Output::Turn(v) | Output::Trajectory(v) => {
                d.set_item(name, PyArray1::from_vec(py, v))?
            }
            Output::List { values, offsets } => {
                let offsets: Vec<i64> = offsets.into_iter().map(|x| x as i64).collect();
                d.set_item(
                    name,
                    (
                        PyArray1::from_vec(py, values),
                        PyArray1::from_vec(py, offsets),
                    ),
                )?
            }
            Output::Rows { values, width } => {
                let rows = values.len().checked_div(width).unwrap_or(0);
                let a = PyArray1::from_vec(py, values).reshape([rows, width])?;
                d.set_item(name, a.cast_into::<PyArray2<f64>>()?)?
            }
            Output::Scalars(s) => {
                let sd = PyDict::new(py);
                for (k, v) in s {
                    sd.set_item(k, v)?;
                }
                d.set_item(name, sd)?
            }
        }
    }
    Ok(d)
}

/// `turnwise.advantages_from_arrays(method, traj_offsets, group_ids, params=None,
/// **fields)`: method `method` over flat arrays. Returns a dict: `values` (the main
/// output, one per turn in the given order) and the method's named extras.
#[pyfunction]
#[pyo3(signature = (method, traj_offsets, group_ids, params=None, **fields))]
fn advantages_from_arrays<'py>(
    py: Python<'py>,
    method: &str,
    traj_offsets: &Bound<'py, PyAny>,
    group_ids: &Bound<'py, PyAny>,
    params: Option<&Bound<'py, PyAny>>,
    fields: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyDict>> {
    let params = params_map(params)?;
    let offsets = read_offsets(traj_offsets)?;
    let ids = read_group_ids(group_ids, offsets.len() - 1)?;
    let fields = read_fields(fields, &offsets)?;
    let ab = ArrayBatch {
        grouping: Grouping::of(&ids),
        traj_offsets: offsets,
        fields,
    };
    let outs = run_arrays(py, method, &ab, &params)?;
    outputs_dict(py, outs)
}

/// `turnwise.array_fields()`: the fields `advantages_from_arrays` accepts, as dicts
/// (`name`, `level`: "turn" or "trajectory", `kind`: "float", "float_rows" (1-D or 2-D,
/// NaN = unknown), "id" (integers; negative = none), "count" or "bool").
#[pyfunction]
fn array_fields(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let list = PyList::empty(py);
    for f in FIELDS {
        let d = PyDict::new(py);
        d.set_item("name", f.name)?;
        d.set_item(
            "level",
            match f.level() {
                Level::Turn => "turn",
                Level::Trajectory => "trajectory",
            },
        )?;
        d.set_item(
            "kind",
            match f.kind {
                Kind::Float => "float",
                Kind::FloatRow => "float_rows",
                Kind::Id => "id",
                Kind::Count => "count",
                Kind::Bool => "bool",
            },
        )?;
        list.append(d)?;
    }
    Ok(list)
}

/// Adds the functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(methods, m)?)?;
    m.add_function(wrap_pyfunction!(array_fields, m)?)?;
    m.add_function(wrap_pyfunction!(advantages, m)?)?;
    m.add_function(wrap_pyfunction!(advantages_from_arrays, m)?)?;
    Ok(())
}
