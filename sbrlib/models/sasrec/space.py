"""SASRec's search space (:data:`SPACE`), read through :mod:`sbrlib.models.registry`: the loss,
sequence length, depth, width, dropout, Adam's step size and the batch size around Kang &
McAuley's ML-1M setting."""

from __future__ import annotations

from sbrlib.models.spaces import Param, choice, float_range, int_range

SPACE: dict[str, Param] = {
    "loss": choice("cross-entropy", "sampled-softmax", "gbce", doc="training loss"),
    "max_len": choice(50, 100, 200, doc="longest input sequence (items attended to)"),
    "blocks": int_range(1, 3, doc="self-attention blocks"),
    "dim": choice(32, 50, 64, 128, doc="embedding / hidden size"),
    "dropout": float_range(0.0, 0.5, step=0.05, doc="drop probability (embeddings, attention, feed-forward)"),
    "learning_rate": float_range(1e-4, 1e-2, log=True, doc="Adam step size"),
    "batch_size": choice(64, 128, 256, doc="training sequences per mini-batch"),
    "n_negatives": choice(128, 256, 512, 1024, when=("loss", "sampled-softmax"),
                          doc="shared negatives per mini-batch (sampled softmax)"),
    "gbce_t": float_range(0.0, 1.0, step=0.25, when=("loss", "gbce"), doc="gBCE calibration"),
}
"""The documented search ranges of SASRec."""
