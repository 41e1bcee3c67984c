"""The Keras layer holding GRU4Rec's weights: item embedding -> stacked GRU -> item vectors."""

from __future__ import annotations

import math

from sbrlib.core.tf import keras, tf
from sbrlib.models.gru4rec.config import GRU4RecConfig


def build_network(n_items: int, config: GRU4RecConfig):
    """Create the Keras layer holding GRU4Rec's weights (see :class:`GRU4RecNet`)."""

    class GRU4RecNet(keras.layers.Layer):
        """Item embedding -> stacked GRU -> item scores.

        GRU step as in the official PyTorch GRU4Rec, i.e. ``torch.nn.GRUCell`` (reset gate applied
        after the recurrent product, separate input and recurrent biases):
        r = σ(x Wx_r + b_r + h Wh_r + bh_r), z = σ(x Wx_z + b_z + h Wh_z + bh_z),
        c = tanh(x Wx_c + b_c + r ∘ (h Wh_c + bh_c)), h' = (1 - z) ∘ c + z ∘ h.
        With the one-hot-equivalent input (``embedding_dim=0``), layer 0 is the official
        ``GRUEmbedding``: one bias, h' = (1 - z) ∘ h + z ∘ c.

        Weights: ``E`` (input embedding or one-hot-equivalent input table), per layer ``Wx``
        (input), ``Wh`` (recurrent), ``b``/``bh`` (biases), output item vectors ``Wy`` (= ``E``
        when constrained) and output biases ``By``.
        """

        def __init__(self, n_items: int, config: GRU4RecConfig) -> None:
            super().__init__(name="gru4rec")
            self.n_items, self.config = n_items, config
            rng_seed = config.seed
            layers = config.layers

            def uniform(shape, name, k, gates=1):
                # official init: U(±sqrt(6 / (fan_in + fan_out))) per gate matrix
                scale = config.init_scale * math.sqrt(6.0 / (shape[0] + shape[-1] / gates))
                init = keras.initializers.RandomUniform(-scale, scale, seed=rng_seed + k)
                return self.add_weight(shape=shape, initializer=init, name=name)

            if config.constrained_embedding:
                self.E = uniform((n_items, layers[-1]), "E", 1)
                self.Wy = self.E
                in_dim = layers[-1]
                self.input_table = False
            elif config.embedding_dim > 0:
                self.E = uniform((n_items, config.embedding_dim), "E", 0)
                self.Wy = uniform((n_items, layers[-1]), "Wy", 1)
                in_dim = config.embedding_dim
                self.input_table = False
            else:  # one-hot-equivalent input: the first layer's input weights, looked up per item
                self.E = uniform((n_items, 3 * layers[0]), "E", 0, 3)
                self.Wy = uniform((n_items, layers[-1]), "Wy", 1)
                in_dim = None
                self.input_table = True
            self.By = self.add_weight(shape=(n_items,), initializer="zeros", name="By")
            self.Wx, self.Wh, self.b, self.bh = [], [], [], []
            for i, size in enumerate(layers):
                if i > 0 or not self.input_table:
                    self.Wx.append(uniform((in_dim if i == 0 else layers[i - 1], 3 * size), f"Wx{i}", 10 + 3 * i, 3))
                else:
                    self.Wx.append(None)
                self.Wh.append(uniform((size, 3 * size), f"Wh{i}", 11 + 3 * i, 3))
                self.b.append(self.add_weight(shape=(3 * size,), initializer="zeros", name=f"b{i}"))
                # GRUCell layers have separate input and recurrent biases (as torch.nn.GRUCell; with
                # Adagrad two biases do not train like one); the one-hot-equivalent layer has one
                table_layer = i == 0 and self.input_table
                self.bh.append(None if table_layer else
                               self.add_weight(shape=(3 * size,), initializer="zeros", name=f"bh{i}"))

        def table_names(self) -> list[str]:
            """Names of the item tables (one row per item), as in :meth:`named_variables`."""
            return [k for k in ("E", "Wy", "By") if k in self.named_variables()]

        def named_variables(self) -> dict:
            """Unique trainable variables by name (``Wy`` is ``E`` when constrained)."""
            out = {"E": self.E, "By": self.By}
            if self.Wy is not self.E:
                out["Wy"] = self.Wy
            for i in range(len(self.config.layers)):
                if self.Wx[i] is not None:
                    out[f"Wx{i}"] = self.Wx[i]
                out[f"Wh{i}"] = self.Wh[i]
                out[f"b{i}"] = self.b[i]
                if self.bh[i] is not None:
                    out[f"bh{i}"] = self.bh[i]
            return out

        def call(self, items, states, training=False, seed=None):
            """One time step.

            Args:
                items: (B,) int item indices.
                states: list of (B, layers[l]) hidden states.
                training: apply dropout.
                seed: (2,) int32 stateless seed for dropout.

            Returns:
                ``(output (B, layers[-1]), new_states)``.
            """
            return self.recur(tf.gather(self.E, items), states, training=training, seed=seed)

        def recur(self, x, states, training=False, seed=None):
            """One time step from already looked-up input rows ``x`` = ``E[items]`` (B, E.shape[1]).

            Returns:
                ``(output (B, layers[-1]), new_states)``.
            """
            cfg = self.config
            if training and cfg.dropout_embed > 0 and not self.input_table:
                x = _dropout(x, cfg.dropout_embed, seed, 0)
            new_states = []
            for i, h in enumerate(states):
                size = cfg.layers[i]
                gx = x if (i == 0 and self.input_table) else tf.matmul(x, self.Wx[i])
                gx = gx + self.b[i]
                gh = tf.matmul(h, self.Wh[i])  # one matmul for all gates (reset applied after it)
                if self.bh[i] is not None:
                    gh = gh + self.bh[i]
                r = tf.sigmoid(gx[:, :size] + gh[:, :size])
                z = tf.sigmoid(gx[:, size: 2 * size] + gh[:, size: 2 * size])
                cand = tf.tanh(gx[:, 2 * size:] + r * gh[:, 2 * size:])
                if self.bh[i] is None:  # official GRUEmbedding: z weighs the candidate
                    h_new = (1.0 - z) * h + z * cand
                else:  # torch.nn.GRUCell: z weighs the previous state
                    h_new = (1.0 - z) * cand + z * h
                # with the one-hot-equivalent input, layer 0 plays the embedding: the official code
                # applies the embedding dropout to its output
                rate = cfg.dropout_embed if (i == 0 and self.input_table) else cfg.dropout_hidden
                if training and rate > 0:
                    h_new = _dropout(h_new, rate, seed, i + 1)
                new_states.append(h_new)
                x = h_new
            return x, new_states

    return GRU4RecNet(n_items, config)


def _dropout(x, rate, seed, salt):
    """Inverted dropout of ``x`` (B, d) with a mask from a counter-based integer hash of
    (seed, salt, position): deterministic per seed like ``stateless_uniform``, but a few integer ops
    per element, which XLA vectorizes on CPU (its stateless RNG made training ~40% slower)."""
    n = tf.size(x)
    key = tf.cast(seed[0], tf.uint32) * tf.constant(0x9E3779B9, tf.uint32) + tf.cast(seed[1], tf.uint32) \
        + tf.constant(0x632BE5AB, tf.uint32) * tf.constant(salt + 1, tf.uint32)
    h = tf.cast(tf.range(n), tf.uint32) * tf.constant(0x9E3779B9, tf.uint32) + key
    h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, tf.constant(16, tf.uint32))) * tf.constant(0x85EBCA6B, tf.uint32)
    h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, tf.constant(13, tf.uint32))) * tf.constant(0xC2B2AE35, tf.uint32)
    h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, tf.constant(16, tf.uint32)))
    keep = tf.reshape(h >= tf.constant(min(int(rate * 2.0**32), 2**32 - 1), tf.uint32), tf.shape(x))
    return tf.where(keep, x / (1.0 - rate), tf.zeros_like(x))

