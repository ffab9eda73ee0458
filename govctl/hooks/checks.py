"""The hooks themselves: one function per hook id, each taking one file path."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

from govctl.hooks import Finding, repo_root


def _rel(path: str) -> str:
    return PurePosixPath(Path(path).as_posix()).as_posix()


def _problems(exc: Any, path: str, rule: str) -> list[Finding]:
    problems = getattr(exc, "problems", None)
    if problems:
        return [Finding(path, p.line, rule,
                        f"{p.field + ': ' if p.field else ''}{p.message}") for p in problems]
    msg = getattr(exc, "message", str(exc))
    return [Finding(path, None, rule, msg.split(": ", 1)[-1] if msg.startswith(path) else msg)]


# --- govctl-validate ---------------------------------------------------------------------


def _kind(rel: str) -> str | None:
    p = PurePosixPath(rel)
    parts = p.parts
    if p.suffix not in (".yaml", ".yml"):
        return None
    if rel == "policies/trust.yaml":
        return "trust"
    if len(parts) == 2 and parts[0] == "policies":
        return "policy"
    if len(parts) == 2 and parts[0] == "agreements":
        return "agreement"
    if parts[:2] == ("checklists", "releases"):
        return "release-checklist"
    if len(parts) == 2 and parts[0] == "checklists":
        return "checklist"
    if parts[:2] == ("registry", "datasets") and len(parts) == 3:
        return "dataset"
    if parts[:2] == ("registry", "prompts") and len(parts) == 3:
        return "prompt"
    return None


def validate(path: str, args: argparse.Namespace) -> list[Finding]:
    """Governed documents parse and match their schemas (file, line, field)."""
    from govctl.errors import GovctlError

    rel = _rel(path)
    kind = _kind(rel)
    if kind is None:
        return []
    try:
        if kind == "trust":
            from govctl.documents import load_model
            from govctl.trust.policy import TrustPolicy

            load_model(TrustPolicy, Path(path), source=rel)
        elif kind == "policy":
            from govctl.policy import load_policy

            load_policy(Path(path), source=rel)
        elif kind == "agreement":
            from govctl.agreements.agreement import load_agreement

            load_agreement(Path(path), source=rel)
        elif kind == "checklist":
            from govctl.release.checklists import load_template

            load_template(Path(path), source=rel)
        elif kind == "release-checklist":
            from govctl.release.checklists import load_release_checklist

            load_release_checklist(Path(path), source=rel)
        elif kind == "dataset":
            from govctl.data.datasets import load_entry

            load_entry(Path(path), source=rel)
        elif kind == "prompt":
            from govctl.registry.prompt_specs import load_prompt_file

            load_prompt_file(Path(path), source=rel)
    except GovctlError as exc:
        return _problems(exc, rel, f"invalid-{kind}")
    return []


# --- govctl-signatures -------------------------------------------------------------------


def signatures(path: str, args: argparse.Namespace) -> list[Finding]:
    """A signed document changed in this commit is no longer signed: name who must re-sign."""
    rel = _rel(path)
    kind = _kind(rel)
    root = repo_root()
    if kind == "agreement":
        from govctl.agreements.agreement import signature_status
        from govctl.config import GovernedRepo

        current, roles = signature_status(GovernedRepo(root), Path(path))
        if not current:
            return [Finding(rel, None, "agreement-signature-void",
                            "changed since it was signed; signatures no longer count. "
                            f"Must sign again: {', '.join(roles)}")]
    elif kind == "trust":
        from govctl.documents import load_model
        from govctl.signing.canonical import canonical_bytes
        from govctl.signing.dsse import Envelope
        from govctl.trust.policy import TrustPolicy

        history = sorted((root / "policies" / "trust.history").glob("*.json"))
        if not history:
            return []
        signed = Envelope.loads(history[-1].read_bytes(), source=str(history[-1])).payload
        doc = load_model(TrustPolicy, Path(path), source=rel).to_doc()
        if canonical_bytes(doc) != signed:
            return [Finding(rel, None, "trust-signature-void",
                            "differs from its last signed version; change the trust policy "
                            "with 'govctl trust' (signed by admins), not by hand")]
    elif kind == "release-checklist":
        import json

        from govctl.release.checklists import load_release_checklist
        from govctl.signing.canonical import digest

        cl = load_release_checklist(Path(path), source=rel)
        signed_digest = digest(cl.to_doc())
        d = Path(path).with_suffix(".d")
        stale = []
        for f in sorted(d.glob("signoff-*.json")) if d.is_dir() else []:
            import base64

            payload = json.loads(base64.b64decode(json.loads(f.read_text())["payload"]))
            if payload.get("checklist") != signed_digest:
                stale.append(f"{payload.get('item')} ({payload.get('role')})")
        if stale:
            return [Finding(rel, None, "checklist-signature-void",
                            "changed after sign-off; these must sign again: "
                            + ", ".join(stale))]
    return []


def _signature_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--mode", choices=("warn", "fail"), default="fail",
                    help="warn: report but do not block the commit")


signatures.add_arguments = _signature_args  # type: ignore[attr-defined]


# --- govctl-prompt-lint ------------------------------------------------------------------


def prompt_lint(path: str, args: argparse.Namespace) -> list[Finding]:
    """The registry's prompt lint: variables, braces, length, secrets, PII."""
    from govctl.errors import GovctlError
    from govctl.registry.promptlint import lint_file

    rel = _rel(path)
    try:
        problems = lint_file(Path(path), rel)
    except GovctlError as exc:
        return _problems(exc, rel, "invalid-prompt")
    out = []
    for p in problems:
        rule, _, msg = p.message.partition(": ")
        out.append(Finding(rel, p.line, rule, msg))
    return out


