"""Help without the parts of rich that help never draws.

typer renders help with ``typer.rich_utils``, which imports ``rich.markdown`` (and with it
markdown-it) and ``rich.traceback`` (pygments) at its top, though it uses ``Markdown`` only
in ``rich_markup_mode="markdown"`` and ``Traceback`` only for pretty exceptions: govctl
uses neither, and those two imports are most of what ``govctl --help`` costs. While
``typer.rich_utils`` is imported, :func:`install` gives it stand-ins for the two names
that load the real class on first use; every other importer gets the real modules.
Nothing is imported before typer asks for ``typer.rich_utils`` (a command that prints no
help pays nothing).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import types
from typing import Any

DEFERRED = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}
TARGET = "typer.rich_utils"


def _stand_in(module: str, name: str) -> type:
    """A class that builds (and answers for) ``module.name``, imported when first used."""

    def real() -> Any:
        return getattr(importlib.import_module(module), name)

    class _Meta(type):
        def __getattr__(cls, attr: str) -> Any:
            return getattr(real(), attr)

        def __instancecheck__(cls, obj: Any) -> bool:
            return isinstance(obj, real())

    class StandIn(metaclass=_Meta):
        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            return real()(*args, **kwargs)

    StandIn.__name__ = StandIn.__qualname__ = name
    return StandIn


class _Finder:  # a meta path finder (importlib.abc is not imported: it costs 10 ms)
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def lean_exec(module: types.ModuleType) -> None:
            stubs = {}
            for mod, name in DEFERRED.items():
                if mod not in sys.modules:  # already loaded: nothing to save
                    stub = types.ModuleType(mod)
                    setattr(stub, name, _stand_in(mod, name))
                    stubs[mod] = sys.modules[mod] = stub
            try:
                exec_module(module)
            finally:
                for mod, stub in stubs.items():
                    if sys.modules.get(mod) is stub:
                        del sys.modules[mod]

        loader.exec_module = lean_exec  # type: ignore[method-assign]
        return spec


def install() -> None:
    if TARGET not in sys.modules and not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
