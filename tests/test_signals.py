"""Tests of summarize.review.signals: each fault of a fake translator flags, its clean output
not."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from summarize.errors import UsageError
from summarize.review.flags import KINDS, Confidence, Flag
from summarize.review.glossary import Glossary, GlossaryEntry, load_glossary
from summarize.review.signals import (
    check_record,
    check_summary,
    check_translation,
    confidence,
    length_bounds,
    review_score,
)

NTREX = Path(__file__).resolve().parents[2] / "shared" / "data" / "ntrex128_news"

GLOSSARY = Glossary((GlossaryEntry("council", ("Rat",), 1),))
SENTENCES = [
    "The council approved a budget of 1,250 million euros for the year 2019 on Tuesday.",
    "Police said 37 people were injured when the bridge collapsed at 7:30 in the morning.",
    "The city council expects spending on schools to rise by 4.5 percent to 310,000 dollars.",
]


def fake_translate(source: str, fault: str = "clean") -> str:
    """A deterministic 'translator': reverses each word, keeps numbers, applies the glossary."""
    if fault == "copy":
        return source

    def word(match: re.Match[str]) -> str:
        w = match.group()
        if w.lower() == "council" and fault != "miss_glossary":
            return "Rat"
        return w[::-1]

    out = re.sub(r"[A-Za-z]+", word, source)
    numbers = list(re.finditer(r"\d+(?:[.,:]\d+)*", out))
    if fault == "truncate":
        return out[: len(out) // 4]
    if fault == "repeat":
        tail = " ".join(out.split()[-4:-1])
        return f"{out} {tail} {tail} {tail} {tail}"
    if fault == "drop_number":
        first = max(numbers, key=lambda m: len(m.group()))
        return out[: first.start()] + out[first.end():]
    if fault == "change_number":
        first = numbers[0]
        changed = f"{float(first.group().replace(',', '').split(':')[0]) + 1:g}"
        return out[: first.start()] + changed + out[first.end():]
    return out


def _kinds(flags: list[Flag]) -> set[str]:
    return {f.kind for f in flags}


def _check(source: str, output: str, **kwargs) -> list[Flag]:
    return check_translation(source, output, source_lang="en", target_lang="de",
                             glossary=GLOSSARY, **kwargs)


@pytest.mark.parametrize("source", SENTENCES)
def test_clean_fake_output_has_no_flag(source: str):
    assert _check(source, fake_translate(source)) == []


@pytest.mark.parametrize("source", SENTENCES)
@pytest.mark.parametrize("fault, kind", [
    ("copy", "copy"), ("truncate", "length"), ("repeat", "repeat"),
    ("drop_number", "numbers"), ("change_number", "numbers"),
])
def test_each_fault_gives_its_flag(source: str, fault: str, kind: str):
    flags = _check(source, fake_translate(source, fault))
    assert kind in _kinds(flags), flags
    assert all(f.kind in KINDS and f.reason for f in flags)


def test_missed_glossary_term():
    source = SENTENCES[0]
    flags = _check(source, fake_translate(source, "miss_glossary"))
    assert _kinds(flags) == {"glossary"}
    assert "'council'" in flags[0].reason and "'Rat'" in flags[0].reason
    # whole word only: "councillor" does not require "Rat"
    assert _check("The councillor spoke at length today.",
                  fake_translate("The councillor spoke at length today.")) == []


def test_changed_number_reason_names_both():
    flags = _check(SENTENCES[1], fake_translate(SENTENCES[1], "change_number"))
    assert [f.kind for f in flags] == ["numbers"]
    assert "37" in flags[0].reason and "38" in flags[0].reason


def test_empty_and_cut():
    assert _kinds(_check(SENTENCES[0], "  ")) == {"empty"}
    flags = _check(SENTENCES[0], fake_translate(SENTENCES[0]), hit_limit=True)
    assert _kinds(flags) == {"cut"}
    assert check_translation("", "", source_lang="en", target_lang="ko") == []


def test_wrong_language_hook():
    out = fake_translate(SENTENCES[0])
    assert "wrong_lang" in _kinds(_check(SENTENCES[0], out, detect=lambda text: "fr"))
    assert _check(SENTENCES[0], out, detect=lambda text: "deu") == []
    assert _check(SENTENCES[0], out, detect=lambda text: None) == []
    short = check_translation("Yes, he said so.", "Oui.", source_lang="en", target_lang="de",
                              detect=lambda text: "fr")
    assert "wrong_lang" not in _kinds(short)


def test_names_and_numbers_may_stay_the_same():
    for source in ("Manchester United 2-1 Chelsea", "BBC News", "12,500", "Donald Trump"):
        assert check_translation(source, source, source_lang="en", target_lang="ko") == []


@pytest.mark.parametrize("source, output, target", [
    ("About 30,000 people attended.", "약 3만 명이 참석했다.", "ko"),
    ("The plan costs 2,000 dollars.", "그 계획은 2천 달러가 든다.", "ko"),
    ("They raised $2.5 billion last year.", "그들은 지난해 25억 달러를 모았다.", "ko"),
    ("He paid $375,000 to keep quiet.", "그는 침묵의 대가로 37만 5,000달러를 냈다.", "ko"),
    ("He has 142 million followers online.", "그는 온라인 팔로워가 1억 4천 2백만 명이다.", "ko"),
    ("Sales rose 45 percent in March.", "3월 매출은 45퍼센트 증가했다.", "ko"),
    ("Sales rose 12% in the second half.", "下半期の売上は１２％増加した。", "ja"),
    ("The company lost $2.5 billion this year.", "该公司今年亏损了2.5亿美元。", "zh"),
    ("The fund is worth 1,200 euros today.", "Der Fonds ist heute 1.200 Euro wert.", "de"),
    ("The fund is worth 1,200.50 euros today.", "Der Fonds ist heute 1.200,50 Euro wert.", "de"),
    ("There were 1,000 people at the rally.", "Il y avait 1 000 personnes au rassemblement.", "fr"),
    ("Three people died on Sept. 30, 2019.", "2019년 9월 30일 세 명이 숨졌다.", "ko"),
    ("The meeting starts at 7 pm on Friday.", "Die Sitzung beginnt am Freitag um 19 Uhr.", "de"),
    ("The storm had winds of 85 mph at sea.", "Der Sturm hatte auf See Winde von 136 km/h.", "de"),
    ("The church was built in the 1930s.", "这座教堂建于20世纪30年代。", "zh"),
    ("She was born 3 years ago in Seoul.", "그녀는 세 해 전 서울에서 태어났다.", "ko"),
])
def test_number_conventions_are_not_flagged(source: str, output: str, target: str):
    flags = check_translation(source, output, source_lang="en", target_lang=target)
    assert "numbers" not in _kinds(flags), flags


@pytest.mark.parametrize("source, output, target", [
    ("About 30,000 people attended the rally.", "약 4만 명이 집회에 참석했다.", "ko"),
    ("The project cost 20.4 million dollars.", "그 사업에는 204만 달러가 들었다.", "ko"),
    ("The fund is worth 1,200 euros today.", "Der Fonds ist heute 1.300 Euro wert.", "de"),
    ("The fund lost 350 euros this week.", "Der Fonds hat diese Woche Euro verloren.", "de"),
])
def test_wrong_numbers_are_flagged(source: str, output: str, target: str):
    flags = check_translation(source, output, source_lang="en", target_lang=target)
    assert "numbers" in _kinds(flags), flags


def test_repeat_does_not_fire_on_news_or_a_repeating_source():
    news = ("Police said the man, who was not named, was taken to hospital, and police said "
            "the road was closed for several hours while police examined the scene.")
    assert _check(news, fake_translate(news)) == []
    chant = "No, no, no, no, no."
    assert "repeat" not in _kinds(check_translation(chant, "Nein, nein, nein, nein, nein.",
                                                    source_lang="en", target_lang="de"))
    loop = "그는 말했다 그는 말했다 그는 말했다 그는 말했다"
    assert "repeat" in _kinds(check_translation("He said it again.", loop, source_lang="en",
                                                target_lang="ko"))


def test_length_bounds_table_and_fallback():
    assert length_bounds("en", "ko") == (0.29, 1.70)
    assert length_bounds("eng", "kor") == (0.29, 1.70)
    low, high = length_bounds("ko", "en")
    assert low == pytest.approx(1 / 1.70) and high == pytest.approx(1 / 0.29)
    low, high = length_bounds("en", "ru")
    assert low < 1 < high


def test_summary_checks():
    article = ("The council met on Tuesday and approved a budget of 1,250 million euros. "
               "Spending on schools will rise by 4.5 percent. " * 3)
    assert check_summary(article, "The council approved a budget of 1,250 million euros.",
                         lang="en") == []
    assert _kinds(check_summary(article, "", lang="en")) == {"empty"}
    invented = check_summary(article, "The council approved 2,500 million euros.", lang="en")
    assert _kinds(invented) == {"numbers"} and "2,500" in invented[0].reason
    looping = "The council approved the budget. " * 4
    assert "repeat" in _kinds(check_summary(article, looping, lang="en"))
    assert "cut" in _kinds(check_summary(article, "The council met.", lang="en",
                                         hit_limit=True))
    assert "length" in _kinds(check_summary(article, article + " More.", lang="en"))


def test_load_glossary(tmp_path: Path):
    path = tmp_path / "terms.tsv"
    path.write_text("# source\ttarget\n\nBrexit\t브렉시트|영국의 EU 탈퇴\ncouncil\t의회\n",
                    encoding="utf-8")
    glossary = load_glossary(path)
    assert glossary.entries == (GlossaryEntry("Brexit", ("브렉시트", "영국의 EU 탈퇴"), 3),
                                GlossaryEntry("council", ("의회",), 4))
    ok = check_translation("Brexit talks resume.", "영국의 EU 탈퇴 협상이 재개된다.",
                           source_lang="en", target_lang="ko", glossary=glossary)
    assert "glossary" not in _kinds(ok)
    missed = check_translation("BREXIT talks resume.", "탈퇴 협상이 재개된다.",
                               source_lang="en", target_lang="ko", glossary=glossary)
    assert "glossary" in _kinds(missed)
    bad = tmp_path / "bad.tsv"
    bad.write_text("Brexit\t브렉시트\nno tab here\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"bad\.tsv:2: expected 'source term<TAB>target term'"):
        load_glossary(bad)
    with pytest.raises(UsageError, match="cannot read glossary"):
        load_glossary(tmp_path / "missing.tsv")


def test_confidence_and_review_score():
    c = confidence([-0.1, -0.5, -2.4])
    assert c == Confidence(mean=pytest.approx(-1.0), min=-2.4)
    with pytest.raises(ValueError):
        confidence([])
    assert review_score([]) == 0
    assert review_score([], [Confidence(-0.4, -3.0)]) == 0
    assert review_score([], [Confidence(-2.5, -9.0)]) == pytest.approx(1.5)
    assert review_score([], [Confidence(-9.0, -20.0)]) == 3.0
    empty = review_score([Flag("empty", "x")])
    number = review_score([Flag("numbers", "x")])
    assert empty > number > review_score([Flag("length", "x")]) > 0
    assert review_score([Flag("numbers", "x"), Flag("length", "y")]) == number + 1


def test_check_record_places_flags():
    source = SENTENCES[1]
    record = {
        "id": "a.txt", "status": "ok", "lang": "en", "text": source,
        "summary": source,
        "alignment": {"de": {"summary": [[[source, fake_translate(source, "change_number")]]]}},
    }
    found = check_record(record)
    assert [(f.part, f.lang, f.paragraph, f.sentence, f.flag.kind) for f in found] == [
        ("summary", "de", 0, 0, "numbers")]
    assert check_record({**record, "status": "error"}) == []


PAIRS = {"kor": "ko", "jpn": "ja", "zho-CN": "zh", "zho-TW": "zh-Hant", "deu": "de",
         "fra": "fr", "spa": "es"}


@pytest.mark.skipif(not NTREX.is_dir(), reason="shared NTREX data not present")
@pytest.mark.parametrize("suffix", list(PAIRS))
def test_false_alarms_on_human_translations(suffix: str):
    """NTREX human translations are correct: every flag on them is a false alarm."""
    src = (NTREX / "sentences" / "newstest2019-src.eng.txt").read_text(
        encoding="utf-8").splitlines()
    ref = (NTREX / "sentences" / f"newstest2019-ref.{suffix}.txt").read_text(
        encoding="utf-8").splitlines()
    kinds: Counter[str] = Counter()
    flagged = 0
    for s, t in zip(src, ref, strict=True):
        flags = check_translation(s, t, source_lang="en", target_lang=PAIRS[suffix])
        flagged += bool(flags)
        kinds.update(f.kind for f in flags)
    n = len(src)
    print(f"en-{PAIRS[suffix]}: {flagged}/{n} flagged ({100 * flagged / n:.2f}%) {dict(kinds)}")
    assert flagged / n < 0.01
    assert all(count / n < 0.005 for count in kinds.values()), kinds


def test_a_word_ending_in_ft_is_not_a_unit():
    # "left 12,400 homes": the number is not a height in feet, so it must not go missing
    source = "The storm left 12,400 homes without power across the northern region."
    output = "Der Sturm ließ Häuser in der ganzen nördlichen Region ohne Strom."
    assert _kinds(_check(source, output)) == {"numbers"}
    assert _check("The wall is 12 ft 6 inches high and 300 feet long.",
                  "Die Mauer ist 3,8 m hoch und 91 m lang.") == []


# --- empty outputs, chat leftovers, refusals, Korean drifting into Chinese -----------------------

BLANK_OUTPUTS = ["", "  ", "\x01\x02\x7f", "\u200b\u200b", "\x1b\x07", "\u202e", "…", "。 ！",
                 "\t\n\x00"]


@pytest.mark.parametrize("output", BLANK_OUTPUTS, ids=repr)
def test_outputs_with_no_letter_or_digit_are_empty(output: str):
    assert _kinds(check_translation(SENTENCES[0], output, source_lang="en",
                                    target_lang="ko")) == {"empty"}
    assert _kinds(check_summary(SENTENCES[0] * 4, output, lang="en")) == {"empty"}
    # a source with nothing to translate gives no flag (alignment filler)
    assert check_translation(output, "", source_lang="en", target_lang="ko") == []


@pytest.mark.parametrize("output, kind", [
    (f"Here is the translation:\n{SENTENCES[0]}", "chatter"),
    (f"{SENTENCES[0]}<|im_end|>", "chatter"),
    (f"{SENTENCES[0]}\n\nI hope this helps!", "chatter"),
    ("I'm sorry, but I can't translate this text.", "refusal"),
    ("As an AI language model, I cannot translate this.", "refusal"),
])
def test_chat_leftovers_and_refusals_are_flagged(output: str, kind: str):
    flags = check_translation(SENTENCES[0], output, source_lang="en", target_lang="en")
    assert kind in _kinds(flags)
    assert all(f.reason for f in flags)
    summary_flags = check_summary(SENTENCES[0] * 4, output, lang="en")
    assert kind in _kinds(summary_flags)


def test_refusals_and_filler_that_the_source_holds_are_not_flagged():
    source = "I'm sorry, but I can't help you, the clerk said. Let me know if you need more help."
    output = "죄송하지만 도와드릴 수 없습니다, 점원이 말했다. 도움이 더 필요하시면 알려 주세요."
    kinds = _kinds(check_translation(source, source, source_lang="en", target_lang="en"))
    assert not kinds & {"refusal", "chatter"}
    # a translation of it starts like a refusal too: the source explains it
    assert "refusal" not in _kinds(check_translation(source, output, source_lang="en",
                                                     target_lang="ko"))


def test_flags_come_in_kinds_order():
    flags = check_translation(SENTENCES[0], "I'm sorry, but I cannot translate this.<|im_end|>",
                              source_lang="en", target_lang="ko", hit_limit=True)
    kinds = [f.kind for f in flags]
    assert kinds[:3] == ["refusal", "chatter", "cut"]
    assert kinds == sorted(kinds, key=KINDS.index)


#: Korean requests answered in Chinese (the known drift of chat models), written for these
#: tests: short and long sentences, a half-Korean one, and Japanese for good measure.
DRIFT = [
    ("The Bank of Korea kept its rate at 3.5 percent.", "韩国央行将基准利率维持在3.5%。", "zh"),
    ("Markets rose after the decision.", "决定公布后市场上涨。", "zh"),
    ("Officials said inflation was slowing but remained above target.",
     "官员们表示，通胀正在放缓，但仍高于目标水平。", "zh"),
    ("Officials said inflation was slowing.", "官員們表示，通脹正在放緩。", "zh"),
    ("The won gained against the dollar on Monday.", "원화는 星期一兑美元汇率上涨了。", "zh"),
    ("Markets rose after the decision.", "決定の後、市場は上昇した。", "ja"),
]


@pytest.mark.parametrize("source, output, lang", DRIFT)
def test_a_korean_output_written_in_chinese_is_wrong_lang(source: str, output: str, lang: str):
    for detect in (None, _real_detector()):
        flags = check_translation(source, output, source_lang="en", target_lang="ko",
                                  detect=detect)
        wrong = [f for f in flags if f.kind == "wrong_lang"]
        assert len(wrong) == 1 and f"looks like {lang}" in wrong[0].reason, flags
    summary = check_summary(source * 8, output, lang="ko")
    assert "wrong_lang" in _kinds(summary)


@pytest.mark.parametrize("output", [
    "한국은행은 기준금리를 3.5%로 동결했다.",
    "文 대통령은 美 국무장관과 회담했다.",  # Hanja for names and countries
    "北 미사일 발사…軍 \"동해상으로 쐈다\"",
    "삼성전자 (三星電子) 는 실적을 발표했다.",
])
def test_korean_with_hanja_is_korean(output: str):
    flags = check_translation("Samsung reported results.", output, source_lang="en",
                              target_lang="ko")
    assert "wrong_lang" not in _kinds(flags)


def test_hangul_in_a_chinese_or_japanese_output_is_wrong_lang():
    for target in ("zh", "zh-Hant", "ja"):
        flags = check_translation("The won gained against the dollar.",
                                  "원화는 달러 대비 강세를 보였다.", source_lang="en",
                                  target_lang=target)
        assert "wrong_lang" in _kinds(flags), target
    flags = check_translation("Markets rose.", "決定の後、市場は上昇した。", source_lang="en",
                              target_lang="zh")
    assert "wrong_lang" in _kinds(flags)


def _real_detector():
    from summarize.review.article import reliable_language

    return reliable_language


@pytest.mark.skipif(not NTREX.is_dir(), reason="shared NTREX data not present")
def test_ntrex_chinese_as_a_korean_output_is_wrong_lang_and_korean_is_not():
    """The human Chinese of NTREX given as Korean outputs is flagged; its human Korean not."""
    sentences = NTREX / "sentences"
    src = (sentences / "newstest2019-src.eng.txt").read_text("utf-8").splitlines()
    zh = (sentences / "newstest2019-ref.zho-CN.txt").read_text("utf-8").splitlines()
    ko = (sentences / "newstest2019-ref.kor.txt").read_text("utf-8").splitlines()
    n = 400
    as_ko = [check_translation(s, t, source_lang="en", target_lang="ko")
             for s, t in zip(src[:n], zh[:n], strict=True)]
    caught = sum("wrong_lang" in _kinds(f) for f in as_ko)
    assert caught / n > 0.98, caught
    korean = [check_translation(s, t, source_lang="en", target_lang="ko")
              for s, t in zip(src[:n], ko[:n], strict=True)]
    assert sum("wrong_lang" in _kinds(f) for f in korean) == 0
