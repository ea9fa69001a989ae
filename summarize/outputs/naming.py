"""Map untrusted article ids to safe, collision-free file names inside the output folder."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_SLUG = 60


def page_stem(article_id: str) -> str:
    """Return a file-name stem for an article id, safe on every common file system.

    The stem is a readable ASCII slug of the id followed by a short hash of the exact id,
    so two ids never share a stem (``a/b`` and ``a_b`` differ) and no id can name a path
    outside the folder it is joined to (no separators, no leading dot, no ``..``).

    Args:
        article_id: Any string, including ``../../etc/x`` or an absolute path.

    Returns:
        A stem like ``world-story1.txt-3f9a1c2e`` (at most about 70 characters).
    """
    ascii_id = unicodedata.normalize("NFKD", article_id).encode("ascii", "ignore").decode()
    slug = _UNSAFE.sub("-", ascii_id).strip("-._")[:_MAX_SLUG].strip("-._") or "article"
    digest = hashlib.sha1(article_id.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{slug}-{digest}"
