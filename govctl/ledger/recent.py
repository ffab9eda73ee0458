"""The last entries of a repo's ledger, for ``govctl audit log -n N``: the lightest read.

A SQLite ledger is read with the standard library (:mod:`govctl.adapters.sqlite_ledger`)
and nothing of the signing or append machinery is imported; any other ledger, or a file
that read cannot open, goes through :meth:`govctl.ledger.log.Ledger.tail`, which reports
what is wrong with the documented errors.
"""

from __future__ import annotations

import json

from govctl.config import GovernedRepo
from govctl.ledger.entry import Entry


def tail(repo: GovernedRepo, limit: int, *, action: str | None = None,
         subject_prefix: str | None = None) -> list[Entry]:
    """The last ``limit`` matching entries, oldest first."""
    from govctl.adapters import sqlite_ledger

    rows = sqlite_ledger.tail(repo.ledger_url(), limit, action=action,
                              subject_prefix=subject_prefix)
    if rows is not None:
        return [Entry.from_json(json.loads(r.body)) for r in reversed(rows)]
    from govctl.ledger.log import Ledger

    return Ledger.for_repo(repo).tail(limit, action=action, subject_prefix=subject_prefix)
