"""OpenEnv's wire format (openenv-core 0.3, ``env_server/http_server.py``) in plain ``json``.

A session is one WebSocket connection to ``/ws``. The client sends ``{"type": "reset",
"data": {"seed": …}}``, ``{"type": "step", "data": {"text": …}}``, ``{"type": "state"}`` or
``{"type": "close"}``; the server answers ``{"type": "observation", "data": {"observation":
{…}, "reward": r, "done": b}}``, ``{"type": "state", "data": {…}}`` or ``{"type": "error",
"data": {"message": …, "code": …}}``. The replies are the bytes openenv-core's pydantic
models would send for the same observation (compact JSON, fields in declaration order,
defaults filled in): python/tests/test_envs_servers.py checks them against those models.
Nothing here imports openenv-core (importing it takes seconds: FastAPI, gradio …).
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

# The observation's fields after OpenEnv's own (done, reward, metadata; metadata never goes
# on the wire): name, JSON type, default. ``None`` defaults are nullable.
OBSERVATION_FIELDS: List[Tuple[str, str, Any]] = [
    ("text", "string", ""),
    ("success", "boolean", False),
    ("action_valid", "boolean", True),
    ("action_effective", "boolean", True),
    ("terminated", "boolean", False),
    ("truncated", "boolean", False),
    ("score", "number", None),
    ("ground_truth", "string", None),
    ("state_key", "string", None),
    ("expert_action", "string", None),
    ("action_space", "array", []),
    ("budget_left", "integer", None),
    ("instructions", "string", None),
    ("action_format", "string", None),
    ("stop", "string", None),
]
_KNOWN = frozenset([n for n, _, _ in OBSERVATION_FIELDS] + ["done", "reward", "metadata"])
_ACTION_KEYS = frozenset(["text", "metadata"])
# Top-level keys of each client message (openenv-core's models forbid others).
_MESSAGE_KEYS = {
    "reset": frozenset(["type", "data"]),
    "step": frozenset(["type", "data"]),
    "state": frozenset(["type"]),
    "close": frozenset(["type"]),
}


def _plain(o: Any) -> Any:
    """numpy scalars and other ``.item()`` types as JSON numbers (pydantic coerces them)."""
    if hasattr(o, "item"):
        return o.item()
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


# Built once: ``json.dumps`` with options builds a new encoder on every call, and every
# reply goes through here (a served Text-Nav observation: 17-18 µs instead of 24-32 µs).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_plain)


def dumps(obj: Any) -> str:
    """Compact JSON as pydantic's ``model_dump_json`` writes it (UTF-8, no spaces)."""
    return _ENCODER.encode(obj)


def observation(fields: Dict[str, Any]) -> str:
    """The reply to a reset or step: a backend's fields as OpenEnv's observation message."""
    extra = fields.keys() - _KNOWN
    if extra:
        raise ValueError(f"the game returned unknown observation fields: {sorted(extra)}")
    obs = {n: fields.get(n, d) for n, _, d in OBSERVATION_FIELDS}
    data = {"observation": obs, "reward": fields.get("reward"), "done": bool(fields.get("done", False))}
    return dumps({"type": "observation", "data": data})


def state(episode_id: Optional[str], step_count: int) -> str:
    """The reply to ``{"type": "state"}`` (OpenEnv's ``State``)."""
    return dumps({"type": "state", "data": {"episode_id": episode_id, "step_count": step_count}})


def error(message: str, code: str, **extra: Any) -> str:
    """An error reply; ``code`` is one of OpenEnv's ``WSErrorCode`` values."""
    return dumps({"type": "error", "data": {"message": message, "code": code, **extra}})


def _invalid(errors: List[Dict[str, Any]]) -> str:
    return error("Invalid message", "VALIDATION_ERROR", errors=errors)


