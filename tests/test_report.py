"""Unit tests of the HTML review report: structure, escaping, file placement and fallbacks."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markupsafe import escape

from summarize.outputs import report
from summarize.outputs.naming import page_stem
from summarize.outputs.report import (
    INDEX_SCRIPT,
    STYLESHEET,
    load_results,
    load_stats,
    write_report,
)
from tests.report_fixtures import (
    ABSOLUTE_ID,
    ARABIC_TEXT,
    FLOOD_ID,
    HOSTILE_ERROR,
    HOSTILE_IMG,
    HOSTILE_JS_LINK,
    HOSTILE_PWN_SCRIPT,
    HOSTILE_QUOTES,
    HOSTILE_TITLE,
    HOSTILE_TRANSLATED_TITLE,
    LONG_WORD,
    PIVOT_ID,
    PIVOT_SUMMARY_EN,
    RATES_JA_TITLE,
    RATES_KO_TITLE,
    TRAVERSAL_ID,
    article,
    default_articles,
    make_reviewed_stats,
    make_run_dir,
    make_stats,
    pivot_article,
    reviewed_articles,
)

# Every tag the report itself emits; anything else must have come from data.
ALLOWED_TAGS = {
    "html", "head", "meta", "link", "title", "style", "script", "body", "header", "main",
    "footer", "section", "article", "aside", "nav", "div", "span", "strong", "code", "br",
    "a", "p", "h1", "h2", "h3", "ul", "li", "dl", "dt", "dd", "table", "colgroup", "col",
    "thead", "tbody", "tr", "th", "td", "button", "input", "select", "option", "svg", "line",
    "rect", "path", "bdi", "details", "summary", "ol",
}  # fmt: skip
ALLOWED_ATTRS = {
    "lang", "charset", "http-equiv", "content", "name", "rel", "href", "class", "id", "dir",
    "title", "role", "type", "placeholder", "autocomplete", "value", "colspan",
    "viewbox", "preserveaspectratio", "x", "y", "width", "height", "x1", "x2", "y1", "y2",
    "vector-effect", "shape-rendering", "d", "open",
}  # fmt: skip
ALLOWED_IDS = {"articles", "articles-section", "problems", "q", "status", "shown", "review"}
ARTICLE_HREF = re.compile(r"^articles/[A-Za-z0-9._-]+\.html$")
SIBLING_HREF = re.compile(r"^[A-Za-z0-9._-]+\.(html|md)$")


class Page(HTMLParser):
    """Collects every start tag with its attributes, the text, and the inline scripts."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.texts: list[str] = []
        self._raw: str | None = None  # inside <script>/<style>
        self._buf: list[str] = []
        self.feed(source)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._raw, self._buf = tag, []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag == self._raw:
            if tag == "script":
                self.scripts.append("".join(self._buf))
            self._raw = None

    def handle_data(self, data: str) -> None:
        (self._buf if self._raw else self.texts).append(data)

    @property
    def text(self) -> str:
        return "".join(self.texts)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for t, attrs in self.tags if t == tag]

    def csp(self) -> str:
        metas = [m for m in self.all("meta") if m.get("http-equiv") == "Content-Security-Policy"]
        assert len(metas) == 1
        return metas[0]["content"] or ""


def parse(path: Path) -> Page:
    return Page(path.read_text(encoding="utf-8"))


@pytest.fixture
def run(tmp_path: Path) -> Path:
    out = make_run_dir(tmp_path)
    write_report(out)
    return out


def pages(out: Path) -> list[Path]:
    return sorted((out / "articles").glob("*.html"))


def latest_ids() -> list[str]:
    return list(dict.fromkeys(a["id"] for a in default_articles()))


def assert_structure_is_ours(page: Page, *, n_scripts: int) -> None:
    """No element, attribute, link, style or id in the page came from the data."""
    tags = {t for t, _ in page.tags}
    assert tags <= ALLOWED_TAGS, tags - ALLOWED_TAGS
    assert not tags & {"img", "iframe", "object", "embed", "form", "base", "plaintext", "b"}
    assert len(page.all("script")) == n_scripts == len(page.scripts)
    # No inline <style>: exactly one link, to the shared stylesheet (report.css or ../report.css).
    assert not page.all("style")
    links = [a for a in page.all("link") if a.get("rel") == "stylesheet"]
    assert [a.get("href") for a in links] in (["report.css"], ["../report.css"]), links
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert name in ALLOWED_ATTRS or name.startswith(("data-", "aria-")), (tag, name)
            assert "javascript:" not in (value or "").lower(), (tag, name, value)
        if "href" in attrs:
            href = attrs["href"] or ""
            ok = (
                ARTICLE_HREF.match(href)
                or SIBLING_HREF.match(href)
                or re.match(r"^#[a-z-]+$", href)
                or href in ("../index.html", "data:,", "report.css", "../report.css")
            )
            assert ok, href
        assert "style" not in attrs, (tag, attrs)  # the CSP would refuse it anyway
        if "id" in attrs:
            assert attrs["id"] in ALLOWED_IDS, attrs["id"]
        if "lang" in attrs:
            assert re.fullmatch(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*", attrs["lang"] or "")


def test_write_report_returns_index_and_one_page_per_article(run: Path) -> None:
    index = run / "index.html"
    assert write_report(run) == index
    assert index.is_file()
    expected = {f"{page_stem(i)}.html" for i in latest_ids()}
    assert {p.name for p in pages(run)} == expected
    assert not list(run.rglob("*.tmp")), "temporary files left behind"


def test_index_has_no_structure_from_data_and_one_script(run: Path) -> None:
    page = parse(run / "index.html")
    assert_structure_is_ours(page, n_scripts=1)
    assert page.scripts[0] == INDEX_SCRIPT
    assert "innerHTML" not in INDEX_SCRIPT and "insertAdjacentHTML" not in INDEX_SCRIPT
    assert "document.write" not in INDEX_SCRIPT and "eval(" not in INDEX_SCRIPT


def test_article_pages_have_no_structure_from_data_and_no_script(run: Path) -> None:
    for path in pages(run):
        page = parse(path)
        assert_structure_is_ours(page, n_scripts=0)
        csp = page.csp()
        assert "script-src 'none'" in csp and "default-src 'none'" in csp


def test_csp_hash_matches_the_inline_script(run: Path) -> None:
    page = parse(run / "index.html")
    csp = page.csp()
    assert "default-src 'none'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "style-src-attr" not in csp
    assert "img-src data:" in csp
    hashes = re.findall(r"'sha256-([A-Za-z0-9+/=]+)'", csp)
    digest = base64.b64encode(hashlib.sha256(page.scripts[0].encode("utf-8")).digest()).decode()
    assert hashes == [digest]
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";")[0]


