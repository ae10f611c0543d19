//! Environments from Python: `turnwise.envs()`, `turnwise.make_env(name, **options)` (a
//! Gymnasium-style `reset(seed)` / `step(action)` object) and `turnwise.make_vec_env` (a
//! batch of them stepped together with the GIL released). Every environment of the Rust
//! registry appears here without Python code; prompt rendering and output parsing use the
//! same renderers as turnwise's own rollouts.

use std::sync::Mutex;

use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use turnwise_envs::render::{Style, TurnCtx};
use turnwise_envs::{registry, Env, Info};

use crate::errors;

/// `turnwise.envs()`: every registered environment with its doc and options.
#[pyfunction]
fn envs(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let list = PyList::empty(py);
    for s in registry::ALL {
        let d = PyDict::new(py);
        d.set_item("name", s.name)?;
        d.set_item("doc", s.doc)?;
        let opts = PyList::empty(py);
        for o in s.options {
            let od = PyDict::new(py);
            od.set_item("name", o.name)?;
            od.set_item("type", o.kind.describe())?;
            od.set_item("default", o.default)?;
            od.set_item("doc", o.doc)?;
            opts.append(od)?;
        }
        d.set_item("options", opts)?;
        list.append(d)?;
    }
    Ok(list)
}

fn overrides(options: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (k, v) in options.into_iter().flat_map(|d| d.iter()) {
        let value = match v.extract::<bool>() {
            Ok(b) if v.is_instance_of::<pyo3::types::PyBool>() => b.to_string(),
            _ => v.str()?.to_string(),
        };
        out.push((k.extract::<String>()?, value));
    }
    Ok(out)
}

fn make(name: &str, options: Option<&Bound<'_, PyDict>>) -> PyResult<Box<dyn Env>> {
    registry::make(name, &overrides(options)?).map_err(errors::env)
}

fn info_dict<'py>(py: Python<'py>, i: &Info) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("success", i.success)?;
    d.set_item("action_valid", i.action_valid)?;
    d.set_item("action_effective", i.action_effective)?;
    d.set_item("ground_truth", i.ground_truth.as_deref())?;
    d.set_item("state_key", i.state_key.as_deref())?;
    Ok(d)
}

fn style(s: &str) -> PyResult<Style> {
    s.parse().map_err(errors::EnvError::new_err)
}

/// Where an episode stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `reset` was never called.
    New,
    /// Steps may be taken.
    Running,
    /// The episode terminated or was truncated.
    Over,
}

/// One environment: `reset(seed) -> (observation, info)`,
/// `step(action) -> (observation, reward, terminated, truncated, info)`.
#[pyclass(name = "Env", module = "turnwise")]
pub struct PyEnv {
    name: String,
    env: Mutex<Box<dyn Env>>,
    phase: Mutex<Phase>,
}

impl PyEnv {
    fn with<T>(&self, f: impl FnOnce(&mut dyn Env) -> T) -> T {
        let mut g = self.env.lock().unwrap_or_else(|e| e.into_inner());
        f(g.as_mut())
    }

    fn set_phase(&self, p: Phase) {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = p;
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[pymethods]
impl PyEnv {
    /// Starts an episode from `seed` (same seed, same episode, on any machine).
    fn reset<'py>(&self, py: Python<'py>, seed: u64) -> PyResult<(String, Bound<'py, PyDict>)> {
        let obs = py.detach(|| self.with(|e| e.reset(seed)));
        self.set_phase(Phase::Running);
        Ok((obs.text.into_owned(), info_dict(py, &obs.info)?))
    }

    /// Applies one action (the text the policy produced, without its stop string).
    fn step<'py>(
        &self,
        py: Python<'py>,
        action: &str,
    ) -> PyResult<(String, f64, bool, bool, Bound<'py, PyDict>)> {
        match self.phase() {
            Phase::New => {
                return Err(errors::EnvError::new_err(format!(
                    "environment `{}`: call reset(seed) before step",
                    self.name
                )))
            }
            Phase::Over => {
                return Err(errors::EnvError::new_err(format!(
                    "environment `{}`: the episode is over; call reset(seed)",
                    self.name
                )))
            }
            Phase::Running => {}
        }
        let s = py.detach(|| self.with(|e| e.step(action)));
        if s.done() {
            self.set_phase(Phase::Over);
        }
        Ok((
            s.observation.into_owned(),
            s.reward,
            s.terminated,
            s.truncated,
            info_dict(py, &s.info)?,
        ))
    }

