"""Timing and peak-memory helpers for the benchmark scripts."""

from __future__ import annotations

import gc
import resource
import time
import tracemalloc
from collections.abc import Callable
from typing import Any


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux ``ru_maxrss`` is in KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(fn: Callable[[], Any], repeat: int = 3, trace_memory: bool = True) -> dict[str, Any]:
    """Best wall time of ``repeat`` runs, then one traced run for peak Python/numpy memory.

    Returns:
        ``{"seconds", "peak_mb" (tracemalloc peak of allocations during fn), "rss_mb" (process max RSS),
        "result"}``.
    """
    best = float("inf")
    result = None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    peak = float("nan")
    if trace_memory:
        gc.collect()
        tracemalloc.start()
        fn()
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return {"seconds": best, "peak_mb": peak, "rss_mb": peak_rss_mb(), "result": result}


class StepTimer:
    """Wraps a model's ``step`` to add up the time spent inside it (model vs evaluator cost)."""

    def __init__(self, model) -> None:
        self.model, self.seconds = model, 0.0
        self._step = model.step

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return self._step(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        model.step = timed

    def restore(self) -> None:
        """Put the model's own ``step`` back."""
        del self.model.step
