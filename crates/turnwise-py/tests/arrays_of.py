"""Test helper: groups in the JSON Lines layout as the flat arrays of
`turnwise.advantages_from_arrays` (what a user with NumPy data would pass). Returns None
when a field is present on some turns only (arrays cannot say "missing" per element)."""

import numpy as np

import turnwise


def _ids(values, table):
    return [(-1 if v is None else table.setdefault(v, len(table))) for v in values]


def arrays_of(groups):
    trajs = [(g["prompt_id"], t) for g in groups for t in g["trajectories"]]
    offsets = np.cumsum([0] + [len(t.get("turns", [])) for _, t in trajs]).astype(np.int64)
    group_ids = np.array([hash(p) % (1 << 40) for p, _ in trajs], dtype=np.int64)
    turns = [u for _, t in trajs for u in t.get("turns", [])]
    fields = {}
    for f in turnwise.array_fields():
        name, kind = f["name"], f["kind"]
        rows = turns if f["level"] == "turn" else [t for _, t in trajs]
        if name == "tokens":
            continue
        present = [name in r and r[name] is not None for r in rows]
        if not any(present):
            continue
        if kind == "float_rows":
            vals = [r.get(name) for r in rows]
            vals = [[v] if isinstance(v, (int, float)) else v for v in vals]
            width = max(len(v) for v in vals if v is not None)
            if any(v is not None and len(v) != width for v in vals):
                return None
            arr = np.array([[np.nan if x is None else x for x in (v or [None] * width)] for v in vals], dtype=np.float64)
            fields[name] = arr[:, 0] if width == 1 else arr
            continue
        if kind == "id":
            fields[name] = np.array(_ids([r.get(name) for r in rows], {}), dtype=np.int64)
            continue
        if not all(present):
            return None
        vals = [r[name] for r in rows]
        if kind == "float":
            fields[name] = np.array(vals, dtype=np.float64)
        elif kind == "count":
            fields[name] = np.array(vals, dtype=np.int64)
        else:
            fields[name] = np.array(vals, dtype=bool)
    if any("tool_calls" in u or "entropy" in u or "logp_new" in u for u in turns):
        return None
    if any("gt_tool_calls" in g for g in groups):
        return None
    # token counts: given, or the action's tokens
    if any("tokens" in u for u in turns):
        fields["tokens"] = np.array([u.get("tokens", 0) for u in turns], dtype=np.int64)
    return offsets, group_ids, fields
