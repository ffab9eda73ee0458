"""Policy rule packs (``policies/*.yaml`` other than ``trust.yaml``).

A rule has an id, a severity, a description, the environments it applies to and
parameters. The gate, waivers and the canary read their settings from rules by id, so an
organisation tunes behaviour by editing reviewed YAML, not code.

A rule is in force only in the environments it lists: read for another environment it is
as if it were absent, and govctl's built-in defaults apply (they fail closed). A gate item
whose check enforces a rule is reported with the more severe of its own severity and the
rule's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from govctl import probe
from govctl.config import GovernedRepo
from govctl.documents import load_model, model_from_data, parse_yaml
from govctl.errors import InputError

Severity = Literal["critical", "high", "medium", "low"]
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")  # least to most


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Z][A-Z0-9-]{2,63}$")
    severity: Severity
    description: str = Field(min_length=1)
    environments: list[str] = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)


class PolicyPack(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["govctl.policy/v1"] = Field("govctl.policy/v1", alias="schema")
    rules: list[Rule]

    @model_validator(mode="after")
    def _unique(self) -> PolicyPack:
        ids = [r.id for r in self.rules]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"rule ids repeat: {', '.join(sorted(dup))}")
        return self


def load_policy(path: Path, *, source: str | None = None) -> PolicyPack:
    return load_model(PolicyPack, path, source=source)


def policy_files(repo: GovernedRepo) -> list[Path]:
    if not repo.policies.is_dir():
        return []
    return sorted(p for p in repo.policies.glob("*.yaml") if p.name != "trust.yaml")


class Policies:
    """All rule packs of a repo, merged; a rule id may be defined once."""

    def __init__(self, rules: dict[str, Rule]) -> None:
        self.rules = rules

    @classmethod
    def load(cls, repo: GovernedRepo) -> Policies:
        probe.count(probe.POLICIES)
        rules: dict[str, Rule] = {}
        for path in policy_files(repo):
            for rule in load_policy(path, source=repo.rel(path)).rules:
                if rule.id in rules:
                    raise InputError(f"{repo.rel(path)}: rule {rule.id} is defined twice")
                rules[rule.id] = rule
        return cls(rules)

    @classmethod
    def from_texts(cls, files: dict[str, str]) -> Policies:
        """Rule packs given as {repo-relative path: YAML text}, e.g. as committed in git;
        the same files as :meth:`load` reads (``*.yaml`` but ``trust.yaml``)."""
        rules: dict[str, Rule] = {}
        for source, text in sorted(files.items()):
            if not source.endswith(".yaml") or source.rsplit("/", 1)[-1] == "trust.yaml":
                continue
            data, node = parse_yaml(text, source)
            for rule in model_from_data(PolicyPack, data, source, node).rules:
                if rule.id in rules:
                    raise InputError(f"{source}: rule {rule.id} is defined twice")
                rules[rule.id] = rule
        return cls(rules)

    def rule(self, rule_id: str) -> Rule | None:
        return self.rules.get(rule_id)

    def param(self, rule_id: str, name: str, env: str | None = None, default: Any = None) -> Any:
        """A rule parameter; per-environment parameters are dicts keyed by environment.
        Read for an ``env`` the rule does not list, it is ``default`` (the rule is not in
        force there)."""
        rule = self.rules.get(rule_id)
        if rule is None or name not in rule.params:
            return default
        if env is not None and env not in rule.environments:
            return default
        value = rule.params[name]
        if env is not None and isinstance(value, dict):
            return value.get(env, default)
        return value

    def number(self, rule_id: str, name: str, env: str | None = None, default: Any = None, *,
               integer: bool = False, low: float | None = None, high: float | None = None,
               ) -> Any:
        """A numeric parameter (an integer, or a decimal written as a string), checked:
        a wrong value is an InputError naming the rule and parameter, never a crash."""
        from decimal import Decimal, InvalidOperation

        value = self.param(rule_id, name, env)
        if value is None:
            return default
        where = f"policy {rule_id}: {name}" + (f" ({env})" if env else "")
        try:
            if isinstance(value, bool):
                raise InvalidOperation
            d = Decimal(str(value).strip())
            if not d.is_finite():
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            raise InputError(f"{where} is {value!r}, not a number") from None
        if integer and d != d.to_integral_value():
            raise InputError(f"{where} is {value!r}, not a whole number")
        if (low is not None and d < Decimal(str(low))) or (
                high is not None and d > Decimal(str(high))):
            span = (f"between {low:g} and {high:g}" if low is not None and high is not None
                    else f"at least {low:g}" if low is not None else f"at most {high:g}")
            raise InputError(f"{where} is {value!r}; it must be {span}")
        return int(d) if integer else float(d)

    def applies(self, rule_id: str, env: str) -> bool:
        """Is the rule defined and in force in ``env``?"""
        rule = self.rules.get(rule_id)
        return rule is not None and env in rule.environments

    def severity(self, rule_id: str | None, floor: Severity) -> Severity:
        """The more severe of ``floor`` (a gate item's own severity) and that of the rule
        the item's check enforces (none, or an unknown rule: ``floor``)."""
        rule = self.rules.get(rule_id) if rule_id else None
        if rule is None:
            return floor
        return max(floor, rule.severity, key=SEVERITIES.index)


def environments(repo: GovernedRepo) -> set[str]:
    """Every environment the release policies name (plus staging and production)."""
    envs = {"staging", "production"}
    policies = Policies.load(repo)
    for rule in policies.rules.values():
        envs |= set(rule.environments)
    for rule_id, name in (("GOV-CANARY-PLAN", "plan"), ("GOV-PROMOTE-ROLES", "actions")):
        value = policies.param(rule_id, name)
        if isinstance(value, dict):
            envs |= {k for k in value if isinstance(k, str)}
    return envs


def reserved_aliases(repo: GovernedRepo) -> set[str]:
    """The aliases only release transitions may move: ENV and ENV-canary."""
    envs = environments(repo)
    return envs | {f"{e}-canary" for e in envs}
