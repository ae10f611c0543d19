#!/usr/bin/env python3
"""The `transformers` side of `turnwise bench model --model PATH`: a worker that loads the
same model (a Hugging Face folder, or a GGUF file through transformers' own GGUF loader) in
float32 and runs one measurement per request, so that turnwise can interleave the two sides
(A B A B ...) in one command.

Protocol (JSON lines): the first line on stdin is the set-up
    {"model": PATH, "threads": N, "train_ids": [[...]], "train_weights": [[...]],
     "prompts": [[...]], "new_tokens": N, "lr": LR, "gradient_checkpointing": BOOL}
answered by {"ready": true, "load_s": ...}; then each line {"op": "train"} or
{"op": "generate", "seed": S} is answered by {"seconds": ..., "cpu_seconds": ...} (wall time
and this process's CPU time, all threads; plus "tokens" for generate);
{"op": "peak"} is answered by {"peak_rss_mb": ...} (ru_maxrss). EOF ends the worker.

The work: a train step is forward, the weighted token NLL sum(w * nll) / sum(w), backward,
AdamW (torch.optim.AdamW, every parameter trainable); generation is `model.generate` with a
KV cache, multinomial sampling at temperature 1 (top-k / top-p off), exactly `new_tokens`
new tokens per prompt (min_new_tokens = max_new_tokens).
"""
import json
import os
import resource
import sys
import time

import torch
from transformers import AutoModelForCausalLM


def load(path):
    if os.path.isfile(path):
        d, name = os.path.split(os.path.abspath(path))
        return AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32)
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)


def main():
    setup = json.loads(sys.stdin.readline())
    torch.set_num_threads(setup["threads"])
    t0 = time.perf_counter()
    model = load(setup["model"])
    model.train()
    if setup.get("gradient_checkpointing"):
        model.gradient_checkpointing_enable()
    load_s = time.perf_counter() - t0
    opt = torch.optim.AdamW(model.parameters(), lr=setup["lr"])
    ids = torch.tensor(setup["train_ids"])
    w = torch.tensor(setup["train_weights"])
    prompts = torch.tensor(setup["prompts"])
    new = setup["new_tokens"]
    reply({"ready": True, "load_s": load_s})
    for line in sys.stdin:
        req = json.loads(line)
        if req["op"] == "train":
            t0, c0 = time.perf_counter(), time.process_time()
            logits = model(input_ids=ids).logits[:, :-1].float()
            lp = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None])[..., 0]
            loss = -(lp * w).sum() / w.sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            reply({"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0,
                   "loss": loss.item()})
        elif req["op"] == "generate":
            torch.manual_seed(req["seed"])
            t0, c0 = time.perf_counter(), time.process_time()
            with torch.no_grad():
                out = model.generate(
                    input_ids=prompts, attention_mask=torch.ones_like(prompts), do_sample=True,
                    temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=new,
                    min_new_tokens=new, use_cache=True, pad_token_id=0)
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
            reply({"seconds": seconds, "cpu_seconds": cpu, "tokens": int(out.shape[0] * (out.shape[1] - prompts.shape[1]))})
        elif req["op"] == "peak":
            reply({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
        else:
            reply({"error": f"unknown op {req['op']!r}"})


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
