"""Canonical column names, defined once and used everywhere."""

USER = "UserId"
ITEM = "ItemId"
RATING = "Rating"
TIME = "Time"
SESSION = "SessionId"
#: Dense item index (0..n_items-1) built on training data only.
ITEM_IDX = "ItemIdx"

RATING_COLUMNS = (USER, ITEM, RATING, TIME)
