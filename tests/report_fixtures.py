"""Build sample run output folders (results.jsonl + stats.json) for the HTML report tests.

The default run mixes ordinary news articles with hostile data: markup and script in titles
and text, ids that look like paths, right-to-left and CJK text, a 5,000-character word, an
empty summary, a failed article, a resumed (duplicated) id and a torn final line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from summarize.outputs.naming import page_stem

HOSTILE_TITLE = "<script>alert(1)</script>"
HOSTILE_IMG = "<img src=x onerror=alert(1)>"
# If any of these ran, the page title would change or an element with id "pwned" would appear.
HOSTILE_PWN_IMG = "<img src=x id=pwned onerror=\"document.title='pwned'\">"
HOSTILE_PWN_SCRIPT = (
    "<script>document.title='pwned';var p=document.createElement('p');"
    "p.id='pwned';document.body.appendChild(p);</script>"
)
HOSTILE_JS_LINK = '<a href="javascript:alert(1)">click here</a>'
HOSTILE_QUOTES = "He said \"don't\" & left's ' \" `quotes`"
HOSTILE_ERROR = "Could not decode <b>bytes</b> at offset 12 & gave up"
HOSTILE_TRANSLATED_TITLE = '제목 <img src=x id=pwned onerror="document.title=\'pwned\'"> "끝"'
TRAVERSAL_ID = "../../etc/x"
ABSOLUTE_ID = "/abs/path"
LONG_WORD = "supercalifragilistic" * 250  # 5,000 characters, no spaces
ARABIC_TEXT = (
    "قال مسؤولون يوم الاثنين إن المحادثات ستستمر الأسبوع المقبل.\n\n"
    "وارتفعت الأسواق بشكل حاد بعد إعلان البنك المركزي."
)
TORN_LINE = '{"schema_version": 1, "id": "torn-after-crash", "status": "o'

_SENTENCE = re.compile(r"(?<=[.!?。])\s+")


def sentences(paragraph: str) -> list[str]:
    """Split a paragraph into sentences (good enough for sample data)."""
    return [s for s in _SENTENCE.split(paragraph.strip()) if s]


def align(source: str, translation: str) -> list[list[list[str]]]:
    """Pair the sentences of two texts paragraph by paragraph, as the pipeline records them.

    Args:
        source: Source text, paragraphs separated by blank lines.
        translation: Its translation with the same paragraph and sentence structure.

    Returns:
        A list of paragraphs, each a list of ``[source, translation]`` sentence pairs.
    """
    out = []
    src_paras = source.split("\n\n")
    tgt_paras = translation.split("\n\n")
    for src, tgt in zip(src_paras, tgt_paras, strict=True):
        src_s, tgt_s = sentences(src), sentences(tgt)
        n = max(len(src_s), len(tgt_s))
        src_s += [""] * (n - len(src_s))
        tgt_s += [""] * (n - len(tgt_s))
        out.append([[s, t] for s, t in zip(src_s, tgt_s, strict=True)])
    return out


def article(
    article_id: str,
    *,
    title: str = "",
    text: str = "",
    summary: str | None = None,
    lang: str | None = "en",
    status: str = "ok",
    error: str | None = None,
    translations: dict | None = None,
    alignment: dict | None = None,
    timings: dict | None = None,
    chunks: int = 1,
    source: str | None = None,
    finished_at: str = "2025-03-04T10:15:42+00:00",
) -> dict:
    """Build one results.jsonl record with the fields the pipeline writes.

    Args:
        article_id: The record id.
        title: Title ("" when none).
        text: Source text, paragraphs separated by blank lines.
        summary: The summary (None for failed articles).
        lang: Source language.
        status: "ok" or "error".
        error: Error message of a failed article.
        translations: ``{lang: {"title": str, "summary": str, "article": str}}``.
        alignment: ``{lang: {"summary": [...], "article": [...]}}``.
        timings: Seconds per stage; defaults scale with the text length.
        chunks: Number of chunks the summarizer saw.
        source: Source path; defaults to ``inputs/<id>``.
        finished_at: ISO time the article was written.

    Returns:
        The record as a dict.
    """
    words = len(text.split())
    if timings is None:
        summarize_s = 0.4 + words / 180
        translate_s = 0.3 + len(summary or "") / 900 if translations else 0.0
        timings = {"read": 0.004, "summarize": round(summarize_s, 3), "write": 0.002}
        if translations:
            timings["translate"] = round(translate_s, 3)
        timings["total"] = round(sum(timings.values()), 3)
    return {
        "schema_version": 1,
        "id": article_id,
        "source": source if source is not None else f"inputs/{article_id}",
        "title": title,
        "lang": lang,
        "status": status,
        "error": error,
        "text": text,
        "summary": summary,
        "chunks": chunks,
        "translations": translations or {},
        "alignment": alignment or {},
        "timings": timings,
        "n_words": words,
        "n_chars": len(text),
        "page": f"articles/{page_stem(article_id)}.md",
        "finished_at": finished_at,
    }


_RATES_TEXT = (
    "The Bank of Korea held its benchmark interest rate at 3.5 percent on Thursday. "
    "Officials said inflation was slowing but remained above target.\n\n"
    "Markets rose sharply after the announcement. The won gained against the dollar.\n\n"
    "Economists expect the first cut before the end of the year."
)
_RATES_SUMMARY = "The Bank of Korea kept its rate at 3.5 percent. Markets rose after the decision."
_RATES_KO_SUMMARY = "한국은행은 기준금리를 3.5%로 동결했다. 결정 이후 시장은 상승했다."
_RATES_KO_ARTICLE = (
    "한국은행은 목요일 기준금리를 3.5%로 유지했다. "
    "관계자들은 물가 상승세가 둔화되고 있지만 여전히 목표치를 웃돈다고 말했다.\n\n"
    "발표 이후 시장은 급등했다. 원화는 달러 대비 강세를 보였다.\n\n"
    "경제학자들은 연말 이전에 첫 금리 인하를 예상한다."
)
_RATES_JA_SUMMARY = "韓国銀行は政策金利を3.5%に据え置いた。 決定後、市場は上昇した。"
_RATES_ZH_SUMMARY = "韩国央行将基准利率维持在3.5%。 决定公布后市场上涨。"
RATES_KO_TITLE = "한국은행, 기준금리 동결"
RATES_JA_TITLE = "韓国銀行が政策金利を据え置き"

_VACCINE_TEXT = (
    "Scientists found that the new vaccine was safe and effective in a trial of 30,000 "
    "adults.\n\nThe results will be published next month."
)
_VACCINE_SUMMARY = "A new vaccine was safe and effective in a large trial."


def _long_article_text(n: int = 14) -> str:
    paras = []
    for i in range(1, n + 1):
        paras.append(
            f"Paragraph {i}: the government has promised to publish the report before the "
            "election. Police arrested two men after a robbery in the city centre. The quick "
            "brown fox jumps over the lazy dog while officials said the talks would continue."
        )
    return "\n\n".join(paras)


def default_articles() -> list[dict]:
    """The sample records of a run, hostile ones included, in results.jsonl order.

    The first record is an early, failed attempt at ``world/korea-rates.txt`` that a resumed
    run later redid; :func:`load_results` must keep only the later line.
    """
    long_text = _long_article_text()
    long_summary = "The government will publish the report before the election."
    long_ko = "정부는 선거 전에 보고서를 발표할 것이다."
    return [
        article(
            "world/korea-rates.txt",
            title="STALE ATTEMPT",
            text="",
            status="error",
            error="out of memory (first attempt)",
        ),
        article(
            "world/korea-rates.txt",
            title="Bank of Korea holds rates steady",
            text=_RATES_TEXT,
            summary=_RATES_SUMMARY,
            chunks=1,
            translations={
                "ko": {
                    "title": RATES_KO_TITLE,
                    "summary": _RATES_KO_SUMMARY,
                    "article": _RATES_KO_ARTICLE,
                },
                "ja": {"title": RATES_JA_TITLE, "summary": _RATES_JA_SUMMARY},
                "zh": {"summary": _RATES_ZH_SUMMARY},
            },
            alignment={
                "ko": {
                    "summary": align(_RATES_SUMMARY, _RATES_KO_SUMMARY),
                    "article": align(_RATES_TEXT, _RATES_KO_ARTICLE),
                },
                "ja": {"summary": align(_RATES_SUMMARY, _RATES_JA_SUMMARY)},
            },
        ),
        article(
            TRAVERSAL_ID,
            title=HOSTILE_TITLE,
            text=(
                f"Markup in text: {HOSTILE_IMG} and {HOSTILE_PWN_IMG}.\n\n"
                f"A link: {HOSTILE_JS_LINK} then javascript:alert(1) bare.\n\n"
                f"A script: {HOSTILE_PWN_SCRIPT}\n\n"
                f"Quotes: {HOSTILE_QUOTES} </td></tr></table><plaintext>"
            ),
            summary=f"Summary with {HOSTILE_IMG} and {HOSTILE_QUOTES}.",
            translations={
                "ko": {
                    "title": HOSTILE_TRANSLATED_TITLE,
                    "summary": f"요약 {HOSTILE_PWN_SCRIPT} 끝.",
                }
            },
            alignment={
                "ko": {"summary": [[[f"Summary with {HOSTILE_IMG}.", f"요약 {HOSTILE_PWN_IMG}"]]]}
            },
            source='inputs/"quoted" <name>.txt',
        ),
        article(
            ABSOLUTE_ID,
            title="محادثات الأسبوع المقبل",
            text=ARABIC_TEXT,
            summary="ستستمر المحادثات الأسبوع المقبل.",
            lang="ar",
            translations={"ko": {"summary": "회담은 다음 주에 계속된다."}},
            alignment={
                "ko": {
                    "summary": [
                        [["ستستمر المحادثات الأسبوع المقبل.", "회담은 다음 주에 계속된다."]]
                    ]
                }
            },
            chunks=1,
        ),
        article(
            "science/vaccine.html",
            title="New vaccine safe and effective, trial finds",
            text=_VACCINE_TEXT,
            summary=_VACCINE_SUMMARY,
            # Translated without alignment: the page falls back to paragraph rows.
            translations={
                "ja": {"summary": "新しいワクチンは大規模試験で安全かつ有効だった。"},
                "zh": {"summary": "新疫苗在大型试验中安全有效。"},
            },
        ),
        article(
            "long-word.txt",
            title="An article with a very long word",
            text=f"This text contains {LONG_WORD} and then ends.",
            summary=f"It has {LONG_WORD[:600]}.",
        ),
        article(
            "empty-summary.txt",
            title="Nothing to summarize",
            text="Short.",
            summary="",
        ),
        article(
            "broken.pdf",
            title="",
            text="",
            summary=None,
            lang=None,
            status="error",
            error=HOSTILE_ERROR,
            chunks=0,
            timings={"read": 0.012, "total": 0.012},
        ),
        article(
            "politics/report.txt",
            title="Government to publish report before election",
            text=long_text,
            summary=long_summary,
            chunks=3,
            translations={"ko": {"summary": long_ko}},
            alignment={"ko": {"summary": align(long_summary, long_ko)}},
        ),
    ]


def _rate(n: int, seconds: float) -> float | None:
    return round(n / seconds, 1) if seconds > 0 else None


def make_stats(articles: list[dict]) -> dict:
    """Build a stats.json object consistent with the given records.

    Args:
        articles: The records as written to results.jsonl (duplicates allowed).

    Returns:
        The stats object.
    """
    latest = {a["id"]: a for a in articles}
    ok = sum(a["status"] == "ok" for a in latest.values())
    failed = sum(a["status"] == "error" for a in latest.values())
    summarize_s = sum(a["timings"].get("summarize", 0.0) for a in latest.values())
    translate_s = sum(a["timings"].get("translate", 0.0) for a in latest.values())
    in_tok = sum(a["n_words"] for a in latest.values()) * 4 // 3
    out_tok = sum(len((a["summary"] or "").split()) for a in latest.values()) * 4 // 3
    wall = 2.71 + 0.05 + summarize_s + translate_s + 0.03 + 0.4
    return {
        "schema_version": 1,
        "started_at": "2025-03-04T10:15:30+00:00",
        "finished_at": "2025-03-04T10:15:45+00:00",
        "wall_s": round(wall, 3),
        "device": "cuda:0",
        "device_name": "NVIDIA H100 80GB HBM3",
        "dtype": "bfloat16",
        "models": [
            {
                "role": "summarizer",
                "model_id": "facebook/bart-large-cnn",
                "path": "models/facebook--bart-large-cnn",
                "revision": "37f520fa929c961707657b28798b30c003dd100b",
                "license": "mit",
                "family": "bart",
                "load_s": 1.52,
            },
            {
                "role": "translator:ko",
                "model_id": "facebook/nllb-200-distilled-600M <beta>",
                "path": "models/facebook--nllb-200-distilled-600M",
                "revision": None,
                "license": None,
                "family": "nllb",
                "load_s": 1.19,
            },
        ],
        "targets": ["ko", "ja", "zh"],
        "translate": "summary",
        "source_lang": "en",
        "packages": {
            "python": "3.11.7",
            "torch": "2.6.0",
            "transformers": "5.0.0",
            "summarize": "0.1.0",
        },
        "stages": {
            "load": {"seconds": 2.71},
            "read": {"seconds": 0.05, "n_items": len(latest)},
            "summarize": {
                "seconds": round(summarize_s, 3),
                "n_items": ok,
                "input_tokens": in_tok,
                "output_tokens": out_tok,
                "n_batches": 3,
                "input_tokens_per_s": _rate(in_tok, summarize_s),
                "output_tokens_per_s": _rate(out_tok, summarize_s),
            },
            "translate": {
                "seconds": round(translate_s, 3),
                "n_items": 5,
                "input_tokens": out_tok,
                "output_tokens": out_tok * 2,
                "n_batches": 2,
                "input_tokens_per_s": _rate(out_tok, translate_s),
                "output_tokens_per_s": _rate(2 * out_tok, translate_s),
            },
            "write": {"seconds": 0.03},
        },
        "articles": {
            "total": len(latest),
            "ok": ok,
            "failed": failed,
            "skipped": 1,
            "resumed": 1,
        },
        "articles_per_s": round(len(latest) / wall, 3),
        "peak_rss_mb": 3481.2,
        "peak_gpu_mb": 2210.5,
        "failures": [
            {"id": a["id"], "source": a["source"], "error": a["error"]}
            for a in latest.values()
            if a["status"] == "error"
        ],
        "skipped": [{"source": "inputs/photo <1>.jpg", "reason": "not an article type (.jpg)"}],
    }


def make_run_dir(
    tmp: Path,
    articles: list[dict] | None = None,
    *,
    stats: bool = True,
    torn_line: bool = True,
    stats_of: Callable[[list[dict]], dict] | None = None,
) -> Path:
    """Write a run output folder with results.jsonl and stats.json.

    Args:
        tmp: A temporary folder; the run folder is created inside it as ``run``.
        articles: Records to write, in order; defaults to :func:`default_articles`.
        stats: Whether to write stats.json.
        torn_line: Whether to end results.jsonl with a torn, unparseable line (as after a
            crash mid-write).
        stats_of: Builds stats.json from the records (default :func:`make_stats`).

    Returns:
        The run folder.
    """
    articles = default_articles() if articles is None else articles
    out = Path(tmp) / "run"
    (out / "articles").mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(a, ensure_ascii=False) for a in articles]
    body = "\n".join(lines) + ("\n" if lines else "")
    if torn_line:
        body += TORN_LINE
    (out / "results.jsonl").write_text(body, encoding="utf-8")
    if stats:
        (out / "stats.json").write_text(
            json.dumps((stats_of or make_stats)(articles), ensure_ascii=False, indent=2),
            encoding="utf-8",
        )
    return out


# --------------------------------------------------------------------------- review signals

FLOOD_ID = "world/flood.txt"
_FLOOD_TEXT = (
    "Floods forced 12,400 people from their homes in the north on Sunday.\n\n"
    "Rescue teams worked through the night. The river rose by 3.2 metres in six hours.\n\n"
    "Officials said the damage would cost at least 45 million dollars to repair."
)
_FLOOD_SUMMARY = ("Floods forced 12,400 people from their homes. "
                  "Repairs will cost 45 million dollars.")
# sentence 1.1 drops 12,400; 2.2 loops (with markup in the loop); 3.1 was cut at the limit
_FLOOD_KO = (
    "일요일 북부에서 홍수로 주민들이 집을 떠났다.\n\n"
    "구조대는 밤새 작업했다. "
    "강물이" + f" {HOSTILE_IMG} 올랐다" * 4 + ".\n\n"
    "관리들은 피해 복구에"
)
_FLOOD_KO_SUMMARY = "홍수로 12,400명이 집을 떠났다. 복구 비용은 4,500만 달러에 이를 것이다."


def _grid(alignment: list, value: object) -> list:
    return [[value for _ in para] for para in alignment]


def reviewed_articles() -> list[dict]:
    """:func:`default_articles` with reviews made by ``summarize.review``, as schema 3 writes
    them (real checks over the records, confidence evidence per sentence), plus a flood
    article whose Korean translation drops a number, loops and was cut;
    "science/vaccine.html" keeps no review, as a record of an older run."""
    from summarize.records import result_from_json, review_to_json
    from summarize.review import ReviewEvidence, ReviewSettings, review_article

    records = default_articles()
    records.append(article(
        FLOOD_ID, title="Floods force thousands from their homes", text=_FLOOD_TEXT,
        summary=_FLOOD_SUMMARY,
        translations={"ko": {"summary": _FLOOD_KO_SUMMARY, "article": _FLOOD_KO}},
        alignment={"ko": {"summary": align(_FLOOD_SUMMARY, _FLOOD_KO_SUMMARY),
                          "article": align(_FLOOD_TEXT, _FLOOD_KO)}},
    ))
    out = []
    for raw in records:
        if raw["status"] != "ok" or raw["id"] == "science/vaccine.html":
            out.append(raw)
            continue
        hit: dict = {}
        conf: dict = {}
        for lang, parts in raw["alignment"].items():
            for part, paras in parts.items():
                hit.setdefault(lang, {})[part] = _grid(paras, False)
                conf.setdefault(lang, {})[part] = _grid(paras, (-0.21, -1.4))
        if raw["id"] == FLOOD_ID:
            hit["ko"]["article"][2][0] = True
            conf["ko"]["article"][1][1] = (-2.6, -9.5)
        evidence = ReviewEvidence(summary_confidence=(-0.35, -2.2), hit_limit=hit,
                                  confidence=conf)
        review = review_article(result_from_json(raw), evidence, ReviewSettings())
        out.append({**raw, "schema_version": 3, "review": review_to_json(review)})
    return out


def make_reviewed_stats(articles: list[dict]) -> dict:
    """:func:`make_stats` plus ``review_flags`` as the run counts them."""
    from summarize.review import count_flags

    stats = make_stats(articles)
    stats["review_flags"] = count_flags(a.get("review") for a in articles)
    return stats


# --------------------------------------------------------------------------- a pivoted summary

PIVOT_ID = "ko/rates.txt"
_PIVOT_TEXT = ("한국은행은 목요일 기준금리를 3.5%로 유지했다. 관계자들은 물가 상승세가 둔화되고 "
               "있다고 말했다.\n\n발표 이후 시장은 급등했다.")
PIVOT_SUMMARY_EN = "The Bank of Korea kept its rate at 3.5 percent. Markets rose."
PIVOT_SUMMARY_KO = "한국은행은 기준금리를 3.5%로 동결했다. 시장은 상승했다."


def pivot_article() -> dict:
    """A Korean article summarized through English (``routes.summary`` ``pivot:en``), as a
    run with ``--to ko,en`` records it: the summary is English, its ``en`` translation is the
    same text (a copy), its ``ko`` translation is made from the English."""
    record = article(
        PIVOT_ID, title="한국은행, 기준금리 동결", text=_PIVOT_TEXT, summary=PIVOT_SUMMARY_EN,
        lang="ko",
        translations={"ko": {"summary": PIVOT_SUMMARY_KO},
                      "en": {"summary": PIVOT_SUMMARY_EN, "title": "Bank of Korea holds rates"}},
        alignment={"ko": {"summary": align(PIVOT_SUMMARY_EN, PIVOT_SUMMARY_KO)}},
    )
    record["schema_version"] = 3
    record["routes"] = {"lang": "detected", "summary": "pivot:en (opus-mt-ko-en)",
                        "ko.summary": "opus-mt-en-ko", "en.summary": "copy",
                        "en.title": "opus-mt-ko-en"}
    return record