def test_article_csp_allows_only_the_report_stylesheet(run: Path) -> None:
    for path in pages(run):
        csp = parse(path).csp()
        assert "style-src 'self'" in csp and "unsafe-inline" not in csp, csp
        assert "script-src 'none'" in csp and "base-uri 'none'" in csp


def test_stylesheet_is_written_once_and_rewritten_only_when_changed(tmp_path: Path) -> None:
    out = make_run_dir(tmp_path)
    write_report(out)
    css = out / STYLESHEET
    shipped = (Path(report.__file__).parent / "static" / STYLESHEET).read_text(encoding="utf-8")
    assert css.read_text(encoding="utf-8") == shipped
    assert [p.relative_to(out) for p in out.rglob("*.css")] == [Path(STYLESHEET)]
    before = css.stat()
    write_report(out)  # unchanged: not rewritten (same inode, same mtime)
    after = css.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    css.write_text("stale", encoding="utf-8")
    write_report(out)  # changed: rewritten atomically
    assert css.read_text(encoding="utf-8") == shipped
    assert not list(out.rglob("*.tmp"))
    for path in [out / "index.html", *pages(out)]:
        assert shipped not in path.read_text(encoding="utf-8")


def test_hostile_strings_appear_escaped_as_text(run: Path) -> None:
    raw = (run / "articles" / f"{page_stem(TRAVERSAL_ID)}.html").read_text(encoding="utf-8")
    page = Page(raw)
    # Jinja2 escapes with markupsafe, which writes quotes as &#34; and &#39;.
    hostiles = (HOSTILE_TITLE, HOSTILE_IMG, HOSTILE_JS_LINK, HOSTILE_PWN_SCRIPT)
    for hostile in (*hostiles, HOSTILE_TRANSLATED_TITLE):
        assert str(escape(hostile)) in raw
        assert hostile in page.text
    assert HOSTILE_QUOTES in page.text
    assert str(escape(HOSTILE_QUOTES)) in raw
    titles = [t for t, _ in page.tags if t == "title"]
    assert len(titles) == 1 and f"<title>{html.escape(HOSTILE_TITLE)}" in raw

    index_raw = (run / "index.html").read_text(encoding="utf-8")
    index = Page(index_raw)
    assert HOSTILE_TITLE in index.text and html.escape(HOSTILE_TITLE) in index_raw
    assert HOSTILE_TRANSLATED_TITLE in index.text
    assert str(escape(HOSTILE_TRANSLATED_TITLE)) in index_raw
    assert HOSTILE_ERROR in index.text and html.escape(HOSTILE_ERROR) in index_raw
    # Model ids and skipped-file names are data too.
    assert "facebook/nllb-200-distilled-600M <beta>" in index.text
    assert "inputs/photo <1>.jpg" in index.text


def test_failed_article_page_shows_escaped_error(run: Path) -> None:
    raw = (run / "articles" / f"{page_stem('broken.pdf')}.html").read_text(encoding="utf-8")
    page = Page(raw)
    assert HOSTILE_ERROR in page.text
    assert "<b>" not in raw and html.escape(HOSTILE_ERROR) in raw


def test_pages_stay_inside_articles_folder_with_distinct_names(tmp_path: Path) -> None:
    out = make_run_dir(tmp_path)
    before = set(tmp_path.rglob("*"))
    write_report(out)
    created = set(tmp_path.rglob("*")) - before
    articles = (out / "articles").resolve()
    assert out / "index.html" in created and out / STYLESHEET in created
    for path in created - {out / "index.html", out / STYLESHEET}:
        assert path.resolve().is_relative_to(articles), path
    traversal = out / "articles" / f"{page_stem(TRAVERSAL_ID)}.html"
    absolute = out / "articles" / f"{page_stem(ABSOLUTE_ID)}.html"
    assert traversal.is_file() and absolute.is_file() and traversal != absolute
    assert not (tmp_path / "etc").exists() and not Path("/abs/path.html").exists()


