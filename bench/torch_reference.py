#!/usr/bin/env python3
"""PyTorch eager reference for `turnwise bench model` (same model, same work, same threads).

The model is the `tiny` preset in the Llama layout written in plain PyTorch: vocab 512,
d 256, 4 layers, 4 heads, SwiGLU MLP 1024, RMSNorm (F.rms_norm), rotary positions,
F.scaled_dot_product_attention. It measures
  * a train step on a 16 x 128 batch: forward, per-token weighted cross-entropy
    sum(w * nll) / sum(w), backward, AdamW (lr 1e-4) -- median of --steps after 2 warm-ups;
  * generation: 16 prompts of 32 tokens, 96 new tokens each, temperature-1 multinomial
    sampling, KV cache concatenated along the sequence axis (the usual eager pattern) --
    median of --steps after 1 warm-up;
  * the peak RSS of this process (ru_maxrss).
Prints one JSON object. Run with the venv python of scripts/setup-torch.sh.
"""
import argparse
import json
import resource
import statistics
import time

import torch
import torch.nn.functional as F

V, D, L, H, FF = 512, 256, 4, 4, 1024
HD = D // H
EPS, THETA = 1e-5, 10000.0


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.q = torch.nn.Linear(D, D, bias=False)
        self.k = torch.nn.Linear(D, D, bias=False)
        self.v = torch.nn.Linear(D, D, bias=False)
        self.o = torch.nn.Linear(D, D, bias=False)
        self.gate = torch.nn.Linear(D, FF, bias=False)
        self.up = torch.nn.Linear(D, FF, bias=False)
        self.down = torch.nn.Linear(FF, D, bias=False)
        self.n1 = torch.nn.Parameter(torch.ones(D))
        self.n2 = torch.nn.Parameter(torch.ones(D))

    def forward(self, x, cos, sin, cache=None):
        b, t, _ = x.shape
        h = F.rms_norm(x, (D,), self.n1, EPS)
        q = self.q(h).view(b, t, H, HD).transpose(1, 2)
        k = self.k(h).view(b, t, H, HD).transpose(1, 2)
        v = self.v(h).view(b, t, H, HD).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        if cache is not None:
            if cache[0] is not None:
                k = torch.cat([cache[0], k], 2)
                v = torch.cat([cache[1], v], 2)
            cache[0], cache[1] = k, v
        y = F.scaled_dot_product_attention(q, k, v, is_causal=t > 1)
        x = x + self.o(y.transpose(1, 2).reshape(b, t, D))
        h = F.rms_norm(x, (D,), self.n2, EPS)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


def rope(x, cos, sin):
    x1, x2 = x[..., : HD // 2], x[..., HD // 2 :]
    return x * cos + torch.cat([-x2, x1], -1) * sin


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(V, D)
        self.blocks = torch.nn.ModuleList([Block() for _ in range(L)])
        self.norm = torch.nn.Parameter(torch.ones(D))
        self.head = torch.nn.Linear(D, V, bias=False)
        inv = 1.0 / (THETA ** (torch.arange(0, HD, 2).float() / HD))
        self.register_buffer("inv_freq", inv, persistent=False)

    def forward(self, ids, start=0, caches=None):
        pos = torch.arange(start, start + ids.shape[1]).float()
        f = pos[:, None] * self.inv_freq[None, :]
        emb = torch.cat([f, f], -1)
        cos, sin = emb.cos(), emb.sin()
        x = self.embed(ids)
        for i, blk in enumerate(self.blocks):
            x = blk(x, cos, sin, None if caches is None else caches[i])
        return self.head(F.rms_norm(x, (D,), self.norm, EPS))


def train_step(model, opt, ids, w):
    logits = model(ids)[:, :-1]
    nll = F.cross_entropy(logits.reshape(-1, V), ids[:, 1:].reshape(-1), reduction="none")
    loss = (nll * w.reshape(-1)).sum() / w.sum()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


@torch.no_grad()
def generate(model, prompts, new):
    caches = [[None, None] for _ in range(L)]
    logits = model(prompts, 0, caches)[:, -1]
    start = prompts.shape[1]
    out = []
    for i in range(new):
        tok = torch.multinomial(torch.softmax(logits, -1), 1)
        out.append(tok)
        if i + 1 < new:
            logits = model(tok, start + i, caches)[:, -1]
    return torch.cat(out, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Model()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ids = torch.randint(0, V, (16, 128))
    w = torch.rand(16, 127)
    times = []
    for i in range(2 + a.steps):
        t0 = time.perf_counter()
        train_step(model, opt, ids, w)
        if i >= 2:
            times.append(time.perf_counter() - t0)
    prompts = torch.randint(0, V, (16, 32))
    gen = []
    for i in range(1 + a.steps):
        t0 = time.perf_counter()
        generate(model, prompts, 96)
        if i >= 1:
            gen.append(time.perf_counter() - t0)
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "impl": f"pytorch {torch.__version__} eager",
        "train_step_ms": 1000 * statistics.median(times),
        "generate_tokens_per_s": 16 * 96 / statistics.median(gen),
        "peak_rss_mb": rss_kb / 1024,
    }))


if __name__ == "__main__":
    main()
