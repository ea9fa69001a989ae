"""The tolerant readers' helpers: a JSON value of the expected type, or a default."""

from __future__ import annotations

import math
from typing import Any


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool, not NaN, not an int too big for a float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def num_or_none(value: Any) -> Any:
    return value if is_number(value) else None


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def as_opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def as_int(value: Any, default: int = 0) -> int:
    if isinstance(value, int) and is_number(value):
        return value
    if isinstance(value, float) and is_number(value) and value.is_integer():
        return int(value)
    return default


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
