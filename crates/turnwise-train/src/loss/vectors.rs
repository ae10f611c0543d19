//! The loss-side reference cases of `vectors_outcome.jsonl` (`credit-outcome.md` §0.4):
//! `policy_loss`, `kl_estimate`, `disco_kl_penalty`, `epo_phase_weight`, `epo_history`,
//! `epo_entropy`, each computed with this crate's tensor code in f64. Used by the tests and
//! by `turnwise loss --check`.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tch::{Kind, Tensor};
use turnwise_core::jsonl::Case;
use turnwise_core::Batch;

use super::agg::{AggMode, Normaliser};
use super::epo::{self, BandMode, EntropyHistory, EpoSmoothing};
use super::kl::{kl_estimate, KlKind};
use super::{disco, policy_loss, PolicyLossSpec, RatioKind, Rows};

/// A loss-side case kind and its evaluator.
pub type Evaluator = fn(&Case) -> Result<Value, String>;

/// Every loss-side case kind, by `method` name.
pub const KINDS: &[(&str, Evaluator)] = &[
    ("policy_loss", policy_loss_case),
    ("kl_estimate", kl_case),
    ("disco_kl_penalty", disco_kl_case),
    ("epo_phase_weight", phase_weight_case),
    ("epo_history", history_case),
    ("epo_entropy", epo_entropy_case),
];

/// The evaluator of `method`, if it is a loss-side kind.
pub fn evaluator(method: &str) -> Option<Evaluator> {
    KINDS.iter().find(|(n, _)| *n == method).map(|(_, f)| *f)
}

fn params<T: DeserializeOwned>(p: &Map<String, Value>) -> Result<T, String> {
    serde_path_to_error::deserialize(Value::Object(p.clone()))
        .map_err(|e| format!("params.{}: {}", e.path(), e.inner()))
}

fn t1(v: &[f64]) -> Tensor {
    Tensor::from_slice(v).to_kind(Kind::Double)
}

fn val(t: &Tensor) -> f64 {
    t.double_value(&[])
}

/// One padded row per turn of `batch` (skipping trajectories for which `skip` holds):
/// (tensors by field name, mask, per-row token counts, env steps, advantages).
struct RowData {
    fields: Vec<Tensor>,
    mask: Tensor,
    counts: Vec<usize>,
    env_step: Vec<usize>,
    adv: Tensor,
}

type Getter = fn(&turnwise_core::TurnExt) -> Option<&Vec<f64>>;

