"""The gate's report: each checklist item as decided, its JSON and its SARIF 2.1.0 form
(code-scanning tools read the gate's result like any other analysis)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from govctl.findings import Finding, Severity, sarif
from govctl.serialize import JsonFields

SEVERITY_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
# statuses that do not block: "n/a" is an automatic item that does not apply here (e.g.
# data-pushed with no DVC remote where policy does not require one) — not a pass
OK_STATUSES = ("pass", "waived", "n/a")
SARIF_KIND = {"pass": "pass", "waived": "informational", "pending": "open", "fail": "fail",
              "n/a": "notApplicable"}


@dataclass
class ItemResult(JsonFields):
    id: str  # the fields in the order the gate's JSON has always printed them
    kind: str
    severity: str
    status: str  # pass | fail | pending | waived | n/a
    reason: str
    description: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def finding(self, checklist_path: str) -> Finding:
        """The item as a :class:`~govctl.findings.Finding` (SARIF's kind and level)."""
        return Finding(self.id, f"{self.status}: {self.reason}",
                       severity=Severity(SEVERITY_LEVEL[self.severity]), path=checklist_path,
                       kind=SARIF_KIND[self.status],
                       suppressed=self.reason if self.status == "waived" else None)


@dataclass
class GateReport:
    service: str
    version: str
    env: str
    time: str
    results: list[ItemResult]
    checklist_path: str
    digests: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(r.status in OK_STATUSES for r in self.results)

    @property
    def tampered(self) -> list[ItemResult]:
        """Failed items that are integrity violations (the gate exits 4 on these)."""
        return [r for r in self.results if r.evidence.get("integrity") is False]

    def to_json(self) -> dict[str, Any]:
        return {"service": self.service, "version": self.version, "env": self.env,
                "passed": self.passed, "time": self.time,
                "items": [r.to_json() for r in self.results], "digests": self.digests}

    def findings(self) -> list[Finding]:
        return [r.finding(self.checklist_path) for r in self.results]

    def to_sarif(self) -> dict[str, Any]:
        return sarif(
            self.findings(),
            rules={r.id: (r.description, Severity(SEVERITY_LEVEL[r.severity]))
                   for r in self.results},
            rule_properties={r.id: {"kind": r.kind, "severity": r.severity}
                             for r in self.results},
            properties={"service": self.service, "version": self.version,
                        "environment": self.env, "passed": self.passed})
