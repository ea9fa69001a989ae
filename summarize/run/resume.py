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
from summarize.records import Article
from summarize.run.models import summarizer_name, translator_for
from summarize.settings import RunConfig

#: Version of the resume key recipe. Kept apart from the output format's version, so a new
#: field in results.jsonl does not make every earlier record look out of date.
KEY_VERSION = 2


def settings_fingerprint(config: RunConfig) -> str:
    """Everything besides the article that changes its record, as a short hash: the
    settings the table marks as changing outputs, the models' identities, each role's
    settings (generation and prompts) and the backend's output-changing options."""
    from summarize.settings.table import all_settings
    from summarize.settings.validate import get

    models_dir = Path(config.models_dir)
    parts: dict[str, Any] = {"schema": KEY_VERSION}
    for s in all_settings():
        if s.fingerprint and s.kind not in ("model", "translators"):
            if s.backend is not None and s.backend != config.backend:
                continue
            parts[s.key] = get(config, s.attr) if s.backend is None else \
                config.backend_options.get(s.key, s.default)
    if not config.targets or config.translate == "none":
        parts["to"], parts["translate"] = [], "none"
    if config.summarize:
        parts["summarizer"] = model_fingerprint(summarizer_name(config), models_dir)
        parts["summarizer_settings"] = _with_template(config.summarizer_role.settings)
    if config.translate != "none":
        parts["translators"] = {
            lang: model_fingerprint(translator_for(config, lang), models_dir)
            for lang in config.targets
        }
        parts["translator_models"] = dict(config.translator_role.models)
        parts["translator_settings"] = _with_template(config.translator_role.settings)
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _with_template(settings: Any) -> dict[str, Any]:
    """A role's settings, with a ``chat_template`` file's content hashed in (editing the
    template changes every prompt, so the records made with the old one are recomputed)."""
    out = dict(settings)
    path = out.get("chat_template")
    if path:
        try:
            data = Path(path).expanduser().read_bytes()
        except OSError:
            data = b""
        out["chat_template_sha256"] = hashlib.sha256(data).hexdigest()
    return out


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
