"""Tests of summarize.inputs.decode: legacy CJK codecs keep the original characters."""

from __future__ import annotations

import pytest

from summarize.inputs.decode import decode_bytes

#: Characters that CP932 / CP950 map to full-width look-alikes when read from standard bytes.
SHIFT_JIS_TEXT = (
    "東京の天気は晴れ〜曇りです。気温は−3度、価格は¢50と£2、記号‖と¬も使います。"
    "明日は雨が降るでしょう。"
)
BIG5_TEXT = "這件外套在倫敦的售價是£120，比去年貴了許多。台北市政府今天宣布新的交通政策。"


@pytest.mark.parametrize(("text", "encoding"), [(SHIFT_JIS_TEXT, "shift_jis"), (BIG5_TEXT, "big5")])
def test_standard_codec_reproduces_the_original_characters(text, encoding):
    data = text.encode(encoding)
    assert decode_bytes(data) == text
    assert decode_bytes(data, declared=encoding) == text


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        # Only the Windows supersets hold these: NEC circled digits, IBM extensions.
        ("東京の人口は①増えました。㈱東京電力の発表です。明日は雨が降るでしょう。", "cp932"),
        ("台北市政府今天宣布新的交通政策，市民普遍表示歡迎。碁銹裏墻恒粧嫺", "cp950"),
    ],
)
def test_superset_is_used_when_the_standard_codec_fails(text, encoding):
    data = text.encode(encoding)
    assert decode_bytes(data) == text
    assert decode_bytes(data, declared=encoding) == text
