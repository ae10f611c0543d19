//! `env.format = "chat"`: rollouts render episodes with the model's chat template, grown
//! by token ids only. A scripted sampler plays LMRL maze episodes with SmolLM2-135M-Instruct's
//! real tokenizer (ChatML): the contexts it was given are the contexts the trainer scores,
//! the whole episode's text is the template's rendering of the conversation, the end-of-turn
//! token the model sampled is its own (the template's copy is dropped) while an action cut
//! off by the budget gets the template's closing, actions parse at the end of the message,
//! and the loss mask is the sampled ids' span whatever the template.

use std::sync::Mutex;

use turnwise_core::seed::Rng;
use turnwise_core::Batch;
use turnwise_envs::render::{Style, TurnCtx};
use turnwise_envs::Env;
use turnwise_model::tokenizer::Message;
use turnwise_train::config::HistoryMode;
use turnwise_train::policy::generate::{Generated, SampleSpec};
use turnwise_train::policy::PolicyTokenizer;
use turnwise_train::rollout::{self, context_of, Format, HistorySpec, RolloutSpec, Sampler};
use turnwise_train::train::rows::RowSet;

/// Per turn: the action text and whether the model "sampled" its end-of-turn token.
const SCRIPT: [(&str, bool); 3] = [("move up", true), ("move down", false), ("move left", true)];

/// Plays [`SCRIPT`] and records every context it is given.
struct Scripted {
    tok: PolicyTokenizer,
    seen: Mutex<Vec<Vec<u32>>>,
}

impl Sampler for Scripted {
    fn tokenizer(&self) -> &PolicyTokenizer {
        &self.tok
    }

    fn generate(
        &self,
        contexts: &[Vec<u32>],
        spec: &SampleSpec,
        _rng: &mut Rng,
    ) -> anyhow::Result<Vec<Generated>> {
        let eos = spec.eos.expect("SmolLM2 has an end-of-turn token");
        let mut seen = self.seen.lock().unwrap();
        let mut out = Vec::new();
        for c in contexts {
            // The turn: how many earlier (distinct) contexts this one extends.
            let turn = seen
                .iter()
                .filter(|s| c.len() > s.len() && c.starts_with(s))
                .count();
            if !seen.contains(c) {
                seen.push(c.clone());
            }
            let (text, stops) = SCRIPT[turn];
            out.push(reply(&self.tok, text, stops.then_some(eos))?);
        }
        Ok(out)
    }
}

/// A scripted reply: the ids of `text`, then the end-of-turn token `eos` if the model
/// "sampled" it.
fn reply(tok: &PolicyTokenizer, text: &str, eos: Option<u32>) -> anyhow::Result<Generated> {
    let mut ids = tok.encode(text)?;
    ids.extend(eos);
    Ok(Generated {
        logprobs: vec![-0.5; ids.len()],
        ids,
        stopped: eos.is_some(),
    })
}

fn smollm2() -> PolicyTokenizer {
    let gguf = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../.models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        gguf.exists(),
        "{} missing: run scripts/setup.d/20-model.sh",
        gguf.display()
    );
    PolicyTokenizer::from_dir(&gguf).unwrap()
}

fn spec(tok: &PolicyTokenizer) -> RolloutSpec {
    RolloutSpec {
        max_turns: SCRIPT.len(),
        max_context: 4096,
        history: HistorySpec {
            mode: HistoryMode::Full,
            k: 0,
            bos: None,
        },
        sample: SampleSpec {
            max_new: 8,
            stop: None,
            eos: tok.eos(),
            stop_text: Some("\n"),
            temperature: 1.0,
            greedy: false,
        },
        style: Style::Faithful,
        format: Format::Chat,
    }
}

fn maze() -> Box<dyn Env> {
    turnwise_envs::registry::make("lmrl/maze-fo", &[]).unwrap()
}

