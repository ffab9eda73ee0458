"""Prompts as code: templates declared in ``registry/prompts/NAME.yaml``, registered in
MLflow and pinned by the SHA-256 of their template.

MLflow lets anyone rewrite a registered prompt version's text through its
``mlflow.prompt.text`` tag; govctl records the hash it registered (as a version tag and in
the ledger) and ``verify`` reports any difference as drift.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from govctl.config import GovernedRepo
from govctl.documents import model_from_data, parse_yaml, read_text
from govctl.errors import InputError
from govctl.registry.promptlint import DEFAULT_MAX_CHARS, NAME_RE, lint_file

__all__ = ["PromptSpec", "lint_file", "load_prompt_file", "spec_from_data", "template_sha256"]

SHA_TAG = "govctl.template_sha256"
CONFIG_TAG = "govctl.config_sha256"
PARAMS_TAG = "govctl.model_parameters"
FILE_TAG = "govctl.source_file"


class PromptSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_RE.pattern)
    template: str = Field(min_length=1)
    description: str | None = None
    owner: str | None = None
    variables: list[str] = Field(default_factory=list)
    model_parameters: dict[str, Any] = Field(default_factory=dict)
    max_chars: int = Field(DEFAULT_MAX_CHARS, ge=1)

    @property
    def sha256(self) -> str:
        return template_sha256(self.template)

    @property
    def config_sha256(self) -> str:
        """SHA-256 of ``model_parameters`` as sorted, compact JSON: pinned with the
        template, so a changed temperature is a new version too."""
        return hashlib.sha256(self.params_json.encode("utf-8")).hexdigest()

    @property
    def params_json(self) -> str:
        import json

        return json.dumps(self.model_parameters, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False)


def template_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_prompt_file(path: Path, *, source: str | None = None) -> PromptSpec:
    source = source or str(path)
    data, node = parse_yaml(read_text(path, source), source)
    return spec_from_data(data, source, node, Path(path).stem)


def spec_from_data(data: Any, source: str, node: Any, stem: str) -> PromptSpec:
    """Validate a parsed prompt file; its ``name`` must be its file name."""
    spec = model_from_data(PromptSpec, data, source, node)
    if spec.name != stem:
        raise InputError(f"{source}: name {spec.name!r} does not match the file name")
    return spec


def prompt_dir(repo: GovernedRepo) -> Path:
    return repo.registry / "prompts"


def prompt_files(repo: GovernedRepo) -> list[Path]:
    d = prompt_dir(repo)
    return sorted(d.glob("*.yaml")) if d.is_dir() else []

