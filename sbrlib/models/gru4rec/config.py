"""GRU4Rec hyperparameters (:class:`GRU4RecConfig`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import ClassVar, Literal

from sbrlib.core import checks as C

Loss = Literal["cross-entropy", "bpr-max"]

@dataclass(frozen=True)
class GRU4RecConfig:
    """Every hyperparameter of GRU4Rec, with documented defaults.

    The defaults are the best trial of a real hyperparameter search on MovieLens 100K
    (``movielens-gap`` in :mod:`sbrlib.models.gru4rec.presets`, where its provenance is recorded): BPR-max,
    one GRU layer of 127, batch 27, embedding dropout 0.4, Adagrad 0.008081 with momentum 0.65,
    2048 shared negatives drawn with sample_alpha 0.1, bpreg 1.5, linear scores. The values are
    the trial's own: rounded ones measured 3-5% lower MRR@20. The official GRU4Rec
    defaults (cross-entropy, layer 100, batch 64, lr 0.05, no dropout) are the preset
    ``official`` (``preset("official")``).

    Attributes:
        layers: sizes of the stacked GRU layers.
        embedding_dim: input embedding size; 0 = one-hot-equivalent input (per-item lookup of the
            first layer's input weights). Ignored when ``constrained_embedding`` is True.
        constrained_embedding: share the input embedding with the output item vectors (its size is
            then ``layers[-1]``).
        loss: ``"cross-entropy"`` or ``"bpr-max"``.
        n_sample: extra negatives shared by the mini-batch per step (0: in-batch negatives only).
        sample_alpha: sampling probability ∝ support ** sample_alpha (0 uniform, 1 popularity).
        sample_cache_size: number of negative samples drawn in bulk at a time.
        full_softmax: score all items at each step (cross-entropy only; small catalogues).
        logq: weight of the logQ correction for cross-entropy (0 = off; 1 = full correction).
        bpreg: score regularization of BPR-max.
        elu_param: ELU alpha applied to scores for BPR-max (0 = linear).
        dropout_embed: drop probability on the input embedding.
        dropout_hidden: drop probability on the hidden output of every layer.
        optimizer: ``"adagrad"`` (official) or ``"adam"``.
        learning_rate: step size.
        momentum: Adagrad momentum (0 = none).
        nesterov: Nesterov variant of the momentum.
        adagrad_eps: epsilon of Adagrad.
        batch_size: parallel sessions per mini-batch.
        epochs: training epochs.
        steps_per_call: mini-batch steps per compiled call (128: the ~2 ms cost of a call is then
            about 1% of the work at batch 32, measured on 2 cores).
        shrink_batch: at the end of an epoch, once no session is left to enter, compute only the
            slots that still hold a session, as the official code drops finished slots (the loss
            is still divided by ``batch_size``). ``"auto"``: in the smaller widths that pay for
            their compilation (:func:`sbrlib.data.batching.plan_widths`); ``"always"``: halving the width
            whenever the remaining sessions fit; ``"never"``: every slot at every step.
        jit_compile: compile the step functions with XLA.
        table_updates: how Adagrad updates the item tables (the same arithmetic either way: only rows
            with a nonzero summed gradient change). ``"rows"``: gather, update and scatter the rows
            the step uses (cost independent of the number of items); ``"dense"``: sum the step's
            gradient into a full-table gradient and update the whole table in one elementwise pass
            (no row gathers/scatters; faster when the catalogue is not much larger than the rows a
            step uses); ``"auto"``: dense when the item count is at most the rows a step uses
            (e.g. ML-100K with 2,048 shared negatives), else rows. Adam is always dense.
        init_scale: weights are uniform in ±init_scale * sqrt(6 / (fan_in + fan_out)).
        The next fields are training settings read only by
        :meth:`sbrlib.training.TrainingConfig.from_model` (a TrainingConfig given to
        :func:`sbrlib.training.fit` wins; ``fit(train)`` uses only ``epochs``):
        eval_batch_size: parallel sessions when scoring (evaluation, validation).
        validation_metric: metric of :func:`sbrlib.evaluation.evaluator.evaluate` checked after each epoch.
        early_stopping_patience: stop after this many consecutive epochs without improvement of the validation
            metric and restore the best weights (None = train all epochs).
        sequence_aware: at inference, start each session from the hidden state left by the same
            user's earlier sessions instead of zeros (requires :meth:`GRU4Rec.warm_start`).
        seed: seed of initialization, sampling and dropout.
    """

    layers: tuple[int, ...] = (127,)
    embedding_dim: int = 0
    constrained_embedding: bool = True
    loss: Loss = "bpr-max"
    n_sample: int = 2048
    sample_alpha: float = 0.1
    sample_cache_size: int = 10_000_000
    full_softmax: bool = False
    logq: float = 0.0
    bpreg: float = 1.5
    elu_param: float = 0.0
    dropout_embed: float = 0.4
    dropout_hidden: float = 0.0
    optimizer: Literal["adagrad", "adam"] = "adagrad"
    learning_rate: float = 0.008081
    momentum: float = 0.65
    nesterov: bool = False
    adagrad_eps: float = 1e-6
    batch_size: int = 27
    epochs: int = 10
    steps_per_call: int = 128
    shrink_batch: Literal["auto", "always", "never"] = "auto"
    jit_compile: bool = True
    table_updates: Literal["auto", "rows", "dense"] = "auto"
    init_scale: float = 1.0
    eval_batch_size: int = 512
    validation_metric: str = "recall@20"
    early_stopping_patience: int | None = None
    sequence_aware: bool = False
    seed: int = 42

    RULES: ClassVar[Mapping[str, C.Check]] = {
        "layers": C.int_list(min=1),
        "embedding_dim": C.integer(min=0),
        "constrained_embedding": C.boolean(),
        "loss": C.one_of("cross-entropy", "bpr-max"),
        "n_sample": C.integer(min=0),
        "sample_alpha": C.number(min=0, max=1),
        "sample_cache_size": C.integer(min=1),
        "full_softmax": C.boolean(),
        "logq": C.number(min=0),
        "bpreg": C.number(min=0),
        "elu_param": C.number(min=0),
        "dropout_embed": C.number(min=0, lt=1),
        "dropout_hidden": C.number(min=0, lt=1),
        "optimizer": C.one_of("adagrad", "adam"),
        "learning_rate": C.number(gt=0),
        "momentum": C.number(min=0, lt=1),
        "nesterov": C.boolean(),
        "adagrad_eps": C.number(gt=0),
        "batch_size": C.integer(min=1),
        "epochs": C.integer(min=0),
        "steps_per_call": C.integer(min=1),
        "shrink_batch": C.one_of("auto", "always", "never"),
        "jit_compile": C.boolean(),
        "table_updates": C.one_of("auto", "rows", "dense"),
        "init_scale": C.number(gt=0),
        "eval_batch_size": C.integer(min=1),
        "validation_metric": C.metric_name(),
        "early_stopping_patience": C.optional(C.integer(min=0)),
        "sequence_aware": C.boolean(),
        "seed": C.integer(min=0),
    }
    """What each field may be (checked in ``__post_init__``; reused by notebooks 04 and 07's parameter checks)."""

    def __post_init__(self) -> None:
        C.check_config(self)
        C.require(self, not self.full_softmax or self.loss == "cross-entropy", "full_softmax",
                  "False unless loss='cross-entropy' (a full softmax is only defined for cross-entropy)")
        object.__setattr__(self, "layers", tuple(int(s) for s in self.layers))

    def to_dict(self) -> dict:
        """JSON-friendly dict."""
        return asdict(self)

