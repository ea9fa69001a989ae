"""Typed records of the work between a run's stages: an article waiting in a group, and
what each article has after its summary, on the way to its translations and record.

A :class:`GroupState` travels between the two model phases (in one process, between two
threads, or as JSON between two Ray stages): one :class:`ArticleWork` per article, written
by :meth:`GroupState.to_json` and read back by :meth:`GroupState.from_json`, the one
serializer and the one reader of this data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from summarize.records import Article

#: ``{lang: {part: per paragraph, per unit}}``: the shape of translation evidence.
Grid = dict[str, dict[str, list[list[Any]]]]


class Interrupted(Exception):
    """Ctrl-C (or SIGTERM) was received; the run stops after the current batch."""


@dataclass
class Pending:
    """An article waiting in the current group, with its resume key and read time.

    ``routes`` starts with how the article's language was decided (``lang``).
    """

    article: Article
    key: str
    read_s: float
    routes: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The pending article as plain data (:meth:`from_json` reads it back)."""
        a = self.article
        return {"id": a.id, "source": a.source, "text": a.text, "title": a.title,
                "lang": a.lang, "key": self.key, "read_s": self.read_s,
                "routes": dict(self.routes)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Pending:
        article = Article(id=d["id"], source=d["source"], text=d["text"], title=d["title"],
                          lang=d["lang"])
        return cls(article, d["key"], float(d["read_s"]), dict(d["routes"]))


@dataclass(eq=False)  # compared (and hashed) by identity: one article's work
class ArticleWork:
    """One article between the phases: its summary and the evidence gathered so far.

    Attributes:
        item: The pending article.
        lang: Its language.
        summary: Its summary (None: none made, or the article failed).
        summary_lang: The language the summary is in (``en`` when made through English).
        chunks: Windows the article was split into for its summary.
        routes: How its outputs were made (language, summary, each translation).
        summary_hit_limit: The summary stopped at its token limit.
        summary_confidence: (mean, min) token log-probability of the summary.
        hit_limit: Per target and part, whether each unit's translation hit its limit.
        confidence: Per target and part, each unit's (mean, min) log-probability.
        source_langs: A translated part's source language when not the article's.
        summarize_s: Seconds of the summary stage spent on it (its share of the batches).
        translate_s: Seconds of the translation stage (a pivot's translation included).
        error: Its error message, or None while it works.
        exception: The error as raised (this process only: never serialised, so that
            ``--debug`` raises the original).
    """

    item: Pending
    lang: str
    summary: str | None = None
    summary_lang: str = ""
    chunks: int = 0
    routes: dict[str, str] = field(default_factory=dict)
    summary_hit_limit: bool = False
    summary_confidence: tuple[float, float] | None = None
    hit_limit: Grid = field(default_factory=dict)
    confidence: Grid = field(default_factory=dict)
    source_langs: dict[str, str] = field(default_factory=dict)
    summarize_s: float = 0.0
    translate_s: float = 0.0
    error: str | None = None
    exception: Exception | None = field(default=None, repr=False, compare=False)

    @classmethod
    def start(cls, item: Pending) -> ArticleWork:
        """The work of an article before any model ran."""
        lang = item.article.lang or "en"
        return cls(item=item, lang=lang, summary_lang=lang, routes=dict(item.routes))

    def fail(self, exc: Exception, message: str) -> None:
        """Record the article's first error (later ones do not replace it)."""
        if self.error is None:
            self.error, self.exception = message, exc

    def to_json(self) -> dict[str, Any]:
        """Plain data (the exception stays behind)."""
        return {
            "item": self.item.to_json(), "lang": self.lang, "summary": self.summary,
            "summary_lang": self.summary_lang, "chunks": self.chunks,
            "routes": dict(self.routes), "summary_hit_limit": self.summary_hit_limit,
            "summary_confidence": (list(self.summary_confidence)
                                   if self.summary_confidence is not None else None),
            "hit_limit": self.hit_limit, "confidence": self.confidence,
            "source_langs": dict(self.source_langs), "summarize_s": self.summarize_s,
            "translate_s": self.translate_s, "error": self.error,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ArticleWork:
        conf = d.get("summary_confidence")
        return cls(
            item=Pending.from_json(d["item"]), lang=d["lang"], summary=d["summary"],
            summary_lang=d["summary_lang"], chunks=int(d["chunks"]),
            routes=dict(d["routes"]), summary_hit_limit=bool(d["summary_hit_limit"]),
            summary_confidence=tuple(conf) if conf is not None else None,  # type: ignore
            hit_limit=d["hit_limit"], confidence=_tuples(d["confidence"]),
            source_langs=dict(d["source_langs"]), summarize_s=float(d["summarize_s"]),
            translate_s=float(d["translate_s"]), error=d["error"])


def _tuples(grid: Grid) -> Grid:
    """JSON made each (mean, min) pair a list: make them pairs again."""
    return {lang: {part: [[tuple(c) if isinstance(c, list) else c for c in row]
                          for row in rows] for part, rows in parts.items()}
            for lang, parts in grid.items()}


@dataclass
class GroupState:
    """A group between its two phases: one :class:`ArticleWork` per article.

    Attributes:
        works: The articles, in group order.
        summarized: A summarizer ran (records then carry its seconds).
    """

    works: list[ArticleWork]
    summarized: bool = False

    @property
    def items(self) -> list[Pending]:
        return [w.item for w in self.works]

    @property
    def errors(self) -> list[str | None]:
        return [w.error for w in self.works]

    def to_json(self) -> dict[str, Any]:
        """The state as JSON-ready data (the exceptions stay behind)."""
        return {"works": [w.to_json() for w in self.works], "summarized": self.summarized}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> GroupState:
        return cls([ArticleWork.from_json(w) for w in d["works"]], bool(d["summarized"]))

    def split(self) -> list[GroupState]:
        """One state per article (to retry a group article by article)."""
        return [GroupState([w], self.summarized) for w in self.works]

    @classmethod
    def merge(cls, states: list[GroupState]) -> GroupState:
        """The states of parts of a group as one (the inverse of :meth:`split`)."""
        return cls([w for s in states for w in s.works], any(s.summarized for s in states))
