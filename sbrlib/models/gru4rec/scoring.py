"""GRU4Rec's compiled inference steps: full-catalogue scores per slot, and runs without scoring.

The recurrent part of a step (a few small matrix products and element-wise gates) is compiled
with XLA when ``config.jit_compile``; the catalogue product ``out @ Wy.T + By`` ((w, layers[-1]) x
(layers[-1], n_items), nearly all of a scoring step's work) runs as TensorFlow's own matmul kernel
on CPU, which is 2-3x faster there than XLA's CPU dot at these shapes (measured on 2 cores), and
inside the XLA cluster on a GPU. Both are one call per step; scores are float32.
"""

from __future__ import annotations

from sbrlib.core.tf import HAS_GPU, tf
from sbrlib.models.gru4rec.config import GRU4RecConfig


def _reset(states, starts):
    keep = 1.0 - tf.cast(starts, tf.float32)[:, None]
    return [h * keep for h in states]


def make_score_functions(net, config: GRU4RecConfig, gpu: bool = HAS_GPU) -> dict:
    """Compiled inference functions of ``net``.

    Args:
        net: the network (:func:`.network.build_network`).
        config: hyperparameters (``jit_compile``).
        gpu: whether TensorFlow places the ops on a GPU (then the catalogue product is compiled
            with the rest of the step).

    Returns:
        dict with

        * ``score_step(states, items, starts) -> (states, scores)``: one step for all (B,) slots,
          scores (B, n_items);
        * ``score_rows(states, items, starts, rows) -> (states, scores)``: one step for the slots
          ``rows`` (w,) only (repeated rows allowed); states of the other slots are unchanged,
          scores (w, n_items);
        * ``run_sequence(states, items, starts) -> states``: (T, B) steps without scoring.
    """
    jit = config.jit_compile
    fuse_scores = gpu or not jit  # one function: XLA on a GPU, or no XLA at all

    def scores_of(out):
        return tf.matmul(out, net.Wy, transpose_b=True) + net.By

    def recur_step(states, items, starts):
        return net(items, _reset(states, starts), training=False)

    def recur_rows(states, items, starts, rows):
        sub = _reset([tf.gather(h, rows) for h in states], tf.gather(starts, rows))
        out, new_sub = net(tf.gather(items, rows), sub, training=False)
        # repeated rows compute identical states, so their writes agree
        new_states = [tf.tensor_scatter_nd_update(h, rows[:, None], s) for h, s in zip(states, new_sub, strict=True)]
        return out, new_states

    if not fuse_scores:  # CPU with XLA: the recurrence as an XLA cluster inside a plain function
        recur_step = tf.function(recur_step, jit_compile=True, reduce_retracing=True)
        recur_rows = tf.function(recur_rows, jit_compile=True, reduce_retracing=True)

    def score_step(states, items, starts):
        out, new_states = recur_step(states, items, starts)
        return new_states, scores_of(out)

    def score_rows(states, items, starts, rows):
        out, new_states = recur_rows(states, items, starts, rows)
        return new_states, scores_of(out)

    def run_sequence(states, items, starts):
        def body(t, *hs):
            _, new_hs = net(items[t], _reset(list(hs), starts[t]), training=False)
            return (t + 1, *new_hs)

        result = tf.while_loop(lambda t, *_: t < tf.shape(items)[0], body, (tf.constant(0), *states))
        return list(result[1:])

    outer_jit = jit and fuse_scores
    return {
        "score_step": tf.function(score_step, jit_compile=outer_jit, reduce_retracing=True),
        "score_rows": tf.function(score_rows, jit_compile=outer_jit, reduce_retracing=True),
        "run_sequence": tf.function(run_sequence, reduce_retracing=True),
    }
