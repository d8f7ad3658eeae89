"""Build the comparison report of a folder of runs and write it as HTML, Markdown and CSV."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .. import atomic, provenance
from ..errors import FeatpipeError
from ..runs.groups import REPEAT_KEYS
from ..summary import format_run
from .collect import Collection, RunRecord, collect_runs, group_by_data
from .figures import Figure, metric_figures
from .html import render_html
from .markdown import render_markdown
from .model import Report, Section
from .effects import effect_figure
from .groups import MAX_SUMMARIES, comparison, effects, pictured_runs, section_groups
from .pictures import Note, picture_figures
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
    n_folded: int = 0  # duplicate copies of runs shown once


def run_summary(run: RunRecord) -> str:
    """The per-run text of the report: `featpipe run`'s own summary for finished runs."""
    if run.done:
        return format_run(run.metrics, run.path)
    detail = f": {run.error}" if run.error else ""
    return f"{run.name}: {run.status}{detail}\n  folder {run.path}"


def make_report(collection: Collection, images: bool = True, max_images: int = 8, progress: bool = False,
                repeat_keys: Sequence[str] = REPEAT_KEYS) -> Report:
    """Tables, figures and notes for every data set in `collection`.

    Runs that differ only in `repeat_keys` (the seed by default) form groups of repeats; per-run
    pictures are drawn only for the best runs of the best groups and families (`groups.pictured_runs`).
    """
    groups = group_by_data(collection.runs)
    warnings = list(collection.warnings)
    if len(groups) > 1:
        warnings.append(f"the runs use {len(groups)} different data sets, shown in separate sections; "
                        "accuracies are compared only within each")
    sections = [_section(group, collection.root, images, max_images, progress, repeat_keys) for group in groups]
    root = collection.root
    title = f"featpipe comparison: {root.resolve().name or root}"
    folded = [(_relative(shown, root), _relative(left_out, root)) for shown, left_out in collection.folded]
    return Report(title=title, root=root, generated=provenance.now_iso(), sections=sections, warnings=warnings,
                  folded=folded)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root)) or "."
    except ValueError:
        return str(path)


def _section(group, root: Path, images: bool, max_images: int, progress: bool, repeat_keys) -> Section:
    rows = build_rows(group.runs, root)
    by_path = {run.relative_to(root): run for run in group.runs}
    runs = [by_path[row["path"]] for row in rows]
    grouped = section_groups(runs, rows, repeat_keys)
    pictured = pictured_runs(grouped)
    pictures, notes = picture_figures(pictured, images=images, max_images=max_images, progress=progress)
    if len(pictured) < sum(run.done for run in runs):
        notes.append(Note("", f"per-run pictures are drawn for the best run of each family and of the best groups "
                              f"({len(pictured)} of {sum(run.done for run in runs)} finished runs); the others' "
                              "plots are in their run folders"))
    analysis_notes = []
    effect_figures = []
    for effect in effects(grouped):
        analysis_notes += effect.warnings
        figure = effect_figure(effect)
        if figure is not None:
            effect_figures.append(figure)
    single = [g for g in grouped if g.spread is not None and g.spread.count == 1]
    if single and len(single) < len(grouped):
        analysis_notes.append(f"{len(single)} group(s) hold a single finished run: no spread to show for them "
                              "(their standard deviation is left blank, not 0)")
    compared = comparison(grouped)
    shown = runs if len(runs) <= MAX_SUMMARIES else pictured
    return Section(
        label=group.label, rows=rows, columns=visible_columns(rows),
        figures=effect_figures + metric_figures(runs, pictured) + pictures, notes=notes,
        summaries=[(run.name, run_summary(run)) for run in shown],
        precision=precision_note(rows, _validation_size(runs)),
        groups=grouped, headline=compared.headline() if compared else None, analysis_notes=analysis_notes,
        summaries_note=None if shown is runs else (f"summaries of the {len(shown)} pictured runs of {len(runs)}; "
                                                   "every run's is in its folder's metrics.json"),
    )


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
    with atomic.atomic_dir(figures_dir) as tmp, atomic.writing(figures_dir, use_filename=False):
        for figure, name in figure_files.items():
            atomic.write_bytes(tmp / name, figure.png)
    links = {figure: f"{figures_dir.name}/{name}" for figure, name in figure_files.items()}
    for path, text in ((md_path, render_markdown(report, links)), (csv_path, to_csv(report.rows)),
                       (html_path, render_html(report))):
        with atomic.writing(path):
            atomic.write_text(path, text)
    return ReportFiles(html=html_path, markdown=md_path, csv=csv_path, figures_dir=figures_dir,
                       n_runs=len(report.rows), warnings=report.warnings, n_folded=len(report.folded))


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
