"""Prompt versions in MLflow, pinned by the SHA-256 of their template and parameters.

A rewritten template or parameter set in MLflow is drift (exit 4), never the new truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govctl.config import GovernedRepo
from govctl.errors import InputError, NotFound
from govctl.ledger.log import Ledger
from govctl.registry import prompt_specs as prompts
from govctl.registry.models import TAG, Drift, _commit
from govctl.registry.releases import prompt_pins
from govctl.signing.keys import SigningKey


@dataclass(frozen=True)
class RegisteredPrompt:
    """A prompt version govctl registered (and pinned in the ledger)."""

    name: str
    version: str
    sha256: str
    file: str
    config_sha256: str


@dataclass(frozen=True)
class PromptFile:
    """A prompt file, its latest pinned version, and whether it changed since."""

    name: str
    file: str
    sha256: str
    latest_version: str | None
    registered_sha256: str | None
    changed: bool


@dataclass(frozen=True)
class PromptVersion:
    """A pinned prompt version: what govctl pinned and what MLflow holds now (``template``
    and its hashes None when the version is gone from MLflow)."""

    version: str
    pinned_sha256: str
    template: Any
    sha256: str | None
    pinned_config_sha256: str | None
    config_sha256: str | None


def register_prompt(repo: GovernedRepo, key: SigningKey, path: Path) -> RegisteredPrompt:
    """Register the prompt file as a new MLflow prompt version pinned by its SHA-256.
    Refuses a file with lint errors, and a name already used by a registered model."""
    from govctl.adapters import mlflowstore as ml

    source = repo.rel(path)
    spec = prompts.load_prompt_file(path, source=source)
    problems = prompts.lint_file(path, source)
    if problems:
        raise InputError("the prompt has lint problems:\n" + "\n".join(map(str, problems)))
    from govctl import trust  # loaded by writes only: reads stay free of pydantic

    policy = trust.load_verified(repo)
    trust.authorize(policy, "prompt.register", key)
    ml.ping(repo)
    if ml.is_model(repo, spec.name):
        raise InputError(f"{spec.name!r} is already a registered model's name; prompts and "
                         "models need distinct names")
    tags = {prompts.SHA_TAG: spec.sha256, prompts.FILE_TAG: source, f"{TAG}registered_by": key.name,
            prompts.CONFIG_TAG: spec.config_sha256, prompts.PARAMS_TAG: spec.params_json}
    ledger = Ledger.for_repo(repo)
    evidence = {"sha256": spec.sha256, "file": source, "config_sha256": spec.config_sha256}
    subject = {"kind": "prompt", "name": spec.name}
    intent = ledger.intent(key, "prompt.register", subject, evidence=evidence,
                           git_commit=_commit(repo))
    try:
        version = ml.register_prompt(repo, spec.name, spec.template, tags,
                                     message=f"registered by {key.name} from {source}")
    except Exception:
        ledger.abort(key, intent, note="MLflow refused the prompt")
        raise
    ledger.complete(key, intent, evidence={**evidence, "version": version},
                    note=f"registered version {version}")
    return RegisteredPrompt(spec.name, str(version), spec.sha256, source, spec.config_sha256)


def prompt_status(repo: GovernedRepo) -> list[PromptFile]:
    """Each prompt file with its latest pinned version and whether the file changed since."""
    pins = prompt_pins(repo)
    rows = []
    for path in prompts.prompt_files(repo):
        spec = prompts.load_prompt_file(path, source=repo.rel(path))
        versions = pins.get(spec.name, {})
        latest = max(versions, key=int) if versions else None
        pin = versions[latest] if latest else {}
        rows.append(PromptFile(
            spec.name, repo.rel(path), spec.sha256, latest, pin.get("sha256"),
            latest is None or pin["sha256"] != spec.sha256
            or pin.get("config_sha256", spec.config_sha256) != spec.config_sha256))
    return rows


def sync_prompts(repo: GovernedRepo, key: SigningKey) -> list[RegisteredPrompt]:
    """Register every prompt file whose template differs from its latest pinned version.
    All files are linted before anything is registered; an unreachable MLflow fails
    (exit 3) even when nothing changed, rather than reporting every file registered."""
    from govctl.adapters import mlflowstore as ml

    ml.ping(repo)
    changed = [r for r in prompt_status(repo) if r.changed]
    problems = []
    for r in changed:
        problems += prompts.lint_file(repo.root / r.file, r.file)
    if problems:
        raise InputError("prompt lint problems, nothing registered:\n"
                         + "\n".join(map(str, problems)))
    return [register_prompt(repo, key, repo.root / r.file) for r in changed]


def _config_of(pv: dict[str, Any]) -> str | None:
    """SHA-256 of the model parameters stored on a prompt version (None: none stored)."""
    import hashlib

    raw = pv["tags"].get(prompts.PARAMS_TAG)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest() if raw is not None else None


def prompt_versions(repo: GovernedRepo, name: str,
                    pins: dict[str, dict[str, dict[str, Any]]] | None = None
                    ) -> list[PromptVersion]:
    from govctl.adapters import mlflowstore as ml

    versions = (pins if pins is not None else prompt_pins(repo)).get(name, {})
    if not versions:
        raise NotFound(f"prompt {name!r} was never registered through govctl")
    out = []
    for version in sorted(versions, key=int):
        try:
            pv = ml.prompt_version(repo, name, version)
        except NotFound:
            pv = None
        out.append(PromptVersion(
            version, versions[version]["sha256"], pv["template"] if pv else None,
            prompts.template_sha256(pv["template"]) if pv else None,
            versions[version].get("config_sha256"), _config_of(pv) if pv else None))
    return out


def verify_prompts(repo: GovernedRepo, name: str | None = None) -> list[Drift]:
    """Templates in MLflow still hash to what govctl pinned; pinned versions still exist."""
    from govctl.adapters import mlflowstore as ml

    ml.ping(repo)
    pins = prompt_pins(repo)
    if name is not None and name not in pins:
        raise NotFound(f"prompt {name!r} was never registered through govctl")
    out = []
    for n in [name] if name else sorted(pins):
        for v in prompt_versions(repo, n, pins):
            if v.template is None or v.sha256 is None:
                out.append(Drift(f"prompt:{n}", "missing-version",
                                 f"version {v.version} is gone from MLflow"))
            elif v.sha256 != v.pinned_sha256:
                out.append(Drift(
                    f"prompt:{n}", "template",
                    f"version {v.version}'s template hashes to {v.sha256[:12]}... but "
                    f"govctl pinned {v.pinned_sha256[:12]}... (rewritten in MLflow)"))
            elif v.pinned_config_sha256 and v.config_sha256 != v.pinned_config_sha256:
                out.append(Drift(
                    f"prompt:{n}", "model-parameters",
                    f"version {v.version}'s model parameters differ from what govctl "
                    "pinned (the govctl.model_parameters tag was rewritten in MLflow)"))
    from govctl.registry import releases

    out += releases.verify_prompt_aliases(repo, [name] if name else sorted(pins))
    return out
