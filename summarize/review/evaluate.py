"""Score a finished run against reference summaries and translations (``OUT/eval.json``).

The metrics are the reference implementations, never reimplemented here:

- Summaries: ROUGE-1, ROUGE-2 and ROUGE-Lsum F-measures from Google's ``rouge-score``.
  English text uses rouge-score's own ``DefaultTokenizer`` with the Porter stemmer, exactly
  what CNN/DailyMail papers report (the published ROUGE-1.5.5 ``-m`` setting), so English
  figures are comparable with the literature. Every other language uses
  :class:`UnicodeTokenizer`, because the default tokenizer deletes every character outside
  ``[a-z0-9]`` and scores Korean, Chinese or Russian as 0: it keeps Unicode letters, marks
  and digits (lowercased, no stemming); runs of Han, Hiragana and Katakana, written without
  spaces, become one token per character; Hangul, written with spaces, stays one token per
  space-separated word. ROUGE-Lsum sees one sentence per line, split with
  :func:`summarize.text.split_sentences` in the record's language.
- Translations: chrF (``sacrebleu.CHRF()``, tokenization-free, the main figure for Korean,
  Japanese and Chinese), chrF++ (``CHRF(word_order=2)``) and BLEU (``sacrebleu.BLEU``) with a
  tokenizer chosen per target language: ``zh`` for Chinese, ``ja-mecab`` for Japanese and
  ``ko-mecab`` for Korean when their packages are installed (``pip install
  "sacrebleu[ja,ko]"``; they work offline), else ``char``; ``char`` for Thai, Lao, Khmer and
  Burmese; ``13a`` for everything else. The BLEU signature written in ``eval.json`` names the
  tokenizer actually used. Each article's whole text (paragraphs joined by one space) is one
  segment: corpus scores are over all scored articles, per-article scores are sacrebleu's
  sentence-level scores of that one segment.

Every score is on a 0-100 scale.

References come either from a JSONL file or from a folder.

JSONL: one object per line, ``{"id": ..., "summary": "...", "translations": {"ko": ...}}``,
``summary`` and ``translations`` both optional. A translation value is either a string, the
reference translation of the ARTICLE, or an object ``{"article": "...", "summary": "..."}``
holding the reference translation of the article and/or of the reference summary.

Folder (searched recursively, ``.txt`` files, UTF-8), named after the input's path relative to
the input folder with its suffix removed, so input ``world/a.html`` has:

- ``world/a.txt``: the reference summary;
- ``world/a.<lang>.txt`` (``world/a.ko.txt``): the reference translation of the article;
- ``world/a.summary.<lang>.txt``: the reference translation of the summary.

``<lang>`` is any code :func:`summarize.languages.normalize_lang` knows (``ko``, ``kor``,
``zh-TW``); a dotted stem whose last part is not a language code (``report.v2.txt``) is a
summary. A flat folder works too: a reference named only by stem (``a.txt``) matches the
record whose id has that stem, when exactly one record and one reference share it.

A record is matched to a reference by its ``id`` exactly, then by its id without suffix
(``world/a``), then by stem (``a``) when unambiguous. Which translation part is scored is
explicit in the output: ``corpus.translation[lang]["article"|"summary"]``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import regex
import sacrebleu
from rouge_score import rouge_scorer, tokenizers

from summarize.errors import UnsupportedLanguageError, UsageError
from summarize.inputs.sidefiles import REFERENCES_MAX_BYTES, read_side_file, side_file_lines
from summarize.languages import normalize_lang
from summarize.outputs.writers import atomic_write_text, json_text, read_results, valid_text
from summarize.text import segment_text

EVAL = "eval.json"
EVAL_SCHEMA_VERSION = 1
ROUGE_TYPES = ("rouge1", "rouge2", "rougeLsum")
PARTS = ("article", "summary")

#: Scripts written without spaces between words: one ROUGE token per character.
_CHAR_SCRIPTS = r"\p{Han}\p{Hiragana}\p{Katakana}"
_TOKEN = regex.compile(
    rf"[{_CHAR_SCRIPTS}]|(?V1)[[\p{{L}}\p{{N}}\p{{M}}]--[{_CHAR_SCRIPTS}]]+"
)
#: Target languages whose BLEU is computed on characters (no spaces, no offline segmenter).
_CHAR_BLEU = {"th", "lo", "km", "my"}


class UnicodeTokenizer(tokenizers.Tokenizer):
    """rouge-score tokenizer for any script.

    Lowercases, keeps runs of Unicode letters, combining marks and digits as tokens, and
    splits Han, Hiragana and Katakana into one token per character. On ASCII text it gives
    exactly the tokens of rouge-score's ``DefaultTokenizer`` without stemming.
    """

    def tokenize(self, text: str) -> list[str]:
        """The tokens of ``text``, in order."""
        return _TOKEN.findall(text.lower())


@dataclass(frozen=True)
class Reference:
    """Reference texts of one article.

    Attributes:
        summary: The reference summary, or None.
        translations: Reference translation of the article per language code.
        summary_translations: Reference translation of the summary per language code.
    """

    summary: str | None = None
    translations: dict[str, str] = field(default_factory=dict)
    summary_translations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SummaryScores:
    """ROUGE F-measures (0-100) of one summary or the mean over a corpus."""

    rouge1: float
    rouge2: float
    rougeLsum: float  # noqa: N815 - the metric's own name


@dataclass(frozen=True)
class TranslationScores:
    """chrF, chrF++ and BLEU (0-100) of one article's translation or of a corpus."""

    chrf: float
    chrf_pp: float
    bleu: float


