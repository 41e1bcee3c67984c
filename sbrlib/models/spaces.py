"""The search-space type: :class:`Param`, one searched parameter of a model family.

Each model family declares its own space next to its config (``SPACE`` in
:mod:`sbrlib.models.gru4rec.space`, :mod:`sbrlib.models.sasrec.space` and
:mod:`sbrlib.models.baselines`); :mod:`sbrlib.models.registry` names it in the family's row, and
:mod:`sbrlib.tuning.space` samples from it. Parameter names are those of the config dataclass,
except GRU4Rec's ``layers``, searched as the size of one GRU layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class SearchSpaceError(ValueError):
    """A bad search space: the message names the model family and the parameter."""


@dataclass(frozen=True)
class Param:
    """One searched parameter.

    Attributes:
        low, high: inclusive bounds of a numeric range (``choices`` empty).
        choices: the values of a categorical parameter (then ``low``/``high`` are unused).
        integer: integer range (else float).
        log: sample on a log scale (``low > 0``; no ``step``).
        step: grid step of the range (None: continuous).
        when: ``(other parameter, value)``: only searched when the other one has that value.
        doc: what the parameter does (shown in the notebook).
    """

    low: float | None = None
    high: float | None = None
    choices: tuple = ()
    integer: bool = False
    log: bool = False
    step: float | None = None
    when: tuple[str, Any] | None = None
    doc: str = ""

    @property
    def categorical(self) -> bool:
        return bool(self.choices)

    def describe(self) -> str:
        """Human-readable range, e.g. ``"[0.005, 0.5] log"`` or ``"{16, 32}"``."""
        if self.categorical:
            return "{" + ", ".join(map(str, self.choices)) + "}"
        extra = " log" if self.log else (f" step {self.step:g}" if self.step else "")
        return f"[{self.low:g}, {self.high:g}]{extra}"


def int_range(low: int, high: int, **kw: Any) -> Param:
    """An integer range ``[low, high]`` (``log``, ``step``, ``when``, ``doc`` as in :class:`Param`)."""
    return Param(low=low, high=high, integer=True, **kw)


def float_range(low: float, high: float, **kw: Any) -> Param:
    """A float range ``[low, high]``."""
    return Param(low=low, high=high, **kw)


def choice(*choices: Any, **kw: Any) -> Param:
    """A categorical parameter."""
    return Param(choices=tuple(choices), **kw)


__all__ = ["Param", "SearchSpaceError", "choice", "float_range", "int_range"]
