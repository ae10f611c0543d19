"""TextWorld games (``textworld`` on PyPI, MIT), generated and compiled locally.

- ``Cooking``: the cooking games of the First TextWorld Problems competition, made by
  TextWorld's own ``tw-cooking`` generator from a seed and a difficulty preset.
- ``TextNav``: LMRL-Gym's Text-Nav house (``llm_rl_scripts/text_nav/env``), built the way
  LMRL-Gym builds it: the same 8 rooms, exits, furniture, items, quest, grammar flags and
  observation processing; the start room is drawn from the episode seed.

Compiled games are cached under ``$TURNWISE_CACHE/textworld`` (a file lock keeps two
workers from compiling the same game).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import re
from typing import Any, Dict, List

from .base import Game

COOKING_LEVELS = {
    1: dict(recipe=1, take=1, go=1, open=False, cook=False, cut=False, drop=False),
    2: dict(recipe=1, take=1, go=6, open=True, cook=True, cut=False, drop=False),
    3: dict(recipe=2, take=2, go=6, open=True, cook=True, cut=True, drop=False),
    4: dict(recipe=3, take=3, go=9, open=True, cook=True, cut=True, drop=True),
}

TEXT_NAV_ROOMS = [
    "bedroom", "office", "bathroom", "living room", "kitchen", "dining room", "garden", "backyard",
]
# LMRL's exits: (room, direction, room, direction back).
TEXT_NAV_EXITS = [
    ("bedroom", "west", "living room", "east"),
    ("living room", "west", "dining room", "east"),
    ("dining room", "west", "kitchen", "east"),
    ("kitchen", "north", "garden", "south"),
    ("living room", "south", "office", "north"),
    ("office", "east", "bathroom", "west"),
    ("bedroom", "south", "bathroom", "north"),
    ("kitchen", "west", "backyard", "east"),
]
TEXT_NAV_OBJECTIVE = (
    "Your objective is to put the stale food on the table in the living room"
    " into the fridge in the kitchen."
)


def _cache(*parts: str) -> str:
    from . import cache_dir

    return cache_dir("textworld", *parts)


def _compile_once(path: str, build) -> str:
    """Compiles the game ``build()`` returns to ``path`` (and its ``.json``) unless it is
    there already."""
    if os.path.exists(path):
        return path
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(path):
            import textworld

            game, options = build()
            options.path = path + ".tmp.z8"
            options.file_ext = ".z8"
            options.force_recompile = True
            out = textworld.generator.compile_game(game, options)
            # The game's .json (needed for admissible and policy commands) first, the .z8
            # (whose presence means "compiled") last.
            os.replace(os.path.splitext(out)[0] + ".json", os.path.splitext(path)[0] + ".json")
            os.replace(out, path)
    return path


def _get(state, key):
    """A field of a TextWorld ``GameState`` (computed on access, so not ``dict.get``)."""
    try:
        return state[key]
    except KeyError:
        return None


def _infos(expert: bool, inventory: bool = False, facts: bool = False):
    import textworld

    return textworld.EnvInfos(
        admissible_commands=True, score=True, max_score=True, won=True, lost=True,
        policy_commands=expert and not facts, inventory=inventory, facts=facts,
    )


class _TextWorld(Game):
    """A TextWorld backend: one interpreter, restarted when the game file changes."""

    def __init__(self, opts: Dict[str, Any]):
        self.opts = opts
        self.env = None
        self.path = None
        self.state = None
        self.steps = 0
        self.score = 0

    def _start(self, path: str, inventory: bool = False):
        import textworld

        if path != self.path:
            if self.env is not None:
                self.env.close()
            facts = self.opts["expert"] and self.uses_facts
            self.env = textworld.start(path, _infos(self.opts["expert"], inventory, facts))
            self.path = path
        self.state = self.env.reset()
        self.steps = 0
        self.score = _get(self.state, "score") or 0
        return self.state

    def _fields(self, text: str, reward=None, done=False, truncated=False, valid=True) -> Dict[str, Any]:
        s = self.state
        expert = None
        if self.opts["expert"] and not (done or truncated):
            expert = self.expert(s)
        admissible = list(_get(s, "admissible_commands") or [])
        return dict(
            text=text,
            reward=reward,
            done=bool(done or truncated),
            terminated=bool(done and not truncated),
            truncated=bool(truncated),
            success=bool(_get(s, "won")),
            action_valid=valid,
            score=float(_get(s, "score") or 0),
            expert_action=expert,
            action_space=admissible[:30],
            budget_left=max(0, self.opts["max_steps"] - self.steps),
            action_format="line",
            stop="\n",
            # GiGPO's anchor state: the observation as shown (verl-agent's choice for text games).
            state_key=text,
        )

    uses_facts = False

    def expert(self, state):
        """TextWorld's own policy commands (its walkthrough from the current state)."""
        pc = _get(state, "policy_commands") or []
        return pc[0] if pc else None

    def _advance(self, text: str):
        """One command; returns (reward, done, truncated, valid)."""
        command = text.strip()
        valid = command in (_get(self.state, "admissible_commands") or [])
        # A backslash starts a command of the dumb-frotz interpreter itself (\q quits it), not
        # of the game: the policy's text reaches the game without them.
        command = command.replace("\\", " ")
        self.state, _, done = self.env.step(command)
        self.steps += 1
        score = _get(self.state, "score") or 0
        max_score = _get(self.state, "max_score") or 1
        reward = (score - self.score) / max_score
        self.score = score
        truncated = (not done) and self.steps >= self.opts["max_steps"]
        return reward, done, truncated, valid

    def close(self) -> None:
        if self.env is not None:
            self.env.close()
            self.env = None


