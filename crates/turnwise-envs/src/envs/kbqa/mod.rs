//! `tools/kbqa`: multi-hop question answering with tools over a generated fictional
//! knowledge base (spec `environments.md` §10 row 7; the tool-use setting of MatchTIR and
//! IGPO, §6–§7).
//!
//! - A seeded world ([`world`]) of 2,720 short documents; a question ([`question`]) needs
//!   `hops` (1–4) of them, in order.
//! - Tools, called in the Hermes / Qwen format ([`crate::tools`]): `search(query)` (BM25
//!   top-k titles with snippets, [`index`]), `open(title)`, `answer(text)` (ends the
//!   episode). Each turn's calls run in order; their results come back as
//!   `<tool_response>` blocks. A malformed or unknown call gets an error response.
//! - Reward on the answer: token F1 (default) or exact match ([`answer`]); format
//!   penalties `invalid_penalty` (a malformed or failing call) and `empty_penalty` (no call).
//! - The gold answer ([`Env::gold_action`]) and the ground-truth trace
//!   ([`Env::reference_tool_calls`]) are exposed; the expert follows the trace.

pub mod answer;
pub mod index;
pub mod question;
pub mod world;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Value};
use turnwise_core::ToolCall;

use crate::env::{ActionFormat, Env, Info, Observation, Step, Text};
use crate::error::EnvError;
use crate::options::{OptionKind, OptionSpec, Options};
use crate::registry::EnvSpec;
use crate::seeding::episode_rng;
use crate::tools;
use index::Index;
use question::Question;
use world::World;

/// Most calls run per turn; later ones get an error response.
pub const MAX_CALLS_PER_TURN: usize = 5;

/// A world with its search index, shared by every environment built with its seed.
pub struct Corpus {
    /// Entities and documents.
    pub world: World,
    /// BM25 over the documents.
    pub index: Index,
}

/// The corpus of world `seed`, generated once per process.
pub fn corpus(seed: u64) -> Arc<Corpus> {
    static CACHE: OnceLock<Mutex<HashMap<u64, Arc<Corpus>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    map.entry(seed)
        .or_insert_with(|| {
            let world = World::generate(seed);
            let index = Index::build(&world);
            Arc::new(Corpus { world, index })
        })
        .clone()
}

/// Which answer score is the reward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RewardKind {
    F1,
    Em,
}

/// The `tools/kbqa` environment.
#[derive(Clone)]
pub struct KbQa {
    corpus: Arc<Corpus>,
    hops: usize,
    top_k: usize,
    max_turns: usize,
    reward: RewardKind,
    invalid_penalty: f64,
    empty_penalty: f64,
    invalid_consumes_turn: bool,
    q: Question,
    turns: usize,
    done: bool,
    /// Calls that ran without error this episode (name + arguments), for the expert.
    made: Vec<ToolCall>,
    opened: BTreeSet<usize>,
}

/// The outcome of one call.
enum CallResult {
    Response(String),
    Error(String),
    Answer(String),
}

impl KbQa {
    /// The current question.
    pub fn question(&self) -> &Question {
        &self.q
    }

