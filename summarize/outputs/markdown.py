"""The Markdown page of one article: the same side-by-side view as the HTML page, as text.

Article text is data: nothing in it may become Markdown or GFM structure on a CommonMark or
GitHub-flavoured renderer (cmark-gfm, markdown-it). :func:`_md_escape` backslash-escapes
every character that starts inline markup anywhere in a line (emphasis, code, links and
images, footnotes, HTML and entities, tables, strikethrough, math), the dots and colons
that autolinks need (``www.``, ``http://``, ``example.com``), and the first character of a
line that would start a block (headings, lists ``-`` ``+`` ``1.`` ``1)``, setext underlines
and thematic breaks ``===`` ``---``, quotes, fences); it takes away the indentation that
would make a code block and the trailing spaces that would make a line break. An ``@``
that could end the local part of an e-mail address gets an invisible word joiner (U+2060)
before it: cmark-gfm links addresses even through escapes. Control characters and the
bidirectional controls (embeddings, overrides, isolates, marks: U+202A-U+202E,
U+2066-U+2069, U+200E, U+200F, U+061C), which could show text in another order than it
has, are removed.
"""

from __future__ import annotations

import re
from pathlib import Path

from summarize.outputs.writers import atomic_write_text, page_path
from summarize.records import ArticleResult

#: Removed from every value: C0/C1 controls but tab and newline, line and paragraph
#: separators, and the bidirectional controls.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f"
                      "\u202a-\u202e\u2066-\u2069]")
#: Escaped anywhere: inline markup, and ``.`` / ``:`` inside a word (autolinks, domains).
_INLINE = re.compile(r"[\\`*_\[\]<>#|!&~^$@]|[.:](?=\S)")
#: An ``@`` that could join an e-mail address (a local-part character before it).
_MAIL_AT = re.compile(r"(?<=[A-Za-z0-9._+-])\\@")
#: What starts a block at the beginning of a line, once inline escapes are in.
_BLOCK_START = re.compile(r"^(?:[-+=]|\d{1,9}[.)])")
#: Joins the local part of an address to its ``@`` invisibly, so no renderer links it.
WORD_JOINER = "\u2060"


def _md_line(line: str) -> str:
    """One line of text, literal in Markdown wherever a line of a paragraph can be."""
    out = _INLINE.sub(lambda m: "\\" + m.group(), line.strip(" \t"))
    out = _MAIL_AT.sub(WORD_JOINER + "\\\\@", out)
    match = _BLOCK_START.match(out)
    if match:
        out = out[: match.end() - 1] + "\\" + out[match.end() - 1:]
    return out


def _md_escape(text: str) -> str:
    """Keep article text literal in Markdown: no block, inline or link structure from data."""
    return "\n".join(_md_line(line) for line in _CONTROL.sub("", text).split("\n"))


def _md_inline(text: str) -> str:
    """A one-line Markdown value (an id, a path): escaped, newlines and controls removed."""
    return _md_line(" ".join(_CONTROL.sub("", text).split()))


def render_markdown(record: ArticleResult) -> str:
    """The side-by-side Markdown page of one article (source, summary, translations)."""
    lines = [f"# {_md_inline(record.title or record.id)}", ""]
    lines.append(f"- id: {_md_inline(record.id)}")
    lines.append(f"- source: {_md_inline(record.source)}")
    lines.append(f"- status: {_md_inline(record.status)}")
    if record.error:
        lines.append(f"- error: {_md_inline(record.error)}")
    if record.chunks:
        lines.append(f"- chunks: {record.chunks}")
    if record.timings:
        lines.append("- seconds: " + ", ".join(f"{_md_inline(k)} {v:.3f}"
                                               for k, v in record.timings.items()))
    lines.append("")
    if record.summary is not None:
        lines += ["## Summary", "", _md_escape(record.summary), ""]
    for lang, parts in record.translations.items():
        for part, text in parts.items():
            lines += [f"## {_md_inline(part.capitalize())} ({_md_inline(lang)})", ""]
            pairs = record.alignment.get(lang, {}).get(part)
            if pairs:
                lines += ["| source | translation |", "| --- | --- |"]
                for paragraph in pairs:
                    for pair in paragraph:
                        if isinstance(pair, list) and len(pair) == 2:
                            src, tgt = (str(x) for x in pair)
                            lines.append(f"| {_md_inline(src)} | {_md_inline(tgt)} |")
                lines.append("")
            else:
                lines += [_md_escape(text), ""]
    if record.text:
        lines += ["## Source", "", _md_escape(record.text), ""]
    return "\n".join(lines)


def write_article_page(out_dir: Path, record: ArticleResult) -> str:
    """Write the Markdown page of one article; returns its path relative to ``out_dir``."""
    path = page_path(out_dir, record.id, ".md")
    atomic_write_text(path, render_markdown(record))
    return path.relative_to(out_dir).as_posix()
