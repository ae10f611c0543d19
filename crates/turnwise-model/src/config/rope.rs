//! Rotary position settings of a `config.json`, read from either layout `transformers` writes:
//!
//! * 4.x: a top-level `rope_theta` (default 10 000) and `rope_scaling` (`null` or
//!   `{"rope_type" | "type": …, "factor": …, …}`);
//! * 5.x: `rope_parameters` = `{"rope_type": …, "rope_theta": …, "factor": …, …}` (optionally
//!   nested under the layer type `full_attention`).
//!
//! Where both are present they must describe the same rotation. Every key of the scaling
//! dictionary must be one the scaling type reads (as `transformers`' `_check_received_keys`),
//! and an unknown `rope_type` is an error naming it: nothing that changes the maths falls back
//! silently. [`RopeSpec::to_layouts`] writes both layouts back so a saved folder loads the same
//! in `transformers` 4.57 and 5.x.

use serde_json::{Map, Value};

/// One of the scaling rules released models use (`transformers.modeling_rope_utils`).
#[derive(Debug, Clone, PartialEq)]
pub enum RopeScaling {
    /// Plain RoPE (Su et al. 2021): θ^(−2i/d).
    Default,
    /// Position interpolation (Chen et al. 2023): every frequency divided by `factor`.
    Linear {
        /// The interpolation factor.
        factor: f64,
    },
    /// Dynamic NTK scaling: for sequences longer than `max_position_embeddings` the base
    /// becomes θ·((f·L/L₀) − (f − 1))^(d/(d−2)), L = the longest position of the call + 1.
    Dynamic {
        /// The NTK factor f.
        factor: f64,
    },
    /// YaRN (Peng et al. 2023, Eq. 17–20): per-frequency blend of interpolation and
    /// extrapolation with a linear ramp between the correction dimensions of `beta_fast` and
    /// `beta_slow`, and cos/sin scaled by the attention factor.
    Yarn {
        /// Scale s of the context extension.
        factor: f64,
        /// Pre-training context L₀ (`original_max_position_embeddings`).
        original_max: f64,
        /// α of the ramp (rotations; default 32).
        beta_fast: f64,
        /// β of the ramp (rotations; default 1).
        beta_slow: f64,
        /// The cos/sin multiplier (default 0.1·ln s + 1, or the mscale ratio).
        attention_factor: f64,
        /// Round the correction range outward (default true).
        truncate: bool,
    },
    /// Llama 3.1 frequency-dependent interpolation: wavelengths above L₀/`low_freq_factor`
    /// are divided by `factor`, below L₀/`high_freq_factor` kept, and smoothly blended between.
    Llama3 {
        /// Division factor of the low frequencies.
        factor: f64,
        /// Low-frequency wavelength boundary divisor.
        low_freq_factor: f64,
        /// High-frequency wavelength boundary divisor.
        high_freq_factor: f64,
        /// Pre-training context L₀.
        original_max: f64,
    },
}

/// The resolved rotary embedding of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct RopeSpec {
    /// Base θ.
    pub theta: f64,
    /// The scaling rule.
    pub scaling: RopeScaling,
    /// `max_position_embeddings` (the dynamic rule's L₀).
    pub max_position_embeddings: f64,
}

/// A field error: (field, message).
pub type FieldError = (String, String);

fn num(d: &Map<String, Value>, key: &str, at: &str) -> Result<Option<f64>, FieldError> {
    match d.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| (format!("{at}.{key}"), format!("{v} is not a number"))),
    }
}

fn need(d: &Map<String, Value>, key: &str, at: &str, ty: &str) -> Result<f64, FieldError> {
    num(d, key, at)?.ok_or_else(|| {
        (
            format!("{at}.{key}"),
            format!("required by rope_type \"{ty}\""),
        )
    })
}

/// The keys each type reads besides `rope_type`/`type` and `rope_theta`.
fn allowed(ty: &str) -> Option<&'static [&'static str]> {
    Some(match ty {
        "default" => &[],
        "linear" | "dynamic" => &["factor"],
        "yarn" => &[
            "factor",
            "original_max_position_embeddings",
            "attention_factor",
            "beta_fast",
            "beta_slow",
            "mscale",
            "mscale_all_dim",
            "truncate",
        ],
        "llama3" => &[
            "factor",
            "low_freq_factor",
            "high_freq_factor",
            "original_max_position_embeddings",
        ],
        _ => return None,
    })
}

