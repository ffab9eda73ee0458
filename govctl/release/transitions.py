"""Promotion, canary steps and rollback: state in MLflow, history in the ledger.

For an environment ENV the alias ``ENV`` names the stable version and ``ENV-canary`` the
candidate while a canary runs; the canary's traffic share is the registered-model tag
``govctl.ENV.canary_weight_bps`` (basis points), so a serving layer can route from MLflow
alone. Every transition is an intent entry, the MLflow change, then a completion entry; a
command that finds an intent without completion (a crash) finishes it first and says so.
One transition per service at a time (a lease in the ledger database).

Where a release stands (:mod:`~govctl.release.standing`) and the canary's analysis
(:mod:`~govctl.release.analysis`) live beside this module; their names are re-exported
here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from govctl import clock
from govctl.config import GovernedRepo
from govctl.context import Context, use
from govctl.errors import CheckFailed, InputError, NotFound
from govctl.ledger import leases
from govctl.ledger.log import Ledger
from govctl.policy import Policies
from govctl.release.analysis import analyze
from govctl.release.standing import (  # noqa: F401
    DEFAULT_PLAN,
    RELEASE_ACTIONS,
    State,
    canary_alias,
    plan_for,
    service_subject,
    stable_history,
    state,
    weight_tag,
)

if TYPE_CHECKING:  # and trust is imported where a change is authorized: state() needs neither
    from govctl.signing.keys import SigningKey


def _apply(repo: GovernedRepo, service: str, env: str, aliases: dict[str, str | None],
           weight_bps: int, prompt_aliases: dict[str, Any] | None = None) -> None:
    from govctl import registry
    from govctl.adapters import mlflowstore as ml
    from govctl.registry.releases import apply_prompt_aliases

    registry.apply_aliases(repo, service, aliases)
    apply_prompt_aliases(repo, prompt_aliases or {})  # the release's prompts move with it
    ml.set_model_tag(repo, service, weight_tag(env), str(weight_bps))


def _transition(repo: GovernedRepo, key: SigningKey, service: str, env: str, action: str,
                aliases: dict[str, str | None], weight_bps: int, evidence: dict[str, Any],
                note: str | None = None) -> Any:
    from govctl.adapters.gitrepo import head_commit
    from govctl.registry.releases import prompt_alias_changes

    ledger = Ledger.for_repo(repo)
    ev = {**evidence, "env": env, "aliases": aliases, "weight_bps": weight_bps}
    prompt_aliases = prompt_alias_changes(repo, service, aliases)
    if prompt_aliases:
        ev["prompt_aliases"] = prompt_aliases
    intent = ledger.intent(key, action, service_subject(service), evidence=ev,
                           git_commit=head_commit(repo.root), note=note)
    _apply(repo, service, env, aliases, weight_bps, prompt_aliases)
    crash_point("transition-applied")
    return ledger.complete(key, intent, evidence=ev, note=note)


def _intact(repo: GovernedRepo, service: str, version: str) -> None:
    """The version's artifacts are the bytes hashed at registration (else exit 4)."""
    from govctl.registry import manifests

    manifests.verify(repo, service, version)


def _attest(repo: GovernedRepo, key: SigningKey, service: str, version: str, env: str,
            entry: Any) -> str:
    from govctl.release import attestations

    return repo.rel(attestations.attest(repo, key, service, version, env, entry))


def crash_point(name: str) -> None:
    """``GOVCTL_CRASH_AT=NAME`` makes the process exit right here, as a ``kill -9`` would:
    no cleanup, no lease release (for crash-recovery tests and drills)."""
    if os.environ.get("GOVCTL_CRASH_AT") == name:
        os._exit(137)


def _need_canary(repo: GovernedRepo, ledger: Ledger, service: str, env: str) -> None:
    """Refuse before taking the lease when no canary runs and no crash left one half-done."""
    if (state(repo, service, env).canary is None
            and not ledger.open_intents(service_subject(service))):
        raise InputError(f"no canary is running for {service} in {env}")


