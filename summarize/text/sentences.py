"""Split article text into paragraphs and sentences, clean it, and join translated pieces back.

Everything here is pure string work (stdlib plus ``sentencex``): no model, no I/O. The
splitting functions never lose or duplicate text: joining their output and removing
whitespace gives back the input with whitespace removed, and they run in time and memory
linear in the input's length. ``benchmarks/sentence_split.py`` measures sentence splitting
against NTREX-128's human sentence boundaries.
"""

from __future__ import annotations

import bisect
import logging
import re

from sentencex import segment as _sentencex_segment

from summarize.text.clean import _CLOSERS, clean_text, split_paragraphs

logger = logging.getLogger(__name__)

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


#: Quotation marks hidden from ``sentencex`` (each replaced by U+2019, which it reads as a
#: plain closing mark): it never splits inside a quotation, but news quotes run over several
#: sentences, each of which must be translated on its own.
_QUOTE_MASK = str.maketrans({
    **dict.fromkeys("\"'“”„‟‘‚‛«»‹›＂＇「」『』〝〞〟", "\u2019"),
    # and every non-ASCII space as a plain one (one character for one, so offsets hold):
    # sentencex 1.0 panics on one before a full stop ("X\u3000.": a Rust slice inside
    # the character)
    **dict.fromkeys((chr(c) for c in range(0x80, 0x3001) if chr(c).isspace()), " "),
})
#: Masked quotation marks that open (at the start or after a space or bracket, before a
#: letter or digit): shown to ``sentencex`` as spaces, so that the word after them is read as
#: a word (``„Dr. Ford`` keeps its abbreviation, where ``’Dr.`` would end a sentence).
_OPENING_MASK = re.compile("(?<![^\\s(\\[{])\u2019+(?=[^\\W_])")


def _spaces(match: re.Match[str]) -> str:
    return " " * len(match.group())


