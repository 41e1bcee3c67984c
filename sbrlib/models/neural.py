"""What every neural model shares: weights by name, ``build(item_index)`` and one saved-model format.

A saved model is a folder (format version :data:`FORMAT_VERSION`)::

    model.json        the manifest, written last: format, format_version, family, class, name,
                      sbrlib_version, saved_at and every other file with its size and SHA-256
    config.json       {"name": ..., **config.to_dict()}
    items.parquet     the training item index (ItemId, ItemIdx, Support)
    weights.npz       the network's weights by name
    history.csv       one row per training epoch (may be empty)
    provenance.json   what the model was made from, and the training facts
    titles.parquet    optional: ItemId, Title

:func:`write_saved` writes it temp-then-rename (an interrupted save leaves the previous folder);
:func:`read_saved` checks the manifest (sizes, hashes) before parsing anything and turns every
problem into one :class:`~sbrlib.core.errors.ModelFileError` naming the file and what to do. Folders
saved before the format had a version (no ``model.json``) are refused with the advice to retrain:
nothing could check that their files are whole. Neither function imports TensorFlow;
:func:`load_model` loads any family by the name in the manifest.
"""

from __future__ import annotations

import abc
import dataclasses
import importlib
import json
import logging
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from sbrlib.core.columns import ITEM
from sbrlib.core.errors import ModelFileError
from sbrlib.core.fileio import atomic_dir, sha256_file, write_json
from sbrlib.core.training_facts import TrainingFacts
from sbrlib.data.item_index import ItemIndex
from sbrlib.models.base import SessionModel

log = logging.getLogger(__name__)

FORMAT = "sbrlib-model"
FORMAT_VERSION = 2
"""Version of the saved-model folder. 1 (implicit): the folders without ``model.json`` saved
before; 2: manifest with sizes and SHA-256 of every file."""
MANIFEST = "model.json"
REQUIRED_FILES = ("config.json", "items.parquet", "weights.npz", "history.csv", "provenance.json")
OPTIONAL_FILES = ("titles.parquet",)

FAMILIES: dict[str, tuple[str, str]] = {
    "gru4rec": ("sbrlib.models.gru4rec", "GRU4Rec"),
    "sasrec": ("sbrlib.models.sasrec", "SASRec"),
}
"""Family key (``model.json``'s ``family``) -> (module, class) of the models that can be saved."""

RETRAIN = {
    "gru4rec": "retrain it with notebooks/04_train_gru4rec (or `make run-all`)",
    "sasrec": "retrain it (SASRec(config).fit(train).save(folder))",
}
_RETRAIN_ANY = "retrain it (for GRU4Rec: notebooks/04_train_gru4rec or `make run-all`)"
_PARSE_ERRORS: tuple[type[BaseException], ...] = (OSError, ValueError, KeyError, TypeError, EOFError,
                                                  zipfile.BadZipFile, UnicodeDecodeError)
try:  # pyarrow's own errors (most already derive from ValueError or OSError)
    import pyarrow as _pa

    _PARSE_ERRORS += (_pa.ArrowException,)
except ImportError:  # pragma: no cover - pyarrow is a requirement
    pass


def _advice(family: str | None) -> str:
    return f"{RETRAIN.get(family or '', _RETRAIN_ANY)}, or restore the folder from a backup"


@dataclasses.dataclass(frozen=True)
class SavedModel:
    """The parsed contents of a saved-model folder (see the module docstring).

    Attributes:
        folder: where it was read from.
        family: ``"gru4rec"``, ``"sasrec"``, ...
        name: the model's display name.
        config: the config as saved (without ``name``).
        item_index: the training item index.
        history: one row per epoch (empty when not recorded).
        provenance: what the model was made from.
        titles: ItemId -> title, or None.
        weights: name -> array, or None when read with ``weights=False``.
        manifest: the parsed ``model.json``.
    """

    folder: Path
    family: str
    name: str
    config: dict
    item_index: ItemIndex
    history: pd.DataFrame
    provenance: dict
    titles: pd.Series | None
    weights: dict[str, np.ndarray] | None
    manifest: dict


# --------------------------------------------------------------------------- writing