@dataclass(frozen=True)
class ArticleEval:
    """Scores of one article.

    Attributes:
        id: The record's id.
        reference: The key of the matched reference.
        summary: ROUGE of the summary, or None when not scored.
        translations: Scores per language and part (``{"ko": {"article": ...}}``).
    """

    id: str
    reference: str
    summary: SummaryScores | None
    translations: dict[str, dict[str, TranslationScores]]


@dataclass(frozen=True)
class SummaryCorpus:
    """ROUGE over all scored summaries (mean of per-article F-measures, like rouge-score's).

    Attributes:
        n: Summaries scored.
        scores: Mean scores, or None when nothing was scored.
        tokenizers: Tokenizer used per summary language.
        missing: Ids of references with a summary whose record has none (failed, absent).
    """

    n: int
    scores: SummaryScores | None
    tokenizers: dict[str, str]
    missing: list[str]


@dataclass(frozen=True)
class TranslationCorpus:
    """Corpus-level translation scores of one language and part.

    Attributes:
        lang: Target language code as in the records.
        part: ``article`` or ``summary``: which text's translation was scored.
        n: Articles scored.
        scores: Corpus scores.
        bleu_tokenizer: sacrebleu tokenizer of the BLEU score.
        signatures: sacrebleu signatures of each metric.
        missing: Ids with a reference translation but no translation in the run.
    """

    lang: str
    part: str
    n: int
    scores: TranslationScores
    bleu_tokenizer: str
    signatures: dict[str, str]
    missing: list[str]


