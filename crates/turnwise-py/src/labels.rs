//! Group labels that are not integers — verl's and SkyRL's `uid` strings, or any hashable
//! Python values — numbered in order of first appearance, as a Python dict would number
//! them.
//!
//! verl's trainer gives every prompt a `uuid4` string and repeats it for the prompt's
//! rollouts (`np.repeat` of an object array), so a group's rows hold the same string
//! object one after another. The numbering reads an object array's pointers directly (no
//! Python iterator), reuses the previous row's id when the row holds the same object, and
//! keys strings by their UTF-8 text (borrowed, not copied) in a Rust map; other values (bytes, tuples, numbers)
//! go through a Python dict, so `1`, `1.0` and `True` stay one label as in Python.

use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use rustc_hash::FxHashMap;

/// Numbers the labels of `obj` (a NumPy object array, a list, or any iterable) in order of
/// first appearance: equal labels get equal ids, the first label 0, the next new one 1, ….
pub fn number_labels(obj: &Bound<'_, PyAny>) -> PyResult<Vec<i64>> {
    let py = obj.py();
    if let Ok(a) = obj.cast::<PyArray1<Py<PyAny>>>() {
        let r = a.readonly();
        if let Ok(s) = r.as_slice() {
            return Numbering::new(py, s.len()).run(s.iter().map(|p| p.bind(py)));
        }
    }
    let items: Vec<Bound<'_, PyAny>> = obj.try_iter()?.collect::<PyResult<_>>()?;
    Numbering::new(py, items.len()).run(items.iter())
}

/// The state of one numbering: ids of the strings seen (keyed by text borrowed from the
/// label objects, which the caller's array or list keeps alive), of the other labels seen.
struct Numbering<'a, 'py: 'a> {
    ids: Vec<i64>,
    strings: FxHashMap<&'a str, i64>,
    others: Bound<'py, PyDict>,
    next: i64,
}

impl<'a, 'py: 'a> Numbering<'a, 'py> {
    fn new(py: Python<'py>, n: usize) -> Self {
        Numbering {
            ids: Vec::with_capacity(n),
            // room for groups of 4 or more without rehashing
            strings: FxHashMap::with_capacity_and_hasher(n / 4, Default::default()),
            others: PyDict::new(py),
            next: 0,
        }
    }

    fn run(mut self, items: impl Iterator<Item = &'a Bound<'py, PyAny>>) -> PyResult<Vec<i64>> {
        let mut prev: Option<(*mut pyo3::ffi::PyObject, i64)> = None;
        for item in items {
            let id = match prev {
                Some((p, id)) if p == item.as_ptr() => id,
                _ => self.id_of(item)?,
            };
            prev = Some((item.as_ptr(), id));
            self.ids.push(id);
        }
        Ok(self.ids)
    }

    fn fresh(&mut self) -> i64 {
        self.next += 1;
        self.next - 1
    }

    fn id_of(&mut self, item: &'a Bound<'py, PyAny>) -> PyResult<i64> {
        // A str (or subclass, e.g. numpy.str_) with valid UTF-8: its text is the key. A
        // str with lone surrogates has no UTF-8 form; the Python dict takes it.
        if let Some(text) = item.cast::<PyString>().ok().and_then(|s| s.to_str().ok()) {
            if let Some(&id) = self.strings.get(text) {
                return Ok(id);
            }
            let id = self.fresh();
            self.strings.insert(text, id);
            return Ok(id);
        }
        if let Some(id) = self.others.get_item(item)? {
            return id.extract();
        }
        let id = self.fresh();
        self.others.set_item(item, id)?;
        Ok(id)
    }
}
