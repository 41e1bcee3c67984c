"""The data layer: MovieLens releases and the synthetic presets, from files to frames.

Modules (lower ones never import higher ones):

* :mod:`~sbrlib.data.catalogue` – the release catalogue: :class:`DatasetSpec`, :data:`SPECS`, :func:`get_spec`;
* :mod:`~sbrlib.data.integrity` – hashes and their cache, :func:`verify`;
* :mod:`~sbrlib.data.parsing` – fast parsers with line-precise errors;
* :mod:`~sbrlib.data.acquisition` – :func:`locate` (``data_dir`` / ``$SBR_DATA_DIR`` / ``data/raw``),
  :func:`download_dataset`, generation of the synthetic presets;
* :mod:`~sbrlib.data.loaders` – :func:`load_ratings`, :func:`load_movies`, :func:`load_users`,
  :func:`describe_source`;
* :mod:`~sbrlib.data.synthetic` – deterministic generators in the release formats.

The public names are re-exported here: ``from sbrlib.data import load_ratings``.
"""

from sbrlib.data.acquisition import download_dataset, locate
from sbrlib.data.catalogue import SPECS, DatasetSpec, get_spec
from sbrlib.data.integrity import file_hashes, hash_seconds, verify
from sbrlib.data.loaders import describe_source, load_movies, load_ratings, load_users
from sbrlib.data.parsing import exact_duplicates

__all__ = [
    "SPECS", "DatasetSpec", "describe_source", "download_dataset", "exact_duplicates", "file_hashes", "get_spec",
    "hash_seconds", "load_movies", "load_ratings", "load_users", "locate", "verify",
]
