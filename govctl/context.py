"""One context per command: what a command reads, loaded once and passed down.

A :class:`Context` verifies the trust policy, loads the release policies, reads the
inventory and builds the lineage (a :class:`~govctl.data.inventory.Snapshot`) each once,
on first use, and while it is entered every ledger read is answered from one index of the
log (:func:`govctl.adapters.sql.shared_reads`). The gate, checklist status, promote and
data verify take it as ``ctx=`` and make their own when given none. ``govctl.probe``
counts each load where it happens; ``tests/test_context.py`` checks one ``promote`` does
each once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from govctl import clock
from govctl.config import GovernedRepo

if TYPE_CHECKING:
    from govctl.data.inventory import DatasetEntry, Snapshot
    from govctl.data.lineage import LineageGraph
    from govctl.policy import Policies
    from govctl.trust import TrustPolicy


class Context:
    def __init__(self, repo: GovernedRepo, *, at: datetime | None = None) -> None:
        self.repo = repo
        self.at = at or clock.now()
        self._stack: contextlib.ExitStack | None = None

    @cached_property
    def trust_policy(self) -> TrustPolicy:
        """The verified trust policy at ``at`` (fails closed when expired)."""
        from govctl import trust

        return trust.load_verified(self.repo, at=self.at)

    @cached_property
    def policies(self) -> Policies:
        from govctl.policy import Policies

        return Policies.load(self.repo)

    @cached_property
    def data(self) -> Snapshot:
        from govctl.data.inventory import Snapshot

        return Snapshot(self.repo)

    @property
    def inventory(self) -> list[DatasetEntry]:
        return self.data.entries

    @property
    def lineage(self) -> LineageGraph:
        return self.data.lineage

    def __enter__(self) -> Context:
        from govctl.adapters.sql import shared_reads

        self._stack = contextlib.ExitStack()
        self._stack.enter_context(shared_reads())
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None


@contextlib.contextmanager
def use(repo: GovernedRepo, ctx: Context | None = None, *,
        at: datetime | None = None) -> Iterator[Context]:
    """``ctx`` when the caller passed one down, else a new context for this call."""
    if ctx is not None:
        yield ctx
        return
    with Context(repo, at=at) as fresh:
        yield fresh
