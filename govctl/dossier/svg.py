"""Hand-built SVG for the dossier: the lineage graph laid out in layers, and canary charts.

Lineage layout is a layered (Sugiyama) drawing in pure Python: longest-path layers (sources
pulled next to what they feed), a dummy vertex for every layer an edge crosses, barycentre
sweeps to reduce crossings, then edges routed through their dummies' own slots. Between two
columns an edge is a cubic curve whose control points stay in the gap, so it lies in the
gap's convex hull; inside a column it runs horizontally through a slot no box occupies. No
edge can cross a box (tests/test_dossier.py checks this in a browser).
"""

from __future__ import annotations

import html
from typing import Any

W, H, DH, GAP, VGAP, PAD = 250, 62, 12, 70, 16, 20
COLORS = {"data": "#e8f1fb", "stage": "#fff4dd", "model": "#e7f7ea", "prompt": "#f3e9fb"}
KIND_WORDS = {"data": "dataset", "stage": "pipeline stage", "model": "model version",
              "prompt": "prompt"}


def _layers(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    preds: dict[str, list[str]] = {n: [] for n in nodes}
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        preds[b].append(a)
        succ[a].append(b)
    layer: dict[str, int] = {}

    def depth(n: str, stack: frozenset[str] = frozenset()) -> int:
        if n not in layer:
            ps = [p for p in preds[n] if p not in stack]
            layer[n] = 1 + max((depth(p, stack | {n}) for p in ps), default=-1)
        return layer[n]

    for n in nodes:
        depth(n)
    for n in sorted(nodes, key=lambda n: -layer[n]):  # sources next to their first consumer
        if not preds[n] and succ[n]:
            layer[n] = max(layer[n], min(layer[s] for s in succ[n]) - 1)
    return layer


def layout(g: Any) -> dict[str, Any]:
    """Positions of boxes and the polyline of every edge: {"nodes": {id: (x, y, w, h)},
    "edges": [(a, b, [(x, y), ...])], "width", "height"}."""
    nodes = sorted(g.nodes)
    edges = sorted((a, b) for a, b in g.edges if a in g.nodes and b in g.nodes and a != b)
    layer = _layers(nodes, edges)
    edges = [(a, b) for a, b in edges if layer[a] < layer[b]]  # a cycle's back edge: dropped
    cols: dict[int, list[str]] = {}
    for n in nodes:
        cols.setdefault(layer[n], []).append(n)
    chains: list[tuple[str, str, list[str]]] = []
    links: list[tuple[str, str]] = []
    for a, b in edges:
        chain = [a]
        for lv in range(layer[a] + 1, layer[b]):
            d = f"~{a}>{b}@{lv}"
            layer[d] = lv
            cols.setdefault(lv, []).append(d)
            chain.append(d)
        chain.append(b)
        links += list(zip(chain, chain[1:], strict=False))
        chains.append((a, b, chain))
    up: dict[str, list[str]] = {}
    down: dict[str, list[str]] = {}
    for a, b in links:
        down.setdefault(a, []).append(b)
        up.setdefault(b, []).append(a)
    order = {n: i for ns in cols.values() for i, n in enumerate(ns)}
    depth = max(cols) if cols else 0
    for sweep in range(8):  # barycentre heuristic, alternately left-to-right and back
        rng = range(1, depth + 1) if sweep % 2 == 0 else range(depth - 1, -1, -1)
        for lv in rng:
            nb = up if sweep % 2 == 0 else down

            def bary(n: str, nb: dict[str, list[str]] = nb) -> float:
                ns = nb.get(n, [])
                return sum(order[m] for m in ns) / len(ns) if ns else order[n]

            cols[lv].sort(key=lambda n: (bary(n), order[n]))
            order.update({n: i for i, n in enumerate(cols[lv])})
    heights = {lv: sum(DH if n.startswith("~") else H for n in ns) + VGAP * (len(ns) - 1)
               for lv, ns in cols.items()}
    tall = max(heights.values(), default=H)
    box: dict[str, tuple[float, float, float, float]] = {}
    for lv, ns in cols.items():
        y = PAD + (tall - heights[lv]) / 2
        for n in ns:
            h = DH if n.startswith("~") else H
            box[n] = (PAD + lv * (W + GAP), y, W, h)
            y += h + VGAP
    routes = []
    for a, b, chain in chains:
        xa, ya, wa, ha = box[a]
        pts = [(xa + wa, ya + ha / 2)]
        for d in chain[1:-1]:
            xd, yd, wd, hd = box[d]
            pts += [(xd, yd + hd / 2), (xd + wd, yd + hd / 2)]
        xb, yb, _wb, hb = box[b]
        pts.append((xb, yb + hb / 2))
        routes.append((a, b, pts))
    return {"nodes": {n: box[n] for n in nodes}, "edges": routes,
            "width": PAD * 2 + (depth + 1) * W + depth * GAP, "height": PAD * 2 + tall}


def _path(pts: list[tuple[float, float]]) -> str:
    """Straight through columns, a cubic curve (control points inside the gap) between."""
    out = [f"M {pts[0][0]:.1f} {pts[0][1]:.1f}"]
    for i in range(1, len(pts)):
        (x1, y1), (x2, y2) = pts[i - 1], pts[i]
        if y1 == y2 or i % 2 == 0:  # a run inside a column (dummy slot), or level
            out.append(f"L {x2:.1f} {y2:.1f}")
        else:
            m = (x1 + x2) / 2
            out.append(f"C {m:.1f} {y1:.1f} {m:.1f} {y2:.1f} {x2:.1f} {y2:.1f}")
    return " ".join(out)


def lineage_svg(g: Any) -> str:
    lay = layout(g)
    w, h = lay["width"], lay["height"]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage" width="{w:.0f}" '
           f'height="{h:.0f}" viewBox="0 0 {w:.0f} {h:.0f}" role="img" '
           'aria-labelledby="lineage-title"><title id="lineage-title">Lineage: what fed this '
           'model version</title><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" '
           'refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
           '<path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>']
    for a, b, pts in lay["edges"]:
        out.append(f'<path class="edge" data-from="{html.escape(a)}" data-to="{html.escape(b)}" '
                   f'd="{_path(pts)}" fill="none" stroke="#666" stroke-width="1.3" '
                   'marker-end="url(#arrow)"/>')
    for nid, (x, y, bw, bh) in lay["nodes"].items():
        node = g.nodes[nid]
        attrs = node.attrs or {}
        held_out = attrs.get("role") == "eval"
        cls = f"node {node.kind}" + (" held-out" if held_out else "")
        dash = ' stroke-dasharray="6 3" stroke-width="2.2"' if held_out else ""
        stroke = "#b3261e" if held_out else "#888"
        label = html.escape(node.label[:32])
        line2 = KIND_WORDS.get(node.kind, node.kind)
        if attrs.get("dataset"):
            line2 = f"dataset {attrs['dataset']}" + (" · HELD-OUT EVAL" if held_out else
                                                     f" · {attrs.get('role')}")
        classif = (f"{attrs['sensitivity']} · PII {attrs['pii']}" if attrs.get("sensitivity")
                   else (f"{node.hash[:16]}" if node.hash else ""))
        if node.kind == "data" and not attrs.get("sensitivity"):
            classif = "not inventoried" + (f" · {node.hash[:10]}" if node.hash else "")
        out.append(f'<g class="{cls}" data-id="{html.escape(nid)}"><rect x="{x:.1f}" '
                   f'y="{y:.1f}" width="{bw}" height="{bh}" rx="6" '
                   f'fill="{COLORS.get(node.kind, "#eee")}" stroke="{stroke}"{dash}/>'
                   f'<text x="{x + 8:.1f}" y="{y + 17:.1f}" font-size="12" font-weight="600">'
                   f'{label}</text><text x="{x + 8:.1f}" y="{y + 34:.1f}" font-size="10.5" '
                   f'fill="#444">{html.escape(line2)}</text><text x="{x + 8:.1f}" '
                   f'y="{y + 51:.1f}" font-size="10.5" fill="#666">{html.escape(classif)}</text>'
                   '</g>')
    out.append("</svg>")
    return "".join(out)


