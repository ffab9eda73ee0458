"""One way from a result to JSON: what ``--json`` prints and the library's ``to_json``.

:func:`jsonable` turns a library result into JSON values: a dataclass field by field (its
fields are the JSON keys, in order), an enum by its value, a ``Decimal`` as text (exact), a
path as text, a non-finite float as ``null``, lists and mappings element by element. A field
whose JSON key is not its name (``from``, a Python keyword) says so in its metadata
(``field(metadata=key("from"))``). A type whose JSON is not simply its fields (derived
values: a contract scripts rely on) says so with a ``to_json()`` method, which wins.
"""

from __future__ import annotations

import dataclasses
import math
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any

__all__ = ["JsonFields", "fields", "jsonable", "key"]


def key(name: str) -> dict[str, str]:
    """A dataclass field's metadata naming its JSON key."""
    return {"json": name}


def fields(obj: Any) -> dict[str, Any]:
    """A dataclass's fields as JSON, in order (whatever ``to_json`` it has)."""
    return {f.metadata.get("json", f.name): jsonable(getattr(obj, f.name))
            for f in dataclasses.fields(obj)}


class JsonFields:
    """A dataclass whose JSON is its fields: ``to_json()`` for Python callers, the same
    dict ``--json`` prints."""

    def to_json(self) -> dict[str, Any]:
        return fields(self)


def jsonable(obj: Any) -> Any:
    to_json = getattr(obj, "to_json", None)
    if callable(to_json) and not isinstance(obj, type):
        return jsonable(to_json())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return fields(obj)
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = list(obj)
        if isinstance(obj, (set, frozenset)):
            try:
                items.sort()
            except TypeError:  # mixed types: as they come
                pass
        return [jsonable(v) for v in items]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, PurePath):
        return obj.as_posix()
    return obj
