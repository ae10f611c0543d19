//! The rollout's order of generation and environment steps: in-process environments
//! generate the whole batch in one sampler call per turn, environments behind a server
//! (`Env::is_remote`) in two halves (one half steps while the other generates). A sampler
//! that answers each context on its own plays the same episodes either way.

use std::sync::Mutex;

use turnwise_core::seed::Rng;
use turnwise_core::Group;
use turnwise_envs::{ActionFormat, Env, Observation, Step, Text};
use turnwise_train::config::{self, Config};
use turnwise_train::policy::generate::{Generated, SampleSpec};
use turnwise_train::policy::{PolicyTokenizer, WordTokenizer};
use turnwise_train::rollout::{self, HistorySpec, RolloutSpec, Sampler};
use turnwise_train::train::envs::{make_envs, vocabulary_texts};

const MOVES: [&str; 4] = ["move up\n", "move down\n", "move left\n", "move right\n"];

/// Answers each context with a move chosen by a hash of its ids (no random stream), and
/// records the batch size of every call.
struct ByContext {
    tok: PolicyTokenizer,
    calls: Mutex<Vec<usize>>,
}

impl Sampler for ByContext {
    fn tokenizer(&self) -> &PolicyTokenizer {
        &self.tok
    }

    fn generate(
        &self,
        contexts: &[Vec<u32>],
        _spec: &SampleSpec,
        _rng: &mut Rng,
    ) -> anyhow::Result<Vec<Generated>> {
        self.calls.lock().unwrap().push(contexts.len());
        contexts
            .iter()
            .map(|c| {
                let h = c
                    .iter()
                    .fold(c.len() as u64, |h, &id| h.wrapping_mul(31) ^ id as u64);
                let ids = self.tok.encode(MOVES[(h % 4) as usize])?;
                Ok(Generated {
                    logprobs: vec![-1.0; ids.len()],
                    ids,
                    stopped: true,
                })
            })
            .collect()
    }
}

/// An in-process environment that reports itself as remote (as a server's client does).
struct Remote(Box<dyn Env>);

impl Env for Remote {
    fn reset(&mut self, seed: u64) -> Observation {
        self.0.reset(seed)
    }
    fn step(&mut self, action: &str) -> Step {
        self.0.step(action)
    }
    fn instructions(&self) -> Text {
        self.0.instructions()
    }
    fn stop(&self) -> Option<&'static str> {
        self.0.stop()
    }
    fn action_format(&self) -> ActionFormat {
        self.0.action_format()
    }
    fn expert_action(&self) -> Option<String> {
        self.0.expert_action()
    }
    fn action_space(&self) -> Vec<Text> {
        self.0.action_space()
    }
    fn credit_fields(&self) -> &'static [&'static str] {
        self.0.credit_fields()
    }
    fn is_remote(&self) -> bool {
        true
    }
}

fn setup() -> (Config, ByContext, RolloutSpec) {
    let cfg = config::load(None, &[] as &[String]).unwrap();
    let texts = vocabulary_texts(&cfg, &[]).unwrap();
    let tok = PolicyTokenizer::Word(WordTokenizer::build(texts.iter().map(String::as_str)));
    let spec = RolloutSpec {
        max_turns: 12,
        max_context: 128,
        history: HistorySpec {
            mode: cfg.env.history,
            k: cfg.env.history_k,
            bos: tok.bos(),
        },
        sample: SampleSpec {
            max_new: 6,
            stop: tok.id("\n"),
            eos: None,
            stop_text: None,
            temperature: 1.0,
            greedy: false,
        },
        style: turnwise_train::train::envs::STYLE,
        format: rollout::Format::Text,
    };
    let sampler = ByContext {
        tok,
        calls: Mutex::new(vec![]),
    };
    (cfg, sampler, spec)
}

/// Two task seeds, four episodes each; `remote` wraps every environment in [`Remote`].
fn play(remote: bool) -> (Vec<Group>, Vec<usize>) {
    let (cfg, sampler, spec) = setup();
    let mut envs = make_envs(&cfg, 8, &[]).unwrap();
    if remote {
        envs = envs
            .into_iter()
            .map(|e| Box::new(Remote(e)) as Box<dyn Env>)
            .collect();
    }
    let mut rng = turnwise_core::seed::rng(0, 1);
    let (groups, stats) =
        rollout::collect(&sampler, envs, &[3, 17], "lmrl/maze-fo", &spec, &mut rng).unwrap();
    let calls = sampler.calls.into_inner().unwrap();
    assert_eq!(calls.iter().sum::<usize>(), stats.env_steps);
    (groups, calls)
}

fn turns(groups: &[Group]) -> Vec<usize> {
    groups
        .iter()
        .flat_map(|g| g.trajectories.iter().map(|t| t.turns.len()))
        .collect()
}

#[test]
fn in_process_environments_generate_the_whole_batch_in_one_call_per_turn() {
    let (groups, calls) = play(false);
    let turns = turns(&groups);
    assert!(turns.iter().any(|&t| t > 1), "episodes last several turns");
    // One call per turn of the longest episode; call k serves every episode still playing.
    assert_eq!(calls.len(), *turns.iter().max().unwrap());
    for (k, &n) in calls.iter().enumerate() {
        assert_eq!(n, turns.iter().filter(|&&t| t > k).count(), "turn {k}");
    }
}

#[test]
fn remote_environments_generate_in_halves_and_play_the_same_episodes() {
    let (local, _) = play(false);
    let (remote, calls) = play(true);
    // The first call is the first half of the batch; no call serves more than a half.
    assert_eq!(calls[0], 4);
    assert!(calls.iter().all(|&n| n <= 4));
    assert!(calls.len() > turns(&local).into_iter().max().unwrap());
    assert_eq!(local, remote);
}
