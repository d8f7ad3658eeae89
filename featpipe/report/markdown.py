"""The report as Markdown: tables ready to paste into a README, figures as linked PNG files.

Every text copied from a run (names, class names, errors, paths, settings) is escaped, so it
shows as written and never turns into markup, HTML, a link or a table cell boundary.
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

from .figures import Figure
from .model import Report, Section
from .table import Column, cell_text, percent, unfinished_text


# Characters with a meaning inline in GitHub-flavoured Markdown ($ for math, ~ for strikethrough).
_INLINE = re.compile(r"([\\`*_\[\]<>#!|~&$])")
# What turns a text into a list, quote or rule when it starts a line (e.g. after "- ").
_LINE_START = re.compile(r"^(\s*\d*)([-+=.)])")


def _escape(text: str, line_start: bool = False) -> str:
    """`text` as literal Markdown text on one line (`line_start`: it begins a list item's line)."""
    text = _INLINE.sub(r"\\\1", " ".join(str(text).splitlines()))
    return _LINE_START.sub(r"\1\\\2", text) if line_start else text


def _code(text: str) -> str:
    """`text` as an inline code span, whatever backticks it holds."""
    text = " ".join(str(text).splitlines())
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}"


def _fenced(text: str, info: str = "text") -> str:
    """`text` as a fenced code block whose fence no line of it can close."""
    fence = "`" * max(3, max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def markdown_table(rows: Sequence[dict], columns: Sequence[Column]) -> str:
    """A GitHub-flavoured Markdown table of `rows` (numbers right-aligned), in the given order."""
    header = "| " + " | ".join(_escape(c.header) for c in columns) + " |"
    rule = "| " + " | ".join("---:" if c.numeric else "---" for c in columns) + " |"
    lines = [header, rule]
    for row in rows:
        lines.append("| " + " | ".join(_escape(cell_text(row, c)) for c in columns) + " |")
    return "\n".join(lines)


def groups_table(section: Section) -> str:
    """The groups of repeats as a Markdown table: mean, standard deviation, range and count."""
    lines = ["| group | family | pipeline | settings | runs | val acc mean | std | min | max |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for group in section.groups:
        s = group.spread
        std = "-" if s is None else ("one run" if s.std is None else percent(s.std))
        numbers = ["-"] * 3 if s is None else [percent(s.mean), std, percent(s.min)]
        cells = [group.id, group.family or "-", group.pipeline or "-", group.settings or "-", str(len(group.runs)),
                 numbers[0], numbers[1], numbers[2], "-" if s is None else percent(s.max)]
        lines.append("| " + " | ".join(_escape(c) for c in cells) + " |")
    return "\n".join(lines)


def render_section(section: Section, heading: bool, links: Mapping[Figure, str]) -> str:
    parts = [f"## {_escape(section.label)}" if heading else f"Data: {_escape(section.label)}", ""]
    if section.headline:
        parts += [f"**Comparison:** {_escape(section.headline)}", ""]
    if section.repeated:
        parts += [f"Groups of repeats (runs whose configs differ only in the seed): {len(section.groups)} groups "
                  f"of {len(section.rows)} runs.", "", groups_table(section), ""]
    if section.analysis_notes:
        parts += [f"- {_escape(note, line_start=True)}" for note in section.analysis_notes] + [""]
    parts += [markdown_table(section.rows, section.columns), ""]
    if section.precision:
        parts += [section.precision, ""]
    unfinished = [row for row in section.rows if row["status"] != "done"]
    if unfinished:
        parts.append("Runs that did not finish:\n")
        parts += [f"- **{_escape(row['name'])}** ({_escape(row['status'])}): {_escape(unfinished_text(row))}"
                  for row in unfinished]
        parts.append("")
    for figure in section.figures:
        if figure in links:
            parts += [f"![{_escape(figure.title)}]({links[figure]})", "",
                      f"*{_escape(figure.title)}.* {_escape(figure.caption)}", ""]
            if figure.legend and figure.legend[1]:
                header, rows = figure.legend
                parts += ["| " + " | ".join(_escape(c) for c in header) + " |",
                          "| " + " | ".join("---" for _ in header) + " |"]
                parts += ["| " + " | ".join(_escape(c) for c in row) + " |" for row in rows] + [""]
    if section.notes:
        parts += [f"- {_escape((note.run + ': ' if note.run else '') + note.text, line_start=True)}"
                  for note in section.notes]
        parts.append("")
    note = f" ({_escape(section.summaries_note)})" if section.summaries_note else ""
    parts.append(f"<details><summary>Per-run summaries (as printed by <code>featpipe run</code>){note}</summary>\n")
    parts += [_fenced(text) for _, text in section.summaries]
    parts.append("\n</details>\n")
    return "\n".join(parts)


def render_markdown(report: Report, links: Mapping[Figure, str] | None = None) -> str:
    """The whole report; `links` maps each figure to the relative path of its PNG (figures without one are left out)."""
    links = links or {}
    parts = [f"# {_escape(report.title)}", "",
             f"{len(report.rows)} run(s) under {_code(report.root)}; generated {_escape(report.generated)}. "
             "Validation accuracy is from a held-out split of the training images.", ""]
    if report.folded:
        parts += [_escape(report.folded_text()), ""]
    if report.warnings:
        parts += ["**Warnings**", ""] + [f"- {_escape(w, line_start=True)}" for w in report.warnings] + [""]
    parts += [render_section(s, len(report.sections) > 1, links) for s in report.sections]
    return "\n".join(parts).rstrip() + "\n"
