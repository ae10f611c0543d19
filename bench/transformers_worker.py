#!/usr/bin/env python3
"""The `transformers` side of `turnwise bench model --model PATH`: a worker that loads the
same model (a Hugging Face folder, or a GGUF file through transformers' own GGUF loader) in
the set-up's dtype on its device (float32 on the CPU by default) and runs one measurement per request, so that turnwise can interleave the two sides
(A B A B ...) in one command.

Protocol (JSON lines): the first line on stdin is the set-up
    {"model": PATH, "threads": N, "train_ids": [[...]], "train_weights": [[...]],
     "prompts": [[...]], "new_tokens": N, "lr": LR, "gradient_checkpointing": BOOL,
     "device": "cpu" | "cuda[:N]", "dtype": "f32" | "bf16" | "f16"}
answered by {"ready": true, "load_s": ...}; then each line {"op": "train"} or
{"op": "generate", "seed": S} is answered by {"seconds": ..., "cpu_seconds": ...} (wall time
and this process's CPU time, all threads; plus "tokens" for generate, and for train "phases":
{"forward" | "loss" | "backward" | "step": {"seconds": ..., "cpu_seconds": ...}});
{"op": "peak"} is answered by {"peak_rss_mb": ...} (ru_maxrss). EOF ends the worker.

The work: a train step is forward, the weighted token NLL sum(w * nll) / sum(w), backward,
AdamW (torch.optim.AdamW, every parameter trainable), in train() mode; generation is
`model.generate` in eval() mode, as users generate (the models benchmarked have no dropout,
so the mode changes no value), with a KV cache, multinomial sampling at temperature 1
(top-k / top-p off), exactly `new_tokens` new tokens per prompt (min_new_tokens =
max_new_tokens). On a GPU each timed piece of work ends with torch.cuda.synchronize(), as
turnwise's side does.
"""
import json
import os
import resource
import sys
import time

import torch
from transformers import AutoModelForCausalLM


# The timed phases of a train step (as turnwise's side): forward with log-softmax and gather,
# the weighted loss, backward (with zero_grad), the optimizer step.
PHASES = ("forward", "loss", "backward", "step")
DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}


def load(path, dtype):
    if os.path.isfile(path):
        d, name = os.path.split(os.path.abspath(path))
        return AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=dtype)
    return AutoModelForCausalLM.from_pretrained(path, dtype=dtype)


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main():
    setup = json.loads(sys.stdin.readline())
    torch.set_num_threads(setup["threads"])
    t0 = time.perf_counter()
    device = torch.device(setup.get("device", "cpu"))
    model = load(setup["model"], DTYPES[setup.get("dtype", "f32")]).to(device)
    model.train()
    if setup.get("gradient_checkpointing"):
        model.gradient_checkpointing_enable()
    load_s = time.perf_counter() - t0
    opt = torch.optim.AdamW(model.parameters(), lr=setup["lr"])
    ids = torch.tensor(setup["train_ids"], device=device)
    w = torch.tensor(setup["train_weights"], device=device)
    prompts = torch.tensor(setup["prompts"], device=device)
    new = setup["new_tokens"]
    reply({"ready": True, "load_s": load_s})
    for line in sys.stdin:
        req = json.loads(line)
        if req["op"] == "train":
            model.train()
            t0, c0 = time.perf_counter(), time.process_time()
            marks = [(t0, c0)]

            def mark():
                synchronize(device)
                marks.append((time.perf_counter(), time.process_time()))

            logits = model(input_ids=ids).logits[:, :-1].float()
            lp = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None])[..., 0]
            mark()
            loss = -(lp * w).sum() / w.sum()
            mark()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            mark()
            opt.step()
            mark()
            phases = {name: {"seconds": b[0] - a[0], "cpu_seconds": b[1] - a[1]}
                      for name, a, b in zip(PHASES, marks, marks[1:])}
            reply({"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0,
                   "loss": loss.item(), "phases": phases})
        elif req["op"] == "generate":
            model.eval()
            torch.manual_seed(req["seed"])
            t0, c0 = time.perf_counter(), time.process_time()
            with torch.no_grad():
                out = model.generate(
                    input_ids=prompts, attention_mask=torch.ones_like(prompts), do_sample=True,
                    temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=new,
                    min_new_tokens=new, use_cache=True, pad_token_id=0)
            synchronize(device)
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
