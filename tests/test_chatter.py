"""Tests of summarize.text.chatter: every family of chat leftovers is cleaned (several members
each), what cannot be cleaned is found, and news text that looks alike is left alone."""

from __future__ import annotations

import pytest

from summarize.text.chatter import TEMPLATE_TOKENS, clean_output, find_chatter, find_refusal

ANSWER_KO = "한국은행은 기준금리를 3.5%로 동결했다."
ANSWER_EN = "The Bank of Korea kept its rate at 3.5 percent."


# --- reasoning ----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    f"<think>\nThe user wants Korean.\n</think>\n\n{ANSWER_KO}",
    f"<think></think>{ANSWER_KO}",
    f"<think>\n\n</think>\n\n{ANSWER_KO}",  # Qwen3 with enable_thinking=False
    f"  <think>a\nb\nc</think>  {ANSWER_KO}",
    f"The user wants Korean, so...</think>\n{ANSWER_KO}",  # <think> was in the prompt
    f"<|channel>thought\nTranslate carefully.<channel|>{ANSWER_KO}",  # Gemma 4
    f"<|channel>thought\n<channel|>{ANSWER_KO}",
    f"{ANSWER_KO[:10]}<|channel>thought\nhmm<channel|>{ANSWER_KO[10:]}",
])
def test_reasoning_is_removed(raw: str) -> None:
    assert clean_output(raw) == ANSWER_KO


@pytest.mark.parametrize("raw", ["<think>The article is about", "<think>\n",
                                 "<|channel>thought\n…"])
def test_unclosed_reasoning_at_the_start_leaves_nothing(raw: str) -> None:
    assert clean_output(raw) == ""


# --- template tokens ----------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<turn|>",
                                   "<|endoftext|>", "<|end|>", "<eos>", "</s>", "<|eom_id|>"])
def test_stop_tokens_left_in_the_text_are_removed(token: str) -> None:
    assert clean_output(ANSWER_EN + token) == ANSWER_EN
    assert clean_output(ANSWER_EN + token + "\n") == ANSWER_EN
    assert token in TEMPLATE_TOKENS


@pytest.mark.parametrize("raw", [
    f"<|im_start|>assistant\n{ANSWER_EN}<|im_end|>",
    f"<start_of_turn>model\n{ANSWER_EN}<end_of_turn>",
    f"<|start_header_id|>assistant<|end_header_id|>\n\n{ANSWER_EN}<|eot_id|>",
    f"<|turn>model\n{ANSWER_EN}<turn|>",
    f"<|assistant|>{ANSWER_EN}<|end|>",
])
def test_turn_markers_go_with_their_role(raw: str) -> None:
    assert clean_output(raw) == ANSWER_EN


def test_the_callers_own_tokens_are_removed() -> None:
    raw = f"{ANSWER_EN}<｜hy_place▁holder▁no▁2｜>"  # HY-MT1.5's end token
    assert clean_output(raw) == raw
    assert clean_output(raw, template_tokens=["<｜hy_place▁holder▁no▁2｜>"]) == ANSWER_EN
    assert clean_output(ANSWER_EN, template_tokens=[""]) == ANSWER_EN


# --- preambles ----------------------------------------------------------------------------------


@pytest.mark.parametrize("preamble", [
    "Here is the translation:", "Here's the translation:", "Here is the Korean translation:",
    "Here's a summary of the article:", "Sure! Here is the translation of the text:",
    "Sure, here's the translated text:", "Certainly! Here is a summary:",
    "Below is the translation into Korean:", "Translation:", "Korean translation:",
    "Summary:", "The translation:", "Translation into Korean:", "TRANSLATION:",
])
def test_english_preambles_are_removed(preamble: str) -> None:
    assert clean_output(f"{preamble}\n{ANSWER_KO}") == ANSWER_KO
    assert clean_output(f"{preamble}\n\n{ANSWER_KO}") == ANSWER_KO
    assert clean_output(f"{preamble} {ANSWER_KO}") == ANSWER_KO


@pytest.mark.parametrize("preamble", [
    "번역:", "번역문:", "번역 결과:", "한국어 번역:", "요약:", "다음은 번역입니다:", "번역：",
    "以下是翻译：", "翻译：", "译文：", "以下是摘要：", "总结:", "翻譯：",
    "翻訳：", "要約：", "以下は翻訳です：", "日本語訳：",
])
def test_cjk_preambles_are_removed(preamble: str) -> None:
    assert clean_output(f"{preamble}\n{ANSWER_KO}") == ANSWER_KO
    assert clean_output(f"{preamble} {ANSWER_KO}") == ANSWER_KO


def test_only_one_preamble_and_only_with_an_answer_after_it() -> None:
    assert clean_output("Summary:") == "Summary:"  # nothing follows: not a preamble
    assert clean_output(f"Translation:\nSummary: {ANSWER_EN}") == f"Summary: {ANSWER_EN}"


@pytest.mark.parametrize("text", [
    "Here's what we know: the fire spread overnight.",
    "Here is where the council met: a school in the north.",
    "The translation of the treaty took three years.",
    "Summary judgments were issued on Monday.",
    "요약하면 정부는 예산을 늘렸다.",
    "翻译工作耗时三年。",
])
def test_news_sentences_that_look_like_preambles_are_kept(text: str) -> None:
    assert clean_output(text) == text
    assert find_chatter(text) is None


# --- wrapping quotes ----------------------------------------------------------------------------


