//! SLEA-RL (step-level experience library): observations are clustered by structure;
//! each cluster keeps distilled successful strategies and failure patterns, admitted by
//! score at a limited rate; at every step the experiences of the current observation's
//! cluster are retrieved into the context.
//!
//! In turnwise: the cluster of an observation is its *structure*, the raw observation text
//! with every run of digits replaced by `#` and whitespace collapsed (observations that
//! differ only in numbers, such as coordinates, turn counters or amounts, share a
//! cluster). A lesson is the parsed action the policy took there (the move, without
//! `<think>`), scored by the return that followed it (the sum of the rewards from that turn
//! to the end). An action the environment judged invalid (`Info::action_valid` false: an
//! unparsable or illegal move) is never a lesson: its text is not a strategy, and kept
//! verbatim it lengthened every later context of its cluster. Successful strategies come from episodes that succeeded and keep the
//! `curricula.slea_keep` highest scores per cluster; failure patterns come from episodes
//! that failed and keep the lowest. A candidate enters only when its cluster has room or
//! it beats the worst kept entry, and at most `curricula.slea_rate` candidates (the
//! best-scoring first) enter per RL step. The retrieved experience is a line placed before
//! the observation text, `Experience: worked: A1 | A2 ; failed: B1 \n`, absent while the
//! cluster is empty.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use turnwise_core::Group;
use turnwise_envs::{Env, Observation, Step, Text};

use super::wrap::{Hook, Wrapped};

/// The words of the retrieved line (added to a from-scratch word vocabulary).
pub const VOCABULARY: &str = "Experience: worked: | ; failed: \n";

/// The structural cluster of an observation text: digit runs become `#`, whitespace runs
/// one space, ends trimmed.
pub fn cluster_key(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut prev_digit = false;
    let mut prev_space = false;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            if !prev_digit {
                out.push('#');
            }
            prev_digit = true;
            prev_space = false;
        } else if c.is_whitespace() {
            if !prev_space {
                out.push(' ');
            }
            prev_space = true;
            prev_digit = false;
        } else {
            out.push(c);
            prev_digit = false;
            prev_space = false;
        }
    }
    out
}

/// One lesson: an action and the return that followed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Lesson {
    /// The parsed action.
    pub action: String,
    /// Its score.
    pub score: f64,
}

/// The experiences of one cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cluster {
    /// Successful strategies, best first.
    pub worked: Vec<Lesson>,
    /// Failure patterns, worst first.
    pub failed: Vec<Lesson>,
}

/// A candidate lesson for a cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The cluster key.
    pub key: String,
    /// The lesson.
    pub lesson: Lesson,
    /// From a successful episode (a strategy) or a failed one (a failure pattern).
    pub success: bool,
}

/// The library: lessons per cluster.
#[derive(Debug, Clone, Default)]
pub struct Library {
    /// Clusters by key.
    pub clusters: BTreeMap<String, Cluster>,
}

/// Admits `l` into `list` (kept sorted by `better`, at most `keep` long, one entry per
/// action keeping its best score); returns whether the list changed.
fn admit(list: &mut Vec<Lesson>, l: Lesson, keep: usize, better: fn(f64, f64) -> bool) -> bool {
    if let Some(i) = list.iter().position(|e| e.action == l.action) {
        if !better(l.score, list[i].score) {
            return false;
        }
        list.remove(i);
    } else if list.len() >= keep && !better(l.score, list[list.len() - 1].score) {
        return false;
    }
    let at = list
        .iter()
        .position(|e| better(l.score, e.score))
        .unwrap_or(list.len());
    list.insert(at, l);
    list.truncate(keep);
    true
}

impl Library {
    /// Admits `candidates`, the most extreme scores first (strategies by descending score,
    /// failure patterns by ascending), until `rate` of them have entered; returns how
    /// many entered.
    pub fn learn(&mut self, mut candidates: Vec<Candidate>, keep: usize, rate: usize) -> usize {
        let rank = |c: &Candidate| {
            if c.success {
                -c.lesson.score
            } else {
                c.lesson.score
            }
        };
        candidates.sort_by(|a, b| rank(a).total_cmp(&rank(b)));
        let mut entered = 0;
        for c in candidates {
            if entered >= rate {
                break;
            }
            let cl = self.clusters.entry(c.key).or_default();
            let ok = if c.success {
                admit(&mut cl.worked, c.lesson, keep, |a, b| a > b)
            } else {
                admit(&mut cl.failed, c.lesson, keep, |a, b| a < b)
            };
            entered += ok as usize;
        }
        self.clusters
            .retain(|_, c| !c.worked.is_empty() || !c.failed.is_empty());
        entered
    }

    /// The line retrieved for an observation (empty when its cluster has no lesson).
    pub fn retrieve(&self, observation: &str) -> String {
        let Some(c) = self.clusters.get(&cluster_key(observation)) else {
            return String::new();
        };
        let join = |v: &[Lesson]| {
            v.iter()
                .map(|l| l.action.replace('\n', " "))
                .collect::<Vec<_>>()
                .join(" | ")
        };
        format!(
            "Experience: worked: {} ; failed: {}\n",
            join(&c.worked),
            join(&c.failed)
        )
    }

