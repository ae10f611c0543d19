"""A verl agent loop that plays a turnwise environment (``turnwise_env``).

Each dataset row names the environment and the episode: ``turnwise_env`` (registry name),
``turnwise_seed`` (the episode seed; a group's rollouts share it) and optionally
``turnwise_options`` (a dict of environment options), ``turnwise_style`` ("chat" or
"faithful") and ``turnwise_max_turns``. The loop renders the observation with the
environment's own renderer, asks verl's server for a reply, parses the action with the
environment's parser and steps. The response holds the policy's tokens exactly as
generated (mask 1) and the observation tokens in between (mask 0): the turns turnwise's
estimators see. It records, in ``extra_fields``:

* ``turnwise_turn_rewards``: the environment's reward for each turn (the ``turnwise``
  reward manager puts them on the turns' last tokens);
* ``turnwise_fields``: ``{"anchor": [state key per turn]}`` (GiGPO's anchor: the state the
  action was taken in), handed to ``turnwise_*`` estimators by the plug-in's wrap of
  verl's advantage step (:mod:`turnwise.integrations.verl`).
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from verl.experimental.agent_loop.agent_loop import AgentLoopBase, AgentLoopMetrics, AgentLoopOutput, register

from .. import make_env
from .episodes import play


def _get(kwargs: dict, key: str, default=None):
    if key in kwargs and kwargs[key] is not None:
        return kwargs[key]
    extra = kwargs.get("extra_info") or {}
    return extra.get(key, default)


@register("turnwise_env")
class TurnwiseEnvAgentLoop(AgentLoopBase):
    """verl agent loop ``turnwise_env``: one turnwise environment episode per row."""

    async def run(self, sampling_params: dict[str, Any], **kwargs) -> AgentLoopOutput:
        env = make_env(_get(kwargs, "turnwise_env"), **dict(_get(kwargs, "turnwise_options", {}) or {}))
        seed = int(_get(kwargs, "turnwise_seed", 0))
        style = _get(kwargs, "turnwise_style", "chat")
        max_turns = int(_get(kwargs, "turnwise_max_turns", 10))
        response_length = int(self.rollout_config.response_length)

        async def generate(prompt_ids):
            out = await self.server_manager.generate(
                request_id=uuid4().hex, prompt_ids=prompt_ids, sampling_params=sampling_params
            )
            return list(out.token_ids), list(out.log_probs) if out.log_probs else None

        prompt_ids, response_ids, mask, logprobs, rewards, anchors, success = await play(
            env, self.tokenizer, generate, seed, style, max_turns, response_length
        )
        turns = sum(1 for i, m in enumerate(mask) if m and (i == 0 or not mask[i - 1]))
        return AgentLoopOutput(
            prompt_ids=prompt_ids,
            response_ids=response_ids,
            response_mask=mask,
            response_logprobs=logprobs,
            num_turns=2 * len(rewards),
            metrics=AgentLoopMetrics(),
            extra_fields={
                "turnwise_turn_rewards": rewards[:turns],
                "turnwise_fields": {"anchor": [str(a) for a in anchors[:turns]]},
                "turnwise_success": success,
                "turn_scores": rewards[:turns],
            },
        )


def register_agent_loop():
    """The agent loop class (registered with verl as ``turnwise_env`` on import)."""
    return TurnwiseEnvAgentLoop
