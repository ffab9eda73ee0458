"""The trust policy: who may sign and act, k-of-n thresholds, versions signed by admins.

Modelled on TUF's root; every other package asks it who a key belongs to, and
:func:`authorize` is the one function deciding whether a key may act."""

from govctl.trust.adopt import amend, create, sign_policy
from govctl.trust.authz import Actor, allowed_roles, authorize, requirement_for
from govctl.trust.changes import (
    Former,
    add_signer,
    dead_signature,
    former_signers,
    known_roles,
    remove_signer,
    renew,
)
from govctl.trust.policy import (
    TrustReport,
    changed_fields,
    history,
    load_verified,
    policy_digest,
    read_current,
    root_digest,
    trusted_keys,
    verify,
)
from govctl.trust.schema import (
    DEFAULT_REQUIREMENTS,
    DEFAULT_VALIDITY,
    ROLE_RE,
    ROLES,
    SCHEMA,
    TRUST_UPDATE,
    Requirement,
    Signer,
    TrustPolicy,
)
from govctl.trust.threshold import ThresholdResult, evaluate, may_act

__all__ = [
    "DEFAULT_REQUIREMENTS", "DEFAULT_VALIDITY", "ROLE_RE", "ROLES", "SCHEMA", "TRUST_UPDATE",
    "Actor", "Former", "Requirement", "Signer", "ThresholdResult", "TrustPolicy", "TrustReport",
    "add_signer", "allowed_roles", "amend", "authorize", "changed_fields", "create",
    "dead_signature", "evaluate", "former_signers", "history", "known_roles", "load_verified",
    "may_act", "policy_digest", "read_current", "remove_signer", "renew", "requirement_for",
    "root_digest", "sign_policy", "trusted_keys", "verify",
]
