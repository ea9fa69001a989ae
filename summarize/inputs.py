"""Find article files under the inputs and read them into ``Article`` records.

Reading never raises for bad content: every file or record that cannot become an article
gives an :class:`~summarize.records.InputFailure` with a one-line message, and the run
carries on. Only a missing input path is a usage error.

Design: :func:`scan_inputs` walks the inputs once, up front (cheap: names and ``stat``
only) and returns an :class:`InputScan` holding the files found, the files skipped and the
folders that could not be read. Iterating over the scan reads the files lazily, one at a
time, yielding the scan's failures first and then each file's articles and failures, so
the pipeline can stream over 10,000 files without holding them all in memory.
:func:`iter_articles` is the same without access to the counts.

Supported files (:data:`ARTICLE_SUFFIXES`):

* ``.txt`` / ``.md``: one article per file. A short first line that does not end in
  sentence punctuation is taken as the title when more paragraphs follow (news dumps put
  the headline on line 1). In Markdown a leading ``# Heading`` (or a YAML front matter
  ``title:``) is the title, and ``#`` heading markers are removed from the body.
* ``.html`` / ``.htm``: the main text is extracted with trafilatura; the title comes from
  the page metadata.
* ``.json``: one object or a list of objects; ``.jsonl``: one object per line. Fields:
  ``text`` (aliases, tried in this order: ``text``, ``article``, ``body``, ``content``; a
  list of strings is joined as paragraphs), optional ``title`` (alias ``headline``),
  ``id`` and ``lang`` (alias ``language``).

Article ids: the record's ``id`` when it has one, else ``<rel>#<n>`` for JSON records
(``n`` = line number in a ``.jsonl``, 1-based position in a ``.json`` list) or ``<rel>``
for a whole file, where ``rel`` is the path relative to the input folder, suffix included.
Ids are data and are not sanitised here. Two articles with the same id in one scan: the
second one becomes a failure ("duplicate article id").
"""

from __future__ import annotations

import codecs
import functools
import json
import logging
import os
import re
import stat
import unicodedata
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from summarize.errors import ArticleError, UsageError
from summarize.records import Article, InputFailure, Skipped
from summarize.text import clean_text, ends_sentence, join_paragraphs, split_paragraphs

logger = logging.getLogger(__name__)

ARTICLE_SUFFIXES = frozenset({".txt", ".md", ".html", ".htm", ".json", ".jsonl"})
DEFAULT_MAX_BYTES = 50_000_000

#: Record fields holding the article text, in the order they are looked up.
TEXT_FIELDS = ("text", "article", "body", "content")
TITLE_FIELDS = ("title", "headline")
LANG_FIELDS = ("lang", "language")

#: Longest first line still taken as a title in a plain-text file.
MAX_TITLE_CHARS = 200


@dataclass(frozen=True)
class SourceFile:
    """A file to read.

    Attributes:
        path: Path of the file as found (not resolved, so symlinked folders keep their name).
        rel: POSIX path relative to the input folder it was found under (just the name for a
            file given directly); made unique within one scan.
    """

    path: Path
    rel: str


# --- finding files ----------------------------------------------------------------------------


def find_files(
    inputs: Sequence[Path],
    exclude: Sequence[Path] = (),
) -> tuple[list[SourceFile], list[Skipped], list[InputFailure]]:
    """Find the article files under the given inputs.

    Folders are walked recursively in sorted name order (deterministic). Symlinks to folders
    are followed, but each real folder is visited once, so symlink loops end. Hidden files
    and folders (name starting with ".") inside a folder are ignored without being counted;
    an input named directly is always used. The same file reached twice (overlapping inputs,
    symlinks) is listed once. When two different files end up with the same ``rel`` (same
    relative path under two input folders), the later one's ``rel`` is prefixed with its
    input folder's name (and numbered if that still collides).

    Args:
        inputs: Files and folders, in the order given by the user.
        exclude: Folders never to enter (the run's own output folder, when it lies inside
            an input folder, so a rerun does not read its own pages back as articles).

    Returns:
        ``(files, skipped, failures)``: the article files in order; files skipped because
        of their type; folders (or broken links) that could not be read.

    Raises:
        UsageError: If an input path does not exist (checked before anything is walked).
    """
    paths = [Path(p) for p in inputs]
    for path in paths:
        if not path.exists():
            raise UsageError(f"input not found: {path}")
    walk = _Walk()
    for folder in exclude:
        try:
            st = Path(folder).stat()
        except OSError:
            continue
        walk.seen_dirs.add((st.st_dev, st.st_ino))
    for path in paths:
        if path.is_dir():
            walk.folder(path)
        else:
            walk.file(path, path.name, root_name=path.parent.resolve().name)
    return walk.files, walk.skipped, walk.failures


