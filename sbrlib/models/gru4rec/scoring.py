"""GRU4Rec's compiled inference steps: full-catalogue scores per slot, and runs without scoring."""

from __future__ import annotations

from sbrlib._tf import tf
from sbrlib.models.gru4rec.config import GRU4RecConfig


def _reset(states, starts):
    keep = 1.0 - tf.cast(starts, tf.float32)[:, None]
    return [h * keep for h in states]


def make_score_functions(net, config: GRU4RecConfig) -> dict:
    """Compiled inference functions of ``net``.

    Returns:
        dict with

        * ``score_step(states, items, starts) -> (states, scores)``: one step for all (B,) slots,
          scores (B, n_items);
        * ``score_rows(states, items, starts, rows) -> (states, scores)``: one step for the slots
          ``rows`` (w,) only (repeated rows allowed); states of the other slots are unchanged,
          scores (w, n_items);
        * ``run_sequence(states, items, starts) -> states``: (T, B) steps without scoring.
    """

    def scores_of(out):
        return tf.matmul(out, net.Wy, transpose_b=True) + net.By

    def score_step(states, items, starts):
        out, new_states = net(items, _reset(states, starts), training=False)
        return new_states, scores_of(out)

    def score_rows(states, items, starts, rows):
        sub = _reset([tf.gather(h, rows) for h in states], tf.gather(starts, rows))
        out, new_sub = net(tf.gather(items, rows), sub, training=False)
        # repeated rows compute identical states, so their writes agree
        new_states = [tf.tensor_scatter_nd_update(h, rows[:, None], s) for h, s in zip(states, new_sub, strict=True)]
        return new_states, scores_of(out)

    def run_sequence(states, items, starts):
        def body(t, *hs):
            _, new_hs = net(items[t], _reset(list(hs), starts[t]), training=False)
            return (t + 1, *new_hs)

        result = tf.while_loop(lambda t, *_: t < tf.shape(items)[0], body, (tf.constant(0), *states))
        return list(result[1:])

    jit = config.jit_compile
    return {
        "score_step": tf.function(score_step, jit_compile=jit, reduce_retracing=True),
        "score_rows": tf.function(score_rows, jit_compile=jit, reduce_retracing=True),
        "run_sequence": tf.function(run_sequence, reduce_retracing=True),
    }
