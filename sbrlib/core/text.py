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


def sentences(text: str) -> str:
    """Top-level ``"; "`` clauses as sentences (each starts with a capital letter), for a long finding built
    clause by clause: ``"3 trials; the search ended (by time; see below)"`` -> ``"3 trials. The search ended (by
    time; see below)"``. Text inside parentheses, brackets or backticks is left as it is."""
    out, depth, tick, i = [], 0, False, 0
    while i < len(text):
        ch = text[i]
        if ch == "`":
            tick = not tick
        elif not tick and ch in "([":
            depth += 1
        elif not tick and ch in ")]":
            depth = max(depth - 1, 0)
        if ch == ";" and text[i + 1:i + 2] == " " and depth == 0 and not tick:
            nxt = text[i + 2:i + 3]
            out.append(". " + (nxt.upper() if nxt.isalpha() else ""))
            i += 3 if nxt.isalpha() else 2  # any other character is read by the loop (a backtick, a parenthesis)
            continue
        out.append(ch)
        i += 1
    return "".join(out)


__all__ = ["MINUS", "join_and", "sentences", "signed"]
