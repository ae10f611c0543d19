//! Annotators: the stage of a training step that fills the trajectory fields credit methods
//! read and the rollout does not give ([`Annotator`]). Each declares the fields it fills
//! ([`Annotator::provides`]); [`plan`] picks, for the configured method, the annotators
//! that provide the fields it reads, and refuses at start a method reading a field that
//! nothing provides on the configured environment, naming the field.
//!
//! Where fields come from:
//! * the rollout, on every environment ([`ROLLOUT_FIELDS`]);
//! * the environment's step information ([`turnwise_envs::Env::credit_fields`]: progress
//!   `score`, `subgoal` / `switch`, graded `valid` / `answer` / `correct`, tool calls);
//! * the training schedule of the method's kind (the reverse-sequential update measures
//!   `seq_log_ratio`);
//! * the annotators of [`ANNOTATORS`]: gold-answer log-probs, SIOP's answer modes, DisCO's
//!   sequence scores, PBSD's teacher log-probs, and the critics.
//!
//! An annotator may also learn from each step's credit ([`Annotator::learn`], the critics)
//! and keep state across checkpoints ([`Annotator::save`] / [`Annotator::load`]).

pub mod modes;
pub mod seq;
pub mod teacher;

use std::path::Path;

use anyhow::{anyhow, Result};
use turnwise_core::seed::{self, Split};
use turnwise_core::Batch;
use turnwise_credit::{registry, CreditOutput, MethodInfo, OutputKind};
use turnwise_envs::Env;

use super::envs::{make_envs, STYLE};
use super::rows::RowSet;
use super::update::Frozen;
use crate::config::Config;
use crate::policy::Policy;
use crate::rollout::HistorySpec;

/// Fields the rollout fills in every trajectory.
pub const ROLLOUT_FIELDS: &[&str] = &[
    "outcome",
    "reward",
    "tokens",
    "truncated",
    "anchor",
    "env_step",
];

/// Fields a method's training schedule measures itself (by output kind).
pub fn schedule_fields(kind: OutputKind) -> &'static [&'static str] {
    match kind {
        OutputKind::ReverseSequential => &["seq_log_ratio"],
        _ => &[],
    }
}

/// What an annotator may read besides the batch: the step's policy, rows and behaviour /
/// reference log-probs.
pub struct Context<'a> {
    /// The run's configuration.
    pub cfg: &'a Config,
    /// The policy that played the batch (π_old: not yet updated this step).
    pub policy: &'a Policy,
    /// The batch's rows (one per turn with action tokens).
    pub rows: &'a RowSet,
    /// π_old / π_ref log-probs of the rows.
    pub frozen: &'a Frozen,
    /// How contexts are built.
    pub history: HistorySpec,
    /// An answer in the environment's action text (`Style::format_action`).
    pub format: &'a dyn Fn(&str) -> String,
}

/// Fills named trajectory fields for credit methods.
pub trait Annotator {
    /// Short name (errors, docs).
    fn name(&self) -> &'static str;

    /// The wire names of the fields it fills.
    fn provides(&self) -> &'static [&'static str];

    /// Fills its fields in `batch` (the step's rollouts, before credit assignment).
    fn annotate(&mut self, batch: &mut Batch, cx: &Context) -> Result<()>;

    /// After credit assignment: learns from what credit gave (a critic fits its targets).
    /// Returns named figures for the step's metrics line.
    fn learn(
        &mut self,
        _batch: &Batch,
        _credit: &CreditOutput,
        _cx: &Context,
    ) -> Result<Vec<(&'static str, f64)>> {
        Ok(vec![])
    }

    /// Whether its state is finite (a checkpoint is written from finite values only).
    fn is_finite(&self) -> bool {
        true
    }

    /// Saves its state into the checkpoint folder `dir` (critics: weights and moments).
    fn save(&self, _dir: &Path) -> Result<()> {
        Ok(())
    }

    /// Restores the state saved by [`Annotator::save`] from `dir`.
    fn load(&mut self, _dir: &Path) -> Result<()> {
        Ok(())
    }
}

/// What an annotator needs to know at start.
pub struct Probe<'a> {
    /// The configuration.
    pub cfg: &'a Config,
    /// An environment of the run, reset on the first training task.
    pub env: &'a dyn Env,
    /// The fields the method reads.
    pub fields: &'a [&'static str],
}