def _strip_banner(text: str) -> str:
    lines = [ln for ln in text.split("\n") if not re.fullmatch(r"[\s_|\\/$<>]*[_|\\/$]+[\s_|\\/$<>]*", ln)]
    return "\n".join(lines).strip() + "\n"


class Cooking(_TextWorld):
    DOC = ("TextWorld cooking games (First TextWorld Problems, tw-cooking generator) from a seed and a "
           "difficulty; reward = score gain / max score, success = won.")
    OPTIONS = {
        "difficulty": (1, "1..4: recipe size, rooms, and the open / cook / cut / drop skills"),
        "games": (10, "distinct games: episode seed % games picks one (compiled once, cached)"),
        "split": ("train", "food split of tw-cooking: train, valid or test"),
        "max_steps": (50, "steps before the episode is truncated"),
        "admissible": (True, "append the admissible commands to each observation"),
        "expert": (True, "compute TextWorld's policy commands (the expert) every step"),
    }

    @classmethod
    def check(cls, opts):
        if opts["difficulty"] not in COOKING_LEVELS:
            raise SystemExit("difficulty must be 1, 2, 3 or 4")
        if opts["split"] not in ("train", "valid", "test"):
            raise SystemExit("split must be train, valid or test")
        if opts["games"] < 1:
            raise SystemExit("games must be at least 1")
        import textworld  # noqa: F401  (the package must be installed)

    def game_path(self, seed: int) -> str:
        gid = seed % self.opts["games"]
        d, split = self.opts["difficulty"], self.opts["split"]
        path = os.path.join(_cache("cooking"), f"d{d}-{split}-{gid}.z8")

        def build():
            import textworld
            from textworld.challenges.tw_cooking.cooking import make

            options = textworld.GameOptions()
            options.seeds = 1000 * d + gid
            settings = dict(COOKING_LEVELS[d], recipe_seed=gid, split=split)
            return make(settings, options), options

        return _compile_once(path, build)

    def _text(self, feedback: str) -> str:
        text = feedback
        if self.opts["admissible"]:
            text = text.rstrip("\n") + "\nAdmissible commands: {}\n".format(
                ", ".join(_get(self.state, "admissible_commands") or []))
        return text

    def reset(self, seed: int) -> Dict[str, Any]:
        self._start(self.game_path(seed))
        f = self._fields(self._text(_strip_banner(self.state.feedback)))
        f["instructions"] = ""
        return f

    def step(self, text: str) -> Dict[str, Any]:
        reward, done, truncated, valid = self._advance(text)
        return self._fields(self._text(self.state.feedback), reward, done, truncated, valid)