@dataclass
class _Walk:
    files: list[SourceFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    failures: list[InputFailure] = field(default_factory=list)
    seen_files: set[tuple[int, int]] = field(default_factory=set)
    seen_dirs: set[tuple[int, int]] = field(default_factory=set)
    taken_rels: set[str] = field(default_factory=set)

    def folder(self, root: Path) -> None:
        try:
            st = root.stat()
        except OSError as exc:
            self._folder_failure(root, root.name or str(root), exc)
            return
        key = (st.st_dev, st.st_ino)
        if key in self.seen_dirs:
            return  # already walked as part of an earlier input
        self.seen_dirs.add(key)
        root_name = root.name or root.resolve().name
        # Depth-first over sorted entries with an explicit stack (no recursion limit).
        stack: list[Iterator[tuple[os.DirEntry[str], str]]] = [self._entries(root, "")]
        while stack:
            item = next(stack[-1], None)
            if item is None:
                stack.pop()
                continue
            entry, rel = item
            try:
                is_dir = entry.is_dir()  # follows symlinks
            except OSError:
                is_dir = False
            if is_dir:
                try:
                    st = entry.stat()
                except OSError as exc:
                    self._folder_failure(Path(entry.path), rel, exc)
                    continue
                key = (st.st_dev, st.st_ino)
                if key in self.seen_dirs:
                    logger.debug("not entering %s again (symlink loop or repeat)", entry.path)
                    continue
                self.seen_dirs.add(key)
                stack.append(self._entries(Path(entry.path), rel + "/"))
            else:
                self.file(Path(entry.path), rel, root_name=root_name)

    def _entries(self, folder: Path, prefix: str) -> Iterator[tuple[os.DirEntry[str], str]]:
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            self._folder_failure(folder, prefix.rstrip("/") or folder.name, exc)
            return
        for entry in entries:
            if not entry.name.startswith("."):
                yield entry, prefix + entry.name

    def _folder_failure(self, folder: Path, rel: str, exc: OSError) -> None:
        message = f"cannot read folder: {_os_reason(exc)}"
        logger.debug("%s: %s", folder, message)
        self.failures.append(InputFailure(id=rel, source=str(folder), error=message))

    def file(self, path: Path, rel: str, root_name: str) -> None:
        suffix = os.path.splitext(path.name)[1].lower()
        if suffix not in ARTICLE_SUFFIXES:
            reason = f"unsupported file type '{suffix}'" if suffix else "unsupported file type"
            self.skipped.append(Skipped(source=str(path), reason=reason))
            return
        try:
            st = path.stat()
        except OSError as exc:
            if path.is_symlink():
                message = "cannot read file: broken symbolic link"
            else:
                message = f"cannot read file: {_os_reason(exc)}"
            self.failures.append(InputFailure(id=rel, source=str(path), error=message))
            return
        if not stat.S_ISREG(st.st_mode):
            self.skipped.append(Skipped(source=str(path), reason="not a regular file"))
            return
        key = (st.st_dev, st.st_ino)
        if key in self.seen_files:
            return
        self.seen_files.add(key)
        rel = self._unique_rel(rel, root_name)
        self.files.append(SourceFile(path=path, rel=rel))

    def _unique_rel(self, rel: str, root_name: str) -> str:
        candidate = rel
        if candidate in self.taken_rels and root_name:
            candidate = f"{root_name}/{rel}"
        number = 2
        while candidate in self.taken_rels:
            pure = PurePosixPath(rel)
            candidate = str(pure.with_name(f"{pure.stem}~{number}{pure.suffix}"))
            number += 1
        self.taken_rels.add(candidate)
        return candidate


def _os_reason(exc: OSError) -> str:
    """The OS error as a short lowercase phrase ("permission denied")."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return _one_line(reason[:1].lower() + reason[1:])


def _one_line(message: str, limit: int = 300) -> str:
    message = " ".join(message.split())
    return message if len(message) <= limit else message[: limit - 3] + "..."


# --- scanning and iterating -------------------------------------------------------------------


@dataclass
class InputScan:
    """The files found under the inputs; iterate over it to read them lazily.

    Iterating yields the scan's own failures (unreadable folders, broken links) first, then
    for each file in order the articles and failures :func:`read_file` returns. Articles
    whose id was already used earlier in the iteration are turned into failures. Each
    iteration reads the files again.

    Attributes:
        files: Article files, in reading order.
        skipped: Files that are not an article type (counted, not errors).
        failures: Folders or links that could not be read.
        max_bytes: Files larger than this are refused.
    """

    files: list[SourceFile]
    skipped: list[Skipped]
    failures: list[InputFailure]
    max_bytes: int = DEFAULT_MAX_BYTES

    def __iter__(self) -> Iterator[Article | InputFailure]:
        yield from self.failures
        seen_ids: dict[str, str] = {}
        for src in self.files:
            for item in read_file(src, self.max_bytes):
                if isinstance(item, Article):
                    first = seen_ids.setdefault(item.id, item.source)
                    if first != item.source:
                        suffix = item.source[len(str(src.path)) :]  # "#N" for JSON records
                        yield InputFailure(
                            id=f"{src.rel}{suffix}",
                            source=item.source,
                            error=f"duplicate article id {item.id!r}, already used by {first}",
                        )
                        continue
                yield item


def scan_inputs(inputs: Sequence[Path], max_bytes: int = DEFAULT_MAX_BYTES) -> InputScan:
    """Find the files under the inputs, ready to be read by iterating over the result.

    Args:
        inputs: Files and folders given by the user.
        max_bytes: Files larger than this are refused with a failure.

    Returns:
        The scan: ``.files``, ``.skipped``, ``.failures``; iterate for the articles.

    Raises:
        UsageError: If an input path does not exist.
    """
    files, skipped, failures = find_files(inputs)
    return InputScan(files=files, skipped=skipped, failures=failures, max_bytes=max_bytes)


def iter_articles(
    inputs: Sequence[Path], max_bytes: int = DEFAULT_MAX_BYTES
) -> Iterator[Article | InputFailure]:
    """Read every article under the inputs, lazily (see :class:`InputScan`).

    The inputs are walked when this is called, so a missing input raises at once.

    Args:
        inputs: Files and folders given by the user.
        max_bytes: Files larger than this are refused with a failure.

    Returns:
        An iterator of articles and failures.

    Raises:
        UsageError: If an input path does not exist.
    """
    return iter(scan_inputs(inputs, max_bytes))


# --- reading one file -------------------------------------------------------------------------


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
        return [InputFailure(id=src.rel, source=source, error=_one_line(message))]

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
        return fail(f"cannot read file: {_os_reason(exc)}")
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


# --- plain text and markdown ------------------------------------------------------------------

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


# --- HTML -------------------------------------------------------------------------------------

#: Below this many characters of precision-mode text, the balanced extraction is tried too.
_HTML_RETRY_CHARS = 2000
#: Shortest balanced-mode text accepted in place of the precision-mode text.
_HTML_MIN_BALANCED_CHARS = 200
#: A page whose extracted text has no paragraph this long has no article text.
_HTML_MIN_PARAGRAPH_CHARS = 40


def _read_html(src: SourceFile, data: bytes) -> Article | InputFailure:
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
        logger.debug("title extraction failed for %s", src.path, exc_info=True)
    return _make_article(id=src.rel, source=str(src.path), text=body, title=title)


_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE
)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""")


