"""Markdown pages: article text stays text on real CommonMark/GFM renderers (cmark-gfm,
GitHub's own, and markdown-it with linkify, what VS Code uses)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from summarize.outputs.markdown import WORD_JOINER, _md_escape, _md_inline, render_markdown
from summarize.records import ArticleResult

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def _renderers():
    found = []
    try:
        import cmarkgfm
        from cmarkgfm.cmark import Options

        found.append(("cmark-gfm", lambda text: cmarkgfm.github_flavored_markdown_to_html(
            text, options=Options.CMARK_OPT_UNSAFE)))  # unsafe: raw HTML would show as HTML
    except ImportError:
        pass
    try:
        from markdown_it import MarkdownIt

        MarkdownIt("gfm-like").render("www.example.com")  # linkify needs linkify-it-py
        found.append(("markdown-it gfm-like", MarkdownIt("gfm-like").render))
    except (ImportError, ModuleNotFoundError):
        pass
    return found


RENDERERS = _renderers()
if not RENDERERS:  # pragma: no cover - the test extra installs both
    pytest.skip("no Markdown renderer installed (pip install -e '.[test]')",
                allow_module_level=True)

#: One member of each class of construct a line of text can start or contain.
CONSTRUCTS = [
    # thematic breaks and setext headings
    "---", "***", "___", "- - -", " * * *", "Title\n===", "Title\n---", "Title\n  ====  ",
    # lists, task lists, block quotes, headings
    "1. first", "1) first", "2019. A year", "123456789) x", "+ plus", "- minus", "* star",
    "- [x] done", "[ ] task", "> quote", ">> nested", "# h1", "###### h6", "## closed ##",
    # code: fences, indentation, spans
    "```\ncode\n```", "~~~ python\ncode\n~~~", "    indented code", "\tindented by a tab",
    "para\n\n    code after a blank line", "`span` and ``double``",
    # tables
    "| a | b |\n| --- | --- |\n| c | d |", "a | b\n--- | ---\nc | d", "|x|",
    # emphasis and strikethrough
    "*em* _em_ **strong** __strong__ ***both***", "a ~~strike~~ b ~single~ c", "snake_case_word",
    # links, images, footnotes, references, autolinks
    "[link](http://x) ![img](y.png)", "[ref]\n\n[ref]: http://evil.example",
    "a[^1] note\n\n[^1]: f",
    "<http://auto.link>", "<me@example.com>", "see http://evil.com/x?y=1 and https://a.b/c",
    "visit www.example.com today", "x.com and example.org/path", "ftp://files.example.net",
    "mail me@example.com now", "user.name+tag@mail.co.uk", "xmpp:a@b.c", "mailto:x@y.z",
    # HTML and entities
    "<b>bold</b> <!-- c -->", "<div>\nblock\n</div>", "<script>alert(1)</script>",
    "&amp; &copy; &#x202E; &#65;", "a < b > c",
    # line breaks from trailing spaces or backslash; math; emoji shortcodes
    "two spaces  \nnext", "backslash\\\nnext", "$x$ and $$y$$", ":smile: :+1:",
    # text that only looks technical
    "C++ and C#", "U.S. economy grew 3.5% to $1.2bn at 10:30 a.m.", "foo\\bar", "Term: value",
]


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)

    def handle_data(self, data) -> None:
        self.text.append(data)


def _parse(html: str) -> _Html:
    parser = _Html()
    parser.feed(html)
    return parser


def _words(text: str) -> str:
    return " ".join(text.split())


def _expected(text: str) -> str:
    """What a reader should see: the text without controls and bidi controls."""
    return _words(re.sub(f"[{BIDI}\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]", "", text))


@pytest.mark.parametrize(("name", "render"), RENDERERS, ids=[n for n, _ in RENDERERS])
@pytest.mark.parametrize("text", CONSTRUCTS)
def test_text_renders_as_paragraphs_of_the_same_text(name, render, text):
    html = render(_md_escape(text))
    parsed = _parse(html)
    assert set(parsed.tags) <= {"p"}, (text, html)
    assert _words("".join(parsed.text).replace(WORD_JOINER, "")) == _expected(text), html


@pytest.mark.parametrize(("name", "render"), RENDERERS, ids=[n for n, _ in RENDERERS])
def test_bidi_and_controls_are_removed_from_titles_and_text(name, render):
    hostile = "abc\u202edcba\u2066x\u2069 y\u200e\u200f\u061c z\x1b[2J\u2028w"
    for value in (_md_inline(hostile), _md_escape(hostile)):
        assert not re.search(f"[{BIDI}\x1b\u2028]", value)
    record = ArticleResult(id=hostile, source=hostile, status="ok", title=hostile,
                           text=hostile, summary=hostile)
    page = render_markdown(record)
    assert not re.search(f"[{BIDI}\x1b\u2028]", page)
    assert set(_parse(render(page)).tags) <= {"h1", "h2", "ul", "li", "p"}


@pytest.mark.parametrize(("name", "render"), RENDERERS, ids=[n for n, _ in RENDERERS])
def test_a_whole_page_has_only_its_own_structure(name, render):
    text = "\n".join(CONSTRUCTS)
    one_line = " ".join(CONSTRUCTS)
    record = ArticleResult(
        id="world/" + one_line[:80], source=one_line, status="ok", title=one_line,
        text=text, summary=text, error=None, chunks=2,
        translations={"ko": {"summary": text, "article": text}},
        alignment={"ko": {"article": [[[c, c[::-1]] for c in CONSTRUCTS]]}},
        timings={"summarize": 0.5},
    )
    html = render(render_markdown(record))
    parsed = _parse(html)
    structure = {"h1", "h2", "ul", "li", "p", "table", "thead", "tbody", "tr", "th", "td"}
    assert set(parsed.tags) <= structure, html
    assert parsed.tags.count("h1") == 1 and parsed.tags.count("table") == 1
    # every sentence pair is one row: no cell was split by a pipe in the text
    assert parsed.tags.count("tr") == 1 + len(CONSTRUCTS)
    assert WORD_JOINER not in one_line and "href" not in html and "<a" not in html


def test_ordinary_text_keeps_its_look_in_the_file():
    """Escapes are where a construct could start, not everywhere: prose stays readable."""
    assert _md_escape("Voters head to the polls, officials said.") == (
        "Voters head to the polls, officials said.")
    assert _md_escape("- a list?") == "\\- a list?"
    assert _md_escape("1. one") == "1\\. one"
    assert _md_escape("   indented") == "indented"
