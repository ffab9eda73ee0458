"""The README's command reference covers every command and every option the CLI has
(sqlite-utils keeps its docs honest the same way)."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from govctl.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
REFERENCE = README[README.index("## Command reference"):]


def _commands(group, prefix: tuple[str, ...] = ()):
    # typer vendors its own click, so go by shape rather than by class
    if hasattr(group, "commands"):
        for name, sub in group.commands.items():
            yield from _commands(sub, (*prefix, name))
    else:
        yield prefix, group


def _all():
    # hidden commands (audit merge-checkpoint: git's merge driver) are not for people
    return [(p, c) for p, c in _commands(typer.main.get_command(app)) if not c.hidden]


def test_cli_walk_finds_the_commands():
    names = {" ".join(p) for p, _ in _all()}
    # the walk itself must work, or the tests below prove nothing
    assert {"init", "gate", "promote", "canary advance", "data add", "trust verify"} <= names
    assert len(names) > 40


def test_every_command_is_in_the_readme():
    missing = [" ".join(p) for p, _ in _all() if f"govctl {' '.join(p)}" not in README]
    assert not missing, f"commands missing from README.md: {missing}"


def test_every_option_is_in_the_readme_section_of_its_command():
    missing = []
    for path, cmd in _all():
        # the entries that mention the command, each to the start of the next entry
        section = ""
        for m in re.finditer(r"`govctl " + re.escape(" ".join(path)) + r"[ `]", REFERENCE):
            start = max(REFERENCE.rfind("\n- ", 0, m.start()),
                        REFERENCE.rfind("\n#", 0, m.start()))
            end = re.compile(r"^(- |#)", re.M).search(REFERENCE, m.end())
            section += REFERENCE[start: end.start() if end else len(REFERENCE)]
        if not section:
            missing.append(f"govctl {' '.join(path)} (no reference entry)")
            continue
        for param in cmd.params:
            if getattr(param, "param_type_name", "") != "option" or param.hidden:
                continue
            longs = [o for o in param.opts if o.startswith("--")]
            if not longs or longs[0] in ("--help",):
                continue
            if not any(re.search(re.escape(o) + r"\b", section) for o in longs):
                missing.append(f"govctl {' '.join(path)} {longs[0]}")
    assert not missing, f"options missing from README.md: {missing}"
