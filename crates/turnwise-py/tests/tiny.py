"""Test helper: a byte-level tokenizer with a chat template and a tiny random causal LM,
built offline (no download), for the agent-loop and TRL tests."""

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {c: i for i, c in enumerate(sorted(alphabet))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|end|>", "<|pad|>", "<|system|>", "<|user|>", "<|assistant|>"]
    tok.add_special_tokens(specials)
    t = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|end|>", pad_token="<|pad|>")
    t.chat_template = CHAT_TEMPLATE
    return t


def model(tok, seed=0):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        bos_token_id=None,
    )
    return LlamaForCausalLM(cfg)


def warm_start(m, tok, prompts, replies, steps=60, lr=2e-2, seed=0):
    """A few supervised steps so the random model answers in the environment's format
    part of the time: `replies` are sampled targets after each chat `prompt`."""
    import random

    import torch

    rng = random.Random(seed)
    opt = torch.optim.Adam(m.parameters(), lr=lr)
    m.train()
    for _ in range(steps):
        batch = []
        for _ in range(8):
            p = tok.apply_chat_template(rng.choice(prompts), add_generation_prompt=True, tokenize=True)
            p = list(p["input_ids"] if hasattr(p, "keys") else p)
            batch.append((p, tok.encode(rng.choice(replies), add_special_tokens=False) + [tok.eos_token_id]))
        n = max(len(p) + len(r) for p, r in batch)
        ids = torch.full((len(batch), n), tok.pad_token_id)
        labels = torch.full((len(batch), n), -100)
        for i, (p, r) in enumerate(batch):
            ids[i, : len(p) + len(r)] = torch.tensor(p + r)
            labels[i, len(p) : len(p) + len(r)] = torch.tensor(r)
        loss = m(input_ids=ids, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss)
