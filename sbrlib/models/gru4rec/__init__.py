"""GRU4Rec in TensorFlow / Keras 3, faithful to the papers and the official implementation.

* Hidasi, Karatzoglou, Baltrunas, Tikk: *Session-based recommendations with recurrent neural
  networks*, ICLR 2016 (session-parallel mini-batches, in-batch negatives).
* Hidasi & Karatzoglou: *Recurrent neural networks with top-k gains for session-based
  recommendations*, CIKM 2018 (extra shared negatives sampled by popularity^alpha, BPR-max,
  cross-entropy, constrained embedding).

What makes it faithful (and what third-party ports got wrong):

* session-parallel mini-batches (:mod:`sbrlib.batching`); the hidden state of a slot is zeroed
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
  depend on the number of items); or Adam (dense-equivalent);
* the loss is summed over the mini-batch and divided by ``batch_size``, as in the official code,
  so its learning rates transfer; at the end of an epoch finished slots are dropped (the batch
  shrinks, as in the official code) without changing the loss.

Training runs ``steps_per_call`` steps per call of one XLA-compiled ``tf.function``.

Modules: :mod:`.config` (hyperparameters), :mod:`.sampler` (negatives), :mod:`.network` (Keras
layer), :mod:`.losses`, :mod:`.optim` (update rules), :mod:`.train` (compiled training steps),
:mod:`.scoring` (compiled inference steps), :mod:`.model` (:class:`GRU4Rec`).
"""

import sbrlib._tf  # noqa: F401  (imports TensorFlow quietly first)
from sbrlib.models.gru4rec.config import GRU4RecConfig
from sbrlib.models.gru4rec.losses import bpr_max_loss, cross_entropy_loss
from sbrlib.models.gru4rec.model import GRU4Rec
from sbrlib.models.gru4rec.network import build_network
from sbrlib.models.gru4rec.sampler import NegativeSampler

__all__ = ["GRU4Rec", "GRU4RecConfig", "NegativeSampler", "bpr_max_loss", "build_network", "cross_entropy_loss"]