#: Sentence-final punctuation of CJK text; a sentence may end there without a space after it.
_CJK_FINAL = "。！？"
#: After a CJK sentence end (and its closers), a boundary unless more final punctuation follows.
_CJK_BREAK = re.compile(
    f"[{_CJK_FINAL}]+[{re.escape(_CLOSERS)}]*(?=[^\\s{_CJK_FINAL}{re.escape(_CLOSERS)}])"
)
#: German ordinals ("in der 89. Minute", "am 1. Oktober"): a number of up to three digits and
#: a full stop, then a word that does not usually start a sentence.
_DE_ORDINAL = re.compile(r"(?<![\d.,])\d{1,3}\.\s*$")
_WORD = re.compile(r"\s*([^\W\d_]+)")
_DE_STARTERS = frozenset(
    "Aber Als Am Auch Auf Aus Bei Bis Da Damit Dann Das Dass Dem Den Denn Der Des Deshalb Die "
    "Dies Diese Dieser Dieses Doch Dort Du Durch Ein Eine Einer Es Für Heute Ich Ihr Im In "
    "Inzwischen Jetzt Man Mit Nach Nun Ob Oder Seit Sie So Trotzdem Um Und Unter Vor Während "
    "Was Wenn Wer "
    "Wie Wir Zu Zum Zur Zudem".split()
)
#: A lowercase single-letter word before a full stop and a capitalised word ("the letter u. The"):
#: a sentence end, where ``sentencex`` takes it for an initial, unless it is part of an
#: abbreviation (see :func:`_is_letter_abbreviation`).
_LETTER_END = re.compile(r"(?<=\s)[a-z]\.(?=\s+[A-Z])")
#: A single letter and a full stop, standing alone: one part of ``z. B.``, ``i. d. R.``, ``U. S.``.
_LETTER_DOT = r"(?<![^\W\d_])[^\W\d_]\."
#: Right before a candidate end: a single-letter abbreviation ("i." before "d. R.").
_LETTER_DOT_BEFORE = re.compile(_LETTER_DOT + r"\s*$")
#: Right after a candidate end: a single-letter abbreviation ("B." after "z."), or a short
#: capitalised one ("Chr." after "v." and "n.", "Abb." after "s.").
_ABBREVIATION_AFTER = re.compile(r"\s*(?:[^\W\d_]|[A-ZÄÖÜ][a-zäöü]{1,3})\.(?![^\W\d_])")
#: A single letter or a number of up to three digits and a full stop, right before an end.
_SHORT_BEFORE_STOP = re.compile(r"(?<![^\W_])(?:[^\W\d_]|\d{1,3})\.$")
#: A capitalised word right before a candidate end: "Roe" in "Roe v. Wade" (versus; German
#: "von" in names, "Otto v. Bismarck").
_NAME_BEFORE = re.compile(r"(?<![^\W\d_])[A-ZÀ-Þ][^\W\d_]*[.,]?\s+$")
#: Languages with no word of one lowercase letter: a lowercase letter and a full stop is an
#: abbreviation there (``z.``, ``d.``, ``v.``, ``u.``), never the end of a sentence.
_NO_ONE_LETTER_WORDS = frozenset({"de"})
#: Quotation marks that open in English and French but close in German (``„…“``, ``‚…‘``,
#: ``»…«``); see :func:`_closers_end`.
_OPENERS_THAT_CLOSE = "“‘«‹"
#: A French closing guillemet after a space, before a space or the end (``« Non. » Puis``).
_SPACED_GUILLEMET = re.compile(r"[^\S\n]+[»›](?=\s|$)")
#: Languages whose script has no letter case: a word in lowercase tells nothing there.
_UNCASED = frozenset({"ja", "ko", "zh", "th", "ar", "he", "fa", "hi", "bn", "my", "km", "lo"})
#: Quotation marks and brackets looked through when placing a sentence end.
_QUOTE_LIKE = frozenset(_CLOSERS + "“‘„‚‛‟«‹「『【〈《（([{")
#: Japanese quotative particles: after 「…。」 these continue the sentence (「雨だ。」と言った).
_JA_QUOTATIVE = ("と", "って", "っ")
#: Korean quotative particles that may follow a closing quote after a (stray) space.
_KO_QUOTATIVE = re.compile(r"\s{1,3}(?:라고|라며|라면서|라는)(?!스)")
#: A sentence that announces the quotation after it ("彼はこう述べた。「…」", "그는 이렇게
#: 말했다. “…”"): the Japanese and Korean form of English ``He said: "..."``. It is not
#: complete without the quotation, so no boundary between them.
_LEAD_IN = {
    "ja": re.compile(
        r"(?:こう|次のように|以下のように|次の通り|以下の通り)[^。！？「」『』]{0,15}。$"
    ),
    "ko": re.compile(r"(?:이렇게|다음과\s?같이|아래와\s?같이)[^.!?\"'“”‘’]{0,20}\.$"),
}
#: A short attribution after a quotation ("「…。」ハメルは語った。", "“…다.” 그가 말했다."):
#: the Japanese and Korean form of English ``"...," he said.``; it joins the quotation.
_ATTRIBUTION = {
    "ja": re.compile(
        r"[^。！？!?.「」『』“”\"]{1,18}(?:言った|言う|語った|語る|述べた|述べる|話した|話す"
        r"|付け加えた|続けた|説明した|強調した|明かした|答えた|尋ねた|報じた|伝えた|書いた"
        r"|言いました|語りました|述べました|話しました)。"
    ),
    "ko": re.compile(
        r"[^.!?。“”\"'‘’]{1,18}(?:말|밝|덧붙|전|설명|강조|주장|물|답|외|썼|보도|발표|언급)"
        r"(?:했다|했습니다|혔다|혔습니다|였다|였습니다|었다|었습니다|쳤다|쳤습니다|다|습니다)\."
    ),
}
_ATTRIBUTION_CLOSERS = "”’」』\"'"
#: Opening quotation marks a lead-in sentence may be followed by.
_OPENING_QUOTES = "“‘「『\"'"


