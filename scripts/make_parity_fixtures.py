#!/usr/bin/env python3
"""Parity fixtures for turnwise-model (run with the venv python from scripts/setup-torch.sh).

    make_parity_fixtures.py OUT_DIR          create OUT_DIR/{llama,qwen2,llama-sharded}/ with
                                             save_pretrained checkpoints, tokenizer.json and
                                             reference.json (token sequences + log-probs)
    make_parity_fixtures.py --score DIR IDS  load DIR in transformers and print the log-probs
                                             of the comma-separated token ids as JSON

Nothing is downloaded: the models are random (seeded), the tokenizer is a word-level one
built in memory. OUT_DIR appears atomically (built in a sibling folder, then renamed).
"""
import json
import os
import shutil
import sys

import torch
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

VOCAB = 128


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


def build(out):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    seqs = [torch.randint(0, VOCAB, (n,), generator=g).tolist() for n in (12, 7, 20)]
    llama = LlamaConfig(
        vocab_size=VOCAB, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=500000.0,
        max_position_embeddings=256, tie_word_embeddings=False, eos_token_id=VOCAB - 1,
        bos_token_id=0, attn_implementation="eager",
    )
    qwen2 = Qwen2Config(
        vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=1000000.0,
        max_position_embeddings=256, tie_word_embeddings=True, eos_token_id=VOCAB - 1,
        bos_token_id=0, attn_implementation="eager",
    )
    for name, cfg, cls, seed, shard in [
        ("llama", llama, LlamaForCausalLM, 11, None),
        ("qwen2", qwen2, Qwen2ForCausalLM, 12, None),
        ("llama-sharded", llama, LlamaForCausalLM, 13, "60KB"),
    ]:
        model = cls(cfg).float().eval()
        perturb(model, seed)
        d = os.path.join(out, name)
        kw = {"max_shard_size": shard} if shard else {}
        model.save_pretrained(d, safe_serialization=True, **kw)
        tokenizer_json(os.path.join(d, "tokenizer.json"))
        ref = {"sequences": seqs, "logprobs": logprobs(model, seqs)}
        with open(os.path.join(d, "reference.json"), "w") as f:
            json.dump(ref, f)


def score(d, ids):
    model = None
    cfg = json.load(open(os.path.join(d, "config.json")))
    cls = Qwen2ForCausalLM if cfg["model_type"] == "qwen2" else LlamaForCausalLM
    model = cls.from_pretrained(d, torch_dtype=torch.float32).eval()
    seq = [int(x) for x in ids.split(",")]
    print(json.dumps({"logprobs": logprobs(model, [seq])[0]}))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--score":
        score(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = os.path.abspath(sys.argv[1])
    if os.path.exists(os.path.join(out, "llama", "reference.json")):
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
