#!/usr/bin/env python3
"""GGUF fixtures for turnwise-model, with transformers' own GGUF loader as the oracle
(needs the `gguf` and `accelerate` packages; scripts/setup.d/20-model.sh installs them).

    make_gguf_fixtures.py OUT_DIR             tiny random GGUF files (llama / qwen2 / qwen3,
                                              every supported tensor type, gpt2-BPE and llama
                                              SentencePiece tokenizers) + reference.json
    make_gguf_fixtures.py --smollm2 GGUF OUT  reference.json for a real GGUF file (SmolLM2):
                                              log-probs, token ids and chat-template ids
    make_gguf_fixtures.py --check DIR IDS     a Hugging Face folder (e.g. `turnwise model
                                              convert` output) as transformers loads it: the
                                              log-probs of IDS, the ids of the test texts and of
                                              the test chats (same keys as reference.json)

Each reference.json holds, per file: `sequences` and their `logprobs` from
`AutoModelForCausalLM.from_pretrained(dir, gguf_file=..., dtype=float32)`, and `texts` with
their `ids` from `AutoTokenizer.from_pretrained(dir, gguf_file=...)`. The tiny models' weights
are random blocks of each ggml type (gguf-py has no K-quant quantiser, so K-quant blocks are
random bytes with sane f16 scales), dequantised by transformers through gguf-py. Nothing is
downloaded. OUT_DIR appears atomically.
"""
import json
import os
import sys

import numpy as np
import torch
from gguf import GGMLQuantizationType as T
from gguf import GGUFWriter, quants
from transformers import AutoModelForCausalLM, AutoTokenizer

from make_parity_fixtures import build_atomically

# (bytes per block, elements per block, offsets of f16 scale fields and their magnitudes)
K_BLOCKS = {
    T.Q2_K: (84, 256, [(80, 4e-3), (82, 2e-3)]),
    T.Q3_K: (110, 256, [(108, 2e-3)]),
    T.Q4_K: (144, 256, [(0, 6e-5), (2, 3e-5)]),
    T.Q5_K: (176, 256, [(0, 3e-5), (2, 2e-5)]),
    T.Q6_K: (210, 256, [(208, 1.5e-5)]),
}
TEXTS = [
    "Hello world, this is a test.",
    "The quick brown fox jumps over the lazy dog!",
    "  leading spaces\nand a new line\ttab",
    "caf\u00e9 na\u00efve \u4e2d\u6587 emoji \U0001F600",
    "<|im_start|>user\nhi<|im_end|>",
]


