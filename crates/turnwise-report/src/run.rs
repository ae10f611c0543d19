//! Reading a run folder written by `turnwise train`: `config.toml` and `metrics.jsonl`
//! (warm-start, periodic and final evaluation lines, one line per RL step).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::Value;

use crate::curve::Point;

/// The headline metric of an environment's evaluations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// LMRL-Gym's normalised score (0 = minimum return, 50 = dataset average, 100 = max).
    NormalisedScore,
    /// Success rate in percent (environments without an LMRL normalisation).
    SuccessPercent,
}

impl Metric {
    /// How the metric is named in tables and axes.
    pub fn label(self) -> &'static str {
        match self {
            Metric::NormalisedScore => "LMRL normalised score",
            Metric::SuccessPercent => "success %",
        }
    }

    /// The default target of "steps to target": 95 normalised points, or 90% success.
    pub fn default_target(self) -> f64 {
        match self {
            Metric::NormalisedScore => 95.0,
            Metric::SuccessPercent => 90.0,
        }
    }
}

/// One RL step's training-batch figures.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct StepPoint {
    /// RL step (1-based).
    pub step: u64,
    /// Mean return of the training batch.
    pub r#return: f64,
    /// Success rate of the training batch.
    pub success: f64,
    /// Policy entropy (nats per token).
    pub entropy: f64,
    /// Seconds since the job started.
    pub elapsed_s: f64,
}

/// A run folder, read.
#[derive(Debug, Clone)]
pub struct Run {
    /// The folder.
    pub dir: PathBuf,
    /// `config.toml` as written.
    pub config_text: String,
    /// `config.toml`, parsed.
    pub config: toml::Table,
    /// `env.name`.
    pub env: String,
    /// `credit.method`.
    pub method: String,
    /// `run.seed`.
    pub seed: u64,
    /// `run.steps`.
    pub steps_planned: u64,
    /// The metric of the evaluations.
    pub metric: Metric,
    /// Evaluations in order: warm start (step 0), periodic, final.
    pub evals: Vec<Point>,
    /// Success rate of each evaluation (same order as `evals`).
    pub eval_success: Vec<f64>,
    /// Training-batch figures per RL step.
    pub steps: Vec<StepPoint>,
    /// The final evaluation line, when the run finished.
    pub final_line: Option<Value>,
    /// Unparsable lines of `metrics.jsonl` (a torn last line after a kill).
    pub bad_lines: usize,
}

impl Run {
    /// Whether the run wrote its final evaluation.
    pub fn finished(&self) -> bool {
        self.final_line.is_some()
    }

    /// The last evaluation's score (the final one when the run finished).
    pub fn last_score(&self) -> Option<f64> {
        self.evals.last().map(|p| p.score)
    }

    /// What stopped the run (`stopped_by` of the final line).
    pub fn stopped_by(&self) -> Option<&str> {
        self.final_line.as_ref()?.get("stopped_by")?.as_str()
    }
}

/// Whether `dir` looks like a run folder (has `config.toml` and `metrics.jsonl`).
pub fn is_run(dir: &Path) -> bool {
    dir.join("config.toml").is_file() && dir.join("metrics.jsonl").is_file()
}

fn get<'a>(t: &'a toml::Table, path: &[&str]) -> Option<&'a toml::Value> {
    let (last, head) = path.split_last()?;
    let mut t = t;
    for k in head {
        t = t.get(*k)?.as_table()?;
    }
    t.get(*last)
}

/// The score of an evaluation object (`{"normalised_score": …, "success_rate": …}`):
/// the normalised score where the environment has one, else the success rate in percent.
pub fn eval_score(eval: &Value) -> Option<(Metric, f64)> {
    if let Some(s) = eval.get("normalised_score").and_then(Value::as_f64) {
        return Some((Metric::NormalisedScore, s));
    }
    let s = eval.get("success_rate").and_then(Value::as_f64)?;
    Some((Metric::SuccessPercent, 100.0 * s))
}