/// `get_mscale` of `transformers`' YaRN: 0.1·m·ln s + 1 for s > 1, else 1.
fn mscale(scale: f64, m: f64) -> f64 {
    if scale <= 1.0 {
        1.0
    } else {
        0.1 * m * scale.ln() + 1.0
    }
}

/// Parses one scaling dictionary (`at` names it in errors: `rope_scaling` or `rope_parameters`).
fn parse_dict(
    d: &Map<String, Value>,
    at: &str,
    max_pos: f64,
) -> Result<(Option<f64>, RopeScaling), FieldError> {
    let ty_val = d.get("rope_type").or_else(|| d.get("type"));
    let ty = match ty_val {
        None | Some(Value::Null) => "default",
        Some(Value::String(s)) => s.as_str(),
        Some(v) => return Err((format!("{at}.rope_type"), format!("{v} is not a string"))),
    };
    let keys = allowed(ty).ok_or_else(|| {
        (
            format!("{at}.rope_type"),
            format!("\"{ty}\" is not supported (default, linear, dynamic, yarn, llama3)"),
        )
    })?;
    for (k, v) in d {
        match k.as_str() {
            "rope_type" | "type" | "rope_theta" => {}
            "partial_rotary_factor" if v.as_f64() == Some(1.0) => {}
            k if keys.contains(&k) => {}
            _ => {
                return Err((
                    format!("{at}.{k}"),
                    format!("not supported with rope_type \"{ty}\" (it would change the model)"),
                ))
            }
        }
    }
    let theta = num(d, "rope_theta", at)?;
    let scaling = match ty {
        "default" => RopeScaling::Default,
        "linear" => RopeScaling::Linear {
            factor: need(d, "factor", at, ty)?,
        },
        "dynamic" => RopeScaling::Dynamic {
            factor: need(d, "factor", at, ty)?,
        },
        "llama3" => RopeScaling::Llama3 {
            factor: need(d, "factor", at, ty)?,
            low_freq_factor: need(d, "low_freq_factor", at, ty)?,
            high_freq_factor: need(d, "high_freq_factor", at, ty)?,
            original_max: need(d, "original_max_position_embeddings", at, ty)?,
        },
        _ => {
            let original_max = num(d, "original_max_position_embeddings", at)?.unwrap_or(max_pos);
            let factor = num(d, "factor", at)?.unwrap_or(max_pos / original_max);
            let attention_factor = match num(d, "attention_factor", at)? {
                Some(a) => a,
                None => match (num(d, "mscale", at)?, num(d, "mscale_all_dim", at)?) {
                    (Some(m), Some(ma)) if m != 0.0 && ma != 0.0 => {
                        mscale(factor, m) / mscale(factor, ma)
                    }
                    _ => mscale(factor, 1.0),
                },
            };
            let truncate = match d.get("truncate") {
                None | Some(Value::Null) => true,
                Some(Value::Bool(b)) => *b,
                Some(v) => return Err((format!("{at}.truncate"), format!("{v} is not a boolean"))),
            };
            // `beta_fast or 32` in transformers: 0 and null both mean the default.
            let or = |v: Option<f64>, dflt: f64| v.filter(|x| *x != 0.0).unwrap_or(dflt);
            RopeScaling::Yarn {
                factor,
                original_max,
                beta_fast: or(num(d, "beta_fast", at)?, 32.0),
                beta_slow: or(num(d, "beta_slow", at)?, 1.0),
                attention_factor,
                truncate,
            }
        }
    };
    if let RopeScaling::Linear { factor }
    | RopeScaling::Dynamic { factor }
    | RopeScaling::Yarn { factor, .. }
    | RopeScaling::Llama3 { factor, .. } = &scaling
    {
        if factor.is_nan() || *factor <= 0.0 {
            return Err((format!("{at}.factor"), format!("{factor} must be positive")));
        }
    }
    Ok((theta, scaling))
}

fn as_dict<'a>(v: &'a Value, at: &str) -> Result<Option<&'a Map<String, Value>>, FieldError> {
    match v {
        Value::Null => Ok(None),
        Value::Object(m) => Ok(Some(m)),
        other => Err((at.to_string(), format!("{other} is not an object or null"))),
    }
}

