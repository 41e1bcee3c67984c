"""What every artifact was made from: fingerprints, differences, and refusals to mix.

* A **split** is identified by its dataset, its preprocessing parameters and the source file's
  hash: :func:`fingerprint` of those. Its folder name is readable for the defaults
  (``ml-1m-gap``) and carries a short parameter fingerprint otherwise (``ml-1m-gap-3f9c1a2b``).
* A **model** records the split it was trained on (name and fingerprint) and its own config
  fingerprint; evaluation refuses a model whose split differs from the test data's
  (:func:`check_same_split`).
* **Results** record the split and model fingerprints they were computed from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sbrlib.core.errors import DataError


class ProvenanceError(DataError):
    """Artifacts made from different inputs were about to be mixed or replaced."""


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace (tuples become lists), for hashing."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_default)


def _default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


def fingerprint(obj: Any, length: int = 8) -> str:
    """Short hex SHA-256 of the canonical JSON of ``obj`` (same content -> same fingerprint)."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:length]


def flatten(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"test": {"days": 1}}`` -> ``{"test.days": 1}`` (JSON round trip first, so tuples equal lists)."""
    obj = json.loads(canonical_json(obj))
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """``name: old -> new`` for every (nested) key whose value differs."""
    a, b = flatten(old), flatten(new)
    return [f"{k}: {a.get(k, '(absent)')!r} -> {b.get(k, '(absent)')!r}"
            for k in sorted(set(a) | set(b)) if a.get(k, "(absent)") != b.get(k, "(absent)")]


def frame_split(frame: Any) -> tuple[str | None, str | None]:
    """The ``(split name, split fingerprint)`` a frame loaded by :func:`sbrlib.data.store.load_split` carries."""
    attrs = getattr(frame, "attrs", {}) or {}
    return attrs.get("split"), attrs.get("split_fingerprint")


def training_provenance(train: Any, config: Mapping[str, Any]) -> dict[str, Any]:
    """What a model fitted on ``train`` with ``config`` is made from: the split and which of its
    frames (``train`` or ``train_tr``; from the frame's attrs, see :func:`frame_split`) and the
    fingerprint of its config."""
    name, fp = frame_split(train)
    return {"split": name, "split_fingerprint": fp, "trained_on": (getattr(train, "attrs", {}) or {}).get("frame"),
            "config_fingerprint": fingerprint(dict(config))}


def check_same_split(model_provenance: Mapping[str, Any] | None, split_name: str | None,
                     split_fingerprint: str | None, model_name: str = "the model") -> None:
    """Refuse to evaluate a model on a split other than the one it was trained on.

    Nothing is checked when either side does not know its split (a model fitted on a frame that
    was not loaded from a split artifact, or test events built by hand).

    Raises:
        ProvenanceError: naming the model's split and the test data's split.
    """
    trained_fp = (model_provenance or {}).get("split_fingerprint")
    if not trained_fp or not split_fingerprint or trained_fp == split_fingerprint:
        return
    trained = (model_provenance or {}).get("split", "?")
    raise ProvenanceError(
        f"{model_name} was trained on split {trained} (fingerprint {trained_fp}) but the test data come from "
        f"split {split_name or '?'} (fingerprint {split_fingerprint}); retrain it on this split "
        f"(notebooks/04_train_gru4rec with SPLIT_NAME={split_name}) or evaluate on {trained}")
