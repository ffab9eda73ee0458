"""What a release dossier tells, gathered from the same library functions as the CLI
(lineage, agreements, gate, ledger, history), never from copies of their logic."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from govctl import clock
from govctl.config import GovernedRepo
from govctl.errors import ExternalError, GovctlError
from govctl.serialize import jsonable


@dataclass
class Dossier:
    service: str
    version: str
    generated: str
    lineage: Any
    model: dict[str, Any] | None
    agreement: dict[str, Any] | None
    agreement_limits: dict[str, str]
    agreement_signatures: list[dict[str, Any]]
    gate: dict[str, Any] | None
    gate_runs: list[dict[str, Any]]
    gate_at_release: dict[str, Any] | None
    canary_steps: list[dict[str, Any]]
    entries: list[dict[str, Any]]
    audit: dict[str, Any]
    history: Any = None  # release.history.History of the service
    life: list[dict[str, Any]] = field(default_factory=list)  # this version's moves
    serving: list[dict[str, Any]] = field(default_factory=list)  # per env: now / no longer
    limits_num: dict[str, float] = field(default_factory=dict)
    tolerance: dict[str, float] = field(default_factory=dict)


def _gate_items(evidence: dict[str, Any]) -> dict[str, dict[str, str]]:
    """A gate run's items as the ledger recorded them: id -> status and reason (entries
    written before ``result_items`` hold only ``items``, id -> status)."""
    if "result_items" in evidence:
        return {r["id"]: {"status": r["status"], "reason": r["reason"]}
                for r in evidence["result_items"]}
    return {k: {"status": str(v), "reason": ""} for k, v in (evidence.get("items") or {}).items()}


def collect(repo: GovernedRepo, service: str, version: str) -> Dossier:
    from govctl import agreements, registry
    from govctl.data import lineage
    from govctl.dossier.tolerance import Tolerances
    from govctl.ledger.log import Ledger
    from govctl.release import gate, history
    from govctl.trust.policy import trusted_keys

    version = str(version)
    ledger = Ledger.for_repo(repo)
    entries = [e for e in ledger.entries(subject_prefix=f"service:{service}")
               if e.subject.get("name") == service]
    mine = [e for e in entries
            if str(e.subject.get("version", "")) == version
            or str(e.evidence.get("version", "")) == version
            or e.action.startswith("agreement.")]
    graph = registry.lineage(repo)
    mid = f"model:{service}/{version}"
    for name, pins in registry.pinned_prompts(repo).items():
        latest = max(pins, key=int)
        pid = f"prompt:{name}/{latest}"
        graph.add(lineage.Node(pid, "prompt", f"prompt {name} v{latest}", pins[latest]))
        if mid in graph.nodes:
            graph.link(pid, mid)
    keep = {mid} | graph.upstream(mid) if mid in graph.nodes else set(graph.nodes)
    _classify(repo, graph)
    try:
        model = jsonable(registry.describe_model(repo, service, version))
    except ExternalError:  # MLflow down: the ledger still tells the story
        model = None
    if model is not None:  # issue 20: the artifact manifest and release attestations
        model["attestations"] = attestation_paths(repo, service, version)
    agreement, limits, sigs = None, {}, []
    try:
        rep = agreements.verify_agreement(repo, service)
        agreement = rep.to_json()
        a = agreements.load_agreement(agreements.agreement_path(repo, service))
        limits = {k: str(v) for k, v in a.limits().items()}
        limits.update({f"quality min {k}": str(v) for k, v in a.quality_minimums().items()})
        limits["monthly budget (USD)"] = a.budget.monthly_budget_usd
        sigs = [{"signer": e.actor["name"], "time": e.time, "state": e.evidence.get("state"),
                 "version": e.subject.get("version")} for e in entries
                if e.action == "agreement.sign"]
    except GovctlError as exc:
        agreement = {"state": "unavailable", "problems": [exc.message]}
    gate_report = None
    try:
        gate_report = gate.evaluate(repo, service, version).to_json()  # records nothing
    except GovctlError as exc:
        gate_report = {"passed": False, "items": [], "error": exc.message}
    gate_runs = [{"time": e.time, "by": e.actor["name"], "env": e.evidence.get("env"),
                  "passed": e.evidence.get("passed"),
                  "items": _gate_items(e.evidence)}
                 for e in mine if e.action == "gate.evaluate"]
    # the decision that let this version through: the last passing gate run (else the last)
    passing = [r for r in gate_runs if r["passed"]]
    gate_at_release = (passing or gate_runs)[-1] if gate_runs else None
    tolerances = Tolerances(repo)
    steps = [{"time": e.time, "verdict": e.evidence.get("verdict"),
              "reason": e.evidence.get("reason"),
              "weight_pct": (e.evidence.get("weight_bps") or 0) / 100,
              "failed": e.evidence.get("failed") or [],
              "variants": (e.evidence.get("telemetry") or {}).get("variants", {}),
              **dict(zip(("tolerance", "tolerance_source"), tolerances.at(
                  e.git_commit, str(e.evidence.get("env") or "production")), strict=True))}
             for e in mine if e.action == "canary.analyze"]
    report = ledger.verify(trusted=trusted_keys(repo))
    h = history.history(repo, service)
    num = {}
    try:
        num = {k: float(v) for k, v in
               agreements.signed_agreement(repo, service).limits().items()}
    except GovctlError:
        pass
    tol = tolerances.today("production")
    return Dossier(service, version, clock.to_iso(clock.now()), graph.subgraph(keep), model,
                   agreement, limits, sigs, gate_report, gate_runs, gate_at_release, steps,
                   [e.to_json() for e in mine], report.to_json(), h,
                   history.version_events(h, version), history.version_status(h, version),
                   num, tol)


def _classify(repo: GovernedRepo, graph: Any) -> None:
    """Each data node gets its inventory classification and its role (eval = held out)."""
    from govctl.data import datasets

    try:
        inv = {e.path.strip("/"): e for e in datasets.inventory(repo)}
    except GovctlError:
        return
    for node in graph.nodes.values():
        e = inv.get(node.label.strip("/")) if node.kind == "data" else None
        if e is not None:
            node.attrs.update({"dataset": e.name, "role": e.kind, "sensitivity": e.sensitivity,
                               "pii": e.pii})


def attestation_paths(repo: GovernedRepo, service: str, version: str) -> list[str]:
    """Repo-relative paths of the version's release attestations (one per environment)."""
    folder = repo.root / "attestations" / service
    return [repo.rel(p) for p in sorted(folder.glob(f"{version}-*.intoto.json"))] \
        if folder.is_dir() else []