# --- charts ----------------------------------------------------------------------------

VARIANT_NAMES = {"baseline": "stable", "canary": "canary"}
VARIANT_COLORS = {"stable": "#4a7fc1", "canary": "#d9822b"}


def bar_chart(cid: str, title: str, unit: str, bars: list[tuple[str, float, int]],
              lines: list[tuple[str, float, str]], verdict: str, fmt: Any) -> str:
    """Horizontal bars (label, value, n) with reference lines (label, value, colour): a
    self-explaining chart (title, unit on the axis, sample counts, verdict, limit lines)."""
    width, left, right, row = 560, 150, 40, 30
    top = max([v for _, v, _ in bars] + [v for _, v, _ in lines] + [1e-12]) * 1.15
    plot = width - left - right
    height = 56 + row * len(bars) + 16 * len(lines) + 30
    sx = plot / top
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {cid}" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'data-verdict="{html.escape(verdict)}"><title>{html.escape(title)}</title>'
           f'<text class="chart-title" x="0" y="16" font-size="13" font-weight="600">'
           f'{html.escape(title)}</text><text x="{width}" y="16" font-size="12" '
           f'text-anchor="end" class="verdict {html.escape(verdict)}">verdict: '
           f'{html.escape(verdict)}</text>']
    y0 = 30
    for i, (name, v, n) in enumerate(bars):
        y = y0 + i * row
        color = VARIANT_COLORS.get(name, "#888")
        out.append(f'<text x="0" y="{y + 15}" font-size="11">{html.escape(name)} '
                   f'(n={n:,})</text><rect class="bar" x="{left}" y="{y + 3}" '
                   f'width="{max(1.0, v * sx):.1f}" height="16" fill="{color}"/>'
                   f'<text x="{left + max(1.0, v * sx) + 4:.1f}" y="{y + 15}" '
                   f'font-size="11">{html.escape(fmt(v))}</text>')
    ybot = y0 + row * len(bars)
    for j, (label, v, color) in enumerate(lines):
        x = left + v * sx
        out.append(f'<line class="limit" x1="{x:.1f}" x2="{x:.1f}" y1="{y0 - 4}" '
                   f'y2="{ybot + 4}" stroke="{color}" stroke-width="2" '
                   f'stroke-dasharray="{"" if j == 0 else "5 3"}"/>'
                   f'<text x="{left}" y="{ybot + 18 + 16 * j}" font-size="10.5" '
                   f'fill="{color}">{"━━" if j == 0 else "╍╍"} {html.escape(label)}: '
                   f'{html.escape(fmt(v))}</text>')
    ya = ybot + 18 + 16 * len(lines)
    out.append(f'<line x1="{left}" x2="{left + plot}" y1="{ybot + 4}" y2="{ybot + 4}" '
               f'stroke="#999"/><text x="{left}" y="{ya + 8}" font-size="10" fill="#666">'
               f'0</text><text x="{left + plot}" y="{ya + 8}" font-size="10" fill="#666" '
               f'text-anchor="end">{html.escape(fmt(top))} ({html.escape(unit)})</text></svg>')
    return "".join(out)


