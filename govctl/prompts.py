"""Prompts as code: templates declared in ``registry/prompts/NAME.yaml``, registered in
MLflow and pinned by the SHA-256 of their template.

MLflow lets anyone rewrite a registered prompt version's text through its
``mlflow.prompt.text`` tag; govctl records the hash it registered (as a version tag and in
the ledger) and ``verify`` reports any difference as drift.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from govctl.config import GovernedRepo
from govctl.documents import Problem, line_of, model_from_data, parse_yaml
from govctl.errors import InputError, NotFound

SHA_TAG = "govctl.template_sha256"
FILE_TAG = "govctl.source_file"
VAR_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
DEFAULT_MAX_CHARS = 4000

from govctl.patterns import PII_PATTERNS, SECRET_PATTERNS  # noqa: E402


class PromptSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
    template: str = Field(min_length=1)
    description: str | None = None
    owner: str | None = None
    variables: list[str] = Field(default_factory=list)
    model_parameters: dict[str, Any] = Field(default_factory=dict)
    max_chars: int = Field(DEFAULT_MAX_CHARS, ge=1)

    @property
    def sha256(self) -> str:
        return template_sha256(self.template)


def template_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class LoadedPrompt:
    spec: PromptSpec
    source: str
    template_line: int | None


def _load(path: Path, source: str | None = None) -> LoadedPrompt:
    source = source or str(path)
    try:
        text = Path(path).read_text("utf-8")
    except FileNotFoundError:
        raise InputError(f"{source}: file not found") from None
    data, node = parse_yaml(text, source)
    spec = model_from_data(PromptSpec, data, source, node)
    if spec.name != Path(path).stem:
        raise InputError(f"{source}: name {spec.name!r} does not match the file name")
    return LoadedPrompt(spec, source, line_of(node, ("template",)))


def load_prompt_file(path: Path, *, source: str | None = None) -> PromptSpec:
    return _load(path, source).spec


def lint(spec: PromptSpec, source: str, template_line: int | None = None) -> list[Problem]:
    """Variables used vs declared, unbalanced braces, length budget, secrets and PII."""
    out: list[Problem] = []
    t = spec.template
    base = (template_line + 1) if template_line else None  # block scalars start a line below

    def at(offset: int) -> int | None:
        return base + t.count("\n", 0, offset) if base else None

    used = {m.group(1): m.start() for m in VAR_RE.finditer(t)}
    for var, pos in used.items():
        if var not in spec.variables:
            out.append(Problem(source, at(pos), "template",
                               f"prompt-undeclared-variable: {{{{{var}}}}} is used but not "
                               "declared in 'variables'"))
    for var in spec.variables:
        if var not in used:
            out.append(Problem(source, template_line, "variables",
                               f"prompt-unused-variable: {var!r} is declared but never used"))
    stripped = VAR_RE.sub("", t)
    for m in re.finditer(r"\{\{|\}\}", stripped):
        out.append(Problem(source, None, "template",
                           f"prompt-unbalanced-braces: stray {m.group(0)!r} (placeholders are "
                           "{{name}})"))
        break
    if len(t) > spec.max_chars:
        out.append(Problem(source, template_line, "template",
                           f"prompt-too-long: {len(t)} characters, budget {spec.max_chars}"))
    for rule, pattern in SECRET_PATTERNS:
        for m in pattern.finditer(t):
            out.append(Problem(source, at(m.start()), "template",
                               f"prompt-secret: looks like a {rule}; secrets never go in prompts"))
    for rule, pattern in PII_PATTERNS:
        for m in pattern.finditer(t):
            out.append(Problem(source, at(m.start()), "template",
                               f"prompt-pii: contains an {rule} address/number "
                               f"({m.group(0)[:3]}...)"))
    return out


def lint_file(path: Path, source: str | None = None) -> list[Problem]:
    loaded = _load(path, source)
    return lint(loaded.spec, loaded.source, loaded.template_line)


def prompt_dir(repo: GovernedRepo) -> Path:
    return repo.registry / "prompts"


def prompt_files(repo: GovernedRepo) -> list[Path]:
    d = prompt_dir(repo)
    return sorted(d.glob("*.yaml")) if d.is_dir() else []


def find_file(repo: GovernedRepo, name: str) -> Path:
    path = prompt_dir(repo) / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(p.stem for p in prompt_files(repo)) or "none"
        raise NotFound(f"no prompt file registry/prompts/{name}.yaml (known: {known})")
    return path
