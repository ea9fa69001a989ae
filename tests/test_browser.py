"""Real-browser tests of the HTML report with headless Chromium (no extra Python packages).

Chromium loads the pages from ``file://``, runs the index page's script and dumps the DOM
(``--dump-dom``) or takes screenshots. Sorting and filtering are driven through the URL
fragment the page reads on load (``index.html#sort=seconds-desc&q=korea&status=error``),
so no click automation is needed.

The tests skip when ``/usr/bin/chromium`` is absent (``CHROMIUM`` overrides the path); CI
installs it with ``apt-get install -y --no-install-recommends chromium fonts-noto-cjk``.
Set ``REPORT_SCREENSHOT_DIR`` to keep the screenshots for a human look.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

import pytest

from summarize.outputs.naming import page_stem
from summarize.outputs.report import write_report
from tests.report_fixtures import (
    ABSOLUTE_ID,
    FLOOD_ID,
    TRAVERSAL_ID,
    make_reviewed_stats,
    make_run_dir,
    reviewed_articles,
)

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)),
    reason=f"{CHROMIUM} not found; install it with: apt-get install -y chromium",
)

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
    "--virtual-time-budget=2000",
]
DESKTOP = "1280,900"
PHONE = "390,844"


def run_chromium(tmp: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on ``url`` with a fresh profile; fail unless it exits cleanly."""
    profile = tempfile.mkdtemp(dir=tmp, prefix="profile-")
    try:
        proc = subprocess.run(
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args, url],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def chromium(tmp: Path, url: str, *args: str) -> str:
    """Run headless Chromium on ``url`` and return its stdout."""
    return run_chromium(tmp, url, *args).stdout


def console(tmp: Path, url: str) -> str:
    """What the page logs to the browser console (CSP violations among it)."""
    proc = run_chromium(tmp, url, "--enable-logging=stderr", "--v=0", "--dump-dom")
    return "\n".join(line for line in proc.stderr.splitlines() if ":CONSOLE" in line)


def dump_dom(tmp: Path, url: str) -> Dom:
    dom = Dom(chromium(tmp, url, "--dump-dom"))
    assert dom.tags, "empty DOM dump"
    return dom


