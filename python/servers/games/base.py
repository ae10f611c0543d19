"""Shared option handling of the hosted games."""

from __future__ import annotations

from typing import Any, Dict, Tuple


class Game:
    """A hosted benchmark: ``OPTIONS`` maps a name to ``(default, doc)``; instances are
    backends with ``reset(seed) -> fields`` and ``step(text) -> fields``."""

    DOC = ""
    OPTIONS: Dict[str, Tuple[Any, str]] = {}

    @classmethod
    def resolve(cls, given: Dict[str, str]) -> Dict[str, Any]:
        out = {}
        for k in given:
            if k not in cls.OPTIONS:
                raise SystemExit(f"{cls.__name__}: unknown option {k!r} (options: {', '.join(cls.OPTIONS)})")
        for k, (default, _) in cls.OPTIONS.items():
            v = given.get(k, default)
            try:
                if isinstance(default, bool):
                    if isinstance(v, str):
                        if v not in ("true", "false", "1", "0"):
                            raise ValueError(v)
                        v = v in ("true", "1")
                elif isinstance(default, int):
                    v = int(v)
                elif isinstance(default, float):
                    v = float(v)
            except ValueError:
                raise SystemExit(f"{cls.__name__}: option {k}={v!r}: expected {type(default).__name__}")
            out[k] = v
        return out

    @classmethod
    def check(cls, opts: Dict[str, Any]) -> None:
        """Raises on settings that cannot work (called before serving)."""

    def close(self) -> None:
        pass
