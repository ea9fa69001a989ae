"""Resume keys: which articles of an output folder are already done with the same settings.

An article's key hashes its content and a fingerprint of everything else that changes its
record (models and their revisions, languages, generation settings, engine and compute
type), so a rerun recomputes exactly the articles whose result would differ.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from summarize.backends.catalog import model_fingerprint
from summarize.records import Article, RunConfig
from summarize.run.models import summarizer_name, translator_for

#: Version of the resume key recipe. Kept apart from the output format's version, so a new
#: field in results.jsonl does not make every earlier record look out of date.
KEY_VERSION = 1


def settings_fingerprint(config: RunConfig) -> str:
    """Everything besides the article that changes its record, as a short hash."""
    models_dir = Path(config.models_dir)
    parts: dict[str, Any] = {
        "schema": KEY_VERSION,
        "source_lang": config.source_lang,
        "summarize": config.summarize,
        "translate": config.translate if config.targets else "none",
        "targets": list(config.targets) if config.translate != "none" else [],
        "backend": "hf" if config.backend == "torch" else config.backend,
        "dtype": config.dtype,
    }
    if config.backend != "torch":
        parts["quantization"] = config.quantization
    if config.summarize:
        parts["summarizer"] = model_fingerprint(summarizer_name(config), models_dir)
        parts["summarizer_settings"] = config.summarizer_generation
    if config.translate != "none":
        parts["translators"] = {
            lang: model_fingerprint(translator_for(config, lang), models_dir)
            for lang in config.targets
        }
        parts["translator_settings"] = config.translator_generation
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def article_key(article: Article, fingerprint: str) -> str:
    """Resume key of one article: its content and the run's settings."""
    digest = hashlib.sha256()
    for part in (fingerprint, article.title, article.lang or "", article.text):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()[:24]


def text_digest(article: Article) -> str:
    """Identity of an article's text alone, for ``--dedupe``."""
    return hashlib.sha256(article.text.encode("utf-8", "surrogatepass")).hexdigest()
