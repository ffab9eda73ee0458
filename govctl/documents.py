"""Loading human-authored YAML documents strictly, with errors that name file, line and field.

Every document govctl reads from the governed repo goes through :func:`load_model`:
duplicate keys are refused (PyYAML would silently keep the last one), and a pydantic
validation error becomes one readable message ``file:line: field: problem``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

from govctl.errors import InputError

if TYPE_CHECKING:
    from pydantic import BaseModel
    from pydantic_core import ValidationError

    from govctl.findings import Finding

# pydantic_core (what pydantic raises) is imported only where a model is validated: the
# prompt-lint hook's fast path parses YAML here without ever building a model.

M = TypeVar("M", bound="BaseModel")


_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: ~10x faster


class _StrictLoader(_Base):  # type: ignore[misc,valid-type]
    """SafeLoader (libyaml-backed when possible) that refuses duplicate mapping keys."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class Problem:
    """One finding about a document: where and what. (A plain class: the hooks import this
    module, and dataclasses would cost them ~5 ms of start-up.)"""

    __slots__ = ("path", "line", "field", "message")

    def __init__(self, path: str, line: int | None, field: str, message: str) -> None:
        self.path, self.line, self.field, self.message = path, line, field, message

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Problem) and (self.path, self.line, self.field, self.message) \
            == (other.path, other.line, other.field, other.message)

    def __repr__(self) -> str:
        return f"Problem({self.path!r}, {self.line!r}, {self.field!r}, {self.message!r})"

    def finding(self, rule: str = "invalid-document") -> Finding:
        from govctl.findings import Finding

        return Finding(rule, f"{self.field + ': ' if self.field else ''}{self.message}",
                       path=self.path, line=self.line)

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.field + ': ' if self.field else ''}{self.message}"


class DocumentError(InputError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        text = "\n".join(str(p) for p in problems)
        super().__init__(text if len(problems) == 1 else f"{len(problems)} problems:\n{text}")


def parse_yaml(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    """Parse YAML strictly; return the data and the node tree (for line numbers)."""
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()  # parse once: the nodes give line numbers too
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise DocumentError([Problem(source, line, "", f"invalid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise DocumentError([Problem(source, None, "", f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    return data, node


def line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Line (1-based) of the deepest node on ``loc`` that exists in the YAML tree."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if getattr(key_node, "value", None) == str(part):
                    line = key_node.start_mark.line + 1
                    node = value_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def validation_problems(
    exc: ValidationError, source: str, node: yaml.Node | None = None
) -> list[Problem]:
    out = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        field = ".".join(str(p) for p in loc)
        msg = err.get("msg", "invalid")
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
        out.append(Problem(source, line_of(node, loc), field, msg))
    return out


def model_from_data(model: type[M], data: Any, source: str, node: yaml.Node | None = None) -> M:
    """The one way user input becomes a model: a pydantic ValidationError never reaches
    the user raw, it becomes ``source:line: field.path: reason`` (exit 2)."""
    from pydantic_core import ValidationError

    if data is None:
        raise DocumentError([Problem(source, None, "", "the document is empty")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise DocumentError(validation_problems(exc, source, node)) from None


def load_model(model: type[M], path: Path, *, source: str | None = None) -> M:
    """Read ``path`` and validate it as ``model``; errors name file, line and field."""
    source = source or str(path)
    data, node = parse_yaml(read_text(path, source), source)
    return model_from_data(model, data, source, node)


def read_text(path: Path, source: str) -> str:
    """A document's text; a missing or non-UTF-8 file is an InputError naming ``source``."""
    try:
        return Path(path).read_text("utf-8")
    except FileNotFoundError:
        raise InputError(f"{source}: file not found") from None
    except UnicodeDecodeError:
        raise InputError(f"{source}: not UTF-8 text") from None


def dump_yaml(data: Any, header: str = "") -> str:
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return header + body
