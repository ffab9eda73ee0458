"""Where every service stands: stable and canary versions, the last decision, drift
between MLflow and the ledger, and any lease held on a release transition."""

from __future__ import annotations

from typing import Any

from govctl.config import GovernedRepo


def services_status(repo: GovernedRepo, service: str | None = None,
                    env: str = "production") -> list[dict[str, Any]]:
    """One row per service (``service``, or every registered model): the release state in
    ``env`` (``standing.state``) plus ``drift`` (each finding), ``tampered`` (a drift
    that is an integrity violation) and ``lease`` (the lock held, or None)."""
    from govctl import registry
    from govctl.adapters import mlflowstore as ml
    from govctl.release import locks, standing

    rows = []
    for name in [service] if service else ml.registered_models(repo):
        row = standing.state(repo, name, env).to_json()
        drifts = registry.verify_drift(repo, name)
        row["drift"] = [d.to_json() for d in drifts]
        row["tampered"] = any(d.tampering for d in drifts)
        lease = locks.held(repo, name)
        row["lease"] = lease.to_json() if lease else None
        rows.append(row)
    return rows