def write_saved(folder: str | Path, *, family: str, name: str, config: dict, item_index: ItemIndex,
                weights: dict[str, np.ndarray], history: pd.DataFrame | None = None,
                provenance: dict | None = None, titles: pd.Series | None = None, class_name: str = "") -> Path:
    """Write a saved-model folder atomically (the previous folder stays until the new one is whole).

    Args:
        folder: destination (replaced as a whole).
        family: family key (a key of :data:`FAMILIES` for :func:`load_model` to find the class).
        name: display name.
        config: JSON-friendly config (``config.to_dict()``).
        item_index: training item index.
        weights: name -> array (as :meth:`NeuralModel.get_weights` gives).
        history: per-epoch training rows.
        provenance: what the model was made from (JSON-friendly).
        titles: ItemId -> title, saved when given.
        class_name: the model class, recorded for readers.

    Returns:
        ``folder`` as a Path.
    """
    import sbrlib

    folder = Path(folder)
    with atomic_dir(folder) as tmp:
        write_json(tmp / "config.json", {"name": name, **config})
        item_index.to_frame().to_parquet(tmp / "items.parquet", index=False)
        with open(tmp / "weights.npz", "wb") as handle:
            np.savez(handle, **weights)
        (history if history is not None else pd.DataFrame()).to_csv(tmp / "history.csv", index=False)
        write_json(tmp / "provenance.json", provenance or {})
        if titles is not None:
            titles.rename("Title").rename_axis(ITEM).reset_index().to_parquet(tmp / "titles.parquet", index=False)
        files = {p.name: {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
                 for p in sorted(tmp.iterdir()) if p.is_file()}
        write_json(tmp / MANIFEST, {"format": FORMAT, "format_version": FORMAT_VERSION, "family": family,
                                    "class": class_name, "name": name, "sbrlib_version": sbrlib.__version__,
                                    "saved_at": datetime.now(UTC).isoformat(timespec="seconds"), "files": files})
    log.info("saved %s model %s to %s", family, name, folder)
    return folder


# --------------------------------------------------------------------------- reading


def is_saved_model(folder: str | Path) -> bool:
    """True when ``folder`` looks like a saved model of any format version (``model.json`` or the
    ``config.json`` of the unversioned format); whether it loads is for :func:`read_saved` to say."""
    folder = Path(folder)
    return (folder / MANIFEST).is_file() or (folder / "config.json").is_file()


def read_manifest(folder: str | Path) -> dict:
    """The checked ``model.json`` of a saved-model folder (files not yet verified).

    Raises:
        ModelFileError: no such folder, not a model folder, the unversioned format, another
            format version, or a malformed manifest.
    """
    folder = Path(folder)
    path = folder / MANIFEST
    if not folder.exists():
        raise ModelFileError(f"{folder}: no such model folder; check the path, or train the model first "
                             "(for GRU4Rec: notebooks/04_train_gru4rec or `make run-all`)")
    if not folder.is_dir():
        raise ModelFileError(f"{folder} is a file, not a saved-model folder; pass the folder that holds {MANIFEST}")
    if not path.is_file():
        if (folder / "config.json").is_file():
            raise ModelFileError(
                f"{folder} was saved by an older sbrlib (no {MANIFEST}: an unversioned format whose files cannot be "
                f"checked); this version loads format {FORMAT_VERSION} only: {_RETRAIN_ANY}")
        raise ModelFileError(f"{folder} is not a saved model ({MANIFEST} missing); pass a folder written by "
                             f"model.save(...), or {_RETRAIN_ANY}")
    manifest = _parse(path, lambda: json.loads(path.read_text()), None)
    family = manifest.get("family") if isinstance(manifest, dict) else None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), dict):
        raise ModelFileError(f"{path}: not an sbrlib model manifest (expected format {FORMAT!r} with a 'files' table); "
                             f"{_advice(family)}")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        raise ModelFileError(
            f"{path}: saved-model format version {version!r}, this sbrlib reads version {FORMAT_VERSION}; "
            + ("upgrade sbrlib to load it" if newer else _advice(family)))
    if not isinstance(family, str) or not family:
        raise ModelFileError(f"{path}: no model family recorded; {_advice(None)}")
    return manifest


def verify_files(folder: str | Path, manifest: dict) -> None:
    """Check that every file of the manifest is there with its recorded size and SHA-256.

    Raises:
        ModelFileError: naming the first missing, truncated, grown or altered file.
    """
    folder = Path(folder)
    family = manifest.get("family")
    files = manifest["files"]
    missing_entries = [f for f in REQUIRED_FILES if f not in files]
    if missing_entries:
        raise ModelFileError(f"{folder / MANIFEST}: lists no {', '.join(missing_entries)}; {_advice(family)}")
    for name, entry in files.items():
        path = folder / name
        if not isinstance(entry, dict) or not isinstance(entry.get("bytes"), int) or not entry.get("sha256"):
            raise ModelFileError(f"{folder / MANIFEST}: the entry for {name} has no size and hash; {_advice(family)}")
        if not path.is_file():
            raise ModelFileError(f"{path} is missing; {_advice(family)}")
        size = path.stat().st_size
        if size != entry["bytes"]:
            what = "empty" if size == 0 else ("truncated" if size < entry["bytes"] else "longer than saved")
            raise ModelFileError(f"{path} is {what} ({size:,} bytes, saved with {entry['bytes']:,}); {_advice(family)}")
        if sha256_file(path) != entry["sha256"]:
            raise ModelFileError(f"{path} changed since it was saved (SHA-256 differs from {MANIFEST}); "
                                 f"{_advice(family)}")