def recover(repo: GovernedRepo, key: SigningKey, service: str) -> list[str]:
    """Finish transitions a crash left between intent and completion (idempotent)."""
    ledger = Ledger.for_repo(repo)
    done = []
    for intent in ledger.open_intents(service_subject(service)):
        ev = intent.evidence
        try:
            if "weight_bps" in ev:
                _apply(repo, service, ev.get("env", "production"), ev.get("aliases") or {},
                       int(ev["weight_bps"]), ev.get("prompt_aliases"))
            elif "aliases" in ev:
                from govctl import registry

                registry.apply_aliases(repo, service, ev["aliases"])
        except InputError as exc:
            # MLflow refuses it (a version since deleted, say): it can never be finished,
            # and must not block the commands (rollback above all) that recover first.
            ledger.abort(key, intent, note=f"could not be finished: {exc.message}")
            done.append(f"abandoned {intent.action} (ledger entry {intent.seq}) that an "
                        f"earlier command left half-done: {exc.message}")
            continue
        ledger.complete(key, intent, evidence=ev,
                        note=f"recovered: finished interrupted {intent.action} #{intent.seq}")
        done.append(f"finished {intent.action} (ledger entry {intent.seq}) that an earlier "
                     "command left half-done")
    return done


@dataclass
class Outcome:
    action: str
    state: State
    messages: list[str]
    analysis: Any = None
    gate: Any = None

    def to_json(self) -> dict[str, Any]:
        out = {"action": self.action, "state": self.state.to_json(), "messages": self.messages}
        if self.analysis is not None:
            out["analysis"] = self.analysis.to_json()
        if self.gate is not None:
            out["gate"] = self.gate.to_json()
        return out


def _promote_action(repo: GovernedRepo, env: str, policies: Policies | None = None) -> str:
    actions = (policies or Policies.load(repo)).param("GOV-PROMOTE-ROLES", "actions") or {}
    return actions.get(env, f"promote.{env}")


def promote(repo: GovernedRepo, key: SigningKey, service: str, version: str,
            env: str = "production", *, no_canary: bool = False,
            ctx: Context | None = None) -> Outcome:
    """Gate, then start the canary (or, where policy allows, make it stable at once); one
    :class:`~govctl.context.Context` serves the whole command."""
    with use(repo, ctx) as cmd:
        return _promote(repo, key, service, str(version), env, no_canary, cmd)


def _promote(repo: GovernedRepo, key: SigningKey, service: str, version: str, env: str,
             no_canary: bool, cmd: Context) -> Outcome:
    from govctl import trust
    from govctl.adapters import mlflowstore as ml
    from govctl.registry import manifests
    from govctl.release import gate

    trust.authorize(cmd.trust_policy, _promote_action(repo, env, cmd.policies), key)
    ml.ping(repo)
    ledger = Ledger.for_repo(repo)
    with leases.hold(ledger, service_subject(service), key, key.name):
        messages = recover(repo, key, service)
        if messages:  # recovery finishes, then stops: the caller decides the next step
            return Outcome("promote", state(repo, service, env), messages)
        report = gate.run(repo, key, service, version, env, ctx=cmd)
        manifests.require_intact(repo, report)  # tampered bytes: exit 4, never waived
        if not report.passed:
            blocked = [f"{r.id} ({r.status}: {r.reason})" for r in report.results
                       if r.status not in gate.OK_STATUSES]
            raise CheckFailed(f"the gate blocks {service} v{version} for {env}: "
                              + "; ".join(blocked))
        st = state(repo, service, env)
        if st.canary:
            raise InputError(f"a canary of {service} v{st.canary} is running in {env}; "
                             "advance, abort or roll it back first")
        if st.stable == version:
            raise InputError(f"{service} v{version} is already stable in {env}")
        if no_canary:
            allowed = cmd.policies.param("GOV-CANARY-PLAN", "allow_no_canary", env)
            if not allowed:
                raise CheckFailed("policy GOV-CANARY-PLAN does not allow a release without a "
                                  f"canary in {env}")
            done = _transition(repo, key, service, env, "release.promote",
                               {env: version, canary_alias(env): None}, 0,
                               {"version": version, "previous_stable": st.stable,
                                "gate": report.digests["results"]},
                               note=f"{version} promoted to {env} without canary")
            messages.append(f"{service} v{version} is now stable in {env} (no canary); "
                            f"attestation {_attest(repo, key, service, version, env, done)}")
        else:
            plan = plan_for(repo, env, cmd.policies)
            _transition(repo, key, service, env, "release.promote",
                        {canary_alias(env): version}, plan[0] * 100,
                        {"version": version, "previous_stable": st.stable, "step": 0,
                         "plan": plan, "gate": report.digests["results"]},
                        note=f"canary {version} at {plan[0]}%")
            messages.append(f"canary {service} v{version} started in {env} at {plan[0]}% "
                            f"(plan {' → '.join(map(str, plan))})")
        return Outcome("promote", state(repo, service, env), messages, gate=report)


