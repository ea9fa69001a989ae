"""Decode the bytes of a text file: byte order marks, UTF-8, declared charsets, legacy encodings."""

from __future__ import annotations

import codecs
import functools
import logging
import re
import unicodedata

from summarize.errors import ArticleError

logger = logging.getLogger(__name__)

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
#: Supersets whose extra mappings turn some characters of the standard codec into full-width
#: look-alikes (CP950 reads Big5's ``£`` as ``￡``; CP932 reads Shift_JIS's ``〜 − ‖ ¢ £ ¬`` as
#: ``～ － ∥ ￠ ￡ ￢``): the standard codec is tried first, the superset only when it fails.
_EXACT_FIRST = {"cp950": "big5", "cp932": "shift_jis"}
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
            return _decode_exact(data, declared_codec)
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


def _decode_exact(data: bytes, codec: str) -> str:
    """Decode strictly with ``codec``, preferring the standard codec it extends (see above).

    Raises:
        UnicodeDecodeError: If neither decodes the bytes.
    """
    exact = _EXACT_FIRST.get(codec)
    if exact:
        try:
            return data.decode(exact)
        except UnicodeDecodeError:
            pass
    return data.decode(codec)


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
            text = _decode_exact(data, encoding)
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
