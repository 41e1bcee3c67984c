"""An HTML report of one run: every executed notebook as a page, and an index with the results.

A run folder (written by ``make run-all``) holds ``notebooks/*.ipynb`` (executed copies, with
outputs) and ``results/<split>/*.json|csv``. :func:`build` writes ``<run>/report/``:

* ``<notebook>.html`` for each executed notebook (nbconvert, images embedded as ``data:`` URIs);
* ``glossary.html`` (``docs/GLOSSARY.md``) and ``readme.html`` (the run's ``README.md``), so the notebooks'
  links to them keep working and open rendered pages;
* ``index.html``: links to every page, the final results table of each split, the
  "What we found" text of each notebook (cells tagged ``findings``) and its key figures (cells
  tagged ``key-figure``), all self-contained.

Usage::

    python -m sbrlib.pipeline.html_report outputs/runs/<run-id>     # or no argument: the last completed run
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import re
import sys
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from sbrlib.core import paths
from sbrlib.core.fileio import atomic_dir

log = logging.getLogger(__name__)

GLOSSARY_LINK = re.compile(r"""(href=["'])(?:\.\./)?docs/GLOSSARY\.md(#[^"']*)?(["'])""")
README_LINK = re.compile(r"""(href=["'])(?:\.\./)?README\.md(#[^"']*)?(["'])""")
_HEADING = re.compile(r"<h([1-6])>(.*?)</h\1>", re.S)
_TAG = re.compile(r"<[^>]+>")

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; line-height: 1.5; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
figure { margin: 1em 0; } figcaption { font-size: 0.9em; color: #333; }
code { background: #f4f4f4; padding: 0 0.2em; }
nav a { margin-right: 1em; }
.finding { background: #f7faff; border-left: 4px solid #4a7fd0; padding: 0.2em 1em; margin: 1em 0; }
"""


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = html.unescape(_TAG.sub("", heading)).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def markdown_to_html(markdown: str) -> str:
    """Markdown to HTML with GitHub-style ids on headings and glossary links pointing at ``glossary.html``."""
    import mistune

    body = mistune.html(markdown)
    body = _HEADING.sub(lambda m: f'<h{m.group(1)} id="{slug(m.group(2))}">{m.group(2)}</h{m.group(1)}>', body)
    return fix_links(body)


def fix_links(body: str) -> str:
    """Point links to ``../docs/GLOSSARY.md#x`` and ``../README.md#x`` at the report's own rendered
    ``glossary.html#x`` and ``readme.html#x`` (a link to the Markdown file would open it raw)."""
    body = GLOSSARY_LINK.sub(lambda m: f"{m.group(1)}glossary.html{m.group(2) or ''}{m.group(3)}", body)
    return README_LINK.sub(lambda m: f"{m.group(1)}readme.html{m.group(2) or ''}{m.group(3)}", body)


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n")


def render_notebook(path: Path) -> str:
    """An executed notebook as one self-contained HTML page (images embedded)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(path, as_version=4)
    title = notebook_title(nb, path.stem)
    nb.metadata["title"] = title  # the page's <title> (nbconvert's default is "Notebook" for every page)
    exporter = HTMLExporter(template_name="lab")
    level = exporter.log.level
    exporter.log.setLevel(logging.ERROR)  # not "Alternative text is missing on N image(s)" per notebook
    try:
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    finally:
        exporter.log.setLevel(level)
    return fix_links(_with_alt_texts(body, image_alts(nb)))


def notebook_title(nb, fallback: str) -> str:
    """The text of a notebook's first Markdown heading (``"03 · Tuning: which hyperparameters ..."``), links
    and markup dropped; ``fallback`` without one."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        for line in _joined(cell.get("source", "")).splitlines():
            if line.startswith("#"):
                return _plain(line.lstrip("#").strip()) or fallback
    return fallback


_BODY = re.compile(r"<body[^>]*>")


def with_back_link(page: str, stem: str) -> str:
    """``page`` with a line at the top of its body linking back to the index (and to this notebook's
    section there)."""
    nav = (f'<nav style="padding: 0.5em 1em"><a href="index.html">report index</a> '
           f'<a href="index.html#{stem}">what we found in {html.escape(stem)}</a> '
           f'<a href="glossary.html">glossary</a></nav>')
    m = _BODY.search(page)
    return page[:m.end()] + nav + page[m.end():] if m else nav + page


def _tagged_outputs(nb: dict, tag: str) -> list[dict]:
    return [o for c in nb.get("cells", []) if tag in c.get("metadata", {}).get("tags", [])
            for o in c.get("outputs", [])]


