"""Turn typed report values into display text: the Jinja filters and tests of the report.

Each filter takes a value of a record or of :mod:`summarize.outputs.report.view` (a number or
None, a string or None) and returns plain text; the templates escape it like any other value.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from summarize.outputs.naming import page_stem

DASH = "–"

#: Characters no page shows: the explicit directional formatting characters (embeddings
#: U+202A/B, pop U+202C, overrides U+202D/E, isolates U+2066-2068, pop U+2069), which can
#: turn what a reader sees around ("‮fdp.exe" shows as "exe.pdf") and, left unclosed, spill
#: into the text after them; and control characters other than tab and newlines. Every
#: isolated piece of text is also marked ``dir="auto"`` or put in ``<bdi>`` by the templates.
_HIDDEN = dict.fromkeys((*range(0x202A, 0x202F), *range(0x2066, 0x206A),
                         *(c for c in range(0x20) if chr(c) not in "\t\n\r"),
                         *range(0x7F, 0xA0)))


def neutralize(value: object) -> object:
    """``value`` with bidi overrides, embeddings, isolates and control characters removed
    (other values as they are): the report's Jinja ``finalize``, applied to every value a
    template prints, attributes and ``<title>`` included."""
    return value.translate(_HIDDEN) if isinstance(value, str) else value

_LANG_TAG = re.compile(r"^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*$")


def dash(value: object) -> object:
    """The value itself, or a dash when it is missing or empty."""
    return DASH if value is None or value == "" else value


def count(value: float | None) -> str:
    """An integer count with thousands separators: ``12,345``."""
    return DASH if value is None else f"{round(value):,}"


def num2(value: float | None) -> str:
    return DASH if value is None else f"{value:,.2f}"


def seconds(value: float | None) -> str:
    """Seconds, compactly: ``0.004 s``, ``0.42 s``, ``12.3 s``, ``1,234 s``."""
    s = value
    if s is None:
        return DASH
    if s == 0:
        return "0 s"
    if abs(s) < 0.01:
        return f"{s:.3f} s"
    if abs(s) < 10:
        return f"{s:.2f} s"
    if abs(s) < 100:
        return f"{s:.1f} s"
    return f"{s:,.0f} s"


def duration(value: float | None) -> str:
    """A wall time: seconds below a minute, else ``1 h 02 m 03 s`` style."""
    if value is None or value < 60:
        return seconds(value)
    total = round(value)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} h {minutes:02d} m {secs:02d} s" if hours else f"{minutes} m {secs:02d} s"


def rate(value: float | None, unit: str = "") -> str:
    if value is None:
        return DASH
    text = f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"
    return f"{text} {unit}".strip()


def mib(value: float | None) -> str:
    """A size given in MiB, as MiB or GiB."""
    if value is None:
        return DASH
    return f"{value / 1024:,.2f} GiB" if value >= 1024 else f"{value:,.0f} MiB"


def sort_value(value: float | None) -> str:
    """A number for a ``data-value`` sort attribute ("" when missing)."""
    if value is None:
        return ""
    try:
        return repr(float(value))
    except OverflowError:  # an integer too large for a float
        return ""


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_revision(revision: str) -> str:
    """Commit hashes shortened to 12 characters; other revisions (tags, branches) as given."""
    return revision[:12] if re.fullmatch(r"[0-9a-f]{40}", revision) else revision


def href(stem: str, suffix: str = ".html") -> str:
    """A relative link to a page named by a ``page_stem`` result (never by a raw id)."""
    return quote(stem + suffix, safe="")


_HF_SNAPSHOT = re.compile(
    r"models--([^/\\]+?)--([^/\\]+)[/\\]snapshots[/\\]([0-9a-f]{12})[0-9a-f]*")


def short_path(path: str | None, keep: int = 2) -> str | None:
    """A model path as its last ``keep`` parts (``…/models/opus-mt-en-ko``), or a Hugging Face
    cache folder as ``org/name@revision`` (12 characters); hub ids and short paths as they
    are. The page gives the full path on hover."""
    if not path:
        return path
    snapshot = _HF_SNAPSHOT.search(path)
    if snapshot:
        org, name, revision = snapshot.groups()
        return f"{org}/{name}@{revision}"
    parts = [p for p in re.split(r"[/\\]+", path) if p]
    if len(parts) <= keep:
        return path
    return "…/" + "/".join(parts[-keep:])


def page_href(article_id: str, suffix: str = ".html") -> str:
    """A relative link to an article's page, named by its id through ``page_stem``."""
    return href(page_stem(article_id), suffix)


def is_lang_tag(value: object) -> bool:
    """Whether ``value`` is a plausible BCP 47 tag, fit for a ``lang`` attribute."""
    return isinstance(value, str) and bool(_LANG_TAG.match(value))


FILTERS = {
    "dash": dash,
    "count": count,
    "num2": num2,
    "seconds": seconds,
    "duration": duration,
    "rate": rate,
    "mib": mib,
    "sort_value": sort_value,
    "shorten": shorten,
    "short_revision": short_revision,
    "short_path": short_path,
    "href": href,
    "page_href": page_href,
}
TESTS = {"lang_tag": is_lang_tag}
