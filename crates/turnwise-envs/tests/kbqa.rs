//! `tools/kbqa`: the expert solves every hop count, the ground-truth searches find their
//! documents, malformed calls get error observations, episodes are deterministic.

use std::collections::HashSet;

use turnwise_envs::envs::kbqa::{self, answer};
use turnwise_envs::render::Style;
use turnwise_envs::{registry, tools, Env};

fn env(hops: usize) -> Box<dyn Env> {
    registry::make("tools/kbqa", &[("hops".into(), hops.to_string())]).unwrap()
}

#[test]
fn expert_solves_every_hop_count() {
    for hops in 1..=4 {
        let mut e = env(hops);
        let episodes = 150;
        let mut solved = 0;
        for seed in 0..episodes {
            e.reset(seed);
            let trace = e.reference_tool_calls().unwrap();
            assert_eq!(trace.len(), 2 * hops, "search + open per hop");
            let mut turns = 0;
            let mut ret = 0.0;
            loop {
                let a = e.expert_action().expect("episode not over");
                let s = e.step(&a);
                turns += 1;
                ret += s.reward;
                assert!(
                    s.info.action_valid,
                    "expert call invalid: {a} -> {}",
                    s.observation
                );
                if s.done() {
                    assert!(s.terminated);
                    solved += usize::from(s.info.success);
                    assert_eq!(s.info.answer_f1, Some(1.0));
                    break;
                }
            }
            assert_eq!(turns, 2 * hops + 1);
            assert_eq!(ret, 1.0);
        }
        assert_eq!(solved, episodes as usize, "hops {hops}");
    }
}

#[test]
fn ground_truth_searches_find_their_documents() {
    let c = kbqa::corpus(0);
    for hops in 1..=4 {
        let mut e = env(hops);
        for seed in 0..100 {
            e.reset(seed);
            for call in e.reference_tool_calls().unwrap() {
                if call.name == "search" {
                    let q = call.arguments["query"].as_str().unwrap();
                    let hits = c.index.search(q, 5);
                    assert!(
                        hits.iter().any(|h| c.world.entities[h.doc].name == q),
                        "search {q:?} misses its document"
                    );
                }
            }
        }
    }
}

#[test]
fn world_has_thousands_of_uniquely_named_documents() {
    let c = kbqa::corpus(0);
    assert_eq!(c.world.docs.len(), 2720);
    let names: HashSet<String> = c
        .world
        .entities
        .iter()
        .map(|e| e.name.to_lowercase())
        .collect();
    assert_eq!(names.len(), 2720);
    let other = kbqa::corpus(1);
    assert_ne!(
        c.world.docs[0], other.world.docs[0],
        "world seed changes the world"
    );
}

#[test]
fn malformed_calls_get_error_observations() {
    let mut e = env(2);
    e.reset(3);
    let cases = [
        ("no call at all", "no tool call found"),
        ("<tool_call>{not json}</tool_call>", "not valid JSON"),
        ("<tool_call>{\"name\": \"search\"", "unclosed"),
        ("<tool_call>{\"name\": \"fly\", \"arguments\": {}}</tool_call>", "unknown tool"),
        ("<tool_call>{\"name\": \"search\", \"arguments\": {}}</tool_call>", "\"query\""),
        ("<tool_call>{\"name\": \"open\", \"arguments\": {\"title\": \"Nowhere Atall\"}}</tool_call>", "no document is titled"),
        ("<tool_call>{\"name\": \"answer\", \"arguments\": {\"text\": 3}}</tool_call>", "\"text\""),
        ("<tool_call>[1, 2]</tool_call>", "JSON object"),
    ];
    for (a, want) in cases {
        let s = e.step(a);
        assert!(!s.info.action_valid, "{a}");
        assert!(s.observation.contains(want), "{a}: {}", s.observation);
        assert!(s.observation.starts_with("<tool_response>"));
        assert!(!s.done());
    }
    assert!(
        !Style::Faithful
            .parse(&*e, "<tool_call>{x}</tool_call>")
            .format_ok
    );
}

#[test]
fn penalties_and_truncation() {
    let mut e = registry::make(
        "tools/kbqa",
        &[
            ("invalid_penalty".into(), "-0.3".into()),
            ("empty_penalty".into(), "-0.5".into()),
            ("max_turns".into(), "3".into()),
        ],
    )
    .unwrap();
    e.reset(0);
    assert_eq!(e.step("nothing").reward, -0.5);
    assert_eq!(e.step("<tool_call>{}</tool_call>").reward, -0.3);
    let s =
        e.step("<tool_call>{\"name\": \"search\", \"arguments\": {\"query\": \"x\"}}</tool_call>");
    assert!(s.truncated && !s.terminated);
    assert_eq!(s.reward, 0.0);
    assert!(e.expert_action().is_none());
}

#[test]
fn answers_are_scored_by_f1_or_em() {
    let mut e = env(1);
    e.reset(5);
    let gold = e.reference_tool_calls().unwrap();
    assert_eq!(gold.len(), 2);
    let ans = e.step(&e.gold_action().unwrap());
    assert!(ans.terminated && ans.info.success && ans.reward == 1.0);
    e.reset(5);
    let truth = e.reset(5).info.ground_truth.unwrap().into_owned();
    let wrong = format!("{truth} extra words");
    let s = e.step(&tools::format_call(
        "answer",
        &serde_json::json!({"text": wrong}),
    ));
    assert_eq!(s.reward, answer::token_f1(&wrong, &truth));
    assert!(s.reward > 0.0 && s.reward < 1.0 && !s.info.success);
    let mut em = registry::make("tools/kbqa", &[("reward".into(), "em".into())]).unwrap();
    em.reset(5);
    let s = em.step(&tools::format_call(
        "answer",
        &serde_json::json!({"text": wrong}),
    ));
    assert_eq!(s.reward, 0.0);
}

#[test]
fn episodes_are_deterministic_and_calls_recorded() {
    let (mut a, mut b) = (env(3), env(3));
    for seed in 0..20 {
        assert_eq!(a.reset(seed), b.reset(seed));
        let x = a.expert_action().unwrap();
        let (sa, sb) = (a.step(&x), b.step(&x));
        assert_eq!(sa, sb);
        let calls = sa.info.tool_calls.unwrap();
        assert_eq!(calls, a.reference_tool_calls().unwrap()[..1].to_vec());
    }
}
