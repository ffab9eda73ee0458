"""The gate: is this model version, with its prompts, data and agreement, ready for this
environment? Automatic evidence checks plus signed sign-offs and waivers, each result
explained with its evidence, recorded in the ledger with the digests it relied on.

An automatic item whose evidence check is unknown fails closed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from govctl import clock, trust
from govctl.config import GovernedRepo
from govctl.context import Context, use
from govctl.errors import ExternalError, GovctlError
from govctl.policy import Policies
from govctl.release import checklists, waivers
from govctl.release.gate_report import OK_STATUSES, GateReport, ItemResult  # noqa: F401
from govctl.signing.canonical import digest

if TYPE_CHECKING:
    from govctl.data.inventory import Snapshot
    from govctl.registry.reads import VersionInfo


@dataclass
class Check:
    passed: bool
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)
    applicable: bool = True  # False: the item does not apply here (status "n/a")


@dataclass
class Release:
    """What the checks judge: one version for one environment, with the command's
    :class:`~govctl.context.Context` (trust policy, policies, inventory, lineage)."""

    repo: GovernedRepo
    service: str
    version: str
    env: str
    checklist: checklists.ReleaseChecklist
    cmd: Context

    @property
    def at(self) -> datetime:
        return self.cmd.at

    @property
    def policies(self) -> Policies:
        return self.cmd.policies

    @property
    def trust_policy(self) -> trust.TrustPolicy:
        return self.cmd.trust_policy

    @property
    def data(self) -> Snapshot:
        """The command's inventory and lineage, the lineage narrowed to this model's
        datasets (the gate's cost does not grow with the inventory)."""
        snap = self.cmd.data
        snap.focus(e.path for e in map(snap.entry, self.dataset_names()) if e is not None)
        return snap

    @cached_property
    def model(self) -> VersionInfo:
        from govctl import registry

        return registry.describe_model(self.repo, self.service, self.version)

    @cached_property
    def aliases(self) -> dict[str, str]:
        from govctl.adapters import mlflowstore

        return mlflowstore.get_aliases(self.repo, self.service)

    def dataset_names(self, roles: set[str] | None = None) -> list[str]:
        return [d["name"] for d in self.model.datasets if roles is None or d["role"] in roles]


CHECKS: dict[str, Callable[[Release], Check]] = {}


def check(check_id: str) -> Callable[[Callable[[Release], Check]], Callable[[Release], Check]]:
    def deco(fn: Callable[[Release], Check]) -> Callable[[Release], Check]:
        CHECKS[check_id] = fn
        return fn
    return deco


@check("agreement.signed")
def _agreement(ctx: Release) -> Check:
    from govctl import agreements

    rep = agreements.verify_agreement(ctx.repo, ctx.service, at=ctx.at, policy=ctx.trust_policy)
    ev = {"digest": rep.digest, "state": rep.state, "signers": rep.signers,
          "expires": rep.expires}
    if not rep.ok:
        return Check(False, f"agreement {rep.state}: {'; '.join(rep.problems)}", ev)
    if not rep.in_force:
        return Check(False, f"agreement not in force ({'; '.join(rep.notes)})", ev)
    signed = "; ".join(f"{r}: {', '.join(n)}" for r, n in rep.signers.items())
    return Check(True, f"agreement v{rep.version} fully signed ({signed}), expires {rep.expires}",
                 ev)


@check("data.inventoried")
def _inventoried(ctx: Release) -> Check:
    from govctl.data import datasets

    names = ctx.dataset_names()
    if not names:
        return Check(False, "the model version records no datasets")
    missing = [f.dataset for f in datasets.check_inventoried(ctx.repo, names, ctx.data)]
    missing += [d["name"] for d in ctx.model.datasets if not d.get("inventoried", True)
                and d["name"] not in missing]
    ev = {"datasets": {d["name"]: d.get("md5") for d in ctx.model.datasets}}
    if missing:
        return Check(False, f"not inventoried: {', '.join(sorted(set(missing)))}", ev)
    return Check(True, f"{len(names)} dataset(s) inventoried and classified: {', '.join(names)}",
                 ev)


@check("data.verified")
def _verified(ctx: Release) -> Check:
    from govctl.data import datasets

    problems = []
    snap = ctx.data
    for name in ctx.dataset_names():
        if snap.entry(name) is not None:
            problems += [str(f) for f in datasets.verify(ctx.repo, name, snap=snap)]
    recorded: dict[str, str | None] = {d["name"]: d.get("md5") for d in ctx.model.datasets}
    for e in (x for x in map(snap.entry, recorded) if x is not None):
        trained = recorded[e.name]
        if trained and trained != e.hash:
            problems.append(f"{e.name}: the model was trained on {trained[:12]} but the "
                            f"inventory now holds {e.hash[:12]}")
    if problems:
        return Check(False, "; ".join(problems), {"problems": problems})
    return Check(True, "every dataset's bytes match its recorded DVC hash", {"datasets": recorded})


@check("data.pushed")
def _pushed(ctx: Release) -> Check:
    from govctl.data import datasets

    required = bool(ctx.policies.param("GOV-DATA-REMOTE", "required", ctx.env, default=False))
    remote, found = datasets.check_pushed(ctx.repo, ctx.dataset_names(), ctx.data)
    if remote is None:
        if required:
            return Check(False, f"policy GOV-DATA-REMOTE requires a DVC remote for {ctx.env}; "
                         "none is configured (dvc remote add -d NAME URL)")
        return Check(True, "not applicable: no DVC remote is configured (single-machine "
                     "mode) and policy GOV-DATA-REMOTE does not require one here",
                     applicable=False)
    if found:
        return Check(False, "; ".join(f.message for f in found), {"remote": remote})
    return Check(True, f"every dataset is in DVC remote {remote!r}", {"remote": remote})


@check("data.eval-disjoint")
def _disjoint(ctx: Release) -> Check:
    from govctl.data import datasets

    train = ctx.dataset_names({"train", "raw", "retrieval"})
    held = ctx.dataset_names({"eval", "test"})
    if not held:
        return Check(False, "the model version records no eval or test dataset")
    found = datasets.check_leakage(ctx.repo, train, held, ctx.data)
    if found:
        return Check(False, "; ".join(f.message for f in found))
    return Check(True, f"held-out {', '.join(held)} not in the lineage of {', '.join(train)}",
                 {"train": train, "held_out": held})


@check("data.allowed")
def _allowed(ctx: Release) -> Check:
    from govctl.data import datasets

    rule = "GOV-DATA-ALLOWED"
    params = {k: ctx.policies.param(rule, k) for k in ("allowed_sensitivity", "allowed_pii")}
    # not in force in this environment: the built-in (strictest) lists apply
    params = {k: v for k, v in params.items() if v and ctx.policies.applies(rule, ctx.env)}
    found = datasets.check_allowed(ctx.repo, ctx.dataset_names(), ctx.env, params,
                                   ctx.data)
    if found:
        return Check(False, "; ".join(f.message for f in found), {"rule": rule})
    return Check(True, f"every dataset is allowed in {ctx.env} ({rule})", {"rule": rule})


@check("eval.metrics")
def _metrics(ctx: Release) -> Check:
    from decimal import Decimal

    from govctl import agreements, registry

    agreement = agreements.load_agreement(agreements.agreement_path(ctx.repo, ctx.service))
    metrics = ctx.model.metrics
    problems, lines = [], []
    for name, minimum in agreement.quality_minimums().items():
        value = metrics.get(name)
        if value is None:
            problems.append(f"{name}: not logged on run {ctx.model.run_id} "
                            f"(must be >= {minimum})")
        elif Decimal(str(value)) < minimum:
            problems.append(f"{name}: {value} is below the agreement's minimum {minimum}")
        else:
            lines.append(f"{name} {value} >= {minimum}")
    stable = ctx.aliases.get(ctx.env)
    baseline = None
    if stable and stable != ctx.version:
        baseline = registry.describe_model(ctx.repo, ctx.service, stable).metrics
        for name, tol in agreement.max_regression().items():
            cur, base = metrics.get(name), baseline.get(name)
            if cur is None or base is None:
                continue
            if Decimal(str(cur)) < Decimal(str(base)) - tol:
                problems.append(f"{name}: {cur} regresses more than {tol} against {ctx.env} "
                                f"v{stable} ({base})")
            else:
                lines.append(f"{name} within {tol} of v{stable} ({base})")
    ev = {"metrics": {k: str(v) for k, v in metrics.items()}, "baseline_version": stable,
          "minimums": {k: str(v) for k, v in agreement.quality_minimums().items()}}
    if problems:
        return Check(False, "; ".join(problems), ev)
    return Check(True, "; ".join(lines) or "no quality minimums", ev)


@check("prompts.pinned")
def _prompts(ctx: Release) -> Check:
    from govctl import registry

    rows = registry.prompt_status(ctx.repo)
    changed = [r.name for r in rows if r.changed]
    drift = [str(d) for d in registry.verify_prompts(ctx.repo)] if any(
        r.latest_version for r in rows) else []
    ev = {"prompts": {r.name: r.sha256 for r in rows}}
    if changed or drift:
        parts = []
        if changed:
            parts.append(f"not registered in their current form: {', '.join(changed)}")
        parts += drift
        return Check(False, "; ".join(parts), ev)
    return Check(True, f"{len(rows)} prompt(s) pinned and undrifted", ev)


@check("artifacts.integrity")
def _artifacts(ctx: Release) -> Check:
    from govctl.registry import manifests

    return Check(*manifests.gate_check(ctx.repo, ctx.service, ctx.version))


@check("release.rollback-target")
def _rollback(ctx: Release) -> Check:
    stable = ctx.aliases.get(ctx.env)
    if stable and stable != ctx.version:
        return Check(True, f"{ctx.env} is v{stable}: the rollback target", {"stable": stable})
    if ctx.checklist.first_release:
        return Check(True, "first release (declared in the release checklist)",
                     {"first_release": True})
    return Check(False, f"no {ctx.env} version to roll back to and the checklist does not "
                 "declare a first release (checklist new --first-release)")


def evaluate(repo: GovernedRepo, service: str, version: str, env: str = "production", *,
             at: datetime | None = None, ctx: Context | None = None) -> GateReport:
    """Run every automatic check and read every sign-off and waiver. Records nothing."""
    from govctl.adapters.mlflowread import memo

    with use(repo, ctx, at=at) as cmd, memo():  # a read: each question asked of MLflow once
        return _evaluate(repo, service, str(version), env, cmd)


def _evaluate(repo: GovernedRepo, service: str, version: str, env: str,
              cmd: Context) -> GateReport:
    at, policy, policies = cmd.at, cmd.trust_policy, cmd.policies
    cl = checklists.load(repo, service, version)
    ctx = Release(repo, service, version, env, cl, cmd)
    evidence = checklists.collect(repo, cl, policy, at,
                                  grant_roles=checklists.waiver_roles(policies))
    max_days = policies.number("GOV-WAIVERS", "max_days", default=30, integer=True, low=1)
    results = []
    for item in cl.items:
        ev = evidence[item.id]
        if item.kind == "automatic":
            fn = CHECKS.get(item.check or "")
            if fn is None:
                res = Check(False, f"unknown evidence check {item.check!r}: failing closed")
            else:
                try:
                    res = fn(ctx)
                except GovctlError as exc:
                    if isinstance(exc, ExternalError):  # MLflow/DVC down: the gate cannot run
                        raise
                    res = Check(False, f"{exc.message}")
            status = ("n/a" if not res.applicable else "pass") if res.passed else "fail"
            reason, details = res.reason, res.evidence
        else:
            if ev.signoffs:
                s = ev.signoffs[-1]
                status, reason = "pass", f"signed off by {s['signer']} ({item.role}) {s['time']}"
                details = {"signers": [x["signer"] for x in ev.signoffs]}
            else:
                status, reason = "pending", f"needs a sign-off by {item.role}"
                details = {}
            if ev.problems:
                details["problems"] = ev.problems
        if ev.dead:
            details["dead_signatures"] = ev.dead
        if status not in ("pass", "n/a") and not details.get("unwaivable"):
            for payload, sig_ok in ev.waivers:
                verdict = waivers.is_active(payload, at, max_days=max_days, signature_ok=sig_ok)
                if verdict.active:
                    status, reason = "waived", verdict.reason
                    details = {**details, "waiver": payload}
                    break
                details.setdefault("rejected_waivers", []).append(verdict.reason)
            if status == "fail" and ev.problems and item.kind == "automatic":
                details["problems"] = ev.problems
        severity = policies.severity(details.get("rule"), item.severity)
        results.append(ItemResult(item.id, item.kind, severity, status, reason,
                                  item.description, details))
    digests = {"checklist": digest(cl.to_doc()),
               "results": digest([r.to_json() for r in results])}
    return GateReport(service, version, env, clock.to_iso(at), results,
                      repo.rel(checklists.release_path(repo, service, version)), digests)


def run(repo: GovernedRepo, key: Any, service: str, version: str, env: str = "production", *,
        at: datetime | None = None, ctx: Context | None = None) -> GateReport:
    """Evaluate the gate, then record its result in the ledger, signed by ``key``: what
    ``govctl gate`` does. The report is returned whether it passed or not."""
    report = evaluate(repo, service, version, env, at=at, ctx=ctx)
    record(repo, key, report)
    return report


def record(repo: GovernedRepo, key: Any, report: GateReport) -> None:
    from govctl import ledger

    ledger.record(
        repo, key, "gate.evaluate",
        {"kind": "service", "name": report.service, "version": report.version},
        # every item as decided: the release record shows the gate as it was at that moment,
        # and ``result_items`` is exactly what the ``results`` digest covers, so an auditor
        # can recompute it from the ledger alone
        evidence={"env": report.env, "passed": report.passed, **report.digests,
                  "result_items": [r.to_json() for r in report.results]},
        note="passed" if report.passed else "blocked",
    )