@pytest.mark.parametrize("left, right", [("“", "”"), ('"', '"'), ("«", "»"), ("「", "」"),
                                         ("『", "』"), ("„", "“")])
def test_quotes_wrapping_the_whole_answer_are_removed(left: str, right: str) -> None:
    assert clean_output(f"{left}{ANSWER_KO}{right}") == ANSWER_KO
    assert clean_output(f"Translation: {left}{ANSWER_KO}{right}") == ANSWER_KO


@pytest.mark.parametrize("text", [
    '"We will win," he said.',
    "He said “no” and left.",
    "“Yes,” she said. “No,” he said.",
    '"A" and "B"',
    "「はい」と彼は言った。",
    "«Oui», a-t-il dit, «bien sûr».",
])
def test_quotes_inside_the_text_are_kept(text: str) -> None:
    assert clean_output(text) == text


def test_quotes_around_a_quoted_source_are_kept() -> None:
    assert clean_output("“우리는 이길 것이다.”", source="“We will win.”") == "“우리는 이길 것이다.”"
    assert clean_output("“우리는 이길 것이다.”", source="We will win.") == "우리는 이길 것이다."


def test_clean_text_is_unchanged() -> None:
    for text in (ANSWER_EN, ANSWER_KO, "첫 문단.\n\n둘째 문단.", "", "3.5%"):
        assert clean_output(text) == text


# --- what the review finds ----------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    f"{ANSWER_EN}<|im_end|>", f"<end_of_turn>{ANSWER_EN}", f"{ANSWER_EN} </think>",
    f"<|channel>thought\nx<channel|>{ANSWER_EN}", f"{ANSWER_EN}<|eot_id|>",
])
def test_find_chatter_names_leftover_tokens(text: str) -> None:
    why = find_chatter(text)
    assert why is not None and "template token" in why


@pytest.mark.parametrize("text", [
    f"Here is the translation:\n{ANSWER_KO}",
    f"{ANSWER_KO}\n번역: {ANSWER_KO}",  # a second answer, with its label
    f"{ANSWER_EN}\n\nI hope this helps!",
    f"{ANSWER_EN} Let me know if you need anything else.",
    f"{ANSWER_EN}\nNote: I kept the names in English.",
    f"{ANSWER_EN} (Note: 'won' is the Korean currency.)",
    f"{ANSWER_EN}\nIf you need any further help, just ask.",
    f"{ANSWER_KO}\n도움이 되셨으면 좋겠습니다.",
    f"{ANSWER_KO} 참고: 원문의 이름은 그대로 두었습니다.",
    "韩国央行维持利率不变。希望对你有帮助！",
    "韩国央行维持利率不变。\n注：人名保留原文。",
    "韓国銀行は金利を据え置いた。お役に立てれば幸いです。",
])
def test_find_chatter_names_preambles_and_filler(text: str) -> None:
    assert find_chatter(text) is not None


@pytest.mark.parametrize("text", [
    ANSWER_EN, ANSWER_KO,
    "If you have any information, please call the police, officers said.",
    "Residents were told to let officials know if they saw the suspect.",
    "The note said the money would be paid on Friday.",
    "He hopes this helps the economy recover.",
    "정부는 이 조치가 경제 회복에 도움이 될 것으로 기대한다.",
    "希望这项政策能帮助经济复苏。",
    "<b>bold</b> and a < b > c comparison",
])
def test_find_chatter_leaves_news_alone(text: str) -> None:
    assert find_chatter(text) is None


@pytest.mark.parametrize("text", [
    "I cannot translate this text.",
    "I can't help with that request.",
    "I'm sorry, but I can't summarize this article.",
    "I am sorry, but this content violates the policy.",
    "Sorry, but I cannot do that.",
    "I'm unable to provide a translation of this text.",
    "I apologize, but I cannot fulfill this request.",
    "As an AI language model, I do not translate violent content.",
    "Unfortunately, I can't translate this.",
    "죄송하지만 이 요청은 도와드릴 수 없습니다.",
    "죄송합니다. 이 텍스트는 번역할 수 없습니다.",
    "저는 이 내용을 번역할 수 없습니다.",
    "이 요청은 도와드릴 수 없습니다.",
    "AI로서 저는 이 작업을 수행할 수 없습니다.",
    "抱歉，我无法翻译这段文字。",
    "我无法提供这篇文章的摘要。",
    "对不起，我不能帮助你。",
    "申し訳ありませんが、この文章は翻訳できません。",
    "私はこの内容を翻訳することはできません。",
])
def test_find_refusal_names_refusals(text: str) -> None:
    why = find_refusal(text)
    assert why is not None and "refusal" in why


@pytest.mark.parametrize("text", [
    'The minister said "I cannot comment" on the case.',
    "The spokesman told reporters that I cannot is not an answer.",
    "“I cannot accept this,” the mayor said.",
    "I cannot accept this decision, the mayor wrote in a letter.",  # a first-person quote
    "I'm sorry for your loss, the president told the families.",
    "Officials said they were sorry, but the road stays closed.",
    "정부는 이를 허용할 수 없습니다.",
    "시장은 \"죄송합니다\"라고 말했다.",
    "저는 그 결정을 받아들일 수 없습니다.",
    "他说：“我无法接受这个决定。”",
    "我不能接受这个决定，市长说。",
    "この計画は実行できません、と市長は述べた。",
    ANSWER_EN, ANSWER_KO,
])
def test_find_refusal_leaves_news_alone(text: str) -> None:
    assert find_refusal(text) is None
