"""The Markdown page of one article: the same side-by-side view as the HTML page, as text.

Article text is data: every character that Markdown would read as markup is escaped.
"""

from __future__ import annotations

import re
from pathlib import Path

from summarize.outputs.writers import atomic_write_text, page_path
from summarize.records import ArticleResult

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def _md_escape(text: str) -> str:
    """Keep article text literal in Markdown: no headings, links, HTML or emphasis from data."""
    out = _CONTROL.sub("", text).replace("\\", "\\\\")
    for ch in "`*_[]<>#|!&":
        out = out.replace(ch, "\\" + ch)
    return out


def _md_inline(text: str) -> str:
    """A one-line Markdown value (an id, a path): escaped, newlines and controls removed."""
    return _md_escape(" ".join(text.split()))


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
