"""Extract the article text and title of a saved HTML page (trafilatura).

The page goes through trafilatura twice, once favouring precision and once balanced, and
the two results are combined block by block (a block is a paragraph, heading, list,
quote or table row). Rules on top of trafilatura, each measured with
``benchmarks/html_extract.py``:

* **Huge values.** libxml2 stops reading a node after 10,000,000 characters, and the rest
  of the page is lost without an error. Before parsing, a page over
  ``_SCAN_ABOVE_CHARS`` is scanned once, linearly: attribute values (inline ``data:``
  images, styles, JSON blobs), comments and ``<script>``/``<style>`` contents longer than
  ``_HUGE_VALUE_CHARS`` are dropped (none of them is article text). A text run that is
  still too long fails the article with a message instead of losing paragraphs.
* **Tables.** Data tables are article text (standings, statistics): each row becomes one
  block, its non-empty cells joined by ``" | "``, so that a row reads and translates as
  one line. Layout tables (a nested table, one row or one column, cells holding
  paragraphs, headings or lists, or a long cell) are unwrapped into plain blocks first,
  and navigation tables (nearly every cell a lone link) are removed.
* **Precision start, balanced tail.** The precision pass finds the article's start
  reliably but drops short paragraphs and link lines. Blocks the balanced pass finds
  *between* the precision pass's first and last block are kept unless they are a link
  list; blocks it finds *after* the last one are kept while they read as prose (a
  sentence-final mark and a few words) and are no list. Blocks before the start are
  teasers and are never taken. When the precision pass finds little, the balanced text
  is used as it is.
* **Repeated headline.** A block among the first few that repeats the title (also the
  title without a site suffix, ``"Headline | Site"``, and near-duplicates) is dropped.
"""

from __future__ import annotations

import difflib
import logging
import re
import warnings
from typing import TYPE_CHECKING

from summarize.errors import ArticleError
from summarize.inputs.decode import decode_bytes
from summarize.text import clean_text, ends_sentence, split_paragraphs

if TYPE_CHECKING:
    from lxml.html import HtmlElement

logger = logging.getLogger(__name__)

NO_ARTICLE = "no article text found in HTML page"

#: Below this many characters of precision-mode text, the balanced extraction may replace it.
_HTML_RETRY_CHARS = 2000
#: Shortest balanced-mode text accepted in place of the precision-mode text.
_HTML_MIN_BALANCED_CHARS = 200
#: A page whose extracted text has no paragraph this long has no article text.
_HTML_MIN_PARAGRAPH_CHARS = 40

#: libxml2's limit on one text, attribute or comment node (XML_MAX_TEXT_LENGTH).
_LIBXML_MAX_NODE_CHARS = 10_000_000
#: Pages shorter than this cannot hold a value near the libxml2 limit worth dropping.
_SCAN_ABOVE_CHARS = 1_000_000
#: Attribute values, comments and script/style bodies longer than this are dropped.
_HUGE_VALUE_CHARS = 100_000

#: A table cell holding one of these is a layout cell, not a data cell.
_BLOCK_TAGS = frozenset("p h1 h2 h3 h4 h5 h6 ul ol dl blockquote pre article section form".split())
#: A cell with more text than this is a column of a page layout, not a data cell.
_LAYOUT_CELL_CHARS = 300
#: Share of non-empty cells that are a lone link, from which a table is navigation.
_NAV_LINK_CELLS = 0.9
_TABLE_PARTS = ("thead", "tbody", "tfoot")

#: Blocks after the precision pass's end are kept while they have this many words or more.
_TAIL_MIN_WORDS = 6
#: The headline is looked for among this many first blocks.
_TITLE_BLOCKS = 4
#: Token-sequence similarity from which a block repeats the title.
_TITLE_SIMILARITY = 0.85
_TITLE_SEPARATORS = re.compile(r"\s+[|\-–—:·•»/]{1,2}\s+|:\s+")
_WORD = re.compile(r"\w+")


