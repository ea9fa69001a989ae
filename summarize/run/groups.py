"""What an item read from the inputs becomes before a model sees it: an article with a
unique id, its resume key and its language, or a failure, or nothing (already done).

:class:`Admission` holds the rules (one place for the local engine, the Ray engine and the
in-memory API): a repeated id gets a distinct suffix; an article whose record is already in
the output folder with the same key (and page) is resumed; an article's language is its
record's ``lang``, ``--from``, or the detector's answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from summarize.errors import UnsupportedLanguageError
from summarize.languages import normalize_lang
from summarize.outputs.writers import page_path
from summarize.records import Article, InputFailure
from summarize.run.resume import article_key
from summarize.run.work import Pending
from summarize.settings import RunConfig


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
