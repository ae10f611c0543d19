#!/usr/bin/env python3
"""Parity fixtures for turnwise-model. Run with the python of a venv that has transformers:
`.venv` (transformers 4.57, scripts/setup-torch.sh) or `.venv-tf5` (transformers 5.x,
scripts/setup.d/20-model.sh). Each version writes its own config.json layout
(4.x: rope_theta + rope_scaling; 5.x: rope_parameters), which is the point.

    make_parity_fixtures.py OUT_DIR          create OUT_DIR/<layout>/ for every layout below:
                                             save_pretrained checkpoint, tokenizer.json and
                                             reference.json (token sequences + log-probs of the
                                             checkpoint as transformers loads it, in f32)
    make_parity_fixtures.py --score DIR IDS  load DIR in transformers (f32) and print the
                                             log-probs of the comma-separated ids as JSON
    make_parity_fixtures.py --version        print the transformers version

Nothing is downloaded: the models are random (seeded), the tokenizer is a word-level one
built in memory. OUT_DIR appears atomically (built in a sibling folder, then renamed).
"""
import json
import os
import shutil
import sys

import torch
import transformers
from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config, Qwen3Config

VOCAB = 128
COMMON = dict(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2, eos_token_id=VOCAB - 1,
              bos_token_id=0, attn_implementation="eager")


def llama(**kw):
    base = dict(intermediate_size=160, num_attention_heads=4, num_key_value_heads=2,
                rms_norm_eps=1e-5, rope_theta=500000.0, max_position_embeddings=256,
                tie_word_embeddings=False)
    base.update(kw)
    return LlamaConfig(**COMMON, **base)


def qwen2(**kw):
    base = dict(intermediate_size=128, num_attention_heads=4, num_key_value_heads=2,
                rms_norm_eps=1e-6, rope_theta=1000000.0, max_position_embeddings=256,
                tie_word_embeddings=True)
    base.update(kw)
    return Qwen2Config(**COMMON, **base)


def qwen3(**kw):
    base = dict(intermediate_size=96, num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                rms_norm_eps=1e-6, rope_theta=1000000.0, max_position_embeddings=256,
                tie_word_embeddings=False)
    base.update(kw)
    return Qwen3Config(**COMMON, **base)


# name -> (config, seed, weight dtype, max shard size)
LAYOUTS = {
    "llama": (lambda: llama(), 11, torch.float32, None),
    "qwen2": (lambda: qwen2(), 12, torch.float32, None),
    "llama-sharded": (lambda: llama(), 13, torch.float32, "60KB"),
    "qwen3": (lambda: qwen3(), 14, torch.float32, None),
    "qwen3-tied": (lambda: qwen3(tie_word_embeddings=True, attention_bias=True), 15,
                   torch.float32, None),
    "llama-bf16": (lambda: llama(), 16, torch.bfloat16, None),
    "qwen2-f16": (lambda: qwen2(), 17, torch.float16, None),
    "rope-llama3": (lambda: llama(head_dim=32, num_attention_heads=2, max_position_embeddings=256,
                                  rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                                "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                                "original_max_position_embeddings": 32}),
                    18, torch.float32, None),
    "rope-linear": (lambda: llama(rope_theta=10000.0,
                                  rope_scaling={"rope_type": "linear", "factor": 4.0}),
                    19, torch.float32, None),
    # max_position_embeddings 16 < the 20-token sequence, so the NTK base actually changes
    "rope-dynamic": (lambda: qwen2(rope_theta=10000.0, max_position_embeddings=16,
                                   rope_scaling={"rope_type": "dynamic", "factor": 2.0}),
                     20, torch.float32, None),
    "rope-yarn": (lambda: qwen3(rope_theta=10000.0, max_position_embeddings=256,
                                rope_scaling={"rope_type": "yarn", "factor": 4.0,
                                              "original_max_position_embeddings": 64}),
                  21, torch.float32, None),
}


def tokenizer_json(path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocab = {f"w{i}": i for i in range(VOCAB - 2)}
    vocab["<unk>"] = VOCAB - 2
    vocab["<eos>"] = VOCAB - 1
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    tok.save(path)


def perturb(model, seed):
    """Random weights everywhere (norm gains and biases too), so every parameter matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.08 * torch.randn(p.shape, generator=g))


def logprobs(model, seqs):
    out = []
    with torch.no_grad():
        for s in seqs:
            ids = torch.tensor([s])
            logits = model(input_ids=ids).logits.float()
            lp = torch.log_softmax(logits[0, :-1], -1).gather(-1, ids[0, 1:, None])[:, 0]
            out.append([float(x) for x in lp])
    return out


def load(d):
    """The checkpoint in `d` as transformers loads it, in f32 (bf16/f16 weights upcast)."""
    return AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32,
                                                attn_implementation="eager").eval()


def build(out):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    seqs = [torch.randint(0, VOCAB, (n,), generator=g).tolist() for n in (12, 7, 20)]
    for name, (make, seed, dtype, shard) in LAYOUTS.items():
        cfg = make()
        model = AutoModelForCausalLM.from_config(cfg).float().eval()
        perturb(model, seed)
        d = os.path.join(out, name)
        kw = {"max_shard_size": shard} if shard else {}
        model.to(dtype).save_pretrained(d, safe_serialization=True, **kw)
        tokenizer_json(os.path.join(d, "tokenizer.json"))
        # A fresh load per layout: dynamic NTK keeps state across calls inside one model.
        ref = {"sequences": seqs, "logprobs": logprobs(load(d), seqs),
               "transformers": transformers.__version__}
        with open(os.path.join(d, "reference.json"), "w") as f:
            json.dump(ref, f)


def score(d, ids):
    seq = [int(x) for x in ids.split(",")]
    print(json.dumps({"logprobs": logprobs(load(d), [seq])[0]}))


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--version":
        print(transformers.__version__)
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--score":
        score(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    build_atomically(os.path.abspath(sys.argv[1]), "llama/reference.json", build)


def build_atomically(out, marker, build):
    """Runs build(tmp) and renames tmp to out, unless out/marker exists: out appears whole."""
    if os.path.exists(os.path.join(out, marker)):
        return
    tmp = f"{out}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    build(tmp)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    try:
        os.rename(tmp, out)
    except OSError:  # built concurrently by another test process
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