    fn arg<'a>(call: &'a ToolCall, key: &str) -> Result<&'a str, String> {
        match call.arguments.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
            _ => Err(format!(
                "{} needs a non-empty string argument \"{key}\"",
                call.name
            )),
        }
    }

    fn run(&mut self, call: &ToolCall) -> CallResult {
        let w = &self.corpus.world;
        let r = match call.name.as_str() {
            "search" => Self::arg(call, "query").map(|q| {
                let hits = self.corpus.index.search(q, self.top_k);
                if hits.is_empty() {
                    return format!("No results for \"{q}\".");
                }
                hits.iter()
                    .enumerate()
                    .map(|(k, h)| {
                        let snip = index::snippet(&w.docs[h.doc], q);
                        format!("{}. {}: {snip}", k + 1, w.entities[h.doc].name)
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            }),
            "open" => Self::arg(call, "title").and_then(|t| match w.find(t) {
                Some(i) => {
                    self.opened.insert(i);
                    Ok(format!("{}\n{}", w.entities[i].name, w.docs[i]))
                }
                None => Err(format!(
                    "no document is titled \"{t}\"; search for it and open a title from the results"
                )),
            }),
            "answer" => {
                return match Self::arg(call, "text") {
                    Ok(a) => CallResult::Answer(a.to_owned()),
                    Err(e) => CallResult::Error(e),
                }
            }
            other => Err(format!(
                "unknown tool `{other}`; the tools are search, open and answer"
            )),
        };
        match r {
            Ok(s) => {
                self.made.push(call.clone());
                CallResult::Response(s)
            }
            Err(e) => CallResult::Error(e),
        }
    }

    fn info(&self) -> Info {
        let opened: Vec<String> = self.opened.iter().map(|i| i.to_string()).collect();
        Info {
            ground_truth: Some(Text::Owned(self.q.answer.clone())),
            state_key: Some(Text::Owned(format!("{}|{}", self.q.text, opened.join(",")))),
            ..Info::default()
        }
    }
}

/// The task text shown before the first question.
fn instructions() -> String {
    let fns = [
        tools::function(
            "search",
            "Search the knowledge base; returns the titles of the best matching documents with a snippet.",
            "query",
            "words to search for",
        ),
        tools::function(
            "open",
            "Open the document with this exact title and return its text.",
            "title",
            "a document title",
        ),
        tools::function(
            "answer",
            "Give the final answer; this ends the episode.",
            "text",
            "the answer only, e.g. a name or a year",
        ),
    ];
    format!(
        "{}\n\nAnswer the question using the knowledge base: search for documents, open them, and call answer with the answer only.",
        tools::tools_block(&fns)
    )
}

impl Env for KbQa {
    crate::snapshot_by_clone!();

    fn reset(&mut self, seed: u64) -> Observation {
        let mut rng = episode_rng(SPEC.name, seed);
        self.q = question::generate(&self.corpus.world, self.hops, &mut rng);
        self.turns = 0;
        self.done = false;
        self.made.clear();
        self.opened.clear();
        let mut info = self.info();
        info.action_valid = true;
        Observation {
            text: Text::Owned(format!("Question: {}", self.q.text)),
            info,
        }
    }

    fn step(&mut self, action: &str) -> Step {
        if self.done {
            return Step {
                terminated: true,
                ..Step::default()
            };
        }
        self.turns += 1;
        let parsed = tools::parse_calls(action);
        let mut responses = Vec::new();
        let mut calls = Vec::new();
        let (mut errors, mut ran) = (0usize, 0usize);
        let mut answer = None;
        if parsed.is_empty() {
            responses.push(tools::format_response(
                "Error: no tool call found. Call a tool as <tool_call>{\"name\": \"search\", \"arguments\": {\"query\": \"...\"}}</tool_call>.",
            ));
        }
        for (k, p) in parsed.into_iter().enumerate() {
            let text = match p {
                _ if k >= MAX_CALLS_PER_TURN => {
                    errors += 1;
                    format!("Error: at most {MAX_CALLS_PER_TURN} calls per turn")
                }
                Err(e) => {
                    errors += 1;
                    format!("Error: {e}")
                }
                Ok(call) => {
                    let r = self.run(&call);
                    match r {
                        CallResult::Response(s) => {
                            ran += 1;
                            calls.push(call);
                            s
                        }
                        CallResult::Error(e) => {
                            errors += 1;
                            if call.name != "answer" {
                                calls.push(call);
                            }
                            format!("Error: {e}")
                        }
                        CallResult::Answer(a) => {
                            answer = Some(a);
                            break;
                        }
                    }
                }
            };
            responses.push(tools::format_response(&text));
        }
        let mut reward = 0.0;
        if ran + errors == 0 && answer.is_none() {
            reward += self.empty_penalty;
        }
        if errors > 0 {
            reward += self.invalid_penalty;
        }
        let mut info = self.info();
        info.action_valid = errors == 0 && (ran > 0 || answer.is_some());
        info.action_effective = ran > 0 || answer.is_some();
        info.tool_calls = Some(calls);
        let mut terminated = false;
        if let Some(a) = &answer {
            let f1 = answer::token_f1(a, &self.q.answer);
            let em = answer::exact_match(a, &self.q.answer);
            reward += match self.reward {
                RewardKind::F1 => f1,
                RewardKind::Em => f64::from(u8::from(em)),
            };
            info.success = em;
            info.answer_f1 = Some(f1);
            terminated = true;
            self.done = true;
        }
        if !info.action_valid && !self.invalid_consumes_turn {
            self.turns -= 1;
        }
        let truncated = !terminated && self.turns >= self.max_turns;
        self.done |= truncated;
        Step {
            observation: Text::Owned(responses.join("\n")),
            reward,
            terminated,
            truncated,
            info,
        }
    }

    fn instructions(&self) -> Text {
        static I: OnceLock<String> = OnceLock::new();
        Text::Borrowed(I.get_or_init(instructions))
    }

    fn action_format(&self) -> ActionFormat {
        ActionFormat::ToolCall
    }

    fn budget_left(&self) -> Option<u32> {
        Some(self.max_turns.saturating_sub(self.turns) as u32)
    }

    /// The first call of the ground-truth trace this episode has not made yet, then the
    /// answer.
    fn expert_action(&self) -> Option<String> {
        if self.done {
            return None;
        }
        let next = self.q.trace.iter().find(|c| !self.made.contains(c));
        Some(match next {
            Some(c) => tools::format_call(&c.name, &c.arguments),
            None => self.gold_action().unwrap_or_default(),
        })
    }

    fn action_space(&self) -> Vec<Text> {
        let w = &self.corpus.world;
        let first = &w.entities[self.q.chain[0]].name;
        let other = &w.entities[(self.q.chain[0] + 1) % w.entities.len()].name;
        [
            tools::format_call("search", &json!({"query": first})),
            tools::format_call("open", &json!({"title": first})),
            tools::format_call("open", &json!({"title": other})),
            tools::format_call("answer", &json!({"text": other})),
        ]
        .into_iter()
        .map(Text::Owned)
        .collect()
    }

    /// `answer(text = the gold answer)` as a tool call.
    fn gold_action(&self) -> Option<String> {
        Some(tools::format_call(
            "answer",
            &json!({"text": self.q.answer}),
        ))
    }

    /// MatchTIR's inputs: each step's `tool_calls` and `answer_f1`, the task's
    /// `gt_tool_calls` ([`Env::reference_tool_calls`]).
    fn credit_fields(&self) -> &'static [&'static str] {
        &["tool_calls", "answer_f1", "gt_tool_calls"]
    }

    fn reference_tool_calls(&self) -> Option<Vec<ToolCall>> {
        Some(self.q.trace.clone())
    }
}

