"""Hyperparameters of SASRec (one frozen dataclass with documented defaults)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import ClassVar, Literal

from sbrlib.core import checks as C

Loss = Literal["cross-entropy", "sampled-softmax", "gbce", "bce"]
LongSequences = Literal["windows", "sliding", "last"]
Positions = Literal["all", "last"]
LayerNorm = Literal["original", "post", "pre"]


@dataclass(frozen=True)
class SASRecConfig:
    """Every hyperparameter of SASRec.

    The searched defaults (``loss``, ``max_len``, ``blocks``, ``dim``, ``dropout``, ``learning_rate``,
    ``batch_size``) are the best trial of a 49-trial search on the real MovieLens 100K gap split
    (preset ``movielens-gap`` in :mod:`sbrlib.models.sasrec.presets`, where its provenance is recorded;
    as many trials as the search behind ``GRU4RecConfig()``): full-softmax cross-entropy (Klenitskiy &
    Vasilev, RecSys 2023), ``max_len`` 50, 1 block, 32 dimensions, dropout 0.1, Adam lr 0.006228, batch
    128. The other fields follow Kang & McAuley (ICDM 2018), whose MovieLens-1M setting (``max_len`` 200,
    2 blocks, 50 dimensions, dropout 0.2, lr 1e-3) is the preset ``kang-mcauley``.

    Attributes:
        max_len: longest input sequence; the model attends to at most the last ``max_len`` items.
        blocks: number of self-attention blocks.
        heads: attention heads (``dim`` must be divisible by it).
        dim: embedding / hidden size (item and position embeddings, attention, feed-forward).
        dropout: drop probability on embeddings, attention weights and feed-forward outputs.
        layer_norm: placement of the layer norms in a block: ``"original"`` (Kang & McAuley's code:
            queries normalised, ``x = LN(LN(x) + att)``, then ``x + FFN(x)``), ``"post"`` (standard
            Transformer, the default of the PyTorch port pmixer/SASRec.pytorch today and of RecBole)
            or ``"pre"`` (pre-norm, the port's ``--norm_first``). See :mod:`~sbrlib.models.sasrec.network`.
        ffn_dim: width of the feed-forward layer (None: ``dim``, as the original and the PyTorch port;
            RecBole uses 4 x ``dim``).
        loss: ``"cross-entropy"`` (softmax over all items), ``"sampled-softmax"`` (softmax over the
            target and ``n_negatives`` items drawn ∝ support ** ``sample_alpha``, with the logQ
            correction when ``logq``) or ``"gbce"`` (generalised binary cross-entropy of Petrov &
            Macdonald, RecSys 2023, with ``n_negatives`` uniform negatives and calibration ``gbce_t``) or
            ``"bce"`` (the original SASRec: binary cross-entropy with one uniform negative per position,
            drawn outside the row's items).
        n_negatives: negatives per mini-batch (shared by all its positions) for the sampled losses.
        sample_alpha: exponent of the sampling distribution of ``"sampled-softmax"`` (0 uniform).
        logq: subtract log(sampling probability) from the logits of ``"sampled-softmax"``.
        gbce_t: calibration parameter t of gBCE (0: plain BCE; 1: fully calibrated).
        learning_rate: Adam step size.
        adam_beta1: Adam first-moment decay.
        adam_beta2: Adam second-moment decay (0.98 as in the original SASRec).
        adam_eps: Adam epsilon.
        batch_size: training sequences per mini-batch.
        epochs: maximum training epochs (200: well above where SASRec converged on ML-100K
            leave-one-out, best epochs 20-35; early stopping ends training before).
        long_sequences: how sessions longer than ``max_len + 1`` items become training rows:
            ``"windows"`` cuts them into consecutive non-overlapping windows of ``max_len`` next-item
            pairs counted from the end (every pair is trained once per epoch, but a target near the
            start of a window sees a short history); ``"sliding"`` uses windows of ``max_len`` pairs
            ending every ``stride`` pairs, each training its last ``stride`` targets, so every target
            sees ``min(position, max_len)`` items of history with ``stride=1`` (per-prefix training;
            more rows, more time per epoch); ``"last"`` keeps only the last window (the original
            SASRec, which drops older items). See :mod:`sbrlib.models.sasrec.sequences`.
        stride: ``long_sequences="sliding"`` only: pairs between the ends of consecutive windows.
        The next fields are training settings read only by
        :meth:`sbrlib.training.TrainingConfig.from_model` (a TrainingConfig given to
        :func:`sbrlib.training.fit` wins; ``fit(train)`` uses only ``epochs``):
        eval_batch_size: parallel sessions when scoring (evaluation, validation).
        validation_metric: metric checked after each epoch (a key of the evaluator's metrics).
        validation_positions: ``"all"`` (every next-item prediction of the validation sessions) or
            ``"last"`` (only the final one: the leave-one-out protocol).
        early_stopping_patience: stop after this many consecutive epochs without improvement of the validation
            metric and restore the best weights (None: train all epochs; needs validation data). 5:
            validation NDCG@10 on ML-100K leave-one-out fluctuates for several epochs before its best.
        jit_compile: compile training and scoring with XLA; None (default): only when TensorFlow sees a
            GPU. On CPU, XLA took several times longer to compile (once per padded length) and was not
            faster per batch than TensorFlow's graph mode in ``benchmarks/bench_sasrec.py``.
        seed: seed of initialization, batch order, negatives and dropout.
    """

    max_len: int = 50
    blocks: int = 1
    heads: int = 1
    dim: int = 32
    dropout: float = 0.1
    layer_norm: LayerNorm = "original"
    ffn_dim: int | None = None
    loss: Loss = "cross-entropy"
    n_negatives: int = 256
    sample_alpha: float = 1.0
    logq: bool = True
    gbce_t: float = 0.75
    learning_rate: float = 0.006228
    adam_beta1: float = 0.9
    adam_beta2: float = 0.98
    adam_eps: float = 1e-8
    batch_size: int = 128
    epochs: int = 200
    long_sequences: LongSequences = "windows"
    stride: int = 1
    eval_batch_size: int = 256
    validation_metric: str = "ndcg@10"
    validation_positions: Positions = "all"
    early_stopping_patience: int | None = 5
    jit_compile: bool | None = None
    seed: int = 42

    RULES: ClassVar[Mapping[str, C.Check]] = {
        "max_len": C.integer(min=1),
        "blocks": C.integer(min=1),
        "heads": C.integer(min=1),
        "dim": C.integer(min=1),
        "dropout": C.number(min=0, lt=1),
        "loss": C.one_of("cross-entropy", "sampled-softmax", "gbce", "bce"),
        "n_negatives": C.integer(min=1),
        "sample_alpha": C.number(min=0),
        "logq": C.boolean(),
        "gbce_t": C.number(min=0, max=1),
        "learning_rate": C.number(gt=0),
        "adam_beta1": C.number(min=0, lt=1),
        "adam_beta2": C.number(min=0, lt=1),
        "adam_eps": C.number(gt=0),
        "batch_size": C.integer(min=1),
        "epochs": C.integer(min=0),
        "long_sequences": C.one_of("windows", "sliding", "last"),
        "stride": C.integer(min=1),
        "layer_norm": C.one_of("original", "post", "pre"),
        "ffn_dim": C.optional(C.integer(min=1)),
        "eval_batch_size": C.integer(min=1),
        "validation_metric": C.metric_name(),
        "validation_positions": C.one_of("all", "last"),
        "early_stopping_patience": C.optional(C.integer(min=0)),
        "jit_compile": C.optional(C.boolean()),
        "seed": C.integer(min=0),
    }
    """What each field may be (checked in ``__post_init__``; reused by notebook 07's parameter checks)."""

    def __post_init__(self) -> None:
        C.check_config(self)
        C.require(self, self.dim % self.heads == 0, "dim", f"divisible by heads ({self.heads})")

    def to_dict(self) -> dict:
        """JSON-friendly dict."""
        return asdict(self)
