"""Exceptions raised by sbrlib with messages written for users."""


class DataError(Exception):
    """Bad or missing input data; the message says what, where and how to fix it."""


class DataWarning(UserWarning):
    """Data that loads but differs from the known release (counts, hashes)."""
