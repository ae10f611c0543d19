//! The collect stage's task sampling: `env.tasks_per_step` task seeds of the step, G
//! episodes each; refilled by [`super::dynamic`] when `curricula.dynamic_sampling` is on;
//! some task slots restarted from ExIt's buffer ([`super::exit`]) when `curricula.exit` is;
//! the fresh slots' tasks chosen by PCL's value model ([`super::pcl`]) when `curricula.pcl` is,
//! or by GAIN-RL's angle concentration ([`super::gain`]) when `curricula.gain_rl` is; every
//! observation carries SLEA-RL's retrieved experience ([`super::slea`]) when `curricula.slea` is.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;
use turnwise_core::seed::{self, Rng, Split};
use turnwise_core::Group;
use turnwise_envs::Env;

use super::dynamic::{self, FillStats};
use super::exit::{self, Buffer, Restarted};
use super::gain::{Gain, GainReport};
use super::pcl::{Calibration, Observed, Pcl};
use super::slea::{self, Experienced, Library, Retrieve, SleaReport};
use crate::config::Config;
use crate::policy::Policy;
use crate::rollout::{self, RolloutSpec, RolloutStats};
use crate::train::envs::make_envs;

/// What the curricula keep between steps (not checkpointed: a resumed run starts with an
/// empty ExIt buffer).
#[derive(Default)]
pub struct CurriculaState {
    /// ExIt's restart points (`curricula.exit`).
    pub exit: Buffer,
    /// PCL's value model (`curricula.pcl`; built at the first step).
    pub pcl: Option<Pcl>,
    /// GAIN-RL's sampling centre (`curricula.gain_rl`).
    pub gain: Gain,
    /// SLEA-RL's experience library (`curricula.slea`).
    pub slea: Library,
}

impl CurriculaState {
    /// The state a run starts with.
    pub fn new(cfg: &Config) -> CurriculaState {
        CurriculaState {
            exit: Buffer::new(cfg.curricula.exit_buffer),
            pcl: None,
            gain: Gain::default(),
            slea: Library::default(),
        }
    }
}

/// What the curricula did in one step (logged in `metrics.jsonl`).
#[derive(Debug, Clone, Copy, Default)]
pub struct StepReport {
    /// Dynamic sampling's fill statistics.
    pub fill: Option<FillStats>,
    /// ExIt: groups restarted from the buffer this step, and the buffer's size after it.
    pub exit: Option<(usize, usize)>,
    /// PCL: predicted against observed pass rates of the tasks it chose.
    pub pcl: Option<Calibration>,
    /// GAIN-RL: the centre the step's tasks were sampled around and their concentration.
    pub gain: Option<GainReport>,
    /// SLEA-RL: what the library did.
    pub slea: Option<SleaReport>,
}

/// The step's task seeds (regular stream; round 0 of dynamic sampling).
pub fn step_seeds(cfg: &Config, step: u64) -> Vec<u64> {
    let n = cfg.env.tasks_per_step as u64;
    (0..n)
        .map(|i| seed::task_seed(cfg.run.seed, Split::Train, step * n + i))
        .collect()
}

fn add(a: &mut RolloutStats, b: RolloutStats) {
    a.tokens += b.tokens;
    a.env_steps += b.env_steps;
    a.gen_s += b.gen_s;
    a.env_s += b.env_s;
}

