"""HTML report of a run folder: pages for every executed notebook, index with table, findings and figures."""

from __future__ import annotations

import base64
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import nbformat
import pandas as pd
import pytest

from sbrlib.pipeline import html_report as report


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.srcs, self.ids = [], [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])
        if tag == "img" and attrs.get("src"):
            self.srcs.append(attrs["src"])


def parse(path: Path) -> _Links:
    p = _Links()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def check_report(folder: Path) -> dict[str, _Links]:
    """Every local link of every page resolves (file and fragment); every image is embedded."""
    pages = {p.name: parse(p) for p in folder.glob("*.html")}
    assert "index.html" in pages and "glossary.html" in pages
    for name, page in pages.items():
        for href in page.hrefs:
            if href.startswith(("http://", "https://", "mailto:", "data:")):
                continue
            target, _, fragment = href.partition("#")
            target = target or name
            assert target in pages, f"{name}: link to missing {href}"
            if fragment:
                assert fragment in pages[target].ids, f"{name}: {href}: no id {fragment!r} in {target}"
        for src in page.srcs:
            assert src.startswith("data:image/"), f"{name}: image not embedded: {src[:60]}"
    return pages


def png_base64() -> str:
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def fake_run(tmp_path: Path) -> Path:
    """A run folder with one executed notebook (findings + key figure) and a results table."""
    run = tmp_path / "runs" / "20250101-000000"
    (run / "notebooks").mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    intro = nbformat.v4.new_markdown_cell("# 05 · Evaluation\nSee [MRR@K](../docs/GLOSSARY.md#mrrk) and the "
                                          "[README](../README.md#tuning).")
    fig = nbformat.v4.new_code_cell("plot()", metadata={"tags": ["key-figure"]}, outputs=[
        nbformat.v4.new_output("display_data", data={"image/png": png_base64(), "text/plain": "<Figure>"})])
    found = nbformat.v4.new_code_cell("Markdown(...)", metadata={"tags": ["findings"]}, outputs=[
        nbformat.v4.new_output("execute_result", data={
            "text/markdown": "## What we found\n\n* **SR** is highest ([Recall@K](../docs/GLOSSARY.md#recallk)).",
            "text/plain": "<Markdown>"}, execution_count=2)])
    nb.cells = [intro, fig, found]
    nbformat.write(nb, run / "notebooks" / "05_evaluation.ipynb")
    (run / "results" / "ml-100k-gap").mkdir(parents=True)
    pd.DataFrame({"recall@20": ["0.2721 (0.2440–0.3020)"], "mrr@20": ["0.0646 (0.0565–0.0737)"]},
                 index=pd.Index(["GRU4Rec"], name="model")).to_csv(run / "results" / "ml-100k-gap" / "metrics_display.csv")
    (run / "results" / "ml-100k-gap" / "metrics.json").write_text(json.dumps({"tie_policy": "conservative",
                                                                               "exclude_seen": "user"}))
    (run / "README.md").write_text("# sbrlib\n\n## Tuning\n\nSee the [glossary](docs/GLOSSARY.md).\n")
    return run


def test_report_of_a_fake_run_links_resolve_and_images_are_embedded(tmp_path):
    run = fake_run(tmp_path)
    index = report.build(run)
    assert index == run / "report" / "index.html"
    pages = check_report(index.parent)
    html = index.read_text()
    assert "0.2721 (0.2440–0.3020)" in html and "GRU4Rec" in html  # the table
    assert "What we found" in html and "data:image/png;base64," in html
    assert any(s.startswith("data:image/png") for s in pages["05_evaluation.html"].srcs)
    assert "glossary.html#mrrk" in pages["05_evaluation.html"].hrefs
    # the README link opens the rendered README of the run, not the raw Markdown (reader 18, 4.7)
    assert "readme.html#tuning" in pages["05_evaluation.html"].hrefs and "tuning" in pages["readme.html"].ids
    assert "glossary.html" in pages["readme.html"].hrefs


