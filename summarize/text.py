"""Split article text into paragraphs and sentences, clean it, and join translated pieces back.

Everything here is pure string work (stdlib plus ``sentencex``): no model, no I/O. The
splitting functions never lose or duplicate text: joining their output and removing
whitespace gives back the input with whitespace removed.
"""

from __future__ import annotations

import logging
import re
import unicodedata

from sentencex import segment as _sentencex_segment

logger = logging.getLogger(__name__)

# --- cleaning ---------------------------------------------------------------------------------

#: Invisible characters removed outright: zero width space, BOM / zero width no-break space,
#: word joiner and soft hyphen. ZWJ (U+200D) and ZWNJ (U+200C) are kept: they change how
#: Persian, Indic scripts and emoji sequences are written.
_INVISIBLE = "\u200b\ufeff\u2060\u00ad"

#: Line and paragraph separators other than ``\n`` that are turned into newlines.
_NEWLINES = {
    "\x0b": "\n",  # vertical tab
    "\x0c": "\n",  # form feed
    "\x1c": "\n",
    "\x1d": "\n",
    "\x1e": "\n",
    "\x85": "\n",  # next line (NEL)
    "\u2028": "\n",  # line separator
    "\u2029": "\n\n",  # paragraph separator
}

#: Space characters that become a plain space: no-break spaces and the fixed-width spaces.
#: The ideographic space U+3000 is left alone (it is ordinary text in CJK layouts).
_SPACES = "\u00a0\u202f\u2007" + "".join(chr(c) for c in range(0x2000, 0x200B))


def _build_clean_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for code in list(range(0x00, 0x20)) + list(range(0x7F, 0xA0)):
        if chr(code) not in "\n\t":
            table[code] = None  # other C0/C1 control characters
    for char, repl in _NEWLINES.items():
        table[ord(char)] = repl
    for char in _INVISIBLE:
        table[ord(char)] = None
    for char in _SPACES:
        table[ord(char)] = " "
    return table


_CLEAN_TABLE = _build_clean_table()
_MANY_NEWLINES = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[^\S\n]+\n")


