"""SASRec's network (Keras 3 layer, TensorFlow ops) and its training losses.

Kang & McAuley, *Self-attentive sequential recommendation*, ICDM 2018, as in the authors'
TensorFlow code and its faithful PyTorch port (pmixer/SASRec.pytorch):

* input ``E[item] * sqrt(dim) + P[position]``, dropout, padded positions zeroed;
* per block (``layer_norm="original"``, the authors' code): ``q = LN(x)``; causal multi-head
  attention with queries from ``q`` and keys/values from ``x`` (dropout on the attention weights,
  output projection); ``x = q + attention``; ``x = LN(x)``; ``x = x + FFN(x)`` with
  ``FFN(x) = Dropout(W2 · Dropout(ReLU(W1 · x)))`` of width ``ffn_dim`` (None: ``dim``, as the
  original); padded positions zeroed again. ``"post"`` is the standard Transformer block that the
  PyTorch port uses by default today (``x = LN(x + att(x))``; ``x = LN(x + FFN(x))``; RecBole's
  SASRec also normalises after each residual), ``"pre"`` the pre-norm block of the port's
  ``--norm_first`` (``x = x + att(LN x)``; ``x = x + FFN(LN x)``);
* a final LayerNorm; scores ``h · E^T`` with the item embedding shared by input and output.

Padding (id 0) is masked out of the keys, so a real position never attends to padding; positions
count from the first real item of the row (not from the start of the padded array), so left
padding does not change the scores of real positions, and the position of an item never reveals
how many items follow it. Dropout is stateless (seeded per step), so training is reproducible.
"""

from __future__ import annotations

import math

import numpy as np

from sbrlib.core.tf import keras, tf
from sbrlib.models.sasrec.config import SASRecConfig

LN_EPS = 1e-8
MASKED = -1e9


def _dropout(x, rate: float, seed, salt: int):
    if rate <= 0:
        return x
    s = seed + tf.constant([0, 7919], tf.int32) * salt
    keep = tf.random.stateless_uniform(tf.shape(x), seed=s) >= rate
    return tf.where(keep, x / (1.0 - rate), tf.zeros_like(x))


def _layer_norm(x, gamma, beta):
    mean, var = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * tf.math.rsqrt(var + LN_EPS) * gamma + beta


