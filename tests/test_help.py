"""`--help` is the manual: every command has a runnable example, help text wraps at any
width without re-wrapping examples, fixed sets show as choices, options are worded the
same everywhere, and the commands are listed in lifecycle order."""

from __future__ import annotations

import re
import shlex

import pytest
import typer.main

from govctl.cli import app

ROOT = typer.main.get_command(app)


def _commands(group, prefix: tuple[str, ...] = ()):
    # typer vendors its own click, so go by shape rather than by class
    if hasattr(group, "commands"):
        for name, sub in group.commands.items():
            yield from _commands(sub, (*prefix, name))
    else:
        yield prefix, group


COMMANDS = [(p, c) for p, c in _commands(ROOT) if not c.hidden]  # hidden: git's, not yours
IDS = [" ".join(p) for p, _ in COMMANDS]


def _examples(cmd) -> list[list[str]]:
    """The lines of each example command in the Example(s): paragraphs of cmd's help."""
    found = []
    for para in (cmd.help or "").split("\n\n"):
        lines = para.split("\n")
        if lines[0].strip() not in ("Example:", "Examples:"):
            continue
        current: list[str] = []
        for line in lines[1:]:
            if current and current[-1].endswith(" \\"):
                current.append(line)
            else:
                current = [line]
                found.append(current)
    return found


def _parse(tokens: list[str]):
    """Parse an example's arguments the way govctl would, without running anything."""
    cmd, ctx, path = ROOT, ROOT.make_context("govctl", list(tokens)), []
    while hasattr(cmd, "commands"):
        name, cmd, rest = cmd.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        path.append(name)
        ctx = cmd.make_context(name, rest, parent=ctx)
    return tuple(path), ctx.params


def test_walk_sees_every_command():
    assert {"init", "gate", "canary advance", "data add", "checklist new"} <= set(IDS)
    assert len(IDS) > 40


def test_every_command_has_an_example():
    missing = [i for (_, cmd), i in zip(COMMANDS, IDS, strict=True) if not _examples(cmd)]
    assert not missing, f"commands without an Example: in --help: {missing}"


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=IDS)
def test_examples_are_whole_commands_of_their_command(path, cmd, monkeypatch):
    monkeypatch.delenv("GOVCTL_KEY", raising=False)  # an example names its key
    for lines in _examples(cmd):
        assert lines[0].startswith("govctl "), f"{lines[0]!r} does not start with 'govctl '"
        assert not lines[-1].endswith("\\"), f"{lines[-1]!r}: continued into nothing"
        for line in lines[1:]:  # a continuation: indented, after a line ending in " \"
            assert line.startswith("  ") and not line.lstrip().startswith("govctl"), lines
        tokens = shlex.split(" ".join(x.removesuffix("\\") for x in lines))
        for shell in (">", "|"):  # redirection is the shell's, not govctl's
            if shell in tokens:
                tokens = tokens[: tokens.index(shell)]
        parsed, _params = _parse(tokens[1:])  # raises on an unknown option or bad choice
        assert parsed == path, f"example {' '.join(tokens)!r} runs {parsed}, not {path}"


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=IDS)
def test_help_wraps_paragraphs_and_keeps_examples(path, cmd, cli, monkeypatch):
    # narrow: every example line is printed whole (examples fit 60 columns)
    monkeypatch.setenv("COLUMNS", "60")
    narrow = [x.strip() for x in cli(*path, "--help").out.splitlines()]
    for lines in _examples(cmd):
        for line in lines:
            assert line.strip() in narrow, f"example line re-wrapped at 60 columns: {line!r}"
    # wide: a paragraph is one line, not broken where the docstring's lines broke
    monkeypatch.setenv("COLUMNS", "200")
    wide = [x.strip() for x in cli(*path, "--help").out.splitlines()]
    for para in (cmd.help or "").split("\n\n"):
        if para.split("\n")[0] in ("Example:", "Examples:"):
            continue
        assert "\n" not in para, f"hard line break in a help paragraph: {para!r}"
        if len(para) < 190:
            assert para.replace("\\[", "[") in wide, para


def test_group_and_option_help_has_no_hard_breaks():
    for path, cmd in COMMANDS:
        for p in cmd.params:
            assert "\n" not in (p.help or ""), (path, p.name)
    for name, group in ROOT.commands.items():
        assert "\n" not in (group.help or "").split("\n\n")[0], name


def test_every_argument_is_described():
    missing = [f"{' '.join(path)} {p.name}" for path, cmd in COMMANDS for p in cmd.params
               if p.param_type_name == "argument" and not p.help]
    assert not missing, f"arguments without help: {missing}"
    for path, cmd in COMMANDS:
        for p in cmd.params:
            if p.param_type_name == "argument":  # usage shows SERVICE, PATH, ... as the docs do
                assert p.metavar and p.metavar == p.metavar.upper(), (path, p.name)


def test_one_wording_for_key_service_and_version():
    from govctl.cli._common import KEY_HELP, SERVICE_HELP, VERSION_HELP

    for path, cmd in COMMANDS:
        for p in cmd.params:
            where = f"govctl {' '.join(path)} {p.name}"
            if "--key" in p.opts:
                assert p.help.startswith(KEY_HELP) and p.opts == ["--key", "-k"], where
            if p.param_type_name == "argument" and p.metavar == "SERVICE":
                assert p.help.startswith(SERVICE_HELP), where
            if "--version" in p.opts and path[0] != "prompt":  # prompt versions are not models'
                assert p.help.startswith(VERSION_HELP), where
            # -v is not a model version on subcommands while unknown at the top
            assert "-v" not in p.opts, where