fn make(opts: &Options) -> Result<Box<dyn Env>, EnvError> {
    let hops = opts.count("hops", 1, 4)?;
    let max_turns = opts.count("max_turns", 1, 1000)?;
    Ok(Box::new(KbQa {
        corpus: corpus(opts.int("world") as u64),
        hops,
        top_k: opts.count("top_k", 1, 50)?,
        max_turns,
        reward: match opts.str("reward") {
            "em" => RewardKind::Em,
            _ => RewardKind::F1,
        },
        invalid_penalty: opts.float("invalid_penalty"),
        empty_penalty: opts.float("empty_penalty"),
        invalid_consumes_turn: opts.bool("invalid_consumes_turn"),
        q: Question::default(),
        turns: 0,
        done: true,
        made: Vec::new(),
        opened: BTreeSet::new(),
    }))
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "hops",
        kind: OptionKind::Int,
        default: "2",
        doc: "1..=4: documents the question needs, in order",
    },
    OptionSpec {
        name: "world",
        kind: OptionKind::Int,
        default: "0",
        doc: "seed of the generated world (2,720 documents); episode seeds pick questions",
    },
    OptionSpec {
        name: "top_k",
        kind: OptionKind::Int,
        default: "5",
        doc: "search results per query",
    },
    OptionSpec {
        name: "max_turns",
        kind: OptionKind::Int,
        default: "12",
        doc: "turns before the episode is truncated (the expert needs 2·hops + 1)",
    },
    OptionSpec {
        name: "reward",
        kind: OptionKind::Choice(&["f1", "em"]),
        default: "f1",
        doc: "answer reward: SQuAD token F1 (IGPO) or exact match (Search-R1)",
    },
    OptionSpec {
        name: "invalid_penalty",
        kind: OptionKind::Float,
        default: "0",
        doc: "added to a turn with a malformed, unknown or failing call (MatchTIR: -0.3)",
    },
    OptionSpec {
        name: "empty_penalty",
        kind: OptionKind::Float,
        default: "0",
        doc: "added to a turn without any tool call (MatchTIR: -0.5)",
    },
    OptionSpec {
        name: "invalid_consumes_turn",
        kind: OptionKind::Bool,
        default: "true",
        doc: "an invalid turn (no valid call) counts towards max_turns",
    },
];

/// `tools/kbqa`.
pub static SPEC: EnvSpec = EnvSpec {
    name: "tools/kbqa",
    doc: "Multi-hop QA with tools over a generated fictional knowledge base (2,720 documents): search (BM25), open, answer, as Hermes/Qwen <tool_call> JSON; reward token F1 or EM; gold answer and ground-truth tool trace exposed.",
    options: OPTIONS,
    make,
};
