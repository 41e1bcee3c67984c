"""GRU4Rec's search space (:data:`SPACE`), read through :mod:`sbrlib.models.registry`.

It covers what the official GRU4Rec ``paropt`` spaces cover (layer size 64-512, here on a log
scale; batch size, learning rate, both dropouts, momentum, sample_alpha, bpreg and the ELU of
BPR-max) plus the loss, the embedding, ``n_sample`` and ``logq``. ``layers`` is searched as the
size of one GRU layer.
"""

from __future__ import annotations

from sbrlib.models.spaces import Param, choice, float_range, int_range

_CE, _BPR = ("loss", "cross-entropy"), ("loss", "bpr-max")

SPACE: dict[str, Param] = {
    "loss": choice("cross-entropy", "bpr-max", doc="training loss"),
    "constrained_embedding": choice(True, False, doc="share input and output item vectors"),
    "embedding_dim": choice(0, 64, 128, 256, when=("constrained_embedding", False),
                            doc="input embedding size (0: one-hot-equivalent input)"),
    "layers": int_range(64, 512, log=True, doc="size of the (single) GRU layer"),
    "batch_size": int_range(16, 256, log=True, doc="parallel sessions per mini-batch"),
    "dropout_embed": float_range(0.0, 0.5, step=0.05, doc="drop probability on the input embedding"),
    "dropout_hidden": float_range(0.0, 0.7, step=0.05, doc="drop probability on the GRU output"),
    "learning_rate": float_range(0.005, 0.5, log=True, doc="Adagrad step size"),
    "momentum": float_range(0.0, 0.9, step=0.05, doc="Adagrad momentum"),
    "n_sample": choice(0, 512, 1024, 2048, 4096, doc="extra shared negatives per step"),
    "sample_alpha": float_range(0.0, 1.0, step=0.1, doc="negatives drawn ∝ support ** sample_alpha"),
    "logq": float_range(0.0, 1.0, step=0.25, when=_CE, doc="logQ correction of cross-entropy"),
    "bpreg": float_range(0.0, 2.0, step=0.05, when=_BPR, doc="BPR-max score regularization"),
    "elu_param": choice(0.0, 0.5, 1.0, when=_BPR, doc="BPR-max ELU on scores (0: linear)"),
}
"""The documented search ranges of GRU4Rec."""
