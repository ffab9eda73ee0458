"""A release is a model version with the prompt versions it was evaluated with.

``model register`` records them (``--prompt NAME@V``, default: the latest version govctl
pinned of every prompt in ``registry/prompts/``); promote, canary steps and rollbacks move
the prompts' aliases with the model's (in the same ledger intent); verify reports a prompt
alias that differs from the ledger and prompt versions registered outside govctl.
"""

from __future__ import annotations

from typing import Any

from govctl.config import GovernedRepo
from govctl.errors import InputError, NotFound
from govctl.ledger.log import Ledger
from govctl.registry.models import Drift

PromptAliases = dict[str, dict[str, str | None]]  # prompt -> alias -> version (None: remove)


def prompt_pins(repo: GovernedRepo) -> dict[str, dict[str, dict[str, Any]]]:
    """name -> {version -> the registration's ledger evidence} (``sha256`` of the template
    and, since model parameters are pinned too, ``config_sha256``). One indexed read (no prompt-file parsing: drift checks stay free of pydantic)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for e in Ledger.for_repo(repo).versions("prompt.register"):
        out.setdefault(e.subject["name"], {})[str(e.evidence["version"])] = e.evidence
    return out


def pinned_prompts(repo: GovernedRepo) -> dict[str, dict[str, str]]:
    """name -> {version -> sha256} as the ledger recorded each registration."""
    return {n: {v: ev["sha256"] for v, ev in vs.items()} for n, vs in prompt_pins(repo).items()}


def prompts_for_registration(repo: GovernedRepo, specs: list[str] | None) -> dict[str, str]:
    """``NAME@VERSION`` specs checked against the versions govctl pinned; none given: the
    latest pinned version of each prompt file in the repo."""
    from govctl.registry import prompts

    pins = pinned_prompts(repo)
    if not specs:
        return {r.name: r.latest_version for r in prompts.prompt_status(repo)
                if r.latest_version}
    out: dict[str, str] = {}
    for spec in specs:
        name, sep, version = spec.partition("@")
        if not sep or not name or not version.isdigit():
            raise InputError(f"prompt {spec!r}: expected NAME@VERSION, e.g. support-answer@2",
                             field="prompt")
        if version not in pins.get(name, {}):
            known = ", ".join(sorted(pins.get(name, {}), key=int)) or "none"
            raise NotFound(f"prompt {spec}: {name} has no version {version} registered "
                           f"through govctl (pinned versions: {known})", field="prompt")
        out[name] = version
    return out


def _release_prompts(repo: GovernedRepo, service: str) -> dict[str, dict[str, str]]:
    """model version -> {prompt -> version}, from the completed registrations."""
    out: dict[str, dict[str, str]] = {}
    for e in Ledger.for_repo(repo).versions("model.register", {"kind": "service",
                                                                "name": service}):
        out[str(e.evidence["version"])] = dict(e.evidence.get("prompts") or {})
    return out


def prompt_alias_changes(repo: GovernedRepo, service: str,
                         aliases: dict[str, str | None]) -> PromptAliases:
    """The prompt alias moves that go with these model alias moves: alias → the prompt
    versions recorded with that model version; a removed alias leaves every prompt the
    service was ever released with."""
    recorded = _release_prompts(repo, service)
    every = sorted({p for ps in recorded.values() for p in ps})
    out: PromptAliases = {}
    for alias, version in aliases.items():
        if version is None:
            for p in every:
                out.setdefault(p, {})[alias] = None
        else:
            for p, pv in recorded.get(str(version), {}).items():
                out.setdefault(p, {})[alias] = pv
    return out


def apply_prompt_aliases(repo: GovernedRepo, changes: PromptAliases) -> None:
    from govctl.adapters import mlflowprompts

    for prompt, moves in sorted(changes.items()):
        for alias, version in moves.items():
            if version is None:
                mlflowprompts.delete_alias(repo, prompt, alias)
            else:
                mlflowprompts.set_alias(repo, prompt, alias, version)


def expected_prompt_aliases(repo: GovernedRepo) -> dict[str, dict[str, str]]:
    """prompt -> alias -> version as the ledger last set them."""
    return Ledger.for_repo(repo).prompt_aliases()


def _pending(repo: GovernedRepo) -> dict[tuple[str, str], str | None]:
    out: dict[tuple[str, str], str | None] = {}
    for e in Ledger.for_repo(repo).open_intents():
        if "prompt_aliases" in e.evidence:
            for prompt, moves in e.evidence["prompt_aliases"].items():
                for alias, version in moves.items():
                    out[(prompt, alias)] = None if version is None else str(version)
    return out


def verify_prompt_aliases(repo: GovernedRepo, names: list[str]) -> list[Drift]:
    """Prompt aliases where the ledger put them; no prompt version govctl did not register."""
    from govctl.adapters import mlflowprompts

    pins = pinned_prompts(repo)
    expected = expected_prompt_aliases(repo)
    pending: dict[tuple[str, str], str | None] | None = None
    out: list[Drift] = []
    for n in names:
        outside = [v for v in mlflowprompts.version_numbers(repo, n) if v not in pins.get(n, {})]
        if outside:
            out.append(Drift(f"prompt:{n}", "unregistered-version",
                             f"version(s) {', '.join(outside)} were registered in MLflow "
                             "outside govctl (no pin, no lineage)"))
        actual = mlflowprompts.aliases(repo, n)
        want = expected.get(n, {})
        for alias in sorted(set(actual) | set(want)):
            if actual.get(alias) == want.get(alias):
                continue
            if pending is None:
                pending = _pending(repo)
            if (n, alias) in pending and pending[(n, alias)] == actual.get(alias):
                out.append(Drift(f"prompt:{n}", "interrupted",
                                 f"alias {alias!r} is at {actual.get(alias) or 'nothing'} as an "
                                 "interrupted release left it"))
                continue
            out.append(Drift(
                f"prompt:{n}", "alias",
                f"alias {alias!r} points to {actual.get(alias) or 'nothing'} in MLflow but the "
                f"ledger last set it to {want.get(alias) or 'nothing'} (moved behind govctl's "
                "back)"))
    return out


def released_prompts(repo: GovernedRepo, service: str) -> list[str]:
    return sorted({p for ps in _release_prompts(repo, service).values() for p in ps})