def test_index_rows_link_to_existing_pages_built_from_page_stem(run: Path) -> None:
    page = parse(run / "index.html")
    rows = [a for t, a in page.tags if t == "tr" and a.get("data-order")]
    assert len(rows) == len(latest_ids())
    links = {a["href"] for a in page.all("a") if ARTICLE_HREF.match(a.get("href") or "")}
    assert links == {f"articles/{page_stem(i)}.html" for i in latest_ids()}
    for href in links:
        assert (run / href).is_file()


def test_article_pages_link_back_to_index(run: Path) -> None:
    for path in pages(run):
        hrefs = [a.get("href") for a in parse(path).all("a")]
        assert "../index.html" in hrefs
        for href in hrefs:
            if href and SIBLING_HREF.match(href) and href.endswith(".html"):
                assert (path.parent / href).is_file()


def test_duplicate_ids_last_line_wins_and_torn_line_is_skipped(run: Path) -> None:
    records = load_results(run)
    assert [r["id"] for r in records] == latest_ids()
    korea = next(r for r in records if r["id"] == "world/korea-rates.txt")
    assert korea["title"] == "Bank of Korea holds rates steady" and korea["status"] == "ok"
    text = parse(run / "index.html").text
    assert "STALE ATTEMPT" not in text and "out of memory (first attempt)" not in text
    assert "torn-after-crash" not in text


def test_last_line_wins_keeps_first_position(tmp_path: Path) -> None:
    arts = [
        article("a", title="A1"),
        article("b", title="B"),
        article("a", title="A2"),
        article("a", title="A3"),
    ]
    out = make_run_dir(tmp_path, arts, torn_line=False)
    assert [(r["id"], r["title"]) for r in load_results(out)] == [("a", "A3"), ("b", "B")]