#[test]
fn chat_episodes_grow_by_token_ids_and_render_as_the_template_does() {
    let sampler = Scripted {
        tok: smollm2(),
        seen: Mutex::new(vec![]),
    };
    let tok = &sampler.tok;
    let PolicyTokenizer::Hf(hf) = tok else {
        panic!("a Hugging Face tokenizer")
    };
    let eos = tok.eos().unwrap();
    let spec = spec(tok);
    let seed = 11;
    let mut rng = turnwise_core::seed::rng(0, 1);
    let (groups, _) = rollout::collect(
        &sampler,
        vec![maze(), maze()],
        &[seed],
        "lmrl/maze-fo",
        &spec,
        &mut rng,
    )
    .unwrap();
    let seen = sampler.seen.lock().unwrap().clone();
    let batch = Batch { groups };
    let traj = batch.trajectories().next().unwrap();
    assert_eq!(traj.turns.len(), SCRIPT.len());

    // The observations the environment showed, replayed, and the conversation they make.
    let mut env = maze();
    let mut users = vec![env.reset(seed).text];
    for (a, _) in &SCRIPT[..SCRIPT.len() - 1] {
        users.push(env.step(a).observation);
    }
    let mut msgs = Vec::new();
    for (t, (u, (a, _))) in users.iter().zip(SCRIPT).enumerate() {
        let ctx = TurnCtx {
            turn: t + 1,
            max_tokens: 8,
        };
        let rendered = Style::Faithful.observation(&*env, ctx, u, Some(-1.0));
        msgs.push(Message::new("user", rendered));
        msgs.push(Message::new("assistant", a));
    }

    for (t, turn) in traj.turns.iter().enumerate() {
        let ctx = context_of(traj, t, spec.history);
        // The sampler saw exactly this context (token-in / token-out).
        assert!(seen.contains(&ctx), "turn {t}: context not sampled from");
        // Its text is the template's rendering of the conversation so far.
        let want = hf.apply_chat_template(&msgs[..2 * t + 1], true).unwrap();
        assert_eq!(hf.decode(&ctx).unwrap(), want, "turn {t}");
        // The reward is a move's (-1), not the invalid action's (-4): parsed at the end of the message.
        assert_eq!(turn.reward, Some(-1.0), "turn {t}: {:?}", turn.action.text);
        assert_eq!(turn.action.text, SCRIPT[t].0);
        assert_eq!(turn.action.token_ids.last() == Some(&eos), SCRIPT[t].1);
    }
    // After a sampled end-of-turn token the template's copy is dropped; after a cut-off
    // action the template closes the message.
    assert_ne!(traj.turns[1].observation.token_ids[0], eos);
    assert_eq!(traj.turns[2].observation.token_ids[0], eos);

    // Loss falls on the sampled ids only: each row is the sampled context then the action,
    // and its masked span is the action's ids (end-of-turn token included).
    let rows = RowSet::from_batch(&batch, spec.history, false);
    assert_eq!(rows.len(), 2 * SCRIPT.len());
    for (r, seq) in rows.seqs.iter().enumerate() {
        let turn = &batch.trajectories().nth(rows.traj[r]).unwrap().turns[rows.turn[r]];
        let split = seq.len() - rows.action_len[r];
        assert_eq!(&seq[split..], &turn.action.token_ids[..]);
        assert!(seen.contains(&seq[..split].to_vec()));
    }
}