def split_sentences(paragraph: str, lang: str) -> list[str]:
    """Split one paragraph into sentences.

    ``sentencex`` (Wikimedia, MIT) finds the boundaries with its per-language rules and
    abbreviation lists ("Dr.", "U.S.", "z. B."), given the text with its quotation marks
    hidden so that quoted sentences are split too. Rules on top of it:

    * CJK sentence punctuation (``。！？``) ends a sentence even when a digit or a Latin
      letter follows without a space (``東京は晴れた。2017年に…``).
    * A quotation followed by a particle stays one sentence: Korean ``“…이다.”라고 말했다.``
      (also with a stray space, ``“…이다.” 라고``) and Japanese ``「…だ。」と言った。``.
    * A Japanese or Korean sentence that announces the quotation after it stays with it
      (``彼はこう述べた。「…」``, ``그는 이렇게 말했다. “…”``), like English ``He said: "…"``;
      so does a short attribution after a quotation (``「…！」ハメルは語った。``,
      ``“…니다.” 그가 말했다.``), like English ``"…," he said.``
    * Closing quotes and brackets stay with the sentence they close, never open the next. A
      straight quote right after the sentence end and before a space closes, however many
      quotes came before it (translations often leave one unbalanced).
    * A lowercase one-letter word before a full stop and a capitalised word ends a sentence
      (``the letter u. The``); capital letters are taken as initials (``J. Smith``), and so
      is a capital letter and a full stop glued to the next letter (``A.I.``, ``D.C.の``).

    ISO 639-1 and 639-3 codes are accepted (``kor`` -> ``ko``, ``zho``/``cmn`` -> ``zh``,
    ...); codes it does not understand fall back to English rules. Time and memory are
    linear in the length of the paragraph. No text is lost or duplicated: the sentences
    joined together equal the paragraph once whitespace is ignored.

    Args:
        paragraph: One paragraph of text.
        lang: Language code of the paragraph.

    Returns:
        The stripped, non-empty sentences in order.
    """
    if not paragraph.strip():
        return []
    code = _base_lang(lang)
    ends = _sentencex_ends(paragraph, code)
    if ends is None:
        # Never expected: the segmenter changed the text. Keep the paragraph whole.
        logger.warning("sentence splitter changed the text; keeping the paragraph unsplit")
        return [paragraph.strip()]
    ends = _refine_ends(paragraph, ends, code)
    sentences = []
    start = 0
    for end in ends:
        sentence = paragraph[start:end].strip()
        if sentence:
            sentences.append(sentence)
        start = end
    attribution = _ATTRIBUTION.get(code)
    if attribution is not None:
        sentences = _join_attributions(sentences, attribution, code)
    return sentences


def _join_attributions(sentences: list[str], pattern: re.Pattern[str], code: str) -> list[str]:
    """Join a short attribution sentence to the quotation right before it."""
    separator = "" if code == "ja" else " "
    joined: list[str] = []
    for sentence in sentences:
        if (
            joined
            and joined[-1][-1] in _ATTRIBUTION_CLOSERS
            and len(sentence) <= 24
            and pattern.fullmatch(sentence)
        ):
            joined[-1] = joined[-1] + separator + sentence
        else:
            joined.append(sentence)
    return joined


def _sentencex_ends(paragraph: str, code: str) -> list[int] | None:
    """End offsets of the sentences ``sentencex`` finds (the last is ``len(paragraph)``)."""
    masked = _OPENING_MASK.sub(_spaces, paragraph.translate(_QUOTE_MASK))
    # A library bug must not lose the article (nor stop the run: a Rust panic arrives as
    # pyo3's PanicException, a BaseException): English rules, else the paragraph whole.
    try:
        pieces = list(_sentencex_segment(code, masked))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:
        logger.warning("sentence splitting failed for language %r; using English rules", code)
        try:
            pieces = list(_sentencex_segment(_DEFAULT_LANG, masked))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:
            return None
    ends = []
    position = 0
    for piece in pieces:
        found = masked.find(piece, position) if piece else position
        if found < 0 or masked[position:found].strip():
            return None
        position = found + len(piece)
        ends.append(position)
    if masked[position:].strip():
        return None
    if not ends or ends[-1] != len(paragraph):
        ends.append(len(paragraph))
    return ends


