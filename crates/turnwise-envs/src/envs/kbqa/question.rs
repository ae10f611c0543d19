//! Multi-hop questions over the world: a chain of `hops − 1` relations from a named start
//! entity, then a final attribute or relation. Answering needs the documents of the `hops`
//! entities of the chain, in order; the ground-truth tool trace searches for and opens each
//! of them (MatchTIR's `gt_tool_calls`), then answers.

use rand::seq::IndexedRandom;
use rand::Rng as _;
use serde_json::json;
use turnwise_core::seed::Rng;
use turnwise_core::ToolCall;

use super::world::{Attr, Kind, Rel, World};

/// What the question asks about the chain's last entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Final {
    Attr(Attr),
    Rel(Rel),
}

/// A generated question with its answer and ground-truth trace.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Question {
    /// The question text.
    pub text: String,
    /// The gold answer.
    pub answer: String,
    /// The entities whose documents the answer needs, in order.
    pub chain: Vec<usize>,
    /// The ground-truth tool calls: `search` then `open` for each chain entity.
    pub trace: Vec<ToolCall>,
}

fn relations(k: Kind) -> &'static [Rel] {
    match k {
        Kind::Person => &[Rel::Birthplace, Rel::Employer, Rel::Mentor],
        Kind::Org => &[Rel::Headquarters, Rel::Founder],
        Kind::City => &[Rel::Country, Rel::Mayor],
        Kind::Country => &[Rel::Capital],
    }
}

fn finals(k: Kind) -> &'static [Final] {
    match k {
        Kind::Person => &[
            Final::Attr(Attr::BirthYear),
            Final::Attr(Attr::Occupation),
            Final::Rel(Rel::Birthplace),
            Final::Rel(Rel::Employer),
            Final::Rel(Rel::Mentor),
        ],
        Kind::Org => &[
            Final::Attr(Attr::Founded),
            Final::Attr(Attr::Industry),
            Final::Rel(Rel::Headquarters),
            Final::Rel(Rel::Founder),
        ],
        Kind::City => &[
            Final::Attr(Attr::Founded),
            Final::Rel(Rel::Country),
            Final::Rel(Rel::Mayor),
        ],
        Kind::Country => &[Final::Attr(Attr::Language), Final::Rel(Rel::Capital)],
    }
}

fn phrase(r: Rel, x: &str) -> String {
    match r {
        Rel::Birthplace => format!("the birthplace of {x}"),
        Rel::Employer => format!("the employer of {x}"),
        Rel::Mentor => format!("the mentor of {x}"),
        Rel::Headquarters => format!("the headquarters city of {x}"),
        Rel::Founder => format!("the founder of {x}"),
        Rel::Country => format!("the country of {x}"),
        Rel::Mayor => format!("the mayor of {x}"),
        Rel::Capital => format!("the capital of {x}"),
    }
}

fn ask(f: Final, x: &str) -> String {
    match f {
        Final::Attr(Attr::BirthYear) => format!("In what year was {x} born?"),
        Final::Attr(Attr::Occupation) => format!("What is the occupation of {x}?"),
        Final::Attr(Attr::Founded) => format!("In what year was {x} founded?"),
        Final::Attr(Attr::Industry) => format!("In which industry does {x} work?"),
        Final::Attr(Attr::Language) => format!("What is the official language of {x}?"),
        Final::Rel(r @ (Rel::Mentor | Rel::Founder | Rel::Mayor)) => {
            format!("Who is {}?", phrase(r, x))
        }
        Final::Rel(r) => format!("What is {}?", phrase(r, x)),
    }
}

fn call(name: &str, key: &str, value: &str) -> ToolCall {
    ToolCall {
        name: name.to_owned(),
        arguments: json!({ key: value }),
    }
}

/// A question needing `hops` documents (1..=4), drawn with `rng`.
pub fn generate(world: &World, hops: usize, rng: &mut Rng) -> Question {
    loop {
        let start = rng.random_range(0..world.entities.len());
        let mut chain = vec![start];
        let mut rels = Vec::new();
        while chain.len() < hops {
            let e = &world.entities[*chain.last().unwrap()];
            let r = *relations(e.kind).choose(rng).unwrap();
            rels.push(r);
            chain.push(e.rel(r).unwrap());
        }
        let last = &world.entities[*chain.last().unwrap()];
        let f = *finals(last.kind).choose(rng).unwrap();
        let answer = match f {
            Final::Attr(a) => last.attr(a).unwrap().to_owned(),
            Final::Rel(r) => {
                let t = last.rel(r).unwrap();
                if chain.contains(&t) {
                    continue;
                }
                world.entities[t].name.clone()
            }
        };
        // Every hop must be needed: no entity twice in the chain.
        let mut seen = chain.clone();
        seen.sort_unstable();
        seen.dedup();
        if seen.len() != chain.len() {
            continue;
        }
        let mut np = world.entities[start].name.clone();
        for r in &rels {
            np = phrase(*r, &np);
        }
        let trace = chain
            .iter()
            .flat_map(|&i| {
                let n = &world.entities[i].name;
                [call("search", "query", n), call("open", "title", n)]
            })
            .collect();
        return Question {
            text: ask(f, &np),
            answer,
            chain,
            trace,
        };
    }
}
