//! Reading NumPy arrays with checks: the dtype, the number of dimensions, and (by the
//! callers) the length and finiteness. Every failure is a `turnwise.ArrayError` naming the
//! argument; nothing is assumed about strides (non-contiguous arrays are read in logical
//! order).

use numpy::{PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::errors;

/// `obj` as a NumPy array of any dtype, or an `ArrayError` naming `what`.
pub fn untyped<'a, 'py>(
    what: &str,
    obj: &'a Bound<'py, PyAny>,
) -> PyResult<&'a Bound<'py, PyUntypedArray>> {
    obj.cast::<PyUntypedArray>().map_err(|_| {
        let ty = obj
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "?".into());
        errors::array(format!("{what}: expected a NumPy array, got {ty}"))
    })
}

fn dtype_name(obj: &Bound<'_, PyAny>) -> String {
    obj.getattr("dtype")
        .and_then(|d| d.str())
        .map(|s| s.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// The `ArrayError` for an array `what` of the wrong dtype.
pub fn bad_dtype(what: &str, obj: &Bound<'_, PyAny>, expected: &str) -> PyErr {
    errors::array(format!(
        "{what}: expected dtype {expected}, got {}",
        dtype_name(obj)
    ))
}

fn read<T: numpy::Element + Copy, U>(obj: &Bound<'_, PyAny>, f: impl Fn(T) -> U) -> Option<Vec<U>> {
    let a = obj.cast::<PyArrayDyn<T>>().ok()?;
    let r = a.readonly();
    Some(match r.as_slice() {
        Ok(s) => s.iter().map(|&x| f(x)).collect(),
        Err(_) => r.as_array().iter().map(|&x| f(x)).collect(),
    })
}

/// A float64 or float32 array as f64 values (row-major) and its shape.
pub fn floats(what: &str, obj: &Bound<'_, PyAny>) -> PyResult<(Vec<f64>, Vec<usize>)> {
    let shape = untyped(what, obj)?.shape().to_vec();
    let v = read::<f64, f64>(obj, |x| x)
        .or_else(|| read::<f32, f64>(obj, f64::from))
        .ok_or_else(|| bad_dtype(what, obj, "float64 or float32"))?;
    Ok((v, shape))
}

/// A signed or unsigned integer array as i64 values and its shape.
pub fn ints(what: &str, obj: &Bound<'_, PyAny>) -> PyResult<(Vec<i64>, Vec<usize>)> {
    let shape = untyped(what, obj)?.shape().to_vec();
    let v = read::<i64, i64>(obj, |x| x)
        .or_else(|| read::<i32, i64>(obj, i64::from))
        .or_else(|| read::<u32, i64>(obj, i64::from))
        .or_else(|| read::<i16, i64>(obj, i64::from))
        .or_else(|| read::<u16, i64>(obj, i64::from))
        .or_else(|| read::<i8, i64>(obj, i64::from))
        .or_else(|| read::<u8, i64>(obj, i64::from));
    let v = match v {
        Some(v) => v,
        None => {
            let big = read::<u64, u64>(obj, |x| x)
                .ok_or_else(|| bad_dtype(what, obj, "an integer type"))?;
            big.into_iter()
                .map(|x| {
                    i64::try_from(x).map_err(|_| {
                        errors::array(format!("{what}: value {x} does not fit in int64"))
                    })
                })
                .collect::<PyResult<_>>()?
        }
    };
    Ok((v, shape))
}

/// A boolean array and its shape.
pub fn bools(what: &str, obj: &Bound<'_, PyAny>) -> PyResult<(Vec<bool>, Vec<usize>)> {
    let shape = untyped(what, obj)?.shape().to_vec();
    let v = read::<bool, bool>(obj, |x| x).ok_or_else(|| bad_dtype(what, obj, "bool"))?;
    Ok((v, shape))
}

/// Checks that `shape` is `(n,)`.
pub fn expect_len(what: &str, shape: &[usize], n: usize, of: &str) -> PyResult<()> {
    if shape != [n] {
        return Err(errors::array(format!(
            "{what}: expected shape ({n},) (one value per {of}), got {shape:?}"
        )));
    }
    Ok(())
}

/// Checks that `shape` is `(n,)` or `(n, k)`; returns the row width (1 for 1-D).
pub fn expect_rows(what: &str, shape: &[usize], n: usize, of: &str) -> PyResult<usize> {
    match shape {
        [m] if *m == n => Ok(1),
        [m, k] if *m == n => Ok(*k),
        _ => Err(errors::array(format!(
            "{what}: expected shape ({n},) or ({n}, k) (one row per {of}), got {shape:?}"
        ))),
    }
}

/// Checks that `shape` is 2-D; returns `(rows, cols)`.
pub fn expect_2d(what: &str, shape: &[usize]) -> PyResult<(usize, usize)> {
    match shape {
        [r, c] => Ok((*r, *c)),
        _ => Err(errors::array(format!(
            "{what}: expected a 2-D array (rows, tokens), got shape {shape:?}"
        ))),
    }
}