/// Plays step `step`'s groups with `policy`. Without options: one group per task seed of
/// [`step_seeds`]. With dynamic sampling, groups with equal outcomes are dropped and
/// refill rounds play new tasks ([`dynamic::refill_seed`]) until `tasks_per_step` groups
/// carry signal or `curricula.max_sample_rounds` rounds are spent. With ExIt, each task
/// slot of the first round restarts from a buffer point with probability
/// `curricula.exit_prob`, and the groups played feed the buffer.
pub fn collect_step(
    cfg: &Config,
    policy: &Policy,
    step: u64,
    spec: &RolloutSpec,
    rng: &mut Rng,
    state: &mut CurriculaState,
) -> Result<(Vec<Group>, RolloutStats, StepReport)> {
    let g = cfg.env.group_size;
    let want = cfg.env.tasks_per_step;
    let cu = &cfg.curricula;
    let mut stats = RolloutStats::default();
    let mut report = StepReport::default();
    // ExIt: which first-round slots restart, keyed by the group's (unique) seed.
    let mut xrng = seed::rng(cfg.run.seed, 0x4000_0000 + step);
    let origin = if cu.exit {
        exit::plan(&state.exit, want, cu.exit_prob, &mut xrng).origin
    } else {
        vec![None; want]
    };
    let mut restarted: BTreeMap<u64, usize> = BTreeMap::new();
    // PCL / GAIN-RL: the fresh slots' tasks, chosen from a pool of candidates.
    let n_fresh = origin.iter().filter(|o| o.is_none()).count();
    let mut fresh = if cu.pcl {
        let pcl = match &mut state.pcl {
            Some(p) => p,
            None => state.pcl.insert(Pcl::new(cfg, policy)?),
        };
        pcl.choose(cfg, policy, spec, step, n_fresh)?
    } else if cu.gain_rl {
        state.gain.choose(cfg, policy, spec, step, n_fresh)?
    } else {
        step_seeds(cfg, step)
            .into_iter()
            .zip(&origin)
            .filter(|(_, o)| o.is_none())
            .map(|(s, _)| s)
            .collect()
    }
    .into_iter();
    let mut observed: Vec<Observed> = vec![];
    // SLEA-RL: the library as it stands at the step's start, and the step's lessons.
    let library = cu.slea.then(|| Arc::new(state.slea.clone()));
    let parser = match cu.slea {
        true => Some(make_envs(cfg, 1, &[])?.remove(0)),
        false => None,
    };
    let mut lessons = vec![];
    let mut retrieved = 0;
    let buffer = &state.exit;
    let mut play = |seeds: &[u64], origin: &[Option<usize>]| -> Result<Vec<Group>> {
        let mut envs: Vec<Box<dyn Env>> = Vec::with_capacity(g * seeds.len());
        let mut logs = vec![];
        for o in origin {
            for e in make_envs(cfg, g, &[])? {
                let e: Box<dyn Env> = match *o {
                    Some(idx) => Box::new(Restarted::new(e, buffer.points[idx].clone())),
                    None => e,
                };
                envs.push(match &library {
                    Some(lib) => {
                        let (hook, keys) = Retrieve::new(lib.clone());
                        logs.push(keys);
                        Box::new(Experienced::new(e, hook))
                    }
                    None => e,
                });
            }
        }
        let (groups, st) = rollout::collect(policy, envs, seeds, &cfg.env.name, spec, rng)?;
        add(&mut stats, st);
        if let Some(p) = &parser {
            let parse = |t: &str| spec.parse(&**p, t).action.to_owned();
            for (gr, logs) in groups.iter().zip(logs.chunks(g)) {
                let keys: Vec<Vec<slea::Seen>> = logs
                    .iter()
                    .map(|k| k.lock().expect("a key log is never poisoned").clone())
                    .collect();
                lessons.extend(slea::candidates(gr, &keys, parse));
                retrieved += slea::retrieved(gr);
            }
        }
        if cu.pcl || cu.gain_rl {
            let fresh = groups.iter().zip(origin).filter(|(_, o)| o.is_none());
            observed.extend(fresh.filter_map(|(g, _)| Observed::of(g, spec.history)));
        }
        Ok(groups)
    };
    let first_seeds: Vec<u64> = origin
        .iter()
        .enumerate()
        .map(|(j, o)| match o {
            Some(idx) => {
                let s = exit::restart_seed(cfg.run.seed, step, j);
                restarted.insert(s, *idx);
                s
            }
            None => fresh.next().expect("one fresh seed per fresh slot"),
        })
        .collect();
    let groups = if cu.dynamic_sampling {
        let (groups, fill) = dynamic::fill(want, cu.max_sample_rounds, |round, n| {
            if round == 0 {
                return play(&first_seeds, &origin);
            }
            let seeds: Vec<u64> = (0..n)
                .map(|i| dynamic::refill_seed(cfg.run.seed, step, round, i, want))
                .collect();
            play(&seeds, &vec![None; n])
        })?;
        report.fill = Some(fill);
        groups
    } else {
        play(&first_seeds, &origin)?
    };
    if let (true, Some(pcl)) = (cu.pcl, &mut state.pcl) {
        report.pcl = Some(pcl.learn(cfg, policy, &observed)?);
    }
    if cu.gain_rl {
        report.gain = Some(state.gain.learn(cfg, &observed));
    }
    if cu.slea {
        let admitted = state.slea.learn(lessons, cu.slea_keep, cu.slea_rate);
        report.slea = Some(SleaReport {
            admitted,
            lessons: state.slea.len(),
            clusters: state.slea.clusters.len(),
            retrieved,
        });
    }
    if cu.exit {
        let n = restarted.len();
        learn(cfg, spec, state, &groups, &restarted, &mut xrng)?;
        report.exit = Some((n, state.exit.points.len()));
    }
    Ok((groups, stats, report))
}

/// Feeds ExIt's buffer with the step's groups: a restarted group's point takes the group's
/// learning signal as its new priority (points at 0 leave the buffer); every group with
/// signal offers one restart point, at a uniformly drawn intermediate turn of one of its
/// trajectories (drawn uniformly), taken by replaying that trajectory's actions.
fn learn(
    cfg: &Config,
    spec: &RolloutSpec,
    state: &mut CurriculaState,
    groups: &[Group],
    restarted: &BTreeMap<u64, usize>,
    rng: &mut Rng,
) -> Result<()> {
    use rand::Rng as _;
    let parse = |env: &dyn Env, text: &str| spec.parse(env, text).action.to_owned();
    let mut offers = Vec::new();
    for gr in groups {
        let signal = exit::learning_signal(gr);
        let from = gr.seed.and_then(|s| restarted.get(&s).copied());
        if let Some(idx) = from {
            state.exit.points[idx].priority = signal;
        }
        if signal <= 0.0 || gr.trajectories.is_empty() {
            continue;
        }
        let traj = &gr.trajectories[rng.random_range(0..gr.trajectories.len())];
        if traj.turns.len() < 2 {
            continue;
        }
        let k = rng.random_range(1..traj.turns.len());
        let mut env = make_envs(cfg, 1, &[])?.remove(0);
        let (root, depth) = match from {
            Some(idx) => {
                let p = state.exit.points[idx].clone();
                let (root, depth) = (p.root_seed, p.depth);
                env = Box::new(Restarted::new(env, p));
                (root, depth)
            }
            None => (gr.seed.unwrap_or_default(), 0),
        };
        env.reset(gr.seed.unwrap_or_default());
        if let Some(p) = exit::point_at(env, parse, traj, k, root, depth, signal) {
            offers.push(p);
        }
    }
    state.exit.points.retain(|p| p.priority > 0.0);
    for p in offers {
        state.exit.admit(p);
    }
    Ok(())
}
