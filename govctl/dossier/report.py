"""The release dossier: one self-contained, offline document (HTML or Markdown) telling a
release's whole story — lineage, agreement and signers, checklist, gate, canary steps with
charts, ledger entries and whether the ledger verifies. Built from the same library
functions as the CLI (lineage, agreements, gate, ledger), never from copies of their logic.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govctl import clock
from govctl.config import GovernedRepo
from govctl.errors import ExternalError, GovctlError, InputError
from govctl.fsutil import atomic_write


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
    from govctl.ledger.log import Ledger
    from govctl.release import gate
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
    try:
        model = registry.model_version_info(repo, service, version)
    except ExternalError:  # MLflow down: the ledger still tells the story
        model = None
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
        gate_report = gate.evaluate(repo, service, version).to_json()
    except GovctlError as exc:
        gate_report = {"passed": False, "items": [], "error": exc.message}
    gate_runs = [{"time": e.time, "by": e.actor["name"], "env": e.evidence.get("env"),
                  "passed": e.evidence.get("passed"),
                  "items": _gate_items(e.evidence)}
                 for e in mine if e.action == "gate.evaluate"]
    # the decision that let this version through: the last passing gate run (else the last)
    passing = [r for r in gate_runs if r["passed"]]
    gate_at_release = (passing or gate_runs or [None])[-1]
    steps = [{"time": e.time, "verdict": e.evidence.get("verdict"),
              "reason": e.evidence.get("reason"),
              "weight_pct": (e.evidence.get("weight_bps") or 0) / 100,
              "variants": (e.evidence.get("telemetry") or {}).get("variants", {})}
             for e in mine if e.action == "canary.analyze"]
    report = ledger.verify(trusted=trusted_keys(repo))
    return Dossier(service, version, clock.to_iso(clock.now()), graph.subgraph(keep), model,
                   agreement, limits, sigs, gate_report, gate_runs, gate_at_release, steps,
                   [e.to_json() for e in mine], report.to_json())


# --- SVG ------------------------------------------------------------------------------------


def lineage_svg(g: Any) -> str:
    depth: dict[str, int] = {}

    def d(n: str, seen: frozenset = frozenset()) -> int:
        if n in depth:
            return depth[n]
        parents = [a for a, b in g.edges if b == n and a not in seen]
        depth[n] = 0 if not parents else 1 + max(d(p, seen | {n}) for p in parents)
        return depth[n]

    for n in g.nodes:
        d(n)
    cols: dict[int, list[str]] = {}
    for n in sorted(g.nodes):
        cols.setdefault(depth[n], []).append(n)
    w, h, gx, gy = 190, 44, 60, 18
    pos = {n: (20 + c * (w + gx), 20 + i * (h + gy)) for c, ns in cols.items()
           for i, n in enumerate(ns)}
    width = 40 + (max(cols) + 1 if cols else 1) * (w + gx)
    height = 40 + max((len(v) for v in cols.values()), default=1) * (h + gy)
    colors = {"data": "#e8f1fb", "stage": "#fff4dd", "model": "#e7f7ea", "prompt": "#f3e9fb"}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
           'aria-label="lineage graph"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" '
           'refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
           '<path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>']
    for a, b in sorted(g.edges):
        (x1, y1), (x2, y2) = pos[a], pos[b]
        out.append(f'<line x1="{x1 + w}" y1="{y1 + h / 2}" x2="{x2}" y2="{y2 + h / 2}" '
                   'stroke="#555" marker-end="url(#arrow)"/>')
    for nid, node in sorted(g.nodes.items()):
        x, y = pos[nid]
        label = html.escape(node.label[:28])
        sub = html.escape((node.hash or node.kind)[:16])
        out.append(f'<g class="node {node.kind}"><rect x="{x}" y="{y}" width="{w}" height="{h}" '
                   f'rx="6" fill="{colors.get(node.kind, "#eee")}" stroke="#888"/>'
                   f'<text x="{x + 8}" y="{y + 18}" font-size="12">{label}</text>'
                   f'<text x="{x + 8}" y="{y + 34}" font-size="10" fill="#666">{sub}</text></g>')
    out.append("</svg>")
    return "".join(out)


def latency_svg(step: dict[str, Any]) -> str:
    """Latency distribution per variant: p5–p95 bar, p25–p75 box, p50 tick, p99 dot."""
    variants = [(k, v) for k, v in step["variants"].items() if v.get("n")]
    if not variants:
        return ""
    variants = [(k, {**v, "latency_ms": {p: float(x) for p, x in v["latency_ms"].items()}})
                for k, v in variants]
    top = max(v["latency_ms"]["p99"] for _, v in variants) or 1
    width, row = 520, 34
    scale = (width - 140) / top
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart latency" width="{width}" '
           f'height="{row * len(variants) + 24}" role="img" aria-label="latency distribution">']
    for i, (name, v) in enumerate(variants):
        q = v["latency_ms"]
        y = 8 + i * row
        color = "#4a7fc1" if name == "baseline" else "#d9822b"
        out.append(f'<text x="0" y="{y + 15}" font-size="11">{name} (n={v["n"]})</text>'
                   f'<line x1="{130 + q["p5"] * scale}" x2="{130 + q["p95"] * scale}" '
                   f'y1="{y + 11}" y2="{y + 11}" stroke="{color}" stroke-width="2"/>'
                   f'<rect x="{130 + q["p25"] * scale}" y="{y + 3}" '
                   f'width="{max(1, (q["p75"] - q["p25"]) * scale)}" height="16" '
                   f'fill="{color}" opacity="0.5"/>'
                   f'<line x1="{130 + q["p50"] * scale}" x2="{130 + q["p50"] * scale}" '
                   f'y1="{y}" y2="{y + 22}" stroke="#222" stroke-width="2"/>'
                   f'<circle cx="{130 + q["p99"] * scale}" cy="{y + 11}" r="3" fill="{color}"/>')
    out.append(f'<text x="130" y="{row * len(variants) + 20}" font-size="10" fill="#666">0 ms'
               f'</text><text x="{width - 60}" y="{row * len(variants) + 20}" font-size="10" '
               f'fill="#666">{top:.0f} ms</text></svg>')
    return "".join(out)


def bars_svg(step: dict[str, Any], key: str, label: str) -> str:
    variants = [(k, v) for k, v in step["variants"].items() if v.get("n")]
    vals = [(k, float(v.get(key) or 0)) for k, v in variants]
    if not vals:
        return ""
    top = max(x for _, x in vals) or 1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {key}" width="260" '
           f'height="{26 * len(vals) + 8}" role="img" aria-label="{html.escape(label)}">']
    for i, (name, x) in enumerate(vals):
        color = "#4a7fc1" if name == "baseline" else "#d9822b"
        out.append(f'<text x="0" y="{18 + i * 26}" font-size="11">{name}</text>'
                   f'<rect x="70" y="{6 + i * 26}" width="{max(1, 120 * x / top)}" height="16" '
                   f'fill="{color}"/><text x="{76 + 120 * x / top}" y="{18 + i * 26}" '
                   f'font-size="10">{x:.4g}</text>')
    out.append("</svg>")
    return "".join(out)


# --- rendering -----------------------------------------------------------------------------

CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{margin-bottom:0}h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:2em}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 8px;
text-align:left;vertical-align:top;font-size:13px}th{background:#f6f6f6}
.pass,.ok{color:#1a7f37}.fail,.bad{color:#c62828}.pending,.inconclusive{color:#a15c00}
.waived{color:#1b6b93}.small{color:#666;font-size:12px}.charts{display:flex;gap:24px;
flex-wrap:wrap}"""


