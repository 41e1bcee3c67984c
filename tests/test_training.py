"""The one training loop (sbrlib.training.fit): patience boundary, budget, divergence, restore-best,
hooks, facts (JSON, sentence, save/load), and the layering rule that models do not validate."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sbrlib import training
from sbrlib.core.columns import SESSION
from sbrlib.evaluation.evaluator import EvalConfig
from sbrlib.training import TrainingConfig, TrainingDiverged, TrainingFacts

ROOT = Path(__file__).resolve().parents[1]


class FakeModel:
    """Implements the model side of the loop: each epoch's loss is scripted, its weights are the epoch
    number, and :func:`training.validate` (patched by ``scripted``) returns scripted scores."""

    name = "fake"

    def __init__(self, losses=None, seconds_per_epoch: float = 1.0, clock=None):
        self.config = SimpleNamespace(learning_rate=0.05, momentum=0.3)
        self.losses = list(losses or [])
        self.seconds_per_epoch = seconds_per_epoch
        self.clock = clock
        self.epoch = 0
        self.prepared = 0

    def prepare_training(self, train):
        self.prepared += 1
        self.epoch = 0

    def train_epoch(self, progress=False):
        self.epoch += 1
        if self.clock is not None:
            self.clock.now += self.seconds_per_epoch
        loss = self.losses[self.epoch - 1] if self.epoch <= len(self.losses) else 1.0 / self.epoch
        return {"loss": loss, "events": 100, "seconds": self.seconds_per_epoch}

    def get_weights(self):
        return {"w": np.array([self.epoch])}

    def set_weights(self, weights):
        self.epoch = int(weights["w"][0])


TRAIN = pd.DataFrame({SESSION: [1, 1], "ItemId": [1, 2]})
VALID = pd.DataFrame({SESSION: [2, 2], "ItemId": [2, 1]})


@pytest.fixture
def scripted(monkeypatch):
    """Make validation return the given scores for ``recall@20`` epoch by epoch."""

    def install(scores):
        it = iter(scores)
        calls = []

        def validate(model, valid, config, history_frame=None):
            calls.append(model.epoch)
            value = next(it)
            return {m: value for m in (*config.recorded, config.metric)}

        monkeypatch.setattr(training, "validate", validate)
        return calls

    return install


@pytest.mark.parametrize(("scores", "patience", "epochs_run", "best"), [
    ([0.1, 0.3, 0.2, 0.25, 0.9, 0.9], 2, 4, 2),   # epochs 3 and 4 without improvement: stop after the 2nd
    ([0.1, 0.3, 0.2, 0.4, 0.3, 0.35, 0.9], 2, 6, 4),  # not consecutive at 3: continues
    ([0.5, 0.5, 0.6], 1, 2, 1),                   # an equal score is no improvement
    ([0.1, 0.2, 0.3, 0.1, 0.1, 0.1, 0.9], 3, 6, 3),
])
def test_patience_stops_exactly_after_patience_epochs_without_improvement(scripted, scores, patience, epochs_run,
                                                                         best):
    model = FakeModel()
    scripted(scores)
    facts = training.fit(model, TRAIN, VALID, TrainingConfig(max_epochs=len(scores), patience=patience),
                         progress=False)
    assert (facts.stopped_by, facts.epochs_run, facts.best_epoch) == ("patience", epochs_run, best)
    assert facts.still_improving is False
    assert facts.best_score == pytest.approx(scores[best - 1])
    assert model.epoch == best  # restore-best: the model holds the weights of the best epoch
    assert model.history["epoch"].tolist() == list(range(1, epochs_run + 1))
    assert facts.sentence().startswith(f"stopped by patience after epoch {epochs_run} ")
    assert f"best epoch {best} of {epochs_run}" in facts.sentence()


def test_epoch_cap_while_improving_and_restore_off(scripted):
    model = FakeModel()
    scripted([0.1, 0.2, 0.3])
    facts = training.fit(model, TRAIN, VALID, TrainingConfig(max_epochs=3, patience=2), progress=False)
    assert (facts.stopped_by, facts.epochs_run, facts.best_epoch, facts.still_improving) == ("epochs", 3, 3, True)
    assert "still improving" in facts.sentence()
    model = FakeModel()
    scripted([0.3, 0.2, 0.1])
    facts = training.fit(model, TRAIN, VALID, TrainingConfig(max_epochs=3, restore_best=False), progress=False)
    assert (facts.stopped_by, facts.best_epoch, facts.restored_best) == ("epochs", 1, False)
    assert model.epoch == 3  # the last epoch's weights are kept


def test_budget_is_checked_after_each_epoch_and_says_still_improving(scripted, monkeypatch):
    clock = SimpleNamespace(now=0.0)
    monkeypatch.setattr(training, "time", SimpleNamespace(perf_counter=lambda: clock.now))
    model = FakeModel(seconds_per_epoch=10.0, clock=clock)
    calls = scripted([0.1, 0.2, 0.3, 0.4, 0.5])
    facts = training.fit(model, TRAIN, VALID, TrainingConfig(max_epochs=5, patience=2, budget_seconds=25),
                         progress=False)
    # 10 s, 20 s: within the budget; 30 s >= 25 s after epoch 3: stop
    assert (facts.stopped_by, facts.epochs_run, facts.best_epoch, facts.still_improving) == ("budget", 3, 3, True)
    assert calls == [1, 2, 3] and facts.seconds == pytest.approx(30.0) and facts.budget_seconds == 25
    assert "time budget (25 s) after epoch 3" in facts.sentence() and "undertrained" in facts.sentence()


def test_budget_stop_after_improvement_ended_is_not_still_improving(scripted, monkeypatch):
    clock = SimpleNamespace(now=0.0)
    monkeypatch.setattr(training, "time", SimpleNamespace(perf_counter=lambda: clock.now))
    model = FakeModel(seconds_per_epoch=10.0, clock=clock)
    scripted([0.3, 0.2, 0.1])
    facts = training.fit(model, TRAIN, VALID, TrainingConfig(max_epochs=5, patience=5, budget_seconds=25),
                         progress=False)
    assert (facts.stopped_by, facts.best_epoch, facts.still_improving) == ("budget", 1, False)
    assert model.epoch == 1


def test_divergence_restores_best_or_raises_a_clear_error(scripted):
    model = FakeModel(losses=[1.0, 0.9, float("nan"), 0.5])
    calls = scripted([0.2, 0.3, 0.9])
    facts = training.fit(model, TRAIN, VALID, TrainingConfig(max_epochs=4, patience=2), progress=False)
    assert (facts.stopped_by, facts.epochs_run, facts.best_epoch) == ("diverged", 3, 2)
    assert calls == [1, 2]  # the diverged epoch is not validated
    assert model.epoch == 2 and math.isnan(model.history["loss"].iloc[-1])
    assert "diverged in epoch 3" in facts.sentence()
    json.dumps(facts.to_dict(), allow_nan=False)  # NaN loss written as null
    with pytest.raises(TrainingDiverged, match=r"lower the learning rate \(learning_rate=0.05, momentum=0.3\)"):
        training.fit(FakeModel(losses=[float("inf")]), TRAIN, VALID, TrainingConfig(max_epochs=3), progress=False)
    assert issubclass(TrainingDiverged, FloatingPointError)  # tuning records such a trial as failed


def test_hook_sees_every_row_and_may_stop_training(scripted):
    class Pruned(Exception):
        pass

    rows = []

    def on_epoch(row):
        rows.append(row)
        if row["epoch"] == 2:
            raise Pruned

    model = FakeModel()
    scripted([0.1, 0.2, 0.3])
    with pytest.raises(Pruned):
        training.fit(model, TRAIN, VALID, TrainingConfig(max_epochs=3), on_epoch=on_epoch, progress=False)
    assert model.epoch == 2 and [r["epoch"] for r in rows] == [1, 2]
    assert {"loss", "seconds", "events_per_second", "validation_seconds", "recall@20", "mrr@20"} <= set(rows[0])
    assert rows[0]["events_per_second"] == pytest.approx(100.0)


def test_no_validation_trains_every_epoch(scripted):
    calls = scripted([])
    model = FakeModel()
    facts = training.fit(model, TRAIN, None, TrainingConfig(max_epochs=3, patience=1), progress=False)
    assert calls == [] and (facts.stopped_by, facts.epochs_run, facts.best_epoch) == ("epochs", 3, None)
    assert facts.still_improving is None and "no validation" in facts.sentence()
    assert model.training_facts is facts and model.provenance["training"] == facts.to_dict()


def test_facts_json_round_trip(scripted):
    scripted([0.1, 0.4, 0.2])
    facts = training.fit(FakeModel(), TRAIN, VALID, TrainingConfig(max_epochs=3, metric="mrr@20"), progress=False)
    back = TrainingFacts.from_dict(json.loads(json.dumps(facts.to_dict())))
    assert back == facts and back.metric == "mrr@20" and back.history[1]["mrr@20"] == pytest.approx(0.4)
    with pytest.raises(ValueError, match="stopped_by"):
        TrainingFacts("time budget", None, 1, None, None, "m", 1.0, None, 1, None)


def test_config_from_model_and_bad_values():
    model_config = SimpleNamespace(epochs=7, early_stopping_patience=2, validation_metric="ndcg@10",
                                   eval_batch_size=64, validation_positions="last")
    cfg = TrainingConfig.from_model(model_config)
    assert (cfg.max_epochs, cfg.patience, cfg.metric, cfg.restore_best) == (7, 2, "ndcg@10", True)
    assert (cfg.validation.batch_size, cfg.validation.positions, cfg.validation.exclude_seen) == (64, "last", "none")
    assert TrainingConfig.from_model(model_config, patience=None, metric="mrr@5").eval_config().ks == (5, 10, 20)
    assert TrainingConfig.from_model(SimpleNamespace(epochs=3, early_stopping_patience=None)).restore_best is False
    with pytest.raises(ValueError, match="use 1"):
        TrainingConfig.from_model(SimpleNamespace(early_stopping_patience=0))
    with pytest.raises(ValueError, match="patience must be an integer >= 1"):
        TrainingConfig(patience=0)
    with pytest.raises(ValueError, match="'hits@20' is not one of"):
        TrainingConfig(metric="hits@20")
    with pytest.raises(ValueError, match="budget_seconds"):
        TrainingConfig(budget_seconds=float("inf"))
    assert TrainingConfig(validation=EvalConfig(exclude_seen="user")).eval_config().coverage_ks == ()


def test_models_do_not_import_the_evaluator_or_data_files():
    banned = {"sbrlib.evaluation.evaluator", "sbrlib.data.store", "sbrlib.training", "sbrlib.data.loaders", "sbrlib.data.acquisition"}
    found = []
    for path in sorted((ROOT / "sbrlib" / "models").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            found += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names if n in banned]
    assert found == []


# ---------------------------------------------------------------- a real model: GRU4Rec on tiny synthetic data

@pytest.fixture(scope="module")
def gru_data():
    pytest.importorskip("tensorflow")
    from test_gru4rec import rule_sessions

    data = rule_sessions(120)
    return data[data[SESSION] < 100], data[data[SESSION] >= 100]


def test_gru4rec_facts_survive_save_and_load(gru_data, tmp_path):
    from sbrlib.models.gru4rec import GRU4Rec, GRU4RecConfig

    train, valid = gru_data
    cfg = GRU4RecConfig(layers=(16,), batch_size=8, n_sample=8, epochs=3, validation_metric="mrr@20",
                        early_stopping_patience=2)
    model = GRU4Rec(cfg)
    facts = training.fit(model, train, valid, TrainingConfig.from_model(cfg), progress=False)
    assert facts.epochs_run <= 3 and facts.metric == "mrr@20" and facts.best_epoch is not None
    assert list(model.history.columns[:5]) == ["epoch", "loss", "seconds", "events_per_second", "occupancy"]
    assert {"recall@20", "mrr@20", "ndcg@10"} <= set(model.history.columns)
    loaded = GRU4Rec.load(model.save(tmp_path / "m"))
    assert loaded.training_facts == facts
    assert loaded.provenance["training"]["stopped_by"] == facts.stopped_by
    with pytest.raises(TypeError, match="sbrlib.training.fit"):
        GRU4Rec(cfg).fit(train, valid)
    plain = GRU4Rec(cfg).fit(train, progress=False)  # the convenience: config.epochs, no validation
    assert plain.training_facts.epochs_run == 3 and plain.training_facts.best_epoch is None
    np.testing.assert_allclose(plain.history["loss"].to_numpy()[: facts.epochs_run],
                               model.history["loss"].to_numpy(), rtol=1e-6)  # same seed, same training
