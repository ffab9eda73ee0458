"""``govctl init``: turn a directory into a governed repo. Safe to run again."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govctl import trust
from govctl.config import CONFIG_FILE, STATE_DIR, GovernedRepo, load_settings
from govctl.errors import InputError
from govctl.fsutil import atomic_write
from govctl.ledger.log import Ledger
from govctl.packs import copy_packs
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
"""


@dataclass
class InitReport:
    root: Path
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    admin: str = ""
    admin_key_id: str = ""
    key_generated: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "admin": self.admin,
            "admin_key_id": self.admin_key_id,
            "key_generated": self.key_generated,
            "created": self.created,
            "kept": self.kept,
            "notes": self.notes,
        }


def init(path: Path, admin: str, *, keystore: KeyStore | None = None) -> InitReport:
    check_name(admin)
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise InputError(f"{path} is a file, not a directory")
    keystore = keystore or KeyStore()
    report = InitReport(path.resolve() if path.exists() else path.absolute(), admin=admin)

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
        atomic_write(config, CONFIG_TEMPLATE.format(trust_root=trust.root_digest(repo)))
        report.created.append(CONFIG_FILE)
    elif new_trust or not load_settings(root).get("trust_root"):
        _pin_trust_root(config, trust.root_digest(repo))
        report.notes.append(f"pinned trust_root in your existing {CONFIG_FILE}")
    repo = GovernedRepo(root, load_settings(root))
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


def _pin_trust_root(config: Path, digest: str) -> None:
    """Write ``trust_root`` into an existing govctl.toml's ``[govctl]`` table (the team docs
    have operators write ``ledger_url`` before ``init``)."""
    import re

    text = config.read_text("utf-8")
    line = f'trust_root = "{digest}"'
    if re.search(r"(?m)^trust_root\s*=.*$", text):
        text = re.sub(r"(?m)^trust_root\s*=.*$", line, text, count=1)
    elif re.search(r"(?m)^\[govctl\]\s*$", text):
        text = re.sub(r"(?m)^\[govctl\]\s*$", "[govctl]\n" + line, text, count=1)
    else:
        text = "[govctl]\n" + line + "\n" + text
    load = __import__("tomllib").loads
    try:
        load(text)
    except ValueError:
        raise InputError(f"{config}: cannot add trust_root (invalid TOML)") from None
    atomic_write(config, text)
