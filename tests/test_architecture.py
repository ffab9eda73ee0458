"""The layer rules of CONTRIBUTING.md, checked by import-linter on every run: imports point
down the lifecycle packages, no cycles between them, and mlflow, dvc, git, sqlalchemy and
duckdb are imported only by the adapters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400


def test_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--config", str(ROOT / ".importlinter")], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "2 kept, 0 broken" in proc.stdout


def test_every_package_says_what_it_holds():
    for init in sorted((ROOT / "govctl").glob("*/__init__.py")):
        text = init.read_text()
        assert text.lstrip().startswith('"""'), f"{init.relative_to(ROOT)} has no docstring"


def test_mypy_is_clean():
    """``mypy`` with the settings in pyproject.toml ([tool.mypy]: ``check_untyped_defs``)."""
    proc = subprocess.run([sys.executable, "-m", "mypy", "govctl"], cwd=ROOT,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert proc.stdout.startswith("Success: no issues found"), proc.stdout[-2000:]


def test_no_module_is_over_the_line_limit():
    lengths = {p.relative_to(ROOT).as_posix(): len(p.read_text("utf-8").splitlines())
               for p in sorted((ROOT / "govctl").rglob("*.py"))}
    over = {p: n for p, n in lengths.items() if n > MAX_LINES}
    assert over == {}, f"split these by responsibility: {over}"


# --- every CLI command: one library call, then rendering --------------------------------

# Library functions that only turn a result into words or text (rendering, not work).
RENDERING = {"govctl.release.history.words", "govctl.data.lineage.render_tree",
             "govctl.data.lineage.render_dot", "govctl.data.lineage.render_mermaid"}
# Modules a command may call freely: the CLI's own plumbing and the error types it raises.
PLUMBING = ("govctl.cli", "govctl.errors")


def _cli_commands():
    import importlib

    from govctl.cli import GROUPS, app

    def walk(t, prefix):
        for c in t.registered_commands:
            yield (prefix + (c.name or c.callback.__name__.replace("_", "-"))).strip(), c.callback
        for g in t.registered_groups:
            yield from walk(g.typer_instance, f"{prefix}{g.name} ")
    # the root builds its command groups lazily (govctl.cli.GROUPS): walk each group's app
    groups = [(name, getattr(importlib.import_module(f"govctl.cli.{module}"), attr))
              for name, (module, attr, _panel, _help) in GROUPS.items()]
    found = list(walk(app, ""))
    for name, sub in groups:
        found += walk(sub, f"{name} ")
    assert len(found) > 40, f"the walk found only {len(found)} commands"
    return found


def _library_calls(fn, funcs, seen):
    """Library calls along the costliest path through ``fn`` (module-local helpers it calls
    included): ``if``/``else`` branches count as alternatives, the rest in sequence."""
    import ast

    imported: dict[str, str] = {}
    for n in ast.walk(fn):
        if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("govctl"):
            for a in n.names:
                full = f"{n.module}.{a.name}"
                if not full.startswith(PLUMBING):
                    imported[a.asname or a.name] = full
        elif isinstance(n, ast.Import):
            for a in n.names:
                if a.name.startswith("govctl") and not a.name.startswith(PLUMBING):
                    imported[(a.asname or a.name).split(".")[0]] = a.name

    def called(node):
        out = []
        for n in ast.walk(node):
            if not isinstance(n, ast.Call):
                continue
            f = n.func
            parts = []
            while isinstance(f, ast.Attribute):
                parts.insert(0, f.attr)
                f = f.value
            if not isinstance(f, ast.Name):
                continue
            if f.id in imported and len(parts) <= 1:  # a library function, not a result's method
                target = ".".join([imported[f.id], *parts])
                if target not in RENDERING:
                    out.append(target)
            elif not parts and f.id in funcs and f.id not in seen:
                seen.add(f.id)
                out += _library_calls(funcs[f.id], funcs, seen)
        return out

    def ends(stmts):
        return bool(stmts) and isinstance(stmts[-1], (ast.Return, ast.Raise))

    def path(stmts):
        total: list[str] = []
        for i, s in enumerate(stmts):
            if isinstance(s, ast.If):
                test, body, other = called(s.test), path(s.body), path(s.orelse)
                if ends(s.body):
                    rest = other + path(stmts[i + 1:])
                    return total + test + max(body, rest, key=len)
                total += test + max(body, other, key=len)
            elif isinstance(s, (ast.FunctionDef, ast.Import, ast.ImportFrom)):
                continue
            else:
                total += called(s)
        return total

    return path(fn.body)


def test_every_command_is_one_library_call_and_rendering():
    import ast
    import inspect

    over = {}
    for name, callback in _cli_commands():
        tree = ast.parse(Path(inspect.getfile(callback)).read_text("utf-8"))
        funcs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        calls = _library_calls(funcs[callback.__name__], funcs, {callback.__name__})
        if len(calls) > 1:
            over[name] = calls
    assert over == {}, f"move the work into one library call: {over}"


# --- errors: decided by type, caught where they can be handled --------------------------

# Where a bare ``except Exception`` belongs: the top-level handlers (the CLI's and the
# hooks' entry points) and the adapters, which turn third-party errors into govctl's.
BROAD_EXCEPT_ALLOWED = ("govctl/adapters/", "govctl/cli/__init__.py", "govctl/hooks/__init__.py")


def _handlers():
    import ast

    for path in sorted((ROOT / "govctl").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ExceptHandler):
                yield rel, node


def test_except_exception_only_at_the_top_and_in_adapters():
    import ast

    broad = []
    for rel, h in _handlers():
        names = [h.type] if not isinstance(h.type, ast.Tuple) else list(h.type.elts)
        if not any(isinstance(n, ast.Name) and n.id in ("Exception", "BaseException")
                   for n in names):
            continue
        cleanup = isinstance(h.body[-1], ast.Raise) and h.body[-1].exc is None  # undo, re-raise
        # a worker thread handing its error to the thread that waits for it (raised there)
        handover = bool(h.name) and any(
            isinstance(n, ast.Assign) and isinstance(n.value, ast.Name) and n.value.id == h.name
            for n in h.body)
        if not cleanup and not handover and not rel.startswith(BROAD_EXCEPT_ALLOWED):
            broad.append(f"{rel}:{h.lineno}")
    assert broad == [], "catch the named errors instead: " + ", ".join(broad)


def test_errors_are_told_apart_by_type_not_by_message_or_code():
    import ast

    found = []
    for rel, h in _handlers():
        if not h.name:
            continue
        for node in ast.walk(h):
            if not isinstance(node, ast.Compare):
                continue
            for side in [node.left, *node.comparators]:
                about_exc = any(isinstance(n, ast.Name) and n.id == h.name for n in ast.walk(side))
                reads = (isinstance(side, ast.Attribute) and side.attr in ("message", "exit_code")
                         or isinstance(side, ast.Call) and isinstance(side.func, ast.Name)
                         and side.func.id == "str")
                if about_exc and reads:
                    found.append(f"{rel}:{node.lineno}")
    assert found == [], "use isinstance on the error's class: " + ", ".join(found)


def test_a_package_api_is_lazy_and_takes_no_dotted_names():
    """``govctl.release.X`` (govctl/_lazy.py): a submodule's name is that submodule alone,
    an API name comes from the package's modules, anything else is an AttributeError (so
    ``getattr(pkg, name, default)`` works, dotted names too)."""
    import pytest

    import govctl.release as release

    assert release.locks.__name__ == "govctl.release.locks"
    assert release.state.__module__ == "govctl.release.standing"
    assert getattr(release, "a.b", None) is None and getattr(release, "nope", 1) == 1
    with pytest.raises(AttributeError):
        release.no_such_name  # noqa: B018