def test_load_results_skips_garbage_lines(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    lines = [
        json.dumps(article("ok")),
        "not json",
        "[1, 2]",
        '{"id": 5}',
        '{"no_id": true}',
        "",
        '{"id": "also-ok", "title": "x"}',
        b"\xff\xfe broken bytes".decode("latin-1"),
    ]
    (out / "results.jsonl").write_text("\n".join(lines), encoding="utf-8")
    assert [r["id"] for r in load_results(out)] == ["ok", "also-ok"]
    assert load_results(tmp_path / "missing") == []


def test_missing_stats_json_still_builds_report(tmp_path: Path) -> None:
    out = make_run_dir(tmp_path, stats=False)
    assert load_stats(out) == {}
    index = write_report(out)
    page = parse(index)
    assert_structure_is_ours(page, n_scripts=1)
    assert "No stats.json found" in page.text
    assert "Summed from per-article timings" in page.text
    assert len(pages(out)) == len(latest_ids())


@pytest.mark.parametrize("content", ["{not json", "[1, 2, 3]", "", "null"])
def test_unreadable_stats_json_is_ignored(tmp_path: Path, content: str) -> None:
    out = make_run_dir(tmp_path)
    (out / "stats.json").write_text(content, encoding="utf-8")
    assert load_stats(out) == {}
    assert_structure_is_ours(parse(write_report(out)), n_scripts=1)


def test_missing_and_null_fields_show_a_dash(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    records = [
        {"id": "bare"},
        {
            "id": "nulls",
            "title": None,
            "status": None,
            "text": None,
            "summary": None,
            "chunks": None,
            "translations": None,
            "alignment": {"ko": None, "ja": {"summary": "not a list"}},
            "timings": {"total": None, "read": "slow"},
            "n_words": 10**400,
            "n_chars": float("nan"),
            "lang": 3,
        },
        {
            "id": "odd-shapes",
            "translations": {"ko": {"summary": None, "article": 7}},
            "alignment": {"ko": {"summary": [[["only source"]], [None, "x"], "bad"]}},
            "timings": [],
        },
    ]
    (out / "results.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    stats = {
        "schema_version": 1,
        "started_at": None,
        "wall_s": None,
        "device": None,
        "models": [None, {"model_id": None}, "x"],
        "stages": {"load": None, "summarize": {"seconds": "x"}, "translate": {"seconds": 1.5}},
        "articles": None,
        "packages": None,
        "failures": [None, {"id": None, "error": None}],
        "skipped": None,
        "targets": None,
        "peak_gpu_mb": None,
    }
    (out / "stats.json").write_text(json.dumps(stats))
    index = write_report(out)
    page = parse(index)
    assert_structure_is_ours(page, n_scripts=1)
    assert "–" in page.text
    assert len(pages(out)) == 3
    for path in pages(out):
        assert_structure_is_ours(parse(path), n_scripts=0)


def test_empty_run_builds_an_index(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    page = parse(write_report(out))
    assert_structure_is_ours(page, n_scripts=1)
    assert "no articles" in page.text


def test_alignment_renders_one_row_per_sentence_pair_with_lang(run: Path) -> None:
    korea = next(a for a in default_articles() if a["title"].startswith("Bank of Korea"))
    page = parse(run / "articles" / f"{page_stem(korea['id'])}.html")
    cells = page.all("td")
    ko_cells = [c for c in cells if c.get("class") == "tgt" and c.get("lang") == "ko"]
    ko_pairs = sum(len(p) for part in korea["alignment"]["ko"].values() for p in part)
    assert len(ko_cells) == ko_pairs
    assert all(c.get("dir") == "auto" for c in cells if c.get("class") in ("src", "tgt"))
    assert "sentence by sentence" in page.text
    # zh has a translated summary but no alignment: it is in the side-by-side summaries, and
    # no table repeats it paragraph by paragraph.
    assert "Summary → zh" not in page.text and "paragraph by paragraph" not in page.text
    for code in ("ko", "ja", "zh"):
        assert any(a.get("lang") == code for _, a in page.tags)
    for sentence in (
        "한국은행은 목요일 기준금리를 3.5%로 유지했다.",
        "韩国央行将基准利率维持在3.5%。",
    ):
        assert sentence in page.text


def test_rtl_cjk_long_word_and_empty_summary(run: Path) -> None:
    arabic = parse(run / "articles" / f"{page_stem(ABSOLUTE_ID)}.html")
    assert ARABIC_TEXT.split("\n\n")[0] in arabic.text
    assert any(a.get("lang") == "ar" and a.get("dir") == "auto" for _, a in arabic.tags)
    long_word = parse(run / "articles" / f"{page_stem('long-word.txt')}.html")
    assert LONG_WORD in long_word.text
    empty = parse(run / "articles" / f"{page_stem('empty-summary.txt')}.html")
    assert "(empty summary)" in empty.text
    css = (run / STYLESHEET).read_text(encoding="utf-8")
    assert "overflow-wrap:anywhere" in css and '"Noto Sans CJK KR"' in css


def test_every_page_needs_nothing_outside_the_report(run: Path) -> None:
    css = (run / STYLESHEET).read_text(encoding="utf-8")
    assert "http://" not in css and "https://" not in css and "@import" not in css
    assert "url(" not in css
    for path in [run / "index.html", *pages(run)]:
        raw = path.read_text(encoding="utf-8")
        page = Page(raw)
        assert raw.startswith("<!DOCTYPE html>")
        assert {"charset": "utf-8"} in page.all("meta")
        assert any(
            m.get("name") == "viewport"
            and m.get("content") == "width=device-width, initial-scale=1"
            for m in page.all("meta")
        )
        assert all(not s.get("src") for s in page.all("script"))
        assert "http://" not in raw and "https://" not in raw and "@import" not in raw
        assert "url(" not in raw


def test_index_contents(run: Path) -> None:
    page = parse(run / "index.html")
    text = page.text
    for expected in ("facebook/bart-large-cnn", "mit", "unknown", "cuda:0", "bfloat16"):
        assert expected in text
    for stage in ("load", "read", "summarize", "translate", "write"):
        assert stage in text
    assert "Where the time went" in text and "Time per article" in text
    stage_bars = [r for r in page.all("rect") if "bar-fill" in (r.get("class") or "")]
    assert len(stage_bars) == 6  # load, read, summarize, translate, write and "other"
    assert len(page.all("rect")) - len(stage_bars) == len(latest_ids())
    heads = [a.get("data-key") for a in page.all("th") if a.get("data-key")]
    assert heads == ["order", "title", "lang", "words", "chunks", "seconds", "status"]
    statuses = [a.get("value") for a in page.all("option")]
    assert statuses == ["", "error", "ok"]
    assert "not an article type (.jpg)" in text


def test_writes_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = make_run_dir(tmp_path)
    index = write_report(out)
    old = index.read_bytes()
    for page in (out / "articles").glob("*.html"):
        page.unlink()  # unchanged pages are not rewritten; make the next write happen

    def fail(src: str, dst: str) -> None:
        raise OSError("disk full")

    from summarize.outputs import writers

    monkeypatch.setattr(writers.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_report(out)
    assert index.read_bytes() == old
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert os.access(index, os.R_OK)


def test_report_package_loads_no_model_libraries() -> None:
    modules = sorted(Path(report.__file__).parent.glob("*.py"))
    assert len(modules) > 1
    for module in modules:
        source = module.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import|from)\s+(torch|transformers)\b", source, re.M)


WRONG_VALUES = [None, "", "text", 0, -1, 1.5, True, 10**400, [], [1, "a", None], {}, {"x": [1]}]
RECORD_FIELDS = [
    "title", "lang", "status", "error", "text", "summary", "chunks", "translations",
    "alignment", "timings", "n_words", "n_chars", "page", "finished_at", "source",
    "schema_version", "review",
]  # fmt: skip
STATS_FIELDS = [
    "schema_version", "started_at", "finished_at", "wall_s", "device", "device_name", "dtype",
    "models", "stages", "articles", "packages", "failures", "skipped", "targets", "translate",
    "source_lang", "articles_per_s", "peak_rss_mb", "peak_gpu_mb", "review_flags",
]  # fmt: skip


@pytest.mark.parametrize("value", WRONG_VALUES, ids=lambda v: repr(v)[:16])
def test_a_wrong_type_in_any_field_never_crashes_the_report(tmp_path: Path, value: object) -> None:
    """Every record and stats field set to the same wrong-typed value still builds a report."""
    base = article("base", title="T", text="A. B.", summary="S.", translations={"ko": {}})
    records = [base] + [{**base, "id": f"bad-{name}", name: value} for name in RECORD_FIELDS]
    nested = {
        "translations": {"ko": value, "ja": {"summary": value, "title": value}},
        "alignment": {"ko": value, "ja": {"summary": value, "article": [value, [value]]}},
        "timings": {"total": value, "read": value},
        "review": {"score": value, "flags": {"cut": value, "x": 1}, "c": value,
                   "summary": {"c": [value, value], "f": [value, [value], ["cut", value]]},
                   "translations": {"ko": value, "ja": {"summary": [value, [value]]}}},
    }
    records += [{**base, "id": f"nested-{name}", name: v} for name, v in nested.items()]
    out = make_run_dir(tmp_path, records, stats=False, torn_line=False)
    stats = make_stats([base])
    stats.update(dict.fromkeys(STATS_FIELDS, value))
    (out / "stats.json").write_text(json.dumps(stats), encoding="utf-8")
    page = parse(write_report(out))
    assert_structure_is_ours(page, n_scripts=1)
    assert len(pages(out)) == len(records)
    for path in pages(out):
        assert_structure_is_ours(parse(path), n_scripts=0)


def korea_page(run: Path) -> tuple[str, Page]:
    raw = (run / "articles" / f"{page_stem('world/korea-rates.txt')}.html").read_text("utf-8")
    return raw, Page(raw)


def test_translated_titles_are_shown_beside_the_original(run: Path) -> None:
    raw, page = korea_page(run)
    h1 = raw.index("<h1")
    for code, title in (("ko", RATES_KO_TITLE), ("ja", RATES_JA_TITLE)):
        at = raw.index(f'<span dir="auto" lang="{code}">{title}</span>')
        assert h1 < at < raw.index('class="summaries"'), code  # right under the title
    index_raw = (run / "index.html").read_text("utf-8")
    row = re.search(
        r'<tr data-order="\d+"[^>]*>(?:(?!</tr>).)*Bank of Korea(?:(?!</tr>).)*</tr>', index_raw
    )
    assert row and f'<bdi lang="ko">{RATES_KO_TITLE}</bdi>' in row.group(0)
    assert f'<bdi lang="ja">{RATES_JA_TITLE}</bdi>' in row.group(0)


def test_no_translated_title_leaves_the_title_as_it_was(run: Path) -> None:
    page = parse(run / "articles" / f"{page_stem('science/vaccine.html')}.html")
    assert not [a for t, a in page.tags if t == "ul" and a.get("class") == "titles"]
    assert "New vaccine safe and effective, trial finds" in page.text
    index = (run / "index.html").read_text("utf-8")
    row = re.search(
        r'<tr data-order="\d+"[^>]*>(?:(?!</tr>).)*New vaccine(?:(?!</tr>).)*</tr>', index
    )
    assert row and 'class="tr"' not in row.group(0)


def test_summary_comes_first_then_alignment_then_source_then_details(run: Path) -> None:
    raw, page = korea_page(run)
    summary = raw.index('<section class="summaries"')
    article_alignment = raw.index("Article → ko")
    source = raw.index('<details class="source"')
    details = raw.index('<section class="details"')
    assert summary < article_alignment < source < details
    assert raw.index('<div class="errbox"') < summary if "errbox" in raw else True
    # The summary and every translated summary sit side by side in the first block.
    block = raw[summary : raw.index("</section>", raw.index('<div class="cols">'))]
    for sentence in (
        "The Bank of Korea kept its rate",
        "한국은행은 기준금리를",
        "韓国銀行は政策金利",
        "韩国央行",
    ):
        assert sentence in block, sentence
    # Sentence tables of the summary are folded inside that block; the article's are open.
    more = raw.index('<details class="more">')
    assert summary < more < raw.index("Summary → ko") < raw.index("</details>", more)
    assert raw.index("</details>", more) < article_alignment
    # The alignment already shows the source sentence by sentence: the full text is folded.
    assert '<details class="source">' in raw
    assert [a for t, a in page.tags if t == "details" and "open" in a] == []


def test_full_source_is_open_when_the_article_was_not_translated(run: Path) -> None:
    raw = (run / "articles" / f"{page_stem('science/vaccine.html')}.html").read_text("utf-8")
    assert '<details class="source" open>' in raw
    assert raw.index('<section class="summaries"') < raw.index('<details class="source" open>')
    assert "Scientists found that the new vaccine" in Page(raw).text


def test_article_translated_without_alignment_gets_paragraph_rows(tmp_path: Path) -> None:
    rec = article(
        "plain",
        title="Plain",
        text="First paragraph.\n\nSecond paragraph.",
        summary="Short.",
        translations={"de": {"summary": "Kurz.", "article": "Erster Absatz.\n\nZweiter Absatz."}},
    )
    out = make_run_dir(tmp_path, [rec], torn_line=False)
    write_report(out)
    page = parse(out / "articles" / f"{page_stem('plain')}.html")
    assert "Article → de" in page.text and "paragraph by paragraph" in page.text
    assert "Summary → de" not in page.text  # shown side by side already
    cells = [a for a in page.all("td") if a.get("class") == "tgt" and a.get("lang") == "de"]
    assert len(cells) == 2


def test_failed_article_shows_the_error_before_anything_else(run: Path) -> None:
    raw = (run / "articles" / f"{page_stem('broken.pdf')}.html").read_text("utf-8")
    assert raw.index('<div class="errbox"') < raw.index('<section class="details"')
    assert 'class="summaries"' not in raw and "<details" not in raw


def test_cjk_text_carries_its_lang_and_the_stylesheet_names_cjk_fonts(run: Path) -> None:
    css = (run / STYLESHEET).read_text("utf-8")
    for font in (
        "Noto Sans CJK KR",
        "Apple SD Gothic Neo",
        "Malgun Gothic",
        "Hiragino Sans",
        "Yu Gothic",
        "Noto Sans CJK JP",
        "PingFang SC",
        "Microsoft YaHei",
        "Noto Sans CJK SC",
    ):
        assert f'"{font}"' in css, font
    for code in ("ko", "ja", "zh"):
        assert f":lang({code}){{font-family:" in css, code
    _, page = korea_page(run)
    langs = {a.get("lang") for _, a in page.tags}
    assert {"en", "ko", "ja", "zh"} <= langs


def test_models_table_shows_engine_and_compute_type(tmp_path: Path) -> None:
    out = make_run_dir(tmp_path)
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    stats["models"] = [{"role": "translator:ko", "model_id": "Helsinki-NLP/opus-mt-tc-big-en-ko",
                        "engine": "ct2", "dtype": "int8", "family": "marian", "load_s": 1.5}]
    (out / "stats.json").write_text(json.dumps(stats), encoding="utf-8")
    raw = write_report(out).read_text("utf-8")
    assert "<th>Engine</th>" in raw
    assert '<td data-label="Engine">ct2 <span class="sub">int8</span></td>' in raw


# --------------------------------------------------------------------------- review signals


@pytest.fixture
def reviewed(tmp_path: Path) -> Path:
    out = make_run_dir(tmp_path / "reviewed", reviewed_articles(), stats_of=make_reviewed_stats)
    write_report(out)
    return out


def _queue(page: str) -> str:
    start = page.index('<ol class="queue">')
    return page[start:page.index("</ol>", start)]


def test_review_queue_lists_flagged_articles_highest_score_first(reviewed: Path) -> None:
    raw = (reviewed / "index.html").read_text("utf-8")
    page = Page(raw)
    assert_structure_is_ours(page, n_scripts=1)
    # the queue comes before everything else of the run
    assert raw.index('id="review"') < raw.index("<h2>Models</h2>")
    queue = _queue(raw)
    links = re.findall(r'<a href="articles/([^"]+)\.html"', queue)
    assert links == [page_stem(FLOOD_ID), page_stem("empty-summary.txt"),
                     page_stem("long-word.txt")]  # scores 12.1, 3.0, 2.0; zero not listed
    assert "Korea" not in queue and "vaccine" not in queue
    item = queue[:queue.index('<li><div class="qhead">', 30)]  # the first item
    assert "numbers ×3" in item and "cut at the limit" in item and "repeats itself" in item
    assert "Floods forced 12,400 people" in item  # the summary's preview
    assert "홍수로 12,400명이" in item  # and its translation's
    assert 'class="conf low"' in item  # the lowest confidence is shown, marked low
    assert "Articles with no flag and confident outputs are not listed" in page.text


def test_index_shows_the_flag_counts_of_stats_json(reviewed: Path) -> None:
    raw = (reviewed / "index.html").read_text("utf-8")
    chips = raw[raw.index('<ul class="chips flags"'):]
    chips = chips[:chips.index("</ul>")]
    assert "numbers <strong>3</strong>" in chips and "repeats itself <strong>2</strong>" in chips
    assert "empty <strong>1</strong>" in chips and "copy" not in chips


def test_article_page_marks_each_flagged_sentence_with_its_reason(reviewed: Path) -> None:
    raw = (reviewed / "articles" / f"{page_stem(FLOOD_ID)}.html").read_text("utf-8")
    page = Page(raw)
    assert_structure_is_ours(page, n_scripts=0)
    assert "script-src 'none'" in page.csp()
    section = raw[raw.index("Article → ko"):]
    rows = re.findall(r'<tr( class="flagged")?><td class="n">([\d.]+)</td>', section)
    assert {num for flagged, num in rows if flagged} == {"1.1", "2.2", "3.1"}
    assert len(rows) == 4
    assert "number 12,400 missing from the translation" in page.text
    assert "generation stopped at the token limit" in page.text
    assert "3 flagged" in page.text and "Needs review" in page.text
    # the loop's reason quotes the output: it stays text
    assert "<img src=x" not in raw and "onerror" not in "".join(
        k for _, a in page.tags for k in a)
    # confidence: a small percentage with the log-probabilities on hover
    confs = [a for t, a in page.tags if t == "span" and "conf" in (a.get("class") or "")]
    assert any("low" in (a.get("class") or "") for a in confs)
    assert any("-9.50" in (a.get("title") or "") for a in confs)


def test_flagged_summary_is_marked(reviewed: Path) -> None:
    raw = (reviewed / "articles" / f"{page_stem('empty-summary.txt')}.html").read_text("utf-8")
    assert '<div class="col flagged">' in raw and "the summary is empty" in raw


def test_records_without_review_still_render(reviewed: Path, run: Path) -> None:
    # an older record in a reviewed run: no marks, no failure
    raw = (reviewed / "articles" / f"{page_stem('science/vaccine.html')}.html").read_text()
    assert 'class="flagged"' not in raw and "Needs review" not in raw
    # a run without any review: the queue says so, pages have no marks
    index = (run / "index.html").read_text("utf-8")
    assert "No review signals recorded" in index and '<ol class="queue">' not in index
    assert 'class="chips flags"' not in index
    for path in pages(run):
        assert 'class="flagged"' not in path.read_text("utf-8")


def test_a_review_with_no_flags_says_nothing_to_review(tmp_path: Path) -> None:
    records = [{**a, "review": {"score": 0, "flags": {}}} for a in default_articles()
               if a["status"] == "ok"]
    out = make_run_dir(tmp_path, records)
    index = (write_report(out)).read_text("utf-8")
    assert "Nothing to review" in index


def test_the_run_history_and_the_run_of_each_article_are_shown(tmp_path: Path) -> None:
    out = make_run_dir(tmp_path)
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    stats["runs"] = [
        {"run": "2026-12-01T10:00:00+00:00", "wall_s": 120.0, "processed": 8, "ok": 8,
         "failed": 0, "resumed": 0, "articles_per_s": 0.07, "device": "cpu"},
        {"run": "2026-12-01T11:00:00+00:00", "wall_s": 0.2, "processed": 0, "ok": 8,
         "failed": 0, "resumed": 8, "articles_per_s": None},
    ]
    (out / "stats.json").write_text(json.dumps(stats), encoding="utf-8")
    first = {**load_results(out)[0], "run": "2026-12-01T10:00:00+00:00"}
    with (out / "results.jsonl").open("a", encoding="utf-8") as handle:
        handle.write("\n" + json.dumps(first) + "\n")  # the latest line of an id wins
    index = write_report(out).read_text("utf-8")
    assert "Runs on this folder (2)" in index
    assert index.index("2026-12-01T11:00:00+00:00") < index.index("2026-12-01T10:00:00+00:00")
    page = (out / "articles" / f"{page_stem(first['id'])}.html").read_text("utf-8")
    assert "Made by run" in page and "2026-12-01T10:00:00+00:00" in page


def test_a_schema2_run_and_its_schema3_rewrite_render_the_same_pages(tmp_path: Path) -> None:
    """Real records of a schema 2 run (tests/data/schema2) and the same records written back
    by the schema 3 writer give byte-identical pages: the rename changes no display."""
    import shutil

    from summarize.records import result_from_json, result_to_json

    old, new = tmp_path / "v2" / "out", tmp_path / "v3" / "out"
    shutil.copytree(Path(__file__).parent / "data" / "schema2", old)
    new.mkdir(parents=True)
    lines = [json.loads(x) for x in (old / "results.jsonl").read_text("utf-8").splitlines()]
    (new / "results.jsonl").write_text("".join(
        json.dumps(result_to_json(result_from_json(x)), ensure_ascii=False) + "\n"
        for x in lines), "utf-8")
    stats = json.loads((old / "stats.json").read_text("utf-8"))
    (new / "stats.json").write_text(json.dumps({**stats, "schema_version": 3}), "utf-8")
    assert '"c":' not in (new / "results.jsonl").read_text("utf-8")

    def stamp_free(path: Path) -> str:
        return re.sub(r"Report generated \S+", "", path.read_text("utf-8"))

    assert stamp_free(write_report(old)) == stamp_free(write_report(new))
    old_pages = sorted(p.name for p in pages(old))
    assert old_pages == sorted(p.name for p in pages(new)) and len(old_pages) == 3
    for name in old_pages:
        assert (old / "articles" / name).read_bytes() == (new / "articles" / name).read_bytes()
    page = (old / "articles" / old_pages[0]).read_text("utf-8")
    assert 'class="flagged"' in page and "cut at the limit" in page and 'class="conf' in page


# --------------------------------------------------------------------------- labels


def test_a_pivoted_summary_is_labelled_with_its_language_and_route(tmp_path: Path) -> None:
    """A Korean article summarized through English: the summary is called English and made
    through English, its en "translation" the summary itself, its ko translation one from
    English, and the sentence table en | ko (never "ko original" nor "ko | ko")."""
    out = make_run_dir(tmp_path, [pivot_article(), *default_articles()[:1]])
    write_report(out)
    raw = (out / "articles" / f"{page_stem(PIVOT_ID)}.html").read_text("utf-8")
    page = Page(raw)
    assert_structure_is_ours(page, n_scripts=0)
    summaries = raw[raw.index('class="summaries"'):raw.index("</section>",
                                                              raw.index('class="summaries"'))]
    heads = re.findall(r"<h3>(.*?)</h3>", summaries)
    assert heads[0].startswith('en <span class="sub">summary of the ko article, made through '
                               'en</span>')
    assert 'en <span class="sub">the summary itself, not translated</span>' in heads
    assert 'ko <span class="sub">translation from en</span>' in heads
    assert "original" not in summaries
    # the summary's paragraphs are marked English, its ko translation Korean
    assert f'<p dir="auto" lang="en">{PIVOT_SUMMARY_EN}</p>' in summaries
    assert re.search(r'<p dir="auto" lang="ko">한국은행은 기준금리를', summaries)
    # the sentence table: English source beside Korean
    assert "Summary (en) → ko" in raw
    table = raw[raw.index('<table class="align">'):]
    assert "<th>#</th><th>en</th><th>ko</th>" in table
    src_cells = [a for t, a in page.tags if t == "td" and a.get("class") == "src"]
    assert src_cells and all(a.get("lang") == "en" for a in src_cells)
    assert all(a.get("data-label", "").endswith("· en") for a in src_cells)
    # the details say how each text was made
    assert ("summary (en): the ko article translated into en by opus-mt-ko-en, then "
            "summarized") in page.text
    assert "ko summary: translated from en by opus-mt-en-ko" in page.text
    assert "en summary: the summary itself (already en), not translated" in page.text
    assert "en title: translated from ko by opus-mt-ko-en" in page.text
    assert "ko (detected)" in page.text
    # the source text and the article stay Korean
    assert re.search(r'<h1 dir="auto" lang="ko">', raw)


def test_a_direct_summary_keeps_its_labels(run: Path) -> None:
    raw, _ = korea_page(run)
    assert 'en <span class="sub">original</span>' in raw
    assert 'ko <span class="sub">translation</span>' in raw
    assert "<th>#</th><th>en</th><th>ko</th>" in raw and "Summary → ko" in raw


def test_empty_outputs_are_shown_flagged(tmp_path: Path) -> None:
    """A summary made only of control characters and its empty translations: the page shows
    each as empty, flagged, with the reason; the queue lists the article."""
    from summarize.records import result_from_json, review_to_json
    from summarize.review import ReviewEvidence, ReviewSettings, review_article

    raw = article("blank.txt", title="Council approves budget",
                  text="The council approved the budget on Tuesday.", summary="\x01\x02 \x7f",
                  translations={"ko": {"summary": "", "title": "\x00"},
                                "ja": {"summary": "\u200b"}})
    review = review_article(result_from_json(raw), ReviewEvidence(), ReviewSettings())
    raw = {**raw, "schema_version": 3, "review": review_to_json(review)}
    out = make_run_dir(tmp_path, [raw])
    index = write_report(out).read_text("utf-8")
    assert "empty ×4" in _queue(index)
    page = (out / "articles" / f"{page_stem('blank.txt')}.html").read_text("utf-8")
    assert_structure_is_ours(Page(page), n_scripts=0)
    assert "(empty summary)" in page and "the summary is empty" in page
    assert page.count("(empty translation)") == 2
    for code in ("ko", "ja"):
        assert (f'<div class="col flagged"><h3>{code} <span class="sub">translation</span>'
                in page)
        assert f"the {code} translation of the summary is empty" in page
    assert "(empty title)" in page and "the ko translation of the title is empty" in page
    assert "\x01" not in page and "\x7f" not in page


BIDI_CONTROLS = ["\u202e", "\u202d", "\u202a", "\u202b", "\u202c", "\u2066", "\u2067",
                 "\u2068", "\u2069"]


@pytest.mark.parametrize("control", BIDI_CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_bidi_controls_reach_no_page(tmp_path: Path, control: str) -> None:
    """A directional override, embedding or isolate in any title, id or text the report shows
    is removed from every page: nothing can turn a title around or spill into the page."""
    spoof = f"invoice{control}fdp.exe"
    hostile = article(
        f"id-{spoof}", title=f"Title {spoof}", text=f"Text {spoof}.", summary=f"Sum {spoof}.",
        source=f"inputs/{spoof}",
        translations={"ko": {"title": f"제목 {spoof}", "summary": f"요약 {spoof}."}},
        alignment={"ko": {"summary": [[[f"Sum {spoof}.", f"요약 {spoof}."]]]}})
    failed = article(f"bad-{spoof}", status="error", error=f"cannot read {spoof}",
                     text="", summary=None)
    out = make_run_dir(tmp_path, [hostile, failed])
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    stats["skipped"] = [{"source": f"skip-{spoof}", "reason": f"binary {spoof}"}]
    stats["failures"] = [{"id": f"gone-{spoof}", "source": f"gone-{spoof}", "error": spoof}]
    stats["models"][0]["model_id"] = f"model-{spoof}"
    stats["device_name"] = spoof
    (out / "stats.json").write_text(json.dumps(stats), encoding="utf-8")
    write_report(out)
    html_files = [out / "index.html", *pages(out)]
    assert len(html_files) == 3
    for path in html_files:
        text = path.read_text("utf-8")
        assert not any(c in text for c in BIDI_CONTROLS), path.name
        assert "invoicefdp.exe" in text  # the text itself stays, in its logical order
    index = (out / "index.html").read_text("utf-8")
    for shown in ("Title invoicefdp.exe", "id-invoicefdp.exe", "gone-invoicefdp.exe",
                  "skip-invoicefdp.exe", "model-invoicefdp.exe"):
        assert shown in index, shown
    page = (out / "articles" / f"{page_stem(hostile['id'])}.html").read_text("utf-8")
    assert "<title>Title invoicefdp.exe – summarize</title>" in page
    assert '<h1 dir="auto" lang="en">Title invoicefdp.exe</h1>' in page


def test_every_flag_kind_has_a_label() -> None:
    from summarize.outputs.report.pages import KIND_LABELS
    from summarize.review.flags import KINDS, WEIGHTS

    assert set(KIND_LABELS) == set(KINDS) == set(WEIGHTS)
    assert len(set(KIND_LABELS.values())) == len(KINDS)
