//! Which `config.json` keys turnwise may ignore. A key `ModelConfig` does not read is accepted
//! only if `transformers` does not use it in the forward pass of a Llama / Qwen2 / Qwen3 causal
//! LM either (bookkeeping, generation defaults, settings of other architectures that the
//! loaded class ignores), or if it holds the one value that leaves the maths unchanged. Any
//! other key is an error naming it: a model turnwise would compute differently from
//! `transformers` is never loaded silently.

use serde_json::Value;

/// Keys that never change the computation of these classes.
const INERT: &[&str] = &[
    // bookkeeping
    "_name_or_path",
    "transformers_version",
    "torch_dtype",
    "dtype",
    "use_cache",
    "pad_token_id",
    "sep_token_id",
    "decoder_start_token_id",
    "tokenizer_class",
    "prefix",
    "task_specific_params",
    "finetuning_task",
    "id2label",
    "label2id",
    "problem_type",
    "output_attentions",
    "output_hidden_states",
    "return_dict",
    "torchscript",
    "use_bfloat16",
    "tf_legacy_loss",
    "chunk_size_feed_forward",
    "is_decoder",
    "is_encoder_decoder",
    "add_cross_attention",
    "cross_attention_hidden_size",
    "tie_encoder_decoder",
    // generation defaults (turnwise takes sampling settings from its own options)
    "max_length",
    "min_length",
    "do_sample",
    "early_stopping",
    "num_beams",
    "num_beam_groups",
    "diversity_penalty",
    "temperature",
    "top_k",
    "top_p",
    "typical_p",
    "repetition_penalty",
    "length_penalty",
    "no_repeat_ngram_size",
    "encoder_no_repeat_ngram_size",
    "bad_words_ids",
    "num_return_sequences",
    "output_scores",
    "return_dict_in_generate",
    "forced_bos_token_id",
    "forced_eos_token_id",
    "remove_invalid_values",
    "exponential_decay_length_penalty",
    "suppress_tokens",
    "begin_suppress_tokens",
    // Llama: tensor-parallel slicing of pre-training, not used by the modelling code
    "pretraining_tp",
    // Qwen2/Qwen3: only meaningful with use_sliding_window (checked separately)
    "sliding_window",
    "max_window_layers",
    "layer_types",
    // SmolLM2 (nanotron export) marker
    "is_llama_config",
];

/// Keys accepted only with the value that leaves the model unchanged.
fn neutral(key: &str, v: &Value) -> Option<bool> {
    Some(match key {
        "attention_dropout" | "hidden_dropout" | "resid_pdrop" | "embd_pdrop" => {
            v.as_f64() == Some(0.0)
        }
        "pruned_heads" => v.is_null() || v.as_object().is_some_and(|m| m.is_empty()),
        "rope_interleaved" | "use_mrope" => v == &Value::Bool(false),
        "partial_rotary_factor" => v.as_f64() == Some(1.0),
        _ => return None,
    })
}

/// Checks the keys `ModelConfig` keeps unread; returns (key, message) for the first that is
/// neither inert nor at its neutral value.
pub fn check_extra<'a>(
    keys: impl IntoIterator<Item = (&'a String, &'a Value)>,
) -> Result<(), (String, String)> {
    let mut keys: Vec<_> = keys.into_iter().collect();
    keys.sort_by(|a, b| a.0.cmp(b.0));
    for (k, v) in keys {
        if INERT.contains(&k.as_str()) {
            continue;
        }
        match neutral(k, v) {
            Some(true) => {}
            Some(false) => {
                return Err((
                    k.clone(),
                    format!("{v} is not supported (it would change the model)"),
                ))
            }
            None => {
                return Err((
                    k.clone(),
                    "not understood by turnwise; it may change the model, so the folder is refused"
                        .into(),
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inert_and_neutral_keys_pass_others_are_named() {
        let ok =
            json!({"transformers_version": "5.0", "attention_dropout": 0.0, "pruned_heads": {}});
        assert!(check_extra(ok.as_object().unwrap()).is_ok());
        let bad = json!({"attention_dropout": 0.1});
        assert_eq!(
            check_extra(bad.as_object().unwrap()).unwrap_err().0,
            "attention_dropout"
        );
        let bad = json!({"quantization_config": {"bits": 4}});
        assert_eq!(
            check_extra(bad.as_object().unwrap()).unwrap_err().0,
            "quantization_config"
        );
    }
}
