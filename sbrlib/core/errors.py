"""Exceptions raised by sbrlib with messages written for users."""


class UserFacingError(Exception):
    """An error whose message says everything: in Jupyter it is shown without a traceback."""

    def _render_traceback_(self) -> list[str]:  # IPython shows these lines instead of the traceback
        return [f"{type(self).__name__}: {line}" if i == 0 else f"    {line}"
                for i, line in enumerate(str(self).splitlines() or [""])]


class DataError(UserFacingError):
    """Bad or missing input data; the message says what, where and how to fix it."""


class ModelFileError(UserFacingError):
    """A saved model that cannot be loaded (missing, truncated, malformed, altered or from another
    format version); the message names the file and what to do (retrain or restore it)."""


class DataWarning(UserWarning):
    """Data that loads but differs from the known release (counts, hashes)."""