class TextNav(_TextWorld):
    DOC = ("LMRL-Gym Text-Nav: put the stale food from the living-room table into the kitchen fridge and "
           "close it (reward 1); start room from the seed; full or partial observation.")
    OPTIONS = {
        "observation": ("partial", "partial (LMRL default: location hidden) or full (location and inventory)"),
        "max_steps": (15, "steps before truncation (LMRL's data collection used 15)"),
        "expert": (True, "compute TextWorld's policy commands (the expert) every step"),
    }

    uses_facts = True

    def expert(self, state):
        return text_nav_expert(_get(state, "facts") or [])

    @classmethod
    def check(cls, opts):
        if opts["observation"] not in ("partial", "full"):
            raise SystemExit("observation must be partial or full")
        import textworld  # noqa: F401

    def game_path(self, start: str) -> str:
        hide = self.opts["observation"] == "partial"
        name = f"textnav-{start.replace(' ', '_')}-{'po' if hide else 'fo'}.z8"
        return _compile_once(os.path.join(_cache("text-nav"), name), lambda: build_text_nav(start, hide))

    def _process(self, feedback: str) -> str:
        # LMRL's TextNavEnv: inventory after every step (full observation), admissible
        # commands without examine / look / inventory, "-= Room =-" headers removed.
        s = self.state
        if self.opts["observation"] == "full":
            inv, _, _ = self.env.step("inventory")
            feedback += "\n{}\n".format(inv.feedback.strip())
        redundant = ["examine", "look", "inventory"]
        cmds = [c for c in (_get(s, "admissible_commands") or []) if not any(a in c for a in redundant)]
        s["admissible_commands"] = cmds
        feedback += "\nAdmissible commands: {}\n".format(", ".join(cmds))
        return re.sub("-=.*=-\n", "", feedback)

    def reset(self, seed: int) -> Dict[str, Any]:
        start = random.Random(seed).choice(TEXT_NAV_ROOMS)
        self._start(self.game_path(start), inventory=self.opts["observation"] == "full")
        f = self._fields(self._process(self.state.feedback))
        f["instructions"] = ""
        return f

    def step(self, text: str) -> Dict[str, Any]:
        reward, done, truncated, valid = self._advance(text)
        return self._fields(self._process(self.state.feedback), reward, done, truncated, valid)


def _first_move(src: str, dst: str) -> str:
    """The first ``go DIR`` of a shortest path between two rooms of the Text-Nav house."""
    nbrs = {}
    for a, da, b, db in TEXT_NAV_EXITS:
        nbrs.setdefault(a, []).append((da, b))
        nbrs.setdefault(b, []).append((db, a))
    frontier, first = [src], {src: None}
    while frontier:
        nxt = []
        for room in frontier:
            for d, r in nbrs[room]:
                if r not in first:
                    first[r] = first[room] or f"go {d}"
                    nxt.append(r)
        frontier = nxt
    return first[dst]


