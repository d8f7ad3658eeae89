"""The report as one self-contained HTML page: inline CSS, a few lines of inline JS to sort, filter
and page the tables, figures embedded as base64 PNG data URIs. Nothing is fetched, so it opens offline.

A figure is embedded once: a figure whose picture already appears higher on the page is a link
to it. The runs table shows PAGE_ROWS rows at a time (a button shows all), and a filter box
keeps the rows holding a text (``group:g3`` keeps one group's runs).
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

from .figures import Figure
from .model import Report, Section
from .table import Column, cell_text, percent, unfinished_text

#: Rows of the runs table shown before "show all".
PAGE_ROWS = 50

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
.headline { font-size: 1.1em; background: #eef5ff; border-left: 4px solid #1f77b4; padding: 0.5em 1em; }
table.groups { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }
table.groups th, table.groups td { border-bottom: 1px solid #e4e4e4; padding: 0.3em 0.6em; text-align: left; }
table.groups td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.groups th button { font: inherit; font-weight: 600; background: none; border: none; padding: 0;
                         cursor: pointer; color: inherit; }
.table-tools { margin: 0.8em 0 0 0; font-size: 0.9em; }
.table-tools input { width: 22em; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
/* wide tables scroll inside the page, never the page itself; the run column stays in view */
.table-scroll { overflow-x: auto; max-width: 100%; }
table.runs th:first-child, table.runs td:first-child { position: sticky; left: 0; z-index: 1; background: #fff;
                                                       min-width: 9em; max-width: 14em; overflow-wrap: break-word;
                                                       box-shadow: inset -1px 0 0 #ddd; }
table.runs tbody tr:hover td:first-child { background: #f4f8ff; }
table.legend { border-collapse: collapse; font-size: 0.8em; margin: 0.6em 0; }
table.legend th, table.legend td { border-bottom: 1px solid #eee; padding: 0.15em 0.6em; text-align: left; }
.meta code { overflow-wrap: anywhere; }
"""

# Click a header to sort by it (again to reverse); empty cells stay last in both directions.
# The runs table shows PAGE rows unless "show all" is on or a filter is typed.
_JS = """
var PAGE = %d;
function refresh(table) {
  var box = document.getElementById(table.id + "-filter");
  var query = box ? box.value.trim().toLowerCase() : "";
  var all = table.dataset.all === "yes" || query !== "";
  var shown = 0;
  Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
    var match = query === "" || (query.indexOf("group:") === 0 ? row.dataset.group === query.slice(6)
                                 : row.textContent.toLowerCase().indexOf(query) >= 0);
    row.hidden = !match || (!all && shown >= PAGE);
    if (match) { shown += 1; }
  });
  var count = document.getElementById(table.id + "-count");
  if (count) { count.textContent = (all ? shown : Math.min(shown, PAGE)) + " of " + table.tBodies[0].rows.length + " runs shown"; }
}
document.querySelectorAll("table.runs, table.groups").forEach(function (table) {
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
      if (table.classList.contains("runs")) { refresh(table); }
    });
  });
});
document.querySelectorAll("table.runs").forEach(function (table) {
  var box = document.getElementById(table.id + "-filter");
  if (box) { box.addEventListener("input", function () { refresh(table); }); }
  var more = document.getElementById(table.id + "-all");
  if (more) { more.addEventListener("click", function () {
    table.dataset.all = table.dataset.all === "yes" ? "no" : "yes";
    more.textContent = table.dataset.all === "yes" ? "show the first " + PAGE : "show all";
    refresh(table);
  }); }
  refresh(table);
});
document.querySelectorAll("button.show-group").forEach(function (button) {
  button.addEventListener("click", function () {
    var box = document.getElementById(button.dataset.table + "-filter");
    box.value = "group:" + button.dataset.group;
    refresh(document.getElementById(button.dataset.table));
    box.scrollIntoView();
  });
});
""" % PAGE_ROWS