def _table(cols: list[str], rows: list[list[Any]], cls: list[str | None] | None = None) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for i, r in enumerate(rows):
        c = f' class="{cls[i]}"' if cls and cls[i] else ""
        body.append(f"<tr{c}>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def render_html(d: Dossier) -> str:
    a = d.audit
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>Release dossier: {html.escape(d.service)} v{d.version}</title>"
             f"<style>{CSS}</style></head><body>",
             f"<h1>Release dossier: {html.escape(d.service)} v{html.escape(d.version)}</h1>",
             f"<p class='small'>generated {d.generated} by govctl from the governed repo, "
             "MLflow and the ledger</p>"]
    parts.append("<section id='lineage'><h2>Lineage</h2><p>From raw data through the DVC "
                 "pipeline and pinned prompts to this model version.</p>"
                 + lineage_svg(d.lineage) + "</section>")
    m = d.model or {}
    parts.append("<section id='model'><h2>Model version</h2>" + _table(
        ["field", "value"], _model_rows(m)) + "</section>")
    ag = d.agreement or {}
    parts.append("<section id='agreement'><h2>Agreement</h2>"
                 f"<p>state: <b class='{'ok' if ag.get('ok') else 'bad'}'>"
                 f"{html.escape(str(ag.get('state')))}</b>, version {ag.get('version')}, "
                 f"expires {ag.get('expires')}</p>"
                 + _table(["limit", "value"], [[k, v] for k, v in d.agreement_limits.items()])
                 + _table(["signer", "signed at", "document version", "state after"],
                          [[s["signer"], s["time"], s["version"], s["state"]]
                           for s in d.agreement_signatures]) + "</section>")
    g = d.gate or {}
    items = g.get("items", [])
    rel = d.gate_at_release
    if rel:
        rel_items = list(rel["items"].items())
        at_release = (f"<p>at release ({html.escape(rel['time'])}, {html.escape(rel['by'])}, "
                      f"{html.escape(str(rel['env']))}, as the signed ledger recorded it): "
                      f"<b class='{'ok' if rel['passed'] else 'bad'}'>"
                      f"{'passed' if rel['passed'] else 'blocked'}</b></p>"
                      + _table(["item", "status", "evidence"],
                               [[k, v["status"], v["reason"]] for k, v in rel_items],
                               [v["status"] for _k, v in rel_items]))
    else:
        at_release = "<p>no gate decision recorded for this version</p>"
    parts.append("<section id='checklist'><h2>Checklist</h2>" + at_release
                 + "<h3>Evaluated now</h3>"
                 f"<p>evaluated when this dossier was written: "
                 f"<b class='{'ok' if g.get('passed') else 'bad'}'>"
                 f"{'passes' if g.get('passed') else 'blocked'}</b></p>"
                 + _table(["item", "kind", "severity", "status", "evidence"],
                          [[i["id"], i["kind"], i["severity"], i["status"], i["reason"]]
                           for i in items], [i["status"] for i in items]) + "</section>")
    parts.append("<section id='gate'><h2>Gate decisions</h2>" + _table(
        ["time", "by", "env", "result", "items not passing"],
        [[r["time"], r["by"], r["env"], "passed" if r["passed"] else "blocked",
          ", ".join(k for k, v in r["items"].items()
                    if v["status"] not in ("pass", "waived")) or "-"]
         for r in d.gate_runs]) + "</section>")
    canary = ["<section id='canary'><h2>Canary steps</h2>"]
    if not d.canary_steps:
        canary.append("<p>no canary analysis recorded for this version</p>")
    for i, s in enumerate(d.canary_steps, 1):
        canary.append(f"<div class='step'><h3>Step {i}: {s['weight_pct']:g}% — "
                      f"<span class='{s['verdict']}'>{s['verdict']}</span></h3>"
                      f"<p class='small'>{html.escape(s['time'])}: "
                      f"{html.escape(str(s['reason']))}</p><div class='charts'>"
                      + latency_svg(s) + bars_svg(s, "error_rate", "error rate")
                      + bars_svg(s, "cost_per_request_usd", "cost per request (USD)")
                      + "</div></div>")
    canary.append("</section>")
    parts.append("".join(canary))
    parts.append("<section id='ledger'><h2>Ledger</h2>"
                 f"<p>verification: <b class='{'ok' if a['ok'] else 'bad'}'>"
                 f"{'intact' if a['ok'] else 'BROKEN'}</b> — {a['entries']} entries, root "
                 f"{a['root']}, {a['signatures_checked']} signatures checked"
                 + (f"; first bad entry {a['first_bad_entry']}" if not a["ok"] else "")
                 + "</p>" + _table(["#", "time", "action", "phase", "actor", "note"],
                                   [[e["seq"], e["time"], e["action"], e["phase"],
                                     e["actor"]["name"], e.get("note") or ""]
                                    for e in d.entries]) + "</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _md_table(cols: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def _md_release_gate(d: Dossier) -> list[str]:
    rel = d.gate_at_release
    if not rel:
        return ["no gate decision recorded for this version", ""]
    return [f"at release ({rel['time']}, {rel['by']}, {rel['env']}, as the signed ledger "
            f"recorded it): **{'passed' if rel['passed'] else 'blocked'}**", "",
            _md_table(["item", "status", "evidence"],
                      [[k, v["status"], v["reason"]] for k, v in rel["items"].items()]), ""]


def _model_rows(m: dict[str, Any]) -> list[list[Any]]:
    return [["run", m.get("run_id")], ["git commit", m.get("git_commit")],
            ["registered by", m.get("registered_by")],
            ["aliases", ", ".join(m.get("aliases", []))],
            *[[f"metric {k}", v] for k, v in sorted((m.get("metrics") or {}).items())],
            *[[f"dataset ({x['role']})", f"{x['name']} {x.get('md5') or ''}"]
              for x in m.get("datasets", [])]]


def render_markdown(d: Dossier) -> str:
    from govctl.data import lineage

    g = d.gate or {}
    ag = d.agreement or {}
    out = [f"# Release dossier: {d.service} v{d.version}", f"_generated {d.generated}_", "",
           "## Lineage", "", "```mermaid", lineage.render_mermaid(d.lineage), "```", "",
           "## Model version", "",
           _md_table(["field", "value"], _model_rows(d.model or {})) if d.model
           else "MLflow was unreachable when this dossier was written", "",
           "## Agreement", f"state **{ag.get('state')}**, version {ag.get('version')}, "
           f"expires {ag.get('expires')}", "",
           _md_table(["limit", "value"], [[k, v] for k, v in d.agreement_limits.items()]), "",
           _md_table(["signer", "signed at", "state after"],
                     [[s["signer"], s["time"], s["state"]] for s in d.agreement_signatures]), "",
           "## Checklist", *_md_release_gate(d),
           f"evaluated when this dossier was written: "
           f"**{'passes' if g.get('passed') else 'blocked'}**", "",
           _md_table(["item", "status", "evidence"],
                     [[i["id"], i["status"], i["reason"]] for i in g.get("items", [])]), "",
           "## Gate decisions", "",
           _md_table(["time", "by", "env", "result"],
                     [[r["time"], r["by"], r["env"], "passed" if r["passed"] else "blocked"]
                      for r in d.gate_runs]), "", "## Canary steps", ""]
    for i, s in enumerate(d.canary_steps, 1):
        out.append(f"### Step {i}: {s['weight_pct']:g}% — {s['verdict']}")
        out.append(str(s["reason"]))
        out.append("")
        out.append(_md_table(["variant", "n", "p50 ms", "p95 ms", "error rate", "cost/request"],
                             [[k, v.get("n"), v.get("latency_ms", {}).get("p50"),
                               v.get("latency_ms", {}).get("p95"), v.get("error_rate"),
                               v.get("cost_per_request_usd")]
                              for k, v in s["variants"].items() if v.get("n")]))
        out.append("")
    a = d.audit
    out += ["## Ledger", f"verification: **{'intact' if a['ok'] else 'BROKEN'}**, "
            f"{a['entries']} entries, root `{a['root']}`", "",
            _md_table(["#", "time", "action", "phase", "actor", "note"],
                      [[e["seq"], e["time"], e["action"], e["phase"], e["actor"]["name"],
                        e.get("note") or ""] for e in d.entries]), ""]
    return "\n".join(out)


def write_report(repo: GovernedRepo, service: str, version: str, out: Path) -> Path:
    out = Path(out)
    if out.suffix not in (".html", ".md"):
        raise InputError(f"--out {out}: use a .html or .md file name")
    d = collect(repo, service, version)
    atomic_write(out, render_html(d) if out.suffix == ".html" else render_markdown(d))
    return out
