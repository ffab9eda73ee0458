"""The release policy's data checks (the gate calls these): every dataset inventoried,
held-out data out of the training lineage, classifications allowed in the environment.
Each reads the inventory and the lineage from one :class:`Snapshot`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from govctl.config import GovernedRepo
from govctl.data import lineage
from govctl.data.inventory import Finding, Snapshot


def _focus(snap: Snapshot, names: Iterable[str]) -> None:
    """The lineage these checks walk: upstream of the named datasets only."""
    snap.focus(e.path for e in (snap.entry(n) for n in names) if e is not None)


def check_inventoried(repo: GovernedRepo, datasets: Iterable[str],
                      snap: Snapshot | None = None) -> list[Finding]:
    """Every dataset a model used is in the inventory and classified."""
    snap = snap or Snapshot(repo)
    out = []
    for name in datasets:
        if snap.entry(name) is None:
            out.append(Finding(name, "not-inventoried", f"{name} is not in the inventory"))
    return out


def check_leakage(repo: GovernedRepo, training: Iterable[str], evaluation: Iterable[str],
                  snap: Snapshot | None = None) -> list[Finding]:
    """Held-out data must not feed training: compared by content hash through the
    pipeline lineage (a renamed copy of the eval set is still found), looking inside
    directories by their per-file manifests (a copy of an eval file in a directory a stage
    depends on is found whatever its name)."""
    from govctl.data import manifests

    snap = snap or Snapshot(repo)
    training, evaluation = list(training), list(evaluation)
    _focus(snap, [*training, *evaluation])
    g = snap.lineage
    upstream: dict[str, tuple[str, str]] = {}  # hash -> (training set, where)
    for name in training:
        e = snap.entry(name)
        if e is None:
            continue
        upstream.setdefault(e.hash, (name, e.path))
        for h, where in manifests.content(repo, e.path, e.hash).items():
            upstream.setdefault(h, (name, where))
        for nid in sorted(g.upstream(lineage.data_id(e.path))):
            node = g.nodes[nid]
            if node.kind != "data":
                continue
            if node.hash:
                upstream.setdefault(node.hash, (name, node.label))
            for h, where in manifests.content(repo, node.label, node.hash).items():
                upstream.setdefault(h, (name, where))
    out = []
    for name in evaluation:
        e = snap.entry(name)
        if e is None:
            continue
        if e.hash in upstream:
            train, there = upstream[e.hash]
            out.append(Finding(
                name, "leakage",
                f"held-out set {name} ({e.hash[:12]}) is in the training lineage of "
                f"{train}" + ("" if there == e.path else f" as {there}")))
            continue
        for h, where in manifests.content(repo, e.path, e.hash).items():
            if h in upstream:
                train, there = upstream[h]
                out.append(Finding(
                    name, "leakage",
                    f"held-out file {where} ({h[:12]}) is in the training lineage of {train} "
                    f"as {there}"))
                break
    return out


def check_allowed(repo: GovernedRepo, datasets: Iterable[str], env: str,
                  params: dict[str, Any] | None = None,
                  snap: Snapshot | None = None) -> list[Finding]:
    """Restricted or PII-present data may not feed a release to ``env`` unless the policy
    parameters allow it: ``{"allowed_sensitivity": {...}, "allowed_pii": {...}}`` by env.

    Fails closed: an environment the parameters do not list gets production's (strictest)
    lists. Data that feeds a release's datasets through the DVC pipeline counts too: a
    restricted raw file does not become allowed by passing through a stage.
    """
    params = params or {}
    strict_sens = ["public", "internal", "confidential"]
    strict_pii = ["none", "pseudonymized"]
    sens_by_env = params.get("allowed_sensitivity") or {"production": strict_sens}
    pii_by_env = params.get("allowed_pii") or {"production": strict_pii}
    sens = sens_by_env.get(env, sens_by_env.get("production", strict_sens))
    piis = pii_by_env.get(env, pii_by_env.get("production", strict_pii))
    snap = snap or Snapshot(repo)
    datasets = list(datasets)
    _focus(snap, datasets)
    g = snap.lineage
    out = []
    seen: set[tuple[str, str]] = set()
    for name in datasets:
        e = snap.entry(name)
        if e is None:
            continue
        feeding = [(e, "")]
        for nid in sorted(g.upstream(lineage.data_id(e.path))):
            up = snap.at_path(nid[len("data:"):]) if nid.startswith("data:") else None
            if up is not None and up.name != name:
                feeding.append((up, f" (feeds {name} through the pipeline)"))
        for d, via in feeding:
            if d.sensitivity not in sens and (d.name, "sensitivity") not in seen:
                seen.add((d.name, "sensitivity"))
                out.append(Finding(d.name, "sensitivity", f"{d.name}{via} is {d.sensitivity}; "
                                   f"{env} allows {', '.join(sens)}"))
            if d.pii not in piis and (d.name, "pii") not in seen:
                seen.add((d.name, "pii"))
                out.append(Finding(d.name, "pii", f"{d.name}{via} has pii: {d.pii}; {env} "
                                   f"allows {', '.join(piis)}"))
    return out
