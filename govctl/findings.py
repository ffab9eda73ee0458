"""One finding type for everything govctl judges, and its SARIF 2.1.0 form.

A hook's finding, a dataset check, a drifted alias, a gate item, a canary check and a
ledger problem each keep their own JSON (a contract scripts rely on) but map onto a
:class:`Finding` — a rule id, a severity, a message and a location (a file and line, or a
subject such as ``service:support-bot``) — through their ``finding()`` method, and
:func:`sarif` writes any list of findings as one SARIF run, the format code-scanning tools
read (GitHub code scanning, GitLab, Azure DevOps, SonarQube). Kept free of dataclasses and
third-party imports: the pre-commit hooks import it and start in milliseconds.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from govctl import __version__

__all__ = ["Finding", "Severity", "sarif"]

TOOL_URI = "https://example.invalid/govctl"
SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


class Severity(StrEnum):
    """How much a finding matters, as SARIF's ``level`` names it."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


class Finding:
    """Something govctl found: ``rule`` (a stable id such as ``invalid-checklist`` or
    ``drift/alias``), its ``severity``, a ``message``, and where — ``path`` and ``line`` in
    the repo, or the ``subject`` it concerns. ``kind`` is SARIF's result kind (``fail``
    unless the finding is a pass, an open item or informational) and ``suppressed`` a
    justification when a waiver accepts it."""

    __slots__ = ("rule", "message", "severity", "path", "line", "subject", "kind",
                 "suppressed", "properties")

    def __init__(self, rule: str, message: str, *, severity: Severity = Severity.ERROR,
                 path: str | None = None, line: int | None = None, subject: str | None = None,
                 kind: str = "fail", suppressed: str | None = None,
                 properties: dict[str, Any] | None = None) -> None:
        self.rule, self.message, self.severity = rule, message, Severity(severity)
        self.path, self.line, self.subject = path, line, subject
        self.kind, self.suppressed, self.properties = kind, suppressed, properties or {}

    def where(self) -> str:
        if self.path:
            return f"{self.path}:{self.line or 1}"
        return self.subject or ""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Finding) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        return f"Finding({self.as_dict()!r})"

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.rule} {self.message}" if where else f"{self.rule} {self.message}"

    def as_dict(self) -> dict[str, Any]:
        """The finding's own fields (what :func:`sarif` reads)."""
        return {"rule": self.rule, "severity": str(self.severity), "message": self.message,
                "path": self.path, "line": self.line, "subject": self.subject,
                "kind": self.kind, "suppressed": self.suppressed}


def _location(f: Finding) -> list[dict[str, Any]]:
    if f.path:
        physical: dict[str, Any] = {"artifactLocation": {"uri": f.path}}
        if f.line:
            physical["region"] = {"startLine": int(f.line)}
        return [{"physicalLocation": physical}]
    if f.subject:
        return [{"logicalLocations": [{"fullyQualifiedName": f.subject}]}]
    return []


def sarif(findings: list[Finding], *, rules: dict[str, tuple[str, Severity]] | None = None,
          properties: dict[str, Any] | None = None,
          rule_properties: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The findings as one SARIF 2.1.0 run of the tool ``govctl``. ``rules`` maps a rule id
    to its description and default severity (each finding's rule is listed, described by
    its first message when ``rules`` does not name it); ``properties`` go on the run."""
    described = dict(rules or {})
    order: list[str] = list(described)
    for f in findings:
        if f.rule not in described:
            described[f.rule] = (f.message, f.severity)
            order.append(f.rule)
    index = {r: i for i, r in enumerate(order)}
    driver_rules = []
    for r in order:
        text, level = described[r]
        rule: dict[str, Any] = {"id": r, "shortDescription": {"text": text[:200]},
                                "fullDescription": {"text": text},
                                "defaultConfiguration": {"level": str(level)}}
        if rule_properties and r in rule_properties:
            rule["properties"] = rule_properties[r]
        driver_rules.append(rule)
    results = []
    for f in findings:
        result: dict[str, Any] = {
            "ruleId": f.rule, "ruleIndex": index[f.rule], "kind": f.kind,
            "level": str(f.severity) if f.kind == "fail" else "none",
            "message": {"text": f.message}, "locations": _location(f)}
        if f.suppressed is not None:
            result["suppressions"] = [{"kind": "external", "status": "accepted",
                                       "justification": f.suppressed}]
        if f.properties:
            result["properties"] = f.properties
        results.append(result)
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "govctl", "version": __version__,
                            "informationUri": TOOL_URI, "rules": driver_rules}},
        "results": results}
    if properties:
        run["properties"] = properties
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
