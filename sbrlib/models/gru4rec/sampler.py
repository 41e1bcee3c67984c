"""Shared negative samples drawn in bulk ∝ support ** alpha (as the official GRU4Rec)."""

from __future__ import annotations

import numpy as np

_DRAW_BLOCK = 1 << 20  # samples drawn per numpy call when refilling the cache


class NegativeSampler:
    """Shared negative items drawn ∝ support ** alpha, in bulk (``cache_size`` at a time).

    Args:
        support: (n_items,) training counts.
        alpha: exponent of the sampling distribution.
        n_sample: negatives per step.
        cache_size: samples drawn per refill.
        seed: random seed.
    """

    def __init__(self, support: np.ndarray, alpha: float, n_sample: int, cache_size: int, seed: int) -> None:
        weights = np.asarray(support, dtype=np.float64) ** alpha
        self.cdf = np.cumsum(weights / weights.sum())
        self.n_sample = n_sample
        self.steps_per_refill = max(1, cache_size // max(n_sample, 1))
        self.rng = np.random.default_rng(seed)
        self._cache = np.zeros((0, n_sample), np.int32)
        self._pos = 0

    def take(self, steps: int) -> np.ndarray:
        """Negatives for ``steps`` steps, shape (steps, n_sample), int32."""
        out = []
        while steps > 0:
            if self._pos >= len(self._cache):
                rows = max(self.steps_per_refill, steps)
                self._cache = np.empty((rows, self.n_sample), np.int32)
                flat = self._cache.reshape(-1)
                for lo in range(0, flat.size, _DRAW_BLOCK):  # in blocks: no 10M-float temporaries
                    hi = min(lo + _DRAW_BLOCK, flat.size)
                    draws = np.searchsorted(self.cdf, self.rng.random(hi - lo) * self.cdf[-1])
                    flat[lo:hi] = np.minimum(draws, len(self.cdf) - 1)
                self._pos = 0
            n = min(steps, len(self._cache) - self._pos)
            out.append(self._cache[self._pos: self._pos + n])
            self._pos += n
            steps -= n
        return np.concatenate(out) if out else np.zeros((0, self.n_sample), np.int32)

