"""Read one article file into ``Article`` records: txt, md, html, json and jsonl.

Reading never raises for bad content: every file or record that cannot become an article
gives an :class:`~summarize.records.InputFailure` with a one-line message, and the run
carries on.

* ``.txt`` / ``.md``: one article per file. A short first line that does not end in
  sentence punctuation is taken as the title when more paragraphs follow (news dumps put
  the headline on line 1). In Markdown a leading ``# Heading`` (or a YAML front matter
  ``title:``) is the title, and ``#`` heading markers are removed from the body.
* ``.html`` / ``.htm``: the main text is extracted (:mod:`summarize.inputs.html`); the
  title comes from the page metadata.
* ``.json``: one object or a list of objects; ``.jsonl``: one object per line. Fields:
  ``text`` (aliases, tried in this order: ``text``, ``article``, ``body``, ``content``; a
  list of strings is joined as paragraphs), optional ``title`` (alias ``headline``),
  ``id`` and ``lang`` (alias ``language``).

Article ids: the record's ``id`` when it has one, else ``<rel>#<n>`` for JSON records
(``n`` = line number in a ``.jsonl``, 1-based position in a ``.json`` list) or ``<rel>``
for a whole file, where ``rel`` is the path relative to the input folder, suffix included.
Ids are data and are not sanitised here.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat

from summarize.errors import ArticleError
from summarize.inputs.decode import decode_bytes
from summarize.inputs.discover import SourceFile, one_line, os_reason
from summarize.inputs.html import extract_html
from summarize.records import Article, InputFailure
from summarize.text import clean_text, ends_sentence, join_paragraphs, split_paragraphs

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 50_000_000

#: Record fields holding the article text, in the order they are looked up.
TEXT_FIELDS = ("text", "article", "body", "content")
TITLE_FIELDS = ("title", "headline")
LANG_FIELDS = ("lang", "language")

#: Longest first line still taken as a title in a plain-text file.
MAX_TITLE_CHARS = 200


def read_file(src: SourceFile, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Article | InputFailure]:
    """Read one file into its articles (one, or many for JSON) and failures.

    Never raises for bad content or I/O errors: those become failures with a one-line
    message (the path is in the record's ``source``).

    Args:
        src: The file.
        max_bytes: Files larger than this are refused without being read.

    Returns:
        Articles and failures, in file order.
    """
    source = str(src.path)

    def fail(message: str) -> list[Article | InputFailure]:
        logger.debug("%s: %s", source, message)
        return [InputFailure(id=src.rel, source=source, error=one_line(message))]

    try:
        st = os.stat(src.path)
        if stat.S_ISDIR(st.st_mode):
            return fail("cannot read file: is a directory")
        if not stat.S_ISREG(st.st_mode):
            return fail("cannot read file: not a regular file")
        if st.st_size > max_bytes:
            return fail(_too_big(st.st_size, max_bytes))
        with open(src.path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        return fail(f"cannot read file: {os_reason(exc)}")
    if len(data) > max_bytes:  # grew since stat
        return fail(_too_big(len(data), max_bytes))

    suffix = os.path.splitext(src.path.name)[1].lower()
    try:
        if suffix == ".jsonl":
            return _read_jsonl(src, data)
        if suffix == ".json":
            return _read_json(src, data)
        if suffix in (".html", ".htm"):
            return [_read_html(src, data)]
        return [_read_text(src, data, markdown=suffix == ".md")]
    except ArticleError as exc:
        return fail(str(exc))
    except Exception as exc:  # a parser bug must not stop the run
        logger.debug("unexpected error reading %s", source, exc_info=True)
        return fail(f"cannot read file: {type(exc).__name__}: {exc}")


def _too_big(size: int, max_bytes: int) -> str:
    return f"file is {size} bytes, over the limit of {max_bytes} (raise --max-bytes)"


def _make_article(
    id: str, source: str, text: str, title: str = "", lang: str | None = None
) -> Article | InputFailure:
    """Clean the text and title; drop a first paragraph that repeats the title."""
    title = " ".join(clean_text(title).split())
    paragraphs = split_paragraphs(clean_text(text))
    if title and len(paragraphs) > 1 and _same_text(paragraphs[0], title):
        paragraphs = paragraphs[1:]
    body = join_paragraphs(paragraphs)
    if not body:
        return InputFailure(id=id, source=source, error="empty article text")
    return Article(id=id, source=source, text=body, title=title, lang=lang)


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


_MD_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n(?:---|\.\.\.)(?:\n|\Z)", re.DOTALL)
_FRONT_TITLE = re.compile(r"^title:[ \t]*(.*?)[ \t]*$", re.MULTILINE)


def _read_text(src: SourceFile, data: bytes, markdown: bool) -> Article | InputFailure:
    text = clean_text(decode_bytes(data))
    title = ""
    if markdown:
        title, text = _markdown_title(text)
    if not title:
        title, text = _first_line_title(text)
    return _make_article(id=src.rel, source=str(src.path), text=text, title=title)


def _markdown_title(text: str) -> tuple[str, str]:
    """Title from YAML front matter or a leading ``# Heading``; heading markers removed."""
    title = ""
    front = _FRONT_MATTER.match(text)
    if front:
        found = _FRONT_TITLE.search(front.group(1))
        if found:
            title = found.group(1).strip().strip("\"'")
        text = text[front.end() :].lstrip("\n")
    lines = text.split("\n")
    if not title and lines:
        heading = _MD_HEADING.match(lines[0])
        if heading and len(heading.group(1)) == 1 and heading.group(2):
            title = heading.group(2)
            lines = lines[1:]
    body = []
    for line in lines:
        heading = _MD_HEADING.match(line)
        body.append(heading.group(2) or "" if heading else line)
    return title, "\n".join(body)


def _first_line_title(text: str) -> tuple[str, str]:
    """A news-dump headline: a short first line, no final punctuation, more text after it."""
    first, _, rest = text.partition("\n")
    first = " ".join(first.split())
    paragraphs = split_paragraphs(text)
    if (
        len(paragraphs) > 1
        and paragraphs[0] == first  # not a hard-wrapped line continued below
        and len(first) < MAX_TITLE_CHARS
        and not ends_sentence(first)
    ):
        return first, rest
    return "", text


def _read_html(src: SourceFile, data: bytes) -> Article | InputFailure:
    text, title = extract_html(data)
    return _make_article(id=src.rel, source=str(src.path), text=text, title=title)


def _read_json(src: SourceFile, data: bytes) -> list[Article | InputFailure]:
    text = decode_bytes(data)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArticleError(
            f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise ArticleError("malformed JSON: nested too deeply") from None
    if isinstance(value, list):
        if not value:
            raise ArticleError("JSON file holds no records")
        return [_record(src, item, n) for n, item in enumerate(value, 1)]
    return [_record(src, value, None)]


def _read_jsonl(src: SourceFile, data: bytes) -> list[Article | InputFailure]:
    text = decode_bytes(data)
    results: list[Article | InputFailure] = []
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.strip().lstrip("\ufeff")
        if not line:
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            message = f"malformed JSON on line {lineno}: {exc.msg} (column {exc.colno})"
            results.append(_record_failure(src, lineno, message))
            continue
        except RecursionError:
            message = f"malformed JSON on line {lineno}: nested too deeply"
            results.append(_record_failure(src, lineno, message))
            continue
        results.append(_record(src, value, lineno))
    if not results:
        raise ArticleError("JSONL file holds no records")
    return results


def _record_failure(src: SourceFile, n: int, message: str) -> InputFailure:
    return InputFailure(id=f"{src.rel}#{n}", source=f"{src.path}#{n}", error=one_line(message))


def _record(src: SourceFile, value: object, n: int | None) -> Article | InputFailure:
    """One JSON record; ``n`` is its line (JSONL) or position (JSON list), None when alone."""
    path_id = src.rel if n is None else f"{src.rel}#{n}"
    source = str(src.path) if n is None else f"{src.path}#{n}"
    if not isinstance(value, dict):
        return InputFailure(id=path_id, source=source, error="record is not a JSON object")
    record_id = _record_id(value.get("id")) or path_id
    key = next((k for k in TEXT_FIELDS if k in value), None)
    if key is None:
        return InputFailure(id=record_id, source=source, error="record has no 'text' field")
    text = value[key]
    if isinstance(text, list) and all(isinstance(part, str) for part in text):
        text = "\n\n".join(text)
    if not isinstance(text, str):
        error = f"record field '{key}' is not a string"
        return InputFailure(id=record_id, source=source, error=error)
    title = _string_field(value, TITLE_FIELDS) or ""
    lang = _string_field(value, LANG_FIELDS)
    return _make_article(id=record_id, source=source, text=text, title=title, lang=lang)


def _record_id(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return ""
    return str(value).strip()


def _string_field(record: dict, names: tuple[str, ...]) -> str | None:
    for name in names:
        value = record.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None
