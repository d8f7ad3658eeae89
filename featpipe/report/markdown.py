"""The report as Markdown: tables ready to paste into a README, figures as linked PNG files."""

from __future__ import annotations

from typing import Mapping, Sequence

from .build import Report, Section
from .figures import Figure
from .table import Column, cell_text, unfinished_text


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: Sequence[dict], columns: Sequence[Column]) -> str:
    """A GitHub-flavoured Markdown table of `rows` (numbers right-aligned), in the given order."""
    header = "| " + " | ".join(_escape(c.header) for c in columns) + " |"
    rule = "| " + " | ".join("---:" if c.numeric else "---" for c in columns) + " |"
    lines = [header, rule]
    for row in rows:
        lines.append("| " + " | ".join(_escape(cell_text(row, c)) for c in columns) + " |")
    return "\n".join(lines)


def render_section(section: Section, heading: bool, links: Mapping[Figure, str]) -> str:
    parts = [f"## {section.label}" if heading else f"Data: {section.label}", "",
             markdown_table(section.rows, section.columns), ""]
    if section.precision:
        parts += [section.precision, ""]
    unfinished = [row for row in section.rows if row["status"] != "done"]
    if unfinished:
        parts.append("Runs that did not finish:\n")
        parts += [f"- **{_escape(row['run'])}** ({row['status']}): {_escape(unfinished_text(row))}"
                  for row in unfinished]
        parts.append("")
    for figure in section.figures:
        if figure in links:
            parts += [f"![{_escape(figure.title)}]({links[figure]})", "", f"*{figure.title}.* {figure.caption}", ""]
    if section.notes:
        parts += [f"- {note.run + ': ' if note.run else ''}{note.text}" for note in section.notes]
        parts.append("")
    parts.append("<details><summary>Per-run summaries (as printed by <code>featpipe run</code>)</summary>\n")
    parts += ["```text\n" + text + "\n```" for _, text in section.summaries]
    parts.append("\n</details>\n")
    return "\n".join(parts)


def render_markdown(report: Report, links: Mapping[Figure, str] | None = None) -> str:
    """The whole report; `links` maps each figure to the relative path of its PNG (figures without one are left out)."""
    links = links or {}
    parts = [f"# {report.title}", "",
             f"{len(report.rows)} run(s) under `{report.root}`; generated {report.generated}. "
             "Validation accuracy is from a held-out split of the training images.", ""]
    if report.warnings:
        parts += ["**Warnings**", ""] + [f"- {_escape(w)}" for w in report.warnings] + [""]
    parts += [render_section(s, len(report.sections) > 1, links) for s in report.sections]
    return "\n".join(parts).rstrip() + "\n"
