"""Lineage through the DVC pipeline: stages with their deps and outs and hashes.

Read from ``dvc.yaml`` (the stage definitions) and ``dvc.lock`` (the hashes of the last
``dvc repro``), plus the ``.dvc`` files of tracked data, as plain YAML: no DVC import. The
registry adds model-version nodes (:func:`govctl.registry.models.lineage`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from govctl import probe
from govctl.config import GovernedRepo


@dataclass
class Node:
    id: str  # "data:<path>", "stage:<name>", "model:<name>/<version>"
    kind: str  # data | stage | model
    label: str
    hash: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "label": self.label, "hash": self.hash,
                **({"attrs": self.attrs} if self.attrs else {})}


@dataclass
class LineageGraph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: set[tuple[str, str]] = field(default_factory=set)  # (from, to): from feeds to

    def add(self, node: Node) -> Node:
        existing = self.nodes.get(node.id)
        if existing is None:
            self.nodes[node.id] = node
            return node
        existing.hash = existing.hash or node.hash
        existing.attrs.update(node.attrs)
        return existing

    def link(self, a: str, b: str) -> None:
        self.edges.add((a, b))

    def upstream(self, node_id: str) -> set[str]:
        return self._walk(node_id, lambda n: [a for a, b in self.edges if b == n])

    def downstream(self, node_id: str) -> set[str]:
        return self._walk(node_id, lambda n: [b for a, b in self.edges if a == n])

    @staticmethod
    def _walk(start: str, nxt: Callable[[str], list[str]]) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for n in nxt(todo.pop()):
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        return seen

    def subgraph(self, keep: set[str]) -> LineageGraph:
        g = LineageGraph({k: v for k, v in self.nodes.items() if k in keep})
        g.edges = {(a, b) for a, b in self.edges if a in keep and b in keep}
        return g

    def to_json(self) -> dict[str, Any]:
        return {
            "nodes": [n.to_json() for n in sorted(self.nodes.values(), key=lambda n: n.id)],
            "edges": [{"from": a, "to": b} for a, b in sorted(self.edges)],
        }


@dataclass
class Cut:
    """The lineage upstream and downstream of one node (``data lineage``)."""

    target: str  # the node's id
    graph: LineageGraph

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, **self.graph.to_json()}


def around(repo: GovernedRepo, g: LineageGraph, target: str) -> Cut:
    """The part of ``g`` upstream and downstream of ``target``: an inventoried dataset's
    name or a DVC-tracked path."""
    from govctl.data.inventory import entry_path, get
    from govctl.errors import NotFound

    path = get(repo, target).path if entry_path(repo, target).exists() else target
    nid = data_id(path)
    if nid not in g.nodes:
        raise NotFound(f"{target!r} is neither an inventoried dataset nor a DVC-tracked path")
    return Cut(nid, g.subgraph({nid} | g.upstream(nid) | g.downstream(nid)))


def data_id(path: str) -> str:
    return f"data:{path.strip('/')}"


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: ~10x faster


def _load_yaml(path: Path) -> Any:
    """A DVC file as plain YAML; a file DVC could not read either is named, not a crash."""
    from govctl.errors import InputError

    if not path.exists():
        return None
    try:
        return yaml.load(path.read_text("utf-8"), Loader=_Loader)  # noqa: S506 - a safe loader
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        where = getattr(exc, "problem_mark", None)
        line = f":{where.line + 1}" if where is not None else ""
        reason = getattr(exc, "problem", None) or type(exc).__name__
        raise InputError(f"{path}{line}: invalid YAML ({reason})") from None


SKIP_DIRS = frozenset({".dvc", ".git", ".govctl", ".venv", "node_modules"})


def _dvc_files(root: Path) -> tuple[list[Path], list[Path]]:
    """Every ``.dvc`` file and every ``dvc.yaml`` of the repo (the root pipeline first, as
    DVC reads them all), in one walk that never enters .git, .dvc or a directory a
    ``.dvc`` file tracks (its content is DVC's, however many files it holds)."""
    import os

    dvc_files: list[Path] = []
    pipelines: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        names = set(filenames)
        dirnames[:] = sorted(d for d in dirnames
                             if d not in SKIP_DIRS and f"{d}.dvc" not in names)
        here = Path(dirpath)
        dvc_files += [here / f for f in filenames if f.endswith(".dvc")]
        if "dvc.yaml" in names:
            pipelines.append(here / "dvc.yaml")
    return (sorted(p for p in dvc_files if p.is_file()),
            sorted(pipelines, key=lambda p: (len(p.relative_to(root).parts), str(p))))


def _pipeline_files(root: Path) -> list[Path]:
    """Every ``dvc.yaml`` of the repo, the root one first (DVC reads them all)."""
    return _dvc_files(root)[1]


def _expanded(stages: dict[str, Any], lock: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Stages with ``foreach``/``matrix`` expanded as DVC ran them: one ``NAME@KEY`` stage
    per entry of dvc.lock, its deps and outs as dvc.lock resolved them (``${item}`` and
    all). Not yet run: nothing to expand."""
    out: list[tuple[str, dict[str, Any]]] = []
    for name, stage in stages.items():
        if not isinstance(stage, dict):
            continue
        if "foreach" not in stage and "matrix" not in stage:
            out.append((name, stage))
            continue
        body = stage.get("do")
        do: dict[str, Any] = body if isinstance(body, dict) else stage
        for lock_name, locked in sorted(lock.items()):
            if not lock_name.startswith(f"{name}@") or not isinstance(locked, dict):
                continue
            out.append((lock_name, {
                "cmd": locked.get("cmd"),
                "wdir": do.get("wdir", "."),
                "deps": [d["path"] for d in locked.get("deps") or [] if "path" in d],
                "outs": [o["path"] for o in locked.get("outs") or [] if "path" in o],
            }))
    return out


def _add_pipeline(g: LineageGraph, root: Path, dvc_yaml: Path) -> None:
    """Stages of one dvc.yaml, paths made repo-relative (its folder and each stage's
    ``wdir``); stages outside the root file are addressed as DVC does: ``sub/dvc.yaml:NAME``."""
    import posixpath

    base = dvc_yaml.parent.relative_to(root).as_posix()
    prefix = "" if base == "." else f"{base}/dvc.yaml:"
    pipeline = _load_yaml(dvc_yaml) or {}
    lock = (_load_yaml(dvc_yaml.with_name("dvc.lock")) or {}).get("stages", {})
    for name, stage in _expanded(pipeline.get("stages") or {}, lock):
        wdir = posixpath.normpath(posixpath.join(base, stage.get("wdir", ".")))

        def full(p: str, wdir: str = wdir) -> str:
            return posixpath.normpath(posixpath.join(wdir, p))

        address = f"{prefix}{name}"
        sid = f"stage:{address}"
        locked = lock.get(name) or {}
        g.add(Node(sid, "stage", address, None, {"cmd": stage.get("cmd")}))
        hashes = {full(d["path"]): d.get("md5")
                  for d in (locked.get("deps") or []) + (locked.get("outs") or [])}
        for dep in stage.get("deps") or []:
            path = full(dep if isinstance(dep, str) else next(iter(dep)))
            g.add(Node(data_id(path), "data", path, hashes.get(path)))
            g.link(data_id(path), sid)
        sizes = {full(d["path"]): d for d in locked.get("outs") or []}
        for out in stage.get("outs") or []:
            path = full(out if isinstance(out, str) else next(iter(out)))
            attrs = {"produced_by": address, **{k: sizes.get(path, {}).get(k)
                                                for k in ("size", "nfiles")
                                                if sizes.get(path, {}).get(k) is not None}}
            g.add(Node(data_id(path), "data", path, hashes.get(path), attrs))
            g.link(sid, data_id(path))


def build(repo: GovernedRepo, focus: Iterable[str] | None = None) -> LineageGraph:
    """The data graph of the repo: DVC-tracked data and pipeline stages. Model versions
    are added by :func:`govctl.registry.models.lineage` (the registry sits above data).

    ``focus`` (paths): read only the ``PATH.dvc`` files of those paths and of the paths
    the pipelines name, enough for the lineage of those paths; the gate asks this for a
    model's datasets, so its cost does not grow with the size of the inventory."""
    probe.count(probe.LINEAGE)
    root = repo.root
    dvc_files, pipelines = _dvc_files(root)
    pipe = LineageGraph()
    for dvc_yaml in pipelines:
        _add_pipeline(pipe, root, dvc_yaml)
    wanted = None if focus is None else (
        {p.strip("/") for p in focus} | {n.label for n in pipe.nodes.values()
                                         if n.kind == "data"})
    g = LineageGraph()
    for dvc_file in dvc_files:
        name = dvc_file.relative_to(root).as_posix()
        if wanted is not None and name[: -len(".dvc")] not in wanted:
            continue
        data = _load_yaml(dvc_file) or {}
        if not isinstance(data, dict):
            continue
        source = _import_source(data)
        for out in data.get("outs") or []:
            if not isinstance(out, dict) or not isinstance(out.get("path"), str):
                continue
            rel = (dvc_file.parent / out["path"]).relative_to(root).as_posix()
            attrs: dict[str, Any] = {"tracked_by": name}
            if source is not None:
                attrs["imported_from"] = source
            g.add(Node(data_id(rel), "data", rel, out.get("md5"), attrs))
    for node in pipe.nodes.values():  # after the .dvc records: their hashes come first
        g.add(node)
    g.edges |= pipe.edges
    connect_directories(g)
    return g


def import_source_of(dvc_file: Path) -> str | None:
    """:func:`_import_source` of the ``.dvc`` file at ``dvc_file`` (None if there is none)."""
    data = _load_yaml(dvc_file)
    return _import_source(data) if isinstance(data, dict) else None


def _import_source(data: dict[str, Any]) -> str | None:
    """Where a ``dvc import`` / ``import-url`` ``.dvc`` file's data comes from
    (``URL@REV:PATH`` or the URL), or None for a plain ``dvc add`` file."""
    deps = data.get("deps") or []
    if not deps or not isinstance(deps[0], dict):
        return None
    dep = deps[0]
    origin = dep.get("repo")
    if isinstance(origin, dict):
        rev = origin.get("rev_lock") or origin.get("rev") or ""
        return f"{origin.get('url')}@{rev}:{dep.get('path')}" if rev else \
            f"{origin.get('url')}:{dep.get('path')}"
    return str(dep.get("path"))


def connect_directories(g: LineageGraph) -> None:
    """A stage's file outputs feed a dependency on their directory (and a directory output
    feeds a dependency on a file inside it), as DVC resolves them: ``data/prepared`` is fed
    by ``data/prepared/train.csv``."""
    data = [n for n in g.nodes.values() if n.kind == "data"]
    produced = [n for n in data if "produced_by" in n.attrs]
    for dep in data:
        for out in produced:
            if out.id == dep.id:
                continue
            inside = (out.label.startswith(dep.label + "/")
                      or dep.label.startswith(out.label + "/"))
            if inside and not g.upstream(out.id) & {dep.id}:
                g.link(out.id, dep.id)


def render_tree(g: LineageGraph, focus: str) -> str:
    lines = [f"{g.nodes[focus].label}  [{g.nodes[focus].kind}]"]

    def walk(node: str, direction: str, depth: int, seen: set[str]) -> None:
        nxt = sorted(a for a, b in g.edges if b == node) if direction == "up" else sorted(
            b for a, b in g.edges if a == node)
        for n in nxt:
            if n in seen:
                continue
            item = g.nodes[n]
            h = f"  {item.hash[:12]}" if item.hash else ""
            arrow = "<-" if direction == "up" else "->"
            lines.append(f"{'  ' * depth}{arrow} {item.label} [{item.kind}]{h}")
            walk(n, direction, depth + 1, seen | {n})

    lines.append("upstream:")
    walk(focus, "up", 1, {focus})
    lines.append("downstream:")
    walk(focus, "down", 1, {focus})
    return "\n".join(lines)


def _safe(node_id: str) -> str:
    return "n" + "".join(c if c.isalnum() else "_" for c in node_id)


def render_dot(g: LineageGraph) -> str:
    shapes = {"data": "cylinder", "stage": "box", "model": "component", "prompt": "note"}
    out = ["digraph lineage {", "  rankdir=LR;"]
    for n in sorted(g.nodes.values(), key=lambda n: n.id):
        label = n.label + (f"\\n{n.hash[:12]}" if n.hash else "")
        out.append(f'  {_safe(n.id)} [label="{label}", shape={shapes.get(n.kind, "ellipse")}];')
    for a, b in sorted(g.edges):
        out.append(f"  {_safe(a)} -> {_safe(b)};")
    out.append("}")
    return "\n".join(out)


def render_mermaid(g: LineageGraph) -> str:
    out = ["flowchart LR"]
    for n in sorted(g.nodes.values(), key=lambda n: n.id):
        label = n.label + (f"<br/>{n.hash[:12]}" if n.hash else "")
        shape = ("[(", ")]") if n.kind == "data" else ("[", "]")
        out.append(f'  {_safe(n.id)}{shape[0]}"{label}"{shape[1]}')
    for a, b in sorted(g.edges):
        out.append(f"  {_safe(a)} --> {_safe(b)}")
    return "\n".join(out)


def reports(root: Path) -> list[str]:
    """Metrics and plots paths every dvc.yaml declares (top level and per stage), relative
    to ``root``: pipeline outputs that are reports, not data."""
    import posixpath

    out: set[str] = set()

    def paths(items: Any) -> list[str]:
        found: list[str] = []
        for item in items or []:
            if isinstance(item, str):
                found.append(item)
            elif isinstance(item, dict):
                for k, v in item.items():
                    found.append(str(k))
                    y = v.get("y") if isinstance(v, dict) else None
                    if isinstance(y, dict):
                        found += [str(p) for p in y]
                    elif isinstance(y, str) and "." in y:
                        found.append(y)
        return found

    for dvc_yaml in _pipeline_files(root):
        base = dvc_yaml.parent.relative_to(root).as_posix()
        data = _load_yaml(dvc_yaml) or {}
        for p in paths(data.get("metrics")) + paths(data.get("plots")):
            out.add(posixpath.normpath(posixpath.join(base, p)))
        for stage in (data.get("stages") or {}).values():
            if not isinstance(stage, dict):
                continue
            wdir = posixpath.normpath(posixpath.join(base, stage.get("wdir", ".")))
            for p in paths(stage.get("metrics")) + paths(stage.get("plots")):
                out.add(posixpath.normpath(posixpath.join(wdir, p)))
    return sorted(out)
