"""HTML main-text extraction: tables, pass merging, repeated headlines, huge attributes."""

from __future__ import annotations

import time

import pytest

from summarize.errors import ArticleError
from summarize.inputs import html as html_module
from summarize.inputs.html import extract_html
from summarize.text import clean_text, split_paragraphs

PARAGRAPHS = [
    "The city council approved a new transport plan on Tuesday after a long debate that "
    "lasted well into the evening, officials said.",
    "The plan adds three bus lines and extends the tram network to the northern districts, "
    "which have lacked public transport for decades.",
    "Work is expected to begin next spring and to last about two years, according to the "
    "council's own estimates published with the decision.",
]


def page(article: str, title: str = "Council approves transport plan", outside: str = "") -> bytes:
    return (
        f"<html><head><title>{title}</title></head><body>"
        "<nav><a href='/'>Home</a> <a href='/news'>News</a> <a href='/sport'>Sport</a></nav>"
        f"<article>{article}</article>{outside}"
        "<footer>Copyright 2024 Example News. All rights reserved.</footer></body></html>"
    ).encode()


def paragraphs_of(data: bytes) -> list[str]:
    text, _ = extract_html(data)
    return split_paragraphs(clean_text(text))


def ps(texts: list[str]) -> str:
    return "".join(f"<p>{t}</p>" for t in texts)


# --- tables -----------------------------------------------------------------------------------

STANDINGS = (
    "<table><thead><tr><th>Team</th><th>Played</th><th>Won</th><th>Points</th></tr></thead>"
    "<tbody>"
    "<tr><td><a href='/t/rovers'>Rovers</a></td><td>10</td><td>8</td><td>24</td></tr>"
    "<tr><td><a href='/t/united'>United</a></td><td>10</td><td>8</td><td>24</td></tr>"
    "<tr><td><a href='/t/city'>City</a></td><td>10</td><td>7</td><td>22</td></tr>"
    "<tr><td><a href='/t/athletic'>Athletic</a></td><td>10</td><td></td><td>16</td></tr>"
    "</tbody></table>"
)


def test_table_bodied_article_keeps_its_rows():
    intro = "Three teams are level on points at the top of the league after a weekend of upsets."
    data = page(f"<h1>League standings</h1><p>{intro}</p>{STANDINGS}", title="League standings")
    got = paragraphs_of(data)
    assert got == [
        intro,
        "Team | Played | Won | Points",
        "Rovers | 10 | 8 | 24",
        "United | 10 | 8 | 24",
        "City | 10 | 7 | 22",
        "Athletic | 10 | 16",  # an empty cell is left out
    ]


def test_layout_table_is_unwrapped_and_navigation_table_dropped():
    menu = "".join(f"<a href='/{w}'>{w.title()}</a><br>" for w in ("home", "news", "weather"))
    links = "".join(
        "<tr>" + "".join(f"<td><a href='/{w}'>{w.title()}</a></td>" for w in row) + "</tr>"
        for row in (("archive", "contact", "about"), ("jobs", "advertise", "privacy"))
    )
    body = (
        f"<table width='100%'><tr><td class='menu'>{menu}</td><td class='main'>"
        f"<h1>Old council news</h1>{ps(PARAGRAPHS[:2])}<table>{links}</table>"
        f"{ps(PARAGRAPHS[2:])}</td></tr></table>"
    )
    data = f"<html><head><title>Old council news</title></head><body>{body}</body></html>"
    got = paragraphs_of(data.encode())
    assert got == PARAGRAPHS  # article paragraphs as paragraphs, not as cells
    text = "\n".join(got)
    for junk in ("|", "Weather", "Archive", "Privacy"):
        assert junk not in text


def test_layout_and_navigation_rules():
    from lxml import html as lxml_html

    def classify(markup: str) -> str:
        tree = lxml_html.fromstring(f"<html><body>{markup}</body></html>")
        html_module._prepare_tables(tree)
        tables = list(tree.iter("table"))
        return "kept" if tables else ("unwrapped" if "x" in tree.text_content() else "removed")

    two_by_two = "<table><tr><td>x</td><td>1</td></tr><tr><td>y</td><td>2</td></tr></table>"
    assert classify(two_by_two) == "kept"
    assert classify("<table><tr><td>x</td><td>1</td></tr></table>") == "unwrapped"  # one row
    assert classify("<table><tr><td>x</td></tr><tr><td>y</td></tr></table>") == "unwrapped"
    assert classify(two_by_two.replace("<td>1</td>", "<td><p>1</p></td>")) == "unwrapped"
    assert classify(two_by_two.replace("x", "x" * 400)) == "unwrapped"
    nav = two_by_two.replace("<td>", "<td><a href='/'>").replace("</td>", "</a></td>")
    assert classify(nav) == "removed"


# --- precision start, balanced tail ----------------------------------------------------------


