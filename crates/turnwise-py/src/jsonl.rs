//! Trajectory JSON Lines from Python: `read_jsonl(path)` returns the groups as dicts
//! (checked by the same reader as the CLI), `write_jsonl(path, groups)` writes them
//! atomically, one group a line with the format version.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyList;
use turnwise_core::jsonl::{self, AtomicWriter, Record};

use crate::credit::batch_from_dicts;
use crate::errors;

/// `turnwise.read_jsonl(path)`: the groups of a batch file (or of a file of test cases)
/// as a list of dicts in the JSON Lines layout.
#[pyfunction]
fn read_jsonl(py: Python<'_>, path: PathBuf) -> PyResult<Bound<'_, PyList>> {
    let groups = py
        .detach(|| -> Result<Vec<serde_json::Value>, turnwise_core::Error> {
            let mut out = Vec::new();
            for rec in jsonl::open(&path)? {
                match rec?.1 {
                    Record::Group(g) => out.push(jsonl::group_to_value(&g)),
                    Record::Case(c) => out.extend(c.batch.groups.iter().map(jsonl::group_to_value)),
                }
            }
            Ok(out)
        })
        .map_err(errors::core)?;
    let list = PyList::empty(py);
    for g in &groups {
        list.append(
            pythonize::pythonize(py, g)
                .map_err(|e| errors::TurnwiseError::new_err(e.to_string()))?,
        )?;
    }
    Ok(list)
}

/// `turnwise.write_jsonl(path, groups)`: writes `groups` (dicts, checked first) to
/// `path` atomically; the file appears only when complete.
#[pyfunction]
fn write_jsonl(py: Python<'_>, path: PathBuf, groups: &Bound<'_, PyAny>) -> PyResult<()> {
    let batch = batch_from_dicts(groups)?;
    py.detach(|| -> Result<(), turnwise_core::Error> {
        let mut w = AtomicWriter::create(&path)?;
        for g in &batch.groups {
            w.write_group(g)?;
        }
        w.commit()
    })
    .map_err(errors::core)
}

/// Adds the functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(read_jsonl, m)?)?;
    m.add_function(wrap_pyfunction!(write_jsonl, m)?)?;
    Ok(())
}
