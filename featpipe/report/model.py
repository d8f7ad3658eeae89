"""The report's page model: what the HTML and Markdown pages show, built by `build`, rendered by
`html` and `markdown` (which import it from here, never from each other or from `build`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .figures import Figure
from .pictures import Note
from .table import Column


@dataclass
class Section:
    """The part of the report about runs scored on one data set."""

    label: str
    rows: list[dict]
    columns: list[Column]
    figures: list[Figure]
    notes: list[Note]
    summaries: list[tuple[str, str]]  # (run name, text)
    precision: str | None = None  # how large a difference in validation accuracy can be chance


@dataclass
class Report:
    """Everything the HTML and Markdown pages show."""

    title: str
    root: Path
    generated: str
    sections: list[Section]
    warnings: list[str] = field(default_factory=list)

    @property
    def rows(self) -> list[dict]:
        return [row for section in self.sections for row in section.rows]