    /// The registry name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// Task instructions shown before the first observation ("" for raw-text tasks).
    #[getter]
    fn instructions(&self) -> String {
        self.with(|e| e.instructions().into_owned())
    }

    /// The string that ends an action in the faithful format, if any (LMRL: "\n").
    #[getter]
    fn stop(&self) -> Option<&'static str> {
        self.with(|e| e.stop())
    }

    /// Actions or turns left in the episode's budget, where the environment shows it.
    #[getter]
    fn budget_left(&self) -> Option<u32> {
        self.with(|e| e.budget_left())
    }

    /// Valid single-action texts.
    fn action_space(&self) -> Vec<String> {
        self.with(|e| {
            e.action_space()
                .into_iter()
                .map(|t| t.into_owned())
                .collect()
        })
    }

    /// An expert action for the current state (None once the episode is over).
    fn expert_action(&self) -> Option<String> {
        self.with(|e| e.expert_action())
    }

    /// The task's answer as an action text, where the task has one.
    fn gold_action(&self) -> Option<String> {
        self.with(|e| e.gold_action())
    }

    /// The system message of prompt style `style` ("chat" or "faithful"; None: none).
    #[pyo3(signature = (style="chat"))]
    fn system_prompt(&self, style: &str) -> PyResult<Option<&'static str>> {
        let st = self::style(style)?;
        Ok(self.with(|e| st.system(e)))
    }

    /// The user text before the policy's turn `turn` (1-based): instructions on the first
    /// turn, the observation, and the previous reward where the benchmark shows it.
    #[pyo3(signature = (observation, turn, prev_reward=None, style="chat", max_tokens=100))]
    fn render(
        &self,
        observation: &str,
        turn: usize,
        prev_reward: Option<f64>,
        style: &str,
        max_tokens: usize,
    ) -> PyResult<String> {
        let st = self::style(style)?;
        Ok(
            self.with(|e| {
                st.observation(e, TurnCtx { turn, max_tokens }, observation, prev_reward)
            }),
        )
    }

    /// Parses a policy's output into `(action, format_ok)` (an ill-formatted output gives
    /// the action "", which every environment treats as invalid).
    #[pyo3(signature = (output, style="chat"))]
    fn parse(&self, output: &str, style: &str) -> PyResult<(String, bool)> {
        let st = self::style(style)?;
        Ok(self.with(|e| {
            let p = st.parse(e, output);
            (p.action.to_owned(), p.format_ok)
        }))
    }

    fn __repr__(&self) -> String {
        format!("turnwise.Env({:?})", self.name)
    }
}

/// `turnwise.make_env(name, **options)`: environment `name` with options (as
/// `--option KEY=VALUE`).
#[pyfunction]
#[pyo3(signature = (name, **options))]
fn make_env(name: &str, options: Option<&Bound<'_, PyDict>>) -> PyResult<PyEnv> {
    Ok(PyEnv {
        name: name.to_owned(),
        env: Mutex::new(make(name, options)?),
        phase: Mutex::new(Phase::New),
    })
}

/// Per-environment state of a [`PyVecEnv`].
struct Slot {
    env: Box<dyn Env>,
    phase: Phase,
    observation: String,
    terminated: bool,
    truncated: bool,
}

/// `num_envs` copies of one environment stepped together: `reset(seeds)`,
/// `step(actions)`. An environment whose episode is over is not stepped again until the
/// next `reset`: it repeats its last observation with reward 0 and its final flags.
#[pyclass(name = "VecEnv", module = "turnwise")]
pub struct PyVecEnv {
    name: String,
    slots: Mutex<Vec<Slot>>,
}