def test_top_level_version_has_no_short_alias(cli):
    assert cli("--version").out.startswith("govctl ")
    res = cli("-v")
    assert res.code == 2 and "No such option" in res.err


def _choices(path: str, option: str) -> tuple[str, ...]:
    cmd = dict(zip(IDS, (c for _, c in COMMANDS), strict=True))[path]
    param = next(p for p in cmd.params if option in p.opts)
    return tuple(param.type.choices)


def test_fixed_sets_are_choices_matching_the_library():
    from govctl.data import datasets

    assert _choices("data add", "--kind") == datasets.KINDS
    assert _choices("data add", "--sensitivity") == datasets.SENSITIVITIES
    assert _choices("data add", "--pii") == datasets.PIIS
    assert _choices("gate", "--format") == ("table", "json", "sarif")
    assert _choices("data lineage", "--format") == ("tree", "dot", "mermaid")
    assert _choices("keys export", "--format") == ("json", "pem", "base64")
    assert _choices("demo", "--regression") == ("latency", "none")


def test_choices_show_in_help(cli):
    out = cli("data", "add", "--help").out
    for choices in ("raw|train|eval|test|retrieval", "public|internal|confidential|restricted",
                    "none|pseudonymized|present"):
        assert choices in out
    assert "table|json|sarif" in cli("gate", "--help").out


def test_a_bad_choice_is_refused_before_anything_runs(cli, tmp_path):
    res = cli("gate", "support-bot", "--version", "1", "--format", "xml", "--key", "k",
              cwd=tmp_path)  # not even a governed repo: parsing refuses first
    assert res.code == 2
    assert "'xml' is not one of 'table', 'json', 'sarif'" in res.err


def test_library_still_validates_choices(repo, tmp_path):
    from govctl.config import find_repo
    from govctl.data import datasets
    from govctl.errors import InputError
    from govctl.signing.keys import KeyStore

    (repo / "data").mkdir()
    (repo / "data" / "x.csv").write_text("a\n")
    with pytest.raises(InputError, match="kind"):
        datasets.add(find_repo(), KeyStore().load("alice"), repo / "data" / "x.csv", name="x",
                     kind="weird", sensitivity="internal", pii="none", owner="o")


def test_every_command_that_prints_state_or_writes_has_json():
    # keys export prints a key in the format asked for; --format json is its JSON
    without = [i for (_, cmd), i in zip(COMMANDS, IDS, strict=True)
               if not any("--json" in p.opts for p in cmd.params) and i != "keys export"]
    assert not without, f"commands without --json: {without}"


def test_one_spelling_analyze():
    text = "\n".join([ROOT.help or "", *((c.help or "") + " ".join(p.help or "" for p in
                                        c.params) for _, c in COMMANDS)])
    assert not re.search(r"\banalys(e|es|ed|ing)\b", text, re.I)


def test_commands_are_listed_in_lifecycle_order(cli):
    out = cli("--help").out
    panels = re.findall(r"╭─ (.+?) ─", out)
    assert panels == ["Options", "Set up", "Data and models", "Agreements and checklists",
                      "Release", "Audit and reports"]
    names = re.findall(r"^│ ([a-z]+) ", out, re.M)
    assert names[names.index("init"):] == [
        "init", "config", "keys", "trust", "data", "model", "prompt", "agreement", "checklist",
        "gate", "promote", "canary", "rollback", "status", "lock", "slo", "audit", "history",
        "report", "demo", "attest"]


def test_help_text_is_not_read_as_markup(monkeypatch):
    from typer.testing import CliRunner

    from govctl.cli._common import tidy_help

    demo = typer.Typer(rich_markup_mode="rich")

    @demo.command()
    def show(env: str = typer.Option("x", "--env", help="Like [--env ENV] or [bold]B[/bold].")):
        """Show it [--env ENV]; [red]not red[/red] and [link=x]y[/link] print as written.

        Example:
        govctl show [--env ENV]
        """

    @demo.command()
    def other() -> None:
        """Another command, so show is a subcommand.

        Example:
        govctl other
        """

    tidy_help(demo)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("NO_COLOR", "1")
    out = CliRunner().invoke(demo, ["show", "--help"]).output
    assert "Show it [--env ENV]; [red]not red[/red] and [link=x]y[/link] print as written." in out
    assert "govctl show [--env ENV]" in out
    assert "Like [--env ENV] or [bold]B[/bold]." in out


def test_reflow():
    from govctl.cli._common import reflow

    doc = """Summary that runs
    over two lines.

    A paragraph
    broken in the source.

    \b
    kept
      as is

    Example:
    govctl x --a 1 \\
      --b 2
    """
    assert reflow(doc) == ("Summary that runs over two lines.\n\nA paragraph broken in the "
                           "source.\n\nkept\n  as is\n\nExample:\ngovctl x --a 1 \\\n  --b 2")


def test_groups_are_built_when_used_with_their_own_help():
    """The root lists each group from ``GROUPS`` without importing it; the line it lists
    is the group's own help, and using one group builds that group alone."""
    import importlib

    from govctl.cli import GROUPS, _LifecycleGroup
    from govctl.cli._common import reflow

    for name, (module, attr, panel, text) in GROUPS.items():
        sub = getattr(importlib.import_module(f"govctl.cli.{module}"), attr)
        assert reflow(text) == reflow(sub.info.help), name
        assert ROOT.commands[name].rich_help_panel == panel
    fresh = typer.main.get_command(__import__("govctl.cli").cli.app)
    assert isinstance(fresh, _LifecycleGroup)
    assert all(fresh.commands[n]._real is None for n in GROUPS)  # listed, not built
    assert "add" in fresh.commands["data"].commands  # built on first use
    assert fresh.commands["keys"]._real is None
