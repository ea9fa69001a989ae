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
  ``id`` and ``lang`` (alias ``language``). A ``lang`` that names no language (``und``,
  ``auto``, ``unknown``, ``mul``, ``zxx``, ...: :data:`UNGIVEN_LANGS`) counts as absent, so
  the article's language is detected.

Article ids: the record's ``id`` when it has one, else ``<rel>#<n>`` for JSON records
(``n`` = line number in a ``.jsonl``, 1-based position in a ``.json`` list) or ``<rel>``
for a whole file, where ``rel`` is the path relative to the input folder, suffix included.
Ids are data and are not sanitised here.
"""

from __future__ import annotations

import codecs
import json
import logging
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import fields, replace
from typing import IO

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
#: ``lang`` values that name no language and so mean "detect it" (compared case-blind, on
#: the primary subtag: ``und-Latn`` too): BCP 47's undetermined (``und``), multiple
#: (``mul``) and no linguistic content (``zxx``), and the words people write for "not known".
UNGIVEN_LANGS = frozenset({"und", "mul", "zxx", "auto", "unknown", "none", "null", "n/a", "-",
                           "?"})

#: Longest first line still taken as a title in a plain-text file.
MAX_TITLE_CHARS = 200


def read_file(src: SourceFile, max_bytes: int = DEFAULT_MAX_BYTES
              ) -> Iterator[Article | InputFailure]:
    """Read one file into its articles (one, or many for JSON) and failures, lazily.

    Never raises for bad content or I/O errors: those become failures with a one-line
    message (the path is in the record's ``source``). A ``.jsonl`` file is read line by
    line, so its records stream out as they are read; any error on one line fails that
    line alone. Every string is made valid Unicode (lone surrogates replaced).

    Args:
        src: The file.
        max_bytes: Files larger than this are refused without being read.

    Yields:
        Articles and failures, in file order.
    """
    for item in _read_file(src, max_bytes):
        yield valid_unicode(item)


def _read_file(src: SourceFile, max_bytes: int) -> Iterator[Article | InputFailure]:
    source = str(src.path)

    def fail(message: str) -> InputFailure:
        logger.debug("%s: %s", source, message)
        return InputFailure(id=src.rel, source=source, error=one_line(message))

    suffix = os.path.splitext(src.path.name)[1].lower()
    try:
        st = os.stat(src.path)
        if stat.S_ISDIR(st.st_mode):
            yield fail("cannot read file: is a directory")
            return
        if not stat.S_ISREG(st.st_mode):
            yield fail("cannot read file: not a regular file")
            return
        if st.st_size > max_bytes:
            yield fail(_too_big(st.st_size, max_bytes))
            return
        handle = open(src.path, "rb")  # closed by the with-block below
    except OSError as exc:
        yield fail(f"cannot read file: {os_reason(exc)}")
        return
    with handle:
        if suffix == ".jsonl":
            try:
                yield from _read_jsonl(src, handle, max_bytes)
            except ArticleError as exc:
                yield fail(str(exc))
            except OSError as exc:
                yield fail(f"cannot read file: {os_reason(exc)}")
            return
        try:
            data = handle.read(max_bytes + 1)
        except OSError as exc:
            yield fail(f"cannot read file: {os_reason(exc)}")
            return
    if len(data) > max_bytes:  # grew since stat
        yield fail(_too_big(len(data), max_bytes))
        return
    try:
        if suffix == ".json":
            items = _read_json(src, data)
        elif suffix in (".html", ".htm"):
            items = [_read_html(src, data)]
        else:
            items = [_read_text(src, data, markdown=suffix == ".md")]
    except ArticleError as exc:
        yield fail(str(exc))
        return
    except Exception as exc:  # a parser bug must not stop the run
        logger.debug("unexpected error reading %s", source, exc_info=True)
        yield fail(f"cannot read file: {type(exc).__name__}: {exc}")
        return
    yield from items


def fix_text(value: str) -> str:
    """Replace lone surrogates (from JSON escapes or undecodable file names) with U+FFFD."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def valid_unicode(item: Article | InputFailure) -> Article | InputFailure:
    """The record with every string made encodable, so it can be written and split."""
    changes = {f.name: fix_text(getattr(item, f.name)) for f in fields(item)
               if isinstance(getattr(item, f.name), str)}
    return replace(item, **changes)


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
    except ValueError as exc:  # e.g. an integer over Python's digit limit
        raise ArticleError(f"malformed JSON: {one_line(str(exc))}") from None
    if isinstance(value, list):
        if not value:
            raise ArticleError("JSON file holds no records")
        return [_record(src, item, n) for n, item in enumerate(value, 1)]
    return [_record(src, value, None)]


def _read_jsonl(src: SourceFile, handle: IO[bytes], max_bytes: int
                ) -> Iterator[Article | InputFailure]:
    """Records of a JSON-lines file, one line at a time; a bad line fails alone."""
    head = handle.read(4)
    handle.seek(0)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in head:
        # UTF-16/32 (rare for JSON lines): decode the whole file, then split it
        data = handle.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise ArticleError(_too_big(len(data), max_bytes))
        lines: Iterable[bytes | str] = decode_bytes(data).split("\n")
    else:
        lines = handle
    n_records = 0
    n_bytes = 0
    for lineno, raw in enumerate(lines, 1):
        if isinstance(raw, bytes):
            n_bytes += len(raw)
            if n_bytes > max_bytes:  # grew since stat
                yield _record_failure(src, lineno, _too_big(n_bytes, max_bytes))
                return
        try:
            line = raw if isinstance(raw, str) else _decode_line(raw)
            line = line.strip().lstrip("\ufeff")
            if not line:
                continue
            n_records += 1
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            message = f"malformed JSON on line {lineno}: {exc.msg} (column {exc.colno})"
            yield _record_failure(src, lineno, message)
            continue
        except RecursionError:
            message = f"malformed JSON on line {lineno}: nested too deeply"
            yield _record_failure(src, lineno, message)
            continue
        except Exception as exc:  # e.g. an integer over Python's digit limit: this line only
            message = f"cannot read line {lineno}: {one_line(str(exc)) or type(exc).__name__}"
            yield _record_failure(src, lineno, message)
            continue
        try:
            yield _record(src, value, lineno)
        except Exception as exc:  # a record this reader cannot handle fails alone
            logger.debug("unexpected error on %s line %d", src.path, lineno, exc_info=True)
            yield _record_failure(src, lineno, f"cannot read line {lineno}: {exc}")
    if not n_records:
        raise ArticleError("JSONL file holds no records")


def _decode_line(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return decode_bytes(raw)


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
    lang = record_lang(_string_field(value, LANG_FIELDS))
    return _make_article(id=record_id, source=source, text=text, title=title, lang=lang)


def record_lang(value: str | None) -> str | None:
    """A record's ``lang`` field as the run reads it: None (detect) when it names no language.

    Args:
        value: The field's stripped text, or None when the record has none.

    Returns:
        ``value``, or None for a value in :data:`UNGIVEN_LANGS` (``und``, ``auto``,
        ``UND-Latn``, ...); any other code is kept for the run to check.
    """
    if value is None:
        return None
    code = value.strip().casefold()
    primary = code.replace("_", "-").split("-", 1)[0]
    return None if code in UNGIVEN_LANGS or primary in UNGIVEN_LANGS else value


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
