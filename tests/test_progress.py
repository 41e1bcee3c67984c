"""Progress bars: widgets interactively, plain text (kept, rarely refreshed) in headless runs."""

from __future__ import annotations

import io

from sbrlib.core import progress


def test_text_bars_in_headless_runs_are_kept_and_say_how_far_they_got(monkeypatch):
    from tqdm.std import tqdm as text_bar

    monkeypatch.setenv("SBR_PROGRESS", "text")
    out = io.StringIO()
    with progress.tqdm(total=3, desc="epoch 1", leave=False, file=out, disable=False) as bar:
        assert isinstance(bar, text_bar) and bar.leave and bar.mininterval == progress.TEXT_INTERVAL_S
        bar.update(3)
    assert "epoch 1" in out.getvalue() and "3/3" in out.getvalue()


def test_disabled_and_interactive_bars_are_tqdm_auto(monkeypatch):
    from tqdm.auto import tqdm as auto_bar

    monkeypatch.delenv("SBR_PROGRESS", raising=False)
    assert isinstance(progress.tqdm(total=1, disable=True), auto_bar)
    monkeypatch.setenv("SBR_PROGRESS", "text")
    quiet = progress.tqdm(total=1, disable=True, leave=False)  # tests and quiet callers stay quiet
    assert quiet.disable and not quiet.leave
