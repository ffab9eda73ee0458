"""Where every service stands: stable and canary versions, the last decision, drift
between MLflow and the ledger, and any lease held on a release transition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from govctl.config import GovernedRepo

if TYPE_CHECKING:
    from govctl.ledger.leases import Lease
    from govctl.registry.models import Drift
    from govctl.release.standing import State


@dataclass
class ServiceStatus:
    """One service in one environment: its release state, its drift findings and the
    lease held on its transitions (None: none)."""

    state: State
    drift: list[Drift]
    lease: Lease | None

    @property
    def tampered(self) -> bool:
        """A drift that is an integrity violation (``govctl status`` exits 4)."""
        return any(d.tampering for d in self.drift)

    def to_json(self) -> dict[str, Any]:
        return {**self.state.to_json(), "drift": [d.to_json() for d in self.drift],
                "tampered": self.tampered,
                "lease": self.lease.to_json() if self.lease else None}


def services_status(repo: GovernedRepo, service: str | None = None,
                    env: str = "production") -> list[ServiceStatus]:
    """One row per service (``service``, or every registered model): the release state in
    ``env`` (``standing.state``), its drift and the lease held, if any."""
    from govctl import registry
    from govctl.adapters import mlflowstore as ml
    from govctl.adapters.mlflowread import memo
    from govctl.release import locks, standing

    with memo():  # a read: each question asked of MLflow once
        return [ServiceStatus(standing.state(repo, name, env),
                              registry.verify_drift(repo, name), locks.held(repo, name))
                for name in ([service] if service else ml.registered_models(repo))]
