"""Render a finished run's output folder as an HTML review report.

The report is built only from the files a run leaves behind (``results.jsonl`` and, when
present, ``stats.json``); it never loads a model. It writes ``index.html`` (the run at a
glance plus a sortable, filterable table of every article), one ``articles/<stem>.html``
page per article, and the one stylesheet they all link, ``report.css``.

How it is split:

- :mod:`summarize.outputs.report.view` reads the run's files: records through the package's one
  reader (:func:`summarize.records.result_from_json`), stats.json with what was recorded at
  all, eval.json; it never raises on a wrong type.
- :mod:`summarize.outputs.report.pages` works out what the index page shows (and the display
  values both pages share), :mod:`summarize.outputs.report.article_page` what an article
  page shows, each text labelled with what it is.
- :mod:`summarize.outputs.report.format` holds the filters that format numbers for display.
- ``templates/`` lays the pages out with Jinja2, autoescaping every value; ``static/``
  holds the stylesheet and the index page's script.

Every value read from the run is untrusted: the templates escape it, page links are built
only from :func:`summarize.outputs.naming.page_stem`, and each page carries a
Content-Security-Policy that loads styles only from the report's own stylesheet and allows
no script except the index page's own sort/filter script (pinned by its SHA-256 hash), so
markup that slipped into an article could not run.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timezone
from functools import cache
from importlib import resources
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from summarize.outputs.report import format as fmt
from summarize.outputs.report.article_page import article_context
from summarize.outputs.report.pages import index_context, pager_label, translated_titles
from summarize.outputs.report.view import read_eval, read_record, read_stats
from summarize.outputs.writers import (
    ARTICLES,
    RESULTS,
    STATS,
    atomic_write_text,
    page_path,
    read_results,
    write_if_changed,
)

__all__ = ["INDEX_SCRIPT", "STYLESHEET", "load_results", "load_stats", "write_report"]

INDEX = "index.html"
#: Written by ``summarize eval``; shown when present.
EVAL = "eval.json"
#: The stylesheet every page links, written once into the output folder.
STYLESHEET = "report.css"


def _static(name: str) -> str:
    return (resources.files(__package__) / "static" / name).read_text(encoding="utf-8")


# The only script in the report: sorts and filters the index table. It moves existing rows
# and reads textContent / data-* attributes; it never builds markup from data. State lives in
# the URL fragment (``#sort=seconds-desc&q=korea&status=error``) so views can be bookmarked.
INDEX_SCRIPT = _static("index.js")
if "</" in INDEX_SCRIPT:  # it is inlined; this would end the <script> element early
    raise ValueError("static/index.js must not contain '</'")


def _csp(script_src: str) -> str:
    # Styles come only from report.css: no <style> element and no style attribute applies.
    return (
        f"default-src 'none'; style-src 'self'; img-src data:; script-src {script_src}; "
        "base-uri 'none'; form-action 'none'"
    )


def _script_hash(script: str) -> str:
    return base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("summarize.outputs.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=fmt.neutralize,
    )
    env.filters.update(fmt.FILTERS)
    env.tests.update(fmt.TESTS)
    env.globals.update(DASH=fmt.DASH, results_file=RESULTS, stats_file=STATS)
    env.globals.update(pager_label=pager_label, translated_titles=translated_titles)
    return env


# --------------------------------------------------------------------------- reading


def load_results(out_dir: Path) -> list[dict]:
    """Read ``results.jsonl`` of a run: one record per article id, the last line winning.

    Lines that are not whole JSON objects with a string ``id`` (such as a line torn by a
    crash) are skipped; see :func:`summarize.outputs.writers.read_results`.

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
        data = json.loads((Path(out_dir) / STATS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _load_json(path: Path) -> dict:
    """A JSON object file (eval.json), or {} when missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# --------------------------------------------------------------------------- writing


def write_report(out_dir: Path) -> Path:
    """Write the HTML report of a run into its output folder.

    Writes ``index.html``, ``report.css`` and one ``articles/<page_stem(id)>.html`` per
    record of ``results.jsonl`` (successful and failed alike). Works without
    ``stats.json``. Each file is written to a temporary file in its folder and then moved
    into place, so a reader never sees a half-written page; article pages and the
    stylesheet are rewritten only when their content changed.

    Args:
        out_dir: The run's output folder.

    Returns:
        The path of ``index.html``.
    """
    out_dir = Path(out_dir)
    records = [read_record(raw) for raw in load_results(out_dir)]
    stats = read_stats(load_stats(out_dir))
    evaluation = read_eval(_load_json(out_dir / EVAL))
    (out_dir / ARTICLES).mkdir(parents=True, exist_ok=True)
    write_if_changed(out_dir / STYLESHEET, _static(STYLESHEET))
    env = _environment()
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    article_page = env.get_template("article.html")
    article_csp = _csp("'none'")
    for i, record in enumerate(records):
        prev = records[i - 1] if i > 0 else None
        nxt = records[i + 1] if i + 1 < len(records) else None
        context = article_context(record, stats.source_lang, prev, nxt)
        page = article_page.render(
            context, csp=article_csp, stylesheet=f"../{STYLESHEET}", script=None
        )
        write_if_changed(page_path(out_dir, record.id, ".html"), page)
    index = out_dir / INDEX
    context = index_context(records, stats, out_dir.name, generated)
    context["evaluation"] = evaluation
    page = env.get_template("index.html").render(
        context,
        csp=_csp(f"'sha256-{_script_hash(INDEX_SCRIPT)}'"),
        stylesheet=STYLESHEET,
        script=INDEX_SCRIPT,
    )
    atomic_write_text(index, page)
    return index
