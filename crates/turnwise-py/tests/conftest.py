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
    """The `turnwise` binary of this checkout: the newer of the debug and release builds
    (scripts/test.sh builds the debug one in `cargo test --workspace`)."""
    built = [ROOT / "target" / p / "turnwise" for p in ("debug", "release")]
    built = [p for p in built if p.exists() and os.access(p, os.X_OK)]
    if not built:
        pytest.fail("no target/{debug,release}/turnwise: run `cargo build -p turnwise-cli` (scripts/test.sh builds it)")
    return max(built, key=lambda p: p.stat().st_mtime)
