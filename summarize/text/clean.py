"""Clean article text and split it into paragraphs (pure string work, no model, no I/O).

Cleaning removes control and invisible characters and normalises spaces and line breaks;
paragraph splitting joins hard-wrapped lines back into paragraphs.
"""

from __future__ import annotations

import re
import unicodedata

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
#: What may follow the final punctuation at the end of a line: the closers, and the marks that
#: close German quotations (``„…“``, ``‚…‘``, ``»…«``) while they open English and French ones.
_LINE_END_CLOSERS = _CLOSERS + "“‘«‹"


def ends_sentence(line: str) -> bool:
    """Tell whether a line ends like a complete sentence or clause.

    Closing quotes and brackets at the end are looked through, so ``He said "no."``
    German ``Er sagte: „Nein.“`` and French ``« Non. »`` end a sentence while
    ``"Brexit" vote looms`` does not.

    Args:
        line: One line of text.

    Returns:
        True when the line (without closing quotes/brackets) ends in sentence or
        clause punctuation.
    """
    stripped = line.rstrip(_LINE_END_CLOSERS + " \t")
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


def join_paragraphs(paragraphs: list[str]) -> str:
    """Join paragraphs with one blank line between them.

    Args:
        paragraphs: Paragraph texts in order.

    Returns:
        The text.
    """
    return "\n\n".join(paragraphs)