def read_saved(folder: str | Path, family: str | None = None, weights: bool = True) -> SavedModel:
    """Read and check a saved-model folder (no TensorFlow needed).

    Args:
        folder: the model folder.
        family: when given, refuse a model of another family.
        weights: also read ``weights.npz`` (False: ``SavedModel.weights`` is None).

    Raises:
        ModelFileError: any problem, naming the file and what to do.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    saved_family = manifest["family"]
    if family is not None and saved_family != family:
        cls = FAMILIES.get(saved_family, ("", saved_family))[1]
        raise ModelFileError(f"{folder} holds a {saved_family} model, not {family}; load it with {cls}.load(folder) "
                             "or sbrlib.models.neural.load_model(folder)")
    verify_files(folder, manifest)
    advice = _advice(saved_family)

    config = _parse(folder / "config.json", lambda: json.loads((folder / "config.json").read_text()), advice)
    if not isinstance(config, dict):
        raise ModelFileError(f"{folder / 'config.json'}: expected a JSON object; {advice}")
    config = dict(config)
    name = str(config.pop("name", manifest.get("name") or manifest.get("class") or saved_family))

    def items() -> ItemIndex:
        frame = pd.read_parquet(folder / "items.parquet")
        if not {ITEM, "Support"} <= set(frame.columns):
            raise ValueError(f"columns {list(frame.columns)}, expected {ITEM} and Support")
        return ItemIndex.from_frame(frame)

    item_index = _parse(folder / "items.parquet", items, advice)
    history = _parse(folder / "history.csv", lambda: _read_history(folder / "history.csv"), advice)
    provenance = _parse(folder / "provenance.json", lambda: json.loads((folder / "provenance.json").read_text()),
                        advice)
    if not isinstance(provenance, dict):
        raise ModelFileError(f"{folder / 'provenance.json'}: expected a JSON object; {advice}")
    titles = None
    if "titles.parquet" in manifest["files"]:
        titles = _parse(folder / "titles.parquet",
                        lambda: pd.read_parquet(folder / "titles.parquet").set_index(ITEM)["Title"], advice)
    arrays = _parse(folder / "weights.npz", lambda: _read_weights(folder / "weights.npz"), advice) if weights else None
    return SavedModel(folder, saved_family, name, config, item_index, history, provenance, titles, arrays, manifest)


def load_model(folder: str | Path) -> NeuralModel:
    """Load a saved model of any family (the class is chosen by the manifest's ``family``).

    Raises:
        ModelFileError: the folder cannot be loaded (see :func:`read_saved`), or its family is unknown.
    """
    manifest = read_manifest(folder)
    family = manifest["family"]
    if family not in FAMILIES:
        raise ModelFileError(f"{Path(folder) / MANIFEST}: unknown model family {family!r} (this sbrlib loads "
                             f"{', '.join(sorted(FAMILIES))}); upgrade sbrlib or {_RETRAIN_ANY}")
    module, cls = FAMILIES[family]
    return getattr(importlib.import_module(module), cls).load(folder)


def _parse(path: Path, read, advice: str | None):
    """``read()``, with any parsing error turned into a ModelFileError naming ``path``."""
    try:
        return read()
    except _PARSE_ERRORS as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelFileError(f"{path} cannot be read ({type(exc).__name__}: {detail}); "
                             f"{advice or _advice(None)}") from None


def _read_history(path: Path) -> pd.DataFrame:
    if path.stat().st_size <= 1:  # an empty frame is written as one newline
        return pd.DataFrame()
    return pd.read_csv(path)


def _read_weights(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


# --------------------------------------------------------------------------- the base class


class NeuralModel(SessionModel):
    """Base of the neural models: a config, a network with named weights, save/load.

    Subclasses set ``family`` and ``config_class`` and implement :meth:`_make_network` (the network
    for ``n_items``) and :meth:`_build_functions` (the compiled functions over ``self.net``).
    ``provenance`` (what the model was made from, plus the training facts), ``history`` and
    ``titles`` are saved and loaded with the weights.
    """

    family: ClassVar[str] = ""
    config_class: ClassVar[type] = object

    config: Any
    net: Any
    history: pd.DataFrame
    provenance: dict
    titles: pd.Series | None

    @abc.abstractmethod
    def _make_network(self, n_items: int) -> Any:
        """A freshly initialized network for ``n_items`` items (from ``self.config``)."""

    @abc.abstractmethod
    def _build_functions(self) -> None:
        """(Re)create the compiled functions over ``self.net``."""

    def build(self, item_index: ItemIndex) -> Self:
        """Set the item index and create a freshly initialized network and its compiled functions.

        ``fit`` calls it on the training items; tests and benchmarks call it to get an untrained model.

        Returns:
            self.
        """
        self.item_index = item_index
        self.net = self._make_network(len(item_index))
        self._build_functions()
        return self

    # ------------------------------------------------------------------ weights

    def get_weights(self) -> dict[str, np.ndarray]:
        """Copy of all weights by name."""
        self._require_network("get_weights")
        return {k: np.array(v.numpy()) for k, v in self.net.named_variables().items()}

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Assign weights by name (from :meth:`get_weights`); nothing is assigned unless all fit.

        Raises:
            ValueError: names missing or unexpected, or a shape that differs from the network's.
        """
        self._require_network("set_weights")
        variables = self.net.named_variables()
        missing, extra = sorted(set(variables) - set(weights)), sorted(set(weights) - set(variables))
        if missing or extra:
            raise ValueError(f"the weights do not fit the network: missing {missing}, unexpected {extra}")
        for key, var in variables.items():
            if tuple(np.shape(weights[key])) != tuple(var.shape):
                raise ValueError(f"weight {key!r} has shape {tuple(np.shape(weights[key]))}, the network expects "
                                 f"{tuple(var.shape)}")
        for key, var in variables.items():
            var.assign(weights[key])

    def _require_network(self, what: str) -> None:
        if getattr(self, "net", None) is None:
            raise RuntimeError(f"{self.name}.{what}: the model has no network yet; call fit(train) or "
                               "build(item_index) first")

    # ------------------------------------------------------------------ save / load

    def save(self, folder: str | Path, movies: pd.DataFrame | None = None) -> Path:
        """Write the model to ``folder`` atomically, in the format of :mod:`sbrlib.models.neural`.

        Args:
            folder: destination (replaced as a whole).
            movies: ``ItemId, Title`` frame; its titles are kept in ``self.titles`` and saved.

        Returns:
            ``folder`` as a Path.
        """
        self._require_network("save")
        if movies is not None:
            self.titles = movies.drop_duplicates(ITEM).set_index(ITEM)["Title"]
        return write_saved(folder, family=self.family, name=self.name, config=self.config.to_dict(),
                           item_index=self.item_index, weights=self.get_weights(), history=self.history,
                           provenance=self.provenance, titles=self.titles, class_name=type(self).__name__)

    @classmethod
    def load(cls, folder: str | Path) -> Self:
        """Load a model written by :meth:`save` (scores identical to the saved model's).

        Raises:
            ModelFileError: a missing, truncated, altered or malformed file, another format
                version or another model family; the message names the file and what to do.
        """
        return cls.from_saved(read_saved(folder, family=cls.family))

    @classmethod
    def from_saved(cls, saved: SavedModel) -> Self:
        """The model held by a :class:`SavedModel` (read with weights)."""
        advice = _advice(saved.family)
        config_path = saved.folder / "config.json"
        known = {f.name for f in dataclasses.fields(cls.config_class)}
        unknown = sorted(set(saved.config) - known)
        if unknown:
            raise ModelFileError(f"{config_path}: settings this version does not know: {', '.join(unknown)} "
                                 f"(saved by sbrlib {saved.manifest.get('sbrlib_version', '?')}); {advice}")
        try:
            config = cls.config_class(**saved.config)
        except (TypeError, ValueError) as exc:
            raise ModelFileError(f"{config_path}: not a valid {cls.config_class.__name__} ({exc}); {advice}") from None
        model = cls(config, name=saved.name)
        model.build(saved.item_index)
        if saved.weights is None:
            raise ValueError("from_saved needs a SavedModel read with weights=True")
        try:
            model.set_weights(saved.weights)
        except ValueError as exc:
            raise ModelFileError(f"{saved.folder / 'weights.npz'} does not fit config.json and items.parquet ({exc}); "
                                 f"{advice}") from None
        model.history = saved.history
        model.provenance = saved.provenance
        model.titles = saved.titles
        if isinstance(saved.provenance.get("training"), dict):
            try:
                model.training_facts = TrainingFacts.from_dict(saved.provenance["training"])
            except (TypeError, ValueError, KeyError) as exc:
                raise ModelFileError(f"{saved.folder / 'provenance.json'}: unreadable training facts ({exc}); "
                                     f"{advice}") from None
        return model
