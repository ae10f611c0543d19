"""Shared fixtures of the turnwise Python tests: the repository's reference vectors and
the `turnwise` binary built by `cargo test --workspace`."""

import json
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures"
LOSS_SIDE = {"policy_loss", "kl_estimate", "disco_kl_penalty", "epo_phase_weight", "epo_history", "epo_entropy"}


def reference_cases():
    """Every credit case of the reference vectors (loss-side cases excluded)."""
    cases = []
    for name in ("vectors_outcome.jsonl", "vectors_turn.jsonl"):
        for line in (FIXTURES / name).read_text().splitlines():
            if line.strip():
                case = json.loads(line)
                if case["method"] not in LOSS_SIDE:
                    cases.append(case)
    return cases


@pytest.fixture(scope="session")
def cases():
    return reference_cases()


@pytest.fixture(scope="session")
def turnwise_bin():
    """The `turnwise` binary of this checkout (debug or release build)."""
    for profile in ("release", "debug"):
        path = ROOT / "target" / profile / "turnwise"
        if path.exists() and os.access(path, os.X_OK):
            return path
    pytest.fail("no target/{release,debug}/turnwise: run `cargo build -p turnwise-cli` (scripts/test.sh builds it)")