impl RopeSpec {
    /// Resolves the rotary settings from the top-level `rope_theta`, `rope_scaling` and
    /// `rope_parameters` of a config (either layout, or both when they agree).
    pub fn resolve(
        rope_theta: Option<f64>,
        rope_scaling: Option<&Value>,
        rope_parameters: Option<&Value>,
        max_position_embeddings: usize,
    ) -> Result<Self, FieldError> {
        let max_pos = max_position_embeddings as f64;
        let legacy = match rope_scaling
            .map(|v| as_dict(v, "rope_scaling"))
            .transpose()?
        {
            Some(Some(d)) => Some(parse_dict(d, "rope_scaling", max_pos)?),
            _ => None,
        };
        let mut params = rope_parameters
            .map(|v| as_dict(v, "rope_parameters"))
            .transpose()?
            .flatten();
        let mut at = "rope_parameters".to_string();
        // Nested by layer type (`{"full_attention": {...}}`): only full attention exists here.
        if let Some(p) = params {
            if let Some(inner) = p.get("full_attention") {
                if let Some(k) = p.keys().find(|k| *k != "full_attention") {
                    return Err((
                        format!("rope_parameters.{k}"),
                        "per-layer-type rotary settings other than full_attention are not supported"
                            .into(),
                    ));
                }
                at = "rope_parameters.full_attention".into();
                params = as_dict(inner, &at)?;
            }
        }
        let modern = params.map(|d| parse_dict(d, &at, max_pos)).transpose()?;
        let top = rope_theta.unwrap_or(10_000.0);
        let spec = |theta: Option<f64>, scaling: RopeScaling| RopeSpec {
            theta: theta.unwrap_or(top),
            scaling,
            max_position_embeddings: max_pos,
        };
        let a = legacy.map(|(t, s)| spec(t, s));
        let b = modern.map(|(t, s)| spec(t, s));
        let out = match (a, b) {
            (Some(a), Some(b)) if a != b => {
                return Err((
                    "rope_parameters".into(),
                    format!("disagrees with rope_theta/rope_scaling ({b:?} vs {a:?})"),
                ))
            }
            (Some(a), _) => a,
            (None, Some(b)) => {
                if rope_theta.is_some_and(|t| t != b.theta) {
                    return Err((
                        "rope_theta".into(),
                        format!(
                            "{top} disagrees with rope_parameters.rope_theta {}",
                            b.theta
                        ),
                    ));
                }
                b
            }
            (None, None) => spec(None, RopeScaling::Default),
        };
        if out.theta.is_nan() || out.theta <= 0.0 {
            return Err((
                "rope_theta".into(),
                format!("{} must be positive", out.theta),
            ));
        }
        Ok(out)
    }

