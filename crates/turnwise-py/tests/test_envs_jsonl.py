"""Environments and trajectory files from Python."""

import json

import numpy as np
import pytest

import turnwise as tw


def test_every_registered_env_resets_and_steps():
    names = [e["name"] for e in tw.envs()]
    assert {"lmrl/maze-fo", "ragen/sokoban", "lmrl/wordle"} <= set(names)
    for name in names:
        env = tw.make_env(name)
        obs, info = env.reset(seed=7)
        assert isinstance(obs, str) and set(info) >= {"success", "action_valid"}
        assert env.reset(seed=7)[0] == obs  # same seed, same episode
        action = env.expert_action() or env.action_space()[0]
        obs2, r, term, trunc, info = env.step(action)
        assert isinstance(r, float) and isinstance(term, bool) and isinstance(trunc, bool)


def test_expert_solves_the_maze_and_step_after_the_end_raises():
    env = tw.make_env("lmrl/maze-fo")
    env.reset(3)
    for _ in range(200):
        _, _, term, trunc, info = env.step(env.expert_action())
        if term or trunc:
            break
    assert term and info["success"]
    with pytest.raises(tw.EnvError, match="the episode is over; call reset"):
        env.step("move up")
    with pytest.raises(tw.EnvError, match="call reset"):
        tw.make_env("lmrl/maze-fo").step("move up")


def test_options_and_errors():
    env = tw.make_env("ragen/sokoban", max_steps=3)
    env.reset(0)
    for _ in range(3):
        out = env.step("Up")
    assert out[3] or out[2]  # the budget of 3 actions ends the episode
    with pytest.raises(tw.EnvError, match=r"unknown environment `lmrl/maz-fo` \(did you mean `lmrl/maze-fo`\?\)"):
        tw.make_env("lmrl/maz-fo")
    with pytest.raises(tw.EnvError, match="has no option `max_stepz`"):
        tw.make_env("ragen/sokoban", max_stepz=3)


def test_vector_env_matches_single_envs():
    vec = tw.make_vec_env("ragen/frozenlake", 4)
    obs, infos = vec.reset(10)
    singles = [tw.make_env("ragen/frozenlake") for _ in range(4)]
    assert obs == [e.reset(10 + i)[0] for i, e in enumerate(singles)]
    done = [False] * 4
    for step in range(6):
        actions = [["Left", "Down", "Right", "Up"][(i + step) % 4] for i in range(4)]
        o, r, term, trunc, _ = vec.step(actions)
        assert r.dtype == np.float64 and term.dtype == bool
        for i, e in enumerate(singles):
            if done[i]:
                assert r[i] == 0.0
                continue
            so, sr, st, su, _ = e.step(actions[i])
            assert (o[i], r[i], term[i], trunc[i]) == (so, sr, st, su)
            done[i] = st or su


def test_render_and_parse_use_the_envs_formats():
    env = tw.make_env("ragen/sokoban")
    obs, _ = env.reset(1)
    prompt = env.render(obs, turn=1, style="faithful")
    assert "Turn 1:" in prompt and obs in prompt
    assert env.parse("<think>x</think><answer>Up</answer>", style="faithful") == ("Up", True)
    assert env.parse("no tags") == ("", False)


def test_jsonl_round_trip_and_errors(tmp_path, cases):
    groups = [g for c in cases[:20] for g in c["groups"]]
    path = tmp_path / "batch.jsonl"
    tw.write_jsonl(path, groups)
    lines = path.read_text().splitlines()
    assert len(lines) == len(groups) and all(json.loads(x)["v"] == 1 for x in lines)
    back = tw.read_jsonl(path)
    assert tw.read_jsonl(tmp_path / "batch.jsonl") == back
    tw.write_jsonl(tmp_path / "again.jsonl", back)
    assert (tmp_path / "again.jsonl").read_text() == path.read_text()
    path.write_text(lines[0] + "\n" + '{"v": 1, "prompt_id": "p", "trajectories": [{"id": "a", "outcome": "x"}]}\n')
    with pytest.raises(tw.FormatError, match=r"batch.jsonl:2: trajectories\[0\]\.outcome: invalid type"):
        tw.read_jsonl(path)
    with pytest.raises(OSError):
        tw.read_jsonl(tmp_path / "missing.jsonl")