def _declared_charset(data: bytes) -> str | None:
    """The charset an HTML page declares in its first 4 KiB (meta tag or XML declaration)."""
    head = data[:4096]
    found = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    return found.group(1).decode("ascii") if found else None


# --- JSON and JSON lines ----------------------------------------------------------------------


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
    return InputFailure(id=f"{src.rel}#{n}", source=f"{src.path}#{n}", error=_one_line(message))


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


# --- decoding ---------------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

#: Control bytes that do not occur in text (ESC is allowed: ISO-2022 uses it).
_CONTROL_BYTES = bytes([*range(0x01, 0x09), *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])
#: Share of control bytes above which content is taken as binary.
_MAX_CONTROL_SHARE = 0.1

#: Legacy encodings tried after charset-normalizer's guess, in tie-break order.
_LEGACY_CODECS = ("cp949", "gb18030", "cp932", "euc_jp", "cp950", "cp1252", "cp1251", "latin_1")
#: Encodings replaced by a superset that decodes the same bytes the same way (or, for
#: Latin-1, the way browsers do: its C1 control range holds cp1252's punctuation in practice).
_SUPERSETS = {
    "ascii": "cp1252",
    "latin_1": "cp1252",
    "iso8859_1": "cp1252",
    "euc_kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "shift_jis": "cp932",
    "big5": "cp950",
}
#: Multibyte CJK encodings (Python codec names) whose detection charset-normalizer does well.
_CJK_CODECS = frozenset(
    {
        "cp949",
        "gb18030",
        "cp932",
        "euc_jp",
        "euc_jis_2004",
        "euc_jisx0213",
        "shift_jis_2004",
        "shift_jisx0213",
        "cp950",
        "big5hkscs",
    }
)
#: Scores compared within this margin count as equal (the earlier candidate wins).
_SCORE_MARGIN = 0.02
#: A decoding scoring below this is not trusted ("unknown encoding").
_MIN_SCORE = 0.5
#: Characters scored per candidate decoding.
_SCORE_CHARS = 8000


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Decode the bytes of a text file, detecting the encoding.

    Order: a byte order mark (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE); UTF-16/32 without BOM
    (recognised by NUL bytes in alternate positions); binary content is refused (NUL
    bytes, or more than 10% control bytes); strict UTF-8 (7-bit ISO-2022-JP/KR is
    recognised by its escape sequences); the ``declared`` encoding, if any; then legacy
    encodings.

    Legacy detection: charset-normalizer's best guess and a fixed list of candidates
    (CP949/EUC-KR, GB18030, CP932/Shift-JIS, EUC-JP, CP950/Big5, CP1252/Latin-1, CP1251)
    are each decoded strictly and scored by how plausible their non-ASCII characters are:
    common Hangul syllables, kana, common CJK ideographs (those in the national character
    sets), Latin-1 letters, Cyrillic, Greek, etc. score high; control, private-use and
    unassigned characters, half-width katakana, rare symbols, a word mixing scripts (e.g.
    Hangul next to a Latin letter, or Hangul next to a Han character) and runs of accented
    Latin letters score low. The highest score wins; within a small margin, charset-normalizer's
    guess wins (it weighs language statistics), then the fixed order. This corrects
    charset-normalizer on short texts, where it is unreliable (it reads a Latin-1 French
    sentence as CP1250 and two Chinese words as CP949). Limitation: Central European
    CP1250 text is read as CP1252 when both decode it (Latin-1 is far more common).

    Args:
        data: The raw bytes.
        declared: Encoding named by the document itself (HTML ``<meta charset>``), tried
            after the BOM and strict UTF-8.

    Returns:
        The decoded text (not yet cleaned; a leading BOM is removed).

    Raises:
        ArticleError: "binary content, not text" or "cannot decode text: unknown encoding"
            (or a message about invalid data after a byte order mark).
    """
    if not data:
        return ""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding)
            except UnicodeDecodeError:
                if encoding.startswith("utf-32"):
                    continue  # FF FE 00 00 may be a UTF-16 LE BOM followed by U+0000
                raise ArticleError(
                    f"cannot decode text: invalid {encoding.upper()} after byte order mark"
                ) from None
    wide = _decode_wide(data)
    if wide is not None:
        return wide
    if b"\x00" in data:
        raise ArticleError("binary content, not text")
    sample = data[:65536]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if controls > _MAX_CONTROL_SHARE * len(sample):
        raise ArticleError("binary content, not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if "\x1b" in text:
            return _decode_iso2022(data) or text
        return text
    declared_codec = _codec_name(declared) if declared else None
    if declared_codec and not declared_codec.startswith(("utf_16", "utf_32")):
        try:
            return data.decode(declared_codec)
        except UnicodeDecodeError:
            logger.debug("bytes are not valid %s as declared; detecting", declared_codec)
    else:
        declared_codec = None
    text = _decode_legacy(data)
    if text is not None:
        return text
    if declared_codec:
        return data.decode(declared_codec, errors="replace")
    raise ArticleError("cannot decode text: unknown encoding")


def _codec_name(name: str) -> str | None:
    """Python's canonical codec name for an encoding label, mapped to its superset."""
    try:
        canonical = codecs.lookup(name.strip()).name.replace("-", "_")
    except (LookupError, ValueError):
        return None
    canonical = {"iso8859_1": "latin_1", "us_ascii": "ascii"}.get(canonical, canonical)
    return _SUPERSETS.get(canonical, canonical)