fn rows_of(
    batch: &Batch,
    skip_truncated: bool,
    getters: &[(&str, Getter)],
) -> Result<RowData, String> {
    let turns: Vec<_> = batch
        .trajectories()
        .filter(|t| !(skip_truncated && t.truncated))
        .flat_map(|t| t.turns.iter().map(move |u| (t, u)))
        .collect();
    let width = turns
        .iter()
        .map(|(_, u)| u.tokens as usize)
        .max()
        .unwrap_or(0)
        .max(1);
    let r = turns.len() as i64;
    let pad = |v: &[f64]| {
        let mut row = v.to_vec();
        row.resize(width, 0.0);
        row
    };
    let mut fields = Vec::new();
    for (name, get) in getters {
        let mut flat = Vec::new();
        for (t, u) in &turns {
            let v =
                get(u.ext()).ok_or_else(|| format!("trajectory {}: turn lacks `{name}`", t.id))?;
            if v.len() != u.tokens as usize {
                return Err(format!(
                    "trajectory {}: `{name}` has {} values for {} tokens",
                    t.id,
                    v.len(),
                    u.tokens
                ));
            }
            flat.extend(pad(v));
        }
        fields.push(t1(&flat).view([r, width as i64]));
    }
    let mut mask = Vec::new();
    let mut adv = Vec::new();
    for (_, u) in &turns {
        let n = u.tokens as usize;
        mask.extend((0..width).map(|k| if k < n { 1.0 } else { 0.0 }));
        adv.extend(std::iter::repeat_n(u.ext().adv.unwrap_or(0.0), width));
    }
    Ok(RowData {
        fields,
        mask: t1(&mask).view([r, width as i64]),
        counts: turns.iter().map(|(_, u)| u.tokens as usize).collect(),
        env_step: turns
            .iter()
            .map(|(_, u)| u.ext().env_step.unwrap_or(0) as usize)
            .collect(),
        adv: t1(&adv).view([r, width as i64]),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyLossParams {
    #[serde(default = "d02")]
    clip_low: f64,
    #[serde(default = "d02")]
    clip_high: f64,
    #[serde(default)]
    clip_c: Option<f64>,
    #[serde(default)]
    agg: AggMode,
    #[serde(default)]
    max_len: Option<usize>,
    #[serde(default)]
    kl_kind: Option<KlKind>,
    #[serde(default)]
    kl_coef: f64,
    #[serde(default)]
    entropy_coef: f64,
    #[serde(default)]
    exclude_truncated: bool,
}
fn d02() -> f64 {
    0.2
}

fn policy_loss_case(case: &Case) -> Result<Value, String> {
    let p: PolicyLossParams = params(&case.params)?;
    let mut getters: Vec<(&str, Getter)> = vec![
        ("logp_new", |e| e.logp_new.as_ref()),
        ("logp_old", |e| e.logp_old.as_ref()),
    ];
    if p.kl_kind.is_some() {
        getters.push(("logp_ref", |e| e.logp_ref.as_ref()));
    }
    if p.entropy_coef != 0.0 {
        getters.push(("entropy", |e| e.entropy.as_ref()));
    }
    let d = rows_of(&case.batch, p.exclude_truncated, &getters)?;
    let mut f = d.fields.into_iter();
    let logp_new = f.next().expect("getter");
    let logp_old = f.next().expect("getter");
    let logp_ref = p.kl_kind.map(|_| f.next().expect("getter"));
    let entropy = (p.entropy_coef != 0.0).then(|| f.next().expect("getter"));
    let rows = Rows {
        logp_new,
        logp_old,
        adv: d.adv,
        mask: d.mask,
        logp_ref,
        entropy,
        clip: None,
        env_step: d.env_step,
    };
    let spec = PolicyLossSpec {
        clip_low: p.clip_low,
        clip_high: p.clip_high,
        dual_clip: p.clip_c,
        ratio: RatioKind::Token,
        kl: p.kl_kind.map(|k| (k, p.kl_coef)),
        entropy_coef: p.entropy_coef,
        epo: None,
        drift: None,
    };
    let norm = Normaliser::from_counts(p.agg, &d.counts, p.max_len);
    let terms = policy_loss(&rows, &spec, &norm);
    let mut out = Map::new();
    out.insert("pg_loss".into(), json!(val(&terms.pg_loss)));
    if let Some(h) = &terms.entropy {
        out.insert("entropy".into(), json!(val(h)));
    }
    if let Some(k) = &terms.kl {
        out.insert("kl".into(), json!(val(k)));
    }
    out.insert("loss".into(), json!(val(&terms.loss)));
    Ok(Value::Object(out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KlParams {
    logp: Vec<f64>,
    ref_logp: Vec<f64>,
    kind: KlKind,
}

fn kl_case(case: &Case) -> Result<Value, String> {
    let p: KlParams = params(&case.params)?;
    if p.logp.len() != p.ref_logp.len() {
        return Err("params: logp and ref_logp differ in length".into());
    }
    let v: Vec<f64> = Vec::try_from(kl_estimate(&t1(&p.logp), &t1(&p.ref_logp), p.kind))
        .map_err(|e: tch::TchError| e.to_string())?;
    Ok(json!({ "values": v }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DiscoKlParams {
    kl: f64,
    #[serde(default = "d_beta")]
    beta: f64,
    #[serde(default = "d_delta")]
    delta: f64,
}
fn d_beta() -> f64 {
    1e3
}
fn d_delta() -> f64 {
    1e-4
}

fn disco_kl_case(case: &Case) -> Result<Value, String> {
    let p: DiscoKlParams = params(&case.params)?;
    let (value, coef) = disco::kl_penalty(p.kl, p.beta, p.delta);
    // The tensor form must agree with the scalar form, value and gradient.
    let d = t1(&[p.kl]).squeeze().set_requires_grad(true);
    let v = disco::kl_penalty_tensor(&d, p.beta, p.delta);
    v.backward();
    let grad = d.grad().double_value(&[]);
    if (val(&v) - value).abs() > 1e-12 || (grad - coef).abs() > 1e-12 {
        return Err(format!(
            "tensor penalty {} (grad {grad}) disagrees with {value} ({coef})",
            val(&v)
        ));
    }
    Ok(json!({ "value": value, "grad_coef": coef }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhaseParams {
    epoch: i64,
    #[serde(default = "d_epochs")]
    max_epochs: i64,
}
fn d_epochs() -> i64 {
    150
}

fn phase_weight_case(case: &Case) -> Result<Value, String> {
    let p: PhaseParams = params(&case.params)?;
    Ok(json!({ "weight": epo::phase_weight(p.epoch, p.max_epochs) }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryParams {
    step_entropy_lists: Vec<Vec<f64>>,
    max_steps: usize,
}

fn history_case(case: &Case) -> Result<Value, String> {
    let p: HistoryParams = params(&case.params)?;
    let mut h = EntropyHistory::new(p.max_steps);
    for l in &p.step_entropy_lists {
        h.push(l);
    }
    Ok(json!({ "history": h.mean() }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EpoParams {
    history: Vec<f64>,
    #[serde(default = "d_entropy_coef")]
    entropy_coef: f64,
    #[serde(default = "d_one")]
    smooth_coef: f64,
    #[serde(default = "d_half")]
    min_ratio: f64,
    #[serde(default = "d_1_5")]
    max_ratio: f64,
    #[serde(default = "d_p_out")]
    out_range_penalty: f64,
    #[serde(default)]
    mode: BandMode,
    #[serde(default = "d_50")]
    max_steps: usize,
    #[serde(default)]
    epoch: i64,
    #[serde(default = "d_epochs")]
    max_epochs: i64,
    #[serde(default)]
    use_phase_weight: bool,
    #[serde(default)]
    agg: AggMode,
}
fn d_entropy_coef() -> f64 {
    0.001
}
fn d_one() -> f64 {
    1.0
}
fn d_half() -> f64 {
    0.5
}
fn d_1_5() -> f64 {
    1.5
}
fn d_p_out() -> f64 {
    0.1
}
fn d_50() -> usize {
    50
}

fn epo_entropy_case(case: &Case) -> Result<Value, String> {
    let p: EpoParams = params(&case.params)?;
    let d = rows_of(&case.batch, false, &[("entropy", |e| e.entropy.as_ref())])?;
    let w = if p.use_phase_weight {
        epo::phase_weight(p.epoch, p.max_epochs)
    } else {
        1.0
    };
    let cfg = EpoSmoothing {
        smooth_coef: p.smooth_coef,
        min_ratio: p.min_ratio,
        max_ratio: p.max_ratio,
        out_range_penalty: p.out_range_penalty,
        mode: p.mode,
        max_steps: p.max_steps,
        phase_weight: Some(w),
    };
    let norm = Normaliser::from_counts(p.agg, &d.counts, None);
    let (term, h, pen, applied) =
        epo::entropy_term(&d.fields[0], &d.mask, &d.env_step, &p.history, &cfg, &norm);
    Ok(json!({
        "entropy": val(&h),
        "penalty": val(&pen),
        "entropy_term": val(&term),
        "loss_contribution": -p.entropy_coef * val(&term),
        "applied": applied,
        "phase_weight": w,
    }))
}