#[test]
fn instructions_become_the_system_message() {
    let tok = smollm2();
    let PolicyTokenizer::Hf(hf) = &tok else {
        panic!("a Hugging Face tokenizer")
    };
    let mut env = turnwise_envs::registry::make("math/arith", &[]).unwrap();
    let obs = env.reset(3);
    let ctx = TurnCtx {
        turn: 1,
        max_tokens: 8,
    };
    let rendered = Style::Faithful.observation(&*env, ctx, &obs.text, None);
    let first = rollout::chat::observation(Format::Chat, &tok, &*env, None, &rendered).unwrap();
    let instr = env.instructions();
    let user = rendered.strip_prefix(&*instr).unwrap().trim_start();
    let want = hf
        .apply_chat_template(
            &[
                Message::new("system", instr.trim_end()),
                Message::new("user", user),
            ],
            true,
        )
        .unwrap();
    assert_eq!(first.text, want);
    assert_eq!(first.token_ids, tok.encode(&want).unwrap());
    // The raw text format is unchanged: the rendered observation's ids.
    let text = rollout::chat::observation(Format::Text, &tok, &*env, None, &rendered).unwrap();
    assert_eq!(text.token_ids, tok.encode(&rendered).unwrap());
}

/// The chat format is refused, naming `env.format`, without a pretrained model, with a
/// history that cuts messages, or with the raw-text warm start.
#[test]
fn chat_format_needs_a_model_full_history_and_no_sft() {
    use turnwise_train::config;
    let gguf = "model.path=\"../../.models/SmolLM2-135M-Instruct.Q4_1.gguf\"";
    let cases: [&[&str]; 4] = [
        &["env.history=\"full\"", "sft.enabled=false"],
        &[gguf, "env.history=\"last-k\"", "sft.enabled=false"],
        &[gguf, "env.history=\"mem1\"", "sft.enabled=false"],
        &[gguf, "env.history=\"full\"", "sft.enabled=true"],
    ];
    for sets in cases {
        let mut sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        sets.push("env.format=\"chat\"".into());
        let err = config::load(None, &sets).expect_err("refused").to_string();
        assert!(err.contains("`env.format`"), "{sets:?}: {err}");
    }
}

/// The trainer plays, scores and updates chat-format episodes: a small random Llama with
/// SmolLM2's tokenizer and chat template, one RL step and an evaluation.
#[test]
fn trainer_steps_on_chat_format_rollouts() {
    use std::sync::atomic::AtomicBool;
    use turnwise_model::{DType, ModelConfig};
    use turnwise_train::train::run::Trainer;

    tch::set_num_threads(1);
    let tmp = std::env::temp_dir().join(format!("tw-chat-rollout-{}", std::process::id()));
    let hf_dir = tmp.join("hf");
    let tok = smollm2();
    let PolicyTokenizer::Hf(hf) = &tok else {
        panic!("a Hugging Face tokenizer")
    };
    let mut mc = ModelConfig::preset("tiny", Some(hf.vocab_size())).unwrap();
    (mc.hidden_size, mc.num_hidden_layers, mc.intermediate_size) = (16, 1, 32);
    (mc.num_attention_heads, mc.num_key_value_heads) = (2, Some(2));
    mc.max_position_embeddings = 1024;
    let model = turnwise_model::Policy::new(mc, tch::Device::Cpu, DType::F32, 5).unwrap();
    model.save(&hf_dir).unwrap();
    hf.save_dir(&hf_dir).unwrap();

    let sets: Vec<String> = [
        format!("model.path=\"{}\"", hf_dir.display()),
        "env.format=\"chat\"".into(),
        "env.history=\"full\"".into(),
        "sft.enabled=false".into(),
        "model.max_context=512".into(),
        "env.group_size=2".into(),
        "env.tasks_per_step=1".into(),
        "env.max_turns=2".into(),
        "sampling.max_action_tokens=4".into(),
        "run.steps=1".into(),
        "eval.episodes=2".into(),
        "eval.max_turns=2".into(),
        "run.threads=1".into(),
        "optim.micro_batch=4".into(),
    ]
    .into();
    let cfg = turnwise_train::config::load(None, &sets).unwrap();
    let run = tmp.join("run");
    let mut t = Trainer::start(cfg, &run, |_, _| true).unwrap();
    let end = t
        .run(&AtomicBool::new(false), |m| assert!(m.loss.is_finite()))
        .unwrap();
    assert_eq!(end.line["step"], 1, "{}", end.line);
    let batch = turnwise_core::jsonl::read_batch(&run.join("rollouts/last.jsonl")).unwrap();
    let h = turnwise_train::train::eval::rollout_spec(&t.cfg, &t.policy, None, 2, false).history;
    assert_eq!(
        h.bos, None,
        "the template writes the conversation's beginning"
    );
    for traj in batch.trajectories() {
        let first = &traj.turns[0].observation;
        assert!(
            first.text.starts_with("<|im_start|>system\n"),
            "{:?}",
            first.text
        );
        assert!(
            first.text.ends_with("<|im_start|>assistant\n"),
            "{:?}",
            first.text
        );
        for (t, u) in traj.turns.iter().enumerate().skip(1) {
            // Each later observation closes the previous message and opens the next turn.
            assert!(
                u.observation.text.contains("<|im_start|>user\n"),
                "turn {t}"
            );
            assert_eq!(
                hf.encode(&u.observation.text).unwrap(),
                u.observation.token_ids
            );
        }
    }
    std::fs::remove_dir_all(&tmp).ok();
}