def _refine_ends(text: str, ends: list[int], code: str) -> list[int]:
    """Apply the CJK, quotation, closer and one-letter rules to sentence end offsets."""
    extra = [m.end() for m in _CJK_BREAK.finditer(text)]
    if code not in _NO_ONE_LETTER_WORDS:
        extra += [m.end() for m in _LETTER_END.finditer(text)
                  if not _is_letter_abbreviation(text, m.start(), m.end())]
    candidates = sorted(set(ends) | set(extra)) if extra else ends
    quotes = [m.start() for m in re.finditer('"', text)]
    kept: list[int] = []
    start = 0
    for end in candidates:
        if end >= len(text):
            break
        # Closing quotes and brackets right after the sentence belong to it; opening ones
        # (which sentencex, seeing the masked text, may have attached) to the next.
        back = end
        while back > start and (text[back - 1].isspace() or text[back - 1] in _QUOTE_LIKE):
            back -= 1
        end = _closers_end(text, back, quotes) or back
        if end <= start or not text[start:end].strip() or _continues(text, end, code):
            continue
        if _is_initial(text, end) or _leads_into_quote(text, start, end, code):
            continue
        if code not in _UNCASED and _abbreviation_before_lowercase(text, start, end):
            continue
        if code == "de" and _is_german_ordinal(text, start, end):
            continue
        kept.append(end)
        start = end
    kept.append(len(text))
    return kept


def _closers_end(text: str, index: int, quotes: list[int]) -> int | None:
    """End of the closing quotes and brackets starting at ``index`` (None when there are none).

    A straight quote glued to a lowercase or Hangul word after it closes (Korean
    ``"…이다."라고``); otherwise a straight double quote closes when an odd number of them
    come before it, and a straight single quote closes unless a letter or digit follows
    (then it opens, or is an apostrophe). ``“ ‘ « ‹`` open in English and French but close
    in German (``„…“``, ``‚…‘``, ``»…«``): glued to the sentence end with a space (or
    nothing) after them, they close. A French closing guillemet after a space (``« Non. »``)
    closes too when a space or nothing follows it.
    """
    position = index
    while position < len(text) and (text[position] in _CLOSERS
                                    or text[position] in _OPENERS_THAT_CLOSE):
        char = text[position]
        following = text[position + 1 : position + 2]
        if char in _OPENERS_THAT_CLOSE:
            run = position + 1
            while run < len(text) and (text[run] in _CLOSERS or text[run] in _OPENERS_THAT_CLOSE):
                run += 1
            if run < len(text) and not text[run].isspace():
                break  # a letter follows the marks: they open the next sentence
            position += 1
            continue
        if char in "\"'" and _continues(text, position + 1, "", following):
            position += 1  # glued to a particle after it ("…이다."라고): it closes
            continue
        if following.isspace() or not following:
            position += 1  # right-flanking (text before it, a space after it): it closes
            continue
        if char == '"' and bisect.bisect_left(quotes, position) % 2 == 0:
            break
        if char == "'" and position + 1 < len(text) and text[position + 1].isalnum():
            break
        position += 1
    spaced = _SPACED_GUILLEMET.match(text, position)
    if spaced:
        position = spaced.end()
    return position if position > index else None


def _continues(text: str, end: int, code: str, after: str = "") -> bool:
    """Whether the text after ``end`` continues the sentence before it (no boundary)."""
    if end >= len(text) or (text[end - 1] not in _CLOSERS
                            and text[end - 1] not in _OPENERS_THAT_CLOSE):
        return False
    after = after or text[end]
    if code == "ja":
        return text.startswith(_JA_QUOTATIVE, end)
    if code == "ko" and after.isspace():
        # A quotative particle after a stray space: "…입니다.” 라고 말했다".
        return _KO_QUOTATIVE.match(text, end, min(len(text), end + 12)) is not None
    if after.isspace() and code not in _UNCASED:
        # A quotation and a word in lowercase: '"Stop!" he said', '„Halt!“ rief er'.
        word = _WORD.match(text, end)
        return bool(word) and word.start(1) - end <= 2 and word.group(1)[0].islower()
    # A quotation glued to the word after it: Korean "…이다.”라고", or "bit!'he said".
    return after.isalpha() and not after.isupper() and not _is_cjk(after)


