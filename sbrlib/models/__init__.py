"""Models: one file per family. All implement :class:`sbrlib.models.base.SessionModel`."""

from sbrlib.models.base import SessionModel
from sbrlib.models.baselines import VSKNN, ItemKNN, Markov, Pop, SequentialRules, SessionPop

__all__ = ["SessionModel", "Pop", "SessionPop", "ItemKNN", "SequentialRules", "Markov", "VSKNN"]
