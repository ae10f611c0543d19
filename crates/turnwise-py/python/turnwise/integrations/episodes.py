"""One episode of a turnwise environment played by a chat policy, token-exact: the
policy's tokens are kept exactly as generated (mask 1), the environment's messages are
appended as the tokens their chat-template rendering adds (mask 0). Shared by the verl
agent loop and the TRL trainer."""

from __future__ import annotations

from typing import Any

class ChatTokens:
    """Token ids of a chat, grown turn by turn: the policy's replies are appended exactly
    as generated; each new user message adds the tokens its template rendering adds after
    the conversation so far."""

    def __init__(self, tokenizer, messages: list[dict]):
        self.tokenizer = tokenizer
        self.messages = list(messages)
        self.ids = self._render(add_generation_prompt=True)

    def _render(self, add_generation_prompt: bool) -> list[int]:
        out = self.tokenizer.apply_chat_template(self.messages, add_generation_prompt=add_generation_prompt, tokenize=True)
        if isinstance(out, dict) or hasattr(out, "keys"):
            out = out["input_ids"]
        return list(out)

    def add_reply(self, token_ids: list[int], text: str) -> None:
        self.ids.extend(token_ids)
        self.messages.append({"role": "assistant", "content": text})

    def add_user(self, text: str) -> list[int]:
        before = self._render(add_generation_prompt=False)
        self.messages.append({"role": "user", "content": text})
        after = self._render(add_generation_prompt=True)
        delta = after[len(before) :] if after[: len(before)] == before else after[len(before) :]
        self.ids.extend(delta)
        return delta


async def play(env, tokenizer, generate, seed: int, style: str, max_turns: int, response_length: int):
    """One episode: returns ``(prompt_ids, response_ids, response_mask, logprobs,
    turn_rewards, anchors, success)``. ``generate(prompt_ids) -> (token_ids, log_probs)``
    is the policy."""
    obs, info = env.reset(seed)
    messages = []
    system = env.system_prompt(style)
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": env.render(obs, 1, None, style)})
    chat = ChatTokens(tokenizer, messages)
    prompt_len = len(chat.ids)
    response_mask: list[int] = []
    logprobs: list[float] = []
    turn_rewards: list[float] = []
    anchors: list[Any] = []
    success = False
    for turn in range(1, max_turns + 1):
        anchors.append(info.get("state_key") or obs)
        token_ids, lps = await generate(list(chat.ids))
        text = tokenizer.decode(token_ids, skip_special_tokens=True)
        chat.add_reply(token_ids, text)
        response_mask.extend([1] * len(token_ids))
        logprobs.extend(lps if lps else [0.0] * len(token_ids))
        action, _ok = env.parse(text, style)
        obs, reward, terminated, truncated, info = env.step(action)
        turn_rewards.append(reward)
        success = info["success"]
        if terminated or truncated or turn == max_turns or len(response_mask) >= response_length:
            break
        delta = chat.add_user(env.render(obs, turn + 1, reward, style))
        response_mask.extend([0] * len(delta))
        logprobs.extend([0.0] * len(delta))
    ids = chat.ids
    return (
        ids[:prompt_len],
        ids[prompt_len:][:response_length],
        response_mask[:response_length],
        logprobs[:response_length],
        turn_rewards,
        anchors,
        success,
    )
