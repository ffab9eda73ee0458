"""Checklist templates, release checklists, sign-offs and waivers.

A template (``checklists/NAME.yaml``) lists items: ``automatic`` ones name an evidence
check, ``signoff`` ones name the role that must sign. ``checklist new`` freezes a copy for
one release in ``checklists/releases/SERVICE/VERSION.yaml``; sign-offs and waivers are
DSSE envelopes, one file each, in ``checklists/releases/SERVICE/VERSION.d/`` (so
concurrent signers never conflict in git). A sign-off covers the digest of the frozen
checklist: editing the checklist makes every sign-off fall away.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from govctl import clock, trust
from govctl.config import GovernedRepo
from govctl.documents import dump_yaml, load_model, model_from_data
from govctl.errors import CheckFailed, InputError, IntegrityError, NotFound
from govctl.fsutil import atomic_write
from govctl.policy import Policies
from govctl.signing import dsse
from govctl.signing.canonical import canonical_bytes, digest
from govctl.signing.dsse import Envelope, Signature
from govctl.signing.keys import SigningKey

Severity = Literal["critical", "high", "medium", "low"]


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    description: str = Field(min_length=1)
    kind: Literal["automatic", "signoff"]
    check: str | None = None
    role: str | None = None
    severity: Severity

    @model_validator(mode="after")
    def _kind(self) -> Item:
        if self.kind == "automatic" and not self.check:
            raise ValueError(f"automatic item {self.id!r} must name its evidence 'check'")
        if self.kind == "signoff" and not self.role:
            raise ValueError(f"signoff item {self.id!r} must name the 'role' that signs")
        return self


def _unique(items: list[Item]) -> None:
    ids = [i.id for i in items]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise ValueError(f"item ids repeat: {', '.join(sorted(dup))}")


class Template(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["govctl.checklist-template/v1"] = Field(
        "govctl.checklist-template/v1", alias="schema")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    description: str = ""
    items: list[Item] = Field(min_length=1)

    @model_validator(mode="after")
    def _ids(self) -> Template:
        _unique(self.items)
        return self


class ReleaseChecklist(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["govctl.release-checklist/v1"] = Field(
        "govctl.release-checklist/v1", alias="schema")
    service: str
    version: str
    template: str
    first_release: bool = False
    created: str
    items: list[Item] = Field(min_length=1)

    @model_validator(mode="after")
    def _ids(self) -> ReleaseChecklist:
        _unique(self.items)
        return self

    def to_doc(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def item(self, item_id: str) -> Item:
        for i in self.items:
            if i.id == item_id:
                return i
        raise NotFound(f"checklist {self.service} v{self.version} has no item {item_id!r} "
                       f"(items: {', '.join(i.id for i in self.items)})")


def load_template(path: Path, *, source: str | None = None) -> Template:
    return load_model(Template, path, source=source)


def load_release_checklist(path: Path, *, source: str | None = None) -> ReleaseChecklist:
    return load_model(ReleaseChecklist, path, source=source)


def _version(version: str) -> str:
    if not re.match(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$", str(version)):
        raise InputError(f"invalid version {version!r}")
    return str(version)


def release_path(repo: GovernedRepo, service: str, version: str) -> Path:
    from govctl.agreements.agreement import check_service_name

    return repo.checklists / "releases" / check_service_name(service) / f"{_version(version)}.yaml"


def evidence_dir(repo: GovernedRepo, service: str, version: str) -> Path:
    return release_path(repo, service, version).with_suffix(".d")


def new(repo: GovernedRepo, service: str, version: str, *, template: str = "prelaunch",
        first_release: bool = False, at: datetime | None = None) -> Path:
    """Freeze ``template`` for one release of ``service``; returns the file it wrote."""
    tpl_path = repo.checklists / f"{template}.yaml"
    if not tpl_path.exists():
        known = ", ".join(p.stem for p in sorted(repo.checklists.glob("*.yaml"))) or "none"
        raise NotFound(f"no checklist template {template!r} (known: {known})")
    tpl = load_template(tpl_path, source=repo.rel(tpl_path))
    path = release_path(repo, service, version)
    if path.exists():
        raise InputError(f"{repo.rel(path)} already exists")
    from govctl.adapters import mlflowstore as ml

    versions = [v["version"] for v in ml.model_versions(repo, service)]
    if str(version) not in versions:  # a checklist is for a version that exists
        raise NotFound(f"{service} has no version {version} in MLflow "
                       f"(versions: {', '.join(versions) or 'none'})",
                       hint="register it first with 'govctl model register'")
    checklist = model_from_data(ReleaseChecklist, {
        "schema": "govctl.release-checklist/v1", "service": service, "version": str(version),
        "template": tpl.name, "first_release": first_release,
        "created": clock.to_iso(at or clock.now()),
        "items": [i.model_dump(exclude_none=True) for i in tpl.items],
    }, repo.rel(path))
    atomic_write(path, dump_yaml(checklist.to_doc(), (
        f"# Release checklist for {service} version {version}, frozen from template "
        f"'{tpl.name}'.\n# Sign-offs cover this file's content: editing it voids them.\n")))
    return path


def load(repo: GovernedRepo, service: str, version: str) -> ReleaseChecklist:
    path = release_path(repo, service, version)
    if not path.exists():
        raise NotFound(f"no release checklist for {service} version {version}",
                       hint=f"create it with 'govctl checklist new {service} --version {version}'")
    cl = load_release_checklist(path, source=repo.rel(path))
    if cl.service != service or cl.version != str(version):
        raise IntegrityError(f"{repo.rel(path)} names {cl.service} v{cl.version}, not "
                             f"{service} v{version}")
    return cl


def _write_envelope(repo: GovernedRepo, service: str, version: str, kind: str, item: str,
                    signer: str, payload: dict[str, Any], key: SigningKey, ptype: str) -> Path:
    body = canonical_bytes(payload)
    env = Envelope(ptype, body, [Signature(key.key_id, key.sign(dsse.pae(ptype, body)))])
    path = evidence_dir(repo, service, version) / f"{kind}-{item}-{signer}.json"
    atomic_write(path, env.dumps())
    return path


def sign_off(repo: GovernedRepo, service: str, version: str, item_id: str, key: SigningKey,
             *, note: str | None = None, at: datetime | None = None) -> dict[str, Any]:
    """Sign one ``signoff`` item with a key holding its role. Nothing is written otherwise."""
    at = at or clock.now()
    # authorization first, before the checklist is read: the key must be an unexpired
    # signer holding a role the policy lets sign off at all ...
    policy = trust.load_verified(repo, at=at)
    subject = {"kind": "service", "name": service, "item": item_id}
    trust.authorize(policy, "checklist.signoff", key, subject, at=at)
    cl = load(repo, service, version)
    item = cl.item(item_id)
    if item.kind != "signoff":
        raise InputError(f"item {item_id!r} is automatic: govctl checks its evidence itself; "
                         "it cannot be signed off (waive it if you must)")
    # ... and then the role this item names
    signer = trust.authorize(policy, "checklist.signoff", key, subject, role=item.role, at=at)
    payload = {"service": service, "version": str(version), "checklist": digest(cl.to_doc()),
               "item": item_id, "role": item.role, "signer": signer.name, "note": note or "",
               "time": clock.to_iso(at)}
    from govctl import ledger

    ledger.require(repo)
    path = _write_envelope(repo, service, version, "signoff", item_id, signer.name, payload, key,
                           dsse.CHECKLIST_SIGNOFF)

    ledger.record(repo, key, "checklist.signoff",
                  {"kind": "service", "name": service, "version": str(version), "item": item_id},
                  evidence={"envelope": digest(payload), "checklist": payload["checklist"]},
                  note=note)
    return {**payload, "file": repo.rel(path)}


def waive(repo: GovernedRepo, service: str, version: str, item_id: str, key: SigningKey, *,
          justification: str, expires: str, at: datetime | None = None) -> dict[str, Any]:
    """Grant a signed, justified, expiring waiver for one item (policy GOV-WAIVERS)."""
    at = at or clock.now()
    # authorization first, before the checklist is read (the trust policy's waiver.grant
    # requirement, then policy GOV-WAIVERS' roles)
    policy = trust.load_verified(repo, at=at)
    subject = {"kind": "service", "name": service, "item": item_id}
    signer = trust.authorize(policy, "waiver.grant", key, subject, at=at)
    policies = Policies.load(repo)
    roles = sorted(waiver_roles(policies))
    if not set(roles) & set(signer.roles):
        raise CheckFailed(f"{signer.name} may not grant waivers: policy GOV-WAIVERS needs one "
                          f"of {', '.join(roles)}; nothing was recorded")
    cl = load(repo, service, version)
    cl.item(item_id)
    if not justification.strip():
        raise InputError("justification must say why the item is waived", field="justification")
    try:
        until = clock.parse_time(expires)
    except ValueError:
        raise InputError(f"expires {expires!r} is not an ISO date", field="expires") from None
    if until <= at:
        raise InputError(f"expires {expires} is not in the future", field="expires")
    max_days = policies.number("GOV-WAIVERS", "max_days", default=30, integer=True, low=1)
    if until - at > timedelta(days=int(max_days)):
        raise InputError(f"a waiver may run at most {max_days} days (policy GOV-WAIVERS); "
                         f"{expires} is {(until - at).days} days away")
    payload = {"service": service, "version": str(version), "checklist": digest(cl.to_doc()),
               "item": item_id, "justification": justification.strip(),
               "granted": clock.to_iso(at), "expires": clock.to_iso(until),
               "granted_by": signer.name}
    from govctl import ledger

    ledger.require(repo)
    path = _write_envelope(repo, service, version, "waiver", item_id, signer.name, payload, key,
                           dsse.WAIVER)

    ledger.record(repo, key, "waiver.grant",
                  {"kind": "service", "name": service, "version": str(version), "item": item_id},
                  evidence={"envelope": digest(payload), "expires": payload["expires"]},
                  note=justification.strip())
    return {**payload, "file": repo.rel(path)}


@dataclass
class Evidence:
    """What the signed files under VERSION.d/ say about one item."""

    signoffs: list[dict[str, Any]]
    waivers: list[tuple[dict[str, Any], bool]]  # (payload, signature valid)
    problems: list[str]
    #: genuine signatures by removed or expired signers: not counted, not tampering
    dead: list[str] = field(default_factory=list)


def waiver_roles(policies: Policies) -> set[str]:
    """Who may grant waivers: policy GOV-WAIVERS ``roles``, else the default requirement."""
    return set(policies.param("GOV-WAIVERS", "roles")
               or trust.DEFAULT_REQUIREMENTS["waiver.grant"]["any_of"])


def _item_of(name: str, items: list[str]) -> str | None:
    """The item a sign-off/waiver file is about, from its name (``KIND-ITEM-SIGNER.json``)."""
    stem = name.split("-", 1)[-1]
    return max((i for i in items if stem.startswith(f"{i}-")), key=len, default=None)


def collect(repo: GovernedRepo, cl: ReleaseChecklist, policy: trust.TrustPolicy,
            at: datetime, *, grant_roles: set[str] | None = None) -> dict[str, Evidence]:
    """Verify every sign-off and waiver file; return what counts per item.

    A file that cannot be read is reported on its item (found from its file name), never
    dropped silently. A sign-off or waiver by a signer since removed from the trust policy
    or whose key expired is *dead* (as for agreements): reported on ``dead`` by name and
    trust version, not counted, not an integrity problem. A waiver counts only if its granter holds one of ``grant_roles`` now
    and it was granted for this version of the checklist.
    """
    out = {i.id: Evidence([], [], []) for i in cl.items}
    d = evidence_dir(repo, cl.service, cl.version)
    current = digest(cl.to_doc())
    if not d.is_dir():
        return out
    former = trust.former_signers(repo, policy)
    ids = [i.id for i in cl.items]
    for path in sorted(d.glob("*.json")):
        source = repo.rel(path)
        kind = "signoff" if path.name.startswith("signoff-") else "waiver"
        ptype = dsse.CHECKLIST_SIGNOFF if kind == "signoff" else dsse.WAIVER
        try:
            env = Envelope.loads(path.read_bytes(), source=source)
            payload = env.payload_json(source=source)
            if not isinstance(payload, dict):
                raise TypeError("not a JSON object")
            item_id = payload["item"]
            if not isinstance(item_id, str):
                raise TypeError("its 'item' is not a string")
        except (IntegrityError, KeyError, TypeError) as exc:
            guess = _item_of(path.name, ids)
            if guess is not None:
                why = (exc.message if isinstance(exc, IntegrityError)
                       else "no 'item' field" if isinstance(exc, KeyError) else str(exc))
                out[guess].problems.append(f"{source} is unreadable and does not count ({why})")
            continue
        ev = out.get(item_id)
        if ev is None:
            continue
        message = dsse.pae(env.payload_type, env.payload)
        live = []
        for sig in env.signatures:
            dead = trust.dead_signature(
                sig, message, policy, former, at, source,
                f"the {kind.replace('signoff', 'sign-off')} must be made again by a current "
                "holder of the role")
            if dead is None:
                live.append(sig)
            else:
                ev.dead.append(dead)
        if env.signatures and not live:
            continue  # every signature dead: reported, not counted, not an integrity failure
        env = Envelope(env.payload_type, env.payload, live)
        action = "checklist.signoff" if kind == "signoff" else "waiver.grant"
        res = trust.evaluate(env, policy, action, payload_type=ptype, at=at, source=source)
        valid = not res.integrity and bool(res.counted)
        if payload.get("service") != cl.service or payload.get("version") != cl.version:
            ev.problems.append(f"{source} is for {payload.get('service')} "
                               f"v{payload.get('version')}, not this release")
            continue
        if res.integrity:
            ev.problems += res.integrity
        if kind == "waiver":
            if valid and grant_roles is not None and not any(
                    payload.get("granted_by") in names
                    for role, names in res.counted.items() if role in grant_roles):
                ev.problems.append(f"{source}: {payload.get('granted_by')} no longer holds a "
                                   f"role that may grant waivers ({', '.join(sorted(grant_roles))})")
                valid = False
            elif valid and payload.get("checklist") != current:
                ev.problems.append(f"{source}: granted for an earlier version of the checklist")
                valid = False
            ev.waivers.append((payload, valid))
            continue
        if not valid:
            continue
        item = cl.item(item_id)
        signer_roles = {r for r, names in res.counted.items() if payload.get("signer") in names}
        if item.role not in signer_roles:
            ev.problems.append(f"{source}: {payload.get('signer')} does not hold {item.role}")
        elif payload.get("checklist") != current:
            ev.problems.append(f"{source}: signed an earlier version of the checklist")
        else:
            ev.signoffs.append(payload)
    return out
