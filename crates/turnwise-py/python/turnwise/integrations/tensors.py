"""Token tensors (torch) in, token tensors out: the bridge every framework plug-in uses.

The frameworks hold a batch as ``(rows, tokens)`` tensors: per-token rewards and a
response mask whose runs of 1 are the policy's turns. :func:`token_advantages` hands them
to turnwise's Rust code as NumPy views (no copy for CPU tensors) and returns the
advantages as a tensor of the rewards' dtype on their device.
"""

from __future__ import annotations

import numpy as np

from .. import _turnwise


def _numpy(t):
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    if t.dtype.is_floating_point and t.dtype not in (_torch().float32, _torch().float64):
        t = t.float()
    return t.numpy()


def _torch():
    import torch

    return torch


def group_ids(index, rows: int):
    """Group ids for ``rows`` trajectories: verl's / SkyRL's ``index`` (uids, any hashable
    values) or, when absent, one group per trajectory."""
    if index is None:
        return np.arange(rows, dtype=np.int64)
    if isinstance(index, np.ndarray) and index.dtype.kind in "iu":
        return index
    return np.asarray(index, dtype=object)


def token_advantages(method, token_level_rewards, response_mask, index=None, params=None, fields=None):
    """``(rows, tokens)`` advantages of turnwise method ``method`` as a tensor like
    ``token_level_rewards``. Turns are the runs of 1 in ``response_mask``; a turn's reward
    is the sum of the token rewards from its first token to the next turn; a row's
    outcome is its sum. ``fields`` adds per-turn or per-row NumPy arrays
    (:func:`turnwise.array_fields`)."""
    rows = token_level_rewards.shape[0]
    adv = _turnwise.token_advantages(
        method,
        _numpy(token_level_rewards),
        _numpy(response_mask),
        group_ids(index, rows),
        params,
        **(fields or {}),
    )
    torch = _torch()
    return torch.from_numpy(adv).to(dtype=token_level_rewards.dtype, device=token_level_rewards.device)


def flatten_fields(per_row, spans_per_row):
    """Per-row field dicts (``{"anchor": [per turn], "outcome": x, ...}``, as agent loops
    store them) as the flat arrays of :func:`turnwise.token_advantages`. String ids
    (anchors, answers, clusters) are numbered in order of first appearance; ``None`` is -1.
    ``spans_per_row[r]`` is row ``r``'s number of turns; a per-turn list of another length
    raises :class:`turnwise.ArrayError` naming the row."""
    specs = {f["name"]: f for f in _turnwise.array_fields()}
    names = sorted({k for d in per_row if d for k in d})
    out = {}
    for name in names:
        spec = specs.get(name)
        if spec is None:
            raise _turnwise.ArrayError(f"row field `{name}`: not a turnwise field (see turnwise.array_fields())")
        values = []
        for r, d in enumerate(per_row):
            v = (d or {}).get(name)
            if spec["level"] == "turn":
                v = [] if v is None else list(v)
                if len(v) != spans_per_row[r]:
                    raise _turnwise.ArrayError(
                        f"row field `{name}`: row {r} has {len(v)} values but {spans_per_row[r]} turns in response_mask"
                    )
                values.extend(v)
            else:
                values.append(v)
        if spec["kind"] == "id":
            table = {}
            out[name] = np.array([-1 if v is None else table.setdefault(v, len(table)) for v in values], dtype=np.int64)
        elif spec["kind"] == "bool":
            out[name] = np.array(values, dtype=bool)
        elif spec["kind"] == "count":
            out[name] = np.array(values, dtype=np.int64)
        else:
            out[name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return out
