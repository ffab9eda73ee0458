"""The registry: model and prompt versions in MLflow, pinned and checked for drift.

Registration records lineage and hashes in version tags and the ledger."""

from __future__ import annotations

import importlib
from typing import Any

_API_MODULES = ('models', 'prompts', 'reads')


def __getattr__(name: str) -> Any:
    """``govctl.registry.X`` for the API of models, prompts, reads, imported on first use."""
    if name.startswith("__"):
        raise AttributeError(name)
    for mod in _API_MODULES:
        module = importlib.import_module(f"govctl.registry.{mod}")
        if hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(f"module 'govctl.registry' has no attribute {name!r}")