/// Replies `"{question's first number} and more\n{answer}"` then the end-of-turn token, where
/// `answer` is the right one at the second attempt (a first wrong one, then right).
struct FreeText {
    tok: PolicyTokenizer,
    answers: [String; 2],
    turn: Mutex<usize>,
}

impl Sampler for FreeText {
    fn tokenizer(&self) -> &PolicyTokenizer {
        &self.tok
    }

    fn generate(
        &self,
        contexts: &[Vec<u32>],
        spec: &SampleSpec,
        _rng: &mut Rng,
    ) -> anyhow::Result<Vec<Generated>> {
        assert_eq!((spec.stop, spec.stop_text), (None, None), "no stop string");
        let mut turn = self.turn.lock().unwrap();
        let text = format!("I get 2 and more.\nSo it is {}", self.answers[*turn]);
        *turn += 1;
        let eos = spec.eos.expect("SmolLM2 has an end-of-turn token");
        contexts
            .iter()
            .map(|_| reply(&self.tok, &text, Some(eos)))
            .collect()
    }
}

/// A free-text environment in the chat format (`math/arith` with `answer=free` inside
/// `try-again`): no stop string, so a reply runs over lines to the end-of-turn token; the
/// whole reply is the action and its last number is the answer the turn records.
#[test]
fn free_text_replies_are_whole_messages_graded_by_their_last_number() {
    let opts = ["inner_options=kind=arith;difficulty=0;answer=free".to_owned()];
    let make = || turnwise_envs::registry::make_from_strings("try-again", &opts).unwrap();
    let seed = 5;
    let mut probe = make();
    probe.reset(seed);
    let gold = probe.gold_action().unwrap();
    let wrong = (gold.parse::<i64>().unwrap() + 3).to_string();
    let tok = smollm2();
    let mut spec = spec(&tok);
    spec.max_turns = 5;
    spec.max_context = 1024;
    spec.sample.max_new = 32;
    spec.sample.stop_text = Style::Faithful.end_of_action(&*probe);
    let sampler = FreeText {
        tok,
        answers: [wrong.clone(), gold.clone()],
        turn: Mutex::new(0),
    };
    let mut rng = turnwise_core::seed::rng(0, 1);
    let (groups, _) = rollout::collect(
        &sampler,
        vec![make()],
        &[seed],
        "try-again",
        &spec,
        &mut rng,
    )
    .unwrap();
    let traj = &groups[0].trajectories[0];
    assert_eq!(traj.turns.len(), 2);
    assert_eq!(traj.success, Some(true));
    for (turn, answer) in traj.turns.iter().zip([&wrong, &gold]) {
        assert_eq!(
            turn.action.text,
            format!("I get 2 and more.\nSo it is {answer}")
        );
        assert_eq!(turn.ext().answer.as_deref(), Some(answer.as_str()));
    }
    assert_eq!(traj.turns[1].reward, Some(0.5));
}
