"""Build the comparison report of a folder of runs and write it as HTML, Markdown and CSV."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .. import atomic, provenance
from ..errors import FeatpipeError
from ..summary import format_run
from .collect import Collection, RunRecord, collect_runs, group_by_data
from .figures import Figure, metric_figures
from .html import render_html
from .markdown import render_markdown
from .model import Report, Section
from .pictures import picture_figures
from .table import build_rows, precision_note, to_csv, visible_columns

DEFAULT_NAME = "report.html"


@dataclass
class ReportFiles:
    """Where a report was written, and the warnings met on the way."""

    html: Path
    markdown: Path
    csv: Path
    figures_dir: Path
    n_runs: int
    warnings: list[str]


def run_summary(run: RunRecord) -> str:
    """The per-run text of the report: `featpipe run`'s own summary for finished runs."""
    if run.done:
        return format_run(run.metrics, run.path)
    detail = f": {run.error}" if run.error else ""
    return f"{run.name}: {run.status}{detail}\n  folder {run.path}"


def make_report(collection: Collection, images: bool = True, max_images: int = 8, progress: bool = False) -> Report:
    """Tables, figures and notes for every data set in `collection`."""
    groups = group_by_data(collection.runs)
    warnings = list(collection.warnings)
    if len(groups) > 1:
        warnings.append(
            f"the runs use {len(groups)} different data sets; accuracies are compared only within each: "
            + "; ".join(f"{g.label}: {len(g.runs)} run(s)" for g in groups)
        )
    sections = []
    for group in groups:
        rows = build_rows(group.runs, collection.root)
        order = {row["path"]: i for i, row in enumerate(rows)}
        runs = sorted(group.runs, key=lambda r: order.get(r.relative_to(collection.root), 0))
        pictures, notes = picture_figures(runs, images=images, max_images=max_images, progress=progress)
        sections.append(Section(
            label=group.label, rows=rows, columns=visible_columns(rows),
            figures=metric_figures(runs) + pictures, notes=notes,
            summaries=[(run.name, run_summary(run)) for run in runs],
            precision=precision_note(rows, _validation_size(runs)),
        ))
    root = collection.root
    title = f"featpipe comparison: {root.resolve().name or root}"
    return Report(title=title, root=root, generated=provenance.now_iso(), sections=sections, warnings=warnings)


def _validation_size(runs: list[RunRecord]) -> int | None:
    for run in runs:
        size = ((run.metrics.get("data") or {}).get("sizes") or {}).get("val") if run.done else None
        if isinstance(size, int):
            return size
    return None


def report_paths(root: Path, out: str | os.PathLike | None) -> tuple[Path, Path, Path, Path]:
    """(html, markdown, csv, markdown figures folder) for `out` (default: ROOT/report.html).

    `out` may be an .html file, or a folder (existing, or a path without a suffix) to write
    report.html into.
    """
    html = Path(out) if out is not None else Path(root) / DEFAULT_NAME
    if html.is_dir() or not html.suffix:
        html = html / DEFAULT_NAME
    if html.suffix.lower() not in (".html", ".htm"):
        raise FeatpipeError(f"--out {out}: expected an .html file or a folder; the Markdown and CSV versions "
                            "are written beside the HTML page")
    return html, html.with_suffix(".md"), html.with_suffix(".csv"), html.with_name(html.stem + "_figures")


def build_report(root: str | os.PathLike, out: str | os.PathLike | None = None, *, images: bool = True,
                 max_images: int = 8, progress: bool = False) -> ReportFiles:
    """Collect the runs under `root` and write the HTML page, its Markdown twin and the CSV table.

    Parameters
    ----------
    root : a run folder or any folder holding run folders (searched recursively).
    out : the HTML file to write (default ``ROOT/report.html``); the Markdown (``.md``), CSV
        (``.csv``) and the Markdown's figures folder (``<stem>_figures/``) go beside it.
    images : draw the figures that reload each run's data (HOG glyphs, color histograms,
        misclassified images); slow for large data sets.
    max_images : misclassified validation images shown per run.

    Raises
    ------
    ModelError if `root` holds no readable run.
    """
    collection = collect_runs(root)
    report = make_report(collection, images=images, max_images=max_images, progress=progress)
    html_path, md_path, csv_path, figures_dir = report_paths(collection.root, out)
    figure_files = _figure_files(report)
    with atomic.atomic_dir(figures_dir) as tmp:
        for figure, name in figure_files.items():
            atomic.write_bytes(tmp / name, figure.png)
    links = {figure: f"{figures_dir.name}/{name}" for figure, name in figure_files.items()}
    atomic.write_text(md_path, render_markdown(report, links))
    atomic.write_text(csv_path, to_csv(report.rows))
    atomic.write_text(html_path, render_html(report))
    return ReportFiles(html=html_path, markdown=md_path, csv=csv_path, figures_dir=figures_dir,
                       n_runs=len(report.rows), warnings=report.warnings)


def _figure_files(report: Report) -> dict[Figure, str]:
    """A distinct, file-system-safe PNG name for every figure."""
    names: dict[Figure, str] = {}
    for index, section in enumerate(report.sections):
        prefix = f"{index + 1}-" if len(report.sections) > 1 else ""
        for figure in section.figures:
            stem = prefix + (re.sub(r"[^A-Za-z0-9._-]+", "-", figure.key).strip("-.") or "figure")
            name, n = f"{stem}.png", 2
            while name in names.values():
                name, n = f"{stem}-{n}.png", n + 1
            names[figure] = name
    return names
