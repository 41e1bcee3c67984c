"""The model registry: names and aliases, lazy imports, every row builds and fits, spaces and presets validate."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sbrlib.core.checks import ConfigError, ParameterError
from sbrlib.core.columns import ITEM, SESSION, TIME, USER
from sbrlib.core.errors import UserFacingError
from sbrlib.evaluation.evaluator import EvalConfig, evaluate
from sbrlib.models import registry as R
from sbrlib.notebook import comparisons as E
from sbrlib.notebook import params as notebook_params
from sbrlib.tuning import space as S


def walks(n_sessions=60, n_items=20, seed=0):
    """Sessions walking i -> i+1 (mod n_items): tiny data every model can learn something from."""
    rng = np.random.default_rng(seed)
    rows, t = [], 0
    for s in range(n_sessions):
        start, length = int(rng.integers(n_items)), int(rng.integers(3, 7))
        for p in range(length):
            rows.append((s, s, (start + p) % n_items, t))
            t += 1
    return pd.DataFrame(rows, columns=[SESSION, USER, ITEM, TIME])


@pytest.mark.parametrize("key", list(R.REGISTRY))
def test_every_key_and_display_name_resolves_in_any_case(key):
    spec = R.REGISTRY[key]
    for alias in (key, key.upper(), spec.name, spec.name.lower(), spec.name.upper()):
        assert R.resolve(alias) == key
    assert R.display_name(key) == spec.name
    assert R.get(spec.name) is spec


def test_resolve_example_and_unknown_names():
    assert R.resolve("Item-kNN") == "item-knn"
    with pytest.raises(R.UnknownModelError, match=r"unknown model 'itemknn' \(did you mean 'item-knn'\?\)"):
        R.resolve("itemknn")
    with pytest.raises(R.UnknownModelError) as err:
        R.resolve("xyzzy")
    assert "did you mean" not in str(err.value) and "gru4rec" in str(err.value)
    assert isinstance(err.value, UserFacingError) and isinstance(err.value, ValueError)
    with pytest.raises(R.UnknownModelError, match="models here are gru4rec, sasrec, item-knn, sr, v-sknn"):
        R.resolve("pop", among=R.TUNABLE)  # a model, but not a tunable one


def test_listing_the_models_does_not_import_tensorflow():
    code = ("import sys; from sbrlib.models import registry as R; from sbrlib.tuning import space; "
            "from sbrlib.notebook import comparisons, params; R.table(); R.keys(neural=True); "
            "R.get('gru4rec').config_class(); R.get('sasrec').search_space; "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


def test_tuning_space_reads_the_registry():
    assert S.NEURAL == R.NEURAL == ("gru4rec", "sasrec")
    assert list(S.SPACES) == list(R.TUNABLE) == ["gru4rec", "sasrec", "item-knn", "sr", "v-sknn"]
    assert S.MODEL_NAMES == {k: R.NAMES[k] for k in R.TUNABLE}
    for key in R.TUNABLE:
        assert S.config_class(key) is R.REGISTRY[key].config_class
        assert S.SPACES[key] == R.REGISTRY[key].search_space
        fields = {f.name for f in dataclasses.fields(R.REGISTRY[key].config_class)}
        assert set(S.SPACES[key]) <= fields, key  # every searched parameter is a config field
    with pytest.raises(S.SearchSpaceError, match=r"unknown model 'Item-kNN' \(did you mean 'item-knn'\?\)"):
        S.search_space("Item-kNN")


def test_experiments_baselines_come_from_the_registry():
    assert E.BASELINE_DEFAULTS == {R.NAMES[k]: R.REGISTRY[k].default_params() for k in ("item-knn", "sr", "v-sknn")}
    f = E.baseline_factories({"sr": {"steps": 3}, "Item-kNN": {"alpha": 0.25}})
    assert list(f) == ["Pop", "S-Pop", "Item-kNN", "Markov", "SR", "V-SKNN"]
    assert f["SR"]().config.steps == 3 and f["Item-kNN"]().config.alpha == 0.25
    with pytest.raises(ConfigError, match=r"SRConfig.steps = 0: must be an integer >= 1"):
        E.baseline_factories({"SR": {"steps": 0}})  # refused when the factories are made, not at the first fit
    with pytest.raises(R.UnknownModelError, match="did you mean 'sr'"):
        E.baseline_factories({"SRR": {"steps": 3}})


@pytest.mark.slow
@pytest.mark.parametrize("key", list(R.REGISTRY))
def test_every_row_builds_fits_and_evaluates_with_its_default_config(key):
    spec = R.REGISTRY[key]
    data = walks()
    train, test = data[data[SESSION] < 45], data[data[SESSION] >= 45]
    config = spec.default_config(epochs=1) if spec.neural else None  # defaults, one epoch to stay quick
    model = spec.build(config)
    assert isinstance(model, spec.model_class) and model.name == spec.name
    if spec.config is not None:
        assert model.config == (config if config is not None else spec.default_config())
    if spec.neural:
        model.fit(train, progress=False)
    else:
        model.fit(train)
    res = evaluate(model, test, EvalConfig(ks=(5,), coverage_ks=()), progress=False)
    assert 0.0 <= res.metrics["recall@5"] <= 1.0 and res.metrics["predictions"] == len(test) - test[SESSION].nunique()


def _corners(param):
    if param.categorical:
        return list(param.choices)
    return [int(param.low) if param.integer else param.low, int(param.high) if param.integer else param.high]


@pytest.mark.parametrize("key", list(R.TUNABLE))
def test_every_search_space_corner_validates(key):
    space = S.search_space(key)
    base = None  # the config class defaults
    for name, param in space.items():
        for value in _corners(param):
            params = {name: value}
            if param.when is not None:
                params[param.when[0]] = param.when[1]  # the parameter is only searched then
            S.make_config(key, params, base)  # a ConfigError here: a range the config refuses
    for pick in (0, -1):  # every parameter at its lowest, then at its highest value together
        S.make_config(key, {n: _corners(p)[pick] for n, p in space.items() if p.when is None}, base)


def test_every_gru4rec_preset_validates():
    from sbrlib.models.gru4rec.presets import PRESETS, preset

    for name in PRESETS:
        assert preset(name).to_dict()["layers"]
    assert set(PRESETS) <= set(notebook_params.GRU4REC_CONFIGS)


def test_notebook_models_take_keys_and_display_names():
    check = notebook_params.SPECS["07_sequential_models"]["MODELS"]
    assert check(["sr", "Item-kNN", "GRU4REC"]) is None
    assert check(["sr", "SR"]) is not None  # the same model twice
    assert check(["v-sknn"]) is not None  # not one 07 compares
    assert notebook_params.model_keys(["SR", "Item-kNN", "gru4rec"]) == ["sr", "item-knn", "gru4rec"]
    with pytest.raises(ParameterError, match=r"03_tuning: MODELS = \['itemknn'\]: must be a non-empty list"):
        notebook_params.validate_notebook("03_tuning", {"MODELS": ["itemknn"]})
