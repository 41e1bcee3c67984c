"""GRU4Rec's update rules: Adagrad with (Nesterov) momentum as the official code, or Adam.

Item tables (``E``, ``Wy``, ``By``: one row per item) are updated row-wise with Adagrad: a step
gathers only the rows it used (inputs, targets, negatives), sums the gradients of duplicate
occurrences (as a dense gradient would), updates those rows of the weights and of the Adagrad
accumulator / momentum, and scatters them back. A step's cost therefore does not depend on the
number of items. A row counts as touched when its summed gradient is nonzero, exactly as the dense
rule this replaces (rows of idle slots and of masked candidates get zero gradient and keep their
weights, accumulator and momentum, as in the official sparse update).

Adam is dense-equivalent (every row's moments decay at every step, as Adam on a dense gradient):
its step cost grows with the number of items. The official GRU4Rec uses Adagrad.
"""

from __future__ import annotations

from sbrlib.core.tf import tf
from sbrlib.models.gru4rec.config import GRU4RecConfig


class Optimizer:
    """Slots and update rules for GRU4Rec's variables.

    Args:
        config: hyperparameters (``optimizer``, ``learning_rate``, ``momentum``, ``nesterov``,
            ``adagrad_eps``).
        dense: variables updated with their full gradient (GRU weights and biases), by name.
        tables: item tables updated row-wise, by name; their first axis is the item.
        dense_tables: update the item tables (Adagrad) in one elementwise pass over the whole table
            from the step's summed full-table gradient instead of gathering and scattering the rows
            the step uses (:func:`use_dense_tables`); rows with a zero summed gradient keep their
            weights and slots either way.
    """

    def __init__(self, config: GRU4RecConfig, dense: dict[str, tf.Variable], tables: dict[str, tf.Variable],
                 dense_tables: bool = False) -> None:
        self.config = config
        self.dense, self.tables = dict(dense), dict(tables)
        self.dense_tables = bool(dense_tables) and config.optimizer == "adagrad"
        all_vars = {**self.dense, **self.tables}

        def zeros(var):
            return tf.Variable(tf.zeros_like(var), trainable=False)

        def spare_row(var):  # tables' slots get a spare last row (see _adagrad_rows)
            return tf.Variable(tf.zeros([var.shape[0] + 1, *var.shape[1:]], var.dtype), trainable=False)

        self.adam = config.optimizer == "adam"
        self.slots: dict[str, dict[str, tf.Variable]] = {}
        for name, var in all_vars.items():
            if self.adam:
                self.slots[name] = {"m": zeros(var), "v": zeros(var)}
            else:
                keys = ("acc", "mom") if config.momentum > 0 else ("acc",)
                rows = name in self.tables and not self.dense_tables
                self.slots[name] = {k: spare_row(var) if rows else zeros(var) for k in keys}
        # scratch: for each table row, the position of one of its occurrences in the current step
        self._owner = {} if self.dense_tables else {
            name: tf.Variable(tf.zeros([var.shape[0]], tf.int32), trainable=False) for name, var in self.tables.items()}
        self.iterations = tf.Variable(0.0, trainable=False, dtype=tf.float32)

    def apply(self, dense_grads: dict[str, tf.Tensor], table_grads: dict[str, tuple[tf.Tensor, tf.Tensor]],
              gate: tf.Tensor) -> None:
        """Apply one step.

        Args:
            dense_grads: gradient of each dense variable (same shape as the variable).
            table_grads: per table, ``(idx, g)``: (n,) row of each occurrence and (n, ...) its gradient
                (duplicates allowed; they are summed).
            gate: scalar float, 1.0 to update, 0.0 to leave everything unchanged (a step without
                active slots).
        """
        if self.adam:
            grads = dict(dense_grads)
            for name, (idx, g) in table_grads.items():
                var = self.tables[name]
                grads[name] = tf.math.unsorted_segment_sum(g, idx, var.shape[0])
            self._adam(grads, gate)
            return
        for name, g in dense_grads.items():
            self._adagrad_dense(name, g, gate)
        for name, (idx, g) in table_grads.items():
            if self.dense_tables:
                self._adagrad_table(name, idx, g, gate)
            else:
                self._adagrad_rows(name, idx, g, gate)

    # ------------------------------------------------------------------ Adagrad

    def _adagrad_values(self, w, g, acc, mom, touched):
        """New (w, acc, mom) from old values and gradient, where ``touched`` (else the old ones)."""
        cfg = self.config
        acc_new = acc + g * g
        step = cfg.learning_rate * g / tf.sqrt(acc_new + cfg.adagrad_eps)
        acc_out = touched * acc_new + (1.0 - touched) * acc
        if mom is None:
            return w - touched * step, acc_out, None
        mom_new = cfg.momentum * mom - step
        mom_out = touched * mom_new + (1.0 - touched) * mom
        delta = cfg.momentum * mom_new - step if cfg.nesterov else mom_new
        return w + touched * delta, acc_out, mom_out

    def _adagrad_dense(self, name: str, g: tf.Tensor, gate: tf.Tensor) -> None:
        var, slots = self.dense[name], self.slots[name]
        mom = slots.get("mom")
        w, acc, m = self._adagrad_values(var, g, slots["acc"], mom, gate)
        slots["acc"].assign(acc)
        if mom is not None:
            mom.assign(m)
        var.assign(w)

    def _adagrad_table(self, name: str, idx: tf.Tensor, g_occ: tf.Tensor, gate: tf.Tensor) -> None:
        """Adagrad (+ momentum) on a whole table from the occurrences' gradients (duplicates summed);
        rows whose summed gradient is zero (not used by the step) are left unchanged."""
        cfg = self.config
        var, slots = self.tables[name], self.slots[name]
        g = tf.math.unsorted_segment_sum(g_occ, idx, var.shape[0])  # (n_items, ...), 0 at unused rows
        nonzero = tf.not_equal(g, 0.0)
        if len(g.shape) > 1:
            nonzero = tf.reduce_any(nonzero, axis=list(range(1, len(g.shape))), keepdims=True)
        touched = tf.logical_and(nonzero, gate > 0)
        # the arithmetic of _adagrad_values, with selects instead of 0/1 multipliers (equal for finite values)
        acc_old = slots["acc"].read_value()
        acc_new = acc_old + g * g
        step = cfg.learning_rate * g / tf.sqrt(acc_new + cfg.adagrad_eps)
        slots["acc"].assign(tf.where(touched, acc_new, acc_old))
        if "mom" not in slots:
            delta = -step
        else:
            mom_old = slots["mom"].read_value()
            mom_new = cfg.momentum * mom_old - step
            slots["mom"].assign(tf.where(touched, mom_new, mom_old))
            delta = cfg.momentum * mom_new - step if cfg.nesterov else mom_new
        var.assign_add(tf.where(touched, delta, 0.0))

    def _adagrad_rows(self, name: str, idx: tf.Tensor, g_occ: tf.Tensor, gate: tf.Tensor) -> None:
        """Adagrad (+ momentum) on the rows ``idx`` of a table; same arithmetic as the dense rule."""
        cfg = self.config
        var, slots, owner = self.tables[name], self.slots[name], self._owner[name]
        n = tf.shape(idx)[0]
        # one representative occurrence per row: every occurrence of a row reads the same position
        owner.scatter_update(tf.IndexedSlices(tf.range(n), idx))
        rep = tf.gather(owner, idx)
        g = tf.math.unsorted_segment_sum(g_occ, rep, n)  # summed at the representative, 0 elsewhere
        nonzero = tf.not_equal(g, 0.0)
        extra = [1] * (len(g.shape) - 1)
        touched = tf.reduce_any(nonzero, axis=list(range(1, len(g.shape)))) if extra else nonzero
        touched = tf.reshape(tf.cast(touched, g.dtype) * gate, [-1] + extra)  # 0 at non-representatives
        acc_old = tf.gather(slots["acc"], idx)
        acc_new = acc_old + g * g
        step = cfg.learning_rate * g / tf.sqrt(acc_new + cfg.adagrad_eps)
        # only representatives write their row; the others write to the slots' spare last row (the
        # writes depend on the rows read, so XLA updates the slots in place without copying them)
        target = tf.where(tf.equal(rep, tf.range(n)), idx, tf.cast(var.shape[0], idx.dtype))
        slots["acc"].scatter_update(tf.IndexedSlices(touched * acc_new + (1.0 - touched) * acc_old, target))
        if "mom" not in slots:
            delta = -(touched * step)
        else:
            mom_old = tf.gather(slots["mom"], idx)
            mom_new = cfg.momentum * mom_old - step
            slots["mom"].scatter_update(tf.IndexedSlices(touched * mom_new + (1.0 - touched) * mom_old, target))
            delta = touched * (cfg.momentum * mom_new - step if cfg.nesterov else mom_new)
        # exact zeros are added at the other occurrences and at untouched rows
        var.scatter_add(tf.IndexedSlices(delta, idx))

    # ------------------------------------------------------------------ Adam

    def _adam(self, grads: dict[str, tf.Tensor], gate: tf.Tensor) -> None:
        lr = self.config.learning_rate
        self.iterations.assign_add(gate)
        t = tf.maximum(self.iterations, 1.0)
        b1, b2, eps = 0.9, 0.999, 1e-7
        for name, g in grads.items():
            var = self.dense.get(name, self.tables.get(name))
            m, v = self.slots[name]["m"], self.slots[name]["v"]
            m_new = b1 * m + (1 - b1) * g
            v_new = b2 * v + (1 - b2) * g * g
            upd = lr * (m_new / (1 - b1 ** t)) / (tf.sqrt(v_new / (1 - b2 ** t)) + eps)
            m.assign(gate * m_new + (1 - gate) * m)
            v.assign(gate * v_new + (1 - gate) * v)
            var.assign_sub(gate * upd)


def use_dense_tables(config: GRU4RecConfig, n_items: int) -> bool:
    """Whether the item tables are updated densely (``config.table_updates``; ``"auto"``: when the item
    count is at most the table rows one training step uses, counted with repeats: inputs, targets
    and shared negatives for the constrained embedding, targets and negatives otherwise; always
    with ``full_softmax``)."""
    if config.table_updates != "auto":
        return config.table_updates == "dense"
    if config.full_softmax:
        return True
    per_step = config.batch_size + config.n_sample + (config.batch_size if config.constrained_embedding else 0)
    return n_items <= per_step
