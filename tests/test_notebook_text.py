"""Issue 18: wording of notebooks 00, 02, 06 and 07 a fresh reader flagged (terms before use, true claims)."""
from __future__ import annotations

import json
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def cells(stem: str) -> list[str]:
    nb = json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"]]


def test_00_introduces_sbrlib_and_movielens_before_using_them():
    first = cells("00_what_went_wrong")[0]
    assert first.index("this project's Python library") < first.index("MovieLens 1M with pandas")
    assert "../README.md" in first and "MovieLens 100K" in first and "`ml-100k`" in first


def test_00_explains_sbrlibs_nonzero_share_next_to_the_never_claim_and_defines_alias():
    text = cells("00_what_went_wrong")
    split = next(c for c in text if "A split at a\nreal-time cutoff never does that" in c)
    assert all(f"`{column}`" in split for column in ("first_shown", "last_shown", "test_ends_first", "test_user_ids"))
    assert "held-out](../docs/GLOSSARY.md#held-out) events whose item never occurs in\ntraining are removed" in split
    assert "called the **alias**" in next(c for c in text if c.startswith("## 3 "))
    speed = next(c for c in text if c.startswith("## 4 "))
    assert "8 bytes, float64" in speed and "start and active flags" in speed


def test_02_06_07_wording():
    assert not any("property-tested" in c for c in cells("02_preprocessing"))
    assert any("#property-based-test" in c for c in cells("02_preprocessing"))
    assert "co-rated" not in cells("06_try_it")[0] and "same training sessions" in cells("06_try_it")[0]
    assert "#self-attention-block" in cells("07_sequential_models")[0]
