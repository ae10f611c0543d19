"""turnwise: turn-level credit assignment for multi-turn agent RL.

Every function here calls turnwise's Rust crates (the native module ``turnwise._turnwise``):

* :func:`methods` lists the credit-assignment methods; :func:`advantages` runs one over
  groups of trajectories given as dicts in the turnwise JSON Lines layout;
  :func:`advantages_from_arrays` runs one over flat NumPy arrays (trajectory offsets, one
  group id per trajectory, per-turn and per-trajectory fields), with the GIL released.
* :func:`token_advantages`, :func:`turn_spans` and :func:`rewards_at_turn_ends` work on
  token rows as verl, SkyRL and TRL hold them (runs of 1 in a response mask are turns).
* :func:`envs`, :func:`make_env` and :func:`make_vec_env` give the environments.
* :func:`read_jsonl` and :func:`write_jsonl` read and write trajectory files.

Errors are :class:`TurnwiseError` (a ``ValueError``) subclasses carrying the messages of
the ``turnwise`` command line tool.
"""

from ._turnwise import (
    ArrayError,
    CreditError,
    Env,
    EnvError,
    FormatError,
    TurnwiseError,
    VecEnv,
    __version__,
    advantages,
    advantages_from_arrays,
    array_fields,
    envs,
    make_env,
    make_vec_env,
    methods,
    read_jsonl,
    rewards_at_turn_ends,
    token_advantages,
    turn_spans,
    write_jsonl,
)

__all__ = [
    "ArrayError",
    "CreditError",
    "Env",
    "EnvError",
    "FormatError",
    "TurnwiseError",
    "VecEnv",
    "__version__",
    "advantage_methods",
    "advantages",
    "advantages_from_arrays",
    "array_fields",
    "envs",
    "make_env",
    "make_vec_env",
    "methods",
    "read_jsonl",
    "rewards_at_turn_ends",
    "token_advantages",
    "turn_spans",
    "write_jsonl",
]


def advantage_methods():
    """Names of the methods whose main output is an advantage (per turn or per token):
    the ones that can replace a framework's advantage estimator."""
    return [m["name"] for m in methods() if m["advantages"]]