def clean_text(text: str) -> str:
    r"""Normalise raw article text so later stages see one consistent form.

    Steps: Unicode NFC; ``\r\n`` and ``\r`` (and the other line/paragraph separators
    U+2028, U+2029, NEL, form feed, vertical tab) become ``\n``; zero-width space,
    BOM, word joiner and soft hyphen are removed (ZWJ/ZWNJ are kept); other control
    characters except ``\n`` and ``\t`` are removed; no-break and fixed-width spaces
    become plain spaces; trailing whitespace is stripped from every line; three or more
    newlines collapse into one blank line; the whole text is stripped.

    Args:
        text: Decoded text, in any of the forms found in the wild.

    Returns:
        The cleaned text ("" when nothing but whitespace was left).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.translate(_CLEAN_TABLE)
    text = unicodedata.normalize("NFC", text)
    text = _TRAILING_SPACE.sub("\n", text + "\n")
    text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip()


# --- paragraphs -------------------------------------------------------------------------------

#: Characters that end a sentence or clause; a line ending in one of them is complete.
_FINAL_PUNCT = ".!?;:,…‥。！？；：，、؟۔।॥"
#: Closing quotes and brackets that may follow the final punctuation.
_CLOSERS = "\"'”’»›)]}」』】〉》）"


def ends_sentence(line: str) -> bool:
    """Tell whether a line ends like a complete sentence or clause.

    Closing quotes and brackets at the end are looked through, so ``He said "no."``
    ends a sentence while ``"Brexit" vote looms`` does not.

    Args:
        line: One line of text.

    Returns:
        True when the line (without closing quotes/brackets) ends in sentence or
        clause punctuation.
    """
    stripped = line.rstrip().rstrip(_CLOSERS)
    return bool(stripped) and stripped[-1] in _FINAL_PUNCT


def _is_continuation(previous: str, line: str) -> bool:
    """A hard-wrapped line: the previous one is unfinished and this one starts in lowercase."""
    return line[:1].islower() and not ends_sentence(previous)


def split_paragraphs(text: str) -> list[str]:
    """Split cleaned text into paragraphs.

    Blank lines separate paragraphs, and so does every single newline (news text files
    often hold one paragraph per line). The one exception is a hard-wrapped line: a line
    that starts with a lowercase letter and follows a line that does not end in sentence
    or clause punctuation continues that line instead of starting a paragraph. Scripts
    without letter case (CJK, Hangul, ...) are never joined this way. Whitespace inside a
    paragraph collapses to single spaces; empty paragraphs are dropped.

    Args:
        text: Text, preferably already passed through :func:`clean_text`.

    Returns:
        The paragraphs, in order.
    """
    paragraphs: list[str] = []
    for block in re.split(r"\n[^\S\n]*\n", text):
        current: str | None = None
        for raw_line in block.split("\n"):
            line = " ".join(raw_line.split())
            if not line:
                continue
            if current is not None and _is_continuation(current, line):
                current = f"{current} {line}"
                continue
            if current is not None:
                paragraphs.append(current)
            current = line
        if current is not None:
            paragraphs.append(current)
    return paragraphs


# --- sentences --------------------------------------------------------------------------------

#: ISO 639-3 (and a few other) codes mapped to the ISO 639-1 code sentencex knows.
_LANG_ALIASES = {
    "ara": "ar",
    "ben": "bn",
    "bul": "bg",
    "cat": "ca",
    "ces": "cs",
    "cze": "cs",
    "cmn": "zh",
    "dan": "da",
    "deu": "de",
    "ger": "de",
    "ell": "el",
    "gre": "el",
    "eng": "en",
    "est": "et",
    "fas": "fa",
    "per": "fa",
    "pes": "fa",
    "fin": "fi",
    "fra": "fr",
    "fre": "fr",
    "heb": "he",
    "hin": "hi",
    "hrv": "hr",
    "hun": "hu",
    "ind": "id",
    "ita": "it",
    "jpn": "ja",
    "kor": "ko",
    "lav": "lv",
    "lit": "lt",
    "msa": "ms",
    "may": "ms",
    "zsm": "ms",
    "mya": "my",
    "bur": "my",
    "nep": "ne",
    "nld": "nl",
    "dut": "nl",
    "nob": "nb",
    "nor": "no",
    "pol": "pl",
    "por": "pt",
    "ron": "ro",
    "rum": "ro",
    "rus": "ru",
    "slk": "sk",
    "slo": "sk",
    "slv": "sl",
    "spa": "es",
    "srp": "sr",
    "swe": "sv",
    "tha": "th",
    "tur": "tr",
    "ukr": "uk",
    "urd": "ur",
    "vie": "vi",
    "yue": "zh",
    "zho": "zh",
    "chi": "zh",
}
_DEFAULT_LANG = "en"
_LANG_CODE = re.compile(r"[a-z]{2,3}")


def _base_lang(lang: str | None) -> str:
    """Reduce a language code (``ko``, ``kor``, ``zh-Hant``, ``pt_BR``) to its ISO 639-1 base.

    Anything that does not look like a language code gives the default, English.
    """
    if not lang:
        return _DEFAULT_LANG
    primary = lang.strip().lower().replace("_", "-").split("-", 1)[0]
    primary = _LANG_ALIASES.get(primary, primary)
    if not _LANG_CODE.fullmatch(primary):
        logger.debug("language code %r not understood; using %s rules", lang, _DEFAULT_LANG)
        return _DEFAULT_LANG
    return primary


def split_sentences(paragraph: str, lang: str) -> list[str]:
    """Split one paragraph into sentences.

    Uses ``sentencex`` (which knows CJK sentence punctuation and abbreviations such as
    "Dr." and "U.S."). ISO 639-1 and 639-3 codes are accepted (``kor`` -> ``ko``,
    ``zho``/``cmn`` -> ``zh``, ...); codes it does not understand fall back to English
    rules. No text is lost or duplicated: the sentences joined together equal the
    paragraph once whitespace is ignored.

    Args:
        paragraph: One paragraph of text.
        lang: Language code of the paragraph.

    Returns:
        The stripped, non-empty sentences in order.
    """
    if not paragraph.strip():
        return []
    code = _base_lang(lang)
    try:
        pieces = list(_sentencex_segment(code, paragraph))
    except Exception:  # a library bug must not lose the article; English rules as fallback
        logger.warning("sentence splitting failed for language %r; using English rules", code)
        pieces = list(_sentencex_segment(_DEFAULT_LANG, paragraph))
    if _squash("".join(pieces)) != _squash(paragraph):
        # Never expected: the segmenter changed the text. Keep the paragraph whole.
        logger.warning("sentence splitter changed the text; keeping the paragraph unsplit")
        return [paragraph.strip()]
    return [s for s in (p.strip() for p in pieces) if s]


def _squash(text: str) -> str:
    return "".join(text.split())


#: Break points for :func:`split_long`, best first. ASCII punctuation must be followed by
#: whitespace (so "10:30" and "1,000" are not split); CJK punctuation needs no space.
_LONG_BREAKS = (
    re.compile(r"[;:](?=\s)|[；：]"),
    re.compile(r",(?=\s)|[，、]"),
)


def split_long(sentence: str, max_chars: int) -> list[str]:
    """Split an over-long sentence into pieces of at most ``max_chars`` characters.

    Each cut is made at the best boundary inside the allowed window: after ``;`` or ``:``
    (also the full-width forms), then after a comma (``,`` ``，`` ``、``), then at
    whitespace, and only if there is none, a hard cut at ``max_chars``. Punctuation cuts
    closer to the start than a third of the window are not used, so pieces stay useful.
    No non-space character is lost; pieces are stripped.

    Args:
        sentence: The sentence to split.
        max_chars: Largest allowed piece length (at least 1).

    Returns:
        The pieces in order; ``[sentence.strip()]`` when it already fits, ``[]`` when blank.

    Raises:
        ValueError: If ``max_chars`` is smaller than 1.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, got {max_chars}")
    pieces: list[str] = []
    rest = sentence.strip()
    while len(rest) > max_chars:
        cut = _best_cut(rest, max_chars)
        head, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if head:
            pieces.append(head)
    if rest:
        pieces.append(rest)
    return pieces


