//! Every configuration key, table-driven: values outside its range are refused with the
//! key path named, values inside it load. A key added to the configuration without a row
//! here fails `every_key_has_a_row`.

use super::*;

/// One key: `--set` context it needs, values that must be refused, values that must load.
struct Row {
    key: &'static str,
    with: &'static [&'static str],
    bad: &'static [&'static str],
    good: &'static [&'static str],
}

const fn row(
    key: &'static str,
    bad: &'static [&'static str],
    good: &'static [&'static str],
) -> Row {
    Row {
        key,
        with: &[],
        bad,
        good,
    }
}

const NOT_FINITE: [&str; 3] = ["nan", "inf", "-inf"];

/// A pretrained model (scripts/setup.d/20-model.sh), for keys that need one.
const SMOLLM2: &str = "model.path=\"../../.models/SmolLM2-135M-Instruct.Q4_1.gguf\"";

const ROWS: &[Row] = &[
    row(
        "run.seed",
        &["-1", "\"x\"", "1.5"],
        &["0", "9223372036854775807"],
    ),
    row("run.out", &["\"\"", "\"  \"", "3"], &["\"runs/x\""]),
    row("run.steps", &["-1", "\"many\""], &["0", "7"]),
    row(
        "run.time_budget_s",
        &["-1", "nan", "inf", "\"1h\""],
        &["0", "60.5"],
    ),
    row("run.max_bad_steps", &["0", "-2"], &["1", "9"]),
    row("run.threads", &["-1", "1025", "\"all\""], &["0", "1", "16"]),
    // `cuda` is refused by name where libtorch sees no GPU (the bad list is extended at run
    // time by `cuda_is_refused_without_a_gpu`).
    row("run.device", &["\"tpu\"", "\"cuda:x\"", "3"], &["\"cpu\""]),
    row(
        "env.name",
        &["\"lmrl/mazee\"", "\"\"", "1"],
        &["\"lmrl/maze-po\"", "\"ragen/sokoban\""],
    ),
    row("env.options", &["{bogus = 1}", "3"], &["{}"]),
    row("env.group_size", &["0", "-1", "16777217"], &["1", "8"]),
    row("env.tasks_per_step", &["0", "1.5"], &["1", "3"]),
    row("env.max_turns", &["0"], &["1", "40"]),
    row(
        "env.history",
        &["\"some\"", "1"],
        &["\"full\"", "\"last-k\"", "\"mem1\""],
    ),
    row("env.history_k", &["-1", "16777217"], &["0", "8"]),
    Row {
        key: "env.format",
        with: &[SMOLLM2, "env.history=\"full\"", "sft.enabled=false"],
        bad: &["\"markdown\"", "1"],
        good: &["\"text\"", "\"chat\""],
    },
    row("env.max_failed_episodes", &["-1", "16777217"], &["0", "8"]),
    row("model.path", &["\"/nonexistent/model\"", "1"], &["\"\""]),
    row(
        "model.preset",
        &["\"huge\"", "\"\""],
        &["\"tiny\"", "\"tiny-qwen2\""],
    ),
    row(
        "model.d_model",
        &["0", "-64", "65", "16777217"],
        &["32", "64"],
    ),
    row("model.layers", &["0", "-1", "4097"], &["1", "3"]),
    row("model.heads", &["0", "3", "64", "4097"], &["2", "4"]),
    row("model.d_ff", &["0", "-1"], &["1", "256"]),
    row(
        "model.pieces",
        &["\"chars\"", "\"\"", "1"],
        &["\"letters\"", "\"words\""],
    ),
    row(
        "model.dtype",
        &["\"f8\"", "\"f64\"", "16"],
        &["\"f32\"", "\"bf16\"", "\"f16\""],
    ),
    row(
        "model.gradient_checkpointing",
        &["1", "\"yes\""],
        &["true", "false"],
    ),
    row("model.max_context", &["0", "1", "6", "-5"], &["7", "4096"]),
    Row {
        key: "model.lora.rank",
        with: &[SMOLLM2],
        bad: &["0", "-1", "65537"],
        good: &["1", "8"],
    },
    Row {
        key: "model.lora.alpha",
        with: &[SMOLLM2],
        bad: &["0", "-1", "nan", "inf"],
        good: &["1", "32"],
    },
    Row {
        key: "model.lora.targets",
        with: &[SMOLLM2],
        bad: &["[]", "[\"x_proj\"]", "[\"q_proj\", \"lm_head\"]"],
        good: &["[\"q_proj\"]", "[\"q_proj\", \"v_proj\", \"down_proj\"]"],
    },
    row(
        "sampling.temperature",
        &["0", "-1", "nan", "inf", "\"hot\""],
        &["0.7", "1", "2"],
    ),
    row(
        "sampling.max_action_tokens",
        &["0", "128", "-1"],
        &["1", "127"],
    ),
    row(
        "credit.method",
        &["\"grpoo\"", "\"\""],
        &["\"trloo\"", "\"gigpo\""],
    ),
    row("credit.params", &["{epss = 1}", "3"], &["{}"]),
    row(
        "credit.shapers",
        &["[\"grpo\"]", "[\"nope\"]", "\"dapo_overlong\""],
        &["[]", "[\"dapo_overlong\"]"],
    ),
    Row {
        key: "credit.shaper_params",
        with: &["credit.shapers=[\"dapo_overlong\"]"],
        bad: &["{ufo_reward = {}}", "{dapo_overlong = 3}"],
        good: &["{}", "{dapo_overlong = {}}"],
    },
    row(
        "credit.base",
        &["\"ufo_reward\"", "\"nope\"", "1"],
        &["\"grpo\"", "\"rloo\""],
    ),
    row(
        "loss.objective",
        &["\"dpo\"", "\"ta_lpo\""],
        &["\"ppo\"", "\"disco\"", "\"ta-lpo\""],
    ),
    row(
        "loss.clip_low",
        &["-0.1", "1", "nan", "inf"],
        &["0", "0.2", "0.99"],
    ),
    row(
        "loss.clip_high",
        &["-0.1", "nan", "inf"],
        &["0", "0.28", "3"],
    ),
    row("loss.dual_clip", &["1", "0.5", "nan", "inf"], &["1.5", "3"]),
    row("loss.ratio", &["\"tok\""], &["\"token\"", "\"sequence\""]),
    row(
        "loss.agg",
        &["\"mean\""],
        &["\"token-mean\"", "\"seq-mean-token-sum-norm\""],
    ),
    row("loss.max_len", &["0", "-1"], &["1", "64"]),
    Row {
        key: "loss.kl",
        with: &["loss.kl_coef=0.1"],
        bad: &["\"k4\"", "1"],
        good: &["\"k3\"", "\"abs\""],
    },
    Row {
        key: "loss.kl_coef",
        with: &["loss.kl=\"k3\""],
        bad: &["0", "-0.1", "nan", "inf"],
        good: &["0.01", "1"],
    },
    Row {
        key: "loss.kl_in_reward",
        with: &["loss.kl_coef=0"],
        bad: &["true", "1"],
        good: &["false"],
    },
    row("loss.entropy_coef", &NOT_FINITE, &["0", "0.03", "-0.01"]),
    row("loss.epo.smooth_coef", &["-1", "nan"], &["0", "1"]),
    row("loss.epo.min_ratio", &["-0.5", "inf", "2"], &["0", "0.5"]),
    row("loss.epo.max_ratio", &["-1", "0.4", "nan"], &["1.5", "0.5"]),
    row(
        "loss.epo.out_range_penalty",
        &["-0.1", "nan"],
        &["0", "0.1"],
    ),
    row("loss.epo.mode", &["\"row\""], &["\"token\"", "\"seq\""]),
    row("loss.epo.max_steps", &["0", "-3"], &["1", "50"]),
    row(
        "loss.epo.phase_weight",
        &["2", "\"yes\""],
        &["true", "false"],
    ),
    row("loss.epo.max_epochs", &["0", "-150"], &["1", "150"]),
    row("loss.over_turn_mask", &["1"], &["true"]),
    row("loss.disco.tau", &["0", "-1", "nan"], &["10", "0.5"]),
    row(
        "loss.ta_lpo.alpha_start",
        &["0", "-1", "nan"],
        &["2", "0.1"],
    ),
    row("loss.ta_lpo.alpha_end", &["0", "-1", "inf"], &["1", "3"]),
    row("loss.ta_lpo.beta_start", &["0", "-0.6", "nan"], &["0.6"]),
    row("loss.ta_lpo.beta_end", &["0", "-1", "inf"], &["0.3", "1"]),
    row(
        "curricula.dynamic_sampling",
        &["\"yes\"", "1"],
        &["true", "false"],
    ),
    row(
        "curricula.max_sample_rounds",
        &["0", "-1", "1025", "\"many\""],
        &["1", "4", "1024"],
    ),
    row("curricula.exit", &["\"on\"", "0"], &["true", "false"]),
    row(
        "curricula.exit_prob",
        &["-0.1", "1.5", "nan"],
        &["0", "0.5", "1"],
    ),
    row(
        "curricula.exit_buffer",
        &["0", "-3", "1048577"],
        &["1", "256"],
    ),
    row("curricula.pcl", &["\"on\"", "1"], &["true", "false"]),
    row(
        "curricula.pcl_pool",
        &["0", "-1", "1025", "2.5"],
        &["1", "4", "1024"],
    ),
    Row {
        key: "curricula.gain_rl",
        with: &["curricula.pcl=false"],
        bad: &["\"on\"", "1"],
        good: &["true", "false"],
    },
    row(
        "curricula.gain_pool",
        &["0", "-1", "1025", "2.5"],
        &["1", "4", "1024"],
    ),
    row(
        "curricula.gain_sigma",
        &["0", "-0.1", "1.01", "nan"],
        &["0.133", "1"],
    ),
    row("curricula.slea", &["\"on\"", "1"], &["true", "false"]),
    row("curricula.slea_keep", &["0", "-1", "65"], &["1", "2", "64"]),
    row("curricula.slea_rate", &["0", "-1", "1048577"], &["1", "8"]),
    row("curricula.rise", &["\"on\"", "1"], &["true", "false"]),
    row(
        "curricula.rise_every",
        &["0", "-1", "1048577"],
        &["1", "10"],
    ),
    row("curricula.rise_steps", &["0", "-2", "1048577"], &["1", "4"]),
    row(
        "curricula.rise_tau",
        &["0", "-0.1", "nan", "inf"],
        &["0.1", "2"],
    ),
    row(
        "curricula.pcl_target",
        &["-0.01", "1.01", "nan", "\"half\""],
        &["0", "0.5", "1"],
    ),
    row("loss.disco.basic", &["\"no\""], &["true"]),
    row(
        "loss.disco.scoring",
        &["\"ratio\""],
        &["\"logL\"", "\"Lratio\""],
    ),
    row("loss.disco.beta", &["-1", "inf"], &["0", "1000"]),
    row("loss.disco.delta", &["-1e-4", "nan"], &["0", "1e-4"]),
    row(
        "optim.lr",
        &["nan", "inf", "-1e-4", "\"fast\""],
        &["0", "3e-4"],
    ),
    row("optim.beta1", &["-0.1", "1", "nan"], &["0", "0.9"]),
    row("optim.beta2", &["1", "1.5", "nan"], &["0.999"]),
    row("optim.eps", &["0", "-1e-8", "nan"], &["1e-8"]),
    row("optim.weight_decay", &["-0.01", "inf"], &["0", "0.1"]),
    row("optim.grad_clip", &["-1", "nan"], &["0", "1"]),
    row("optim.warmup_steps", &["-1", "0.5"], &["0", "10"]),
    row(
        "optim.schedule",
        &["\"linear\""],
        &["\"constant\"", "\"cosine\""],
    ),
    row("optim.min_lr_ratio", &["-0.1", "1.5", "nan"], &["0", "1"]),
    row("optim.micro_batch", &["0", "-8"], &["1", "256"]),
    row("optim.ppo_epochs", &["0", "65537"], &["1", "4"]),
    row("sft.enabled", &["\"yes\""], &["true", "false"]),
    row(
        "sft.demos",
        &["\"/nonexistent/demos.jsonl\"", "1"],
        &["\"\""],
    ),
    row("sft.episodes", &["0", "-1"], &["1", "400"]),
    row("sft.noise", &["2", "-0.1", "nan"], &["0", "0.5", "1"]),
    row("sft.steps", &["0", "-1"], &["1", "300"]),
    row("sft.batch", &["0", "-1"], &["1", "32"]),
    row("sft.lr", &["nan", "-3e-3", "inf"], &["0", "3e-3"]),
    row(
        "sft.cache",
        &["1", "\"/dev/null\""],
        &["\"\"", "\"warm-cache\""],
    ),
    row(
        "critic.kind",
        &["\"mlp\"", "1"],
        &["\"head\"", "\"separate\""],
    ),
    row(
        "critic.d_model",
        &["0", "-8", "65", "16777217"],
        &["32", "64"],
    ),
    row("critic.layers", &["0", "4097"], &["1", "2"]),
    row("critic.heads", &["0", "3", "4097"], &["2", "4"]),
    row("critic.d_ff", &["0", "-1"], &["1", "128"]),
    row("critic.lr", &["0", "-1e-3", "nan", "inf"], &["1e-3"]),
    row("critic.value_clip", &["-0.1", "nan", "inf"], &["0", "0.2"]),
    row("critic.epochs", &["0", "-1"], &["1", "4"]),
    row("critic.tau", &["0", "1.5", "nan"], &["0.005", "1"]),
    row(
        "critic.warmup_steps",
        &["-1", "0.5", "1000000"],
        &["0", "10"],
    ),
    row("checkpoint.every", &["-1", "\"often\""], &["0", "10"]),
    row("checkpoint.keep", &["0", "-1"], &["1", "5"]),
    row("eval.episodes", &["0", "-1"], &["1", "50"]),
    row("eval.greedy", &["1"], &["true", "false"]),
    row("eval.max_turns", &["0"], &["1", "101"]),
    row("eval.every", &["-1", "\"often\""], &["0", "25"]),
];