#[pymethods]
impl PyVecEnv {
    /// Starts every episode: `seeds` is one seed per environment, or one int `s` (seeds
    /// `s, s + 1, …`). Returns `(observations, infos)`.
    fn reset<'py>(
        &self,
        py: Python<'py>,
        seeds: &Bound<'py, PyAny>,
    ) -> PyResult<(Vec<String>, Vec<Bound<'py, PyDict>>)> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let n = slots.len();
        let seeds: Vec<u64> = match seeds.extract::<u64>() {
            Ok(s) => (0..n as u64).map(|i| s.wrapping_add(i)).collect(),
            Err(_) => seeds.extract()?,
        };
        if seeds.len() != n {
            return Err(errors::array(format!(
                "seeds: expected {n} seeds (one per environment), got {}",
                seeds.len()
            )));
        }
        let list: &mut Vec<Slot> = &mut slots;
        let infos = py.detach(|| {
            list.iter_mut()
                .zip(&seeds)
                .map(|(s, &seed)| {
                    let o = s.env.reset(seed);
                    s.phase = Phase::Running;
                    (s.terminated, s.truncated) = (false, false);
                    s.observation = o.text.into_owned();
                    o.info
                })
                .collect::<Vec<_>>()
        });
        let obs = slots.iter().map(|s| s.observation.clone()).collect();
        let infos = infos
            .iter()
            .map(|i| info_dict(py, i))
            .collect::<PyResult<_>>()?;
        Ok((obs, infos))
    }

    /// Steps every running environment with its action. Returns `(observations, rewards,
    /// terminated, truncated, infos)` with NumPy arrays for the numbers and flags.
    #[allow(clippy::type_complexity)]
    fn step<'py>(
        &self,
        py: Python<'py>,
        actions: Vec<String>,
    ) -> PyResult<(
        Vec<String>,
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<bool>>,
        Bound<'py, PyArray1<bool>>,
        Vec<Bound<'py, PyDict>>,
    )> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if actions.len() != slots.len() {
            return Err(errors::array(format!(
                "actions: expected {} actions (one per environment), got {}",
                slots.len(),
                actions.len()
            )));
        }
        if let Some(i) = slots.iter().position(|s| s.phase == Phase::New) {
            return Err(errors::EnvError::new_err(format!(
                "environment `{}` #{i}: call reset(seeds) before step",
                self.name
            )));
        }
        let list: &mut Vec<Slot> = &mut slots;
        let (rewards, infos) = py.detach(|| {
            let mut rewards = Vec::with_capacity(list.len());
            let mut infos = Vec::with_capacity(list.len());
            for (s, a) in list.iter_mut().zip(&actions) {
                if s.phase == Phase::Over {
                    rewards.push(0.0);
                    infos.push(Info::default());
                    continue;
                }
                let st = s.env.step(a);
                if st.done() {
                    s.phase = Phase::Over;
                }
                (s.terminated, s.truncated) = (st.terminated, st.truncated);
                s.observation = st.observation.into_owned();
                rewards.push(st.reward);
                infos.push(st.info);
            }
            (rewards, infos)
        });
        let obs = slots.iter().map(|s| s.observation.clone()).collect();
        let term = slots.iter().map(|s| s.terminated).collect::<Vec<_>>();
        let trunc = slots.iter().map(|s| s.truncated).collect::<Vec<_>>();
        let infos = infos
            .iter()
            .map(|i| info_dict(py, i))
            .collect::<PyResult<_>>()?;
        Ok((
            obs,
            PyArray1::from_vec(py, rewards),
            PyArray1::from_vec(py, term),
            PyArray1::from_vec(py, trunc),
            infos,
        ))
    }

    /// Number of environments.
    #[getter]
    fn num_envs(&self) -> usize {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The registry name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    fn __len__(&self) -> usize {
        self.num_envs()
    }

    fn __repr__(&self) -> String {
        format!(
            "turnwise.VecEnv({:?}, num_envs={})",
            self.name,
            self.num_envs()
        )
    }
}

/// `turnwise.make_vec_env(name, num_envs, **options)`: `num_envs` environments `name`.
#[pyfunction]
#[pyo3(signature = (name, num_envs, **options))]
fn make_vec_env(
    name: &str,
    num_envs: usize,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<PyVecEnv> {
    let slots = (0..num_envs)
        .map(|_| {
            Ok(Slot {
                env: make(name, options)?,
                phase: Phase::New,
                observation: String::new(),
                terminated: false,
                truncated: false,
            })
        })
        .collect::<PyResult<_>>()?;
    Ok(PyVecEnv {
        name: name.to_owned(),
        slots: Mutex::new(slots),
    })
}

/// Adds the functions and classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(envs, m)?)?;
    m.add_function(wrap_pyfunction!(make_env, m)?)?;
    m.add_function(wrap_pyfunction!(make_vec_env, m)?)?;
    m.add_class::<PyEnv>()?;
    m.add_class::<PyVecEnv>()?;
    Ok(())
}
