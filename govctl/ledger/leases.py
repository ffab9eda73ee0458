"""Leases on a subject (one state transition per service at a time) that survive crashes.

A lease records who holds it, on which host and under which process id. A lease whose
process is gone on this host is broken at once (and the break recorded in the ledger); any
other lease expires after its time-to-live, or an admin/on-call breaks it with
``govctl lock break`` (signed, in the ledger).
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from govctl import clock
from govctl.errors import Busy, NotFound
from govctl.ledger.entry import subject_key
from govctl.serialize import JsonFields

if TYPE_CHECKING:
    from govctl.ledger.log import Ledger
    from govctl.signing.keys import SigningKey

LOCK_BREAK = "lock.break"


@dataclass
class Lease(JsonFields):
    subject: str
    holder: str
    host: str
    pid: int | None
    acquired: str
    expires: str

    @classmethod
    def from_row(cls, subject: str, row: Any) -> Lease:
        try:
            info = json.loads(row.holder)
            if not isinstance(info, dict):
                raise ValueError
        except ValueError:
            info = {"name": row.holder}
        return cls(subject, str(info.get("name")), str(info.get("host", "")),
                   info.get("pid"), row.acquired, row.expires)

    @property
    def dead(self) -> bool:
        """Its process is gone, and we can tell (same host)."""
        if self.host != socket.gethostname() or not isinstance(self.pid, int):
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def describe(self) -> str:
        return (f"held by {self.holder} (pid {self.pid} on {self.host}) since {self.acquired}; "
                f"the lease expires {self.expires}")


@contextmanager
def hold(ledger: Ledger, subject: dict[str, Any], key: SigningKey, holder: str,
         *, ttl_seconds: int = 300) -> Iterator[None]:
    ledger._require()
    skey = subject_key(subject)
    token = uuid.uuid4().hex
    info = json.dumps({"name": holder, "host": socket.gethostname(), "pid": os.getpid()})
    for _attempt in range(2):
        now = clock.now()
        held = ledger.store.try_lock(skey, info, token, clock.to_iso(now),
                                     clock.to_iso(now + timedelta(seconds=ttl_seconds)))
        if held is None:
            break
        lease = Lease.from_row(skey, held)
        if not lease.dead or not ledger.store.break_lock(skey, held.holder):
            raise Busy(f"another operation is in progress on {skey} ({lease.describe()})",
                       hint="wait for it to finish; if its process crashed on another host, an "
                       f"admin or on-call breaks it: govctl lock break {subject.get('name')} "
                       "--reason TEXT --key NAME")
        ledger.append(key, LOCK_BREAK, subject, evidence={"lease": lease.to_json(),
                      "automatic": True}, note=f"broke the lease of crashed pid {lease.pid}")
    else:  # pragma: no cover - someone else took it in between
        raise Busy(f"another operation is in progress on {skey}")
    try:
        yield
    finally:
        ledger.store.unlock(skey, token)


def status(ledger: Ledger) -> list[Lease]:
    from govctl.adapters import sqlite_ledger

    rows = sqlite_ledger.locks(ledger.url)  # a SQLite ledger: no SQLAlchemy for a read
    if rows is None:
        ledger._require()
        rows = ledger.store.list_locks()
    return [Lease.from_row(r.subject_key, r) for r in rows]


def held(ledger: Ledger, subject: dict[str, Any]) -> Lease | None:
    skey = subject_key(subject)
    return next((x for x in status(ledger) if x.subject == skey), None)


def break_lease(ledger: Ledger, key: SigningKey, subject: dict[str, Any], reason: str) -> Lease:
    """Break the lease on ``subject`` (the caller checked authority), recorded in the ledger."""
    lease = held(ledger, subject)
    if lease is None:
        raise NotFound(f"no lease is held on {subject_key(subject)}")
    ledger.store.break_lock(lease.subject, None)
    ledger.append(key, LOCK_BREAK, subject, evidence={"lease": lease.to_json(),
                  "automatic": False, "reason": reason}, note=reason)
    return lease
