"""sbrlib: session-based recommendation on MovieLens.

Modules: ``columns`` (names), ``paths`` (folders), ``data`` (MovieLens
catalogue, download, verification, parsing, loaders; ``data.synthetic``: ML-format generator), ``preprocess``
(sessions, splits, artifacts), ``batching`` (session-parallel iterator),
``models`` (baselines, GRU4Rec), ``metrics``/``evaluation`` (full-ranking
next-item evaluation), ``plots`` and ``reporting``.
"""

from sbrlib.core.errors import DataError

__all__ = ["DataError"]
__version__ = "0.1.0"
