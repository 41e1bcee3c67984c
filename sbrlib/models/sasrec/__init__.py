"""SASRec (Kang & McAuley, ICDM 2018) in Keras 3 / TensorFlow: causal self-attention over the last
``max_len`` items, shared input/output item embeddings, full-softmax cross-entropy (default),
sampled softmax with logQ, gBCE (Petrov & Macdonald, RecSys 2023) or the original binary
cross-entropy with one negative per position; training rows from non-overlapping windows, sliding
windows (per-prefix) or the last window; the block layout of the original, post-norm or pre-norm.

Modules: :mod:`~sbrlib.models.sasrec.config` (``SASRecConfig``), :mod:`~sbrlib.models.sasrec.sequences`
(training rows), :mod:`~sbrlib.models.sasrec.network` (layer and losses),
:mod:`~sbrlib.models.sasrec.model` (``SASRec``).
"""

import importlib

_EXPORTS = {"SASRec": "model", "SASRecConfig": "config"}  # imported on first use: config without TensorFlow

__all__ = ["SASRec", "SASRecConfig"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