def _decode_wide(data: bytes) -> str | None:
    """Decode BOM-less UTF-32 or UTF-16 recognised by the positions of their NUL bytes."""
    sample = data[:4096]
    if len(sample) < 4:
        return None
    candidates = []
    if len(data) % 4 == 0:
        quads = len(sample) // 4
        zeros = [sample[i::4].count(0) for i in range(4)]
        if zeros[3] == quads and zeros[2] >= 0.9 * quads and zeros[0] < quads:
            candidates.append("utf-32-le")
        if zeros[0] == quads and zeros[1] >= 0.9 * quads and zeros[3] < quads:
            candidates.append("utf-32-be")
    if len(data) % 2 == 0:
        pairs = len(sample) // 2
        even, odd = sample[0::2].count(0) / pairs, sample[1::2].count(0) / pairs
        # ASCII-range characters (spaces, newlines, digits, Latin letters) have a NUL high
        # byte; in CJK text the low byte is NUL only by chance.
        if odd >= 0.1 and even <= 0.02:
            candidates.append("utf-16-le")
        if even >= 0.1 and odd <= 0.02:
            candidates.append("utf-16-be")
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        head = text[:2048]
        bad = sum(1 for c in head if unicodedata.category(c) in ("Cc", "Cn", "Co", "Cs"))
        bad -= sum(head.count(c) for c in "\n\r\t")
        if bad <= 0.02 * len(head):
            return text
    return None


