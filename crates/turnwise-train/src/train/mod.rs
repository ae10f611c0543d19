//! Training: environments ([`envs`]), rows and updates ([`rows`], [`update`]), annotators
//! ([`annotate`], gold-answer log-probs in [`gold`], critics in [`critic`]), failed remote
//! episodes ([`failures`]), SFT ([`sft`]), evaluation ([`eval`]), checks before work
//! ([`preflight`]), checkpoints ([`checkpoint`]), the run folder and its lock ([`run_dir`]),
//! `metrics.jsonl` ([`metrics`]), one RL step ([`step`], its state in [`pipeline`]), the run
//! loop ([`run`]) and resuming ([`resume`]).

pub mod annotate;
pub mod checkpoint;
pub mod critic;
pub mod envs;
pub mod eval;
pub mod failures;
pub mod gold;
pub mod metrics;
pub mod pipeline;
pub mod preflight;
pub mod resume;
pub mod rows;
pub mod run;
pub mod run_dir;
pub mod sft;
pub mod step;
pub mod update;
pub mod warm_cache;

/// Applies `run.threads` (torch intra-op threads; 0 leaves libtorch's default). Every entry
/// point that runs the policy calls it: `train` (fresh or resumed), `sft`, `eval`.
pub fn apply_threads(threads: usize) {
    if threads > 0 {
        tch::set_num_threads(threads as i32);
    }
}