def ms(v: float) -> str:
    return f"{v:,.0f} ms" if v >= 10 else f"{v:.1f} ms"


def pct(v: float) -> str:
    return f"{v * 100:.2f} %"


def per_1k(v: float) -> str:
    return f"${v * 1000:,.4f} per 1k requests" if v * 1000 < 1 else f"${v * 1000:,.2f} per 1k"


def step_charts(step: dict[str, Any], limits: dict[str, float], tol: dict[str, float],
                index: int) -> list[tuple[str, str]]:
    """(file stem, svg) for one canary step: p95 latency, error rate, cost per 1k."""
    vs = [(VARIANT_NAMES.get(k, k), v) for k, v in step["variants"].items() if v.get("n")]
    if not vs:
        return []
    verdict = str(step.get("verdict"))
    failed = set(step.get("failed") or [])
    stable = dict(vs).get("stable")
    w = f"step {index} at {step['weight_pct']:g}%"

    def mverdict(metric: str) -> str:
        """This metric's verdict: a step that failed on latency did not fail on cost."""
        if metric in failed:
            return "fail"
        return "pass" if verdict == "fail" else verdict

    lat_lines = []
    if "latency_p95_ms" in limits:
        lat_lines.append(("signed limit (agreement p95)", limits["latency_p95_ms"], "#b3261e"))
    if stable and "latency" in tol:
        lat_lines.append((f"tolerance: stable p95 +{tol['latency'] * 100:g}%",
                          float(stable["latency_ms"]["p95"]) * (1 + tol["latency"]), "#7b1fa2"))
    err_lines = []
    if "error_rate" in limits:
        err_lines.append(("signed limit (agreement)", limits["error_rate"], "#b3261e"))
    if stable and "error_ratio" in tol:
        err_lines.append((f"tolerance: stable x {tol['error_ratio']:g}",
                          float(stable.get("error_rate") or 0) * tol["error_ratio"], "#7b1fa2"))
    cost_lines = []
    if "cost_per_request_usd" in limits:
        cost_lines.append(("signed budget per request", limits["cost_per_request_usd"],
                           "#b3261e"))
    return [
        (f"step{index}-latency-p95", bar_chart(
            "latency", f"p95 latency, {w}", "milliseconds",
            [(n, float(v["latency_ms"]["p95"]), int(v["n"])) for n, v in vs],
            lat_lines, mverdict("latency_p95_ms"), ms)),
        (f"step{index}-error-rate", bar_chart(
            "error_rate", f"error rate, {w}", "% of requests",
            [(n, float(v.get("error_rate") or 0), int(v["n"])) for n, v in vs],
            err_lines, mverdict("error_rate"), pct)),
        (f"step{index}-cost", bar_chart(
            "cost", f"cost, {w}", "USD per 1,000 requests",
            [(n, float(v.get("cost_per_request_usd") or 0), int(v["n"])) for n, v in vs],
            cost_lines, mverdict("cost_per_request_usd"), per_1k)),
    ]
