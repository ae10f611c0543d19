#!/usr/bin/env python3
"""Log-prob parity on a GPU (issue #10 item 5, run by scripts/gpu-check.sh).

Usage: gpu_parity.py MODEL IDS_FILE TURNWISE_JSON... [--transformers DEVICE:DTYPE ...]

Each TURNWISE_JSON is `NAME=FILE`, the output of `turnwise model logprobs` (a JSON object
with "logprobs": one value per token after the first). With --transformers, `transformers`
scores the same ids (GGUF through its own loader) on each DEVICE:DTYPE too. Prints one JSON
line per pair: each run against the reference (the first TURNWISE_JSON, turnwise CPU f32),
and each turnwise run against transformers at the same device and dtype (names
"turnwise DEVICE DTYPE" and "transformers DEVICE DTYPE"): max and mean absolute difference
of the per-token log-probs and of their sum.
"""
import json
import os
import sys


def transformers_logprobs(model, ids, device, dtype):
    import torch
    from transformers import AutoModelForCausalLM

    dt = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}[dtype]
    if os.path.isfile(model):
        d, name = os.path.split(os.path.abspath(model))
        m = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=dt)
    else:
        m = AutoModelForCausalLM.from_pretrained(model, dtype=dt)
    m = m.to(device).eval()
    x = torch.tensor([ids], device=device)
    with torch.no_grad():
        logits = m(input_ids=x).logits[0, :-1].float()
    lp = torch.log_softmax(logits, -1).gather(-1, x[0, 1:, None])[:, 0]
    return lp.cpu().tolist()


def main(argv):
    model, ids_file = argv[0], argv[1]
    ids = [int(t) for t in open(ids_file).read().strip().split(",")]
    runs, tf = {}, []
    rest = argv[2:]
    while rest:
        a = rest.pop(0)
        if a == "--transformers":
            while rest and not rest[0].startswith("--") and "=" not in rest[0]:
                tf.append(rest.pop(0))
        else:
            name, path = a.split("=", 1)
            try:
                runs[name] = json.load(open(path))["logprobs"]
            except (OSError, ValueError, KeyError) as e:
                print(json.dumps({"pair": name, "error": f"{path}: {e!r}"}))
    for spec in tf:
        device, dtype = spec.rsplit(":", 1)
        try:
            runs[f"transformers {device} {dtype}"] = transformers_logprobs(model, ids, device, dtype)
        except Exception as e:  # noqa: BLE001 (reported, the other pairs still run)
            print(json.dumps({"pair": f"transformers {spec}", "error": repr(e)}))
    ref_name = next(iter(runs))
    # Every run against the reference, and turnwise against transformers at the same
    # device and dtype.
    pairs = [(name, ref_name) for name in runs if name != ref_name]
    for name in runs:
        twin = name.replace("turnwise", "transformers", 1)
        if name.startswith("turnwise") and twin in runs:
            pairs.append((name, twin))
    for name, other in pairs:
        lp, ref = runs[name], runs[other]
        if len(lp) != len(ref):
            print(json.dumps({"pair": f"{name} vs {other}", "error": f"{len(lp)} vs {len(ref)} values"}))
            continue
        d = [abs(a - b) for a, b in zip(lp, ref)]
        print(json.dumps({
            "pair": f"{name} vs {other}",
            "tokens": len(d),
            "max_abs": max(d),
            "mean_abs": sum(d) / len(d),
            "sum_ref": sum(ref),
            "sum_diff": sum(lp) - sum(ref),
        }))


if __name__ == "__main__":
    main(sys.argv[1:])
