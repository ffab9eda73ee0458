"""The dataset inventory: classification and governance metadata beside DVC's hashes.

One YAML file per dataset in ``registry/datasets/NAME.yaml``. DVC holds the bytes and
their hashes (``PATH.dvc`` for data added with ``govctl data add``, ``dvc.lock`` for
pipeline outputs); the inventory records the hash it saw, who owns the data, how
sensitive it is, and which regulations apply. A :class:`Snapshot` reads the inventory and
the pipeline lineage once for a whole command.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from govctl import findings, probe
from govctl.config import GovernedRepo
from govctl.data import lineage
from govctl.documents import load_model
from govctl.errors import InputError, NotFound
from govctl.serialize import JsonFields

Kind = Literal["raw", "train", "eval", "test", "retrieval"]
Sensitivity = Literal["public", "internal", "confidential", "restricted"]
Pii = Literal["none", "pseudonymized", "present"]
KINDS: tuple[str, ...] = Kind.__args__  # type: ignore[attr-defined]
SENSITIVITIES: tuple[str, ...] = Sensitivity.__args__  # type: ignore[attr-defined]
PIIS: tuple[str, ...] = Pii.__args__  # type: ignore[attr-defined]
NAME_RE = r"^[a-z0-9][a-z0-9._-]{0,63}$"
HELD_OUT = {"eval", "test"}
_PATH_LINE = re.compile(r"^path:.*$", re.M)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DvcHash(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hash: Literal["md5"] = "md5"
    md5: str = Field(pattern=r"^[0-9a-f]{32}(\.dir)?$")
    size: int | None = Field(None, ge=0)
    nfiles: int | None = Field(None, ge=0)


class DatasetEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["govctl.dataset/v1"] = Field("govctl.dataset/v1", alias="schema")
    name: str = Field(pattern=NAME_RE)
    path: str = Field(min_length=1)
    kind: Kind
    sensitivity: Sensitivity
    pii: Pii
    owner: str = Field(min_length=1)
    regulations: list[str] = Field(default_factory=list)
    retention_days: int | None = Field(None, ge=1)
    source: str | None = None
    license: str | None = None
    tracked_by: Literal["dvc-file", "pipeline"] = "dvc-file"
    dvc: DvcHash
    added: str
    added_by: str

    @field_validator("path")
    @classmethod
    def _inside(cls, v: str) -> str:
        p = PurePosixPath(v)
        if p.is_absolute() or ".." in p.parts or "\\" in v or "\0" in v or p.as_posix() != v:
            raise ValueError("must be a normalised path relative to the governed repo, "
                             "without '..'")
        return v

    @property
    def hash(self) -> str:
        return self.dvc.md5

    def to_doc(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def inventory_dir(repo: GovernedRepo) -> Path:
    return repo.registry / "datasets"


def entry_path(repo: GovernedRepo, name: str) -> Path:
    return inventory_dir(repo) / f"{name}.yaml"


def load_entry(path: Path, *, source: str | None = None) -> DatasetEntry:
    entry = load_model(DatasetEntry, path, source=source)
    if entry.name != Path(path).stem:
        raise InputError(f"{source or path}: name {entry.name!r} does not match the file name")
    return entry


def inventory(repo: GovernedRepo) -> list[DatasetEntry]:
    """Every inventory entry, by name (one read of ``registry/datasets/``)."""
    probe.count(probe.INVENTORY)
    d = inventory_dir(repo)
    if not d.is_dir():
        return []
    return [load_entry(p, source=repo.rel(p)) for p in sorted(d.glob("*.yaml"))]


def get(repo: GovernedRepo, name: str) -> DatasetEntry:
    path = entry_path(repo, name)
    if not path.exists():
        known = ", ".join(e.name for e in inventory(repo)) or "none yet"
        raise NotFound(f"no dataset named {name!r} in the inventory (known: {known})")
    return load_entry(path, source=repo.rel(path))


@dataclass
class Finding(JsonFields):
    dataset: str
    code: str
    message: str

    def finding(self) -> findings.Finding:
        return findings.Finding(f"data/{self.code}", self.message, subject=f"dataset:{self.dataset}")

    def __str__(self) -> str:
        return f"{self.dataset}: {self.message}"


class Snapshot:
    """The inventory and the DVC lineage of one repo, each read at most once, on first use,
    and shared by every check of a command (``govctl.context.Context.data``).

    :attr:`entries` reads the whole inventory; :meth:`entry` and :meth:`at_path` read only
    the entries asked for (``at_path`` finds them through the ``path:`` lines), so the
    gate's checks of a model's few datasets cost the same with 10 datasets or 1,000.
    :meth:`focus` narrows the lineage to what some paths need (``lineage.build``)."""

    def __init__(self, repo: GovernedRepo) -> None:
        self.repo = repo
        self._one: dict[str, DatasetEntry | None] = {}
        self._focus: set[str] | None = None

    @cached_property
    def entries(self) -> list[DatasetEntry]:
        return inventory(self.repo)

    @cached_property
    def by_name(self) -> dict[str, DatasetEntry]:
        return {e.name: e for e in self.entries}

    @cached_property
    def by_path(self) -> dict[str, DatasetEntry]:
        return {e.path: e for e in self.entries}

    def focus(self, paths: Iterable[str]) -> None:
        """Build the lineage (if not built yet) for these paths only."""
        if "lineage" not in self.__dict__:
            self._focus = (self._focus or set()) | set(paths)

    @cached_property
    def lineage(self) -> lineage.LineageGraph:
        return lineage.build(self.repo, self._focus)

    def entry(self, name: str) -> DatasetEntry | None:
        """Dataset ``name``, or None when the inventory has none by that name."""
        if "entries" in self.__dict__:
            return self.by_name.get(name)
        if name not in self._one:
            path = entry_path(self.repo, name)
            self._one[name] = (load_entry(path, source=self.repo.rel(path))
                               if re.match(NAME_RE, name) and path.is_file() else None)
        return self._one[name]

    @cached_property
    def _paths(self) -> dict[str, str]:
        """path -> name from each entry's ``path:`` line (one look at each file)."""
        probe.count(probe.INVENTORY)
        out: dict[str, str] = {}
        d = inventory_dir(self.repo)
        for f in sorted(d.glob("*.yaml")) if d.is_dir() else []:
            m = _PATH_LINE.search(f.read_text("utf-8", errors="replace"))
            value = m and yaml.load(m.group(0), Loader=_Loader)  # noqa: S506 - safe loader
            if isinstance(value, dict) and isinstance(value.get("path"), str):
                out.setdefault(value["path"], f.stem)
        return out

    def at_path(self, path: str) -> DatasetEntry | None:
        """The dataset recorded for ``path``, or None."""
        if "entries" in self.__dict__:
            return self.by_path.get(path)
        name = self._paths.get(path)
        e = self.entry(name) if name else None
        return e if e is not None and e.path == path else None

    def get(self, name: str) -> DatasetEntry:
        e = self.entry(name)
        if e is None:
            known = ", ".join(self.by_name) or "none yet"
            raise NotFound(f"no dataset named {name!r} in the inventory (known: {known})")
        return e
