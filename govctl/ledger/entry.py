"""A ledger entry, its subject key, and the verification report (the ledger's data model).

Each entry is the RFC 8785 canonical JSON of ``{seq, time, action, phase, actor, subject,
evidence, git_commit, intent, note}``, signed by the actor as a DSSE envelope.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from govctl.findings import Finding, Severity

PHASES = ("done", "intent", "complete", "abort")


@dataclass
class Entry:
    seq: int
    time: str
    action: str
    phase: str
    actor: dict[str, str]
    subject: dict[str, Any]
    evidence: dict[str, Any] = field(default_factory=dict)
    git_commit: str | None = None
    intent: int | None = None
    note: str | None = None

    @property
    def subject_key(self) -> str:
        return subject_key(self.subject)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "action": self.action,
            "phase": self.phase,
            "actor": self.actor,
            "subject": self.subject,
            "evidence": self.evidence,
            "git_commit": self.git_commit,
            "intent": self.intent,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]


def subject_key(subject: dict[str, Any]) -> str:
    """``kind:name`` — what the ledger indexes and locks on (e.g. ``service:support-bot``)."""
    kind, name = subject.get("kind"), subject.get("name")
    if not kind or not name:
        raise ValueError("a ledger subject needs 'kind' and 'name'")
    return f"{kind}:{name}"


@dataclass
class VerifyReport:
    ok: bool
    entries: int
    checkpoints: int
    mode: str
    signatures_checked: int
    first_bad: int | None = None
    problems: list[str] = field(default_factory=list)
    root: str | None = None
    #: what this checkout or the ledger lacks yet (exit 1, a ``git pull``/push hint), not tampering
    behind: list[str] = field(default_factory=list)
    hint: str | None = None
    checkpoints_checked: int = 0
    checkout_checkpoint: int | None = None
    #: fine but worth saying (the checkout's ledger.checkpoint is older than the ledger)
    notes: list[str] = field(default_factory=list)
    #: ``--fast``: entries this clone had verified before, hashed only (govctl.ledger.verified)
    carried_forward: int = 0

    def findings(self) -> list[Finding]:
        """Each problem (tampering: an error) and each thing this checkout lacks (a
        warning: git pull or push) as a :class:`~govctl.findings.Finding`."""
        return ([Finding("ledger/integrity", p, subject="ledger") for p in self.problems]
                + [Finding("ledger/behind", b, subject="ledger", severity=Severity.WARNING)
                   for b in self.behind])

    @property
    def exit_code(self) -> int:
        return 4 if self.problems else 1 if self.behind else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "behind": self.behind,
            "hint": self.hint,
            "checkpoints_checked": self.checkpoints_checked,
            "checkout_checkpoint": self.checkout_checkpoint,
            "notes": self.notes,
            "carried_forward": self.carried_forward,
            "mode": self.mode,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "signatures_checked": self.signatures_checked,
            "root": self.root,
            "first_bad_entry": self.first_bad,
            "problems": self.problems,
        }