class SASRecNet(keras.layers.Layer):
    """The weights of SASRec and its forward pass (see module docstring).

    Weights: ``E`` (n_items + 1, dim) item embedding (row 0 = padding), ``P`` (max_len, dim)
    learned positions, per block ``b``: ``ln1_g/ln1_b``, ``Wq/bq``, ``Wk/bk``, ``Wv/bv``, ``Wo/bo``,
    ``ln2_g/ln2_b``, ``W1/b1``, ``W2/b2``; final ``lnf_g/lnf_b``.
    """

    def __init__(self, n_items: int, config: SASRecConfig) -> None:
        super().__init__(name="sasrec")
        if config.layer_norm not in ("original", "post", "pre"):
            raise ValueError(f"SASRecConfig.layer_norm: unknown value {config.layer_norm!r}; "
                             "use 'original', 'post' or 'pre'")
        self.n_items, self.config = n_items, config
        d, seed = config.dim, config.seed
        self._vars: dict[str, object] = {}

        def weight(name, shape, kind, k=0):
            if kind == "glorot":
                init = keras.initializers.GlorotNormal(seed=seed + k)
            else:
                init = kind
            var = self.add_weight(shape=shape, initializer=init, name=name)
            self._vars[name] = var
            return var

        weight("E", (n_items + 1, d), "glorot", 0)
        weight("P", (config.max_len, d), "glorot", 1)
        for b in range(config.blocks):
            k = 10 * (b + 1)
            weight(f"ln1_g{b}", (d,), "ones"), weight(f"ln1_b{b}", (d,), "zeros")
            for i, name in enumerate(("q", "k", "v", "o")):
                weight(f"W{name}{b}", (d, d), "glorot", k + i)
                weight(f"b{name}{b}", (d,), "zeros")
            weight(f"ln2_g{b}", (d,), "ones"), weight(f"ln2_b{b}", (d,), "zeros")
            ff = config.ffn_dim or d
            weight(f"W1{b}", (d, ff), "glorot", k + 5), weight(f"b1{b}", (ff,), "zeros")
            weight(f"W2{b}", (ff, d), "glorot", k + 6), weight(f"b2{b}", (d,), "zeros")
        weight("lnf_g", (d,), "ones"), weight("lnf_b", (d,), "zeros")
        self._vars["E"].assign(tf.tensor_scatter_nd_update(self._vars["E"].value, [[0]], tf.zeros((1, d))))

    def named_variables(self) -> dict:
        """All trainable variables by name."""
        return dict(self._vars)

    def item_table(self):
        """(n_items, dim) output item vectors (the input embedding without the padding row)."""
        return self._vars["E"][1:]

    def call(self, ids, training: bool = False, seed=None, last_only: bool = False):
        """Hidden state at every position.

        Args:
            ids: (B, T) int32 shifted item ids, left-padded with 0 (real items are the last ones).
            training: apply dropout (needs ``seed``, a (2,) int32 tensor).
            last_only: only the last position's state (for scoring): the last block computes its
                queries, attention output and feed-forward for that position alone (the keys and
                values of every position as before); the other blocks are unchanged.

        Returns:
            (B, T, dim) float32 (rows of padded positions are meaningless), or (B, 1, dim) with ``last_only``.
        """
        cfg, v = self.config, self._vars
        d, h = cfg.dim, cfg.heads
        dh = d // h
        rate = cfg.dropout if training else 0.0
        shape = tf.shape(ids)
        B, T = shape[0], shape[1]
        real = ids > 0
        realf = tf.cast(real, tf.float32)[:, :, None]
        n_real = tf.reduce_sum(tf.cast(real, tf.int32), axis=1)
        pos = tf.range(T)[None, :] - (T - n_real)[:, None]
        pos = tf.clip_by_value(pos, 0, cfg.max_len - 1)
        x = tf.gather(v["E"], ids) * math.sqrt(d) + tf.gather(v["P"], pos)
        x = _dropout(x, rate, seed, 1) * realf
        causal = tf.linalg.band_part(tf.ones((T, T), tf.bool), -1, 0)
        allowed = tf.logical_and(causal[None, :, :], real[:, None, :])           # (B, T_query, T_key)
        bias = tf.where(allowed, 0.0, MASKED)[:, None, :, :]                     # (B, 1, T, T)

        def heads(t, length=T):
            return tf.transpose(tf.reshape(t, [B, length, h, dh]), [0, 2, 1, 3])  # (B, h, length, dh)

        T_q = T  # query positions
        for b in range(cfg.blocks):
            q_in, kv_in = self._attention_inputs(x, b)
            if last_only and b == cfg.blocks - 1:  # only the last position's query from here on
                T_q, q_in, x, realf, bias = 1, q_in[:, -1:], x[:, -1:], realf[:, -1:], bias[:, :, -1:]
            q = heads(tf.matmul(q_in, v[f"Wq{b}"]) + v[f"bq{b}"], T_q)
            k = heads(tf.matmul(kv_in, v[f"Wk{b}"]) + v[f"bk{b}"])
            val = heads(tf.matmul(kv_in, v[f"Wv{b}"]) + v[f"bv{b}"])
            att = tf.matmul(q, k, transpose_b=True) / math.sqrt(dh) + bias
            att = _dropout(tf.nn.softmax(att, axis=-1), rate, seed, 10 * b + 2)
            out = tf.reshape(tf.transpose(tf.matmul(att, val), [0, 2, 1, 3]), [B, T_q, d])
            x = self._block_rest(x, q_in, tf.matmul(out, v[f"Wo{b}"]) + v[f"bo{b}"], b, rate, seed) * realf
        return _layer_norm(x, v["lnf_g"], v["lnf_b"])

    def _attention_inputs(self, x, b: int):
        """Query input and key/value input of block ``b`` (see ``SASRecConfig.layer_norm``)."""
        v, norm = self._vars, self.config.layer_norm
        if norm == "post":
            return x, x
        ln = _layer_norm(x, v[f"ln1_g{b}"], v[f"ln1_b{b}"])
        return (ln, x) if norm == "original" else (ln, ln)

    def _block_rest(self, x, q_in, attended, b: int, rate: float, seed):
        """Residual around attention, the feed-forward network and the layer norms of block ``b``."""
        v, norm = self._vars, self.config.layer_norm

        def ffn(h):
            f = _dropout(tf.nn.relu(tf.matmul(h, v[f"W1{b}"]) + v[f"b1{b}"]), rate, seed, 10 * b + 3)
            return _dropout(tf.matmul(f, v[f"W2{b}"]) + v[f"b2{b}"], rate, seed, 10 * b + 4)

        def ln(h, i):
            return _layer_norm(h, v[f"ln{i}_g{b}"], v[f"ln{i}_b{b}"])

        if norm == "original":   # Kang & McAuley: x = LN(LN1(x) + att); x + FFN(x)
            x = ln(q_in + attended, 2)
            return x + ffn(x)
        if norm == "pre":        # x + att(LN1 x); x + FFN(LN2 x)
            x = x + attended
            return x + ffn(ln(x, 2))
        x = ln(x + attended, 1)  # "post": LN1(x + att); LN2(x + FFN(x))
        return ln(x + ffn(x), 2)


    def call_incremental(self, ids, positions, caches):
        """Hidden state of one new item per row, reusing cached keys/values of earlier positions.

        Equals :meth:`call` at the last position of the row's sequence when ``caches`` hold the keys
        and values of positions ``0 .. positions - 1`` (written by earlier calls) and the sequence
        has at most ``max_len`` items (positions do not shift). The new item's key and value are
        written into the caches in place (only those rows; stale entries after a row's position are
        masked out).

        Args:
            ids: (B,) int32 shifted item ids (all real).
            positions: (B,) int32 position of the new item in its sequence (0-based, < max_len).
            caches: per block ``(K, V)`` variables, each (B, heads, max_len, dim / heads).

        Returns:
            (B, dim) hidden state of the new item.
        """
        cfg, v = self.config, self._vars
        d, h, L = cfg.dim, cfg.heads, cfg.max_len
        dh = d // h
        B = tf.shape(ids)[0]
        x = tf.gather(v["E"], ids) * math.sqrt(d) + tf.gather(v["P"], positions)
        rows = tf.repeat(tf.range(B), h)
        index = tf.stack([rows, tf.tile(tf.range(h), [B]), tf.repeat(positions, h)], axis=1)   # (B * h, 3)
        bias = tf.where(tf.range(L)[None, :] <= positions[:, None], 0.0, MASKED)[:, None, None, :]  # (B,1,1,L)
        for b, (K, V) in enumerate(caches):
            q_in, kv_in = self._attention_inputs(x, b)
            q = tf.reshape(tf.matmul(q_in, v[f"Wq{b}"]) + v[f"bq{b}"], [B, h, 1, dh])
            K.scatter_nd_update(index, tf.reshape(tf.matmul(kv_in, v[f"Wk{b}"]) + v[f"bk{b}"], [B * h, dh]))
            V.scatter_nd_update(index, tf.reshape(tf.matmul(kv_in, v[f"Wv{b}"]) + v[f"bv{b}"], [B * h, dh]))
            att = tf.matmul(q, K, transpose_b=True) / math.sqrt(dh) + bias                       # (B, h, 1, L)
            out = tf.reshape(tf.matmul(tf.nn.softmax(att, axis=-1), V), [B, d])
            if cfg.layer_norm == "original":  # op for op as before the other layouts existed (bitwise stable)
                x = q_in + tf.matmul(out, v[f"Wo{b}"]) + v[f"bo{b}"]
                x = _layer_norm(x, v[f"ln2_g{b}"], v[f"ln2_b{b}"])
                x = x + tf.matmul(tf.nn.relu(tf.matmul(x, v[f"W1{b}"]) + v[f"b1{b}"]), v[f"W2{b}"]) + v[f"b2{b}"]
            else:
                x = self._block_rest(x, q_in, tf.matmul(out, v[f"Wo{b}"]) + v[f"bo{b}"], b, 0.0, None)
        return _layer_norm(x, v["lnf_g"], v["lnf_b"])


