"""The dossier as Markdown (lineage as a Mermaid block), for review in a pull request."""

from __future__ import annotations

from typing import Any

from govctl.dossier import svg, words
from govctl.dossier.collect import Dossier
from govctl.dossier.render import banner_lines, history_words, life_rows, model_rows


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
                      [[f"{words.item_title(k)} ({k})", f"{v['status']} ({words.status(v['status'])})",
                        v["reason"]] for k, v in rel["items"].items()]), ""]


def render_markdown(d: Dossier) -> str:
    from govctl.data import lineage

    g = d.gate or {}
    ag = d.agreement or {}
    out = [f"# Release dossier: {d.service} v{d.version}", f"_generated {d.generated}_", "",
           *[f"> **{t}**" for _k, t in banner_lines(d)], "",
           "## Life of this version", "",
           _md_table(["time", "what happened", "by", "why / evidence", "entry"], life_rows(d)),
           "", "## Lineage", "", "```mermaid", lineage.render_mermaid(d.lineage), "```", "",
           "## Model version", "",
           _md_table(["field", "value"], model_rows(d.model or {})) if d.model
           else "MLflow was unreachable when this dossier was written", "",
           "## Agreement", f"state **{words.agreement_state(ag.get('state'))}** "
           f"(`{ag.get('state')}`), version {ag.get('version')}, "
           f"expires {ag.get('expires')}", "",
           _md_table(["limit", "value"], [[f"{words.metric(k)[0]} (`{k}`): {words.metric(k)[1]}",
                                           words.number(v)]
                                          for k, v in d.agreement_limits.items()]), "",
           _md_table(["signer", "signed at", "agreement after"],
                     [[s["signer"], s["time"], words.agreement_state(s["state"])]
                      for s in d.agreement_signatures]), "",
           "## Checklist", *_md_release_gate(d),
           f"evaluated when this dossier was written: "
           f"**{'passes' if g.get('passed') else 'blocked'}**", "",
           _md_table(["item", "status", "evidence"],
                     [[f"{words.item_title(i['id'])} ({i['id']})",
                       f"{i['status']} ({words.status(i['status'])})", i["reason"]]
                      for i in g.get("items", [])]), "",
           "## Gate decisions", "",
           _md_table(["time", "by", "env", "result"],
                     [[r["time"], r["by"], r["env"], "passed" if r["passed"] else "blocked"]
                      for r in d.gate_runs]), "", "## Canary steps", ""]
    for i, s in enumerate(d.canary_steps, 1):
        out.append(f"### Step {i}: {s['weight_pct']:g}% — {s['verdict']}")
        out.append(str(s["reason"]))
        out.append("")
        out.append(_md_table(["variant", "requests", "p50", "p95", "error rate",
                              "cost per 1k requests"],
                             [[{"baseline": "stable"}.get(k, k), v.get("n"),
                               svg.ms(float(v.get("latency_ms", {}).get("p50") or 0)),
                               svg.ms(float(v.get("latency_ms", {}).get("p95") or 0)),
                               svg.pct(float(v.get("error_rate") or 0)),
                               f"${float(v.get('cost_per_request_usd') or 0) * 1000:.4f}"]
                              for k, v in s["variants"].items() if v.get("n")]))
        out.append("")
    h = d.history
    out += ["## Service timeline", ""]
    for c in (h.changes if h else []):
        out.append(f"- {c.time} {c.env}: {history_words(c.action)} by {c.by} — stable "
                   f"{'v' + c.stable if c.stable else '-'}, canary "
                   f"{'v' + c.canary if c.canary else '-'}" + (f" ({c.why})" if c.why else ""))
    out.append("")
    a = d.audit
    out += ["## Ledger", f"verification: **{'intact' if a['ok'] else 'BROKEN'}**, "
            f"{a['entries']} entries, root `{a['root']}`", "",
            _md_table(["#", "time", "action", "phase", "actor", "note"],
                      [[e["seq"], e["time"], e["action"], e["phase"], e["actor"]["name"],
                        e.get("note") or ""] for e in d.entries]), ""]
    return "\n".join(out)


