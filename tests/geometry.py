"""Segment/rectangle geometry for the lineage-layout checks (pure Python, no browser)."""

from __future__ import annotations

import re

Point = tuple[float, float]
Box = tuple[float, float, float, float]  # x, y, w, h


def segment_hits_box(p: Point, q: Point, box: Box, inset: float = 1.0) -> bool:
    """Does the segment p-q meet the interior of ``box`` shrunk by ``inset`` on each side?
    Liang–Barsky clipping: exact for segments, not a sampling of points."""
    x, y, w, h = box
    xmin, xmax, ymin, ymax = x + inset, x + w - inset, y + inset, y + h - inset
    if xmin >= xmax or ymin >= ymax:
        return False
    dx, dy = q[0] - p[0], q[1] - p[1]
    t0, t1 = 0.0, 1.0
    for pk, qk in ((-dx, p[0] - xmin), (dx, xmax - p[0]), (-dy, p[1] - ymin),
                   (dy, ymax - p[1])):
        if pk == 0:
            if qk < 0:
                return False
            continue
        t = qk / pk
        if pk < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return False
    return t1 - t0 > 1e-9


def flatten(d: str, steps: int = 48) -> list[Point]:
    """The polyline of an SVG path made of M, L and C commands (cubics subdivided finely;
    a cubic lies in its control points' hull, and 48 chords stay within a pixel of it)."""
    tokens = re.findall(r"[MLC]|-?[\d.]+", d)
    pts: list[Point] = []
    i = 0
    while i < len(tokens):
        cmd = tokens[i]
        i += 1
        if cmd in ("M", "L"):
            pts.append((float(tokens[i]), float(tokens[i + 1])))
            i += 2
        elif cmd == "C":
            c = [float(v) for v in tokens[i:i + 6]]
            i += 6
            p0, p1, p2, p3 = pts[-1], (c[0], c[1]), (c[2], c[3]), (c[4], c[5])
            for k in range(1, steps + 1):
                t = k / steps
                u = 1 - t
                pts.append(tuple(u ** 3 * a + 3 * u * u * t * b + 3 * u * t * t * cc + t ** 3 * e
                                 for a, b, cc, e in zip(p0, p1, p2, p3, strict=True)))
        else:
            raise ValueError(f"unexpected path command {cmd!r}")
    return pts


def crossings(edges: list[tuple[str, str, list[Point]]], boxes: dict[str, Box]
              ) -> list[tuple[str, str, str]]:
    """(from, to, box) for every edge polyline that enters a box other than its own ends."""
    out = []
    for a, b, pts in edges:
        for nid, box in boxes.items():
            if nid in (a, b):
                continue
            if any(segment_hits_box(p, q, box) for p, q in zip(pts, pts[1:], strict=False)):
                out.append((a, b, nid))
    return out


def straight_crossings(edges: list[tuple[str, str]], boxes: dict[str, Box]
                       ) -> list[tuple[str, str, str]]:
    """Crossings if each edge were one straight line from its source's right side to its
    target's left side (what a naive drawing does): a fixture that has none proves little."""
    lines = []
    for a, b in edges:
        xa, ya, wa, ha = boxes[a]
        xb, yb, _wb, hb = boxes[b]
        lines.append((a, b, [(xa + wa, ya + ha / 2), (xb, yb + hb / 2)]))
    return crossings(lines, boxes)
