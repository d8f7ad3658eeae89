"""The report as one self-contained HTML page: inline CSS, a few lines of inline JS to sort the
table, figures embedded as base64 PNG data URIs. Nothing is fetched, so it opens offline."""

from __future__ import annotations

import base64
from html import escape

from .figures import Figure
from .model import Report, Section
from .table import Column, cell_text, unfinished_text

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
.meta { color: #666; font-size: 0.9em; }
.warnings { background: #fff6e0; border-left: 4px solid #e0a000; padding: 0.5em 1em; }
.notes { color: #555; font-size: 0.9em; }
table.runs { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }
table.runs th, table.runs td { border-bottom: 1px solid #e4e4e4; padding: 0.3em 0.6em; text-align: left; }
table.runs td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.runs th { white-space: nowrap; vertical-align: bottom; }
table.runs th button { font: inherit; font-weight: 600; background: none; border: none; padding: 0;
                       cursor: pointer; color: inherit; }
table.runs th[aria-sort="ascending"] button::after { content: " \\25B2"; }
table.runs th[aria-sort="descending"] button::after { content: " \\25BC"; }
table.runs tr.not-done td { color: #a33; }
table.runs tbody tr:hover { background: #f4f8ff; }
figure { margin: 1.5em 0; }
.figure-row { display: flex; flex-wrap: wrap; gap: 1.5em; }
.figure-row figure { flex: 1 1 26em; max-width: 32em; margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #444; max-width: 60em; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
"""

# Click a header to sort by it (again to reverse); empty cells stay last in both directions.
_JS = """
document.querySelectorAll("table.runs").forEach(function (table) {
  var headers = table.querySelectorAll("thead th");
  headers.forEach(function (th, col) {
    th.querySelector("button").addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var numeric = th.dataset.type === "number";
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.sort, y = b.cells[col].dataset.sort;
        if (x === "" || y === "") { return (x === "") - (y === ""); }
        var d = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
        return ascending ? d : -d;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def data_uri(png: bytes) -> str:
    """A PNG as a data URI an <img> can show without fetching anything."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def sort_value(row: dict, column: Column) -> str:
    """The data-sort attribute of a cell: a number for numeric columns, lower-case text otherwise."""
    value = row.get(column.key)
    if value is None:
        return ""
    return repr(float(value)) if column.numeric else str(value).lower()


def render_table(section: Section) -> str:
    head = []
    for column in section.columns:
        sort = ' aria-sort="descending"' if column.key == "val_accuracy" else ""
        kind = "number" if column.numeric else "text"
        head.append(f'<th data-key="{column.key}" data-type="{kind}" title="{escape(column.help)}"{sort}>'
                    f'<button type="button">{escape(column.header)}</button></th>')
    body = []
    for row in section.rows:
        cells = []
        for column in section.columns:
            text = escape(cell_text(row, column))
            if column.key == "name":
                text = f'<span title="{escape(str(row["path"]))}">{text}</span>'
            css = ' class="num"' if column.numeric else ""
            cells.append(f'<td data-sort="{escape(sort_value(row, column))}"{css}>{text}</td>')
        state = "" if row["status"] == "done" else ' class="not-done"'
        body.append(f'<tr data-run="{escape(row["name"])}"{state}>' + "".join(cells) + "</tr>")
    return ('<table class="runs">\n<thead><tr>' + "".join(head) + "</tr></thead>\n<tbody>\n"
            + "\n".join(body) + "\n</tbody>\n</table>")


def render_figure(figure: Figure) -> str:
    return (f'<figure id="{escape(figure.key)}"><img src="{data_uri(figure.png)}" alt="{escape(figure.title)}">'
            f"<figcaption><b>{escape(figure.title)}.</b> {escape(figure.caption)}</figcaption></figure>")


def _figures_html(figures: list[Figure]) -> list[str]:
    """Figures in page order; consecutive confusion matrices share a row, for side-by-side reading."""
    parts: list[str] = []
    row: list[str] = []
    for figure in figures:
        if figure.key.startswith("confusion-"):
            row.append(render_figure(figure))
            continue
        if row:
            parts.append('<div class="figure-row">' + "".join(row) + "</div>")
            row = []
        parts.append(render_figure(figure))
    if row:
        parts.append('<div class="figure-row">' + "".join(row) + "</div>")
    return parts


def render_section(section: Section, heading: bool) -> str:
    parts = [f"<h2>{escape(section.label)}</h2>" if heading else f'<p class="meta">data: {escape(section.label)}</p>']
    parts.append(render_table(section))
    if section.precision:
        parts.append(f'<p class="meta">{escape(section.precision)}</p>')
    unfinished = [row for row in section.rows if row["status"] != "done"]
    if unfinished:
        parts.append("<p>Runs that did not finish:</p><ul>" + "".join(
            f"<li><b>{escape(row['name'])}</b> ({escape(row['status'])}): {escape(unfinished_text(row))}</li>"
            for row in unfinished) + "</ul>")
    parts += _figures_html(section.figures)
    if section.notes:
        parts.append('<ul class="notes">' + "".join(
            f"<li>{escape(note.run + ': ' if note.run else '')}{escape(note.text)}</li>" for note in section.notes) + "</ul>")
    parts.append("<details><summary>Per-run summaries (as printed by <code>featpipe run</code>)</summary>"
                 + "".join(f"<pre>{escape(text)}</pre>" for _, text in section.summaries) + "</details>")
    return "\n".join(parts)


def render_html(report: Report) -> str:
    """The whole page as a string (UTF-8, no external resources)."""
    warnings = ""
    if report.warnings:
        warnings = '<div class="warnings"><b>Warnings</b><ul>' + "".join(
            f"<li>{escape(w)}</li>" for w in report.warnings) + "</ul></div>"
    n_runs = len(report.rows)
    sections = "\n".join(render_section(s, heading=len(report.sections) > 1) for s in report.sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(report.title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{escape(report.title)}</h1>
<p class="meta">{n_runs} run(s) under <code>{escape(str(report.root))}</code>; generated {escape(report.generated)}.
Click a column header to sort; validation accuracy is from a held-out split of the training images.</p>
{warnings}
{sections}
<script>{_JS}</script>
</body>
</html>
"""