    /// Lessons kept, over all clusters.
    pub fn len(&self) -> usize {
        self.clusters
            .values()
            .map(|c| c.worked.len() + c.failed.len())
            .sum()
    }

    /// Whether no lesson is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the library did in one step (`slea_*` in `metrics.jsonl`).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct SleaReport {
    /// Lessons admitted this step.
    #[serde(rename = "slea_admitted")]
    pub admitted: usize,
    /// Lessons kept after the step.
    #[serde(rename = "slea_lessons")]
    pub lessons: usize,
    /// Clusters with a lesson after the step.
    #[serde(rename = "slea_clusters")]
    pub clusters: usize,
    /// Observations of the step that were shown a retrieved line.
    #[serde(rename = "slea_retrieved")]
    pub retrieved: usize,
}

/// SLEA-RL's hook: prepends the retrieved line to each observation and records each
/// observation's cluster key (one per turn, in order) for learning.
pub struct Retrieve {
    library: Arc<Library>,
    /// The raw observations, turn by turn: cluster key and whether the action taken there
    /// was valid.
    pub keys: Arc<Mutex<Vec<Seen>>>,
}

/// One observation an episode saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// Its cluster key.
    pub key: String,
    /// Whether the environment judged the action taken from it valid (`true` until the
    /// action is taken).
    pub valid: bool,
}

/// An environment whose observations carry retrieved experience.
pub type Experienced = Wrapped<Retrieve>;

impl Retrieve {
    /// A hook reading `library`; its keys are shared through the returned handle.
    pub fn new(library: Arc<Library>) -> (Retrieve, Arc<Mutex<Vec<Seen>>>) {
        let keys = Arc::new(Mutex::new(vec![]));
        (
            Retrieve {
                library,
                keys: keys.clone(),
            },
            keys,
        )
    }

    fn augment(&self, text: Text) -> Text {
        let raw = text.to_string();
        self.keys
            .lock()
            .expect("a key log's lock is never poisoned")
            .push(Seen {
                key: cluster_key(&raw),
                valid: true,
            });
        let line = self.library.retrieve(&raw);
        if line.is_empty() {
            text
        } else {
            Text::Owned(line + &raw)
        }
    }
}

impl Hook for Retrieve {
    fn reset(&mut self, inner: &mut dyn Env, seed: u64) -> Observation {
        let mut o = inner.reset(seed);
        o.text = self.augment(o.text);
        o
    }
    fn step(&mut self, inner: &mut dyn Env, action: &str) -> Step {
        let mut s = inner.step(action);
        if let Some(last) = self
            .keys
            .lock()
            .expect("a key log's lock is never poisoned")
            .last_mut()
        {
            last.valid = s.info.action_valid;
        }
        if !s.done() {
            s.observation = self.augment(s.observation);
        }
        s
    }
}

/// The candidate lessons of a played group: for each episode and turn t whose action was
/// valid, the parsed action `parse(t)` in cluster `seen[episode][t]`, scored by the rewards
/// from t on.
pub fn candidates(g: &Group, seen: &[Vec<Seen>], parse: impl Fn(&str) -> String) -> Vec<Candidate> {
    let mut out = vec![];
    for (t, k) in g.trajectories.iter().zip(seen) {
        let success = t.success == Some(true);
        let mut to_go = 0.0;
        let mut scored: Vec<(usize, f64)> = vec![];
        for (i, u) in t.turns.iter().enumerate().rev() {
            to_go += u.reward.unwrap_or(0.0);
            scored.push((i, to_go));
        }
        for (i, score) in scored.into_iter().rev() {
            let Some(at) = k.get(i).filter(|at| at.valid) else {
                continue;
            };
            out.push(Candidate {
                key: at.key.clone(),
                lesson: Lesson {
                    action: parse(&t.turns[i].action.text),
                    score,
                },
                success,
            });
        }
    }
    out
}