def data_uri(png: bytes) -> str:
    """A PNG as a data URI an <img> can show without fetching anything."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def sort_value(row: dict, column: Column) -> str:
    """The data-sort attribute of a cell: a number for numeric columns, lower-case text otherwise."""
    value = row.get(column.key)
    if value is None:
        return ""
    return repr(float(value)) if column.numeric else str(value).lower()


def render_table(section: Section, table_id: str) -> str:
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
        group = f' data-group="{escape(str(row["group"]))}"' if row.get("group") else ""
        body.append(f'<tr data-run="{escape(row["name"])}"{group}{state}>' + "".join(cells) + "</tr>")
    tools = ""
    if len(section.rows) > PAGE_ROWS or section.repeated:
        tools = (f'<div class="table-tools"><input type="search" id="{table_id}-filter" '
                 f'placeholder="filter runs: any text, or group:g3" aria-label="filter runs"> '
                 f'<button type="button" id="{table_id}-all">show all</button> '
                 f'<span id="{table_id}-count"></span></div>\n')
    return (tools + f'<div class="table-scroll"><table class="runs" id="{table_id}">\n<thead><tr>' + "".join(head)
            + "</tr></thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table></div>")


def render_groups(section: Section, table_id: str) -> str:
    """The groups table: one row per group of repeats, mean, spread, range and count, its runs on demand."""
    headers = [("group", "group", "text"), ("family", "family", "text"), ("pipeline", "pipeline", "text"),
               ("settings", "settings", "text"), ("count", "runs", "number"), ("mean", "val acc mean", "number"),
               ("std", "std", "number"), ("min", "min", "number"), ("max", "max", "number"), ("runs", "", "text")]
    head = "".join(f'<th data-key="{key}" data-type="{kind}"><button type="button">{escape(text)}</button></th>'
                   for key, text, kind in headers)
    body = []
    for group in section.groups:
        spread = group.spread
        values = {"count": (len(group.runs), str(len(group.runs)))}
        for key in ("mean", "std", "min", "max"):
            value = getattr(spread, key) if spread is not None else None
            text = "-" if value is None else percent(value)
            if key == "std" and spread is not None and value is None:
                text = "one run"
            values[key] = (value, text)
        cells = [_cell(group.id), _cell(group.family or "-"), _cell(group.pipeline or "-"), _cell(group.settings or "-")]
        cells += [f'<td class="num" data-sort="{"" if v is None else repr(float(v))}">{escape(t)}</td>'
                  for v, t in values.values()]
        names = ", ".join(run.name for run in group.runs[:20]) + (" ..." if len(group.runs) > 20 else "")
        cells.append(f'<td data-sort=""><button type="button" class="show-group" data-table="{table_id}" '
                     f'data-group="{escape(group.id)}" title="{escape(names)}">show runs</button></td>')
        body.append('<tr data-group-row="' + escape(group.id) + '">' + "".join(cells) + "</tr>")
    return ('<div class="table-scroll"><table class="groups">\n<thead><tr>' + head + "</tr></thead>\n<tbody>\n"
            + "\n".join(body) + "\n</tbody>\n</table></div>")


def _cell(text: str) -> str:
    return f'<td data-sort="{escape(str(text).lower())}">{escape(str(text))}</td>'


class FigureIds:
    """Gives each figure a page-wide id, and knows which pictures are already on the page."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}  # PNG digest -> id of the figure that embeds it

    def render(self, figure: Figure, prefix: str) -> str:
        """The figure embedded, or (its picture already on the page) a link to the figure that embeds it."""
        figure_id = f"{prefix}{figure.key}"
        digest = hashlib.sha1(figure.png).hexdigest()
        if digest in self.seen:
            return (f'<figure id="{escape(figure_id)}"><figcaption><b>{escape(figure.title)}:</b> the same picture '
                    f'as <a href="#{escape(self.seen[digest])}">the figure above</a>.</figcaption></figure>')
        self.seen[digest] = figure_id
        return (f'<figure id="{escape(figure_id)}"><img src="{data_uri(figure.png)}" alt="{escape(figure.title)}">'
                f"<figcaption><b>{escape(figure.title)}.</b> {escape(figure.caption)}</figcaption>"
                f"{render_legend(figure)}</figure>")


