"""Hyperparameter search for GRU4Rec and the baselines (Optuna TPE, pruning, SQLite studies).

Quick use::

    from sbrlib.data import store as artifacts
    from sbrlib import tuning
    split = artifacts.load_split("ml-100k-gap")
    study = tuning.tune("gru4rec", split, "ml-100k-gap", metric="mrr@20", minutes=60)
    resolved = tuning.resolve_config("gru4rec", "ml-100k-gap", "tuned")   # THE way to get a config to train
    print(resolved.description)                              # built from resolved.facts

Search ranges: :data:`sbrlib.tuning.space.SPACES`. Studies: ``results/<split>/tuning.sqlite3``.
"""

from sbrlib.tuning.configs import (
    CHOICES,
    ResolvedConfig,
    fixed_parameters,
    gru4rec_config,
    prepare_study_file,
    refit_estimate,
    repeated_trial_sentence,
    resolve_config,
    reuse_best_trial,
    sasrec_config,
    source_label,
    trained_config_source,
    tune_study_path,
)
from sbrlib.tuning.search import (
    budget_sentence,
    budget_shares,
    build_model,
    default_base,
    enqueue_params,
    tune,
    tune_all,
)
from sbrlib.tuning.space import MODEL_NAMES, SPACES, Param, SearchSpaceError, describe, make_config, search_space
from sbrlib.tuning.store import (
    BEST_FILE,
    DEFAULTS_KEPT,
    METRICS,
    STUDY_FILE,
    TuningError,
    best_baseline_params,
    best_config,
    best_params,
    best_trial,
    defaults_phrase,
    describe_study,
    earlier_searches,
    load_study,
    prior_search_where,
    read_best,
    save_best,
    short_source,
    study_facts,
    study_name,
    study_path,
    tuned_config,
)

__all__ = [
    "BEST_FILE", "DEFAULTS_KEPT", "budget_sentence", "budget_shares", "defaults_phrase", "earlier_searches", "prior_search_where", "CHOICES", "ResolvedConfig", "describe_study", "resolve_config", "reuse_best_trial", "short_source", "source_label", "study_facts", "trained_config_source", "METRICS", "MODEL_NAMES", "Param", "SPACES", "STUDY_FILE", "SearchSpaceError",
    "TuningError", "best_baseline_params", "best_config", "best_params", "best_trial", "build_model",
    "default_base", "describe", "enqueue_params", "fixed_parameters", "gru4rec_config", "load_study",
    "make_config", "prepare_study_file", "read_best", "refit_estimate", "repeated_trial_sentence", "sasrec_config", "save_best", "search_space",
    "study_name", "study_path", "tune", "tune_all", "tune_study_path", "tuned_config",
]
