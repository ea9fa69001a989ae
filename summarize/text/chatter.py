"""What chat models add around an answer: cleaned away by the tasks, flagged by the review.

Pure string work, no model. An instruction-tuned model asked for a summary or a translation
often wraps it: a reasoning block (``<think>…</think>``, Gemma 4's ``<|channel>…<channel|>``),
chat template tokens left in the text (``<|im_end|>``, ``<end_of_turn>``), a preamble line
("Here is the translation:", "번역:", "以下是翻译："), quotes around the whole answer, filler
at the end ("I hope this helps!"), or a refusal instead of an answer ("I'm sorry, but…").

- :func:`clean_output` removes what can be removed safely: the tasks call it on every chat
  output before it is recorded.
- :func:`find_chatter` and :func:`find_refusal` name what remains: the review calls them on
  the recorded outputs (flags ``chatter`` and ``refusal``).

Both work by one lexicon, written out below per language family; each pattern is anchored
where a chat model puts it (the start of the answer, a line of its own, the end), so the same
words inside a news sentence ("the minister said I cannot comment") are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# --- reasoning and template tokens ------------------------------------------------------------

#: A reasoning block at the start (Qwen3, SmolLM3, DeepSeek-style), closed or not: an unclosed
#: one is all reasoning (the answer never came).
_THINK = re.compile(r"^\s*<think>.*?(?:</think>|\Z)\s*", re.S)
#: The end of a reasoning block whose opening tag was part of the prompt (the template wrote
#: ``<think>`` and the model continued): everything up to the first ``</think>``.
_THINK_TAIL = re.compile(r"^(?:(?!<think>).)*?</think>\s*", re.S)
#: Gemma 4 thought spans, anywhere, closed or running to the end.
_CHANNEL = re.compile(r"<\|channel>.*?(?:<channel\|>|\Z)", re.S)

#: Turn openers with their role name, as chat templates write them.
_TURN_OPENERS = re.compile(
    r"<\|im_start\|>[a-z]*\n?|<start_of_turn>[a-z]*\n?|<\|turn>[a-z]*\n?"
    r"|<\|start_header_id\|>[a-z]*<\|end_header_id\|>\n*"
    r"|<\|(?:system|user|assistant)\|>"
)
#: Special tokens of the published chat templates (Qwen, Gemma 3/4, Llama 3, Phi-4, SmolLM3,
#: Hunyuan): removed wherever they are left, with those the caller names.
TEMPLATE_TOKENS = (
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<start_of_turn>", "<end_of_turn>",
    "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
    "<|eot_id|>", "<|eom_id|>", "<|turn>", "<turn|>", "<|think|>", "<|channel>", "<channel|>",
    "<|end|>", "<|system|>", "<|user|>", "<|assistant|>", "<bos>", "<eos>", "</s>",
    "<think>", "</think>",
)
#: What a leftover token looks like in a recorded output (for :func:`find_chatter`).
_TOKEN_LIKE = re.compile(
    r"<\|[A-Za-z_]{2,24}\|>|<\|[a-z_]{2,24}>|<[a-z_]{2,24}\|>|</?think>"
    r"|<(?:start|end)_of_turn>|<(?:bos|eos)>"
)

# --- preambles --------------------------------------------------------------------------------

#: What the answer is called in a preamble (English): after "Here is", and as a label.
_WHAT = (r"(?:translation|translated\s+(?:text|version|article|sentence)|summary|summarization"
         r"|summari[sz]ed\s+(?:version|text)|version|rendering)")
_LABEL = r"(?:translation|translated\s+text|summary)"
#: A preamble line or label at the start of an answer, per language family; each ends with a
#: colon (a whole line, or a label before the answer on the same line).
_PREAMBLES = [
    # English: "Sure! Here is the Korean translation of the article:", "Here's a summary:",
    # "Below is the translation:", "Translation:", "Korean translation:", "Summary:"
    re.compile(
        r"^(?:(?:sure|certainly|of\s+course|okay|ok|absolutely|great)\s*[!,.]?\s*)?"
        r"(?:(?:here\s+is|here's|here’s|here\s+are|below\s+is|the\s+following\s+is)\b"
        rf"[^\n:：]{{0,60}}?\b{_WHAT}\b[^\n:：]{{0,60}}[:：]"
        rf"|(?:the\s+)?(?:[A-Za-z]+\s+)?{_LABEL}(?:\s+(?:in|into|to)\s+[A-Za-z]+)?\s*[:：])"
        r"[ \t]*\n?",
        re.I,
    ),
    # Korean: "번역:", "번역문:", "번역 결과:", "한국어 번역:", "요약:", "다음은 번역입니다:"
    re.compile(r"^(?:다음은\s*)?(?:(?:한국어|영어|한글|중국어|일본어)\s*)?"
               r"(?:번역문|번역\s*결과|번역|요약문|요약)(?:입니다)?\s*[:：][ \t]*\n?"),
    # Chinese: "以下是翻译：", "翻译：", "译文：", "以下是摘要：", "总结："
    re.compile(r"^(?:以下是|下面是)?(?:中文|韩文|韓文|英文|日文|韩语|英语|日语)?(?:的)?"
               r"(?:翻译|翻譯|译文|譯文|摘要|总结|總結)(?:结果|如下)?\s*[:：][ \t]*\n?"),
    # Japanese: "翻訳：", "要約：", "以下は翻訳です：", "日本語訳："
    re.compile(r"^(?:以下は)?(?:日本語|韓国語|英語)?(?:の)?(?:翻訳|訳文|要約|訳)"
               r"(?:です|文|結果)?\s*[:：][ \t]*\n?"),
]

#: Quotes that may wrap a whole answer: opening -> closing.
_WRAPPING_QUOTES = {"“": "”", '"': '"', "«": "»", "「": "」", "『": "』", "„": "“", "‘": "’"}

# --- filler at the end, and refusals ----------------------------------------------------------

#: Chat filler that is never part of a translation or a summary: on a line of its own or
#: after a sentence, never inside one.
_FILLER = re.compile(
    r"(?:^|\n|(?<=[.!?]) |(?<=[。！？]))[ \t]*(?:"
    r"I\s+hope\s+(?:this|that|it)\s+helps|Let\s+me\s+know\s+if\s+you\s+(?:need|want|would)"
    r"|Feel\s+free\s+to\s+(?:ask|let\s+me)"
    r"|If\s+you\s+(?:need|have|would\s+like)\s+(?:any\s+)?(?:more|further|other|additional)\s+"
    r"(?:help|assistance|questions|changes|clarification|translations?)"
    r"|\(?(?:Note|Translator's\s+note|Translator’s\s+note|Translation\s+notes?)\s*:"
    r"|도움이\s*되(?:셨|었)?(?:으면|기를|길)|더\s*필요하신|참고\s*:|\(참고"
    r"|希望(?:这|這|以上)?(?:对您|對您|对你|對你)?有(?:所)?帮助|希望(?:这|這)(?:个|個)?(?:翻译|翻譯|摘要)"
    r"|如果您还?(?:需要|有)|注[：:]|（注"
    r"|お役に立て|他にご質問|何かございましたら"
    r")",
    re.I,
)

#: Verbs a chat model refuses with, after "I cannot" and its kin (English).
_REFUSED = (r"(?:help|assist|provide|translate|summari[sz]e|fulfil|fulfill|comply|complete"
            r"|process|create|generate|do\s+(?:that|this)|perform|continue|answer|respond"
            r"|engage|support|produce|write)")
#: Refusals, in the first words of an answer (after at most a few spaces, never after a
#: quote: a quoted "I cannot" is somebody's words in the news). Apologies and "I cannot"
#: count only with what marks a refusal (a "but", a task the model will not do), so that a
#: translated first-person statement ("I cannot accept this decision") is not one.
_REFUSALS = re.compile(
    r"^\s{0,3}(?:"
    # English
    r"I(?:\s+cannot|\s+can\s*not|\s+can't|\s+can’t|\s+won't|\s+won’t|\s+will\s+not"
    r"|(?:\s+am|'m|’m)\s+(?:unable|not\s+able)\s+to)"
    rf"\s+(?:be\s+able\s+to\s+)?{_REFUSED}\b"
    r"|I\s+must\s+decline|I\s+apologi[sz]e,?\s+but\b"
    r"|I(?:'m|’m|\s+am)\s+(?:sorry|afraid),?\s+(?:but|I\s+(?:can't|can’t|cannot))\b"
    r"|(?:Sorry|Unfortunately),?\s+(?:but\s+)?I\s+(?:cannot|can't|can’t|am\s+unable|'m\s+unable)"
    r"|As\s+an?\s+(?:AI|artificial\s+intelligence|language\s+model|large\s+language\s+model)\b"
    # Korean
    r"|죄송(?:하지만|하나|한데)|미안하지만|유감스럽게도"
    r"|죄송합니다[^\n]{0,80}?(?:수\s*없|어렵습니다)"
    r"|(?:저는|제가)\s[^.\n]{0,40}(?:번역|요약|도와|도움|제공|처리|작성|응답)[^.\n]{0,20}수\s*없"
    r"|[^.\n]{0,60}?도와\s*드릴\s*수\s*없"
    r"|AI(?:로서|으로서)|인공지능(?:으로서|으로써)"
    # Chinese
    r"|(?:很|非常)?(?:抱歉|对不起|對不起)[，,、]?[^。\n]{0,40}?(?:无法|無法|不能|没法)"
    r"|我(?:无法|無法|不能|没法)[^。\n]{0,20}?(?:翻译|翻譯|总结|總結|摘要|提供|帮助|幫助|协助"
    r"|協助|处理|處理|完成|满足|滿足|回答)"
    r"|作为(?:一个)?(?:AI|人工智能|语言模型)|作為(?:一個)?(?:AI|人工智慧|語言模型)"
    # Japanese
    r"|申し訳(?:ありません|ございません)が|申し訳(?:ありません|ございません)[^\n]{0,60}?できません"
    r"|すみませんが|恐れ入りますが"
    r"|(?:私は|私には)[^。\n]{0,30}(?:翻訳|要約|お手伝い|提供|対応|お応え)[^。\n]{0,20}できません"
    r"|AI(?:として|アシスタントとして)"
    r")",
    re.I,
)


def _short(text: str, n: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _strip_reasoning(text: str) -> str:
    text = _CHANNEL.sub("", text)
    text = _THINK.sub("", text, count=1)
    if "</think>" in text:
        text = _THINK_TAIL.sub("", text, count=1)
    return text


def _strip_tokens(text: str, tokens: Iterable[str]) -> str:
    text = _TURN_OPENERS.sub("", text)
    for token in sorted({*TEMPLATE_TOKENS, *tokens} - {""}, key=len, reverse=True):
        text = text.replace(token, "")
    return text


def _strip_preamble(text: str) -> str:
    for pattern in _PREAMBLES:
        match = pattern.match(text)
        if match and match.end() < len(text):  # a preamble is followed by the answer
            return text[match.end():].lstrip()
    return text


def _unquote(text: str) -> str:
    closing = _WRAPPING_QUOTES.get(text[:1])
    if closing is None or len(text) < 3 or not text.endswith(closing):
        return text
    inner = text[1:-1]
    if text[0] in inner or closing in inner:
        return text  # several quotations, not one pair around everything
    return inner.strip()


def clean_output(text: str, *, template_tokens: Iterable[str] = (), source: str | None = None
                 ) -> str:
    """The answer of a chat model without what it wrapped around it.

    Removes, in order: reasoning (a leading ``<think>…</think>`` block, an unclosed one at
    the start, the tail of one whose opening tag was in the prompt, and Gemma 4's
    ``<|channel>…<channel|>`` thought spans), turn openers with their role and every
    template token of :data:`TEMPLATE_TOKENS` and ``template_tokens``, one preamble line or
    label at the start ("Here is the translation:", "Summary:", "번역:", "以下是翻译：",
    "翻訳："), and quotes that wrap the whole answer (“…”, "…", «…», 「…」, 『…』, „…“,
    ‘…’) unless ``source`` is itself wrapped the same way.

    Args:
        text: The decoded output of a chat model.
        template_tokens: The model's own special tokens (its stop tokens, turn markers).
        source: The text that was translated or summarized, when known: quotes that wrap
            it are kept around its translation.

    Returns:
        The cleaned answer, stripped of surrounding whitespace ("" when nothing was left).
    """
    out = _strip_tokens(_strip_reasoning(text), template_tokens).strip()
    out = _strip_preamble(out)
    unquoted = _unquote(out)
    if unquoted != out and not (source is not None and _unquote(source.strip()) != source.strip()):
        out = unquoted
    return out.strip()


def find_chatter(text: str) -> str | None:
    """Why ``text`` (a recorded output) still holds chat leftovers, or None.

    Looks for template tokens and reasoning tags anywhere, a preamble line at the start of
    the text or of any line, and chat filler ("I hope this helps", "Let me know if you…",
    "Note:", "도움이 되셨으면", "希望这对你有帮助", "お役に立てれば") on a line of its own or
    after a sentence. Quotes are not chatter here (a quoted source is translated in quotes).

    Args:
        text: A summary or a translated sentence as recorded.

    Returns:
        A short reason, or None.
    """
    token = _TOKEN_LIKE.search(text) or _CHANNEL.search(text)
    if token is not None:
        return f"template token '{_short(token.group(), 20)}' left in the output"
    for line in text.splitlines():
        line = line.strip()
        for pattern in _PREAMBLES:
            match = pattern.match(line)
            if match:
                return f"a chat preamble: '{_short(match.group())}'"
    filler = _FILLER.search(text)
    if filler is not None:
        rest = text[filler.start():].strip()
        return f"chat filler: '{_short(rest)}'"
    return None


def find_refusal(text: str) -> str | None:
    """Why ``text`` (a recorded output) reads as a refusal instead of an answer, or None.

    A refusal is how an answer begins: "I cannot…", "I'm sorry, but…", "As an AI…",
    "죄송하지만", "저는 … 할 수 없습니다", "抱歉", "我无法", "申し訳…", "私は…できません". The
    same words later in a sentence, or inside quotes, are somebody's words in the news and
    are not refusals.

    Args:
        text: A summary or a translated sentence as recorded.

    Returns:
        A short reason quoting the start of the text, or None.
    """
    if _REFUSALS.match(text) is None:
        return None
    return f"reads as a refusal: '{_short(text)}'"


__all__ = ["TEMPLATE_TOKENS", "clean_output", "find_chatter", "find_refusal"]
