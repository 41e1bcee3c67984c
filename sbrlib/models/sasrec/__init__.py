"""SASRec (Kang & McAuley, ICDM 2018) in Keras 3 / TensorFlow: causal self-attention over the last
``max_len`` items, shared input/output item embeddings, full-softmax cross-entropy (default),
sampled softmax with logQ, gBCE (Petrov & Macdonald, RecSys 2023) or the original binary
cross-entropy with one negative per position; training rows from non-overlapping windows, sliding
windows (per-prefix) or the last window; the block layout of the original, post-norm or pre-norm.

Modules: :mod:`~sbrlib.models.sasrec.config` (``SASRecConfig``), :mod:`~sbrlib.models.sasrec.sequences`
(training rows), :mod:`~sbrlib.models.sasrec.network` (layer and losses),
:mod:`~sbrlib.models.sasrec.model` (``SASRec``).
"""

from sbrlib.models.sasrec.config import SASRecConfig
from sbrlib.models.sasrec.model import SASRec

__all__ = ["SASRec", "SASRecConfig"]
