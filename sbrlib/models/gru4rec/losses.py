"""GRU4Rec losses on (B, C) candidate scores: sampled cross-entropy and BPR-max."""

from __future__ import annotations

from sbrlib.core.tf import tf


def cross_entropy_loss(logits, row_mask, col_mask):
    """Sampled softmax cross-entropy, summed over rows (the official GRU4Rec reduction).

    Args:
        logits: (B, C) scores of candidates; the target of row i is column i.
        row_mask: (B,) bool, rows that count.
        col_mask: (C,) bool, candidate columns that may be used (False: padding slot).

    Returns:
        Scalar: sum over counted rows of -log softmax(logits)[i, i].
    """
    n_b, n_c = tf.shape(logits)[0], tf.shape(logits)[1]
    eye = tf.eye(n_b, n_c, dtype=tf.bool)
    logits = tf.where(col_mask[None, :], logits, tf.fill(tf.shape(logits), -1e9))
    logp = tf.nn.log_softmax(logits, axis=1)
    row_loss = -tf.reduce_sum(tf.where(eye, logp, 0.0), axis=1)
    return tf.reduce_sum(row_loss * tf.cast(row_mask, logits.dtype))


def bpr_max_loss(logits, row_mask, col_mask, bpreg: float, elu_param: float):
    """BPR-max with score regularization (Hidasi & Karatzoglou, CIKM 2018), summed over rows.

    With s_j = softmax over the negatives j (target excluded), o the scores after ELU(elu_param):
    loss_i = -log(sum_j s_j sigmoid(o_i - o_j) + 1e-24) + bpreg * sum_j s_j o_j^2.

    Args:
        logits: (B, C) scores; the target of row i is column i.
        row_mask: (B,) bool rows that count; col_mask: (C,) bool usable columns.
        bpreg: score regularization weight; elu_param: ELU alpha (0 = linear scores).
    """
    n_b, n_c = tf.shape(logits)[0], tf.shape(logits)[1]
    eye = tf.eye(n_b, n_c, dtype=tf.bool)
    if elu_param > 0:  # ELU(x; alpha) = x if x > 0 else alpha * (exp(x) - 1)
        logits = tf.where(logits > 0, logits, elu_param * (tf.exp(tf.minimum(logits, 0.0)) - 1.0))
    neg_ok = tf.logical_and(col_mask[None, :], tf.logical_not(eye))
    weights = tf.nn.softmax(tf.where(neg_ok, logits, -1e9), axis=1) * tf.cast(neg_ok, logits.dtype)
    target = tf.reduce_sum(tf.where(eye, logits, 0.0), axis=1, keepdims=True)
    row_loss = -tf.math.log(tf.reduce_sum(tf.sigmoid(target - logits) * weights, axis=1) + 1e-24) \
        + bpreg * tf.reduce_sum(weights * logits * logits, axis=1)
    return tf.reduce_sum(row_loss * tf.cast(row_mask, logits.dtype))

