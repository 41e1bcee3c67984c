"""Progress bars: a widget in an interactive notebook, plain text in headless runs.

``make run-all`` executes the notebooks without a browser, where a widget bar is stored as its
first state ("0%") and shows nothing in the HTML report. With ``$SBR_PROGRESS=text`` (the run driver
sets it for its kernels) every bar is plain text, kept when it ends and refreshed at most every
``TEXT_INTERVAL_S`` seconds, so an executed notebook shows how far each loop got and how long it took.
"""

from __future__ import annotations

import functools
import os
from typing import Any

TEXT_INTERVAL_S = 10.0
"""Seconds between two refreshes of a text bar (keeps executed notebooks small)."""


def tqdm(*args: Any, **kwargs: Any):
    """``tqdm.auto.tqdm``, or a plain-text ``tqdm`` when ``$SBR_PROGRESS`` is ``"text"``."""
    if os.environ.get("SBR_PROGRESS") == "text" and not kwargs.get("disable"):
        kwargs["leave"] = True
        kwargs.setdefault("mininterval", TEXT_INTERVAL_S)
        return _text_bar()(*args, **kwargs)
    from tqdm.auto import tqdm as auto_bar

    return auto_bar(*args, **kwargs)


@functools.cache
def _text_bar() -> type:
    """A plain-text tqdm whose postfix updates wait for the next refresh: tqdm's ``set_postfix``
    refreshes at once by default, which would write one line per mini-batch into an executed notebook. It prints
    no line at 0 (its first line comes at the first refresh with progress) and its final line once."""
    from tqdm.std import tqdm as base

    class TextBar(base):
        def set_postfix(self, ordered_dict=None, refresh=True, **kwargs):  # refresh is ignored: see the docstring
            super().set_postfix(ordered_dict, refresh=False, **kwargs)

        def set_postfix_str(self, s="", refresh=True):
            super().set_postfix_str(s, refresh=False)

        def display(self, msg=None, pos=None):
            if msg is None and getattr(self, "_closing", False) and getattr(self, "_shown", None) == (self.n, self.postfix):
                return True  # closing: the final state is printed already (no second copy of the same line)
            if msg is None and self.n == 0 and not getattr(self, "_closing", False):
                return True  # no "0%" line: an executed notebook keeps every line, and a bar that ends soon needs one
            self._shown = (self.n, self.postfix)
            return super().display(msg, pos)

        def close(self):
            self._closing = True
            super().close()

    return TextBar