def build_network(n_items: int, config: SASRecConfig) -> SASRecNet:
    """A fresh :class:`SASRecNet` for ``n_items`` items."""
    return SASRecNet(n_items, config)


# --------------------------------------------------------------------------- losses
# Each returns (sum of per-target losses, number of targets); targets are shifted ids (0 = none).


def full_cross_entropy(hidden, targets, items):
    """Softmax cross-entropy over all items.

    Args:
        hidden: (B, T, d); targets: (B, T) shifted ids; items: (n_items, d) output vectors.
    """
    real = targets > 0
    h = tf.boolean_mask(hidden, real)                                                # (n_targets, d)
    logits = tf.matmul(h, items, transpose_b=True)                                   # only real targets
    labels = tf.boolean_mask(targets, real) - 1
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return tf.reduce_sum(losses), tf.reduce_sum(tf.cast(real, tf.float32))


def _sampled_logits(hidden, targets, items, negatives):
    labels = tf.maximum(targets - 1, 0)
    pos = tf.reduce_sum(hidden * tf.gather(items, labels), axis=-1)                  # (B, T)
    neg = tf.einsum("btd,kd->btk", hidden, tf.gather(items, negatives))              # (B, T, K)
    hit = tf.equal(negatives[None, None, :], labels[:, :, None])                     # accidental hits
    return labels, pos, neg, hit


def sampled_softmax(hidden, targets, items, negatives, log_p=None):
    """Softmax over the target and shared sampled negatives, with the logQ correction.

    Args:
        negatives: (K,) int32 item indices drawn with probabilities ``exp(log_p)``.
        log_p: (n_items,) log sampling probabilities; None: no correction (e.g. uniform sampling).

    Negatives equal to a row's target are masked out of that row's softmax.
    """
    mask = tf.cast(targets > 0, tf.float32)
    labels, pos, neg, hit = _sampled_logits(hidden, targets, items, negatives)
    if log_p is not None:  # logQ: logit - log Q(item) for the target and the negatives (Yi et al. 2019)
        pos = pos - tf.gather(log_p, labels)
        neg = neg - tf.gather(log_p, negatives)[None, None, :]
    neg = tf.where(hit, MASKED, neg)
    logits = tf.concat([pos[:, :, None], neg], axis=-1)
    losses = tf.reduce_logsumexp(logits, axis=-1) - pos
    return tf.reduce_sum(losses * mask), tf.reduce_sum(mask)


