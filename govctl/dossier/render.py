"""The release dossier as one self-contained, offline HTML page (every value escaped; the
charts are inline SVG)."""

from __future__ import annotations

import html
from typing import Any

from govctl.dossier import svg, words
from govctl.dossier.collect import Dossier
from govctl.dossier.style import CSS, page_css


def _esc(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def _table(cols: list[str], rows: list[list[Any]], cls: list[str | None] | None = None,
           raw: set[int] | None = None) -> str:
    """Cells are escaped text; columns in ``raw`` hold markup this module built."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for i, r in enumerate(rows):
        c = f' class="{_css(cls[i])}"' if cls and cls[i] else ""
        body.append(f"<tr{c}>" + "".join(
            f"<td>{v if raw and j in raw else _esc(v)}</td>" for j, v in enumerate(r)) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _css(status: str | None) -> str:
    return "na" if status == "n/a" else _esc(status)


def _titled(title: str, ident: str, why: str = "") -> str:
    return (f"<b>{_esc(title)}</b> <span class='id'>{_esc(ident)}</span>"
            + (f"<br><span class='small'>{_esc(why)}</span>" if why else ""))


def banner(d: Dossier) -> str:
    return "".join(f"<p class='banner{' live' if k == 'live' else ''}' id='status-banner'>"
                   f"{_esc(t)}</p>" for k, t in banner_lines(d))


def banner_lines(d: Dossier) -> list[tuple[str, str]]:
    """Is this version serving now, and if not, since when, how and why."""
    lines = []
    for s in d.serving:
        if s["serving"]:
            lines.append(("live", f"v{d.version} is serving {s['env']} as the {s['serving']} "
                          "version now."))
        else:
            text = (f"This version is no longer in production since {s['since']}"
                    if s["env"] == "production" else
                    f"This version no longer serves {s['env']} since {s['since']}")
            text += f": {s['how']} by {s['by']}" + (f" — “{s['why']}”" if s["why"] else "")
            text += f". {s['env']} now runs v{s['now_stable']}." if s["now_stable"] else "."
            lines.append(("gone", text))
    if not lines:
        lines.append(("gone", f"v{d.version} has never served any environment."))
    return lines


def life_rows(d: Dossier) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for e in d.entries:
        what = {"model.register": "registered in MLflow",
                "checklist.signoff": f"checklist sign-off: "
                f"{words.item_title(str(e['subject'].get('item')))}",
                "gate.evaluate": f"gate {'passed' if e['evidence'].get('passed') else 'blocked'}"
                f" for {e['evidence'].get('env')}",
                "canary.analyze": f"canary analysis at "
                f"{(e['evidence'].get('weight_bps') or 0) / 100:g}%: {e['evidence'].get('verdict')}"
                }.get(e["action"])
        if what and e["phase"] in ("complete", "done"):
            rows.append([e["time"], what, e["actor"]["name"],
                         e["evidence"].get("reason") if e["action"] == "canary.analyze"
                         else e.get("note") or "", e["seq"]])
    rows += [[ev["time"], ev["what"], ev["by"], ev["why"] or "", ev["seq"]] for ev in d.life]
    return sorted(rows, key=lambda r: r[4])


def _timeline(d: Dossier) -> str:
    h = d.history
    if h is None or not h.changes:
        return "<p>no release of this service is recorded in the ledger</p>"
    out = []
    for env in h.envs():
        out.append(f"<h3>{_esc(env)}</h3>" + _table(
            ["from", "until", "stable version", "started by", "ended by"],
            [[p.start.time, p.end.time if p.end else "now", f"v{p.version}",
              f"{words_action(p.start)}", words_action(p.end) if p.end else "-"]
             for p in h.periods(env)],
            ["pass" if p.version == d.version else None for p in h.periods(env)]))
        out.append(_table(["time", "change", "stable", "canary", "by", "why", "entry"],
                          [[c.time, history_words(c.action), f"v{c.stable}" if c.stable else "-",
                            f"v{c.canary} at {c.canary_weight_pct:g}%" if c.canary else "-",
                            c.by, c.why or "", c.seq] for c in h.for_env(env)]))
    return "".join(out)


def history_words(action: str) -> str:
    from govctl.release.history import words as w

    return w(action)


def words_action(c: Any) -> str:
    return f"{history_words(c.action)} by {c.by}" + (f": {c.why}" if c.why else "")


def _checklist_rows(items: list[tuple[str, str, str, str]]) -> tuple[list[list[Any]], list]:
    """(id, description, status, evidence) -> rows with the human title beside the id."""
    rows = [[_titled(words.item_title(i), i, desc),
             f"<span class='{_css(st)}'>{_esc(st)}</span> <span class='small'>"
             f"({_esc(words.status(st))})</span>", ev] for i, desc, st, ev in items]
    return rows, [st for _i, _d, st, _e in items]


def _limit_rows(d: Dossier) -> list[list[Any]]:
    return [[_titled(*words.metric(k)[:1], k, words.metric(k)[1]), words.number(v)]
            for k, v in d.agreement_limits.items()]


def charts(d: Dossier) -> list[list[tuple[str, str]]]:
    return [svg.step_charts(s, d.limits_num, s.get("tolerance") or d.tolerance, i)
            for i, s in enumerate(d.canary_steps, 1)]


def render_html(d: Dossier) -> str:
    a = d.audit
    descs = {i["id"]: i.get("description", "") for i in (d.gate or {}).get("items", [])}
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>{_esc(d.service)} v{_esc(d.version)} — release dossier</title>"
             f"<style>{CSS}\n{page_css(d)}</style></head><body>",
             f"<h1>Release dossier: {_esc(d.service)} v{_esc(d.version)}</h1>",
             f"<p class='small'>generated {_esc(d.generated)} by govctl from the governed repo, "
             "MLflow and the signed ledger</p>", banner(d)]
    parts.append("<section id='life'><h2>Life of this version</h2><p>Everything the ledger "
                 "records about this version, registration to now.</p>"
                 + _table(["time", "what happened", "by", "why / evidence", "entry"],
                          life_rows(d)) + "</section>")
    parts.append("<section id='lineage'><h2>Lineage</h2><p>From raw data through the DVC "
                 "pipeline and pinned prompts to this model version. Each dataset shows its "
                 "classification from the inventory; the held-out evaluation set has a dashed "
                 "red border.</p><div class='lineage-wrap'>" + svg.lineage_svg(d.lineage)
                 + "</div></section>")
    m = d.model or {}
    parts.append("<section id='model'><h2>Model version</h2>" + _table(
        ["field", "value"], model_rows(m)) + "</section>")
    ag = d.agreement or {}
    parts.append("<section id='agreement'><h2>Agreement</h2>"
                 f"<p>state: <b class='{'ok' if ag.get('ok') else 'bad'}'>"
                 f"{_esc(words.agreement_state(ag.get('state')))}</b> "
                 f"<span class='id'>{_esc(ag.get('state'))}</span>, version "
                 f"{_esc(ag.get('version'))}, expires {_esc(ag.get('expires'))}</p>"
                 + _table(["limit", "value"], _limit_rows(d), raw={0})
                 + _table(["signer", "signed at", "document version", "agreement after"],
                          [[s["signer"], s["time"], s["version"],
                            words.agreement_state(s["state"])]
                           for s in d.agreement_signatures]) + "</section>")
    g = d.gate or {}
    rel = d.gate_at_release
    if rel:
        rows, cls = _checklist_rows([(k, descs.get(k, ""), v["status"], v["reason"])
                                     for k, v in rel["items"].items()])
        at_release = (f"<p>at release ({_esc(rel['time'])}, {_esc(rel['by'])}, "
                      f"{_esc(rel['env'])}, as the signed ledger recorded it): "
                      f"<b class='{'ok' if rel['passed'] else 'bad'}'>"
                      f"{'passed' if rel['passed'] else 'blocked'}</b></p>"
                      + _table(["item", "status", "evidence"], rows, cls, raw={0, 1}))
    else:
        at_release = "<p>no gate decision recorded for this version</p>"
    rows, cls = _checklist_rows([(i["id"], i.get("description", ""), i["status"], i["reason"])
                                 for i in g.get("items", [])])
    parts.append("<section id='checklist'><h2>Checklist</h2>" + at_release
                 + "<h3>Evaluated now</h3>"
                 f"<p>evaluated when this dossier was written: "
                 f"<b class='{'ok' if g.get('passed') else 'bad'}'>"
                 f"{'passes' if g.get('passed') else 'blocked'}</b>. "
                 "<span class='small'>n/a: the item does not apply here and does not block."
                 "</span></p>" + _table(["item", "status", "evidence"], rows, cls, raw={0, 1})
                 + "</section>")
    parts.append("<section id='gate'><h2>Gate decisions</h2>" + _table(
        ["time", "by", "env", "result", "items not passing"],
        [[r["time"], r["by"], r["env"], "passed" if r["passed"] else "blocked",
          ", ".join(f"{words.item_title(k)} ({v['status']})" for k, v in r["items"].items()
                    if v["status"] not in ("pass", "waived", "n/a")) or "-"]
         for r in d.gate_runs]) + "</section>")
    canary = ["<section id='canary'><h2>Canary steps</h2><p class='small'>stable: the "
              "version serving most traffic; canary: this candidate. Red line: the limit the "
              "agreement's signers set; purple dashed line: the tolerance against stable "
              "(policy GOV-CANARY-ANALYSIS as it was at that step).</p>"]
    if not d.canary_steps:
        canary.append("<p>no canary analysis recorded for this version</p>")
    for i, (s, figs) in enumerate(zip(d.canary_steps, charts(d), strict=True), 1):
        canary.append(f"<div class='step'><h3>Step {i}: {s['weight_pct']:g}% of traffic — "
                      f"<span class='{_css(s['verdict'])}'>{_esc(s['verdict'])}</span></h3>"
                      f"<p class='small'>{_esc(s['time'])}: {_esc(s['reason'])}<br>"
                      f"tolerance from {_esc(s.get('tolerance_source') or 'today’s policy')}"
                      "</p>"
                      "<div class='charts'>" + "".join(f for _n, f in figs) + "</div></div>")
    canary.append("</section>")
    parts.append("".join(canary))
    parts.append("<section id='timeline'><h2>Service timeline</h2><p>Which version served "
                 "each environment, when, and who changed it why (also: <code>govctl history "
                 f"{_esc(d.service)}</code>). This version's periods are green.</p>"
                 + _timeline(d) + "</section>")
    # issue 20 (artifact manifests and attestations) adds its section here
    parts.append("<section id='ledger'><h2>Ledger</h2>"
                 f"<p>verification: <b class='{'ok' if a['ok'] else 'bad'}'>"
                 f"{'intact' if a['ok'] else 'BROKEN'}</b> — {a['entries']} entries, root "
                 f"{_esc(a['root'])}, {a['signatures_checked']} signatures checked"
                 + (f"; first bad entry {_esc(a['first_bad_entry'])}" if not a["ok"] else "")
                 + "</p>" + _table(["#", "time", "action", "phase", "actor", "note"],
                                   [[e["seq"], e["time"], e["action"], e["phase"],
                                     e["actor"]["name"], e.get("note") or ""]
                                    for e in d.entries]) + "</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def model_rows(m: dict[str, Any]) -> list[list[Any]]:
    return [["run", m.get("run_id")], ["git commit", m.get("git_commit")],
            ["registered by", m.get("registered_by")],
            ["aliases", ", ".join(m.get("aliases", []))],
            ["artifact manifest", m.get("manifest_sha256") or "none (registered without)"],
            *[["release attestation", f"{p} (govctl attest verify)"]
              for p in m.get("attestations", [])],
            *[[f"metric: {words.metric(k)[0]} ({k})", words.number(v)]
              for k, v in sorted((m.get("metrics") or {}).items())],
            *[[f"dataset ({x['role']})", f"{x['name']} {x.get('md5') or ''}"]
              for x in m.get("datasets", [])]]