def _joined(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


# "printed above", "shown below": output of the notebook that the index does not show
_PRINTED_THERE = re.compile(r"\b(printed|shown|listed|plotted) (above|below)\b")


def index_findings(markdown: str, stem: str = "") -> str:
    """A notebook's findings for the report index: a reference to output "printed above/below" in the notebook
    (not on the index) points at the notebook's page instead."""
    where = f"in [the notebook {stem}]({stem}.html)" if stem else "in the notebook"
    return _PRINTED_THERE.sub(lambda m: f"{m.group(1)} {where}", markdown)


def _findings_html(nb: dict, stem: str = "") -> str:
    parts = []
    for out in _tagged_outputs(nb, "findings"):
        data = out.get("data", {})
        if "text/markdown" in data:
            text = index_findings(_joined(data["text/markdown"]), stem)
            parts.append(f'<div class="finding">{markdown_to_html(text)}</div>')
    return "\n".join(parts)


_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def _plain(markdown: str) -> str:
    """Markdown reduced to plain text for an ``alt`` attribute: link texts kept, markup dropped."""
    text = _MD_LINK.sub(r"\1", markdown)
    text = re.sub(r"[`*#$\\]", "", text)  # underscores stay: they are in names such as train_tr
    return " ".join(text.split())


def figure_caption(markdown: str) -> tuple[str, str]:
    """``(alt text, caption Markdown)`` of a figure from the Markdown cell that introduces it in its notebook:
    the alt text is that cell's heading (or, without one, its first sentence), the caption its text below the
    heading (the notebook's own explanation of the figure)."""
    lines = markdown.strip().splitlines()
    heading = next((line.lstrip("#").strip() for line in lines if line.startswith("#")), "")
    body = "\n".join(line for line in lines if not line.startswith("#")).strip()
    first = _plain(body).split(". ")[0] if body else ""
    alt = _plain(heading) or (first if len(first) <= 160 else first[:157] + "...")
    return (f"figure: {alt}" if alt else "figure"), body


# "above"/"below" as a place in the notebook ("the lines below name", "the columns above are"), not as a
# comparison ("above the curve", "above `CAP`", "below 3"): such text points nowhere on the index
_POSITIONAL = re.compile(r"\b(?i:above|below)\b(?!\s+(?:(?:the|a|an|its|their|each|this|that|zero|one)\b|[\d`$]"
                         r"|[A-Z_]{2,}\b))")
_PARENTHESIS = re.compile(r"\s*\([^()]*\)")


def index_caption(caption: str) -> str:
    """A figure's caption for the report index: its notebook text without what refers to a place in the
    notebook (a parenthesis, else the sentence, that says "the lines below", "the columns above", ...), which
    would point at nothing on the index. Empty when every sentence does."""
    text = _PARENTHESIS.sub(lambda m: "" if _POSITIONAL.search(m.group(0)) else m.group(0), caption)
    pieces = re.split(r"(?<=[.!?])(\s+)", text)  # sentences and the spaces after them
    kept = "".join(p for i, p in enumerate(pieces)
                   if not (i % 2 == 0 and _POSITIONAL.search(p)) and not (i % 2 and _POSITIONAL.search(pieces[i - 1])))
    return kept.strip()


def _cell_images(cell: dict, alt: str) -> tuple[list[str], list[str]]:
    """``(base64 PNGs, alt texts)`` of a code cell's images: an image displayed with its title
    (:func:`sbrlib.notebook.plots.show`) is named by it, else by ``alt`` (its heading), numbered when the cell
    has several."""
    outs = [out for out in cell.get("outputs", []) if out.get("data", {}).get("image/png")]
    pngs = [_joined(out["data"]["image/png"]).strip() for out in outs]
    alts = [f"figure: {titled}" if (titled := (out.get("metadata", {}).get("image/png") or {}).get("alt")) else
            alt if len(pngs) == 1 else f"{alt} (figure {i} of {len(pngs)})" for i, out in enumerate(outs, start=1)]
    return pngs, alts


def image_alts(nb: dict) -> dict[str, str]:
    """Base64 PNG -> alt text for every image of a notebook (as :func:`_cell_images` names them), for its page."""
    found, intro = {}, ""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            intro = _joined(cell.get("source", ""))
        elif cell.get("cell_type") == "code":
            found.update(zip(*_cell_images(cell, figure_caption(intro)[0] if intro else "figure"), strict=True))
    return found


def _with_alt_texts(body: str, alts: Mapping[str, str]) -> str:
    """Give each embedded PNG of a rendered page its alt text (nbconvert writes a placeholder)."""
    def fix(m: re.Match) -> str:
        tag = m.group(0)
        data = re.search(r'src="data:image/png;base64,([^"]*)"', tag)
        alt = alts.get(data.group(1).strip()) if data else None
        if not alt:
            return tag
        tag = re.sub(r'\salt="[^"]*"', "", tag)
        return tag.replace("<img", f'<img alt="{html.escape(alt, quote=True)}"', 1)

    return re.sub(r"<img\b[^>]*>", fix, body)


def _figures_html(nb: dict, stem: str = "") -> str:
    """The key figures of a notebook, each with alt text and, as caption, the Markdown cell that introduces it;
    the images of one cell form one figure with that caption once."""
    parts, intro = [], ""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            intro = _joined(cell.get("source", ""))
            continue
        if "key-figure" not in cell.get("metadata", {}).get("tags", []):
            continue
        alt, caption = figure_caption(intro)
        caption = index_caption(caption)
        more = f' <a href="{html.escape(stem)}.html">(the notebook, with the code and outputs around it)</a>' if stem else ""
        # the images of one cell (e.g. one search history per model) form one figure with one caption
        pngs, alts = _cell_images(cell, alt)
        images = [f'<img alt="{html.escape(a, quote=True)}" src="data:image/png;base64,{_joined(png).strip()}">'
                  for a, png in zip(alts, pngs, strict=True)]
        if images:
            parts.append("<figure>" + "\n".join(images)
                         + (f"<figcaption>{markdown_to_html(caption)}{more}</figcaption>" if caption or more else "")
                         + "</figure>")
    return "\n".join(parts)


_G = "glossary.html"
RESULTS_CAPTION = (
    "<p>Notebook 05's test results, one row per model. Each cell: the metric and its 95% "
    f'<a href="{_G}#bootstrap-interval">bootstrap interval</a>; '
    f'<a href="{_G}#recallk">recall@20</a>, <a href="{_G}#mrrk">mrr@20</a>, <a href="{_G}#ndcgk">ndcg@20</a>, '
    f'<a href="{_G}#coveragek">coverage@20</a>, <a href="{_G}#popularityk">popularity@20</a> (K = 20 recommendations). '
    "Columns “… vs <em>model</em>”: the "
    f'<a href="{_G}#paired-comparison">paired difference</a> to the best model on that metric, with its paired 95% '
    "interval; <code>*</code> marks a difference whose paired interval excludes 0 (without it the two are not "
    "distinguishable on this test set). <code>fit_seconds</code>: wall-clock seconds to fit the model (GRU4Rec: its "
    "recorded training time); <code>eval_seconds</code>: seconds to score the whole test set. "
    f'<a href="{_G}#tie-policies">Tie policy</a> and <a href="{_G}#exclude_seen">seen items excluded</a>: '
    "the settings above the table. The notebook 05 section below says how to read it.</p>")
"""The caption of the index's final table: what its columns mean, with glossary links."""


def _results_tables(run: Path) -> str:
    parts = []
    for folder in sorted(p for p in (run / "results").glob("*") if p.is_dir()):
        for name, title in (("metrics_display", "Final table (95% intervals; * = differs from the best)"),
                            ("metrics", "Final table")):
            csv = folder / f"{name}.csv"
            if csv.is_file():
                table = pd.read_csv(csv, index_col=0, dtype=str) if name == "metrics_display" else \
                    pd.read_csv(csv, index_col=0)
                settings = ""
                meta = folder / "metrics.json"
                if meta.is_file():
                    info = json.loads(meta.read_text())
                    settings = (f"<p>tie policy <code>{html.escape(str(info.get('tie_policy')))}</code>, seen items "
                                f"excluded: <code>{html.escape(str(info.get('exclude_seen')))}</code></p>")
                parts.append(f"<h3>{html.escape(folder.name)}: {title}</h3>{settings}"
                             + (RESULTS_CAPTION if name == "metrics_display" else "")
                             + table.to_html(float_format=lambda v: f"{v:.4f}", border=0, na_rep="", escape=True))
                break
    return "\n".join(parts) or "<p>No results table in this run.</p>"


def glossary_path() -> Path:
    """``docs/GLOSSARY.md`` of the project."""
    for root in (paths.project_dir(), Path(__file__).resolve().parents[2]):
        if (root / "docs" / "GLOSSARY.md").is_file():
            return root / "docs" / "GLOSSARY.md"
    raise FileNotFoundError("docs/GLOSSARY.md not found in the project")


def notebooks_of(run: Path) -> list[Path]:
    """Executed notebooks of a run, in order (``<run>/notebooks/NN_*.ipynb``, else ``<run>/NN_*.ipynb``)."""
    folder = run / "notebooks" if (run / "notebooks").is_dir() else run
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def build(run_folder: str | Path, out: str | Path | None = None) -> Path:
    """Render the report of ``run_folder`` into ``out`` (default ``<run>/report``).

    Returns:
        The path of ``index.html``.

    Raises:
        FileNotFoundError: the folder has no executed notebooks.
    """
    run = Path(run_folder).resolve()
    notebooks = notebooks_of(run)
    if not notebooks:
        raise FileNotFoundError(f"no executed notebooks (NN_*.ipynb) in {run}/notebooks or {run}: "
                                "run `make run-all` first, or pass the folder of a run")
    out = Path(out) if out else run / "report"
    nav = " ".join(f'<a href="{p.stem}.html">{html.escape(p.stem)}</a>' for p in notebooks)
    nav = f'<nav>{nav} <a href="glossary.html">glossary</a></nav>'
    sections = []
    with atomic_dir(out) as tmp:
        for path in notebooks:
            log.info("rendering %s", path.name)
            (tmp / f"{path.stem}.html").write_text(with_back_link(render_notebook(path), path.stem), encoding="utf-8")
            nb = json.loads(path.read_text(encoding="utf-8"))
            found, figures = _findings_html(nb, path.stem), _figures_html(nb, path.stem)
            if not found:
                found = ('<p class="missing">This notebook has no <em>What we found</em> output (no executed cell '
                         'tagged <code>findings</code>).</p>')
            sections.append(f'<h2 id="{path.stem}"><a href="{path.stem}.html">{html.escape(path.stem)}</a></h2>'
                            + found + figures)
        readme = run / "README.md" if (run / "README.md").is_file() else paths.project_dir() / "README.md"
        if readme.is_file():  # the README the notebooks link to, as this run's copy has it
            (tmp / "readme.html").write_text(
                _page("README", '<nav><a href="index.html">report index</a></nav>'
                      + markdown_to_html(readme.read_text(encoding="utf-8"))), encoding="utf-8")
        glossary = glossary_path().read_text(encoding="utf-8")
        (tmp / "glossary.html").write_text(
            _page("Glossary", '<nav><a href="index.html">report index</a></nav>' + markdown_to_html(glossary)),
            encoding="utf-8")
        index = (f"<h1>Run {html.escape(run.name)}</h1>{nav}"
                 f"<p>Executed notebooks of this run, rendered with their outputs; below the results, one section "
                 f"per notebook: its own <em>What we found</em> and key figures. Terms: "
                 f'<a href="glossary.html">glossary</a>.</p>'
                 f"<h2>Results</h2>{_results_tables(run)}<h2>What we found, notebook by notebook</h2>"
                 + "\n".join(sections))
        (tmp / "index.html").write_text(_page(f"Report of run {run.name}", index), encoding="utf-8")
    return out / "index.html"


def _completed(run: Path) -> bool:
    try:
        return bool(json.loads((run / "run.json").read_text()).get("finished"))
    except (OSError, ValueError):
        return False


def latest_run(root: Path | None = None) -> Path:
    """The last completed run: ``outputs/latest`` when it exists, else the most recently modified
    completed folder under ``outputs/runs`` (else the most recently modified one)."""
    if root is None:
        latest = paths.project_dir() / "outputs" / "latest"
        if latest.exists():
            return latest.resolve()
    root = root or paths.project_dir() / "outputs" / "runs"
    runs = [p for p in root.glob("*") if p.is_dir()] if root.is_dir() else []
    if not runs:
        raise FileNotFoundError(f"no run folders in {root}: run `make run-all` first")
    return max(runs, key=lambda p: (_completed(p), p.stat().st_mtime))


def main(argv: list[str] | None = None) -> int:
    """``python -m sbrlib.pipeline.html_report [run_folder]``; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m sbrlib.pipeline.html_report", description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", default="", help="run folder (default: the latest in outputs/runs)")
    parser.add_argument("--out", default=None, help="output folder (default: <run>/report)")
    args = parser.parse_args(argv)
    try:
        run = Path(args.run) if args.run else latest_run()
        index = build(run, args.out)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"report: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