def bce_one_negative(hidden, targets, items, negatives):
    """Binary cross-entropy with one sampled negative per position (the original SASRec loss, Kang &
    McAuley 2018): ``-log σ(s⁺) - log(1 - σ(s⁻))`` summed over the real targets.

    Args:
        hidden: (B, T, d); targets: (B, T) shifted ids; items: (n_items, d) output vectors.
        negatives: (B, T) int32 item indices, one negative per position.
    """
    mask = tf.cast(targets > 0, tf.float32)
    labels = tf.maximum(targets - 1, 0)
    pos = tf.reduce_sum(hidden * tf.gather(items, labels), axis=-1)                  # (B, T)
    neg = tf.reduce_sum(hidden * tf.gather(items, negatives), axis=-1)               # (B, T)
    losses = -tf.math.log_sigmoid(pos) - tf.math.log_sigmoid(-neg)
    return tf.reduce_sum(losses * mask), tf.reduce_sum(mask)


def history_keys(sessions: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    """Sorted unique ``session * n_items + item`` of every event (for :func:`row_negatives`)."""
    return np.unique(np.asarray(sessions, np.int64) * n_items + np.asarray(items, np.int64))


def row_negatives(inputs: np.ndarray, targets: np.ndarray, n_items: int, rng: np.random.Generator,
                  rounds: int = 8, sessions: np.ndarray | None = None,
                  history: np.ndarray | None = None) -> np.ndarray:
    """One uniform negative per position outside the row's items (its inputs and targets) and, with
    ``sessions`` and ``history``, outside everything its session holds, as the original SASRec draws
    negatives outside the user's whole training sequence.

    Args:
        inputs, targets: (B, T) shifted ids (0 = padding / no target).
        n_items: number of items.
        rng: random generator.
        rounds: redraws of negatives that hit; a position still hitting after them keeps its draw
            (only possible when a session holds nearly every item).
        sessions: (b,) session of the first ``b <= B`` rows (the others are padding rows).
        history: sorted ``session * n_items + item`` keys (:func:`history_keys`).

    Returns:
        (B, T) int32 item indices (0-based).
    """
    seen = np.concatenate([inputs, targets], axis=1).astype(np.int64) - 1                  # (B, 2T), -1 = none
    neg = rng.integers(0, n_items, inputs.shape)
    owner = None
    if sessions is not None and history is not None and len(history):
        owner = np.full(len(inputs), -1, np.int64)
        owner[: len(sessions)] = sessions
    for _ in range(rounds):
        hit = (neg[:, :, None] == seen[:, None, :]).any(axis=-1)
        if owner is not None:
            key = owner[:, None] * n_items + neg
            at = np.minimum(np.searchsorted(history, key), len(history) - 1)
            hit |= (history[at] == key) & (owner[:, None] >= 0)
        if not hit.any():
            break
        neg[hit] = rng.integers(0, n_items, int(hit.sum()))
    return neg.astype(np.int32)


def gbce_beta(n_negatives: int, n_items: int, t: float) -> float:
    """β of gBCE: α (t (1 - 1/α) + 1/α) with sampling rate α = n_negatives / (n_items - 1)."""
    alpha = n_negatives / max(n_items - 1, 1)
    return alpha * (t * (1.0 - 1.0 / alpha) + 1.0 / alpha)


def gbce(hidden, targets, items, negatives, beta: float):
    """Generalised binary cross-entropy (Petrov & Macdonald, RecSys 2023), summed over targets:
    ``-β log σ(s⁺) - Σ_k log(1 - σ(s⁻_k))`` with uniform negatives (accidental hits excluded)."""
    mask = tf.cast(targets > 0, tf.float32)
    _, pos, neg, hit = _sampled_logits(hidden, targets, items, negatives)
    neg_term = tf.reduce_sum(tf.where(hit, 0.0, tf.math.log_sigmoid(-neg)), axis=-1)
    losses = -beta * tf.math.log_sigmoid(pos) - neg_term
    return tf.reduce_sum(losses * mask), tf.reduce_sum(mask)


def sampling_log_probs(support: np.ndarray, alpha: float) -> np.ndarray:
    """(n_items,) log probabilities ∝ support ** alpha."""
    w = np.asarray(support, np.float64) ** alpha
    return np.log(w / w.sum())
