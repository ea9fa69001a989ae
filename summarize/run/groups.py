"""The groups of a run: what each item read from the inputs becomes, and the bounded groups
both engines process.

:class:`Admission` holds the rules for one item (one place for the local engine, the Ray
engine and the in-memory API): a repeated id gets a distinct suffix; an article whose record
is already in the output folder with the same key (and page) is resumed; an article's
language is its record's ``lang``, ``--from``, or the detector's answer.

:func:`form_groups` is the one loop that reads the inputs and forms the groups: each item
admitted in input order, ``--dedupe`` copies routed through the run's
:class:`~summarize.run.dedupe.DedupeBook`, and a :class:`Group` handed on whenever it holds
:func:`group_limit` articles (8, 16, 32, ... up to ``group_size``, so the models start
after a few articles are read). The local engine consumes it in its own thread or a
reading thread, the Ray driver in its feeding thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from summarize.errors import UnsupportedLanguageError
from summarize.inputs import SourceFile
from summarize.languages import normalize_lang
from summarize.outputs.writers import page_path
from summarize.records import Article, ArticleResult, InputFailure
from summarize.run.dedupe import DedupeBook
from summarize.run.overlap import files_ahead, read_ahead
from summarize.run.resume import article_key
from summarize.run.stats import StatsCollector
from summarize.run.work import Pending
from summarize.settings import RunConfig

#: The first group's size; each next group doubles up to ``group_size``, so the model starts
#: after a few articles are read instead of a whole group (the device would wait for it).
FIRST_GROUP = 8

#: Files handed to the reader processes ahead of the run, in groups (``group_size`` files
#: each). With the formed group waiting, the one the model works on and those the writer
#: holds, memory holds about six groups whatever the input count (about eight when the
#: translations run in their own thread: one more waiting for it and the one it works on).
FILES_AHEAD = 1


def group_limit(index: int, group_size: int) -> int:
    """The size of group ``index`` (0 first): 8, 16, 32, ... up to ``group_size``."""
    return min(group_size, FIRST_GROUP << min(index, 20))


class Admission:
    """Admits the items of one run, in input order (ids stay unique across the run).

    Args:
        config: The validated configuration.
        fingerprint: The settings fingerprint (resume keys), or "" for none.
        existing: The output folder's records by id (``status``, ``key``), for resuming.
        out_dir: The output folder (a resumed record's page must exist), or None.
    """

    def __init__(self, config: RunConfig, fingerprint: str = "",
                 existing: Mapping[str, Any] | None = None, out_dir: Path | None = None):
        self.config = config
        self.fingerprint = fingerprint
        self.existing = existing or {}
        self.out_dir = out_dir
        self.seen_ids: set[str] = set()

    def admit(self, item: Article | InputFailure, read_s: float = 0.0, found: Any = None
              ) -> Pending | InputFailure | None:
        """What one item becomes: a failure, None when the folder already holds its record
        (resumed), or the article pending in the next group (unique id, resume key,
        language decided; ``found``: a detection a reader process already made)."""
        if isinstance(item, InputFailure):
            return item
        article = self.unique(item)
        key = article_key(article, self.fingerprint)
        if self.is_done(article, key):
            return None
        return self.with_language(Pending(article, key, read_s), found)

    def is_done(self, article: Article, key: str) -> bool:
        """Whether the folder already holds this article's record with the same key (and its
        page), so it is resumed rather than computed again."""
        old = self.existing.get(article.id)
        if self.config.force or not old or self.out_dir is None:
            return False
        return bool(old.status == "ok" and old.key == key
                    and page_path(self.out_dir, article.id, ".md").is_file())

    def with_language(self, item: Pending, found: Any = None) -> Pending | InputFailure:
        """Decide the article's language: its record's ``lang``, ``--from``, or detection."""
        article = item.article
        if article.lang:
            try:
                lang = normalize_lang(article.lang)
            except UnsupportedLanguageError as exc:
                return InputFailure(article.id, article.source, f"record 'lang': {exc}")
            how = "given"
        elif self.config.source_lang != "auto":
            lang, how = self.config.source_lang, "forced"
        else:
            if found is None:
                from summarize.languages.detect import detect_language

                found = detect_language(article.text)
            lang = found.lang if found.reliable and found.lang != "und" else "en"
            reason = getattr(found, "reason", None) or "too short to detect"
            how = "detected" if found.reliable else f"default ({reason})"
        item.article = replace(article, lang=lang)
        item.routes["lang"] = how
        return item

    def unique(self, article: Article) -> Article:
        """Give a repeated id (same record id twice, or two inputs) a distinct suffix."""
        if article.id not in self.seen_ids:
            self.seen_ids.add(article.id)
            return article
        n = 2
        while f"{article.id}~{n}" in self.seen_ids:
            n += 1
        new_id = f"{article.id}~{n}"
        self.seen_ids.add(new_id)
        return replace(article, id=new_id)


@dataclass
class Group:
    """One group as the reading formed it.

    Attributes:
        pending: The articles to process (with ``--dedupe``: the leaders of their texts).
        failed: Inputs and articles that failed before any model (written as errors).
        copies: ``--dedupe`` copies of texts already finished (written with the group).
        n_resumed: Articles whose records the folder already holds.
        files_read: Input files finished since the previous group (for progress).
        n_articles: Articles admitted into the group, copies included (its size).
    """

    pending: list[Pending] = field(default_factory=list)
    failed: list[InputFailure] = field(default_factory=list)
    copies: list[ArticleResult] = field(default_factory=list)
    n_resumed: int = 0
    files_read: int = 0
    n_articles: int = 0

    @property
    def size(self) -> int:
        """What counts toward the group's limit: its articles and its failures."""
        return self.n_articles + len(self.failed)


