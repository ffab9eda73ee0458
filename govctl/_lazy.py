"""A package's API, imported on first use (PEP 562): ``govctl.release.promote`` loads the
module that defines it, and nothing else."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from typing import Any


def api(package: str, modules: tuple[str, ...]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: a submodule's name imports that submodule
    alone (``from govctl.release import locks`` must not load the whole API); any other name
    is looked up in ``modules``, in order (the lighter first: a read must not load the writes)."""

    def __getattr__(name: str) -> Any:
        if name.startswith("__") or not name.isidentifier():
            raise AttributeError(name)
        spec = importlib.util.find_spec(f"{package}.{name}")
        if spec is not None and spec.origin is not None:  # a module (not a bare folder)
            return importlib.import_module(f"{package}.{name}")
        for mod in modules:
            module = importlib.import_module(f"{package}.{mod}")
            if hasattr(module, name):
                value = getattr(module, name)
                # kept on the package: the next use is a plain attribute, no lookup
                setattr(sys.modules[package], name, value)
                return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
