"""The dossier's lineage layout (govctl.dossier.svg.layout) on synthetic graphs: no edge
segment enters any box but its own two ends — exact segment/rectangle tests on the path
the SVG draws (cubics flattened), not points sampled along it."""

from __future__ import annotations

from geometry import crossings, flatten, segment_hits_box, straight_crossings
from hypothesis import given, settings
from hypothesis import strategies as st

from govctl.data.lineage import LineageGraph, Node
from govctl.dossier import svg


def graph(n: int, edges: list[tuple[int, int]]) -> LineageGraph:
    g = LineageGraph()
    for i in range(n):
        g.add(Node(f"n{i}", "data", f"n{i}"))
    for a, b in edges:
        g.link(f"n{a}", f"n{b}")
    return g


def drawn(g: LineageGraph) -> tuple[dict, list]:
    """Boxes and the flattened polyline of every edge as lineage_svg draws it."""
    lay = svg.layout(g)
    return lay["nodes"], [(a, b, flatten(svg._path(pts))) for a, b, pts in lay["edges"]]


def naive(g: LineageGraph) -> list[tuple[str, str, str]]:
    """Crossings if edges were straight lines between the same boxes."""
    lay = svg.layout(g)
    return straight_crossings([(a, b) for a, b, _ in lay["edges"]], lay["nodes"])


def check(g: LineageGraph) -> dict:
    boxes, edges = drawn(g)
    assert not crossings(edges, boxes)
    assert len(edges) == len({(a, b) for a, b in g.edges if a != b})  # no edge dropped (DAG)
    for (a, b, pts) in edges:  # each edge leaves its source and reaches its target
        xa, ya, wa, ha = boxes[a]
        xb, yb, _wb, hb = boxes[b]
        assert pts[0] == (xa + wa, ya + ha / 2) and pts[-1] == (xb, yb + hb / 2)
    for i, (n, p) in enumerate(sorted(boxes.items())):  # boxes do not overlap each other
        for m, q in sorted(boxes.items())[i + 1:]:
            assert p[0] + p[2] <= q[0] or q[0] + q[2] <= p[0] or p[1] + p[3] <= q[1] \
                or q[1] + q[3] <= p[1], (n, m)
    return boxes


def test_segment_rectangle_geometry():
    box = (10, 10, 20, 20)
    assert segment_hits_box((0, 20), (40, 20), box)  # straight through
    assert segment_hits_box((0, 0), (40, 40), box)  # diagonal through: no vertex inside
    assert not segment_hits_box((0, 0), (40, 0), box)  # passes above
    assert not segment_hits_box((0, 35), (35, 50), box)  # misses the corner
    assert not segment_hits_box((30, 20), (50, 20), box)  # starts on the right side
    assert segment_hits_box((15, 15), (16, 16), box)  # wholly inside
    assert flatten("M 0 0 L 10 0")[-1] == (10.0, 0.0)
    assert len(flatten("M 0 0 C 5 0 5 10 10 10")) == 49


def test_diamond():
    check(graph(4, [(0, 1), (0, 2), (1, 3), (2, 3)]))


def test_long_edges_skip_layers():
    # a chain 0-1-2-3-4-5 with edges from 0 and 1 straight to the end, and a source
    # feeding the last node: the long edges pass the chain's boxes in every column
    g = graph(7, [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (0, 5), (1, 4), (6, 5), (0, 3)])
    assert naive(g), "the fixture should defeat straight lines"
    check(g)


def test_wide_layer():
    fan = [(0, i) for i in range(1, 9)] + [(i, 9) for i in range(1, 9)] + [(0, 9)]
    g = graph(10, fan)
    assert naive(g)
    boxes = check(g)
    assert len({round(b[0]) for b in boxes.values()}) == 3  # three columns


def test_cycle_and_self_loop_do_not_break_it():
    boxes = svg.layout(graph(3, [(0, 1), (1, 2), (2, 0), (1, 1)]))["nodes"]
    assert len(boxes) == 3


@st.composite
def dags(draw):
    n = draw(st.integers(2, 25))
    pairs = [(a, b) for a in range(n) for b in range(a + 1, n)]
    edges = draw(st.lists(st.sampled_from(pairs), max_size=min(len(pairs), 40), unique=True))
    perm = draw(st.permutations(range(n)))  # node names not in topological order
    return n, [(perm[a], perm[b]) for a, b in edges]


@settings(max_examples=60, deadline=None)
@given(dags())
def test_random_dags_no_edge_through_a_box(dag):
    n, edges = dag
    check(graph(n, edges))
