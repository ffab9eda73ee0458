"""Conventions the suite keeps (CONTRIBUTING.md, "Tests"): no timed assertions.

A test that asserts how long something took passes on an idle laptop and fails on a loaded
CI machine, so timings belong to ``bench/``. This scans every test module's assertions for
an ordering comparison (<, <=, >, >=) involving a clock (``time.time``, ``monotonic``,
``perf_counter``, ``process_time``), a name or key that says it is a duration (``seconds``,
``elapsed``, ``duration``, ``took``, ``wall``), or a variable assigned from a clock.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
TIMING = re.compile(r"(^|_)(seconds|secs|elapsed|duration|durations|took|wall|time|"
                    r"perf_counter|perf_counter_ns|monotonic|monotonic_ns|process_time)($|_)")
ORDER = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)


def _words(node: ast.AST) -> set[str]:
    """Identifiers, attribute names and string subscripts in an expression."""
    out = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            out.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            out.add(sub.attr)
        elif isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Constant) \
                and isinstance(sub.slice.value, str):
            out.add(sub.slice.value)
    return out


def _is_clock(node: ast.AST) -> bool:
    return any(isinstance(s, ast.Call) and any(TIMING.search(w) for w in _words(s.func))
               for s in ast.walk(node))


def timed_assertions(source: str, filename: str = "<test>") -> list[str]:
    """``file:line: text`` of each assertion that compares a duration."""
    tree = ast.parse(source, filename)
    clocked = set()  # names assigned from a clock reading (start = time.monotonic())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _is_clock(node.value):
            clocked |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assert):
            continue
        for cmp in (s for s in ast.walk(node.test) if isinstance(s, ast.Compare)):
            if not any(isinstance(op, ORDER) for op in cmp.ops):
                continue
            words = _words(cmp)
            if any(TIMING.search(w) for w in words) or words & clocked:
                found.append(f"{filename}:{node.lineno}: {ast.unparse(node.test)}")
                break
    return found


def test_the_scanner_finds_timed_assertions():
    # the scan itself must work, or the test below proves nothing
    # the samples are data (tests/data/timed_assert_samples.json), so this file holds none
    samples = json.loads((TESTS / "data" / "timed_assert_samples.json").read_text())["samples"]
    for source, n in samples.items():
        assert len(timed_assertions(source)) == n, source


def test_no_test_asserts_a_duration():
    found = []
    for path in sorted(TESTS.glob("*.py")):
        found += timed_assertions(path.read_text("utf-8"), path.name)
    assert not found, "timed assertions (move timings to bench/):\n" + "\n".join(found)
