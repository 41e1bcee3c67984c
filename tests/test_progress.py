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


def test_text_bar_postfix_waits_for_the_next_refresh(monkeypatch):
    """A per-batch ``set_postfix`` must not write a line per mini-batch into an executed notebook."""
    monkeypatch.setenv("SBR_PROGRESS", "text")
    out = io.StringIO()
    with progress.tqdm(total=1000, desc="epoch 1", file=out, disable=False, mininterval=3600) as bar:
        for _ in range(100):
            bar.update(10)
            bar.set_postfix(loss="0.5")
            bar.set_postfix_str("x")
        writes = out.getvalue().count("\r")
    assert writes <= 3, out.getvalue()  # the first draw and the final one, not one per batch
    assert "1000/1000" in out.getvalue()


def test_text_bar_prints_its_final_state_once(monkeypatch):
    """A bar whose last update already printed its final count and postfix does not print that line again when
    it closes (03's one-trial bars showed each final line twice); a postfix set after the last print still is."""
    monkeypatch.setenv("SBR_PROGRESS", "text")
    out = io.StringIO()
    with progress.tqdm(total=1, desc="one trial", file=out, disable=False, mininterval=0) as bar:
        bar.set_postfix(best="0.0615")
        bar.update(1)
    assert out.getvalue().count("1/1") == 1, out.getvalue()
    later = io.StringIO()
    with progress.tqdm(total=2, desc="epochs", file=later, disable=False, mininterval=0) as bar:
        bar.update(2)
        bar.set_postfix(loss="0.5")  # after the last print: the closing line shows it
    assert later.getvalue().count("2/2") == 2 and "loss=0.5" in later.getvalue()
