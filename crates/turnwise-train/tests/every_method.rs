//! Every registered credit method trains: one `Trainer::step` on a built-in environment
//! whose fields the trainer computes (the table of `docs/methods.md`, "Where each method
//! trains"), with a finite loss; the recorded rollouts carry what credit gave each turn,
//! and the method runs again on them (its inputs were computed and recorded).

mod common;

use turnwise_train::train::run::Trainer;

/// (method, environment, extra settings).
const CASES: &[(&str, &str, &[&str])] = &[
    ("grpo", "lmrl/maze-fo", &[]),
    ("dr_grpo", "lmrl/maze-fo", &[]),
    ("rloo", "lmrl/maze-fo", &[]),
    ("reinforce_pp", "lmrl/maze-fo", &[]),
    (
        "reinforce_pp_tokens",
        "lmrl/maze-fo",
        &["credit.params.gamma=0.9"],
    ),
    ("trloo", "lmrl/maze-fo", &[]),
    ("turn_mean_baseline", "lmrl/maze-fo", &[]),
    ("gigpo", "lmrl/maze-fo", &[]),
    (
        "a_grae",
        "ragen/frozenlake",
        &["env.options.invalid_penalty=0.0"],
    ),
    ("pre_grpo", "lmrl/maze-fo", &[]),
    ("mapo", "lmrl/maze-fo", &[]),
    ("scrl", "math/arith", &[]),
    (
        "disco",
        "ragen/frozenlake",
        &["env.options.invalid_penalty=0.0"],
    ),
    (
        "seeupo",
        "ragen/frozenlake",
        &["loss.ratio=sequence", "loss.agg=seq-mean-token-mean"],
    ),
    ("over_turn_mask", "lmrl/maze-fo", &[]),
    ("ufo_reward", "try-again", &[]),
    ("dapo_overlong", "lmrl/maze-fo", &[]),
    ("igpo", "try-again", &[]),
    ("a2tgpo", "try-again", &[]),
    ("siop", "try-again", &[]),
    ("pbsd", "try-again", &[]),
    ("matchtir", "tools/kbqa", &[]),
    ("hiper_hae", "lmrl/maze-fo", &[]),
    ("archer", "lmrl/maze-fo", &["critic.kind=head"]),
    ("turn_level_gae", "lmrl/maze-fo", &[]),
];

fn context_for(env: &str) -> &'static str {
    match env {
        "lmrl/maze-fo" => "model.max_context=128",
        "tools/kbqa" => "model.max_context=4096",
        _ => "model.max_context=768",
    }
}

#[test]
fn every_registered_method_trains_a_step() {
    tch::set_num_threads(1);
    for m in turnwise_credit::registry::all() {
        let name = m.info().name;
        assert!(
            CASES.iter().any(|c| c.0 == name),
            "{name} has no training case: add where it trains"
        );
    }
    let tmp = std::env::temp_dir().join(format!("tw-every-{}", std::process::id()));
    for (method, env, extra) in CASES {
        let mut sets = vec![
            "env.group_size=3".to_owned(),
            "env.tasks_per_step=2".to_owned(),
            "env.max_turns=4".to_owned(),
            "run.steps=1".to_owned(),
            "critic.d_model=16".to_owned(),
            "critic.layers=1".to_owned(),
            "critic.heads=2".to_owned(),
            "critic.d_ff=32".to_owned(),
            format!("env.name=\"{env}\""),
            format!("credit.method=\"{method}\""),
            context_for(env).to_owned(),
        ];
        sets.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = sets.iter().map(String::as_str).collect();
        let cfg = common::config_with(&refs, &[]);
        let dir = tmp.join(method);
        let mut t = Trainer::start(cfg, &dir, |_, _| true)
            .unwrap_or_else(|e| panic!("{method} on {env}: {e:#}"));
        let m = t
            .step()
            .unwrap_or_else(|e| panic!("{method} on {env}: {e:#}"));
        assert!(
            m.loss.is_finite() && m.grad_norm.is_finite(),
            "{method}: {m:?}"
        );
        let batch = turnwise_core::jsonl::read_batch(&dir.join("rollouts/last.jsonl")).unwrap();
        for t in batch.trajectories() {
            for (k, u) in t.turns.iter().enumerate() {
                let c = u.ext().credit.as_ref();
                assert!(
                    c.is_some_and(|c| c["advantage"].is_finite()),
                    "{method}: {} turn {k} has no recorded advantage",
                    t.id
                );
            }
        }
        let info = turnwise_credit::registry::get(method).unwrap().info();
        if !info.kind.is_shaper() {
            // The recorded rollouts hold every input the method reads.
            let params = turnwise_train::config::toml_to_json(&t.cfg.credit.params);
            turnwise_credit::registry::run(method, &batch, &params, &[])
                .unwrap_or_else(|e| panic!("{method} on its recorded rollouts: {e}"));
        }
    }
    std::fs::remove_dir_all(&tmp).ok();
}
