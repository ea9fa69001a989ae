"""Extract the article text and title of a saved HTML page (trafilatura)."""

from __future__ import annotations

import logging
import re
import warnings

from summarize.errors import ArticleError
from summarize.inputs.decode import decode_bytes
from summarize.text import clean_text, split_paragraphs

logger = logging.getLogger(__name__)

#: Below this many characters of precision-mode text, the balanced extraction is tried too.
_HTML_RETRY_CHARS = 2000
#: Shortest balanced-mode text accepted in place of the precision-mode text.
_HTML_MIN_BALANCED_CHARS = 200
#: A page whose extracted text has no paragraph this long has no article text.
_HTML_MIN_PARAGRAPH_CHARS = 40


def extract_html(data: bytes) -> tuple[str, str]:
    """The main text and the title of a saved HTML page.

    Raises:
        ArticleError: The page holds no article text.
    """
    import trafilatura  # imported lazily: it is slow to import and only needed for HTML
    from trafilatura.metadata import extract_metadata

    html = decode_bytes(data, declared=_declared_charset(data))
    tree = trafilatura.load_html(html)
    if tree is None:
        raise ArticleError("no article text found in HTML page")
    options = {"include_comments": False, "include_tables": False, "output_format": "txt"}
    body = trafilatura.extract(tree, favor_precision=True, **options) or ""
    if len(body) < _HTML_RETRY_CHARS:
        # Precision mode sometimes keeps only a comment notice or a caption; when the
        # balanced mode finds much more (and more than menu crumbs), its text is the article.
        balanced = trafilatura.extract(tree, **options) or ""
        if len(balanced) > max(2 * len(body), _HTML_MIN_BALANCED_CHARS):
            body = balanced
    # With no main text, trafilatura falls back to whatever is left (menus, link lists):
    # an article has at least one real paragraph.
    if not any(len(p) >= _HTML_MIN_PARAGRAPH_CHARS for p in split_paragraphs(clean_text(body))):
        raise ArticleError("no article text found in HTML page")
    title = ""
    try:
        with warnings.catch_warnings():  # date parsing inside warns about odd time zones
            warnings.simplefilter("ignore")
            title = extract_metadata(tree, extensive=False).title or ""
    except Exception:  # metadata is optional; the body is what matters
        logger.debug("title extraction failed", exc_info=True)
    return body, title


_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE
)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""")


def _declared_charset(data: bytes) -> str | None:
    """The charset an HTML page declares in its first 4 KiB (meta tag or XML declaration)."""
    head = data[:4096]
    found = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    return found.group(1).decode("ascii") if found else None
