"""The trust policy: who may sign and act, k-of-n thresholds, versions signed by admins.

Modelled on TUF's root; every other package asks it who a key belongs to, and
:func:`authorize` is the one function deciding whether a key may act."""

from __future__ import annotations

from govctl._lazy import api

__all__ = [
    "DEFAULT_REQUIREMENTS", "DEFAULT_VALIDITY", "ROLE_RE", "ROLES", "SCHEMA", "TRUST_UPDATE",
    "Actor", "Former", "Requirement", "Signer", "ThresholdResult", "TrustPolicy", "TrustReport",
    "add_signer", "allowed_roles", "amend", "authorize", "changed_fields", "create",
    "dead_signature", "evaluate", "former_signers", "history", "known_roles", "load_verified",
    "may_act", "policy_digest", "read_current", "remove_signer", "renew", "requirement_for",
    "root_digest", "sign_policy", "trusted_keys", "verify",
]

#: the API, each name from the first of these modules that has it (imported on first use:
#: ``audit verify --fast`` reads the trust history's digest without the document model)
__getattr__ = api(__name__, ("constants", "threshold", "schema", "policy", "authz", "changes",
                             "adopt"))
