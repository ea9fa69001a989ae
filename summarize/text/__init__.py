"""Text: cleaning, paragraphs and sentences (CJK aware), the units the tasks work on."""

from summarize.text.clean import clean_text, ends_sentence, join_paragraphs, split_paragraphs
from summarize.text.sentences import (
    join_sentences,
    segment_text,
    split_long,
    split_sentences,
)

__all__ = ["clean_text", "ends_sentence", "join_paragraphs", "join_sentences", "segment_text",
           "split_long", "split_paragraphs", "split_sentences"]