def test_index_figures_carry_alt_text_and_the_notebooks_explanation(tmp_path):
    run = fake_run(tmp_path)
    html = report.build(run).read_text()
    assert 'alt="figure: 05 · Evaluation"' in html and 'alt="figure"' not in html
    assert "<figcaption>" in html and 'glossary.html#mrrk' in html.split("<figcaption>")[1]
    assert report.figure_caption("Points with [intervals](x.md#a). More text.") == (
        "figure: Points with intervals", "Points with [intervals](x.md#a). More text.")
    assert report.figure_caption("## How the `searches` went\nEach point is a trial.") == (
        "figure: How the searches went", "Each point is a trial.")
    assert report.figure_caption("## Train on `train_tr`")[0] == "figure: Train on train_tr"
    # two images of one cell get alt texts of their own (reader 12: two different figures, one alt text)
    nb = {"cells": [{"cell_type": "markdown", "source": "## By length and by position"},
                    {"cell_type": "code", "metadata": {"tags": ["key-figure"]},
                     "outputs": [{"data": {"image/png": "AAAA"}}, {"data": {"image/png": "BBBB"}}]}]}
    two = report._figures_html(nb)
    assert 'alt="figure: By length and by position (figure 1 of 2)"' in two
    assert 'alt="figure: By length and by position (figure 2 of 2)"' in two
    # an image shown with plots.show carries its figure's title, which names it (reader 20: which model?)
    nb["cells"][1]["outputs"][1]["metadata"] = {"image/png": {"alt": "SASRec: search history"}}
    named = report._figures_html(nb)
    assert 'alt="figure: SASRec: search history"' in named and "(figure 1 of 2)" in named


def test_notebook_pages_give_every_image_its_alt_text(tmp_path):
    """Reader 21: on the notebook pages every image had nbconvert's "No description has been provided"."""
    run = fake_run(tmp_path)
    path = run / "notebooks" / "05_evaluation.ipynb"
    nb = nbformat.read(path, as_version=4)
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [1, 0])  # another image than the key figure's (images are matched by their bytes)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    titled = nbformat.v4.new_code_cell("show()", outputs=[nbformat.v4.new_output(
        "display_data", data={"image/png": base64.b64encode(buf.getvalue()).decode(), "text/plain": "<Figure>"},
        metadata={"image/png": {"alt": "SR: search history"}})])
    nb.cells.append(titled)
    nbformat.write(nb, path)
    page = report.render_notebook(path)
    alts = re.findall(r'<img[^>]*\balt="([^"]*)"', page)
    assert alts == ["figure: 05 · Evaluation", "figure: SR: search history"]
    assert "No description has been provided" not in page


def test_show_displays_a_figure_with_its_title_as_alt_text(monkeypatch):
    import IPython.display

    from sbrlib.notebook import plots

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, metadata=None: shown.append((obj, metadata)))
    fig, ax = plt.subplots()
    ax.set_title("GRU4Rec: search\nhistory")
    plots.show(fig)
    assert shown == [(fig, {"image/png": {"alt": "GRU4Rec: search history"}})] and not plt.fignum_exists(fig.number)
    untitled, _ = plt.subplots()
    plots.show(untitled)
    assert shown[-1] == (untitled, None)


def test_cli_picks_the_latest_run_and_fails_clearly_without_notebooks(tmp_path, capsys, monkeypatch):
    run = fake_run(tmp_path)
    monkeypatch.setenv("SBR_PROJECT_DIR", str(tmp_path))
    assert report.latest_run(tmp_path / "runs") == run
    assert report.main([str(run)]) == 0 and "index.html" in capsys.readouterr().out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert report.main([str(empty)]) == 2
    assert "no executed notebooks" in capsys.readouterr().err


def test_slugs_match_github_anchors():
    assert report.slug("Recall@K") == "recallk"
    assert report.slug("Tie policies") == "tie-policies"
    assert report.slug("Train, valid, test") == "train-valid-test"
    assert report.slug("S-Pop") == "s-pop"


