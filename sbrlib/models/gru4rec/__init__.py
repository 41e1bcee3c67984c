"""GRU4Rec in TensorFlow / Keras 3, faithful to the papers and the official implementation.

* Hidasi, Karatzoglou, Baltrunas, Tikk: *Session-based recommendations with recurrent neural
  networks*, ICLR 2016 (session-parallel mini-batches, in-batch negatives).
* Hidasi & Karatzoglou: *Recurrent neural networks with top-k gains for session-based
  recommendations*, CIKM 2018 (extra shared negatives sampled by popularity^alpha, BPR-max,
  cross-entropy, constrained embedding).

What makes it faithful (and what third-party ports got wrong):

* session-parallel mini-batches (:mod:`sbrlib.data.batching`); the hidden state of a slot is zeroed
  inside the compiled step exactly when its session starts; the state is carried between steps
  (truncated BPTT of one step, as in the original);
* item embeddings looked up by index (no one-hot); ``embedding_dim=0`` is the one-hot-equivalent
  input: the first GRU layer's input weights are looked up per item;
* scores are computed only for the target + negatives: the other targets of the mini-batch plus
  ``n_sample`` shared items sampled ∝ support^``sample_alpha`` in bulk ahead of time;
* cross-entropy takes the softmax once, on logits (optional logQ correction); BPR-max applies the
  score regularization ``bpreg`` and ELU(``elu_param``) on scores;
* dropout rates are drop probabilities; Adagrad with (optionally Nesterov) momentum as in the
  official code, updating only the touched rows of item tables (row-wise: a step's cost does not
  depend on the number of items; for small catalogues the same rule runs as one whole-table pass,
  ``table_updates``); or Adam (dense-equivalent);
* the loss is summed over the mini-batch and divided by ``batch_size``, as in the official code,
  so its learning rates transfer; at the end of an epoch finished slots are dropped (the batch
  shrinks, as in the official code) without changing the loss.

Training runs ``steps_per_call`` steps per call of one XLA-compiled ``tf.function``.

Modules: :mod:`.config` (hyperparameters), :mod:`.sampler` (negatives), :mod:`.network` (Keras
layer), :mod:`.losses`, :mod:`.optim` (update rules), :mod:`.train` (compiled training steps),
:mod:`.scoring` (compiled inference steps), :mod:`.model` (:class:`GRU4Rec`).

The names below are imported on first use, so that importing :mod:`.config`, :mod:`.presets` or
:mod:`.space` (the model registry, the notebooks' parameter checks) does not import TensorFlow;
the TensorFlow modules import it quietly through :mod:`sbrlib.core.tf`.
"""

import importlib

_EXPORTS = {
    "GRU4Rec": "model", "GRU4RecConfig": "config", "NegativeSampler": "sampler", "bpr_max_loss": "losses",
    "build_network": "network", "cross_entropy_loss": "losses",
}

__all__ = ["GRU4Rec", "GRU4RecConfig", "NegativeSampler", "bpr_max_loss", "build_network", "cross_entropy_loss"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