fn load_with(with: &[&str], key: &str, value: &str) -> Result<Config, ConfigError> {
    let sets: Vec<String> = with
        .iter()
        .map(|s| s.to_string())
        .chain([format!("{key}={value}")])
        .collect();
    load(None, &sets)
}

#[test]
fn every_key_refuses_values_outside_its_range_naming_the_key() {
    for r in ROWS {
        for bad in r.bad {
            let e = match load_with(r.with, r.key, bad) {
                Ok(_) => panic!("{}={bad} was accepted", r.key),
                Err(e) => e.to_string(),
            };
            assert!(e.contains(&format!("`{}", r.key)), "{}={bad}: {e}", r.key);
        }
        for good in r.good {
            if let Err(e) = load_with(r.with, r.key, good) {
                panic!("{}={good} was refused: {e}", r.key);
            }
        }
    }
}

#[test]
fn every_key_has_a_row() {
    // Optional keys set, so that they appear in the serialised table.
    let c = load(
        None,
        &[
            "loss.dual_clip=2".into(),
            "loss.max_len=10".into(),
            "loss.kl=\"k3\"".into(),
            "loss.kl_coef=0.1".into(),
            "loss.epo.max_steps=5".into(),
            SMOLLM2.into(),
            "model.lora.rank=8".into(),
        ],
    )
    .unwrap();
    let keys: Vec<String> = leaves(&c).into_keys().collect();
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| !ROWS.iter().any(|r| r.key == k.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "keys without a validation row: {missing:?}"
    );
    assert!(keys.len() >= 70, "{keys:?}");
    // Every key has an explicit resume rule too.
    let unruled: Vec<&String> = keys
        .iter()
        .filter(|k| {
            !resume::RULES
                .iter()
                .any(|(r, _)| k.as_str() == *r || k.starts_with(&format!("{r}.")))
        })
        .collect();
    assert!(
        unruled.is_empty(),
        "keys without a resume rule: {unruled:?}"
    );
}

#[test]
fn all_violations_are_reported_at_once() {
    let e = load(
        None,
        &[
            "optim.lr=nan".into(),
            "sft.noise=2".into(),
            "eval.episodes=0".into(),
        ],
    )
    .unwrap_err()
    .to_string();
    for k in ["optim.lr", "sft.noise", "eval.episodes"] {
        assert!(e.contains(k), "{e}");
    }
    assert!(e.contains("[0, 1]") && e.contains("got 2"), "{e}");
}

#[test]
fn cuda_without_a_gpu_is_an_error_naming_the_key() {
    for dev in ["\"cuda\"", "\"cuda:0\"", "\"cuda:7\""] {
        match load_with(&[], "run.device", dev) {
            // A machine with that GPU: the key loads.
            Ok(c) => assert!(c.run.device().is_ok()),
            Err(e) => {
                let e = e.to_string();
                assert!(e.contains("`run.device"), "{dev}: {e}");
                assert!(e.contains("CUDA"), "{dev}: {e}");
            }
        }
    }
}