def extract_html(data: bytes) -> tuple[str, str]:
    """The main text and the title of a saved HTML page.

    Args:
        data: The page's bytes; the charset is the declared one, else detected.

    Returns:
        ``(text, title)``: the text has one block (paragraph, heading, list item, table
        row) per paragraph, blank lines between them; the title is the page metadata's,
        or ``""``.

    Raises:
        ArticleError: The page holds no article text, or cannot be parsed whole.
    """
    import trafilatura  # imported lazily: it is slow to import and only needed for HTML

    html = _strip_huge_values(decode_bytes(data, declared=_declared_charset(data)))
    tree = trafilatura.load_html(html)
    if tree is None:
        raise ArticleError(NO_ARTICLE)
    _prepare_tables(tree)
    precise = _extract_blocks(tree, favor_precision=True)
    balanced = _extract_blocks(tree, favor_precision=False)
    blocks = _combine(precise, balanced)
    title = _title(tree)
    blocks = _drop_repeated_title(blocks, title)
    body = "\n\n".join(blocks)
    # With no main text, trafilatura falls back to whatever is left (menus, link lists):
    # an article has at least one real paragraph.
    if not any(len(p) >= _HTML_MIN_PARAGRAPH_CHARS for p in split_paragraphs(clean_text(body))):
        raise ArticleError(NO_ARTICLE)
    return body, title


# --- huge values ------------------------------------------------------------------------------

_TAG_STOP = re.compile(r"""[>"']""")
_RAW_END = {"script": re.compile(r"</script", re.I), "style": re.compile(r"</style", re.I)}
_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_NON_SPACE = re.compile(r"\S+")


def _strip_huge_values(html: str) -> str:
    """The page without attribute values, comments or script/style bodies over the limit.

    One pass over the markup with ``str.find`` and single-character-class searches, so the
    time is linear in the page's length. Pages under ``_SCAN_ABOVE_CHARS`` are returned
    as they are.

    Raises:
        ArticleError: A text run is still too long for libxml2.
    """
    n = len(html)
    if n < _SCAN_ABOVE_CHARS:
        return html
    kept: list[str] = []
    copied = 0  # html[:copied] is already in ``kept`` or dropped

    def drop(start: int, end: int) -> None:
        nonlocal copied
        kept.append(html[copied:start])
        copied = end

    pos = 0
    while (lt := html.find("<", pos)) >= 0:
        if html.startswith("<!--", lt):
            end = html.find("-->", lt + 4)
            end = n if end < 0 else end + 3
            if end - lt > _HUGE_VALUE_CHARS:
                drop(lt, end)
            pos = end
            continue
        name = _TAG_NAME.match(html, lt + 1)
        if name is None:  # a '<' in text, an end tag or a declaration
            pos = lt + 1
            continue
        i = name.end()
        while True:  # through the attributes, to the tag's '>'
            stop = _TAG_STOP.search(html, i)
            j = n if stop is None else stop.start()
            if j - i > _HUGE_VALUE_CHARS:  # an unquoted value (src=data:...) without spaces
                for run in _NON_SPACE.finditer(html, i, j):
                    if run.end() - run.start() > _HUGE_VALUE_CHARS:
                        eq = html.find("=", run.start(), run.end())
                        drop(run.start() if eq < 0 else eq + 1, run.end())
            if stop is None or stop.group() == ">":
                i = j + 1
                break
            close = html.find(stop.group(), j + 1)
            close = n if close < 0 else close
            if close - j > _HUGE_VALUE_CHARS:
                drop(j + 1, close)  # keeps both quotes: an empty value
            i = close + 1
        raw_end = _RAW_END.get(name.group().lower())
        if raw_end is not None:
            found = raw_end.search(html, i)
            end = n if found is None else found.start()
            if end - i > _HUGE_VALUE_CHARS:
                drop(i, end)
            i = end
        pos = i
    kept.append(html[copied:])
    stripped = "".join(kept)
    if len(stripped) >= _LIBXML_MAX_NODE_CHARS:
        _check_text_runs(stripped)
    return stripped


def _check_text_runs(html: str) -> None:
    """Raise when a stretch between two tags is too long for libxml2 to read whole."""
    pos = 0
    while True:
        lt = html.find("<", pos)
        end = len(html) if lt < 0 else lt
        if end - pos >= _LIBXML_MAX_NODE_CHARS:
            raise ArticleError(
                f"HTML page holds a text block over {_LIBXML_MAX_NODE_CHARS:,} characters,"
                " more than the HTML parser reads"
            )
        if lt < 0:
            return
        pos = lt + 1


