"""Real MovieLens files from ../shared/data (skipped when absent)."""

from __future__ import annotations

import warnings

import pytest
from conftest import ML1M_META, ML100K, needs

from sbrlib.core.columns import ITEM, SESSION, TIME, USER
from sbrlib.core.errors import DataWarning
from sbrlib.data import SPECS, describe_source, load_movies, load_ratings, load_users, preprocess, verify

pytestmark = pytest.mark.realdata


@needs(ML100K)
def test_ml100k_known_counts_and_hash():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # genuine file: no count or hash warnings
        ratings = load_ratings("ml-100k", ML100K)
        assert verify(ML100K, "ml-100k") == []
    assert len(ratings) == 100_000
    assert ratings[USER].nunique() == 943
    assert ratings[ITEM].nunique() == 1_682
    movies = load_movies("ml-100k", ML100K)
    assert len(movies) == 1_682
    assert len(load_users("ml-100k", ML100K)) == 943


@needs(ML100K)
def test_ml100k_preprocess():
    ratings = load_ratings("ml-100k", ML100K)
    split = preprocess.preprocess(ratings, preprocess.PreprocessConfig())
    train, test = split["train"], split["test"]
    assert test[ITEM].isin(train[ITEM]).all()
    assert (test[TIME] > split.cutoffs["test"]).all()
    assert not set(train[SESSION]) & set(test[SESSION])
    assert 0.05 < len(test) / (len(train) + len(test)) < 0.2


@needs(ML1M_META)
def test_ml1m_movies_and_users():
    movies = load_movies("ml-1m", ML1M_META)
    assert len(movies) == 3_883
    assert movies["Year"].notna().all()
    assert "Toy Story (1995)" in set(movies["Title"])
    assert len(load_users("ml-1m", ML1M_META)) == 6_040


@needs(ML100K)
def test_ml100k_given_folder_verified_and_cached():
    source = describe_source("ml-100k", ML100K)
    assert source["verified"] is True
    assert source["sha256"] == SPECS["ml-100k"].ratings_sha256
    assert describe_source("ml-100k", ML100K)["sha256"] == source["sha256"]  # from the cache


@needs(ML1M_META)
def test_ml1m_metadata_matches_release_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # genuine files: no count, encoding or line-end warning
        assert len(load_movies("ml-1m", ML1M_META)) == 3_883