def test_every_glossary_link_in_the_notebooks_exists():
    import re

    root = Path(__file__).resolve().parents[1]
    glossary = report.markdown_to_html((root / "docs" / "GLOSSARY.md").read_text())
    ids = set(re.findall(r'id="([^"]+)"', glossary))
    sources = [c for nb in (root / "notebooks").glob("*.ipynb")
               for c in json.loads(nb.read_text())["cells"]] + [{"source": (root / "sbrlib" / "notebook" / "findings.py").read_text()}]
    anchors = {a for c in sources for a in re.findall(r"GLOSSARY\.md#([\w-]+)", "".join(c["source"]))}
    anchors |= {f"{k}k" for k in ("recall", "mrr", "ndcg", "coverage", "popularity")}  # findings._anchor
    assert anchors and anchors <= ids, anchors - ids


def test_build_needs_notebooks(tmp_path):
    with pytest.raises(FileNotFoundError, match="run-all"):
        report.build(tmp_path)


def test_every_notebook_that_draws_a_figure_tags_a_key_figure_for_the_index():
    """The report's index shows the cells tagged ``key-figure``: each notebook that draws (``plt.show()``)
    must tag at least one, so its key figure is on the index (03's search history, 04's training curve ...);
    ``plots.show(fig)`` draws too."""
    folder = Path(__file__).resolve().parents[1] / "notebooks"
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
        drawing = [c for c in cells if "plt.show()" in (src := "".join(c["source"])) or "plots.show(" in src]
        tagged = [c for c in drawing if "key-figure" in c.get("metadata", {}).get("tags", [])]
        assert not drawing or tagged, f"{path.name}: draws figures but tags none 'key-figure' for the report index"


def test_index_captions_drop_what_points_at_a_place_in_the_notebook():
    """On the index a figure stands without the cells around it: "the lines below", "the columns above"
    point nowhere, so the parenthesis (else the sentence) that says it is left out; comparisons stay."""
    caption = ("Points with intervals: do not read much into the order (the paired columns above are the sharper "
               "test). The lines below name the table. Lengths above `CAP` stand above the curve; below 3 too.")
    assert report.index_caption(caption) == ("Points with intervals: do not read much into the order. Lengths above "
                                             "`CAP` stand above the curve; below 3 too.")
    assert report.index_caption("Below, the curves.") == ""
    assert report.index_caption("Each point is a trial.") == "Each point is a trial."


def test_a_cell_of_several_figures_gets_its_caption_once():
    """03's search histories (one per model, one cell): one figure, five images, one caption."""
    png = {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo="}, "metadata": {}}
    nb = {"cells": [{"cell_type": "markdown", "source": "## How the searches went\nEach point is a trial."},
                    {"cell_type": "code", "metadata": {"tags": ["key-figure"]}, "source": "", "outputs": [png] * 5}]}
    html = report._figures_html(nb, "03_tuning")
    assert html.count("<img ") == 5 and html.count("<figure>") == 1
    assert html.count("<figcaption>") == 1 and html.count("Each point is a trial.") == 1


def test_index_explains_its_table_titles_pages_and_findings_point_to_the_notebook(tmp_path):
    """Reader report 5, 1.8 / 2.1 / 4.13: the final table has a caption with glossary links, each notebook page
    has its notebook's title, and findings that say "printed above" point at the notebook page."""
    run = fake_run(tmp_path)
    path = run / "notebooks" / "05_evaluation.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].outputs[0]["data"]["text/markdown"] += "\n* 2 stopped early (each trial's rule is printed above)."
    nbformat.write(nb, path)
    index = report.build(run)
    pages = check_report(index.parent)
    html = index.read_text()
    for anchor in ("bootstrap-interval", "recallk", "paired-comparison", "tie-policies", "exclude_seen"):
        assert f"glossary.html#{anchor}" in pages["index.html"].hrefs
    assert "fit_seconds" in html and "paired interval excludes 0" in html
    assert "printed above" not in html and 'printed in <a href="05_evaluation.html">the notebook 05_evaluation</a>' in html
    page = (index.parent / "05_evaluation.html").read_text()
    assert "<title>05 · Evaluation</title>" in page
    assert report.index_findings("the lines shown below", "") == "the lines shown in the notebook"