# --- tables -----------------------------------------------------------------------------------


def _prepare_tables(tree: HtmlElement) -> None:
    """Unwrap layout tables into plain blocks and remove navigation tables, in place."""
    for table in list(tree.iter("table")):
        if table.tag != "table":  # already unwrapped as part of an outer layout table
            continue
        rows = _rows(table)
        if _is_layout(table, rows):
            # only this table's own parts: a nested table is judged on its own
            for part in [table, *[c for c in table if c.tag in _TABLE_PARTS]]:
                part.tag = "div"
            for row, cells in rows:
                for part in [row, *cells]:
                    part.tag = "div"
        elif _is_navigation(rows):
            _remove(table)


def _rows(table: HtmlElement) -> list[tuple[HtmlElement, list[HtmlElement]]]:
    """The table's own rows (not those of nested tables), each with its cells."""
    rows = []
    for child in table:
        if child.tag in _TABLE_PARTS:
            rows.extend([row for row in child if row.tag == "tr"])
        elif child.tag == "tr":
            rows.append(child)
    return [(row, [cell for cell in row if cell.tag in ("td", "th")]) for row in rows]


def _is_layout(table: HtmlElement, rows: list[tuple[HtmlElement, list[HtmlElement]]]) -> bool:
    """A table that lays out the page rather than holding data."""
    if table.get("role") in ("presentation", "none"):
        return True
    if any(inner is not table for inner in table.iter("table")):
        return True
    cells = [cell for _, row in rows for cell in row]
    if len(rows) < 2 or max((len(row) for _, row in rows), default=0) < 2:
        return True
    for cell in cells:
        if any(e.tag in _BLOCK_TAGS for e in cell.iterdescendants()):
            return True
        if len(cell.text_content()) > _LAYOUT_CELL_CHARS:
            return True
    return False


def _is_navigation(rows: list[tuple[HtmlElement, list[HtmlElement]]]) -> bool:
    """A table of links: nearly every non-empty cell is one link and nothing else."""
    texts = [(cell, " ".join(cell.text_content().split())) for _, row in rows for cell in row]
    filled = [(cell, text) for cell, text in texts if text]
    if not filled:
        return True
    linked = 0
    for cell, text in filled:
        links = " ".join(" ".join(a.text_content().split()) for a in cell.iter("a"))
        linked += len(links) >= 0.9 * len(text)
    return linked >= _NAV_LINK_CELLS * len(filled)


def _remove(element: HtmlElement) -> None:
    """Remove an element, keeping its tail text in place."""
    parent = element.getparent()
    if parent is None:
        return
    if element.tail and element.tail.strip():
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


# --- extraction -------------------------------------------------------------------------------


def _extract_blocks(tree: HtmlElement, favor_precision: bool) -> list[str]:
    """The blocks of one trafilatura pass: paragraphs, headings, lists, table rows."""
    import trafilatura
    from trafilatura.xml import xmltotxt

    document = trafilatura.bare_extraction(
        tree,
        favor_precision=favor_precision,
        include_comments=False,
        include_tables=True,
        with_metadata=False,
    )
    if document is None or document.body is None:
        return []
    blocks = []
    for element in document.body:
        if element.tag == "table":
            blocks.extend(_table_rows(element))
            continue
        for table in element.iter("table"):  # a table inside a list or quote: rows as lines
            if not any(a.tag == "table" for a in table.iterancestors()):
                table.clear()
                table.text = "\n".join(_table_rows(table))
        text = xmltotxt(element, False).strip()
        if text:
            blocks.append(text)
    return blocks


def _table_rows(table: HtmlElement) -> list[str]:
    """One line per row of a result table: its non-empty cells joined by ``" | "``."""
    lines = []
    for row in table.iter("row"):
        cells = [" ".join(" ".join(cell.itertext()).split()) for cell in row if cell.tag == "cell"]
        line = " | ".join(cell for cell in cells if cell)
        if line:
            lines.append(line)
    return lines