    /// The scaling parameters as `transformers` names them (`rope_type` first, no θ).
    fn params(&self) -> Map<String, Value> {
        let mut m = Map::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_string(), v);
        };
        match &self.scaling {
            RopeScaling::Default => put("rope_type", "default".into()),
            RopeScaling::Linear { factor } => {
                put("rope_type", "linear".into());
                put("factor", (*factor).into());
            }
            RopeScaling::Dynamic { factor } => {
                put("rope_type", "dynamic".into());
                put("factor", (*factor).into());
            }
            RopeScaling::Yarn {
                factor,
                original_max,
                beta_fast,
                beta_slow,
                attention_factor,
                truncate,
            } => {
                put("rope_type", "yarn".into());
                put("factor", (*factor).into());
                put(
                    "original_max_position_embeddings",
                    (*original_max as u64).into(),
                );
                put("beta_fast", (*beta_fast).into());
                put("beta_slow", (*beta_slow).into());
                put("attention_factor", (*attention_factor).into());
                put("truncate", (*truncate).into());
            }
            RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max,
            } => {
                put("rope_type", "llama3".into());
                put("factor", (*factor).into());
                put("low_freq_factor", (*low_freq_factor).into());
                put("high_freq_factor", (*high_freq_factor).into());
                put(
                    "original_max_position_embeddings",
                    (*original_max as u64).into(),
                );
            }
        }
        m
    }

    /// `(rope_theta, rope_scaling, rope_parameters)` for `config.json`: the 4.x layout
    /// (`rope_scaling` null for plain RoPE) and the 5.x layout, describing the same rotation.
    pub fn to_layouts(&self) -> (Value, Value, Value) {
        let p = self.params();
        let scaling = match self.scaling {
            RopeScaling::Default => Value::Null,
            _ => Value::Object(p.clone()),
        };
        let mut params = p;
        params.insert("rope_theta".into(), self.theta.into());
        (self.theta.into(), scaling, Value::Object(params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resolve(
        theta: Option<f64>,
        s: Option<Value>,
        p: Option<Value>,
    ) -> Result<RopeSpec, FieldError> {
        RopeSpec::resolve(theta, s.as_ref(), p.as_ref(), 2048)
    }

    #[test]
    fn both_layouts_give_the_same_rotation() {
        let old = resolve(Some(5e5), Some(Value::Null), None).unwrap();
        let new = resolve(
            None,
            None,
            Some(json!({"rope_type": "default", "rope_theta": 5e5})),
        )
        .unwrap();
        assert_eq!(old, new);
        assert_eq!(old.theta, 5e5);
        let l3 = json!({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                        "high_freq_factor": 4.0, "original_max_position_embeddings": 8192});
        let old = resolve(Some(5e5), Some(l3.clone()), None).unwrap();
        let mut p = l3.as_object().unwrap().clone();
        p.insert("rope_theta".into(), json!(5e5));
        let new = resolve(None, None, Some(Value::Object(p))).unwrap();
        assert_eq!(old, new);
        let (t, s, p) = old.to_layouts();
        assert_eq!(resolve(t.as_f64(), Some(s), Some(p)).unwrap(), old);
    }

    #[test]
    fn nested_full_attention_is_read() {
        let p = json!({"full_attention": {"rope_type": "default", "rope_theta": 1e6}});
        assert_eq!(resolve(None, None, Some(p)).unwrap().theta, 1e6);
        let p = json!({"full_attention": {"rope_type": "default"}, "sliding_attention": {}});
        assert!(resolve(None, None, Some(p))
            .unwrap_err()
            .0
            .contains("sliding_attention"));
    }

    #[test]
    fn unknown_type_and_keys_are_named() {
        let e = resolve(None, Some(json!({"rope_type": "longrope"})), None).unwrap_err();
        assert_eq!(e.0, "rope_scaling.rope_type");
        let e = resolve(
            None,
            None,
            Some(json!({"rope_type": "linear", "factor": 2.0, "mscale": 1.0})),
        )
        .unwrap_err();
        assert_eq!(e.0, "rope_parameters.mscale");
        let e = resolve(None, None, Some(json!({"rope_type": "linear"}))).unwrap_err();
        assert_eq!(e.0, "rope_parameters.factor");
        let e = resolve(
            None,
            None,
            Some(json!({"rope_type": "default", "partial_rotary_factor": 0.5})),
        )
        .unwrap_err();
        assert_eq!(e.0, "rope_parameters.partial_rotary_factor");
    }

    #[test]
    fn disagreeing_layouts_are_an_error() {
        let e = resolve(
            Some(1e4),
            None,
            Some(json!({"rope_type": "default", "rope_theta": 1e6})),
        )
        .unwrap_err();
        assert_eq!(e.0, "rope_theta");
        let e = resolve(
            Some(1e4),
            Some(json!({"rope_type": "linear", "factor": 2.0})),
            Some(json!({"rope_type": "linear", "factor": 4.0})),
        )
        .unwrap_err();
        assert_eq!(e.0, "rope_parameters");
    }

    #[test]
    fn yarn_defaults_follow_transformers() {
        let s = resolve(None, Some(json!({"type": "yarn", "factor": 4.0})), None).unwrap();
        match s.scaling {
            RopeScaling::Yarn {
                original_max,
                beta_fast,
                beta_slow,
                attention_factor,
                truncate,
                ..
            } => {
                assert_eq!(
                    (original_max, beta_fast, beta_slow, truncate),
                    (2048.0, 32.0, 1.0, true)
                );
                assert!((attention_factor - (0.1 * 4f64.ln() + 1.0)).abs() < 1e-12);
            }
            other => panic!("{other:?}"),
        }
    }
}
