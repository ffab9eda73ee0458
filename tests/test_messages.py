"""Library messages name fields, not CLI flags (CONTRIBUTING.md, "Errors").

A Python caller of ``govctl.trust.changes.add`` passes ``valid_until=``, not
``--valid-until``: the library's message says ``valid_until …`` and carries the field;
the CLI's one error handler shows the field as its option. This scans every raise of a
govctl error outside ``govctl/cli/`` for a message that speaks in flags.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from govctl.errors import InputError

GOVCTL = Path(__file__).resolve().parent.parent / "govctl"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]+")
ERRORS = {"GovctlError", "InputError", "NotFound", "ExternalError", "IntegrityError",
          "CheckFailed", "Busy"}
# another program's own flags, quoted in a message about that program
THEIRS = {"dvc status --json"}


def _text(node: ast.AST) -> str:
    """The literal parts of a message (an f-string's constants, a concatenation's)."""
    return "".join(s.value for s in ast.walk(node)
                   if isinstance(s, ast.Constant) and isinstance(s.value, str))


def flag_messages(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        if "cli" in path.relative_to(root).parts[:1]:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else \
                node.func.attr if isinstance(node.func, ast.Attribute) else ""
            if name not in ERRORS:
                continue
            text = _text(node.args[0])
            if FLAG.search(text) and not any(t in text for t in THEIRS):
                found.append(f"{path.relative_to(root.parent)}:{node.lineno}: {text[:60]}")
    return found


def test_the_scanner_finds_a_flag_in_a_message(tmp_path):
    (tmp_path / "m.py").write_text(
        'raise InputError(f"--reason must say why {x}")\n'
        'raise InputError("reason must say why", field="reason")\n'
        'raise errors.NotFound("no such key; pass " + "--key NAME")\n')
    assert [m.split(": ", 1)[1] for m in flag_messages(tmp_path)] == [
        "--reason must say why ", "no such key; pass --key NAME"]


def test_no_library_message_speaks_in_flags():
    assert flag_messages(GOVCTL) == []


def test_the_cli_shows_a_field_as_its_option():
    err = InputError("valid_until '2026-13-45' is not an ISO date", field="valid_until")
    assert str(err).startswith("valid_until ")
    assert err.cli_message() == "--valid-until '2026-13-45' is not an ISO date"
    # a message that does not start with its field is shown as it is
    assert InputError("no key named x", field="key").cli_message() == "no key named x"


def test_a_library_caller_sees_the_field():
    from govctl.release import slo

    with pytest.raises(InputError) as exc:
        slo.parse_window("soon")
    assert exc.value.field == "window" and str(exc.value).startswith("window 'soon'")