def _decode_iso2022(data: bytes) -> str | None:
    """Decode 7-bit ISO-2022-JP/KR text (only tried when the bytes hold an ESC)."""
    for encoding in ("iso2022_jp_2", "iso2022_kr"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x1b" not in text:
            return text
    return None


def _decode_legacy(data: bytes) -> str | None:
    from charset_normalizer import from_bytes

    candidates = list(_LEGACY_CODECS)
    best = from_bytes(data).best()
    if best is not None:
        guess = _codec_name(best.encoding)
        if guess and not guess.startswith(("utf_16", "utf_32", "utf_8")):
            # charset-normalizer's statistics are good at telling CJK encodings apart, so its
            # CJK guess wins ties; its other guesses (single-byte, johab, ...) are weak on
            # short texts and come after CP1252.
            if guess in _CJK_CODECS:
                candidates = [guess] + [c for c in candidates if c != guess]
            elif guess not in candidates:
                candidates.insert(candidates.index("cp1252") + 1, guess)

    chosen: tuple[float, str, str] | None = None
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        score = _plausibility(text[:_SCORE_CHARS])
        logger.debug("decoding as %s scores %.3f", encoding, score)
        if chosen is None or score > chosen[0] + _SCORE_MARGIN:
            chosen = (score, encoding, text)
    if chosen is None or chosen[0] < _MIN_SCORE:
        return None
    logger.debug("decoded as %s", chosen[1])
    return chosen[2]


#: Latin-1 punctuation and symbols that are common in real text.
_COMMON_LATIN1_SYMBOLS = "\u00a0¡¢£¥§©«°±·»¿"
#: Common punctuation of the General Punctuation block (dashes, quotes, ellipsis, bullet).
_COMMON_PUNCTUATION = "‐‑‒–—―‘’“”„•…‰′″‹›€"
#: Common CJK punctuation (U+3000 block): the rest of the block is rare in running text.
_COMMON_CJK_PUNCTUATION = "\u3000、。〃々〆〇〈〉《》「」『』【】〔〕〜〝〞〟・"
#: Scripts written with spaces between words: a long unbroken run of them is not text.
_SPACED_SCRIPTS = frozenset({"latin", "cyrillic", "greek", "hebrew", "arabic", "devanagari"})
#: Longest plausible word (in characters) in a script written with spaces.
_MAX_WORD = 30


@functools.lru_cache(maxsize=65536)
def _char_class(char: str, japanese: bool) -> tuple[float, str]:
    """(plausibility weight, script) of one non-ASCII character.

    ``japanese`` says the text holds hiragana: its Han characters should then be in the
    Japanese character set.
    """
    code = ord(char)
    category = unicodedata.category(char)
    if category in ("Cc", "Cn", "Co", "Cs") or char == "\ufffd":
        return -5.0, ""
    if 0xAC00 <= code <= 0xD7A3:
        # KS X 1001 holds the 2,350 common syllables (others take 8 bytes in EUC-KR).
        return (1.0 if _encoded_length(char, "euc_kr") == 2 else 0.4), "hangul"
    if 0x3040 <= code <= 0x30FF:
        return 1.0, "kana"
    if 0xFF61 <= code <= 0xFF9F:
        return 0.1, "kana"  # half-width katakana: a sign of misread Latin bytes
    if 0x4E00 <= code <= 0x9FFF:
        charsets = ("cp932",) if japanese else ("gb2312", "big5", "cp932", "cp949")
        common = any(_encoded_length(char, c) == 2 for c in charsets)
        return (1.0 if common else 0.4), "han"
    if 0x3000 <= code <= 0x303F:
        return (1.0 if char in _COMMON_CJK_PUNCTUATION else 0.3), ""
    if 0xFF01 <= code <= 0xFF5E:
        return 1.0, ""
    if 0xFE10 <= code <= 0xFE6F:
        return 0.2, ""  # vertical and small forms: rare in running text
    if category.startswith("L"):
        if 0xC0 <= code <= 0xFF or char in "ªº":
            return 1.0, "latin"
        if 0x100 <= code <= 0x17F:
            return 0.8, "latin"
        script = unicodedata.name(char, "").split(" ", 1)[0].lower()
        if script == "cyrillic":
            # Basic Russian letters; the others (Serbian, Macedonian, ...) are rarer.
            return (1.0 if 0x410 <= code <= 0x451 or char in "Ёєіїў" else 0.6), script
        if script in ("greek", "hebrew", "arabic", "thai", "devanagari"):
            return 1.0, script
        return 0.3, script
    if 0xA0 <= code <= 0xBF:
        return (1.0 if char in _COMMON_LATIN1_SYMBOLS else 0.5), ""
    if 0x2010 <= code <= 0x20CF:
        return (1.0 if char in _COMMON_PUNCTUATION else 0.3), ""
    if category.startswith("M"):
        return 0.5, ""
    if category.startswith(("P", "Z", "N")):
        return 0.6, ""
    return 0.2, ""


@functools.lru_cache(maxsize=65536)
def _encoded_length(char: str, encoding: str) -> int:
    try:
        return len(char.encode(encoding))
    except UnicodeEncodeError:
        return 0


_HIRAGANA = re.compile("[\u3041-\u309f]")


def _plausibility(text: str) -> float:
    """Mean plausibility of the non-ASCII characters of a decoding (1.0 = all typical).

    Each non-ASCII character adds its weight (see :func:`_char_class`); penalties are
    subtracted for a letter next to a letter of another script (Han with kana is fine),
    for an accented Latin letter right after another one, and for every non-ASCII
    character of a "word" longer than any real word in a script written with spaces.
    """
    japanese = len(_HIRAGANA.findall(text, 0, 2000)) >= 3
    total = 0.0
    count = 0
    previous_script = ""  # script of the previous character when it is a letter
    previous_accented = False
    word_nonascii = 0  # non-ASCII characters in the current run of non-space characters
    word_length = 0
    word_spaced = False  # the current run holds a letter of a script written with spaces
    for char in text + " ":
        if char.isspace():
            if word_spaced and word_length > _MAX_WORD:
                total -= 1.5 * word_nonascii
            word_nonascii = word_length = 0
            word_spaced = False
            previous_script = ""
            previous_accented = False
            continue
        word_length += 1
        if char < "\x80":
            if char.isalpha():
                if previous_script and previous_script != "latin":
                    total -= 1.0  # e.g. Hangul followed by a Latin letter in one word
                previous_script = "latin"
            else:
                previous_script = ""
            previous_accented = False
            continue
        weight, script = _char_class(char, japanese)
        count += 1
        word_nonascii += 1
        word_spaced = word_spaced or script in _SPACED_SCRIPTS
        total += weight
        accented = script == "latin"
        if script and previous_script and script != previous_script:
            if {script, previous_script} != {"han", "kana"}:
                total -= 1.0  # one word mixing scripts
        elif accented and previous_accented:
            total -= 0.5  # accented letters rarely follow each other in real Latin text
        previous_script = script if char.isalpha() else ""
        previous_accented = accented
    if count == 0:
        return 1.0
    return total / count