def render_legend(figure: Figure) -> str:
    """A figure's legend table (e.g. what each numbered point is), or nothing."""
    if not figure.legend or not figure.legend[1]:
        return ""
    header, rows = figure.legend
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<div class="table-scroll"><table class="legend"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _figures_html(figures: list[Figure], ids: FigureIds, prefix: str) -> list[str]:
    """Figures in page order; consecutive confusion matrices and effects share a row, for side-by-side reading."""
    parts: list[str] = []
    row: list[str] = []
    kind = None
    for figure in figures:
        this = next((k for k in ("confusion-", "effect-") if figure.key.startswith(k)), None)
        if row and this != kind:
            parts.append('<div class="figure-row">' + "".join(row) + "</div>")
            row = []
        kind = this
        if this is not None:
            row.append(ids.render(figure, prefix))
        else:
            parts.append(ids.render(figure, prefix))
    if row:
        parts.append('<div class="figure-row">' + "".join(row) + "</div>")
    return parts


def render_section(section: Section, heading: bool, ids: FigureIds | None = None, index: int = 1) -> str:
    ids = ids or FigureIds()
    prefix = f"s{index}-"
    parts = [f"<h2>{escape(section.label)}</h2>" if heading else f'<p class="meta">data: {escape(section.label)}</p>']
    if section.headline:
        parts.append(f'<p class="headline"><b>Comparison:</b> {escape(section.headline)}</p>')
    if section.repeated:
        parts.append(f"<h3>Groups of repeats ({len(section.groups)} groups of {len(section.rows)} runs)</h3>"
                     '<p class="meta">Runs whose configs differ only in the seed are one group: mean, standard '
                     "deviation (of the runs' validation accuracies), range and count. \"show runs\" filters the "
                     "runs table below to one group.</p>")
        parts.append(render_groups(section, f"{prefix}runs"))
    if section.analysis_notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{escape(n)}</li>" for n in section.analysis_notes) + "</ul>")
    parts.append(f"<h3>Runs</h3>" if section.repeated else "")
    parts.append(render_table(section, f"{prefix}runs"))
    if section.precision:
        parts.append(f'<p class="meta">{escape(section.precision)}</p>')
    unfinished = [row for row in section.rows if row["status"] != "done"]
    if unfinished:
        parts.append("<p>Runs that did not finish:</p><ul>" + "".join(
            f"<li><b>{escape(row['name'])}</b> ({escape(row['status'])}): {escape(unfinished_text(row))}</li>"
            for row in unfinished) + "</ul>")
    parts += _figures_html(section.figures, ids, prefix)
    if section.notes:
        parts.append('<ul class="notes">' + "".join(
            f"<li>{escape(note.run + ': ' if note.run else '')}{escape(note.text)}</li>" for note in section.notes) + "</ul>")
    note = f" ({escape(section.summaries_note)})" if section.summaries_note else ""
    parts.append(f"<details><summary>Per-run summaries (as printed by <code>featpipe run</code>){note}</summary>"
                 + "".join(f"<pre>{escape(text)}</pre>" for _, text in section.summaries) + "</details>")
    return "\n".join(part for part in parts if part)


def render_html(report: Report) -> str:
    """The whole page as a string (UTF-8, no external resources)."""
    warnings = ""
    if report.warnings:
        warnings = '<div class="warnings"><b>Warnings</b><ul>' + "".join(
            f"<li>{escape(w)}</li>" for w in report.warnings) + "</ul></div>"
    n_runs = len(report.rows)
    folded = f'<p class="meta folded">{escape(report.folded_text())}</p>\n' if report.folded else ""
    ids = FigureIds()
    sections = "\n".join(render_section(s, len(report.sections) > 1, ids, i + 1) for i, s in enumerate(report.sections))
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
{folded}{warnings}
{sections}
<script>{_JS}</script>
</body>
</html>
"""