/// A registered annotator.
pub struct AnnotatorSpec {
    /// Short name.
    pub name: &'static str,
    /// The fields it fills.
    pub provides: &'static [&'static str],
    /// Whether a method reading `fields` wants this annotator (default rule: it reads one
    /// of [`AnnotatorSpec::provides`]).
    pub wanted: fn(&[&str]) -> bool,
    /// `Err(reason)` when it cannot run on the probed environment.
    pub available: fn(&Probe) -> std::result::Result<(), String>,
    /// Builds it for the run.
    pub build: fn(&Probe, &Policy) -> Result<Box<dyn Annotator>>,
}

/// Every annotator, in the order they run.
pub static ANNOTATORS: &[&AnnotatorSpec] = &[
    &super::gold::SPEC,
    &modes::SPEC,
    &seq::SPEC,
    &teacher::SPEC,
    &super::critic::V_SPEC,
    &super::critic::HIER_SPEC,
    &super::critic::Q_SPEC,
];

/// `wanted` rule of most annotators: the method reads one of `provides`.
pub fn reads_any(fields: &[&str], provides: &[&str]) -> bool {
    fields.iter().any(|f| provides.contains(f))
}

/// How the configured method is applied: the advantage estimator, the reward shapers run
/// before it, and the annotators that fill their fields.
pub struct Plan {
    /// Reward shapers, in order (`credit.shapers`, or `credit.method` when it is one).
    pub shapers: Vec<&'static MethodInfo>,
    /// The advantage estimator (`credit.method`, or `credit.base` after a shaper).
    pub estimator: &'static MethodInfo,
    /// Registered annotators the methods need.
    pub annotators: Vec<&'static AnnotatorSpec>,
}

fn method(name: &str, key: &str) -> Result<&'static MethodInfo> {
    registry::get(name)
        .map(|m| m.info())
        .map_err(|e| anyhow!("{key}: {e}"))
}

/// A probe environment of `cfg`, reset on the first training task.
pub fn probe_env(cfg: &Config) -> Result<Box<dyn Env>> {
    let mut env = make_envs(cfg, 1, &[])?.remove(0);
    env.reset(seed::task_seed(cfg.run.seed, Split::Train, 0));
    Ok(env)
}

/// Resolves the configured credit methods and the annotators they need, and refuses (before
/// any work) a method the trainer cannot apply or whose fields nothing provides on the
/// configured environment, naming the field.
pub fn plan(cfg: &Config) -> Result<Plan> {
    plan_with(cfg, &*probe_env(cfg)?)
}

/// The built-in environments (default options) on which `method` trains: those where
/// [`plan`] accepts it.
pub fn trains_on(method: &str) -> Vec<&'static str> {
    turnwise_envs::registry::ALL
        .iter()
        .filter(|spec| {
            let mut cfg = Config::default();
            cfg.env.name = spec.name.to_owned();
            cfg.credit.method = method.to_owned();
            probe_env(&cfg)
                .and_then(|env| plan_with(&cfg, &*env))
                .is_ok()
        })
        .map(|spec| spec.name)
        .collect()
}