def test_trailing_short_paragraph_is_kept():
    # trafilatura's precision pass drops page-bottom containers ("article-bottom", bordered
    # boxes), even when they hold the article's last paragraph
    last = "The council meets again on Friday."
    data = page(ps(PARAGRAPHS) + f"<div class='article-bottom'><p>{last}</p></div>")
    assert paragraphs_of(data) == [*PARAGRAPHS, last]


def test_combine_takes_inner_and_prose_tail_blocks_only():
    a, b, c = PARAGRAPHS
    precise = [a, c]
    balanced = [
        "Teaser: another story",  # before the start: never taken
        a,
        "Read more: how the tram network grew",  # inside: a link line of the article
        "- Share\n- Tweet",  # inside, but a list of links
        c,
        "The council meets again on Friday, a spokesperson said.",  # after: prose
        "Related stories",  # after: not prose, and nothing after it is taken
        "This sentence would read as prose but comes after the related stories.",
    ]
    assert html_module._combine(precise, balanced) == [
        a,
        "Read more: how the tram network grew",
        c,
        "The council meets again on Friday, a spokesperson said.",
    ]


def test_combine_uses_balanced_when_precision_finds_little():
    balanced = ["A caption.", *PARAGRAPHS]
    assert html_module._combine(["A caption."], balanced) == balanced
    assert html_module._combine(PARAGRAPHS, []) == PARAGRAPHS


# --- repeated headline ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "Council approves transport plan",
        "Council approves transport plan | Example News",
        "Council approves transport plan - Example News",
        "Example News: Council approves transport plan",
    ],
)
def test_repeated_headline_is_dropped(title):
    blocks = ["By Jane Doe", "Council approves new transport plan", *PARAGRAPHS]
    assert html_module._drop_repeated_title(blocks, title) == ["By Jane Doe", *PARAGRAPHS]


def test_headline_far_down_or_a_longer_sentence_is_kept():
    title = "Council approves transport plan"
    late = [*PARAGRAPHS, PARAGRAPHS[0], "Council approves transport plan", PARAGRAPHS[1]]
    assert html_module._drop_repeated_title(late, title) == late
    lede = ["Council approves transport plan after a nine-hour debate on Tuesday night.", "x"]
    assert html_module._drop_repeated_title(lede, title) == lede
    assert html_module._drop_repeated_title([title], title) == [title]  # never empties


def test_headline_repeated_as_second_paragraph_in_a_page():
    title = "Council approves transport plan"
    data = page(
        f"<h1>{title}</h1><p class='kicker'>Council approves the transport plan</p>"
        + ps(PARAGRAPHS),
        title=f"{title} | Example News",
    )
    text, got_title = extract_html(data)
    assert got_title.startswith(title)
    assert split_paragraphs(clean_text(text)) == PARAGRAPHS


# --- huge values ------------------------------------------------------------------------------

BIG = "A" * 10_500_000  # more than libxml2's 10,000,000-character node limit


@pytest.mark.parametrize(
    "blob",
    [
        f'<img src="data:image/png;base64,{BIG}" alt="map">',
        f"<img alt=map src=data:image/png;base64,{BIG} width=300>",
        f"<div style='background:url(data:image/png;base64,{BIG})'></div>",
        f"<script>var state = '{BIG}';</script>",
        f"<!-- {BIG} -->",
    ],
    ids=["data-uri", "unquoted", "style", "script", "comment"],
)
def test_huge_value_before_the_paragraphs_keeps_every_paragraph(blob):
    many = [f"{p} (part {n})" for n in range(4) for p in PARAGRAPHS]
    data = page(f"<p>{many[0]}</p>{blob}{ps(many[1:])}")
    start = time.process_time()
    got = paragraphs_of(data)
    assert got == many
    assert time.process_time() - start < 5


def test_small_pages_and_short_values_are_left_alone():
    small = "<p title='x'>text</p>" * 10
    assert html_module._strip_huge_values(small) is small
    big_page = "<img src='data:image/png;base64,AAAA'><p class=\"a\">it's fine</p>" * 30_000
    assert html_module._strip_huge_values(big_page) == big_page


def test_text_run_over_the_parser_limit_fails_the_article():
    data = page("<p>" + "word " * 2_100_000 + "</p>")
    with pytest.raises(ArticleError, match="text block over 10,000,000 characters"):
        extract_html(data)


# --- no article -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<html></html>",
        b"<html><head><script>var a = 1;</script></head><body><nav>Home</nav></body></html>",
        b"<html><body><table><tr><td><a href='/a'>News</a></td><td><a href='/b'>Sport</a></td>"
        b"</tr><tr><td><a href='/c'>Weather</a></td><td><a href='/d'>Contact</a></td></tr>"
        b"</table><ul><li><a href='/e'>Home</a></li></ul></body></html>",
    ],
    ids=["empty", "bare", "nav-only", "link-table"],
)
def test_page_without_article_raises(data):
    with pytest.raises(ArticleError, match="^no article text found in HTML page$"):
        extract_html(data)
