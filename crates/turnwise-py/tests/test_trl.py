"""A TRL GRPOTrainer (trl from PyPI) trains two steps on the CPU, with a tiny random model,
on a turnwise environment, with turnwise's turn-level advantages per token."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")


def test_grpo_trainer_two_steps_on_a_turnwise_env(tmp_path, monkeypatch):
    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
    import turnwise as tw
    from tiny import model, tokenizer, warm_start
    from trl import GRPOConfig
    from turnwise.integrations.trl import TurnwiseGRPOTrainer, episode_dataset

    torch.set_num_threads(1)
    tok = tokenizer()
    m = model(tok)
    env = tw.make_env("ragen/frozenlake")
    prompts = [[{"role": "user", "content": env.render(env.reset(s)[0], 1)}] for s in range(8)]
    replies = [f"<answer>{a}</answer>" for a in ("Left", "Down", "Right", "Up", "Jump", "Fly")]
    assert warm_start(m, tok, prompts, replies) < 1.5  # answers in format, valid or not
    before = {k: v.clone() for k, v in m.named_parameters()}
    args = GRPOConfig(
        output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=4, max_completion_length=400,
        max_steps=2, learning_rate=1e-2, logging_steps=1, report_to=[], use_cpu=True, bf16=False,
        save_strategy="no", temperature=1.0, seed=0, gradient_checkpointing=False, mask_truncated_completions=False,
    )
    trainer = TurnwiseGRPOTrainer(
        model=m, args=args, train_dataset=episode_dataset("ragen/frozenlake", range(8)), processing_class=tok,
        env="ragen/frozenlake", method="turn_mean_baseline", max_turns=3, max_turn_tokens=24,
    )
    seen = []
    original = trainer._generate_and_score_completions

    def spy(inputs):
        out = original(inputs)
        seen.append(out)
        return out

    trainer._generate_and_score_completions = spy
    result = trainer.train()
    assert trainer.state.global_step == 2 and np.isfinite(result.training_loss)
    assert any(h.get("grad_norm", 0) > 0 for h in trainer.state.log_history)  # a real policy-gradient step
    assert any(not torch.equal(before[k], v.detach().cpu()) for k, v in trainer.model.named_parameters())
    rows = []
    for out in seen:
        adv, mask = out["advantages"], out["completion_mask"] * out["tool_mask"]
        assert adv.shape == mask.shape  # per-token advantages
        assert torch.all(adv[mask == 0] == 0)
        rows += [adv[i][mask[i] == 1] for i in range(adv.shape[0])]
    logs = [h for h in trainer.state.log_history if "turnwise/turns" in h]
    assert logs and logs[0]["turnwise/turns"] > 1  # multi-turn episodes
    # turn-level credit: within a row, turns get different advantages
    assert any(len(torch.unique(r)) > 1 for r in rows)