# --- govctl-data-guard -------------------------------------------------------------------

DATA_PATTERNS = ["*.csv", "*.tsv", "*.jsonl", "*.ndjson", "*.parquet", "*.feather", "*.arrow",
                 "*.avro", "*.orc", "*.npy", "*.npz", "*.pkl", "*.pickle", "*.h5", "*.hdf5",
                 "*.pt", "*.pth", "*.ckpt", "*.safetensors", "*.onnx", "*.bin", "*.zip",
                 "*.tar", "*.tar.gz", "*.tgz", "*.gz", "*.xlsx", "*.sqlite", "*.db"]


def _inventory_paths(root: Path) -> set[str]:
    import yaml

    out = set()
    d = root / "registry" / "datasets"
    for f in d.glob("*.yaml") if d.is_dir() else []:
        try:
            data = yaml.safe_load(f.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue  # an unreadable entry: the inventory's own checks report it
        if isinstance(data, dict):
            out.add(str(data.get("path", "")))
    return out


def data_guard(path: str, args: argparse.Namespace) -> list[Finding]:
    """Large or data-like files belong in DVC, not git; DVC-tracked data must be inventoried."""
    import yaml

    rel = _rel(path)
    name = PurePosixPath(rel).name
    if name.endswith(".dvc"):
        try:
            data = yaml.safe_load(Path(path).read_text("utf-8")) or {}
        except yaml.YAMLError as exc:
            return [Finding(rel, None, "invalid-dvc-file", f"not valid YAML: {exc}".splitlines()[0])]
        outs = data.get("outs") if isinstance(data, dict) else None
        if not isinstance(outs, list) or not all(isinstance(o, dict) for o in outs):
            return [Finding(rel, None, "invalid-dvc-file",
                            "not a DVC file: expected a mapping with an 'outs' list of entries")]
        root = repo_root()
        known = _inventory_paths(root)
        out = []
        for o in outs:
            target = (PurePosixPath(rel).parent / str(o.get("path", ""))).as_posix()
            if target not in known:
                out.append(Finding(rel, None, "dvc-not-inventoried",
                                   f"{target} is tracked by DVC but not in the dataset inventory;"
                                   " run 'govctl data add' to classify it"))
        return out
    size = os.path.getsize(path)
    patterns = args.pattern or DATA_PATTERNS
    import fnmatch

    data_like = any(fnmatch.fnmatch(name, p) for p in patterns)
    if size > args.max_kb * 1024:
        return [Finding(rel, None, "large-file",
                        f"{size / 1e6:.1f} MB is too large for git (limit {args.max_kb} KB); "
                        "track it with 'govctl data add' (DVC)")]
    if data_like and size > args.data_kb * 1024:
        return [Finding(rel, None, "data-in-git",
                        f"data file of {size / 1e3:.0f} KB must be tracked by DVC, not committed "
                        "to git; use 'govctl data add'")]
    return []


def _data_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--max-kb", type=int, default=1024, help="any file larger than this")
    ap.add_argument("--data-kb", type=int, default=100, help="data-like files larger than this")
    ap.add_argument("--pattern", action="append", help="data-like glob (repeatable; replaces "
                    "the defaults)")


data_guard.add_arguments = _data_args  # type: ignore[attr-defined]


# --- govctl-secrets ----------------------------------------------------------------------

PRIVATE_KEY = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")


def secrets(path: str, args: argparse.Namespace) -> list[Finding]:
    """No private keys (govctl's or others'), API-key patterns or .env files."""
    from govctl.patterns import SECRET_PATTERNS

    rel = _rel(path)
    name = PurePosixPath(rel).name
    out = []
    if name == ".env" or (name.startswith(".env.") and not name.endswith(
            (".example", ".sample", ".template"))):
        out.append(Finding(rel, None, "env-file", ".env files hold secrets; keep them out of git"))
    raw = Path(path).read_bytes()
    if b"\0" in raw[:8192]:
        return out
    for m in PRIVATE_KEY.finditer(raw):
        line = raw.count(b"\n", 0, m.start()) + 1
        out.append(Finding(rel, line, "private-key",
                           "a private key; keys never enter a repo (govctl keeps them in "
                           "$GOVCTL_HOME/keys)"))
    text = raw.decode("utf-8", errors="replace")
    for rule, pattern in SECRET_PATTERNS:
        if rule == "private-key":
            continue
        for hit in pattern.finditer(text):
            line = text.count("\n", 0, hit.start()) + 1
            out.append(Finding(rel, line, "api-key", f"looks like a {rule}"))
    return out


HOOKS = {
    "validate": validate,
    "signatures": signatures,
    "prompt-lint": prompt_lint,
    "data-guard": data_guard,
    "secrets": secrets,
}