def screenshot(tmp: Path, url: str, size: str, name: str) -> Path:
    out = tmp / name
    chromium(tmp, url, f"--screenshot={out}", f"--window-size={size}")
    assert out.is_file(), f"no screenshot written for {url}"
    keep = os.environ.get("REPORT_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(out, Path(keep) / name)
    return out


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


class Dom(HTMLParser):
    """The dumped DOM: every element with its attributes, the title and the table rows."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.title = ""
        self.rows: list[dict] = []
        self.shown = ""
        self._stack: list[str] = []
        self._row: dict | None = None
        self._cell: dict | None = None
        self._in_title = False
        self._in_shown = False
        self.feed(source)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "title" and not self._row:
            self._in_title = True
        elif tag == "span" and a.get("id") == "shown":
            self._in_shown = True
        elif tag == "tr" and "data-order" in a:
            self._row = {"attrs": a, "cells": [], "hidden": "hidden" in a}
            self.rows.append(self._row)
        elif tag == "td" and self._row is not None:
            self._cell = {"attrs": a, "text": ""}
            self._row["cells"].append(self._cell)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "span":
            self._in_shown = False
        elif tag == "tr":
            self._row = self._cell = None
        elif tag == "td":
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._in_shown:
            self.shown += data
        if self._cell is not None:
            self._cell["text"] += data

    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.tags if a.get("id")}

    def visible(self) -> list[dict]:
        return [r for r in self.rows if not r["hidden"]]

    def column(self, rows: list[dict], index: int) -> list[str]:
        return [r["cells"][index]["attrs"].get("data-value") or "" for r in rows]


# Columns of the article table: order, title, lang, words, chunks, seconds, status.
ORDER, TITLE, LANG, WORDS, CHUNKS, SECONDS, STATUS = range(7)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = make_run_dir(tmp_path_factory.mktemp("browser"))
    write_report(out)
    return out


@pytest.fixture(scope="module")
def index_url(run: Path) -> str:
    return (run / "index.html").as_uri()


@pytest.fixture(scope="module")
def doms(run: Path, index_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Dom]:
    """Dump the DOM of every view the tests look at, in parallel to keep the tests fast."""
    tmp = tmp_path_factory.mktemp("chromium")
    views = {
        "plain": index_url,
        "seconds-desc": index_url + "#sort=seconds-desc",
        "words-asc": index_url + "#sort=words-asc",
        "title-asc": index_url + "#sort=title-asc",
        "korea": index_url + "#q=KOREA",
        "errors": index_url + "#status=error",
        "combined": index_url + "#sort=seconds-asc&q=RE&status=ok",
        "hostile-query": index_url + "#q=%3Cscript%3E&sort=nonsense-up",
        "traversal": (run / "articles" / f"{page_stem(TRAVERSAL_ID)}.html").as_uri(),
        "absolute": (run / "articles" / f"{page_stem(ABSOLUTE_ID)}.html").as_uri(),
    }
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {k: pool.submit(dump_dom, tmp, url) for k, url in views.items()}
        return {k: f.result() for k, f in futures.items()}


def test_index_renders_and_no_data_script_ran(doms: dict[str, Dom]) -> None:
    dom = doms["plain"]
    assert dom.title.startswith("Run report")
    assert "pwned" not in dom.ids()
    assert not [t for t, _ in dom.tags if t in ("img", "iframe", "object", "embed")]
    assert len(dom.rows) == 8 and len(dom.visible()) == 8
    assert dom.shown.strip() == "8 of 8"
    assert [r["attrs"]["data-order"] for r in dom.rows] == [str(i) for i in range(1, 9)]


def test_article_pages_run_no_script_from_text(doms: dict[str, Dom]) -> None:
    for key in ("traversal", "absolute"):
        dom = doms[key]
        assert "pwned" not in dom.title
        assert "pwned" not in dom.ids()
        assert not [t for t, _ in dom.tags if t in ("img", "script", "iframe")]
    assert doms["traversal"].title.startswith("<script>alert(1)</script>")


def test_sort_by_seconds_descending_from_fragment(doms: dict[str, Dom]) -> None:
    dom = doms["seconds-desc"]
    seconds = [float(v) for v in dom.column(dom.rows, SECONDS)]
    assert seconds == sorted(seconds, reverse=True)
    assert dom.rows[0]["cells"][TITLE]["text"].startswith("Government to publish report")
    sorted_heads = [
        a for t, a in dom.tags if t == "th" and "data-key" in a and a.get("aria-sort") != "none"
    ]
    assert [(a["data-key"], a["aria-sort"]) for a in sorted_heads] == [("seconds", "descending")]


def test_sort_by_words_ascending_from_fragment(doms: dict[str, Dom]) -> None:
    dom = doms["words-asc"]
    words = [int(float(v)) for v in dom.column(dom.rows, WORDS)]
    assert words == sorted(words)
    assert len(dom.rows) == 8 and len(dom.visible()) == 8


def test_sort_by_title_moves_rows(doms: dict[str, Dom]) -> None:
    plain = [r["attrs"]["data-order"] for r in doms["plain"].rows]
    by_title = [r["attrs"]["data-order"] for r in doms["title-asc"].rows]
    assert sorted(by_title) == sorted(plain) and by_title != plain
    titles = [t.lower() for t in doms["title-asc"].column(doms["title-asc"].rows, TITLE)]
    latin = [t for t in titles if t[:1].isascii() and t[:1].isalpha()]
    assert latin == sorted(latin)


def test_text_filter_from_fragment_is_case_insensitive(doms: dict[str, Dom]) -> None:
    dom = doms["korea"]
    visible = dom.visible()
    assert len(visible) == 1
    assert visible[0]["cells"][TITLE]["text"].startswith("Bank of Korea holds rates steady")
    assert dom.shown.strip() == "1 of 8"
    assert all(r["hidden"] for r in dom.rows if r not in visible)


def test_status_filter_from_fragment(doms: dict[str, Dom]) -> None:
    dom = doms["errors"]
    assert [r["attrs"]["data-status"] for r in dom.visible()] == ["error"]
    assert dom.visible()[0]["cells"][TITLE]["text"].startswith("broken.pdf")
    assert dom.shown.strip() == "1 of 8"


def test_combined_sort_and_filters(doms: dict[str, Dom]) -> None:
    dom = doms["combined"]
    visible = dom.visible()

    def wanted(row: dict) -> bool:
        text = "".join(c["text"] for c in row["cells"]).lower()
        return row["attrs"]["data-status"] == "ok" and "re" in text

    assert 1 < len(visible) < 8
    assert [r["attrs"]["data-order"] for r in visible] == [
        r["attrs"]["data-order"] for r in dom.rows if wanted(r)
    ]
    seconds = [float(v) for v in dom.column(visible, SECONDS)]
    assert seconds == sorted(seconds)
    assert dom.shown.strip() == f"{len(visible)} of 8"


def test_hostile_fragment_is_only_text(doms: dict[str, Dom]) -> None:
    dom = doms["hostile-query"]
    visible = dom.visible()
    assert [r["cells"][TITLE]["text"][:25] for r in visible] == ["<script>alert(1)</script>"]
    assert "pwned" not in dom.ids()
    # An unknown sort key falls back to the original order.
    assert [r["attrs"]["data-order"] for r in dom.rows] == [str(i) for i in range(1, 9)]


def test_csp_blocks_injected_inline_script(run: Path, tmp_path: Path) -> None:
    """Even if escaping failed, an injected inline script would not run on any page."""
    injected = "<script>document.title='pwned'</script>"
    for name in ("index.html", f"articles/{page_stem(TRAVERSAL_ID)}.html"):
        original = (run / name).read_text(encoding="utf-8")
        copy = (run / name).with_name("injected-" + Path(name).name)
        assert original.count("<body>") == 1
        copy.write_text(original.replace("<body>", "<body>" + injected), encoding="utf-8")
        try:
            dom = dump_dom(tmp_path, copy.as_uri())
        finally:
            copy.unlink()
        assert dom.title and dom.title != "pwned", name


def test_pages_load_their_stylesheet_without_csp_violations(run: Path, tmp_path: Path) -> None:
    """The CSP lets the shared stylesheet (and nothing inline) apply; a blocked one is logged."""
    urls = [(run / "index.html").as_uri()] + [
        (run / "articles" / f"{page_stem(i)}.html").as_uri()
        for i in (TRAVERSAL_ID, ABSOLUTE_ID, "world/korea-rates.txt")
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        logs = list(pool.map(lambda url: console(tmp_path, url), urls))
    for url, log in zip(urls, logs, strict=True):
        assert "Content Security Policy" not in log, (url, log[:2000])
    # The check itself works: an inline style attribute on an article page is reported.
    page = run / "articles" / f"{page_stem(ABSOLUTE_ID)}.html"
    copy = page.with_name("styled-" + page.name)
    original = page.read_text(encoding="utf-8")
    assert original.count("<body>") == 1
    copy.write_text(
        original.replace("<body>", '<body><p style="color:red">styled</p>'), encoding="utf-8"
    )
    try:
        assert "Content Security Policy" in console(tmp_path, copy.as_uri())
    finally:
        copy.unlink()


def test_screenshots_at_desktop_and_phone_widths(run: Path, tmp_path: Path) -> None:
    korea = (run / "articles" / f"{page_stem('world/korea-rates.txt')}.html").as_uri()
    shots = {
        "index-desktop.png": ((run / "index.html").as_uri(), DESKTOP),
        "index-phone.png": ((run / "index.html").as_uri(), PHONE),
        "article-desktop.png": (korea, DESKTOP),
        "article-phone.png": (korea, PHONE),
    }
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            name: pool.submit(screenshot, tmp_path, url, size, name)
            for name, (url, size) in shots.items()
        }
        paths = {name: f.result() for name, f in futures.items()}
    for name, path in paths.items():
        width, height = png_size(path)
        expected = DESKTOP if "desktop" in name else PHONE
        assert (width, height) == tuple(int(v) for v in expected.split(",")), name
        assert path.stat().st_size > 10_000, f"{name} looks blank"


def test_review_queue_and_flagged_rows_render_without_csp_violations(tmp_path: Path) -> None:
    """The review markup (queue, flagged rows, reasons, confidence) loads cleanly and looks
    right at both widths (``REPORT_SCREENSHOT_DIR`` keeps the screenshots)."""
    out = make_run_dir(tmp_path / "reviewed", reviewed_articles(), stats_of=make_reviewed_stats)
    write_report(out)
    flood = (out / "articles" / f"{page_stem(FLOOD_ID)}.html").as_uri()
    index = (out / "index.html").as_uri()
    with ThreadPoolExecutor(max_workers=4) as pool:
        logs = list(pool.map(lambda url: console(tmp_path, url), [index, flood]))
        dom = pool.submit(dump_dom, tmp_path, flood).result()
        shots = {
            name: pool.submit(screenshot, tmp_path, url, size, name)
            for name, (url, size) in {
                "review-index-desktop.png": (index, DESKTOP),
                "review-index-phone.png": (index, PHONE),
                "review-article-desktop.png": (flood + "#", "1280,1400"),
                "review-article-phone.png": (flood, "390,2400"),
            }.items()
        }
        paths = {name: f.result() for name, f in shots.items()}
    for log in logs:
        assert "Content Security Policy" not in log, log[:2000]
    flagged = [a for t, a in dom.tags if t == "tr" and a.get("class") == "flagged"]
    assert len(flagged) == 3
    assert not any(t == "img" for t, _ in dom.tags)  # the loop's markup stayed text
    for path in paths.values():
        assert path.stat().st_size > 10_000


# The page measures itself inside an iframe of the asked width (headless Chromium keeps its
# window at least 500 px wide) and posts what it found to the frame around it, which shows
# it in a <pre> for --dump-dom. Only a copy of the page gets the probe (and loses its CSP).
_PROBE = """<script>
addEventListener('load', () => {
  const out = {viewport: innerWidth, page: document.documentElement.scrollWidth, tables: [],
               cells: []};
  for (const box of document.querySelectorAll('.scroll')) {
    out.tables.push({table: box.firstElementChild.className || box.firstElementChild.id,
                     scroll: box.scrollWidth, client: box.clientWidth});
  }
  for (const el of document.querySelectorAll('td.wrap strong, td.wrap .sub')) {
    const lh = parseFloat(getComputedStyle(el).lineHeight);
    out.cells.push({text: el.textContent, title: el.title,
                    lines: Math.round(el.getBoundingClientRect().height / lh)});
  }
  parent.postMessage(JSON.stringify(out), '*');
});
</script>"""
_FRAME = """<!DOCTYPE html><html><body style="margin:0">
<iframe src="probe-{width}.html" style="border:0;width:{width}px;height:900px"></iframe>
<pre id="measure"></pre><script>
addEventListener('message', e => {{ document.getElementById('measure').textContent = e.data; }});
</script></body></html>"""


def measure_layout(tmp: Path, page: Path, width: int) -> dict:
    """Widths of the page's scrolling tables and lines of its model cells at ``width`` px."""
    import html
    import json
    import re

    source = page.read_text("utf-8")
    source = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", source)
    probe = page.with_name(f"probe-{width}.html")
    frame = page.with_name(f"frame-{width}.html")
    probe.write_text(source.replace("</body>", _PROBE + "</body>"), "utf-8")
    frame.write_text(_FRAME.format(width=width), "utf-8")
    try:
        dom = chromium(tmp, frame.as_uri(), "--window-size=1200,1000",
                       "--allow-file-access-from-files", "--dump-dom")
    finally:
        probe.unlink()
        frame.unlink()
    found = re.search(r'<pre id="measure">(.*?)</pre>', dom, re.S)
    assert found and found.group(1), dom[-2000:]
    return json.loads(html.unescape(found.group(1)))


LONG_PATHS = {
    "/home/reporter/projects/newsroom/models/sshleifer--distilbart-cnn-12-6":
        "…/models/sshleifer--distilbart-cnn-12-6",
    "/home/reporter/.cache/huggingface/hub/models--facebook--nllb-200-distilled-600M/snapshots/"
    "a4f8f3ea906ed274767e9906dbaede7531d660ff": "facebook/nllb-200-distilled-600M@a4f8f3ea906e",
}


def test_index_tables_fit_a_phone_and_paths_are_short(tmp_path: Path) -> None:
    """At 390 px (and 320) no table of the index scrolls sideways and each model path takes a
    line or two, shortened to its last parts with the full path on hover."""
    import json

    out = make_run_dir(tmp_path / "phone")
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    (long_id, _), (long_path, _) = LONG_PATHS.items()
    stats["models"][0].update(model_id=long_id, path=long_path)
    stats["models"][1]["path"] = long_id
    stats["runs"] = [{"run": "2026-12-01T10:00:00+00:00", "wall_s": 120.0, "processed": 8,
                      "ok": 8, "failed": 0, "resumed": 0, "articles_per_s": 0.07,
                      "device": "cuda:0", "interrupted": True}]
    (out / "stats.json").write_text(json.dumps(stats), encoding="utf-8")
    index = write_report(out)
    with ThreadPoolExecutor(max_workers=3) as pool:
        found = dict(zip((390, 320, 1280), pool.map(
            lambda w: measure_layout(tmp_path, index, w), (390, 320, 1280)), strict=True))
    for width, layout in found.items():
        assert layout["viewport"] == width and layout["page"] == width, layout
        tables = {t["table"]: t["scroll"] - t["client"] for t in layout["tables"]}
        assert {"models", "stages", "runs", "articles"} <= set(tables)
        assert all(v == 0 for v in tables.values()), (width, tables)
        cells = layout["cells"]
        assert len(cells) == 4 and all(c["lines"] <= (1 if width >= 390 else 2)
                                       for c in cells), (width, cells)
    shown = {c["text"]: c["title"] for c in found[390]["cells"]}
    for full, short in LONG_PATHS.items():
        assert shown[short] == full  # the full path on hover
    assert shown["facebook/nllb-200-distilled-600M <beta>"] == ""  # a hub id is left as it is
