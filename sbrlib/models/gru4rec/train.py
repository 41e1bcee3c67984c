"""GRU4Rec's compiled training: many session-parallel steps per call of one XLA-compiled function.

A step (for ``w`` slots, ``n_sample`` shared negatives):

1. zero the hidden state of slots whose session starts now;
2. gather the item rows the step uses: inputs (w), targets (w, also the in-batch negatives) and the
   shared negatives; with the constrained embedding one table ``E`` serves as input and output;
3. GRU step, scores of the candidates (targets + negatives), loss summed over active slots and
   divided by ``batch_size`` (the configured one, as the official code, also when the batch has
   been shrunk at the end of an epoch);
4. gradients w.r.t. the gathered rows and the GRU weights; row-wise Adagrad on the item tables
   (:mod:`.optim`), so the step cost does not depend on the number of items, or, for catalogues no
   larger than the rows a step uses (``config.table_updates``), the same rule in one pass over the
   whole tables.

The function runs ``n`` (<= ``steps_per_call``) steps of a chunk of the schedule (the chunks are
made tensors once per fit); the hidden states stay tensors between calls.
"""

from __future__ import annotations

import numpy as np

from sbrlib.core.tf import tf
from sbrlib.models.gru4rec.config import GRU4RecConfig
from sbrlib.models.gru4rec.losses import bpr_max_loss, cross_entropy_loss
from sbrlib.models.gru4rec.optim import Optimizer


def make_train_chunk(net, config: GRU4RecConfig, optimizer: Optimizer, support: np.ndarray):
    """Build the compiled multi-step training function.

    Args:
        net: the network (:func:`.network.build_network`).
        config: hyperparameters.
        optimizer: update rules and slots for ``net``'s variables.
        support: (n_items,) training counts (for logQ).

    Returns:
        ``train_chunk(states, inputs, targets, starts, active, negatives, n, step0)`` ->
        ``(states, loss_sum, n_events)``: ``states`` a list of (w, layers[l]) tensors; ``inputs``,
        ``targets``, ``starts``, ``active`` (S, w) arrays of ``S = steps_per_call`` steps and
        ``negatives`` (S, n_sample) int32, of which the first ``n`` steps run; ``step0`` global index
        of the first step (dropout seeds). One compilation per width w.
    """
    cfg = config
    n_items = int(net.n_items)
    variables = net.named_variables()
    tables = [k for k in net.table_names()]
    dense_names = [k for k in variables if k not in tables]
    dense_vars = [variables[k].value for k in dense_names]
    table_vars = {k: variables[k].value for k in tables}
    constrained = "Wy" not in table_vars
    logp0 = tf.constant(np.log(np.asarray(support, np.float64)).astype(np.float32)) if cfg.logq > 0 else None
    all_items = tf.range(n_items, dtype=tf.int32)

    def loss_of(out, w_rows, b_rows, targets, active):
        """Loss summed over active slots; candidate rows ``w_rows``/``b_rows`` (targets first)."""
        logits = tf.matmul(out, w_rows, transpose_b=True) + b_rows
        if cfg.full_softmax:
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
            return tf.reduce_sum(losses * tf.cast(active, tf.float32))
        n_b, n_c = tf.shape(targets)[0], tf.shape(w_rows)[0]
        col_ok = tf.concat([active, tf.ones([n_c - n_b], tf.bool)], 0)  # idle slots are no negatives
        if cfg.loss == "cross-entropy":
            return cross_entropy_loss(logits, active, col_ok)
        return bpr_max_loss(logits, active, col_ok, cfg.bpreg, cfg.elu_param)

    def one_step(h_list, inp, tgt, start, act, neg, seed):
        keep = 1.0 - tf.cast(start, tf.float32)[:, None]
        h_list = [h * keep for h in h_list]  # zero the state of slots whose session starts now
        n_b = tf.shape(inp)[0]
        if cfg.full_softmax:
            cands = all_items
        else:
            cands = tf.concat([tgt, neg], 0) if cfg.n_sample > 0 else tgt
        idx = {"By": cands}
        if constrained:
            idx["E"] = tf.concat([inp, cands], 0)
        else:
            idx["E"], idx["Wy"] = inp, cands
        rows = {k: tf.gather(table_vars[k], idx[k]) for k in tables}
        with tf.GradientTape() as tape:
            tape.watch(list(rows.values()))
            x = rows["E"][:n_b]
            w_rows = rows["E"][n_b:] if constrained else rows["Wy"]
            b_rows = rows["By"]
            out, new_h = net.recur(x, h_list, training=True, seed=seed)
            if cfg.logq > 0 and not cfg.full_softmax:
                # logQ: in-batch targets ~ pop, sampled negatives ~ pop ** alpha (official)
                logq = tf.gather(logp0, cands) * tf.concat(
                    [tf.ones([n_b]), tf.fill([tf.shape(cands)[0] - n_b], cfg.sample_alpha)], 0)
                b_rows_q = b_rows - cfg.logq * logq
            else:
                b_rows_q = b_rows
            loss = loss_of(out, w_rows, b_rows_q, tgt, act)
            objective = loss / cfg.batch_size  # summed over the mini-batch / batch_size (official)
        grads = tape.gradient(objective, [rows[k] for k in tables] + dense_vars)
        grads = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
                 for g, v in zip(grads, [rows[k] for k in tables] + dense_vars, strict=True)]
        table_grads = {k: (idx[k], g) for k, g in zip(tables, grads[: len(tables)], strict=True)}
        dense_grads = dict(zip(dense_names, grads[len(tables):], strict=True))
        gate = tf.cast(tf.reduce_any(act), tf.float32)
        optimizer.apply(dense_grads, table_grads, gate)
        return loss, tf.reduce_sum(tf.cast(act, tf.float32)), [tf.stop_gradient(h) for h in new_h]

    def train_chunk(states, inputs, targets, starts, active, negatives, n, step0):
        def body(i, loss_sum, count, *hs):
            seed = tf.stack([tf.constant(cfg.seed, tf.int32), step0 + i])
            loss, m, new_hs = one_step(list(hs), inputs[i], targets[i], starts[i], active[i], negatives[i], seed)
            return (i + 1, loss_sum + loss, count + m, *new_hs)

        init = (tf.constant(0), tf.constant(0.0), tf.constant(0.0), *states)
        result = tf.while_loop(lambda i, *_: i < n, body, init, maximum_iterations=cfg.steps_per_call)
        return list(result[3:]), result[1], result[2]

    return tf.function(train_chunk, jit_compile=cfg.jit_compile, reduce_retracing=True)