/// Observations of `g` that were shown a retrieved line.
pub fn retrieved(g: &Group) -> usize {
    g.trajectories
        .iter()
        .flat_map(|t| &t.turns)
        .filter(|u| u.observation.text.contains("Experience: worked:"))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(key: &str, action: &str, score: f64, success: bool) -> Candidate {
        Candidate {
            key: key.into(),
            lesson: Lesson {
                action: action.into(),
                score,
            },
            success,
        }
    }

    #[test]
    fn structure_ignores_numbers_and_spacing() {
        let a = cluster_key("You are at 3, 4.  Walls: left\n");
        assert_eq!(a, "You are at #, #. Walls: left");
        assert_eq!(a, cluster_key("You are at 12, 0. Walls: left"));
        assert_ne!(a, cluster_key("You are at 3, 4. Walls: right"));
    }

    #[test]
    fn admission_keeps_the_best_strategies_and_worst_failures() {
        let mut lib = Library::default();
        let n = lib.learn(
            vec![
                cand("k", "up", 1.0, true),
                cand("k", "down", 3.0, true),
                cand("k", "left", 2.0, true),
                cand("k", "up", 0.5, true), // worse than its own entry
                cand("k", "right", -4.0, false),
                cand("k", "down", -1.0, false),
            ],
            2,
            100,
        );
        let c = &lib.clusters["k"];
        let names = |v: &[Lesson]| v.iter().map(|l| l.action.clone()).collect::<Vec<_>>();
        assert_eq!(names(&c.worked), ["down", "left"]);
        assert_eq!(names(&c.failed), ["right", "down"]);
        assert_eq!(n, 4); // down, left, right, down; "up" (1.0) does not beat "left" (2.0)
                          // a candidate that does not beat the worst kept entry is refused
        assert_eq!(lib.learn(vec![cand("k", "stay", 1.5, true)], 2, 100), 0);
        // a better one replaces it
        assert_eq!(lib.learn(vec![cand("k", "stay", 2.5, true)], 2, 100), 1);
        assert_eq!(names(&lib.clusters["k"].worked), ["down", "stay"]);
    }

    #[test]
    fn the_rate_limits_admissions_best_first() {
        let mut lib = Library::default();
        let c: Vec<Candidate> = (0..10)
            .map(|i| cand(&format!("k{i}"), "a", i as f64, true))
            .collect();
        assert_eq!(lib.learn(c, 3, 4), 4);
        let keys: Vec<&String> = lib.clusters.keys().collect();
        assert_eq!(keys, ["k6", "k7", "k8", "k9"]);
        assert_eq!(lib.len(), 4);
    }

    #[test]
    fn retrieval_follows_the_observations_cluster() {
        let mut lib = Library::default();
        lib.learn(
            vec![
                cand("At #: wall left", "move up", 0.0, true),
                cand("At #: wall left", "move left", -5.0, false),
            ],
            2,
            10,
        );
        let lib = Arc::new(lib);
        assert_eq!(
            lib.retrieve("At 7: wall left"),
            "Experience: worked: move up ; failed: move left\n"
        );
        assert_eq!(lib.retrieve("At 7: wall right"), "");
        // the wrapper prepends the line and logs the raw observation's cluster
        let env = crate::train::envs::make_envs(&crate::config::Config::default(), 1, &[])
            .unwrap()
            .remove(0);
        let (hook, keys) = Retrieve::new(lib);
        let mut w = Experienced::new(env, hook);
        let o = w.reset(3);
        let s = w.step("move up");
        let logged = keys.lock().unwrap().clone();
        assert_eq!(logged.len(), 1 + usize::from(!s.done()));
        assert!(!o.text.to_string().starts_with("Experience:"));
        assert_eq!(logged[0].key, cluster_key(o.text.as_ref()));
        assert_eq!(logged[0].valid, s.info.action_valid);
        // an illegal move is logged as invalid (so it never becomes a lesson)
        w.reset(3);
        let s = w.step("move leftmove leftmove down");
        assert!(!s.info.action_valid);
        let logged = keys.lock().unwrap().clone();
        let stepped = logged.len() - 1 - usize::from(!s.done());
        assert!(!logged[stepped].valid, "{logged:?}");
    }

    #[test]
    fn candidates_score_actions_by_the_return_that_followed() {
        use turnwise_core::{trajectory::Text as T, Trajectory, Turn};
        let turn = |a: &str, r: f64| Turn {
            action: T {
                text: a.into(),
                token_ids: vec![],
            },
            reward: Some(r),
            ..Turn::default()
        };
        let g = Group {
            trajectories: vec![Trajectory {
                turns: vec![turn("a\n", -1.0), turn("b\n", -1.0), turn("c\n", 0.0)],
                success: Some(true),
                ..Trajectory::default()
            }],
            ..Group::default()
        };
        let seen = |valid: [bool; 3]| {
            vec![["x", "y", "x"]
                .iter()
                .zip(valid)
                .map(|(k, valid)| Seen {
                    key: k.to_string(),
                    valid,
                })
                .collect::<Vec<_>>()]
        };
        let got = |c: &[Candidate]| -> Vec<(String, String, f64)> {
            c.iter()
                .map(|c| (c.key.clone(), c.lesson.action.clone(), c.lesson.score))
                .collect()
        };
        let c = candidates(&g, &seen([true; 3]), |s| s.trim().to_string());
        let want = [("x", "a", -2.0), ("y", "b", -1.0), ("x", "c", 0.0)];
        let want: Vec<(String, String, f64)> = want
            .iter()
            .map(|(k, a, r)| (k.to_string(), a.to_string(), *r))
            .collect();
        assert_eq!(got(&c), want);
        assert!(c.iter().all(|c| c.success));
        // An invalid action is no lesson; the returns of the others are unchanged.
        let c = candidates(&g, &seen([true, false, true]), |s| s.trim().to_string());
        assert_eq!(got(&c), [want[0].clone(), want[2].clone()]);
    }
}
