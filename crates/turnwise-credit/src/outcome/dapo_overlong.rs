//! DAPO soft overlong punishment (Yu et al., DAPO, arXiv 2503.14476; verl
//! `DAPORewardManager`), `credit-outcome.md` §12.6: with `L_exp = max_resp_len − buffer_len`,
//! `R_len = min(−(|y| − L_exp)/buffer_len · factor, 0)`. A scalar reward shaper.

use turnwise_core::Batch;

use crate::error::CreditError;
use crate::estimator::{Estimator, MethodInfo, OutputKind, Status};
use crate::output::{CreditOutput, Main};
use crate::params::{Default as D, ParamKind, ParamSpec, Params};

/// The soft overlong reward of a response of `resp_len` tokens (§12.6).
pub fn dapo_overlong_reward(
    resp_len: i64,
    max_resp_len: i64,
    buffer_len: i64,
    penalty_factor: f64,
) -> f64 {
    let exceed = (resp_len - (max_resp_len - buffer_len)) as f64;
    (-exceed / buffer_len as f64 * penalty_factor).min(0.0)
}

static PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "resp_len",
        kind: ParamKind::OptInt,
        default: D::None,
        doc: "|y|, the response length in tokens (required)",
    },
    ParamSpec {
        name: "max_resp_len",
        kind: ParamKind::Int,
        default: D::Int(20480),
        doc: "L_max, the maximal response length",
    },
    ParamSpec {
        name: "buffer_len",
        kind: ParamKind::Int,
        default: D::Int(4096),
        doc: "L_cache, the soft-punishment buffer before L_max",
    },
    ParamSpec {
        name: "penalty_factor",
        kind: ParamKind::Float,
        default: D::Float(1.0),
        doc: "scale of the penalty",
    },
];

/// `dapo_overlong`: registry adapter of [`dapo_overlong_reward`]; main output `{"reward"}`.
pub struct DapoOverlong;

impl Estimator for DapoOverlong {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "dapo_overlong",
            paper: "DAPO, soft overlong punishment (arXiv 2503.14476)",
            idea: "Linear length penalty from 0 to −factor over the last buffer_len tokens before the maximal response length.",
            fields: &[],
            params: PARAMS,
            status: Status::Exact("verl DAPORewardManager (overlong_buffer)"),
            output: "reward",
            kind: OutputKind::LengthReward,
        };
        &INFO
    }

    fn compute(&self, _: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        let bad = |param: &str, message: &str| CreditError::BadParam {
            method: "dapo_overlong".into(),
            param: param.into(),
            message: message.into(),
        };
        let resp_len = p
            .opt_i64("resp_len")
            .ok_or_else(|| bad("resp_len", "required (the response length in tokens)"))?;
        let buffer_len = p.i64("buffer_len");
        if buffer_len < 1 {
            return Err(bad("buffer_len", "must be ≥ 1"));
        }
        let r = dapo_overlong_reward(
            resp_len,
            p.i64("max_resp_len"),
            buffer_len,
            p.f64("penalty_factor"),
        );
        Ok(CreditOutput {
            main: Main::Scalars(vec![("reward", r)]),
            extras: Vec::new(),
        })
    }
}
