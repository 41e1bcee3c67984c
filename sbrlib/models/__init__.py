"""Models: one file per family. All implement :class:`sbrlib.models.base.SessionModel`.

``SASRec`` and ``SASRecConfig`` are importable from here too; they load TensorFlow on first use
only, so importing the baselines stays light.
"""

from sbrlib.models.base import SessionModel
from sbrlib.models.baselines import VSKNN, ItemKNN, Markov, Pop, SequentialRules, SessionPop

__all__ = ["SessionModel", "Pop", "SessionPop", "ItemKNN", "SequentialRules", "Markov", "VSKNN", "SASRec",
           "SASRecConfig"]


def __getattr__(name: str):
    if name in ("SASRec", "SASRecConfig"):
        from sbrlib.models import sasrec

        return getattr(sasrec, name)
    raise AttributeError(f"module 'sbrlib.models' has no attribute {name!r}")
