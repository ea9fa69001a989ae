"""Inputs: find article files, decode their bytes, extract and read them into ``Article``s.

``discover`` walks the inputs (names and ``stat`` only); ``read`` turns one file into its
articles and failures, using ``decode`` for bytes and ``html`` for saved pages.
"""

from summarize.inputs.decode import decode_bytes
from summarize.inputs.discover import ARTICLE_SUFFIXES, SourceFile, find_files
from summarize.inputs.read import (
    DEFAULT_MAX_BYTES,
    LANG_FIELDS,
    TEXT_FIELDS,
    TITLE_FIELDS,
    read_file,
)

__all__ = [
    "ARTICLE_SUFFIXES",
    "DEFAULT_MAX_BYTES",
    "LANG_FIELDS",
    "TEXT_FIELDS",
    "TITLE_FIELDS",
    "SourceFile",
    "decode_bytes",
    "find_files",
    "read_file",
]
