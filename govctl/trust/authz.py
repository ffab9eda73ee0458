"""The one authorization path: :func:`authorize` decides whether a key may perform an
action, for every state change govctl makes (aliases, promote, canary steps and abort,
rollback, agreement signing, sign-offs, waivers, trust changes, data and registrations).

Library entry points call it themselves, before anything is written; the CLI holds no
authorization logic. A key is allowed when it belongs to a signer of the verified trust
policy, that signer is unexpired at the time of the action, and it holds a role the
action's requirement names (or, for a checklist sign-off, the item's role).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from govctl import clock
from govctl.config import GovernedRepo
from govctl.errors import CheckFailed
from govctl.signing.keys import SigningKey
from govctl.trust.policy import DEFAULT_REQUIREMENTS, Requirement, TrustPolicy, load_verified

#: Actions added after a repo's trust policy was written: the default requirement applies
#: until the admins adopt one of their own (never a free pass: an unknown action is refused).
LATER_DEFAULTS: dict[str, dict[str, Any]] = {
    "model.alias": {"any_of": ["ml-engineer", "eng-lead", "admin"]},
    "data.remove": {"any_of": ["ml-engineer", "eng-lead", "admin"]},
    "lock.break": {"any_of": ["admin", "oncall"]},
}


@dataclass(frozen=True)
class Actor:
    """The signer a key belongs to, as the trust policy names it."""

    name: str
    key_id: str
    roles: tuple[str, ...]
    trust_version: int
    action: str
    subject: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.name} (trust version {self.trust_version})"


def requirement_for(policy: TrustPolicy, action: str) -> Requirement:
    """The policy's requirement for ``action``; for actions newer than the policy, the
    built-in default. Unknown actions raise (fail closed)."""
    if action in policy.requirements:
        return policy.requirements[action]
    default = LATER_DEFAULTS.get(action) or DEFAULT_REQUIREMENTS.get(action)
    if default is not None and action not in policy.requirements:
        return Requirement.model_validate(default)
    return policy.requirement(action)  # raises InputError naming the action


def allowed_roles(policy: TrustPolicy, action: str) -> set[str]:
    req = requirement_for(policy, action)
    return set(req.any_of) | set(req.roles)


def authorize(
    repo_or_policy: GovernedRepo | TrustPolicy,
    action: str | Sequence[str],
    key: SigningKey,
    subject: dict[str, Any] | None = None,
    *,
    role: str | None = None,
    at: datetime | None = None,
) -> Actor:
    """The signer ``key`` belongs to if it may perform ``action`` now; else raise
    :class:`CheckFailed` (exit 1) naming the signer, its roles and what was needed.

    ``action`` may list several actions: holding a role any of them allows is enough
    (agreement signing covers ``agreement.sign`` and ``agreement.budget``). ``role``
    narrows the check to one role (a checklist item's). A repo is verified first (the
    whole trust chain; an expired policy fails closed).
    """
    at = at or clock.now()
    policy = (repo_or_policy if isinstance(repo_or_policy, TrustPolicy)
              else load_verified(repo_or_policy, at=at))
    actions = [action] if isinstance(action, str) else list(action)
    what = " / ".join(actions)
    signer = policy.signer_by_key(key.key_id)
    if signer is None:
        raise CheckFailed(
            f"key {key.name!r} ({key.key_id[:16]}...) is not a signer in trust policy "
            f"version {policy.version}; nothing was changed",
            hint="an admin adds it with 'govctl trust add NAME --role ROLE --key ADMIN'",
        )
    if not signer.active(at):
        raise CheckFailed(
            f"{signer.name}'s key expired {signer.valid_until} (trust version "
            f"{policy.version}); an expired signer may not {what}; nothing was changed",
            hint="an admin renews it with 'govctl trust add NAME --role ROLE "
            "--valid-until DATE'",
        )
    if role is not None:
        allowed = {role}
    else:
        allowed = set()
        for a in actions:
            allowed |= allowed_roles(policy, a)
    if not allowed & set(signer.roles):
        raise CheckFailed(
            f"{signer.name} (roles: {', '.join(signer.roles)}) may not {what}: it needs "
            f"{'the ' + role + ' role' if role else 'one of ' + ', '.join(sorted(allowed))}; "
            "nothing was changed"
        )
    return Actor(signer.name, signer.key_id, tuple(signer.roles), policy.version,
                 actions[0], dict(subject or {}))
