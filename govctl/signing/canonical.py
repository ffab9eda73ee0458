"""Canonical JSON (RFC 8785 / JCS) for everything govctl signs, and a strict parser.

Signed documents hold integers and decimal strings only. Floats are refused when
canonicalising, and the parser refuses duplicate keys, floats, and integers outside
the I-JSON range (|n| <= 2**53 - 1), so two parties can never disagree about the bytes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785

from govctl.errors import InputError

MAX_SAFE_INT = 2**53 - 1


def _check(value: Any, where: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INT:
            raise InputError(f"{where}: integer {value} is beyond 2^53-1 and cannot be signed")
        return
    if isinstance(value, float):
        raise InputError(
            f"{where}: {value!r} is a float; signed documents use integers or decimal strings"
        )
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InputError(f"{where}: key {key!r} is not a string")
            _check(item, f"{where}.{key}")
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check(item, f"{where}[{i}]")
        return
    raise InputError(f"{where}: {type(value).__name__} cannot be part of a signed document")


def canonical_bytes(value: Any) -> bytes:
    """RFC 8785 canonical JSON of ``value`` (floats and unsafe integers refused)."""
    _check(value, "$")
    return rfc8785.dumps(value)


def digest(value: Any) -> str:
    """``sha256:<hex>`` of the canonical JSON of ``value``."""
    return "sha256:" + hashlib.sha256(canonical_bytes(value)).hexdigest()


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _safe_int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_SAFE_INT:
        raise ValueError(f"integer {text} is beyond 2^53-1")
    return value


def _no_float(text: str) -> Any:
    raise ValueError(f"float {text} is not allowed; use an integer or a decimal string")


def strict_loads(data: bytes | str, *, what: str = "JSON") -> Any:
    """Parse JSON refusing duplicate keys, floats and unsafe integers (fail closed)."""
    try:
        return json.loads(
            data,
            object_pairs_hook=_no_duplicates,
            parse_int=_safe_int,
            parse_float=_no_float,
            parse_constant=_no_float,
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{what} is not valid strict JSON: {exc}") from None