def parse(raw: Any) -> Tuple[Optional[str], Any, Optional[str]]:
    """A client message as ``(type, data, None)``, or ``(None, None, error reply)``."""
    try:
        msg = json.loads(raw)
    except ValueError as e:
        return None, None, error(f"Invalid JSON: {e}", "INVALID_JSON")
    if not isinstance(msg, dict):
        return None, None, _invalid([{"type": "model_type", "loc": [], "msg": "Input should be an object"}])
    kind = msg.get("type", "")
    keys = _MESSAGE_KEYS.get(kind)
    if keys is None:
        return None, None, error(f"Unknown message type: {kind}", "UNKNOWN_TYPE")
    extra = msg.keys() - keys
    if extra:
        return None, None, _invalid([{"type": "extra_forbidden", "loc": [k], "msg": "Extra inputs are not permitted"}
                                     for k in sorted(extra)])
    data = msg.get("data", {})
    if kind == "step" and "data" not in msg:
        return None, None, _invalid([{"type": "missing", "loc": ["data"], "msg": "Field required"}])
    if not isinstance(data, dict):
        return None, None, _invalid([{"type": "dict_type", "loc": ["data"], "msg": "Input should be a valid dictionary"}])
    return kind, data, None


def action_text(data: Dict[str, Any]) -> Tuple[Optional[str], Optional[str]]:
    """The text of a step's action (OpenEnv's ``TextAction``), or an error reply."""
    text = data.get("text")
    errors = []
    if text is None:
        errors.append({"type": "missing", "loc": ["text"], "msg": "Field required"})
    elif not isinstance(text, str):
        errors.append({"type": "string_type", "loc": ["text"], "msg": "Input should be a valid string"})
    errors += [{"type": "extra_forbidden", "loc": [k], "msg": "Extra inputs are not permitted"}
               for k in sorted(data.keys() - _ACTION_KEYS)]
    return (None, _invalid(errors)) if errors else (text, None)


# --- HTTP routes (GET; the JSON bodies of openenv-core's routes) -----------------------------

def _field_schema(name: str, kind: str, default: Any, description: Optional[str] = None) -> Dict[str, Any]:
    s: Dict[str, Any] = {"title": name.replace("_", " ").title()}
    if default is None:
        s["anyOf"] = [{"type": kind}, {"type": "null"}]
    else:
        s["type"] = kind
    if kind == "array":
        s["items"] = {"type": "string"}
    s["default"] = default
    if description:
        s["description"] = description
    return s


_METADATA = {"additionalProperties": True, "title": "Metadata", "type": "object"}


def schema() -> Dict[str, Any]:
    """``GET /schema``: the JSON schemas of the action, the observation and the state."""
    action = {
        "additionalProperties": False, "description": "An action: the policy's text.",
        "properties": {"metadata": {**_METADATA, "description": "Additional metadata for the action"},
                       "text": {"title": "Text", "type": "string"}},
        "required": ["text"], "title": "TextAction", "type": "object",
    }
    props = {
        "done": _field_schema("done", "boolean", False, "Whether the episode has terminated"),
        "reward": {"anyOf": [{"type": "boolean"}, {"type": "integer"}, {"type": "number"}, {"type": "null"}],
                   "default": None, "description": "Reward signal from the last action", "title": "Reward"},
        "metadata": {**_METADATA, "description": "Additional metadata for the observation"},
    }
    props.update({n: _field_schema(n, k, d) for n, k, d in OBSERVATION_FIELDS})
    obs = {
        "additionalProperties": False,
        "description": "An observation: the text and turnwise's info fields (OpenEnv drops ``metadata``).",
        "properties": props, "title": "TextObservation", "type": "object",
    }
    state_schema = {
        "additionalProperties": True,
        "description": "Base class for environment state.\n\nRepresents internal environment state, "
                       "separate from observations.",
        "properties": {
            "episode_id": _field_schema("episode_id", "string", None, "Unique identifier for the current episode"),
            "step_count": {**_field_schema("step_count", "integer", 0, "Number of steps taken in the current episode"),
                           "minimum": 0},
        },
        "title": "State", "type": "object",
    }
    return {"action": action, "observation": obs, "state": state_schema}


def routes(name: str, doc: str) -> Dict[str, str]:
    """The GET routes besides ``/ws`` and their bodies (openenv-core's production mode plus
    its ``/state``, which describes a fresh environment there too)."""
    return {
        "/health": dumps({"status": "healthy"}),
        "/metadata": dumps({"name": name, "description": doc, "readme_content": None, "version": "1.0.0",
                            "author": None, "documentation_url": None}),
        "/schema": dumps(schema()),
        "/state": dumps({"episode_id": None, "step_count": 0}),
    }