def _is_initial(text: str, end: int) -> bool:
    """Whether ``end`` follows a capital initial glued to the next letter ("A.I.", "D.C.")."""
    return (
        end >= 2
        and end < len(text)
        and text[end - 1] == "."
        and "A" <= text[end - 2] <= "Z"
        and (end < 3 or not text[end - 3].isascii() or not text[end - 3].isalpha())
        and text[end].isalpha()
    )


def _is_letter_abbreviation(text: str, start: int, end: int) -> bool:
    """Whether the single letter and full stop ``text[start:end]`` is an abbreviation (part of
    ``z. B.``, ``i. d. R.``, ``v. Chr.``, or the ``v.`` of ``Roe v. Wade``), not a word that
    ends a sentence."""
    if _LETTER_DOT_BEFORE.search(text, max(0, start - 4), start):
        return True
    if _ABBREVIATION_AFTER.match(text, end):
        return True
    return text[start] == "v" and bool(_NAME_BEFORE.search(text, max(0, start - 40), start))


def _abbreviation_before_lowercase(text: str, start: int, end: int) -> bool:
    """Whether the full stop before ``end`` ends a single letter or a number (``o. a.``,
    ``n. l.``, Czech and Slovak ordinals ``10. června``) and a word in lowercase follows:
    no sentence starts so in a script with letter case."""
    if not _SHORT_BEFORE_STOP.search(text, max(start, end - 5), end):
        return False
    word = _WORD.match(text, end)
    return bool(word) and word.start(1) > end and word.group(1)[0].islower()


def _leads_into_quote(text: str, start: int, end: int, code: str) -> bool:
    """Whether the sentence ``text[start:end]`` announces a quotation that follows it."""
    pattern = _LEAD_IN.get(code)
    if pattern is None:
        return False
    after = end
    while after < len(text) and text[after].isspace():
        after += 1
    if after >= len(text) or text[after] not in _OPENING_QUOTES:
        return False
    stop = end
    while stop > start and text[stop - 1].isspace():
        stop -= 1
    return pattern.search(text, max(start, stop - 40), stop) is not None


def _is_german_ordinal(text: str, start: int, end: int) -> bool:
    """Whether the sentence end at ``end`` is the full stop of a German ordinal number."""
    if not _DE_ORDINAL.search(text, max(start, end - 8), end):
        return False
    word = _WORD.match(text, end)
    return bool(word) and word.group(1) not in _DE_STARTERS


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return 0x3040 <= code <= 0x30FF or 0x3400 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF


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
    # Positions into the one string, never slices of the rest: linear time and memory.
    pieces: list[str] = []
    start, stop = _strip_bounds(sentence, 0, len(sentence))
    while stop - start > max_chars:
        cut = _best_cut(sentence, start, max_chars)
        head = sentence[start:cut].rstrip()
        if head:
            pieces.append(head)
        start, _ = _strip_bounds(sentence, cut, stop)
    if stop > start:
        pieces.append(sentence[start:stop])
    return pieces


def _strip_bounds(text: str, start: int, stop: int) -> tuple[int, int]:
    """``(start, stop)`` moved inwards past whitespace."""
    while start < stop and text[start].isspace():
        start += 1
    while stop > start and text[stop - 1].isspace():
        stop -= 1
    return start, stop


def _best_cut(text: str, start: int, max_chars: int) -> int:
    """Index at which to cut ``text[start:]`` so the left part has at most ``max_chars``."""
    limit = start + max_chars
    min_cut = start + max(1, max_chars // 3)
    for pattern in _LONG_BREAKS:
        last = None
        for match in pattern.finditer(text, start, limit):
            last = match.end()
        if last is not None and last >= min_cut:
            return last
    # Whitespace: the text may continue with a space right after the window too.
    for index in range(limit, start, -1):
        if text[index].isspace():
            return index
    return limit


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