def form_groups(files: Iterable[SourceFile], config: RunConfig, admission: Admission,
                collector: StatsCollector, *, failures: Iterable[InputFailure] = (),
                dedupe: DedupeBook | None = None, pool: ProcessPoolExecutor | None = None,
                stop: Callable[[], bool] | None = None) -> Iterator[Group]:
    """Read the inputs and yield the run's groups, in input order.

    Args:
        files: The input files, in run order.
        config: The validated configuration (``group_size``, ``max_bytes``,
            ``source_lang``).
        admission: The run's admission (ids stay unique across its groups).
        collector: Takes the reading seconds and the count of items read.
        failures: Failures found before reading (the folder scan), in the first group.
        dedupe: The run's ``--dedupe`` book, or None.
        pool: Reader processes (reading, extraction and detection ahead of the model);
            None reads in the calling thread.
        stop: Checked after each item; once it returns True no more groups are formed
            (the group being formed is dropped: none of it was processed).

    Yields:
        Each :class:`Group` once it holds :func:`group_limit` articles, then the last one
        (possibly empty: it carries the last files' progress).
    """
    files_read = 0

    def on_file(tail_s: float) -> None:
        nonlocal files_read
        collector.stage_s["read"] += tail_s
        files_read += 1

    group = Group(failed=list(failures))
    n_groups = 0
    detect = config.source_lang == "auto"
    window = files_ahead(pool, FILES_AHEAD * config.group_size)
    for item, read_s, found in read_ahead(files, config.max_bytes, detect=detect, pool=pool,
                                          window=window, on_file=on_file):
        collector.stage_s["read"] += read_s
        collector.n_read += 1
        admitted = admission.admit(item, read_s, found)
        if admitted is None:
            group.n_resumed += 1
        elif isinstance(admitted, InputFailure):
            group.failed.append(admitted)
        else:
            group.n_articles += 1
            routed = dedupe.route(admitted) if dedupe is not None else admitted
            if isinstance(routed, Pending):
                group.pending.append(routed)
            elif routed is not None:
                group.copies.append(routed)
        if group.size >= group_limit(n_groups, config.group_size):
            group.files_read, files_read = files_read, 0
            yield group
            group = Group()
            n_groups += 1
        if stop is not None and stop():
            return
    group.files_read = files_read
    yield group


__all__ = ["FILES_AHEAD", "FIRST_GROUP", "Admission", "Group", "form_groups", "group_limit"]