def text_nav_expert(facts) -> str:
    """The optimal next command from TextWorld's facts (LMRL's walkthrough, from any state):
    fetch the stale food from the living-room table, carry it to the kitchen, open the
    fridge, put it in, close the fridge."""
    at, carried, in_fridge, fridge_open = None, False, False, False
    for f in facts:
        names = [v.name for v in f.arguments]
        if f.name == "at" and names[0] == "P":
            at = names[1]
        elif f.name == "in" and names == ["stale food", "I"]:
            carried = True
        elif f.name == "in" and names == ["stale food", "fridge"]:
            in_fridge = True
        elif f.name == "open" and names == ["fridge"]:
            fridge_open = True
        elif f.name == "eaten":
            return None
    if in_fridge:
        return "close fridge" if fridge_open else None
    if not carried:
        return "take stale food from table" if at == "living room" else _first_move(at, "living room")
    if at != "kitchen":
        return _first_move(at, "kitchen")
    return "insert stale food into fridge" if fridge_open else "open fridge"


def build_text_nav(start: str, hide_location: bool):
    """LMRL-Gym's Text-Nav game (``make_game.py``) with a given start room."""
    with _room_names_hidden(hide_location):
        return _build_text_nav(start, hide_location)


@contextlib.contextmanager
def _room_names_hidden(active: bool):
    """LMRL's ``hide_location``: LMRL-Gym runs a TextWorld fork (jxihong/TextWorld) whose
    grammar option ``hide_location`` leaves out the decorative first sentence of each room
    description (the one naming the room). TextWorld 1.7 has no such option, so the same
    text is dropped while the game's texts are generated."""
    from textworld.generator import text_generation as tg

    original = tg.expand_clean_replace

    def expand(symbol, grammar, obj, game):
        return "" if symbol == "#dec#\n\n" else original(symbol, grammar, obj, game)

    if active:
        tg.expand_clean_replace = expand
    try:
        yield
    finally:
        tg.expand_clean_replace = original


def _build_text_nav(start: str, hide_location: bool):
    import numpy as np
    import textworld
    from textworld import GameMaker
    from textworld.generator.game import Event, Quest

    options = textworld.GameOptions()
    options.grammar.include_adj = False
    options.grammar.only_last_action = True
    options.grammar.blend_instructions = True
    options.grammar.blend_descriptions = True
    M = GameMaker(options)
    rooms = {name: M.new_room(name) for name in TEXT_NAV_ROOMS}
    r = rooms
    for a, da, b, db in TEXT_NAV_EXITS:
        M.connect(getattr(r[a], da), getattr(r[b], db))
    bed_table = M.new(type="s", name="table")
    living_table = M.new(type="s", name="table")
    dining_table = M.new(type="s", name="table")
    chest = M.new(type="c", name="chest")
    fridge = M.new(type="c", name="fridge")
    M.add_fact("closed", chest)
    M.add_fact("closed", fridge)
    r["bedroom"].add(bed_table)
    r["office"].add(chest)
    r["living room"].add(living_table)
    r["dining room"].add(dining_table)
    r["kitchen"].add(fridge)
    food = M.new(type="f", name="stale food")
    living_table.add(food)
    living_table.add(M.new(type="f", name="fresh food"))
    bed_table.add(M.new(type="o", name="bowl"))
    dining_table.add(M.new(type="o", name="coffee cup"))
    dining_table.add(M.new(type="o", name="plate"))
    chest.add(M.new(type="o", name="utensils"))
    fridge.add(M.new(type="f", name="fruit"))
    M.player = M.new(type="P")
    M.set_player(r[start])
    eaten = Event(conditions={M.new_fact("eaten", food)})
    stored = Event(conditions={M.new_fact("in", food, fridge), M.new_fact("closed", fridge)})
    M.quests = [Quest(win_events=[], fail_events=[eaten]), Quest(win_events=[stored], reward=1)]
    game = M.build()
    game.objective = TEXT_NAV_OBJECTIVE
    game.metadata = {"partial_information": hide_location, "start": start}
    flags = {
        "theme": "house", "include_adj": False, "only_last_action": True,
        "blend_instructions": True, "blend_descriptions": True,
        "hide_location": hide_location, "instruction_extension": [],
    }
    game.change_grammar(textworld.generator.make_grammar(flags, rng=np.random.RandomState(1234)))
    return game, options
