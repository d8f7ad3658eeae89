"""The report's page model: what the HTML and Markdown pages show, built by `build`, rendered by
`html` and `markdown` (which import it from here, never from each other or from `build`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .figures import Figure
from .groups import GroupRow
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
    groups: list[GroupRow] = field(default_factory=list)  # repeats of one experiment, best mean first
    headline: str | None = None  # the comparison of the two best families, with its interval
    analysis_notes: list[str] = field(default_factory=list)  # effects warnings, groups without spread
    summaries_note: str | None = None  # why some runs' summaries are left out

    @property
    def repeated(self) -> bool:
        """True when some group holds more than one run (then the groups table leads the section)."""
        return any(len(group.runs) > 1 for group in self.groups)


@dataclass
class Report:
    """Everything the HTML and Markdown pages show."""

    title: str
    root: Path
    generated: str
    sections: list[Section]
    warnings: list[str] = field(default_factory=list)
    folded: list[tuple[str, str]] = field(default_factory=list)  # copies of one run: (folder shown, folder left out)

    def folded_text(self) -> str | None:
        """One sentence on the copies shown once, or None when there were none."""
        if not self.folded:
            return None
        pairs = "; ".join(f"{left_out} (a copy of {shown})" for shown, left_out in self.folded[:10])
        more = f"; and {len(self.folded) - 10} more" if len(self.folded) > 10 else ""
        return (f"{len(self.folded)} duplicate run folder(s) folded: the same run (identical metrics.json, or "
                f"error.json and config for a failed run) found in two folders is shown once. Left out: {pairs}{more}.")

    @property
    def rows(self) -> list[dict]:
        return [row for section in self.sections for row in section.rows]
