"""Render a finished run's output folder as a self-contained HTML review report.

The report is built only from the files a run leaves behind (``results.jsonl`` and, when
present, ``stats.json``); it never loads a model and needs nothing beyond the standard
library. It writes ``index.html`` (the run at a glance plus a sortable, filterable table of
every article) and one ``articles/<stem>.html`` page per article with the source text and
its summary and translations side by side.

Every value read from the run is untrusted: it is HTML-escaped wherever it is written, page
links are built only from :func:`summarize.naming.page_stem`, and each page carries a
Content-Security-Policy that allows no script except the index page's own sort/filter script
(pinned by its SHA-256 hash), so markup that slipped into an article could not run.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
from datetime import datetime, timezone
from itertools import zip_longest
from pathlib import Path
from urllib.parse import quote

from summarize.naming import page_stem
from summarize.writers import atomic_write_text, read_results, write_if_changed

__all__ = ["INDEX_SCRIPT", "load_results", "load_stats", "write_report"]

RESULTS_FILE = "results.jsonl"
STATS_FILE = "stats.json"
INDEX_FILE = "index.html"
ARTICLES_DIR = "articles"
SCHEMA_VERSION = 1

DASH = "–"
STAGES = ("load", "read", "summarize", "translate", "write")
ARTICLE_TIMINGS = ("read", "summarize", "translate", "write", "total")
PARTS = ("summary", "article")
MAX_BARS = 400  # per-article bars in the latency chart; above this, a curve

_LANG_TAG = re.compile(r"^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*$")

# The only script in the report: sorts and filters the index table. It moves existing rows
# and reads textContent / data-* attributes; it never builds markup from data. State lives in
# the URL fragment (``#sort=seconds-desc&q=korea&status=error``) so views can be bookmarked.
INDEX_SCRIPT = """
(function () {
  "use strict";
  var table = document.getElementById("articles");
  if (!table || !table.tBodies.length) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var query = document.getElementById("q");
  var status = document.getElementById("status");
  var shown = document.getElementById("shown");
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var cols = {};
  var sortKey = "";
  var sortDir = "";
  heads.forEach(function (th, i) {
    var key = th.getAttribute("data-key");
    if (key) { cols[key] = {index: i, num: th.getAttribute("data-type") === "num", th: th}; }
  });
  var texts = rows.map(function (row) { return row.textContent.toLowerCase(); });

  function order(row) { return parseInt(row.getAttribute("data-order"), 10) || 0; }

  function value(row, col) {
    var cell = row.cells[col.index];
    if (!cell) { return null; }
    var raw = cell.getAttribute("data-value");
    if (raw === null) { raw = cell.textContent; }
    raw = raw.trim();
    if (raw === "") { return null; }
    if (col.num) {
      var n = parseFloat(raw);
      return isNaN(n) ? null : n;
    }
    return raw.toLowerCase();
  }

  function compare(col, sign) {
    return function (a, b) {
      var va = value(a, col);
      var vb = value(b, col);
      var d = 0;
      if (va === null || vb === null) {
        d = (va === null ? 1 : 0) - (vb === null ? 1 : 0);
      } else if (col.num) {
        d = sign * (va - vb);
      } else {
        d = sign * va.localeCompare(vb, undefined, {numeric: true, sensitivity: "base"});
      }
      return d || order(a) - order(b);
    };
  }

  function sortRows(key, dir) {
    var col = Object.prototype.hasOwnProperty.call(cols, key) ? cols[key] : null;
    sortKey = col ? key : "";
    sortDir = col ? (dir === "desc" ? "desc" : "asc") : "";
    var sorted = rows.slice();
    if (col) {
      sorted.sort(compare(col, sortDir === "desc" ? -1 : 1));
    } else {
      sorted.sort(function (a, b) { return order(a) - order(b); });
    }
    sorted.forEach(function (row) { body.appendChild(row); });
    Object.keys(cols).forEach(function (k) {
      var state = k === sortKey ? (sortDir === "desc" ? "descending" : "ascending") : "none";
      cols[k].th.setAttribute("aria-sort", state);
    });
  }

  function filterRows() {
    var needle = query.value.trim().toLowerCase();
    var want = status.value;
    var n = 0;
    rows.forEach(function (row, i) {
      var ok = (!want || row.getAttribute("data-status") === want) &&
        (!needle || texts[i].indexOf(needle) !== -1);
      row.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = n + " of " + rows.length;
  }

  function writeHash() {
    var p = new URLSearchParams();
    if (sortKey) { p.set("sort", sortKey + "-" + sortDir); }
    if (query.value) { p.set("q", query.value); }
    if (status.value) { p.set("status", status.value); }
    var h = p.toString();
    try {
      history.replaceState(null, "", h ? "#" + h : location.pathname + location.search);
    } catch (e) { /* some browsers refuse on file:// URLs; the view still works */ }
  }

  function readHash() {
    var p = new URLSearchParams(location.hash.replace(/^#/, ""));
    query.value = p.get("q") || "";
    var want = p.get("status") || "";
    var known = Array.prototype.some.call(status.options, function (o) {
      return o.value === want;
    });
    status.value = known ? want : "";
    var m = /^([a-z]+)-(asc|desc)$/.exec(p.get("sort") || "");
    sortRows(m ? m[1] : "", m ? m[2] : "");
    filterRows();
  }

  Object.keys(cols).forEach(function (key) {
    var button = cols[key].th.querySelector("button");
    if (!button) { return; }
    button.addEventListener("click", function () {
      var dir = cols[key].num ? "desc" : "asc";
      if (key === sortKey) { dir = sortDir === "asc" ? "desc" : "asc"; }
      sortRows(key, dir);
      writeHash();
    });
  });
  query.addEventListener("input", function () { filterRows(); writeHash(); });
  status.addEventListener("change", function () { filterRows(); writeHash(); });
  window.addEventListener("hashchange", readHash);
  readHash();
})();
"""

INDEX_SCRIPT_SHA256 = base64.b64encode(hashlib.sha256(INDEX_SCRIPT.encode()).digest()).decode()

_CSP_INDEX = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    f"script-src 'sha256-{INDEX_SCRIPT_SHA256}'; base-uri 'none'; form-action 'none'"
)
_CSP_ARTICLE = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "script-src 'none'; base-uri 'none'; form-action 'none'"
)

_CSS = """
:root{--bg:#fff;--fg:#1c2128;--muted:#5d6772;--line:#d9dee4;--soft:#f4f6f8;--soft2:#eaeef2;
--accent:#2f6feb;--accent-soft:#dce7fd;--ok:#1a7f37;--bad:#cf222e;--bad-soft:#ffebe9;
--warn:#9a6700;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#0f1216;--fg:#e6e9ed;--muted:#9aa4af;
--line:#2c333b;--soft:#161b21;--soft2:#1e242c;--accent:#5b9bff;--accent-soft:#1d2c47;
--ok:#3fb950;--bad:#ff7b72;--bad-soft:#3b1d1f;--warn:#d29922}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);overflow-wrap:anywhere;
font:15px/1.55 system-ui,-apple-system,"Segoe UI","Noto Sans","Noto Sans CJK KR",
"Apple SD Gothic Neo","Malgun Gothic","Hiragino Sans","Yu Gothic","Microsoft YaHei",
"PingFang SC",sans-serif}
a{color:var(--accent)}
main{max-width:1280px;margin:0 auto;padding:12px 20px 48px}
.top{border-bottom:1px solid var(--line);background:var(--soft)}
.top div{max-width:1280px;margin:0 auto;padding:10px 20px;display:flex;gap:8px 16px;
flex-wrap:wrap;align-items:baseline;font-size:14px}
.top .grow{flex:1 1 auto}
h1{font-size:26px;line-height:1.25;margin:14px 0 4px}
h2{font-size:19px;margin:30px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:18px 0 6px}
.sub{color:var(--muted);font-size:13px}
.muted{color:var(--muted)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px;
margin:14px 0 0;padding:0}
.cards div{background:var(--soft);border:1px solid var(--line);border-radius:8px;
padding:8px 12px;min-width:0}
.cards dt{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.cards dd{margin:2px 0 0;font-size:19px;font-weight:600;font-variant-numeric:tabular-nums}
.cards dd.small{font-size:14px;font-weight:500}
.cards .ok dd{color:var(--ok)} .cards .bad dd{color:var(--bad)}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;overflow-wrap:break-word}
td.wrap,td.title{overflow-wrap:anywhere}
thead th{white-space:nowrap}
th,td{text-align:left;vertical-align:top;padding:6px 8px;border-bottom:1px solid var(--line)}
thead th{background:var(--soft);font-size:13px;color:var(--muted);font-weight:600;
position:sticky;top:0;z-index:1}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
th button{font:inherit;color:inherit;background:none;border:0;padding:0;cursor:pointer;
text-align:inherit;width:100%}
th button::after{content:"\\2195";opacity:.35;margin-left:4px;font-size:11px}
th[aria-sort=ascending] button::after{content:"\\25B2";opacity:1}
th[aria-sort=descending] button::after{content:"\\25BC";opacity:1}
tbody tr:hover{background:var(--soft)}
.badge{display:inline-block;padding:0 8px;border-radius:999px;font-size:12px;
font-weight:600;line-height:20px;white-space:nowrap}
.badge.ok{background:var(--soft2);color:var(--ok)}
.badge.error{background:var(--bad-soft);color:var(--bad)}
.badge.other{background:var(--soft2);color:var(--warn)}
.err{color:var(--bad)}
.warn{color:var(--warn)}
.errbox{border:1px solid var(--bad);background:var(--bad-soft);border-radius:8px;
padding:10px 14px;margin:12px 0;white-space:pre-wrap}
.bars{display:grid;grid-template-columns:max-content minmax(60px,1fr) max-content;
gap:6px 12px;align-items:center}
.bar-track{background:var(--soft2);border-radius:4px;height:18px;overflow:hidden}
.bar-fill{display:block;height:100%;background:var(--accent);border-radius:4px;min-width:2px}
.bar-fill.other{background:var(--muted)}
.bar-val{font-variant-numeric:tabular-nums;font-size:13px;white-space:nowrap}
.chart{display:flex;gap:8px;align-items:stretch}
.axis{display:flex;flex-direction:column;justify-content:space-between;font-size:12px;
color:var(--muted);text-align:right;min-width:48px;font-variant-numeric:tabular-nums}
.plot{flex:1 1 auto;min-width:0;border-left:1px solid var(--line);
border-bottom:1px solid var(--line)}
.plot svg{display:block;width:100%;height:180px}
.plot line{stroke:var(--line);stroke-width:1}
.plot rect,.plot path{fill:var(--accent)} .plot rect.error{fill:var(--bad)}
.plot a:hover rect{fill:var(--warn)}
.controls{display:flex;flex-wrap:wrap;gap:8px 14px;align-items:center;margin:6px 0 10px}
.controls input,.controls select{font:inherit;color:inherit;background:var(--bg);
border:1px solid var(--line);border-radius:6px;padding:5px 8px}
.controls input{flex:1 1 220px;min-width:0}
#articles td.title{width:55%;min-width:10em}
#articles td.title a{font-weight:600}
#articles td.title .sub,#articles td.title .err{display:block;font-size:12px}
.list li{margin:4px 0}
code{font-size:13px;background:var(--soft2);padding:1px 4px;border-radius:4px}
dl.meta{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:6px 18px;
margin:10px 0;font-size:14px}
dl.meta div{min-width:0}
dl.meta dt{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
dl.meta dd{margin:0}
dl.meta div.wide{grid-column:span 2}
:lang(ko){word-break:keep-all}
.chips{display:flex;flex-wrap:wrap;gap:6px;margin:8px 0;padding:0;list-style:none}
.chips li{background:var(--soft);border:1px solid var(--line);border-radius:999px;
padding:1px 10px;font-size:13px;font-variant-numeric:tabular-nums}
.split{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:28px;
align-items:start}
.split>aside{position:sticky;top:8px;max-height:calc(100vh - 16px);overflow:auto;
background:var(--soft);border:1px solid var(--line);border-radius:8px;padding:4px 16px 10px}
.split h2{margin-top:14px}
.text p{margin:0 0 .9em;white-space:pre-line}
.text p:last-child{margin-bottom:0}
table.align{table-layout:fixed;margin:4px 0 8px}
table.align col.n{width:3.5em}
table.align td{line-height:1.6;padding:7px 10px;white-space:pre-line}
table.align td.n{color:var(--muted);font-size:12px;white-space:nowrap;padding-top:10px}
table.align tbody{border-top:2px solid var(--line)}
table.align tbody:first-of-type{border-top:0}
table.align td.tgt{background:var(--soft)}
.pager{display:flex;justify-content:space-between;gap:12px;margin:36px 0 0;font-size:14px}
.pager a{max-width:48%}
footer{color:var(--muted);font-size:12px;margin-top:40px;border-top:1px solid var(--line);
padding-top:10px}
@media (max-width:760px){
main{padding:8px 12px 40px}
h1{font-size:21px}
.split{grid-template-columns:minmax(0,1fr);gap:8px}
.split>aside{position:static;max-height:none;order:-1}
.bars{grid-template-columns:max-content minmax(40px,1fr);}
.bar-val{grid-column:2;margin-top:-4px;font-size:12px}
.opt{display:none}
.cards{grid-template-columns:repeat(auto-fill,minmax(105px,1fr));gap:8px}
.cards div{padding:6px 10px}
.cards dd{font-size:17px}
table.align,table.align tbody,table.align tr,table.align td{display:block;width:auto}
table.align colgroup,table.align thead{display:none}
table.align tr{border-bottom:1px solid var(--line);padding:4px 0}
table.align td{border:0;padding:3px 6px}
table.align td.n{display:none}
table.align td[data-label]::before{content:attr(data-label);display:block;font-size:11px;
color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
}
@media print{.split>aside{position:static;max-height:none}.controls{display:none}}
"""


# --------------------------------------------------------------------------- reading


def load_results(out_dir: Path) -> list[dict]:
    """Read ``results.jsonl`` of a run: one record per article id, the last line winning.

    Lines that are not whole JSON objects with a string ``id`` (such as a line torn by a
    crash) are skipped; see :func:`summarize.writers.read_results`.

    Args:
        out_dir: The run's output folder.

    Returns:
        The records in file order; empty when the file is missing.
    """
    return list(read_results(Path(out_dir))[0].values())


def load_stats(out_dir: Path) -> dict:
    """Read ``stats.json`` of a run.

    Args:
        out_dir: The run's output folder.

    Returns:
        The parsed object, or an empty dict when the file is missing, unreadable or not an
        object (the report then falls back on what ``results.jsonl`` says).
    """
    try:
        data = json.loads((Path(out_dir) / STATS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# --------------------------------------------------------------------------- writing


def write_report(out_dir: Path) -> Path:
    """Write the HTML report of a run into its output folder.

    Writes ``index.html`` and one ``articles/<page_stem(id)>.html`` per record of
    ``results.jsonl`` (successful and failed alike). Works without ``stats.json``. Each file
    is written to a temporary file in its folder and then moved into place, so a reader
    never sees a half-written page.

    Args:
        out_dir: The run's output folder.

    Returns:
        The path of ``index.html``.
    """
    out_dir = Path(out_dir)
    records = load_results(out_dir)
    stats = load_stats(out_dir)
    articles_dir = out_dir / ARTICLES_DIR
    articles_dir.mkdir(parents=True, exist_ok=True)
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    source_lang = _str(stats.get("source_lang"))
    stems = [page_stem(record["id"]) for record in records]
    for i, record in enumerate(records):
        prev = (stems[i - 1], _label(records[i - 1])) if i > 0 else None
        nxt = (stems[i + 1], _label(records[i + 1])) if i + 1 < len(records) else None
        page = _render_article(record, source_lang, prev, nxt)
        write_if_changed(articles_dir / f"{stems[i]}.html", page)
    index = out_dir / INDEX_FILE
    atomic_write_text(index, _render_index(records, stems, stats, out_dir.name, generated))
    return index


# --------------------------------------------------------------------------- values


def _e(value: object) -> str:
    """Escape any value for use as HTML text or inside a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def _str(value: object) -> str | None:
    """Return ``value`` if it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _num(value: object) -> float | None:
    """Return a finite number as float; anything else (None, bool, text, NaN) as None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        value = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    return value if math.isfinite(value) else None


def _text(value: object) -> str:
    """Escape a value for display, showing the dash when it is missing or empty."""
    if value is None or value == "":
        return DASH
    return _e(value)


def _fmt_int(value: object) -> str:
    n = _num(value)
    return DASH if n is None else _e(f"{round(n):,}")


def _fmt_s(value: object) -> str:
    """Format seconds compactly: ``0.004 s``, ``0.42 s``, ``12.3 s``, ``1,234 s``."""
    s = _num(value)
    if s is None:
        return DASH
    if s == 0:
        return "0 s"
    if abs(s) < 0.01:
        return _e(f"{s:.3f} s")
    if abs(s) < 10:
        return _e(f"{s:.2f} s")
    if abs(s) < 100:
        return _e(f"{s:.1f} s")
    return _e(f"{s:,.0f} s")


def _fmt_duration(value: object) -> str:
    """Format a wall time: seconds below a minute, else ``1 h 02 m 03 s`` style."""
    s = _num(value)
    if s is None or s < 60:
        return _fmt_s(value)
    total = round(s)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{hours} h {minutes:02d} m {seconds:02d} s" if hours else f"{minutes} m {seconds:02d} s"
    return _e(text)


def _fmt_rate(value: object, unit: str) -> str:
    r = _num(value)
    if r is None:
        return DASH
    text = f"{r:,.2f}" if abs(r) < 10 else f"{r:,.1f}"
    return _e(f"{text} {unit}".strip())


def _fmt_mb(value: object) -> str:
    mb = _num(value)
    if mb is None:
        return DASH
    return _e(f"{mb / 1024:,.2f} GiB" if mb >= 1024 else f"{mb:,.0f} MiB")


def _sort_value(value: object) -> str:
    """A number as a ``data-value`` attribute for sorting ("" when missing)."""
    n = _num(value)
    return "" if n is None else _e(repr(n))


def _lang_attr(code: object) -> str:
    """A ``lang="..."`` attribute for a plausible BCP 47 tag, else nothing."""
    if isinstance(code, str) and _LANG_TAG.match(code):
        return f' lang="{_e(code)}"'
    return ""


def _href(stem: str, suffix: str = ".html") -> str:
    """A relative link to a page named by a ``page_stem`` result (never by a raw id)."""
    return _e(quote(stem + suffix, safe=""))


def _label(record: dict) -> str:
    """The display title of a record: its title, else its id."""
    return _str(record.get("title")) or _str(record.get("id")) or DASH


def _status(record: dict) -> str:
    status = record.get("status")
    return status if isinstance(status, str) and status else "unknown"


def _badge(status: str) -> str:
    kind = status if status in ("ok", "error") else "other"
    return f'<span class="badge {kind}">{_e(status)}</span>'


def _paragraphs(text: object) -> list[str]:
    """Split text on blank lines into non-empty paragraphs."""
    if not isinstance(text, str):
        return []
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def _timing(record: dict, key: str) -> float | None:
    return _num(_dict(record.get("timings")).get(key))


def _page(title: str, csp: str, body: str, script: str | None = None) -> str:
    """Wrap a page body (already escaped) in the common document shell."""
    script_tag = f"<script>{script}</script>\n" if script is not None else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n'
        '<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(csp)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="generator" content="summarize report">\n'
        '<link rel="icon" href="data:,">\n'
        f"<title>{_e(title)}</title>\n"
        f"<style>{_CSS}</style>\n"
        "</head>\n<body>\n"
        f"{body}\n{script_tag}</body>\n</html>\n"
    )


# --------------------------------------------------------------------------- index page


def _render_index(
    records: list[dict], stems: list[str], stats: dict, folder: str, generated: str
) -> str:
    """Build the index page."""
    parts = [
        '<header class="top"><div><strong>summarize</strong>'
        f'<span class="grow sub">run report · {_e(folder)}</span>'
        f'<a href="#articles-section">Articles ({len(records):,})</a>'
        '<a href="#problems">Failures &amp; skipped</a></div></header>',
        "<main>",
        "<h1>Run report</h1>",
        _run_line(stats),
        _schema_notice(stats, records),
        _cards(records, stats),
        _models(stats),
        _stage_chart(records, stats),
        _stage_table(stats),
        _latency_chart(records, stems),
        _article_table(records, stems),
        _problems(records, stems, stats),
        _footer(stats, generated),
        "</main>",
    ]
    title = f"Run report – {folder}"
    return _page(title, _CSP_INDEX, "\n".join(p for p in parts if p), INDEX_SCRIPT)


def _run_line(stats: dict) -> str:
    started = _str(stats.get("started_at"))
    finished = _str(stats.get("finished_at"))
    if not stats:
        return (
            '<p class="sub warn">No stats.json found: totals below are computed from '
            "results.jsonl alone.</p>"
        )
    return f'<p class="sub">Started {_text(started)} · finished {_text(finished)}</p>'


def _schema_notice(stats: dict, records: list[dict]) -> str:
    versions = {_num(stats.get("schema_version"))} | {
        _num(r.get("schema_version")) for r in records
    }
    newer = sorted(v for v in versions if v is not None and v > SCHEMA_VERSION)
    if not newer:
        return ""
    return (
        f'<p class="warn">These files use schema version {_e(f"{newer[-1]:g}")}, newer than '
        f"this report knows ({SCHEMA_VERSION}); some fields may be missing.</p>"
    )


def _counts(records: list[dict], stats: dict) -> dict[str, float | None]:
    """Article counts from stats.json, falling back on the records."""
    given = _dict(stats.get("articles"))
    derived = {
        "total": len(records),
        "ok": sum(_status(r) == "ok" for r in records),
        "failed": sum(_status(r) == "error" for r in records),
        "skipped": len(_list(stats.get("skipped"))) if "skipped" in stats else None,
        "resumed": None,
    }
    return {
        k: (_num(given.get(k)) if _num(given.get(k)) is not None else v) for k, v in derived.items()
    }


def _cards(records: list[dict], stats: dict) -> str:
    counts = _counts(records, stats)
    device = _str(stats.get("device"))
    device_name = _str(stats.get("device_name"))
    device_text = _text(device)
    if device_name:
        device_text += f'<br><span class="sub">{_e(device_name)}</span>'
    languages = _languages(records, stats)
    cells = [
        ("Articles", _fmt_int(counts["total"]), ""),
        ("OK", _fmt_int(counts["ok"]), "ok"),
        ("Failed", _fmt_int(counts["failed"]), "bad" if counts["failed"] else ""),
        ("Skipped files", _fmt_int(counts["skipped"]), ""),
        ("Resumed", _fmt_int(counts["resumed"]), ""),
        ("Wall time", _fmt_duration(stats.get("wall_s")), ""),
        ("Articles / s", _fmt_rate(stats.get("articles_per_s"), ""), ""),
        ("Device", device_text, "small"),
        ("dtype", _text(stats.get("dtype")), "small"),
        ("Peak RAM", _fmt_mb(stats.get("peak_rss_mb")), "small"),
        ("Peak GPU memory", _fmt_mb(stats.get("peak_gpu_mb")), "small"),
        ("Languages", languages, "small"),
        ("Translated", _text(stats.get("translate")), "small"),
    ]
    items = []
    for label, value, kind in cells:
        cls = f' class="{kind}"' if kind in ("ok", "bad") else ""
        dd_cls = ' class="small"' if kind == "small" else ""
        items.append(f"<div{cls}><dt>{_e(label)}</dt><dd{dd_cls}>{value}</dd></div>")
    return '<dl class="cards">' + "".join(items) + "</dl>"


def _languages(records: list[dict], stats: dict) -> str:
    """``en → ko, ja`` from stats.json, else from the records' languages and translations."""
    sources = [_str(stats.get("source_lang"))]
    targets = [t for t in _list(stats.get("targets")) if isinstance(t, str)]
    if not sources[0]:
        sources = sorted({lang for r in records if (lang := _str(r.get("lang")))})
    if not targets:
        targets = sorted({k for r in records for k in _dict(r.get("translations"))})
    source_text = ", ".join(s for s in sources if s)
    if not source_text and not targets:
        return DASH
    return f"{_text(source_text)} → {_text(', '.join(targets))}"


def _models(stats: dict) -> str:
    models = [m for m in _list(stats.get("models")) if isinstance(m, dict)]
    if not models:
        return '<h2>Models</h2><p class="muted">No model information recorded.</p>'
    rows = []
    for m in models:
        licence = _str(m.get("license"))
        licence_html = _e(licence) if licence else '<span class="warn">unknown</span>'
        path = _str(m.get("path"))
        rows.append(
            "<tr>"
            f"<td>{_text(m.get('role'))}</td>"
            f'<td class="wrap"><strong>{_text(m.get("model_id"))}</strong>'
            + (f'<br><span class="sub">{_e(path)}</span>' if path else "")
            + "</td>"
            f"<td>{licence_html}</td>"
            f'<td class="opt">{_text(m.get("family"))}</td>'
            f'<td class="opt">{_revision(m.get("revision"))}</td>'
            f'<td class="num">{_fmt_s(m.get("load_s"))}</td>'
            "</tr>"
        )
    return (
        '<h2>Models</h2><div class="scroll"><table><thead><tr><th>Role</th><th>Model</th>'
        '<th>Licence</th><th class="opt">Family</th><th class="opt">Revision</th>'
        '<th class="num">Load</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table></div>"
    )


def _revision(value: object) -> str:
    """A model revision: commit hashes shortened to 12 characters, the full one on hover."""
    revision = _str(value)
    if not revision:
        return DASH
    short = revision[:12] if re.fullmatch(r"[0-9a-f]{40}", revision) else revision
    return f'<code title="{_e(revision)}">{_e(short)}</code>'


def _stage_seconds(records: list[dict], stats: dict) -> tuple[list[tuple[str, float]], bool]:
    """Seconds per stage from stats.json, else summed from per-article timings.

    Returns:
        The (stage, seconds) pairs that are known, and whether they were derived from
        per-article timings.
    """
    stages = _dict(stats.get("stages"))
    known = [(s, _num(_dict(stages.get(s)).get("seconds"))) for s in STAGES]
    pairs = [(s, v) for s, v in known if v is not None]
    if pairs:
        return pairs, False
    summed = []
    for stage in STAGES[1:]:
        values = [v for v in (_timing(r, stage) for r in records) if v is not None]
        if values:
            summed.append((stage, sum(values)))
    return summed, True


def _stage_chart(records: list[dict], stats: dict) -> str:
    pairs, derived = _stage_seconds(records, stats)
    head = "<h2>Where the time went</h2>"
    if not pairs:
        return head + '<p class="muted">No stage timings recorded.</p>'
    wall = _num(stats.get("wall_s"))
    busy = sum(max(v, 0.0) for _, v in pairs)
    bars = [(stage, max(v, 0.0), "") for stage, v in pairs]
    if wall is not None and wall - busy > 0.005 * max(wall, 1e-9):
        bars.append(("other", wall - busy, "other"))
    whole = sum(v for _, v, _ in bars) or 1.0
    biggest = max(v for _, v, _ in bars) or 1.0
    rows = []
    for stage, seconds, cls in bars:
        width = 100.0 * seconds / biggest
        share = 100.0 * seconds / whole
        fill_cls = f"bar-fill {cls}".strip()
        rows.append(
            f'<span class="bar-label">{_e(stage)}</span>'
            f'<span class="bar-track"><span class="{fill_cls}" style="width:{width:.2f}%">'
            "</span></span>"
            f'<span class="bar-val">{_fmt_s(seconds)} · {_e(f"{share:.0f}")}%</span>'
        )
    if derived:
        note = "Summed from per-article timings (no stats.json stage totals)."
    elif wall is not None and busy > wall * 1.01:
        note = "Stages overlap, so their sum exceeds the wall time; shares are of the sum."
    elif wall is not None:
        note = "Share of the run's wall time; “other” is time outside the named stages."
    else:
        note = "Share of the sum of the stages (no wall time recorded)."
    return head + f'<div class="bars">{"".join(rows)}</div><p class="sub">{_e(note)}</p>'


def _stage_table(stats: dict) -> str:
    stages = _dict(stats.get("stages"))
    if not stages:
        return ""
    names = [s for s in STAGES if s in stages] + sorted(
        s for s in stages if s not in STAGES and isinstance(s, str)
    )
    rows = []
    for name in names:
        st = _dict(stages.get(name))
        rows.append(
            f"<tr><td>{_e(name)}</td>"
            f'<td class="num">{_fmt_s(st.get("seconds"))}</td>'
            f'<td class="num opt">{_fmt_int(st.get("n_items"))}</td>'
            f'<td class="num opt">{_fmt_int(st.get("n_batches"))}</td>'
            f'<td class="num opt">{_fmt_int(st.get("input_tokens"))}</td>'
            f'<td class="num opt">{_fmt_int(st.get("output_tokens"))}</td>'
            f'<td class="num">{_fmt_rate(st.get("input_tokens_per_s"), "")}</td>'
            f'<td class="num">{_fmt_rate(st.get("output_tokens_per_s"), "")}</td></tr>'
        )
    return (
        '<h3>Throughput by stage</h3><div class="scroll"><table><thead><tr><th>Stage</th>'
        '<th class="num">Seconds</th><th class="num opt">Items</th><th class="num opt">Batches</th>'
        '<th class="num opt">Input tokens</th><th class="num opt">Output tokens</th>'
        '<th class="num">Input tok/s</th><th class="num">Output tok/s</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table></div>"
    )


def _percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile of an ascending list (``q`` in 0..1)."""
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def _latency_chart(records: list[dict], stems: list[str]) -> str:
    """Chart the seconds each article took, slowest first.

    Up to ``MAX_BARS`` articles get one bar each, linking to the article's page; larger runs
    get a filled curve of the same ranking, since single bars would be under a pixel wide.
    """
    head = "<h2>Time per article</h2>"
    timed = [
        (t, r, stem)
        for r, stem in zip(records, stems, strict=True)
        if (t := _timing(r, "total")) is not None and t >= 0
    ]
    if not timed:
        return head + '<p class="muted">No per-article timings recorded.</p>'
    timed.sort(key=lambda item: -item[0])
    values = sorted(t for t, _, _ in timed)
    top = values[-1] or 1.0
    n = len(timed)
    if n <= MAX_BARS:
        shapes, width = _latency_bars(timed, top), n
        note = "Failed articles in red; hover a bar for its title, click it to open the article."
    else:
        shapes, width = _latency_curve([t for t, _, _ in timed], top), 1000
        note = "Too many articles for one bar each: the curve shows the same ranking."
    grid = "".join(
        f'<line x1="0" x2="{width}" y1="{y}" y2="{y}" vector-effect="non-scaling-stroke"/>'
        for y in (25, 50, 75)
    )
    svg = (
        f'<svg viewBox="0 0 {width} 100" preserveAspectRatio="none" role="img" '
        f'aria-label="Seconds per article, slowest first">{grid}{shapes}</svg>'
    )
    axis = "".join(f"<span>{_fmt_s(top * f)}</span>" for f in (1.0, 0.75, 0.5, 0.25, 0.0))
    slowest = timed[0]
    summary = (
        f"{n:,} articles, slowest first. Median {_fmt_s(_percentile(values, 0.5))} · "
        f"p90 {_fmt_s(_percentile(values, 0.9))} · mean {_fmt_s(sum(values) / n)} · "
        f'max {_fmt_s(top)} (<a href="{ARTICLES_DIR}/{_href(slowest[2])}">'
        f"<bdi>{_e(_shorten(_label(slowest[1]), 80))}</bdi></a>). {_e(note)}"
    )
    return (
        head + f'<div class="chart"><div class="axis">{axis}</div>'
        f'<div class="plot">{svg}</div></div><p class="sub">{summary}</p>'
    )


def _latency_bars(timed: list[tuple[float, dict, str]], top: float) -> str:
    """One bar per article, each linking to its page, with its title as a tooltip."""
    gap = 0.15 if len(timed) <= 120 else 0.0
    bars = []
    for i, (t, record, stem) in enumerate(timed):
        h = max(100.0 * t / top, 1.0)  # keep near-zero bars visible
        cls = ' class="error"' if _status(record) == "error" else ""
        tip = f"{_label(record)}: {t:.2f} s"
        bars.append(
            f'<a href="{ARTICLES_DIR}/{_href(stem)}"><rect{cls} x="{i + gap / 2:.3f}" '
            f'y="{100 - h:.3f}" width="{1 - gap:.3f}" height="{h:.3f}" '
            f'shape-rendering="crispEdges"><title>{_e(tip)}</title></rect></a>'
        )
    return "".join(bars)


def _latency_curve(descending: list[float], top: float, steps: int = 1000) -> str:
    """A filled step curve of descending values, resampled to ``steps`` columns."""
    n = len(descending)
    points = ["M0,100"]
    for col in range(steps):
        t = descending[col * n // steps]  # the largest value in this column's share
        y = 100.0 - max(100.0 * t / top, 0.5)
        points.append(f"L{col},{y:.2f}L{col + 1},{y:.2f}")
    points.append(f"L{steps},100Z")
    return f'<path d="{"".join(points)}"/>'


def _article_table(records: list[dict], stems: list[str]) -> str:
    statuses = sorted({_status(r) for r in records})
    options = '<option value="">all statuses</option>' + "".join(
        f'<option value="{_e(s)}">{_e(s)}</option>' for s in statuses
    )
    heads = [
        ("order", "num", "#", "num opt"),
        ("title", "text", "Title", ""),
        ("lang", "text", "Lang", "opt"),
        ("words", "num", "Words", "num"),
        ("chunks", "num", "Chunks", "num opt"),
        ("seconds", "num", "Seconds", "num"),
        ("status", "text", "Status", ""),
    ]
    th = "".join(
        f'<th data-key="{key}" data-type="{kind}" aria-sort="none"'
        + (f' class="{cls}"' if cls else "")
        + f'><button type="button">{label}</button></th>'
        for key, kind, label, cls in heads
    )
    rows = []
    for i, (record, stem) in enumerate(zip(records, stems, strict=True), start=1):
        status = _status(record)
        rid = _str(record.get("id")) or ""
        title = _str(record.get("title"))
        error = _str(record.get("error"))
        lang = _str(record.get("lang"))
        title_html = (
            f'<a href="{ARTICLES_DIR}/{_href(stem)}" dir="auto">{_e(title or rid or DASH)}</a>'
        )
        if title:
            title_html += f'<span class="sub" dir="auto">{_e(rid)}</span>'
        if status == "error" and error:
            title_html += f'<span class="err" dir="auto">{_e(_shorten(error, 300))}</span>'
        rows.append(
            f'<tr data-order="{i}" data-status="{_e(status)}">'
            f'<td class="num opt" data-value="{i}">{i}</td>'
            f'<td class="title" data-value="{_e(title or rid)}">{title_html}</td>'
            f'<td class="opt" data-value="{_e(lang or "")}">{_text(lang)}</td>'
            f'<td class="num" data-value="{_sort_value(record.get("n_words"))}">'
            f"{_fmt_int(record.get('n_words'))}</td>"
            f'<td class="num opt" data-value="{_sort_value(record.get("chunks"))}">'
            f"{_fmt_int(record.get('chunks'))}</td>"
            f'<td class="num" data-value="{_sort_value(_timing(record, "total"))}">'
            f"{_fmt_num2(_timing(record, 'total'))}</td>"
            f'<td data-value="{_e(status)}">{_badge(status)}</td>'
            "</tr>"
        )
    if not records:
        body = '<p class="muted">results.jsonl has no articles.</p>'
    else:
        body = (
            '<div class="scroll"><table id="articles"><thead><tr>'
            + th
            + "</tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table></div>"
        )
    return (
        '<h2 id="articles-section">Articles</h2>'
        '<div class="controls"><input id="q" type="search" placeholder="Filter by any text…" '
        'aria-label="Filter articles" autocomplete="off">'
        f'<select id="status" aria-label="Status">{options}</select>'
        f'<span class="sub">showing <span id="shown">{len(records):,} of {len(records):,}</span>'
        "</span></div>"
        '<p class="sub">Click a column header to sort. The view is kept in the address '
        "(for example <code>#sort=seconds-desc&amp;status=error</code>), so it can be "
        "bookmarked.</p>" + body
    )


def _fmt_num2(value: float | None) -> str:
    return DASH if value is None else _e(f"{value:,.2f}")


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _problems(records: list[dict], stems: list[str], stats: dict) -> str:
    stem_of = {r["id"]: stem for r, stem in zip(records, stems, strict=True)}
    failures: list[tuple[str | None, str | None, str | None]] = []
    seen: set[str] = set()
    for f in _list(stats.get("failures")):
        f = _dict(f)
        fid = _str(f.get("id"))
        failures.append((fid, _str(f.get("source")), _str(f.get("error"))))
        if fid:
            seen.add(fid)
    for r in records:
        if _status(r) == "error" and r["id"] not in seen:
            failures.append((r["id"], _str(r.get("source")), _str(r.get("error"))))
    items = []
    for fid, source, error in failures:
        name = _e(fid) if fid else _text(source)
        if fid in stem_of:
            name = f'<a href="{ARTICLES_DIR}/{_href(stem_of[fid])}" dir="auto">{name}</a>'
        src = f' <span class="sub">({_e(source)})</span>' if source and source != fid else ""
        items.append(
            f'<li><strong dir="auto">{name}</strong>{src}<br>'
            f'<span class="err" dir="auto">{_text(error)}</span></li>'
        )
    skipped = [_dict(s) for s in _list(stats.get("skipped"))]
    skipped_items = [
        f'<li><span dir="auto">{_text(s.get("source"))}</span> '
        f'<span class="sub">— {_text(s.get("reason"))}</span></li>'
        for s in skipped
    ]
    out = [f'<h2 id="problems">Failed inputs ({len(failures):,})</h2>']
    out.append(f'<ul class="list">{"".join(items)}</ul>' if items else '<p class="muted">None.</p>')
    out.append(f"<h2>Skipped files ({len(skipped):,})</h2>")
    if skipped_items:
        out.append(f'<ul class="list">{"".join(skipped_items)}</ul>')
    else:
        out.append(
            '<p class="muted">None.</p>'
            if "skipped" in stats
            else '<p class="muted">Not recorded.</p>'
        )
    return "".join(out)


def _footer(stats: dict, generated: str) -> str:
    packages = _dict(stats.get("packages"))
    pkg = " · ".join(f"{_e(k)} {_text(v)}" for k, v in packages.items())
    return (
        f"<footer>{pkg + '<br>' if pkg else ''}Report generated {_e(generated)} from "
        f"{RESULTS_FILE}{' and ' + STATS_FILE if stats else ''}.</footer>"
    )


# --------------------------------------------------------------------------- article page


def _render_article(
    record: dict,
    source_lang: str | None,
    prev: tuple[str, str] | None,
    nxt: tuple[str, str] | None,
) -> str:
    """Build one article page."""
    rid = record["id"]
    status = _status(record)
    title = _str(record.get("title"))
    lang = _str(record.get("lang")) or source_lang
    translations = _dict(record.get("translations"))
    alignment = _dict(record.get("alignment"))
    languages = list(dict.fromkeys([*translations, *alignment]))
    out = [
        '<header class="top"><div><a href="../index.html">← Run report</a>'
        f'<span class="grow sub" dir="auto">{_e(rid)}</span>{_badge(status)}</div></header>',
        "<main>",
        f'<h1 dir="auto"{_lang_attr(lang)}>{_e(title or rid)}</h1>',
        _article_meta(record, lang),
    ]
    if status == "error" or _str(record.get("error")):
        out.append(
            f'<div class="errbox" role="alert" dir="auto"><strong>Error:</strong> '
            f"{_text(record.get('error'))}</div>"
        )
    out.append(_article_timings(record))
    out.append(_overview(record, lang, translations))
    sections = []
    for code in languages:
        for part in PARTS:
            section = _aligned_section(record, lang, code, part, translations, alignment)
            if section:
                sections.append(section)
    if sections:
        out.extend(sections)
    out.append(_pager(prev, nxt))
    out.append("</main>")
    return _page(f"{title or rid} – summarize", _CSP_ARTICLE, "\n".join(p for p in out if p))


def _article_meta(record: dict, lang: str | None) -> str:
    rows = [
        ("ID", f'<span dir="auto">{_e(record["id"])}</span>', "wide"),
        ("Source", f'<span dir="auto">{_text(record.get("source"))}</span>', "wide"),
        ("Language", _text(lang), ""),
        ("Words", _fmt_int(record.get("n_words")), ""),
        ("Characters", _fmt_int(record.get("n_chars")), ""),
        ("Chunks", _fmt_int(record.get("chunks")), ""),
        ("Finished", _text(record.get("finished_at")), "wide"),
    ]
    if _str(record.get("page")):
        md = _href(page_stem(record["id"]), ".md")
        rows.append(("Markdown", f'<a href="{md}">{md}</a>', "wide"))
    items = "".join(
        f'<div class="{cls}"><dt>{k}</dt><dd>{v}</dd></div>'
        if cls
        else f"<div><dt>{k}</dt><dd>{v}</dd></div>"
        for k, v, cls in rows
    )
    return f'<dl class="meta">{items}</dl>'


def _article_timings(record: dict) -> str:
    timings = _dict(record.get("timings"))
    if not timings:
        return '<p class="sub">No timings recorded.</p>'
    keys = [k for k in ARTICLE_TIMINGS if k in timings] + [
        k for k in timings if k not in ARTICLE_TIMINGS and isinstance(k, str)
    ]
    chips = "".join(f"<li>{_e(k)} <strong>{_fmt_s(timings.get(k))}</strong></li>" for k in keys)
    return f'<ul class="chips" aria-label="Timings">{chips}</ul>'


def _paras_html(text: object, lang: str | None, empty: str) -> str:
    paras = _paragraphs(text)
    if not paras:
        return f'<p class="muted">{_e(empty)}</p>'
    attr = _lang_attr(lang)
    return "".join(f'<p dir="auto"{attr}>{_e(p)}</p>' for p in paras)


def _overview(record: dict, lang: str | None, translations: dict) -> str:
    summary = record.get("summary")
    if not _str(record.get("text")) and summary is None and not translations:
        return ""  # a failed input: nothing to show beside the error
    right = [
        f"<h2>Summary{_lang_suffix(lang)}</h2>",
        f'<div class="text">{_paras_html(summary, lang, _empty_summary(summary))}</div>',
    ]
    for code, parts in translations.items():
        text = _dict(parts).get("summary")
        if not isinstance(text, str):
            continue
        right.append(f"<h3>Summary{_lang_suffix(code)}</h3>")
        right.append(f'<div class="text">{_paras_html(text, code, "(empty translation)")}</div>')
    left = (
        f"<h2>Source text{_lang_suffix(lang)}</h2>"
        f'<div class="text">{_paras_html(record.get("text"), lang, "(no text)")}</div>'
    )
    return (
        f'<section class="split"><article>{left}</article>'
        f'<aside aria-label="Summary and translations">{"".join(right)}</aside></section>'
    )


def _empty_summary(summary: object) -> str:
    return "(empty summary)" if isinstance(summary, str) else "(no summary)"


def _lang_suffix(code: object) -> str:
    return f' <span class="sub">({_e(code)})</span>' if _str(code) else ""


def _pairs(paragraphs: object) -> list[list[tuple[str, str]]]:
    """Normalise an alignment part to paragraphs of (source, translation) string pairs."""
    out = []
    for para in _list(paragraphs):
        pairs = []
        for pair in _list(para):
            if isinstance(pair, (list, tuple)):
                src = pair[0] if len(pair) > 0 else ""
                tgt = pair[1] if len(pair) > 1 else ""
            else:
                src, tgt = pair, ""
            pairs.append((_as_text(src), _as_text(tgt)))
        if pairs:
            out.append(pairs)
    return out


def _as_text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _aligned_section(
    record: dict,
    src_lang: str | None,
    code: str,
    part: str,
    translations: dict,
    alignment: dict,
) -> str:
    """A table pairing a part's source with its translation into ``code``, if there is one."""
    paragraphs = _pairs(_dict(alignment.get(code)).get(part))
    translated = _dict(translations.get(code)).get(part)
    source = record.get("summary") if part == "summary" else record.get("text")
    if paragraphs:
        mode = "sentence by sentence"
    elif isinstance(translated, str):
        mode = "paragraph by paragraph"
        paragraphs = [
            [(s or "", t or "")]
            for s, t in zip_longest(_paragraphs(source), _paragraphs(translated))
        ]
    else:
        return ""
    src_label = _e(src_lang or "source")
    tgt_label = _e(code)
    src_attr = _lang_attr(src_lang)
    tgt_attr = _lang_attr(code)
    bodies = []
    for p, pairs in enumerate(paragraphs, start=1):
        rows = []
        for s, (src, tgt) in enumerate(pairs, start=1):
            num = f"{p}.{s}" if mode == "sentence by sentence" else f"¶{p}"
            rows.append(
                f'<tr><td class="n">{_e(num)}</td>'
                f'<td class="src" dir="auto" data-label="{_e(num)} · {src_label}"{src_attr}>'
                f"{_e(src)}</td>"
                f'<td class="tgt" dir="auto" data-label="{tgt_label}"{tgt_attr}>{_e(tgt)}</td>'
                "</tr>"
            )
        bodies.append("<tbody>" + "".join(rows) + "</tbody>")
    heading = f"{'Summary' if part == 'summary' else 'Article'} → {code}"
    return (
        f'<section><h2 dir="auto">{_e(heading)} <span class="sub">({_e(mode)})</span></h2>'
        '<table class="align"><colgroup><col class="n"><col><col></colgroup>'
        f"<thead><tr><th>#</th><th>{src_label}</th><th>{tgt_label}</th></tr></thead>"
        + "".join(bodies)
        + "</table></section>"
    )


def _pager(prev: tuple[str, str] | None, nxt: tuple[str, str] | None) -> str:
    """Links to the previous and next article, titles isolated for right-to-left text."""

    def link(item: tuple[str, str] | None, rel: str) -> str:
        if item is None:
            return "<span></span>"
        stem, label = item
        title = f"<bdi>{_e(_shorten(label, 80))}</bdi>"
        text = f"← {title}" if rel == "prev" else f"{title} →"
        return f'<a href="{_href(stem)}" rel="{rel}">{text}</a>'

    return f'<nav class="pager">{link(prev, "prev")}{link(nxt, "next")}</nav>'