def _best_cut(text: str, max_chars: int) -> int:
    """Index at which to cut ``text`` so the left part has at most ``max_chars`` characters."""
    window = text[:max_chars]
    min_cut = max(1, max_chars // 3)
    for pattern in _LONG_BREAKS:
        ends = [m.end() for m in pattern.finditer(window)]
        if ends and ends[-1] >= min_cut:
            return ends[-1]
    # Whitespace: the text may continue with a space right after the window too.
    for index in range(max_chars, 0, -1):
        if text[index].isspace():
            return index
    return max_chars


def segment_text(text: str, lang: str) -> list[list[str]]:
    """Turn raw text into paragraphs of sentences (clean, split paragraphs, split sentences).

    Args:
        text: Article text, cleaned or not.
        lang: Language code of the text.

    Returns:
        One list of sentences per non-empty paragraph.
    """
    result = []
    for paragraph in split_paragraphs(clean_text(text)):
        sentences = split_sentences(paragraph, lang)
        if sentences:
            result.append(sentences)
    return result


#: Target languages written without spaces between sentences.
_NO_SPACE_LANGS = frozenset({"ja", "zh"})


def join_sentences(sentences: list[str], lang: str) -> str:
    """Join the (translated) sentences of one paragraph.

    Japanese and Chinese put no space between sentences; every other language, Korean
    included, uses one space.

    Args:
        sentences: Sentences in order; blank ones are dropped.
        lang: Code of the language the sentences are written in (the translation target).

    Returns:
        The paragraph text.
    """
    separator = "" if _base_lang(lang) in _NO_SPACE_LANGS else " "
    return separator.join(s for s in (t.strip() for t in sentences) if s)


def join_paragraphs(paragraphs: list[str]) -> str:
    """Join paragraphs with one blank line between them.

    Args:
        paragraphs: Paragraph texts in order.

    Returns:
        The text.
    """
    return "\n\n".join(paragraphs)