def advance(repo: GovernedRepo, key: SigningKey, service: str, source: str,
            env: str = "production") -> Outcome:
    """Analyse; pass → next step (or make the candidate stable after the last step);
    fail → roll the canary back automatically; inconclusive → change nothing."""
    from govctl import ledger as ledger_mod
    from govctl import trust

    policy = trust.load_verified(repo)
    trust.authorize(policy, "canary.advance", key)
    ledger = Ledger.for_repo(repo)
    _need_canary(repo, ledger, service, env)  # cheap, before the lease
    with leases.hold(ledger, service_subject(service), key, key.name):
        messages = recover(repo, key, service)
        if messages:
            # Recovery finishes the interrupted step and stops: the next step needs
            # telemetry from its own window, not the one that judged the last step.
            return Outcome("advance", state(repo, service, env), messages)
        st = state(repo, service, env)
        if st.canary is None:
            raise InputError(f"no canary is running for {service} in {env}")
        result = analyze(repo, service, source, env, st=st)
        plan = st.plan or plan_for(repo, env)
        step = st.step if st.step is not None else 0
        summary = {"verdict": result.verdict, "reason": result.reason(),
                   "failed": [c.metric for c in result.failed], "step": step,
                   "weight_bps": st.weight_bps, "telemetry": result.telemetry}
        ledger_mod.record(repo, key, "canary.analyze",
                          {"kind": "service", "name": service, "version": st.canary},
                          evidence={"env": env, **summary}, note=result.verdict)
        if result.verdict == "inconclusive":
            messages.append(f"inconclusive at {st.weight_bps / 100:g}%: {result.reason()}; "
                            "nothing changed")
        elif result.verdict == "fail":
            _transition(repo, key, service, env, "canary.rollback",
                        {canary_alias(env): None}, 0,
                        {"version": st.canary, "analysis": summary},
                        note=f"automatic rollback: {result.reason()}")
            messages.append(f"canary v{st.canary} failed and was rolled back automatically: "
                            f"{result.reason()}")
        elif step + 1 < len(plan):
            _intact(repo, service, st.canary)
            nxt = plan[step + 1]
            _transition(repo, key, service, env, "canary.step", {canary_alias(env): st.canary},
                        nxt * 100, {"version": st.canary, "step": step + 1, "plan": plan,
                                    "analysis": summary},
                        note=f"canary {st.canary} at {nxt}%")
            messages.append(f"canary v{st.canary} passed at {plan[step]}%; now at {nxt}%")
        else:
            _intact(repo, service, st.canary)
            done = _transition(repo, key, service, env, "canary.promote",
                               {env: st.canary, canary_alias(env): None}, 0,
                               {"version": st.canary, "previous_stable": st.stable,
                                "plan": plan, "analysis": summary},
                               note=f"{st.canary} stable in {env}; rollback target {st.stable}")
            messages.append(f"canary v{st.canary} passed every step and is now stable in {env}"
                            + (f" (rollback target v{st.stable})" if st.stable else "")
                            + f"; attestation {_attest(repo, key, service, st.canary, env, done)}")
        return Outcome("advance", state(repo, service, env), messages, analysis=result)


