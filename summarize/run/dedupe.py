"""``--dedupe``: identical texts are processed once; each copy gets its leader's results.

One :class:`DedupeBook` per run, shared by whoever forms the groups (it routes each article)
and whoever writes the records (it hands back the copies a finished leader was holding), so
both engines deduplicate the same way: a text already finished is copied at once, a text
whose first article (its *leader*) is still being processed waits for it, and only leaders
are sent to the models. Thread-safe: the groups form in one thread, records are written in
another.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import replace

from summarize.records import ArticleResult, InputFailure
from summarize.run.process import failure_record, ok_record
from summarize.run.resume import text_digest
from summarize.run.work import Pending


class DedupeBook:
    """Which texts are done or in flight in this run, and the copies waiting for them.

    Memory holds one record per distinct text that succeeded (its copies need it) and the
    copies waiting for a leader still in flight.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: dict[str, ArticleResult] = {}  # text digest -> the leader's ok record
        self._waiting: dict[str, list[Pending]] = {}  # digest in flight -> copies waiting
        self._leader_of: dict[str, str] = {}  # leader id in flight -> its text digest

    def route(self, item: Pending) -> Pending | ArticleResult | None:
        """Where an admitted article goes.

        Returns:
            ``item`` itself when it leads its text (process it), the record of its copy
            when the text is already done (write it with the group), or None when it waits
            for its leader (:meth:`finished` hands its copy back).
        """
        digest = text_digest(item.article)
        with self._lock:
            leader = self._done.get(digest)
            if leader is None:
                waiting = self._waiting.get(digest)
                if waiting is None:
                    self._waiting[digest] = []
                    self._leader_of[item.article.id] = digest
                    return item
                waiting.append(item)
                return None
        return copy_record(item, leader)

    def finished(self, records: Iterable[ArticleResult]) -> list[ArticleResult]:
        """The copies that waited for these records' articles (call as they are written):
        a leader that succeeded is remembered for later copies; one that failed fails its
        waiting copies (a later copy of the same text leads again)."""
        copies: list[ArticleResult] = []
        for record in records:
            with self._lock:
                digest = self._leader_of.pop(record.id, None)
                if digest is None:
                    continue
                waiting = self._waiting.pop(digest, [])
                if record.ok:
                    self._done[digest] = record
            copies.extend(copy_record(item, record) for item in waiting)
        return copies


def copy_record(item: Pending, leader: ArticleResult) -> ArticleResult:
    """A copy's record: the leader's results under the copy's own id, name and read time
    (``duplicate_of`` names the leader); the leader's error when it failed."""
    if not leader.ok:
        return failure_record(InputFailure(item.article.id, item.article.source,
                                           leader.error or "failed"))
    copy = ok_record(item, summary=leader.summary, chunks=leader.chunks,
                     translations=leader.translations, alignment=leader.alignment,
                     timings={"read": item.read_s}, routes=leader.routes)
    return replace(copy, review=leader.review, duplicate_of=leader.id)


__all__ = ["DedupeBook", "copy_record"]