@dataclass(frozen=True)
class EvalReport:
    """Everything ``eval.json`` holds.

    Attributes:
        n_records: Records in results.jsonl.
        n_references: References loaded.
        n_matched: Records matched to a reference.
        summary: Corpus ROUGE.
        translation: Corpus translation scores per language and part.
        articles: Per-article scores, in results.jsonl order.
        unmatched_references: Reference keys no record matched.
        ambiguous: Record ids whose stem matched several references (or the other way).
    """

    n_records: int
    n_references: int
    n_matched: int
    summary: SummaryCorpus
    translation: dict[str, dict[str, TranslationCorpus]]
    articles: list[ArticleEval]
    unmatched_references: list[str]
    ambiguous: list[str]

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data, with the schema version."""
        return {"schema_version": EVAL_SCHEMA_VERSION, "scale": "0-100", **asdict(self)}


# --- references -------------------------------------------------------------------------------


def _lang_code(code: str) -> str | None:
    try:
        return normalize_lang(code)
    except UnsupportedLanguageError:
        return None


def _split_ref_name(rel: PurePosixPath) -> tuple[str, str, str | None]:
    """(key, part, lang) of a reference file: ``a.ko.txt`` -> (``a``, article, ko)."""
    parts = rel.name[: -len(".txt")].split(".")
    parent = "" if str(rel.parent) == "." else f"{rel.parent}/"
    if len(parts) >= 3 and parts[-2] == "summary" and _lang_code(parts[-1]):
        return parent + ".".join(parts[:-2]), "summary", parts[-1]
    if len(parts) >= 2 and _lang_code(parts[-1]):
        return parent + ".".join(parts[:-1]), "article", parts[-1]
    return parent + ".".join(parts), "summary", None


def _load_folder(path: Path) -> dict[str, Reference]:
    found: dict[str, dict[str, Any]] = {}
    for file in sorted(path.rglob("*.txt")):
        if not file.is_file() or any(p.startswith(".") for p in file.relative_to(path).parts):
            continue
        key, part, lang = _split_ref_name(PurePosixPath(file.relative_to(path).as_posix()))
        key = valid_text(key)  # a file name that is not UTF-8 (surrogate escapes)
        text = read_side_file(file, what="reference", max_bytes=REFERENCES_MAX_BYTES)
        entry = found.setdefault(key, {"summary": None, "translations": {},
                                       "summary_translations": {}})
        if lang is None:
            entry["summary"] = text
        elif part == "article":
            entry["translations"][lang] = text
        else:
            entry["summary_translations"][lang] = text
    return {key: Reference(**value) for key, value in found.items()}


def _bad(path: Path, line_no: int, why: str) -> UsageError:
    return UsageError(f"{path}:{line_no}: {why}")


def _load_jsonl(path: Path) -> dict[str, Reference]:
    refs: dict[str, Reference] = {}
    text = read_side_file(path, what="references", max_bytes=REFERENCES_MAX_BYTES)
    for line_no, line in side_file_lines(text):
        if not line.strip():
            continue
        try:
            # a lone surrogate spelled in JSON ("\\ud800") is read as U+FFFD, as
            # read_results reads the records, so ids still match and every page can be written
            obj = valid_text(json.loads(line))
        except (ValueError, RecursionError) as exc:
            raise _bad(path, line_no, f"not valid JSON ({exc})") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("id"), str) or not obj["id"]:
            raise _bad(path, line_no, 'expected an object with a string "id"')
        summary = obj.get("summary")
        if summary is not None and not isinstance(summary, str):
            raise _bad(path, line_no, '"summary" must be a string or null')
        raw = obj.get("translations") or {}
        if not isinstance(raw, dict):
            raise _bad(path, line_no, '"translations" must be an object {"ko": "..."}')
        article: dict[str, str] = {}
        of_summary: dict[str, str] = {}
        for lang, value in raw.items():
            if _lang_code(lang) is None:
                raise _bad(path, line_no, f"unknown language code {lang!r} in translations")
            if isinstance(value, str):
                article[lang] = value
            elif isinstance(value, dict) and set(value) <= set(PARTS) and all(
                    isinstance(v, str) for v in value.values()):
                if "article" in value:
                    article[lang] = value["article"]
                if "summary" in value:
                    of_summary[lang] = value["summary"]
            else:
                raise _bad(path, line_no, f'translations[{lang!r}] must be a string or '
                                          '{"article": "...", "summary": "..."}')
        if obj["id"] in refs:
            raise _bad(path, line_no, f"duplicate id {obj['id']!r}")
        refs[obj["id"]] = Reference(summary, article, of_summary)
    return refs


def load_references(path: Path) -> dict[str, Reference]:
    """Load reference summaries and translations from a JSONL file or a folder.

    See the module docstring for both layouts.

    Args:
        path: A ``.jsonl`` file or a folder of ``.txt`` files.

    Returns:
        References by key: the JSONL ``id``, or the file's relative path without
        ``.txt`` / ``.<lang>.txt`` (``world/a``).

    Each file is read by :func:`summarize.inputs.sidefiles.read_side_file`: a regular
    UTF-8 file (a byte-order mark allowed), lines ending only at ``\\n``.

    Raises:
        UsageError: The path is missing or unreadable, not a regular file or not UTF-8, a
            JSONL line is bad (the message names the file and line), or no reference was
            found.
    """
    path = Path(path)
    if path.is_dir():
        refs = _load_folder(path)
    elif path.exists() or path.is_symlink():
        refs = _load_jsonl(path)  # refuses what is not a regular UTF-8 file, in one line
    else:
        raise UsageError(f"references {path} not found: expected a .jsonl file or a folder")
    if not refs:
        raise UsageError(f"no references in {path}: expected .txt files (<name>.txt, "
                         "<name>.<lang>.txt) or JSONL lines with an id")
    return refs


# --- matching ---------------------------------------------------------------------------------


def _without_suffix(key: str) -> str:
    pure = PurePosixPath(key)
    return str(pure.with_suffix("")) if pure.suffix else key


def _stem(key: str) -> str:
    return PurePosixPath(_without_suffix(key)).name


def match_references(record_ids: Iterable[str], references: dict[str, Reference]
                     ) -> tuple[dict[str, str], list[str]]:
    """Pair record ids with reference keys.

    Args:
        record_ids: Ids of the run's records.
        references: References by key.

    Returns:
        Reference key per matched record id, and the record ids left out because their
        stem is shared (by several references or several records).
    """
    ids = list(record_ids)
    by_path: dict[str, list[str]] = {}
    by_stem: dict[str, list[str]] = {}
    for key in references:
        # a folder key has no suffix ("report.v2"), a JSONL id may ("world/a.txt"): index both
        for path_key in {key, _without_suffix(key)}:
            by_path.setdefault(path_key, []).append(key)
        for stem in {PurePosixPath(key).name, _stem(key)}:
            by_stem.setdefault(stem, []).append(key)
    record_stems: dict[str, int] = {}
    for rid in ids:
        record_stems[_stem(rid)] = record_stems.get(_stem(rid), 0) + 1
    matched: dict[str, str] = {}
    ambiguous: list[str] = []
    for rid in ids:
        if rid in references:
            matched[rid] = rid
            continue
        same_path = by_path.get(_without_suffix(rid), [])
        if len(same_path) == 1:
            matched[rid] = same_path[0]
            continue
        same_stem = by_stem.get(_stem(rid), [])
        if len(same_stem) == 1 and record_stems[_stem(rid)] == 1 and not same_path:
            matched[rid] = same_stem[0]
        elif same_stem or same_path:
            ambiguous.append(rid)
    return matched, ambiguous


# --- metrics ----------------------------------------------------------------------------------


def rouge_tokenizer(lang: str | None) -> tokenizers.Tokenizer:
    """The rouge-score tokenizer used for summaries in ``lang`` (see the module docstring)."""
    if _lang_code(lang or "en") == "en":
        return tokenizers.DefaultTokenizer(use_stemmer=True)
    return UnicodeTokenizer()


def _tokenizer_name(lang: str | None) -> str:
    if _lang_code(lang or "en") == "en":
        return "rouge-score default (Porter stemmer)"
    return "unicode (letters/digits; Han and kana per character; no stemmer)"


def sentence_lines(text: str, lang: str | None) -> str:
    """``text`` with one sentence per line, as ROUGE-Lsum expects."""
    return "\n".join(s for paragraph in segment_text(text, lang or "en") for s in paragraph)


def score_summary(prediction: str, reference: str, lang: str | None) -> SummaryScores:
    """ROUGE-1/2/Lsum F-measures (0-100) of one summary against its reference.

    Args:
        prediction: The system summary.
        reference: The reference summary.
        lang: Language of both texts (``en`` when None).

    Returns:
        The three F-measures.
    """
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), tokenizer=rouge_tokenizer(lang))
    scores = scorer.score(sentence_lines(reference, lang), sentence_lines(prediction, lang))
    return SummaryScores(*(100 * scores[t].fmeasure for t in ROUGE_TYPES))


@functools.cache
def _works(tokenize: str) -> bool:
    try:
        sacrebleu.BLEU(tokenize=tokenize).corpus_score(["テスト 한국어"], [["テスト 한국어"]])
    except Exception:  # missing package or dictionary: any failure means "not usable"
        return False
    return True


def bleu_tokenizer(lang: str) -> str:
    """The sacrebleu BLEU tokenizer for a target language (see the module docstring)."""
    code = (_lang_code(lang) or lang).split("-")[0]
    if code == "zh":
        return "zh"
    if code in ("ja", "ko"):
        mecab = f"{code}-mecab"
        return mecab if _works(mecab) else "char"
    return "char" if code in _CHAR_BLEU else "13a"


def _flat(text: str) -> str:
    return " ".join(text.split())


def _metrics(lang: str) -> tuple[sacrebleu.CHRF, sacrebleu.CHRF, sacrebleu.BLEU]:
    return (sacrebleu.CHRF(), sacrebleu.CHRF(word_order=2),
            sacrebleu.BLEU(tokenize=bleu_tokenizer(lang), effective_order=True))


def score_translation(prediction: str, reference: str, lang: str) -> TranslationScores:
    """Sentence-level chrF, chrF++ and BLEU (0-100) of one text against its reference.

    Args:
        prediction: The system translation (whitespace is collapsed).
        reference: The reference translation.
        lang: Target language (chooses the BLEU tokenizer).
    """
    chrf, chrf_pp, bleu = _metrics(lang)
    hyp, ref = _flat(prediction), [_flat(reference)]
    return TranslationScores(chrf.sentence_score(hyp, ref).score,
                             chrf_pp.sentence_score(hyp, ref).score,
                             bleu.sentence_score(hyp, ref).score)


def corpus_translation(predictions: list[str], references: list[str], lang: str
                       ) -> tuple[TranslationScores, dict[str, str]]:
    """Corpus-level chrF, chrF++ and BLEU of aligned predictions and references.

    Returns:
        The scores and each metric's sacrebleu signature.
    """
    chrf, chrf_pp, bleu = _metrics(lang)
    bleu = sacrebleu.BLEU(tokenize=bleu_tokenizer(lang))  # corpus BLEU: no effective order
    hyps = [_flat(p) for p in predictions]
    refs = [[_flat(r) for r in references]]
    scores = TranslationScores(chrf.corpus_score(hyps, refs).score,
                               chrf_pp.corpus_score(hyps, refs).score,
                               bleu.corpus_score(hyps, refs).score)
    signatures = {"chrf": str(chrf.get_signature()), "chrf_pp": str(chrf_pp.get_signature()),
                  "bleu": str(bleu.get_signature())}
    return scores, signatures


# --- the run ----------------------------------------------------------------------------------


def _find_lang(mapping: dict[str, Any], lang: str) -> str | None:
    """The key of ``mapping`` naming the same language as ``lang`` (``kor`` finds ``ko``)."""
    if lang in mapping:
        return lang
    canon = _lang_code(lang)
    for key in mapping:
        if canon is not None and _lang_code(key) == canon:
            return key
    return None


def _as_dict(record: Any) -> dict[str, Any]:
    """A results.jsonl record as a dict, whether the reader gives dicts or dataclasses."""
    if isinstance(record, dict):
        return record
    if dataclasses.is_dataclass(record):
        return dataclasses.asdict(record)
    raise TypeError(f"not a results record: {type(record).__name__}")


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else math.nan


def evaluate_run(out_dir: Path, references: dict[str, Reference]) -> EvalReport:
    """Score a finished run's summaries and translations against references.

    Only records with ``status`` ``ok`` and the text in question are scored; references
    whose record lacks it are listed as ``missing`` (failed or absent articles are not
    scored as zero).

    Args:
        out_dir: The run's output folder (holding results.jsonl).
        references: From :func:`load_references`.

    Returns:
        The report; write it with :func:`write_eval`.

    Raises:
        UsageError: ``out_dir`` has no results.jsonl.
    """
    out_dir = Path(out_dir)
    records, _ = read_results(out_dir)
    if not records and not (out_dir / "results.jsonl").is_file():
        raise UsageError(f"{out_dir} holds no results.jsonl; run `summarize batch` first")
    matched, ambiguous = match_references(records, references)
    summary_rows: list[SummaryScores] = []
    summary_langs: dict[str, str] = {}
    summary_missing: list[str] = []
    pairs: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    trans_missing: dict[tuple[str, str], list[str]] = {}
    articles: list[ArticleEval] = []
    for rid, key in matched.items():
        record, ref = _as_dict(records[rid]), references[key]
        ok = record.get("status") == "ok"
        lang = record.get("lang") or "en"
        summary = None
        if ref.summary is not None:
            if ok and isinstance(record.get("summary"), str) and record["summary"].strip():
                summary = score_summary(record["summary"], ref.summary, lang)
                summary_rows.append(summary)
                summary_langs.setdefault(lang, _tokenizer_name(lang))
            else:
                summary_missing.append(rid)
        per_lang: dict[str, dict[str, TranslationScores]] = {}
        outputs = record.get("translations") or {}
        for part, wanted in (("article", ref.translations), ("summary", ref.summary_translations)):
            for ref_lang, ref_text in wanted.items():
                out_lang = _find_lang(outputs, ref_lang)
                text = (outputs.get(out_lang) or {}).get(part) if out_lang else None
                lang_key = out_lang or ref_lang
                slot = (lang_key, part)
                if not ok or not isinstance(text, str) or not text.strip():
                    trans_missing.setdefault(slot, []).append(rid)
                    continue
                per_lang.setdefault(lang_key, {})[part] = score_translation(
                    text, ref_text, lang_key)
                hyps, refs = pairs.setdefault(slot, ([], []))
                hyps.append(text)
                refs.append(ref_text)
        articles.append(ArticleEval(rid, key, summary, per_lang))
    summary_corpus = SummaryCorpus(
        n=len(summary_rows),
        scores=SummaryScores(*(_mean([getattr(s, t) for s in summary_rows])
                               for t in ROUGE_TYPES)) if summary_rows else None,
        tokenizers=summary_langs,
        missing=summary_missing,
    )
    translation: dict[str, dict[str, TranslationCorpus]] = {}
    for slot in sorted(set(pairs) | set(trans_missing)):
        lang_key, part = slot
        hyps, refs = pairs.get(slot, ([], []))
        if hyps:
            scores, signatures = corpus_translation(hyps, refs, lang_key)
        else:
            scores = TranslationScores(math.nan, math.nan, math.nan)
            signatures = {}
        translation.setdefault(lang_key, {})[part] = TranslationCorpus(
            lang_key, part, len(hyps), scores, bleu_tokenizer(lang_key), signatures,
            trans_missing.get(slot, []))
    used = set(matched.values())
    return EvalReport(
        n_records=len(records),
        n_references=len(references),
        n_matched=len(matched),
        summary=summary_corpus,
        translation=translation,
        articles=articles,
        unmatched_references=sorted(k for k in references if k not in used),
        ambiguous=ambiguous,
    )


def _json_safe(value: Any) -> Any:
    """NaN (nothing scored) becomes null: JSON has no NaN."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def write_eval(out_dir: Path, report: EvalReport) -> Path:
    """Write ``OUT/eval.json`` atomically; returns its path."""
    path = Path(out_dir) / EVAL
    text = json_text(_json_safe(report.to_dict()), indent=2) + "\n"  # lone surrogates escaped
    atomic_write_text(path, text)
    return path
