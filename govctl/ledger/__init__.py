"""The ledger: signed entries in an RFC 6962 Merkle tree with signed checkpoints.

Append-only, verifiable offline; intents and completions for external changes."""

from __future__ import annotations

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    """``govctl.ledger.X`` for the API of :mod:`govctl.ledger.log`, imported on first use
    (so reading the last entries, ``govctl.ledger.entry``, loads no signing code)."""
    if name.startswith("__"):
        raise AttributeError(name)
    module = importlib.import_module("govctl.ledger.log")
    if hasattr(module, name):
        return getattr(module, name)
    raise AttributeError(f"module 'govctl.ledger' has no attribute {name!r}")
