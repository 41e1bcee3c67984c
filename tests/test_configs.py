"""Configs validate themselves: every field has a rule, a bad value raises ConfigError naming the
field, the allowed range and the value, and the notebooks' parameter checks refuse the same values."""

from __future__ import annotations

import dataclasses

import pytest

from sbrlib.core import checks
from sbrlib.core.checks import ConfigError
from sbrlib.core.errors import UserFacingError
from sbrlib.data.preprocess import LOOConfig, PreprocessConfig, SplitConfig
from sbrlib.evaluation.evaluator import EvalConfig
from sbrlib.evaluation.uncertainty import BootstrapConfig
from sbrlib.models.baselines import ItemKNNConfig, SRConfig, VSKNNConfig
from sbrlib.models.gru4rec.config import GRU4RecConfig
from sbrlib.models.sasrec.config import SASRecConfig
from sbrlib.notebook.params import SPECS

CONFIGS = [EvalConfig, GRU4RecConfig, SASRecConfig, ItemKNNConfig, SRConfig, VSKNNConfig, PreprocessConfig,
           SplitConfig, LOOConfig, BootstrapConfig]

# Values that some rule refuses: each field must refuse at least one of them.
CANDIDATES = [-1, -0.5, 0, 1.5, 10**9, float("nan"), "nonsense", None, [], [0], (0,), True, 2, 5]


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_every_field_has_a_rule_and_the_defaults_pass(cls):
    assert set(cls.RULES) == {f.name for f in dataclasses.fields(cls)}, "a field without a rule (or a stale rule)"
    cls()


FIELDS = [(cls, name) for cls in CONFIGS for name in cls.RULES]


@pytest.mark.parametrize(("cls", "name"), FIELDS, ids=[f"{c.__name__}.{n}" for c, n in FIELDS])
def test_a_bad_value_raises_config_error_naming_field_allowed_values_and_value(cls, name):
    rule = cls.RULES[name]
    bad = [v for v in CANDIDATES if rule(v) is not None]
    assert bad, f"{cls.__name__}.{name} accepts every candidate"
    for value in bad:
        with pytest.raises(ConfigError) as err:
            cls(**{name: value})
        message = str(err.value)
        assert message == f"{cls.__name__}.{name} = {value!r}: must be {rule(value)}"
        assert "\n" not in message


def test_the_issue_examples():
    with pytest.raises(ConfigError, match=r"^EvalConfig.ks = \(0,\): must be a list of integers >= 1"):
        EvalConfig(ks=(0,))
    with pytest.raises(ConfigError, match=r"^GRU4RecConfig.learning_rate = -1: must be a number > 0$"):
        GRU4RecConfig(learning_rate=-1)
    err = pytest.raises(ConfigError, BootstrapConfig, level=1.0).value
    assert isinstance(err, UserFacingError) and isinstance(err, ValueError)


def test_rules_between_fields():
    with pytest.raises(ConfigError, match=r"SASRecConfig.dim = 50: must be divisible by heads \(3\)"):
        SASRecConfig(dim=50, heads=3)
    with pytest.raises(ConfigError, match=r"GRU4RecConfig.full_softmax = True: must be False unless"):
        GRU4RecConfig(full_softmax=True)
    GRU4RecConfig(full_softmax=True, loss="cross-entropy")


def test_accepted_spellings_still_work():
    assert EvalConfig(exclude_seen=True).exclude_seen == "session"
    assert EvalConfig(ks=[5, 10]).ks == [5, 10]
    assert GRU4RecConfig(layers=[64]).layers == (64,)
    import numpy as np

    GRU4RecConfig(batch_size=np.int64(32), learning_rate=np.float32(0.1), nesterov=np.bool_(True))
    PreprocessConfig(test=SplitConfig(days=7.5), valid=SplitConfig(fraction=0.2))


# Notebook parameter -> the config field it sets: the notebook refuses exactly what the config refuses.
SAME = [
    ("02_preprocessing", "SESSION_GAP", PreprocessConfig, "session_gap"),
    ("02_preprocessing", "MIN_SESSION_LENGTH", PreprocessConfig, "min_session_length"),
    ("02_preprocessing", "MIN_RATING", PreprocessConfig, "min_rating"),
    ("02_preprocessing", "TEST_FRACTION", SplitConfig, "fraction"),
    ("02_preprocessing", "VALID_DAYS", SplitConfig, "days"),
    ("04_train_gru4rec", "LEARNING_RATE", GRU4RecConfig, "learning_rate"),
    ("04_train_gru4rec", "DROPOUT_HIDDEN", GRU4RecConfig, "dropout_hidden"),
    ("04_train_gru4rec", "MOMENTUM", GRU4RecConfig, "momentum"),
    ("04_train_gru4rec", "LAYERS", GRU4RecConfig, "layers"),
    ("04_train_gru4rec", "SAMPLE_ALPHA", GRU4RecConfig, "sample_alpha"),
    ("05_evaluation", "KS", EvalConfig, "ks"),
    ("05_evaluation", "TIE_POLICY", EvalConfig, "tie_policy"),
    ("05_evaluation", "EXCLUDE_SEEN", EvalConfig, "exclude_seen"),
    ("05_evaluation", "ITEMKNN_ALPHA", ItemKNNConfig, "alpha"),
    ("05_evaluation", "SR_STEPS", SRConfig, "steps"),
    ("05_evaluation", "VSKNN_K", VSKNNConfig, "k"),
    ("05_evaluation", "N_BOOT", BootstrapConfig, "n_boot"),
    ("07_sequential_models", "LOO_MIN_USER_EVENTS", LOOConfig, "min_user_events"),
    ("07_sequential_models", "SASREC_DROPOUT", SASRecConfig, "dropout"),
    ("07_sequential_models", "SASREC_LOSS", SASRecConfig, "loss"),
    ("07_sequential_models", "SASREC_LEARNING_RATE", SASRecConfig, "learning_rate"),
]
VALUES = [*CANDIDATES, 0.5, 0.999, 1, 3, 3600, [5, 10], [100], "user", "median", "bpr-max", "gbce", 1e-3]


@pytest.mark.parametrize(("notebook", "param", "cls", "name"), SAME, ids=[f"{n}:{p}" for n, p, _, _ in SAME])
def test_notebook_checks_and_library_refuse_the_same_values(notebook, param, cls, name):
    check = SPECS[notebook][param]
    for value in VALUES:
        if value is None and check(None) is None:
            continue  # None: "keep the config's value" in the notebook
        refused_by_notebook = check(value) is not None
        try:
            cls(**{name: value})
            refused_by_library = False
        except ConfigError:
            refused_by_library = True
        assert refused_by_notebook == refused_by_library, (param, value)


def test_check_config_reports_the_first_bad_field_only_once():
    with pytest.raises(ConfigError) as err:
        BootstrapConfig(n_boot=0, level=2.0)
    assert str(err.value) == "BootstrapConfig.n_boot = 0: must be an integer >= 1"
    assert checks.rule(BootstrapConfig, "level")(2.0) == "a number > 0 and < 1"
    with pytest.raises(KeyError, match="BootstrapConfig has no rule for 'levels'"):
        checks.rule(BootstrapConfig, "levels")
