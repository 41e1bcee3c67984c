"""Where GRU4Rec's training step spends its time (default configuration, one chunk of 128 steps).

The real compiled chunk is timed, then each part of a step as its own XLA-compiled 128-step loop at
the step's shapes: GRU gates forward+backward, the sampled output layer forward+backward (and
forward only), the BPR-max loss, gathers/scatter-adds of the step's item rows, and the row-wise
Adagrad+momentum updates (the model's own optimizer code); plus the cost of a call with 0 and 1
steps. Parts timed apart do not add up exactly to the whole (XLA fuses them differently).

Usage: python benchmarks/profile_gru4rec_step.py [n_items] [table_updates]  (about a minute; set
TF_NUM_INTRAOP_THREADS to compare threads). ``n_items`` defaults to 3706 (ML-1M's catalogue; ML-100K's
training catalogue is 1339), ``table_updates`` to the configuration's ``"auto"`` (see
:func:`sbrlib.models.gru4rec.optim.use_dense_tables`).
"""
# ruff: noqa: E702
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_eval as be
import numpy as np

from sbrlib.core.tf import tf
from sbrlib.data.batching import contiguous_sessions, schedule_from_frame
from sbrlib.models.gru4rec import GRU4Rec, GRU4RecConfig
from sbrlib.models.gru4rec.losses import bpr_max_loss
from sbrlib.models.gru4rec.model import _chunk
from sbrlib.models.gru4rec.sampler import NegativeSampler

N = int(sys.argv[1]) if len(sys.argv) > 1 else 3706
cfg = GRU4RecConfig(epochs=0, table_updates=sys.argv[2] if len(sys.argv) > 2 else "auto")
B, S, H = cfg.batch_size, cfg.n_sample, cfg.layers[0]
C = B + S
T = cfg.steps_per_call
def best(f, reps=7):
    f()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return min(ts)

# the real chunk
data = be.random_sessions(N, 200_000, length=20)
model = GRU4Rec(cfg).fit(data, progress=False)
ev = contiguous_sessions(data)
sch = schedule_from_frame(ev, model.item_index.to_idx(ev["ItemId"].to_numpy()), B)
arrays = [tf.constant(a) for a in _chunk(sch, 0, T)]
samp = NegativeSampler(model.item_index.support, cfg.sample_alpha, S, cfg.sample_cache_size, 0)
neg = tf.constant(samp.take(T))
states = [tf.zeros((B, H))]
def full(n=T):
    return model._compiled("train", model._train_chunk, states, *arrays, neg, tf.constant(n, tf.int32), tf.constant(0, tf.int32))[1].numpy()
t_full = best(full)
t_one = best(lambda: full(1))
t_zero = best(lambda: full(0))

rng = np.random.default_rng(0)
E = tf.Variable(rng.standard_normal((N + 1, H)).astype(np.float32) * 0.1)
Wx = tf.constant(rng.standard_normal((H, 3 * H)).astype(np.float32) * 0.1)
Wh = tf.constant(rng.standard_normal((H, 3 * H)).astype(np.float32) * 0.1)
x0 = tf.constant(rng.standard_normal((B, H)).astype(np.float32))
idx = tf.constant(rng.integers(0, N, (T, B + C)).astype(np.int32))

def loop(body, init):
    @tf.function(jit_compile=True)
    def f(init):
        return tf.while_loop(lambda i, *_: i < T, lambda i, *v: (i + 1, *body(i, *v)), (tf.constant(0), *init))[1:]
    return lambda: [v.numpy() for v in f(init)]

def gru(i, h):
    with tf.GradientTape() as tape:
        tape.watch([h, Wx, Wh])
        gx = tf.matmul(h, Wx); gh = tf.matmul(h, Wh)
        r = tf.sigmoid(gx[:, :H] + gh[:, :H]); z = tf.sigmoid(gx[:, H:2*H] + gh[:, H:2*H])
        c = tf.tanh(gx[:, 2*H:] + r * gh[:, 2*H:]); hn = (1 - z) * c + z * h
        loss = tf.reduce_sum(hn * hn)
    g = tape.gradient(loss, [h, Wx, Wh])  # inputs and weights, as in training
    return (hn + 1e-3 * g[0] + 1e-6 * tf.reduce_sum(g[1]) + 1e-6 * tf.reduce_sum(g[2]),)
W = tf.constant(rng.standard_normal((C, H)).astype(np.float32) * 0.1)
def output(i, h):
    with tf.GradientTape() as tape:
        tape.watch([h, W])
        logits = tf.matmul(h, W, transpose_b=True)
        loss = tf.reduce_sum(tf.nn.softmax(logits))
    g = tape.gradient(loss, [h, W])
    return (h + 1e-3 * g[0] + 1e-6 * tf.reduce_sum(g[1]),)
def output_fwd_only(i, h):
    logits = tf.matmul(h, W, transpose_b=True)
    return (h + 1e-6 * tf.reduce_sum(logits),)
def gather_scatter(i, acc):
    rows = tf.gather(E, idx[i])
    E.scatter_add(tf.IndexedSlices(rows * 1e-6, idx[i]))
    return (acc + tf.reduce_sum(rows),)
opt = model._optimizer
gE = tf.constant(rng.standard_normal((B + C, H)).astype(np.float32) * 1e-3)
gB = tf.constant(rng.standard_normal((C,)).astype(np.float32) * 1e-3)
update = opt._adagrad_table if opt.dense_tables else opt._adagrad_rows
def optim_rows(i, acc):
    update("E", idx[i], gE, tf.constant(1.0))
    update("By", idx[i][B:], gB, tf.constant(1.0))
    return (acc + 1.0,)
L0 = tf.constant(rng.standard_normal((B, C)).astype(np.float32))
act = tf.ones([B], tf.bool); colok = tf.ones([C], tf.bool)
def loss_part(i, lg):
    with tf.GradientTape() as tape:
        tape.watch(lg)
        loss = bpr_max_loss(lg, act, colok, cfg.bpreg, cfg.elu_param)
    return (lg + 1e-6 * tape.gradient(loss, lg),)
h0 = (x0,)
comp = {
    "GRU gates fwd+bwd (27x127 @ 127x381, x2)": best(loop(gru, h0)),
    "output layer fwd+bwd (27x127 @ 127x2075)": best(loop(output, h0)),
    "  of which forward only": best(loop(output_fwd_only, h0)),
    "BPR-max loss fwd+bwd on (27, 2075) scores": best(loop(loss_part, (L0,))),
    f"gather + scatter_add of {B + C} item rows": best(loop(gather_scatter, (tf.constant(0.0),))),
    f"Adagrad+momentum {'dense table' if opt.dense_tables else 'row'} updates (E {B + C} rows, By)":
        best(loop(optim_rows, (tf.constant(0.0),))),
}
print(f"full chunk ({T} steps, B={B}, n_sample={S}, H={H}, {model.n_items} items): {1e3*t_full/T:.3f} ms/step; "
      f"call with 0 steps: {1e3*t_zero:.2f} ms, with 1 step: {1e3*t_one:.2f} ms")
for k, v in comp.items():
    print(f"  {k}: {1e3*v/T:.3f} ms/step ({v/t_full:.0%})")
