"""Small formatting helpers for the sentences the library writes (findings, verdicts, labels).

One place for what several text builders need alike, so a number or a list reads the same in every
notebook: signed differences with the typographic minus, and lists joined with "and".
"""

from __future__ import annotations

from collections.abc import Iterable

MINUS = "\u2212"
"""The typographic minus sign of running text (``−``, not the hyphen ``-``)."""


def signed(x: float, digits: int = 4) -> str:
    """A signed number for running text: ``-0.0025 -> "−0.0025"``, ``0.01 -> "+0.0100"``; one that rounds to
    zero keeps its sign (``"−0.0000"`` for -0.00003)."""
    return f"{x:+.{digits}f}".replace("-", MINUS)


def join_and(items: Iterable[object]) -> str:
    """``["a", "b", "c"] -> "a, b and c"``, ``[7, 1] -> "7 and 1"``, ``["a"] -> "a"``, ``[] -> ""``."""
    words = [str(i) for i in items]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


__all__ = ["MINUS", "join_and", "signed"]