/// Reads the run in `dir`.
pub fn read(dir: &Path) -> Result<Run> {
    let cfg_path = dir.join("config.toml");
    let config_text = std::fs::read_to_string(&cfg_path)
        .with_context(|| format!("reading {}", cfg_path.display()))?;
    let config: toml::Table = config_text
        .parse()
        .with_context(|| format!("parsing {}", cfg_path.display()))?;
    let str_at = |p: &[&str], d: &str| {
        get(&config, p)
            .and_then(|v| v.as_str())
            .unwrap_or(d)
            .to_owned()
    };
    let int_at = |p: &[&str]| get(&config, p).and_then(|v| v.as_integer()).unwrap_or(0) as u64;
    let metrics_path = dir.join("metrics.jsonl");
    let text = std::fs::read_to_string(&metrics_path)
        .with_context(|| format!("reading {}", metrics_path.display()))?;
    let mut run = Run {
        dir: dir.to_path_buf(),
        env: str_at(&["env", "name"], "?"),
        method: str_at(&["credit", "method"], "?"),
        seed: int_at(&["run", "seed"]),
        steps_planned: int_at(&["run", "steps"]),
        config_text,
        config,
        metric: Metric::SuccessPercent,
        evals: Vec::new(),
        eval_success: Vec::new(),
        steps: Vec::new(),
        final_line: None,
        bad_lines: 0,
    };
    let mut metric = None;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            run.bad_lines += 1;
            continue;
        };
        let num = |k: &str| v.get(k).and_then(Value::as_f64);
        match v.get("phase").and_then(Value::as_str) {
            Some(phase @ ("warm_start" | "eval" | "final")) => {
                let Some((m, score)) = v.get("eval").and_then(eval_score) else {
                    run.bad_lines += 1;
                    continue;
                };
                metric.get_or_insert(m);
                let step = if phase == "warm_start" {
                    0
                } else {
                    v.get("step").and_then(Value::as_u64).unwrap_or(0)
                };
                // A final evaluation at the step of a periodic one replaces it.
                if run.evals.last().is_some_and(|p| p.step == step) && step > 0 {
                    run.evals.pop();
                    run.eval_success.pop();
                }
                run.evals.push(Point {
                    step,
                    seconds: num("elapsed_s").unwrap_or(f64::NAN),
                    score,
                });
                run.eval_success
                    .push(v["eval"]["success_rate"].as_f64().unwrap_or(f64::NAN));
                if phase == "final" {
                    run.final_line = Some(v.clone());
                }
            }
            Some(_) => {}
            None => {
                if let Some(step) = v.get("step").and_then(Value::as_u64) {
                    run.steps.push(StepPoint {
                        step,
                        r#return: num("return").unwrap_or(f64::NAN),
                        success: num("success").unwrap_or(f64::NAN),
                        entropy: num("entropy").unwrap_or(f64::NAN),
                        elapsed_s: num("elapsed_s").unwrap_or(f64::NAN),
                    });
                }
            }
        }
    }
    run.metric = metric.unwrap_or(Metric::SuccessPercent);
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_evaluations_steps_and_the_final_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "[run]\nseed = 3\nsteps = 4\n[env]\nname = \"lmrl/maze-fo\"\n[credit]\nmethod = \"gigpo\"\n",
        )
        .unwrap();
        let lines = [
            r#"{"phase":"warm_start","eval":{"success_rate":0.3,"normalised_score":51.5},"elapsed_s":5.0}"#,
            r#"{"step":1,"return":-40.0,"success":0.5,"entropy":0.4,"elapsed_s":6.0}"#,
            r#"{"step":2,"return":-30.0,"success":0.6,"entropy":0.4,"elapsed_s":7.0}"#,
            r#"{"phase":"eval","step":2,"eval":{"success_rate":0.8,"normalised_score":80.0},"elapsed_s":8.0}"#,
            r#"{"step":3,"return":-20.0,"success":0.9,"entropy":0.3,"elapsed_s":9.0}"#,
            r#"{"step":4,"return":-10.0,"success":1.0,"entropy":0.3,"elapsed_s":10.0}"#,
            r#"{"phase":"final","stopped_by":"steps","step":4,"eval":{"success_rate":1.0,"normalised_score":94.2},"elapsed_s":11.0}"#,
            r#"{"step":5,"ret"#,
        ];
        std::fs::write(dir.path().join("metrics.jsonl"), lines.join("\n")).unwrap();
        let r = read(dir.path()).unwrap();
        assert_eq!(
            (r.env.as_str(), r.method.as_str(), r.seed),
            ("lmrl/maze-fo", "gigpo", 3)
        );
        assert_eq!(r.metric, Metric::NormalisedScore);
        let steps: Vec<u64> = r.evals.iter().map(|p| p.step).collect();
        assert_eq!(steps, vec![0, 2, 4]);
        assert_eq!(r.last_score(), Some(94.2));
        assert_eq!(r.steps.len(), 4);
        assert_eq!(r.stopped_by(), Some("steps"));
        assert_eq!(r.bad_lines, 1);
        assert!(r.finished());
    }

    #[test]
    fn success_rate_is_the_metric_without_a_normalised_score() {
        let v: Value =
            serde_json::from_str(r#"{"success_rate":0.125,"normalised_score":null}"#).unwrap();
        assert_eq!(eval_score(&v), Some((Metric::SuccessPercent, 12.5)));
    }
}