def abort(repo: GovernedRepo, key: SigningKey, service: str, reason: str,
          env: str = "production") -> Outcome:
    if not reason.strip():
        raise InputError("reason must say why the canary is aborted", field="reason")
    from govctl import trust

    policy = trust.load_verified(repo)
    trust.authorize(policy, "canary.advance", key)
    ledger = Ledger.for_repo(repo)
    _need_canary(repo, ledger, service, env)
    with leases.hold(ledger, service_subject(service), key, key.name):
        messages = recover(repo, key, service)
        st = state(repo, service, env)
        if st.canary is None:
            raise InputError(f"no canary is running for {service} in {env}")
        _transition(repo, key, service, env, "canary.abort", {canary_alias(env): None}, 0,
                    {"version": st.canary, "reason": reason}, note=reason)
        messages.append(f"canary v{st.canary} aborted: {reason}")
        return Outcome("abort", state(repo, service, env), messages)


def rollback(repo: GovernedRepo, key: SigningKey, service: str, reason: str,
             env: str = "production", to_version: str | None = None) -> Outcome:
    """The emergency path: no gate, no analysis. ENV goes back to the previous stable
    version from the ledger (or ``to_version``), any canary ends; signed and logged."""
    from govctl import trust
    from govctl.adapters import mlflowstore as ml

    if not reason.strip():
        raise InputError("reason must say why you roll back", field="reason")
    policy = trust.load_verified(repo)
    trust.authorize(policy, "rollback", key)
    ledger = Ledger.for_repo(repo)
    with leases.hold(ledger, service_subject(service), key, key.name):
        messages = recover(repo, key, service)
        st = state(repo, service, env)
        if to_version is None and st.canary and st.stable:
            target = st.stable  # during a canary the emergency is the canary: end it
        elif to_version is None:
            history, _ = stable_history(repo, service, env)
            earlier = [v for v in history if v != st.stable]
            if not earlier:
                raise CheckFailed(f"the ledger has no earlier stable version of {service} in "
                                  f"{env} to roll back to (versions rolled back from do not "
                                  "count); name the version to roll back to")
            target = earlier[-1]
        else:
            target = str(to_version)
            versions = {v["version"] for v in ml.model_versions(repo, service)}
            if target not in versions:
                raise NotFound(f"{service} has no version {target}")
            history, ever = stable_history(repo, service, env)
            if target == st.stable and not st.canary:
                raise InputError(f"{service} v{target} is already stable in {env}; nothing "
                                 "was changed")
            if target not in history:
                if target in ever:
                    raise CheckFailed(
                        f"v{target} was rolled back from in {env} and is never a rollback "
                        "target again; to release it, use 'govctl promote' (gated)")
                raise CheckFailed(
                    f"v{target} was never stable in {env} (stable before: "
                    f"{', '.join(sorted(ever, key=int)) or 'none'}); a rollback only goes "
                    "back to a version that was. To release it, use 'govctl promote' (gated)")
        _intact(repo, service, target)  # never roll back onto replaced bytes
        _transition(repo, key, service, env, "release.rollback",
                    {env: target, canary_alias(env): None}, 0,
                    {"version": target, "from": st.stable, "ended_canary": st.canary,
                     "reason": reason, "time": clock.to_iso(clock.now())}, note=reason)
        messages.append(f"{service} in {env} rolled back from v{st.stable} to v{target}"
                        + (f"; canary v{st.canary} ended" if st.canary else ""))
        return Outcome("rollback", state(repo, service, env), messages)