/// [`plan`] with the probe environment given.
pub fn plan_with(cfg: &Config, env: &dyn Env) -> Result<Plan> {
    let main = method(&cfg.credit.method, "credit.method")?;
    let mut shapers = Vec::new();
    for name in &cfg.credit.shapers {
        let m = method(name, "credit.shapers")?;
        if !m.kind.is_shaper() {
            return Err(anyhow!(
                "credit.shapers: {name:?} is not a reward shaper (its output is {}); reward shapers: {}",
                m.kind.name(),
                registry::all()
                    .filter(|m| m.info().kind.is_shaper())
                    .map(|m| m.info().name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        shapers.push(m);
    }
    let estimator = if main.kind.is_shaper() {
        shapers.push(main);
        let base = method(&cfg.credit.base, "credit.base")?;
        if base.kind.is_shaper() {
            return Err(anyhow!(
                "credit.base = {:?} is a reward shaper; it must produce advantages",
                base.name
            ));
        }
        base
    } else {
        main
    };
    let mut annotators = Vec::new();
    for m in shapers.iter().chain(std::iter::once(&estimator)) {
        let probe = Probe {
            cfg,
            env,
            fields: m.fields,
        };
        let mut provided: Vec<(&str, String)> = ROLLOUT_FIELDS
            .iter()
            .map(|f| (*f, "the rollout".to_owned()))
            .chain(
                env.credit_fields()
                    .iter()
                    .map(|f| (*f, format!("environment {:?}", cfg.env.name))),
            )
            .chain(
                schedule_fields(m.kind)
                    .iter()
                    .map(|f| (*f, format!("the {} update", m.kind.name()))),
            )
            .collect();
        let mut unavailable: Vec<(&str, String)> = Vec::new();
        for spec in ANNOTATORS {
            if !(spec.wanted)(m.fields) {
                continue;
            }
            match (spec.available)(&probe) {
                Ok(()) => {
                    provided.extend(spec.provides.iter().map(|f| (*f, spec.name.to_owned())));
                    if !annotators
                        .iter()
                        .any(|a: &&AnnotatorSpec| a.name == spec.name)
                    {
                        annotators.push(*spec);
                    }
                }
                Err(why) => unavailable.extend(
                    spec.provides
                        .iter()
                        .map(|f| (*f, format!("{} annotator: {why}", spec.name))),
                ),
            }
        }
        if let Some(f) = m
            .fields
            .iter()
            .find(|f| !provided.iter().any(|(p, _)| p == *f))
        {
            let why = unavailable
                .iter()
                .find(|(p, _)| p == f)
                .map(|(_, w)| format!(" ({w})"))
                .unwrap_or_default();
            let mut names: Vec<&str> = provided.iter().map(|(p, _)| *p).collect();
            names.dedup();
            return Err(anyhow!(
                "credit.method = {:?} reads `{f}`, which the trainer does not compute for {:?}{why}; it provides: {}",
                m.name,
                cfg.env.name,
                names.join(", ")
            ));
        }
    }
    let critic = annotators.iter().any(|a| is_critic(a));
    if cfg.critic.warmup_steps > 0 && !critic {
        return Err(anyhow!(
            "critic.warmup_steps = {}: credit.method = {:?} trains no critic (critic-based methods: {})",
            cfg.critic.warmup_steps,
            cfg.credit.method,
            trained_critics().join(", ")
        ));
    }
    Ok(Plan {
        shapers,
        estimator,
        annotators,
    })
}

/// Whether `spec` is one of the critics.
fn is_critic(spec: &AnnotatorSpec) -> bool {
    super::critic::SPECS.iter().any(|c| c.name == spec.name)
}

/// The registered methods that train a critic.
fn trained_critics() -> Vec<&'static str> {
    registry::all()
        .map(|m| m.info())
        .filter(|m| super::critic::SPECS.iter().any(|c| (c.wanted)(m.fields)))
        .map(|m| m.name)
        .collect()
}

/// Refuses a credit configuration the trainer cannot apply ([`plan`]).
pub fn check_credit(cfg: &Config) -> Result<()> {
    plan(cfg).map(|_| ())
}

/// The annotators of a run, built.
pub struct Annotators {
    /// The annotators, in run order.
    pub list: Vec<Box<dyn Annotator>>,
}

impl Annotators {
    /// Builds the annotators `plan` names for `policy`.
    pub fn build(cfg: &Config, plan: &Plan, policy: &Policy) -> Result<Annotators> {
        let env = probe_env(cfg)?;
        let fields: Vec<&'static str> = plan
            .shapers
            .iter()
            .chain(std::iter::once(&plan.estimator))
            .flat_map(|m| m.fields.iter().copied())
            .collect();
        let probe = Probe {
            cfg,
            env: &*env,
            fields: &fields,
        };
        let list = plan
            .annotators
            .iter()
            .map(|s| (s.build)(&probe, policy))
            .collect::<Result<_>>()?;
        Ok(Annotators { list })
    }

    /// Runs every annotator on `batch`.
    pub fn annotate(&mut self, batch: &mut Batch, cx: &Context) -> Result<()> {
        for a in &mut self.list {
            a.annotate(batch, cx)
                .map_err(|e| anyhow!("annotator {}: {e}", a.name()))?;
        }
        Ok(())
    }

    /// Lets every annotator learn from the step's credit.
    pub fn learn(
        &mut self,
        batch: &Batch,
        credit: &CreditOutput,
        cx: &Context,
    ) -> Result<Vec<(&'static str, f64)>> {
        let mut out = vec![];
        for a in &mut self.list {
            out.extend(a.learn(batch, credit, cx)?);
        }
        Ok(out)
    }

    /// Whether every annotator's state is finite.
    pub fn is_finite(&self) -> bool {
        self.list.iter().all(|a| a.is_finite())
    }

    /// Saves every annotator's state into checkpoint folder `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        self.list.iter().try_for_each(|a| a.save(dir))
    }

    /// Restores every annotator's state from checkpoint folder `dir`.
    pub fn load(&mut self, dir: &Path) -> Result<()> {
        self.list.iter_mut().try_for_each(|a| a.load(dir))
    }
}

/// The environment's action text of an answer, for annotators scoring answers.
pub fn formatter(env: &dyn Env) -> impl Fn(&str) -> String + '_ {
    move |a: &str| STYLE.format_action(env, a)
}
