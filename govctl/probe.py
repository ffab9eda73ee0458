"""Counters of the expensive loads a command makes: trust verifications, policy loads,
inventory reads, lineage builds, ledger scans, ``dvc status`` runs and MLflow reads.

The library counts them where they happen (a dict increment), so a test can run one
command and check that each was done once (``tests/test_context.py``)."""

from __future__ import annotations

from collections import Counter

TRUST = "trust.verify"
POLICIES = "policies.load"
INVENTORY = "inventory.read"
LINEAGE = "lineage.build"
LEDGER_SCAN = "ledger.scan"
DVC_STATUS = "dvc.status"
MLFLOW_READ = "mlflow.read"

_counts: Counter[str] = Counter()


def count(what: str) -> None:
    _counts[what] += 1


def counts() -> dict[str, int]:
    return dict(_counts)


def reset() -> None:
    _counts.clear()
