"""Release history: which version served each environment, when, changed by whom and why.

Replayed from the signed ledger alone (MLflow holds only the present): every completed
entry of a service whose evidence moves aliases (promotions, canary steps, automatic canary
rollbacks, aborts, emergency rollbacks, aliases set by hand) is a :class:`Change`. The alias
``ENV`` is the stable version of ENV and ``ENV-canary`` the candidate, as in
:mod:`govctl.release.transitions`. Prompt versions are those the change's evidence names
(``prompts``), else the latest version of each prompt registered in the ledger before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from govctl import clock
from govctl.config import GovernedRepo
from govctl.errors import InputError, NotFound

ACTION_WORDS = {
    "release.promote": "promotion",
    "canary.step": "canary step passed",
    "canary.promote": "canary passed every step: made stable",
    "canary.rollback": "automatic canary rollback",
    "canary.abort": "canary aborted",
    "release.rollback": "emergency rollback",
    "model.alias": "alias set by hand",
}
CANARY_SUFFIX = "-canary"


def words(action: str) -> str:
    return ACTION_WORDS.get(action, action)


@dataclass
class Change:
    seq: int
    time: str
    env: str
    action: str
    by: str
    why: str | None
    stable: str | None
    canary: str | None
    canary_weight_pct: float
    previous_stable: str | None
    previous_canary: str | None
    prompts: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "time": self.time, "env": self.env, "action": self.action,
                "what": words(self.action), "by": self.by, "why": self.why,
                "stable": self.stable, "canary": self.canary,
                "canary_weight_pct": self.canary_weight_pct,
                "previous_stable": self.previous_stable,
                "previous_canary": self.previous_canary, "prompts": self.prompts}


@dataclass
class Served:
    """What served ENV at a moment, and the change that made it so."""

    env: str
    at: str
    stable: str | None
    canary: str | None
    canary_weight_pct: float
    prompts: dict[str, str]
    change: Change | None

    def to_json(self) -> dict[str, Any]:
        return {"env": self.env, "at": self.at, "stable": self.stable, "canary": self.canary,
                "canary_weight_pct": self.canary_weight_pct, "prompts": self.prompts,
                "since": self.change.time if self.change else None,
                "change": self.change.to_json() if self.change else None}


@dataclass
class Period:
    """One version's uninterrupted time as ENV's stable version."""

    env: str
    version: str
    start: Change
    end: Change | None

    def to_json(self) -> dict[str, Any]:
        return {"env": self.env, "version": self.version, "from": self.start.time,
                "until": self.end.time if self.end else None,
                "started_by": self.start.to_json(),
                "ended_by": self.end.to_json() if self.end else None}


@dataclass
class History:
    service: str
    changes: list[Change]

    def envs(self) -> list[str]:
        return sorted({c.env for c in self.changes})

    def for_env(self, env: str | None) -> list[Change]:
        return [c for c in self.changes if env is None or c.env == env]

    def at(self, when: datetime, env: str = "production") -> Served:
        before = [c for c in self.for_env(env) if clock.parse_time(c.time) <= when]
        last = before[-1] if before else None
        return Served(env, clock.to_iso(when), last.stable if last else None,
                      last.canary if last else None, last.canary_weight_pct if last else 0.0,
                      last.prompts if last else {}, last)

    def periods(self, env: str = "production") -> list[Period]:
        out: list[Period] = []
        for c in self.for_env(env):
            if c.stable == c.previous_stable:
                continue
            if out and out[-1].end is None:
                out[-1].end = c
            if c.stable:
                out.append(Period(env, c.stable, c, None))
        return out

    def to_json(self, env: str | None = None) -> dict[str, Any]:
        envs = [env] if env else self.envs()
        return {"service": self.service,
                "changes": [c.to_json() for c in self.for_env(env)],
                "periods": {e: [p.to_json() for p in self.periods(e)] for e in envs}}


def _env_of(alias: str) -> tuple[str, bool]:
    if alias.endswith(CANARY_SUFFIX):
        return alias[: -len(CANARY_SUFFIX)], True
    return alias, False


def _why(e: Any) -> str | None:
    ev = e.evidence
    return ev.get("reason") or (ev.get("analysis") or {}).get("reason") or e.note


def from_entries(service: str, entries: list[Any]) -> History:
    """Replay ledger entries (in ledger order): the service's alias moves, and prompt
    registrations for the prompt versions in force at each change."""
    prompts: dict[str, str] = {}
    state: dict[str, dict[str, Any]] = {}  # env -> stable, canary, weight_pct
    changes: list[Change] = []
    for e in entries:
        if e.phase not in ("complete", "done"):
            continue
        if e.action == "prompt.register":
            v = str(e.evidence.get("version", ""))
            name = e.subject.get("name")
            if v and name and (name not in prompts or int(v) > int(prompts[name])):
                prompts[name] = v
            continue
        aliases = e.evidence.get("aliases")
        if e.subject.get("name") != service or not isinstance(aliases, dict):
            continue
        touched: dict[str, dict[str, Any]] = {}
        for alias, version in aliases.items():
            env, is_canary = _env_of(str(alias))
            now = touched.setdefault(env, dict(state.get(
                env, {"stable": None, "canary": None, "weight": 0.0})))
            now["canary" if is_canary else "stable"] = None if version is None else str(version)
        for env, now in touched.items():
            if e.evidence.get("env") == env and "weight_bps" in e.evidence:
                now["weight"] = int(e.evidence["weight_bps"]) / 100
            if now["canary"] is None:
                now["weight"] = 0.0
            before = state.get(env, {"stable": None, "canary": None})
            pins = {str(k): str(v) for k, v in (e.evidence.get("prompts") or prompts).items()}
            changes.append(Change(e.seq, e.time, env, e.action, e.actor.get("name", "?"),
                                  _why(e), now["stable"], now["canary"], now["weight"],
                                  before["stable"], before["canary"], dict(sorted(pins.items()))))
            state[env] = now
    return History(service, changes)


def history(repo: GovernedRepo, service: str) -> History:
    from govctl.ledger.log import Ledger

    ledger = Ledger.for_repo(repo)
    entries = sorted([*ledger.moves({"kind": "service", "name": service}),
                      *ledger.versions("prompt.register")], key=lambda e: e.seq)
    return from_entries(service, entries)


def parse_at(text: str) -> datetime:
    try:
        return clock.parse_time(text.strip())
    except ValueError:
        raise InputError(f"at {text!r}: not a time; use ISO 8601, e.g. 2026-03-03T14:05 "
                         "(UTC unless it names an offset)", field="at") from None


def served_at(repo: GovernedRepo, service: str, when: datetime | str,
              env: str = "production") -> Served:
    """What served ``env`` at ``when`` (a time, or ISO 8601 text) and the change that made
    it so."""
    if isinstance(when, str):
        when = parse_at(when)
    h = history(repo, service)
    if not h.changes:
        raise NotFound(f"the ledger records no release of {service}")
    return h.at(when, env)


# --- one version's life ----------------------------------------------------------------

def version_events(h: History, version: str) -> list[dict[str, Any]]:
    """The changes that moved ``version`` in or out of an environment, in plain words."""
    out: list[dict[str, Any]] = []
    for c in h.changes:
        what = None
        if c.canary == version and c.previous_canary != version:
            what = f"canary started in {c.env} at {c.canary_weight_pct:g}% of traffic"
        elif c.canary == version and c.action == "canary.step":
            what = f"canary step passed in {c.env}: now {c.canary_weight_pct:g}% of traffic"
        elif c.previous_canary == version and c.canary != version and c.stable != version:
            what = f"canary ended in {c.env}: {words(c.action)}"
        if c.stable == version and c.previous_stable != version:
            what = (f"restored as stable in {c.env} by an emergency rollback from "
                    f"v{c.previous_stable}" if c.action == "release.rollback"
                    else f"became stable in {c.env} ({words(c.action)})")
        elif c.previous_stable == version and c.stable != version:
            what = (f"rolled back in {c.env}: v{c.stable} is stable again"
                    if c.action == "release.rollback"
                    else f"superseded in {c.env} by v{c.stable} ({words(c.action)})")
        if what:
            out.append({"time": c.time, "seq": c.seq, "env": c.env, "what": what, "by": c.by,
                        "why": c.why, "action": c.action})
    return out


def version_status(h: History, version: str) -> list[dict[str, Any]]:
    """Per environment the version ever served: serving now (stable or canary), or no
    longer, since when, how, by whom and why."""
    out = []
    for env in h.envs():
        mine = [c for c in h.for_env(env) if version in (c.stable, c.canary)]
        if not mine:
            continue
        last = h.for_env(env)[-1]
        role = ("stable" if last.stable == version else
                "canary" if last.canary == version else None)
        entry: dict[str, Any] = {"env": env, "serving": role, "first": mine[0].time}
        if role is None:
            gone = next(c for c in h.for_env(env) if c.seq > mine[-1].seq)
            entry.update({"since": gone.time, "how": words(gone.action), "action": gone.action,
                          "by": gone.by, "why": gone.why, "now_stable": last.stable,
                          "was": "stable" if mine[-1].stable == version else "canary"})
        out.append(entry)
    return out
