"""Waivers: a signed, justified, expiring exception for one checklist item.

:func:`is_active` is the one function that decides whether a waiver counts at a given
time; everything else (status, gate, report) calls it. Anything malformed, unsigned,
expired or beyond the policy's cap fails closed: the waiver does not count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from govctl import clock


@dataclass
class WaiverCheck:
    active: bool
    reason: str


def is_active(waiver: dict[str, Any], at: datetime, *, max_days: int | None = None,
              signature_ok: bool = True) -> WaiverCheck:
    """Whether ``waiver`` (the signed payload) counts at time ``at``."""
    if not signature_ok:
        return WaiverCheck(False, "the waiver's signature does not verify")
    try:
        justification = str(waiver["justification"]).strip()
        granted = clock.parse_time(str(waiver["granted"]))
        expires = clock.parse_time(str(waiver["expires"]))
        owner = str(waiver["granted_by"]).strip()
    except (KeyError, TypeError, ValueError) as exc:
        return WaiverCheck(False, f"malformed waiver ({exc})")
    if not justification:
        return WaiverCheck(False, "a waiver needs a justification")
    if not owner:
        return WaiverCheck(False, "a waiver needs an owner")
    if expires <= granted:
        return WaiverCheck(False, "the waiver expires before it was granted")
    if max_days is not None and (expires - granted).days > max_days:
        return WaiverCheck(False, f"the waiver runs {(expires - granted).days} days, beyond the "
                           f"policy's cap of {max_days}")
    if at < granted:
        return WaiverCheck(False, "the waiver is not yet granted at this time")
    if at >= expires:
        return WaiverCheck(False, f"the waiver expired {clock.to_iso(expires)}")
    return WaiverCheck(True, f"waived by {owner} until {clock.to_iso(expires)}: {justification}")