def _combine(precise: list[str], balanced: list[str]) -> list[str]:
    """The precision pass's blocks, completed with the balanced pass's inner and tail blocks."""
    precise_chars = sum(len(b) for b in precise)
    balanced_chars = sum(len(b) for b in balanced)
    if precise_chars < _HTML_RETRY_CHARS and balanced_chars > max(
        2 * precise_chars, _HTML_MIN_BALANCED_CHARS
    ):
        # Precision mode sometimes keeps only a comment notice or a caption; when the
        # balanced mode finds much more (and more than menu crumbs), its text is the article.
        return balanced
    if not precise or not balanced:
        return precise
    matcher = difflib.SequenceMatcher(
        None, [_key(b) for b in precise], [_key(b) for b in balanced], autojunk=False
    )
    opcodes = matcher.get_opcodes()
    if not any(tag == "equal" for tag, *_ in opcodes):
        return precise
    last_equal = max(k for k, (tag, *_) in enumerate(opcodes) if tag == "equal")
    first_equal = min(k for k, (tag, *_) in enumerate(opcodes) if tag == "equal")
    combined: list[str] = []
    for k, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        combined.extend(precise[i1:i2])  # every precision block is kept, in order
        extra = balanced[j1:j2] if tag in ("insert", "replace") else []
        if not extra or k < first_equal:
            continue  # before the article's start: teasers and headlines
        if tag == "replace":
            continue  # the same stretch, told differently: the precision version stands
        if k < last_equal:
            combined.extend(b for b in extra if not _is_list(b))
        else:
            for block in extra:  # after the end: prose only, and only up to the first non-prose
                if not _is_tail_prose(block):
                    break
                combined.append(block)
    return combined


def _key(block: str) -> str:
    return " ".join(block.split()).casefold()


def _is_list(block: str) -> bool:
    """A list block (trafilatura writes its items as ``- item`` lines)."""
    return block.lstrip().startswith("- ")


def _is_tail_prose(block: str) -> bool:
    """A block that reads as a paragraph of the article: words and a sentence-final mark."""
    return (
        not _is_list(block)
        and "\n" not in block
        and ends_sentence(block)
        and len(_WORD.findall(block)) >= _TAIL_MIN_WORDS
    )


# --- title ------------------------------------------------------------------------------------


def _title(tree: HtmlElement) -> str:
    from trafilatura.metadata import extract_metadata

    try:
        with warnings.catch_warnings():  # date parsing inside warns about odd time zones
            warnings.simplefilter("ignore")
            return extract_metadata(tree, extensive=False).title or ""
    except Exception:  # metadata is optional; the body is what matters
        logger.debug("title extraction failed", exc_info=True)
        return ""


def _drop_repeated_title(blocks: list[str], title: str) -> list[str]:
    """The blocks without those among the first few that repeat the title.

    The title counts whole and without a site name after ``|``, ``-``, ``–``, ``:`` and
    the like (the longer side is kept); a block repeats it when its words are the same
    or nearly (``_TITLE_SIMILARITY``). At least one block is always kept.
    """
    variants = _title_variants(title)
    if not variants:
        return blocks
    kept = [b for k, b in enumerate(blocks) if k >= _TITLE_BLOCKS or not _repeats(b, variants)]
    return kept or blocks


def _title_variants(title: str) -> list[list[str]]:
    words = _words(title)
    if not words:
        return []
    variants = [words]
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) > 1:
        for head in (parts[:-1], parts[1:]):  # "Headline | Site", "Site: Headline"
            trimmed = _words(" ".join(head))
            if len(trimmed) >= 3 and trimmed not in variants:
                variants.append(trimmed)
        longest = _words(max(parts, key=len))
        if len(longest) >= 3 and longest not in variants:
            variants.append(longest)
    return variants


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


def _repeats(block: str, variants: list[list[str]]) -> bool:
    words = _words(block)
    if not words:
        return False
    for title_words in variants:
        if words == title_words:
            return True
        if len(words) > 1.3 * len(title_words) + 2 or len(title_words) < 3:
            continue
        ratio = difflib.SequenceMatcher(None, words, title_words, autojunk=False).ratio()
        if ratio >= _TITLE_SIMILARITY:
            return True
    return False


# --- charset ----------------------------------------------------------------------------------

_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE
)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""")


def _declared_charset(data: bytes) -> str | None:
    """The charset an HTML page declares in its first 4 KiB (meta tag or XML declaration)."""
    head = data[:4096]
    found = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    return found.group(1).decode("ascii") if found else None
