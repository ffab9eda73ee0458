"""The trust policy's names and defaults, without its document model (a read that needs
only these builds no pydantic model: ``audit verify --fast``)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

SCHEMA = "govctl.trust/v1"
ROLES = ("admin", "eng-lead", "product-owner", "compliance", "ml-engineer", "releaser", "oncall")
ROLE_RE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
TRUST_UPDATE = "trust.update"

#: Who may do what, out of the box. ``roles`` is a k-of-n threshold per role (all must be
#: met, signers counted by unique public key); ``any_of`` lets one signer holding any of
#: the listed roles act alone.
DEFAULT_REQUIREMENTS: dict[str, dict[str, Any]] = {
    TRUST_UPDATE: {"roles": {"admin": 1}},
    "agreement.sign": {"roles": {"eng-lead": 1, "product-owner": 1, "compliance": 1}},
    "agreement.budget": {"roles": {"product-owner": 1}},
    "checklist.signoff": {"any_of": ["compliance", "eng-lead", "product-owner", "oncall"]},
    "waiver.grant": {"any_of": ["compliance", "admin"]},
    "data.add": {"any_of": ["ml-engineer", "eng-lead", "admin"]},
    "model.register": {"any_of": ["ml-engineer", "eng-lead", "admin"]},
    "prompt.register": {"any_of": ["ml-engineer", "eng-lead", "admin"]},
    "promote.staging": {"any_of": ["ml-engineer", "releaser"]},
    "promote.production": {"any_of": ["releaser"]},
    "canary.advance": {"any_of": ["releaser", "ml-engineer"]},
    "rollback": {"any_of": ["releaser", "oncall"]},
    "lock.break": {"any_of": ["admin", "oncall"]},
    "slo.record": {"any_of": ["releaser", "oncall", "eng-lead"]},
}
DEFAULT_VALIDITY = timedelta(days=365)
