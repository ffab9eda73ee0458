"""``govctl init``: turn a directory into a governed repo. Safe to run again."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from govctl import trust
from govctl.config import (
    CONFIG_FILE,
    STATE_DIR,
    GovernedRepo,
    has_credentials,
    load_settings,
    redact_url,
    resolve_sqlite,
)
from govctl.errors import InputError
from govctl.fsutil import atomic_write
from govctl.ledger.log import Ledger
from govctl.packs import copy_packs
from govctl.serialize import JsonFields
from govctl.signing.keys import KeyStore, check_name
from govctl.trust.merge import ATTRIBUTE, COMMAND, DRIVER

CONFIG_TEMPLATE = """\
# govctl settings for this governed repo (see the README, "Configuration").
[govctl]
format = 1
# Digest of trust policy version 1, the root every later version chains back to.
trust_root = "{trust_root}"
# Where the ledger lives. Default: SQLite in .govctl/ledger.db. Teams use PostgreSQL:
# ledger_url = "postgresql+psycopg://govctl@db.internal/govctl"
# The team's MLflow store (govctl init --mlflow-tracking-uri URI). Default: SQLite in
# .govctl/mlflow.db. MLFLOW_TRACKING_URI overrides it; relative sqlite:/// paths are
# relative to this folder. Never a password or token here: this file is committed.
{mlflow}"""
MLFLOW_EXAMPLE = '# mlflow_tracking_uri = "sqlite:///mlflow.db"\n'
STORES = ("tracking", "registry")


@dataclass
class InitReport(JsonFields):
    root: Path  # the fields in the order ``init --json`` has always printed them
    admin: str = ""
    admin_key_id: str = ""
    key_generated: bool = False
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)  # the MLflow ones, redacted



def init(path: Path, admin: str, *, keystore: KeyStore | None = None,
         mlflow_tracking_uri: str | None = None,
         mlflow_registry_uri: str | None = None) -> InitReport:
    """Govern ``path``. ``mlflow_tracking_uri`` / ``mlflow_registry_uri`` pin the team's
    MLflow store in ``govctl.toml``: checked to exist before anything is written, never
    replacing a store already pinned there."""
    check_name(admin)
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise InputError(f"{path} is a file, not a directory")
    keystore = keystore or KeyStore()
    report = InitReport(path.resolve() if path.exists() else path.absolute(), admin=admin)
    pins = _plan_mlflow(report.root, {"tracking": mlflow_tracking_uri,
                                      "registry": mlflow_registry_uri})

    # Load (or make) the admin key first: a wrong passphrase must change nothing.
    if keystore.exists(admin):
        key = keystore.load(admin)
    else:
        keystore.generate(admin)
        key = keystore.load(admin)
        report.key_generated = True
    report.admin_key_id = key.key_id

    from govctl.adapters import dvcrepo, gitrepo

    path.mkdir(parents=True, exist_ok=True)
    root = path.resolve()
    report.root = root
    if gitrepo.init_repo(root):
        report.created.append(".git")
    if dvcrepo.init_repo(root):
        report.created.append(".dvc")

    packs = copy_packs(root)
    report.created += packs.created
    report.kept += packs.kept
    for rel in packs.kept:
        report.notes.append(f"kept your edited {rel} (the default differs)")

    agreements = root / "agreements"
    if not agreements.exists():
        agreements.mkdir()
        (agreements / ".gitkeep").touch()
        report.created.append("agreements/")

    gitignore = root / ".gitignore"
    lines = gitignore.read_text("utf-8").splitlines() if gitignore.exists() else []
    if f"{STATE_DIR}/" not in lines and STATE_DIR not in lines:
        atomic_write(gitignore, "\n".join([*lines, f"{STATE_DIR}/"]) + "\n")
        report.created.append(".gitignore entry .govctl/")

    repo = GovernedRepo(root, load_settings(root))
    new_trust = False
    if repo.trust_file.exists():
        policy = trust.verify(repo).policy
        if not any(s.key_id == key.key_id for s in policy.signers):
            report.notes.append(
                f"the trust policy already exists and {admin} is not in it; "
                "an admin adds it with 'govctl trust add'"
            )
    else:
        trust.create(repo, key)
        new_trust = True
        report.created.append("policies/trust.yaml")

    config = root / CONFIG_FILE
    if not config.exists():
        pinned = "".join(f"{k} = {_toml_str(v)}\n" for k, v in pins.items()) or MLFLOW_EXAMPLE
        atomic_write(config, CONFIG_TEMPLATE.format(trust_root=trust.root_digest(repo),
                                                    mlflow=pinned))
        report.created.append(CONFIG_FILE)
    else:
        if new_trust or not load_settings(root).get("trust_root"):
            _pin(config, "trust_root", trust.root_digest(repo))
            report.notes.append(f"pinned trust_root in your existing {CONFIG_FILE}")
        for setting, value in pins.items():
            _pin(config, setting, value)
            report.created.append(f"{CONFIG_FILE} {setting}")
    repo = GovernedRepo(root, load_settings(root))
    _note_mlflow(repo, report)
    if gitrepo.set_merge_driver(root, DRIVER, "govctl ledger.checkpoint: keep the larger "
                                "consistent head", COMMAND):
        report.created.append("git merge driver govctl-checkpoint")
    attrs = root / ".gitattributes"
    alines = attrs.read_text("utf-8").splitlines() if attrs.exists() else []
    if ATTRIBUTE not in alines:
        atomic_write(attrs, "\n".join([*alines, ATTRIBUTE]) + "\n")
        report.created.append(".gitattributes entry ledger.checkpoint")

    ledger = Ledger.for_repo(repo)
    ledger.init()
    if new_trust:
        from govctl.adapters.gitrepo import head_commit

        policy = trust.read_current(repo)
        commit = head_commit(root)
        ledger.append(
            key, "repo.init", {"kind": "repo", "name": root.name},
            evidence={"trust_root": trust.root_digest(repo)}, git_commit=commit,
        )
        ledger.append(
            key, "trust.update", {"kind": "trust", "name": "policy", "version": 1},
            evidence={"digest": trust.policy_digest(policy)}, git_commit=commit,
        )
    return report


def _plan_mlflow(root: Path, uris: dict[str, str | None]) -> dict[str, str]:
    """The MLflow settings to write into ``govctl.toml``, each checked before anything is
    written: no control characters, no password or token (the file is committed), not
    replacing a different store already pinned, and naming a store that exists."""
    from govctl.adapters import mlflowcheck

    settings = load_settings(root) if (root / CONFIG_FILE).is_file() else {}
    plan: dict[str, str] = {}
    for which in STORES:
        value = uris.get(which)
        if value is None:
            continue
        option, setting = f"--mlflow-{which}-uri", f"mlflow_{which}_uri"
        value = value.strip()
        if not value or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise InputError(f"{option}: give a URI (no spaces or control characters)")
        if has_credentials(value):
            raise InputError(
                f"{option} {redact_url(value)}: the URI holds a password or token, and "
                f"{CONFIG_FILE} is committed to git; nothing was written",
                hint="pin the URI without it and give the secret the way MLflow reads it: "
                     "MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN for a server, "
                     "~/.pgpass or PGPASSWORD for PostgreSQL (or export the whole URI as "
                     f"MLFLOW_{which.upper()}_URI instead)")
        current = settings.get(setting)
        if current is not None:
            if isinstance(current, str) and \
                    resolve_sqlite(current, root) == resolve_sqlite(value, root):
                continue  # already pinned: nothing to do
            raise InputError(
                f"{root / CONFIG_FILE} already pins {setting} = {redact_url(str(current))}; "
                f"init never replaces a configured store ({option} {redact_url(value)} "
                "refused, nothing was written)",
                hint=f"if the team's store really moved, change {setting} in {CONFIG_FILE} "
                     "and commit it")
        mlflowcheck.check_store(resolve_sqlite(value, root), f"{option}")
        plan[setting] = value
    return plan


def _note_mlflow(repo: GovernedRepo, report: InitReport) -> None:
    """The pinned MLflow settings for the report (redacted), and a warning when the shell
    names a store that govctl.toml does not: it holds only while the variable is set."""
    import os

    for which in STORES:
        setting, env = f"mlflow_{which}_uri", f"MLFLOW_{which.upper()}_URI"
        if isinstance(value := repo.settings.get(setting), str):
            report.settings[setting] = redact_url(value)
        elif os.environ.get(env) and which == "tracking":
            report.notes.append(
                f"{env} is set in this shell ({redact_url(os.environ[env])}) but not pinned "
                f"in {CONFIG_FILE}: without it govctl uses the embedded store; pin the "
                f"team's store with 'govctl init . --admin {report.admin} "
                f"--mlflow-tracking-uri URI'")


def _toml_str(value: str) -> str:
    """``value`` as a TOML basic string (JSON's escapes are TOML's; non-ASCII kept as is,
    since TOML has no surrogate-pair escapes)."""
    import json

    return json.dumps(value, ensure_ascii=False)


def _pin(config: Path, setting: str, value: str) -> None:
    """Write ``setting = "value"`` into an existing govctl.toml's ``[govctl]`` table,
    replacing that setting's line (or the template's commented example of it) if there is
    one (the team docs have operators write ``ledger_url`` before ``init``). The result
    must read back as written."""
    import re
    import tomllib

    text = config.read_text("utf-8")
    line = f"{setting} = {_toml_str(value)}"
    active = re.compile(rf"(?m)^{re.escape(setting)}\s*=.*$")
    example = re.compile(rf"(?m)^#\s*{re.escape(setting)}\s*=.*$")  # the template's
    if active.search(text):
        text = active.sub(lambda _: line, text, count=1)
    elif example.search(text):
        text = example.sub(lambda _: line, text, count=1)
    elif re.search(r"(?m)^\[govctl\]\s*$", text):
        text = re.sub(r"(?m)^\[govctl\]\s*$", lambda _: "[govctl]\n" + line, text, count=1)
    else:
        text = "[govctl]\n" + line + "\n" + text
    try:
        readback = tomllib.loads(text).get("govctl", {}).get(setting)
    except ValueError:
        readback = None
    if readback != value:
        raise InputError(f"{config}: cannot add {setting} (invalid TOML)")
    atomic_write(config, text)
