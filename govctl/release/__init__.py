"""Release: checklists, waivers, the gate, promote/advance/rollback, canary analysis,
telemetry and routing. Submodules load lazily: the serving layer imports routing alone."""

from __future__ import annotations

import importlib
from typing import Any

_API_MODULES = ('transitions', 'standing', 'analysis')


def __getattr__(name: str) -> Any:
    """``govctl.release.X`` for the API of transitions, standing and analysis, imported on
    first use."""
    if name.startswith("__"):
        raise AttributeError(name)
    for mod in _API_MODULES:
        module = importlib.import_module(f"govctl.release.{mod}")
        if hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(f"module 'govctl.release' has no attribute {name!r}")
