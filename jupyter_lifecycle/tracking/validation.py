"""MLflow's rules for keys and values, with errors that name the key and the rule."""

from __future__ import annotations

import numbers
import posixpath
import re

from ..errors import InvalidInput, shown

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 5000
MAX_RUN_NAME_LENGTH = 250

_KEY = re.compile(r"[/\w.\- :]+")  # matched with fullmatch: '$' would let a trailing newline in
_INT64 = range(-(2**63), 2**63)


def validate_key(key: object, what: str) -> str:
    """Check a metric, param or tag key; return it."""
    if not isinstance(key, str) or not key:
        raise InvalidInput(f"{what} key must be a non-empty string, got {key!r}")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(f"{what} key {key[:40]!r}... is {len(key)} characters; the limit is {MAX_KEY_LENGTH}")
    if not _KEY.fullmatch(key):
        raise InvalidInput(
            f"invalid {what} key {key!r}: keys may contain only letters, digits, underscores, "
            "dashes, periods, spaces, colons and slashes"
        )
    if key.startswith("/") or ".." in posixpath.normpath(key).split("/"):
        raise InvalidInput(f"invalid {what} key {key!r}: it must be a relative path without '..'")
    return key


def param_value(key: str, value: object) -> str:
    """A param value as the string stored; over-long values are refused."""
    text = str(value)
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        raise InvalidInput(
            f"param {key!r} value is {len(text)} characters; the limit is {MAX_PARAM_VALUE_LENGTH}: "
            "log long values as an artifact with log_text or log_dict"
        )
    return text


def tag_value(key: str, value: object) -> str:
    """A tag value as the string stored; over-long values are refused."""
    text = str(value)
    if len(text) > MAX_TAG_VALUE_LENGTH:
        raise InvalidInput(
            f"tag {key!r} value is {len(text)} characters; the limit is {MAX_TAG_VALUE_LENGTH}: "
            "log long values as an artifact with log_text"
        )
    return text


def metric_value(key: str, value: object) -> float:
    """A metric value as a float: numbers (numpy's too) only; NaN and ±inf are kept."""
    if isinstance(value, numbers.Number) and not isinstance(value, complex):
        try:
            return float(value)  # type: ignore[arg-type]
        except (OverflowError, ValueError, TypeError) as exc:
            raise InvalidInput(f"metric {key!r} value {shown(value)} is not a float: {exc}") from None
    item = getattr(value, "item", None)  # one-element numpy arrays, torch tensors
    if callable(item):
        try:
            return metric_value(key, item())
        except (ValueError, TypeError, RuntimeError, InvalidInput):
            pass
    raise InvalidInput(
        f"metric {key!r} must be a number, got {shown(value)} ({type(value).__name__}): "
        "log text with log_param or set_tag instead"
    )


def metric_int(key: str, value: object, what: str) -> int:
    """A metric's ``step`` or ``timestamp`` as an int SQLite can store (64 bits)."""
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"metric {key!r} {what} must be an integer, got {shown(value)}") from None
    if number not in _INT64:
        raise InvalidInput(f"metric {key!r} {what} {shown(number)} is outside SQLite's 64-bit integers")
    return number