def tensor_bytes(rng, qtype, rows, cols):
    """A [rows, cols] tensor of type `qtype` as the bytes gguf-py writes."""
    if qtype == T.IQ4_NL:  # any bytes: only the type matters (turnwise refuses it)
        return rng.integers(0, 256, size=(rows, cols // 32 * 18), dtype=np.uint8)
    if qtype in K_BLOCKS:
        size, n, scales = K_BLOCKS[qtype]
        blocks = rng.integers(0, 256, size=(rows * cols // n, size), dtype=np.uint8)
        for off, mag in scales:
            d = (mag * rng.uniform(0.5, 1.5, size=blocks.shape[0])).astype(np.float16)
            blocks[:, off:off + 2] = d.view(np.uint8).reshape(-1, 2)
        return blocks.reshape(rows, -1)
    x = (0.08 * rng.standard_normal((rows, cols))).astype(np.float32)
    if qtype == T.F32:
        return x
    if qtype == T.F16:
        return x.astype(np.float16)
    return quants.quantize(x, qtype)


def bpe_vocab():
    """A small byte-level BPE (tokens, merges) trained in memory, with ChatML specials."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    corpus = [t for t in TEXTS] + ["hello world the quick brown fox user assistant system 12345"] * 20
    tok.train_from_iterator(corpus, trainer)
    d = json.loads(tok.to_str())
    vocab = sorted(d["model"]["vocab"].items(), key=lambda kv: kv[1])
    tokens = [t for t, _ in vocab]
    merges = [m if isinstance(m, str) else " ".join(m) for m in d["model"]["merges"]]
    types = [3 if t.startswith("<|") else 1 for t in tokens]
    return tokens, merges, types


def spm_vocab():
    """A small SentencePiece-style vocabulary: specials, the 256 byte pieces, scored pieces."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [2, 3, 3] + [6] * 256
    scores = [0.0, 0.0, 0.0] + [0.0] * 256
    pieces = ["\u2581", "e", "t", "o", "h", "l", "r", "w", "d", "s", "a", "i", "n", "c", "q", "u",
              "k", "b", "f", "x", "j", "m", "p", "v", "y", "z", "g", "T", "H", ",", ".", "!",
              "\u2581t", "he", "\u2581the", "\u2581a", "ll", "\u2581w", "or", "ld", "\u2581wor",
              "\u2581world", "\u2581he", "\u2581hell", "\u2581hello", "is", "\u2581is", "\u2581th",
              "\u2581this", "es", "\u2581te", "\u2581test", "qu", "\u2581qu", "ick", "\u2581quick"]
    for i, p in enumerate(pieces):
        tokens.append(p)
        types.append(1)
        scores.append(-float(i))
    return tokens, scores, types


def write_model(path, arch, layout, rng, tokenizer):
    """A random model of `arch` whose tensors take the types in `layout` (name -> type)."""
    hidden, ff, layers, heads, kv, head_dim = 256, 512, 2, 4, 2, 64
    if arch == "qwen3":  # transformers' GGUF loader keeps Qwen3Config's head_dim of 128
        heads, kv, head_dim = 2, 1, 128
    vocab_tokens = tokenizer["tokens"]
    vocab = len(vocab_tokens)
    w = GGUFWriter(path, arch)
    w.add_name(f"tiny-{arch}")
    w.add_context_length(256)
    w.add_embedding_length(hidden)
    w.add_feed_forward_length(ff)
    w.add_block_count(layers)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_rope_freq_base(10000.0 if arch == "llama" else 1000000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(head_dim)
    if arch == "qwen3":
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    w.add_tokenizer_model(tokenizer["model"])
    if "pre" in tokenizer:
        w.add_tokenizer_pre(tokenizer["pre"])
    w.add_token_list(vocab_tokens)
    w.add_token_types(tokenizer["types"])
    if "merges" in tokenizer:
        w.add_token_merges(tokenizer["merges"])
    if "scores" in tokenizer:
        w.add_token_scores(tokenizer["scores"])
    w.add_bos_token_id(tokenizer["bos"])
    w.add_eos_token_id(tokenizer["eos"])
    w.add_add_bos_token(tokenizer["model"] == "llama")
    w.add_chat_template("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")

    def add(name, rows, cols, default):
        qtype = layout.get(name, default)
        w.add_tensor(name, tensor_bytes(rng, qtype, rows, cols), raw_dtype=qtype)

    def norm(name, n):
        w.add_tensor(name, (1.0 + 0.2 * rng.standard_normal(n)).astype(np.float32))

    add("token_embd.weight", vocab, hidden, T.Q8_0)
    for i in range(layers):
        b = f"blk.{i}"
        norm(f"{b}.attn_norm.weight", hidden)
        norm(f"{b}.ffn_norm.weight", hidden)
        add(f"{b}.attn_q.weight", heads * head_dim, hidden, T.Q8_0)
        add(f"{b}.attn_k.weight", kv * head_dim, hidden, T.Q8_0)
        add(f"{b}.attn_v.weight", kv * head_dim, hidden, T.Q8_0)
        add(f"{b}.attn_output.weight", hidden, heads * head_dim, T.Q8_0)
        add(f"{b}.ffn_gate.weight", ff, hidden, T.Q8_0)
        add(f"{b}.ffn_up.weight", ff, hidden, T.Q8_0)
        add(f"{b}.ffn_down.weight", hidden, ff, T.Q8_0)
        if arch == "qwen2":
            for p, n in (("q", heads), ("k", kv), ("v", kv)):
                w.add_tensor(f"{b}.attn_{p}.bias", (0.1 * rng.standard_normal(n * head_dim)).astype(np.float32))
        if arch == "qwen3":
            norm(f"{b}.attn_q_norm.weight", head_dim)
            norm(f"{b}.attn_k_norm.weight", head_dim)
    norm("output_norm.weight", hidden)
    if arch != "qwen2":  # qwen2 fixture: tied embeddings
        add("output.weight", vocab, hidden, T.Q6_K)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# Every supported type appears at least once; layer 0 and layer 1 differ.
LLAMA_TYPES = {
    "token_embd.weight": T.F16,
    "blk.0.attn_q.weight": T.BF16, "blk.0.attn_k.weight": T.Q8_0, "blk.0.attn_v.weight": T.Q4_0,
    "blk.0.attn_output.weight": T.Q4_1, "blk.0.ffn_gate.weight": T.Q5_0,
    "blk.0.ffn_up.weight": T.Q5_1, "blk.0.ffn_down.weight": T.F32,
    "blk.1.attn_q.weight": T.Q4_K, "blk.1.attn_k.weight": T.Q5_K, "blk.1.attn_v.weight": T.Q6_K,
    "blk.1.attn_output.weight": T.Q2_K, "blk.1.ffn_gate.weight": T.Q3_K,
    "blk.1.ffn_up.weight": T.Q4_K, "blk.1.ffn_down.weight": T.Q5_K,
}


def hf_logprobs(model, seqs):
    out = []
    with torch.no_grad():
        for s in seqs:
            ids = torch.tensor([s])
            lp = torch.log_softmax(model(input_ids=ids).logits.float()[0, :-1], -1)
            out.append([float(x) for x in lp.gather(-1, ids[0, 1:, None])[:, 0]])
    return out


def reference(d, name, seqs, texts, chats=()):
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(d, gguf_file=name)
    ref = {"sequences": seqs, "logprobs": hf_logprobs(model, seqs), "texts": texts,
           "ids": [tok(t, add_special_tokens=False)["input_ids"] for t in texts]}
    if chats:
        ref["chats"] = [{"messages": m, "generation_prompt": g,
                         "ids": tok.apply_chat_template(m, add_generation_prompt=g, tokenize=True,
                                                        return_dict=False)}
                        for m, g in chats]
    return ref


def build(out):
    rng = np.random.default_rng(7)
    tokens, merges, types = bpe_vocab()
    bpe = {"model": "gpt2", "pre": "gpt-2", "tokens": tokens, "merges": merges, "types": types,
           "bos": tokens.index("<|im_start|>"), "eos": tokens.index("<|im_end|>")}
    stoks, scores, stypes = spm_vocab()
    spm = {"model": "llama", "tokens": stoks, "scores": scores, "types": stypes, "bos": 1, "eos": 2}
    g = np.random.default_rng(1)
    files = {
        "llama-types.gguf": ("llama", LLAMA_TYPES, bpe),
        "qwen2-tied.gguf": ("qwen2", {}, dict(bpe, pre="qwen2")),
        "qwen3.gguf": ("qwen3", {"token_embd.weight": T.Q4_K}, bpe),
        "llama-spm.gguf": ("llama", {}, spm),
    }
    refs = {}
    for name, (arch, layout, tok) in files.items():
        write_model(os.path.join(out, name), arch, layout, rng, tok)
        v = len(tok["tokens"])
        seqs = [g.integers(0, v, n).tolist() for n in (12, 20)]
        texts = TEXTS if tok["model"] == "gpt2" else ["Hello world, this is a test.", "the quick test!"]
        refs[name] = reference(out, name, seqs, texts, CHATS)
    # Files turnwise must refuse with an error naming the key.
    write_model(os.path.join(out, "bad-arch.gguf"), "phi3", {}, rng, bpe)
    write_model(os.path.join(out, "bad-type.gguf"), "llama", {"blk.1.attn_v.weight": T.IQ4_NL}, rng, bpe)
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(refs, f)


def smollm2(gguf_path, out):
    """Reference for the real SmolLM2 GGUF (digit-free texts: see docs/tokenizer.md)."""
    d, name = os.path.dirname(os.path.abspath(gguf_path)), os.path.basename(gguf_path)
    tok = AutoTokenizer.from_pretrained(d, gguf_file=name)
    prompt = PROMPT
    seqs = [tok(prompt, add_special_tokens=False)["input_ids"],
            tok("The quick brown fox jumps over the lazy dog.", add_special_tokens=False)["input_ids"]]
    ref = reference(d, name, seqs, TEXTS, CHATS)
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(ref, f)
    os.replace(tmp, out)


PROMPT = ("<|im_start|>user\nWhat is the capital of France? Answer in one word.<|im_end|>\n"
          "<|im_start|>assistant\nParis")
CHATS = [([{"role": "user", "content": "Hi there!"}], True),
         ([{"role": "system", "content": "You walk a maze."}, {"role": "user", "content": "You see a wall."},
           {"role": "assistant", "content": "move up"}, {"role": "user", "content": "You moved."}], False)]


def check(d, ids):
    model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(d)
    out = {"logprobs": hf_logprobs(model, [[int(x) for x in ids.split(",")]])[0],
           "ids": [tok(t, add_special_tokens=False)["input_ids"] for t in TEXTS],
           "chats": [tok.apply_chat_template(m, add_generation_prompt=g, tokenize=True, return_dict=False)
                     for m, g in CHATS] if tok.chat_template else []}
    print(json.dumps(out))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--smollm2":
        smollm2(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--check":
        check(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    build_atomically(os.path.abspath(sys.argv[1]), "reference.json", build)


if __name__ == "__main__":
    main()
