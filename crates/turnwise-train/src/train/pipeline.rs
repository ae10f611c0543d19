//! What a run keeps for its steps besides the policy: the credit plan (shapers, estimator,
//! annotators, [`super::annotate::plan`]), the built annotators (with their state, e.g. a
//! critic), and an environment to format answers with.

use std::path::Path;

use anyhow::Result;
use turnwise_envs::Env;

use super::annotate::{plan, probe_env, Annotators, Plan};
use super::checkpoint::Part;
use crate::config::Config;
use crate::policy::Policy;

/// The step pipeline's state.
pub struct Pipeline {
    /// How the configured credit method is applied.
    pub plan: Plan,
    /// The annotators it needs.
    pub annotators: Annotators,
    /// An environment of the run (formats answers in its action text).
    pub probe: Box<dyn Env>,
}

impl Pipeline {
    /// Plans the credit configuration and builds its annotators for `policy`.
    pub fn new(cfg: &Config, policy: &Policy) -> Result<Pipeline> {
        let plan = plan(cfg)?;
        let annotators = Annotators::build(cfg, &plan, policy)?;
        Ok(Pipeline {
            plan,
            annotators,
            probe: probe_env(cfg)?,
        })
    }

    /// Saves the annotators' state (critics) into checkpoint folder `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        self.annotators.save(dir)
    }

    /// Restores the annotators' state from checkpoint folder `dir`.
    pub fn load(&mut self, dir: &Path) -> Result<()> {
        self.annotators.load(dir)
    }
}

/// The annotators' state (critics) as a named checkpoint part.
pub struct PipelinePart<'a>(pub &'a Pipeline);

impl Part for PipelinePart<'_> {
    fn name(&self) -> &'static str {
        "annotators"
    }
    fn is_finite(&self) -> bool {
        self.0.annotators.is_finite()
    }
    fn save(&self, dir: &Path) -> Result<()> {
        self.0.save(dir)
    }
}
