"""Where a service's release stands in an environment, read from MLflow and the ledger:
the stable version (alias ``ENV``), the canary (``ENV-canary``) and its traffic share (tag
``govctl.ENV.canary_weight_bps``), the canary plan, and the versions it may roll back to.
Changes nothing; the changes are :mod:`~govctl.release.transitions`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from govctl.config import GovernedRepo
from govctl.errors import InputError
from govctl.ledger.log import Ledger

if TYPE_CHECKING:  # the policy models (pydantic) load only where a plan is read
    from govctl.policy import Policies

RELEASE_ACTIONS = ("release.promote", "canary.step", "canary.promote", "canary.rollback",
                   "canary.abort", "release.rollback")
DEFAULT_PLAN = [5, 25, 50, 100]


def canary_alias(env: str) -> str:
    return f"{env}-canary"


def weight_tag(env: str) -> str:
    return f"govctl.{env}.canary_weight_bps"


def service_subject(service: str) -> dict[str, Any]:
    return {"kind": "service", "name": service}


@dataclass
class State:
    service: str
    env: str
    stable: str | None
    canary: str | None
    weight_bps: int
    step: int | None = None
    plan: list[int] = field(default_factory=list)
    last: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"service": self.service, "env": self.env, "stable": self.stable,
                "canary": self.canary, "canary_weight_pct": self.weight_bps / 100,
                "step": self.step, "plan": self.plan, "last_decision": self.last}


def plan_for(repo: GovernedRepo, env: str, policies: Policies | None = None) -> list[int]:
    if policies is None:
        from govctl.policy import Policies

        policies = Policies.load(repo)
    plan = policies.param("GOV-CANARY-PLAN", "plan", env) or DEFAULT_PLAN
    bad = InputError(f"policy GOV-CANARY-PLAN: the {env} plan must be rising whole "
                     f"percentages ending at 100, got {plan!r}")
    if not isinstance(plan, list) or not plan:
        raise bad
    try:
        steps = [int(str(p)) for p in plan]
    except ValueError:
        raise bad from None
    if steps[-1] != 100 or any(not 0 < p <= 100 for p in steps) or steps != sorted(set(steps)):
        raise bad
    return steps


def state(repo: GovernedRepo, service: str, env: str = "production") -> State:
    from govctl.adapters import mlflowstore as ml
    from govctl.adapters.mlflowread import memo

    with memo():  # one read of the model for its aliases and tags
        aliases = ml.get_aliases(repo, service)
        tags = ml.get_model_tags(repo, service)
    st = State(service, env, aliases.get(env), aliases.get(canary_alias(env)),
               int(tags.get(weight_tag(env), "0") or 0))
    last = Ledger.for_repo(repo).last(service_subject(service), RELEASE_ACTIONS, env)
    if last is not None:
        st.last = {"action": last.action, "time": last.time, "by": last.actor["name"],
                   "note": last.note, "seq": last.seq}
        if st.canary:
            st.step = last.evidence.get("step")
            st.plan = last.evidence.get("plan") or []
    return st


def stable_history(repo: GovernedRepo, service: str, env: str) -> tuple[list[str], set[str]]:
    """The versions ENV may roll back to, oldest first, and every version ever stable there.

    A stack of stable versions from the ledger: a promotion pushes; a rollback removes the
    version rolled back from (it must not come back by a second rollback) and puts its
    target on top.
    """
    stack: list[str] = []
    ever: set[str] = set()
    for e in Ledger.for_repo(repo).moves(service_subject(service)):
        v = (e.evidence.get("aliases") or {}).get(env)
        if not v:
            continue
        v = str(v)
        ever.add(v)
        if e.action == "release.rollback" and e.evidence.get("from"):
            stack = [x for x in stack if x != str(e.evidence["from"])]
        stack = [x for x in stack if x != v] + [v]
    return stack, ever
