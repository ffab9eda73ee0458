"""The ledger's derived state against a replay of its entries.

:func:`check` compares the stored table with a replay of the derivation rules, and every
indexed query with the whole-ledger scan it replaces (the code the queries took over from),
so a rule that drifts from what the callers meant fails here. Cheap on a test's ledger.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from govctl.config import find_repo
from govctl.ledger.log import Ledger
from govctl.release.standing import RELEASE_ACTIONS

DONE = ("done", "complete")


def _scan_aliases(entries: list[Any], key: str, field: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for e in entries:
        if e.phase not in DONE or not isinstance(e.evidence.get(field), dict):
            continue
        if field == "aliases":
            moves = {e.subject_key: e.evidence["aliases"]}
        else:
            moves = e.evidence["prompt_aliases"]
        for owner, aliases in moves.items():
            for alias, version in aliases.items():
                if version is None:
                    out.setdefault(owner, {}).pop(alias, None)
                else:
                    out.setdefault(owner, {})[alias] = str(version)
    return {k: v for k, v in out.items() if v and (not key or k == key)}


def check(root: Path) -> None:
    ledger = Ledger.for_repo(find_repo(root))
    if not ledger.store.exists():
        return
    assert ledger.state_differences() == []
    entries = list(ledger.entries())
    closed = {e.intent for e in entries if e.intent is not None}
    assert [e.seq for e in ledger.open_intents()] == [
        e.seq for e in entries if e.phase == "intent" and e.seq not in closed]
    services = {e.subject["name"] for e in entries if e.subject.get("kind") == "service"}
    for name in sorted(services):
        subject = {"kind": "service", "name": name}
        mine = [e for e in entries if e.subject_key == f"service:{name}"]
        assert ledger.aliases(subject) == _scan_aliases(mine, f"service:{name}", "aliases").get(
            f"service:{name}", {})
        assert [e.seq for e in ledger.moves(subject)] == [
            e.seq for e in mine if e.phase in DONE and isinstance(e.evidence.get("aliases"), dict)]
        assert [e.seq for e in ledger.open_intents(subject)] == [
            e.seq for e in mine if e.phase == "intent" and e.seq not in closed]
        for env in {e.evidence.get("env") for e in mine} - {None}:
            hist = [e.seq for e in mine if e.action in RELEASE_ACTIONS and e.phase in DONE
                    and e.evidence.get("env") == env]
            got = ledger.last(subject, RELEASE_ACTIONS, env)
            assert (got.seq if got else None) == (hist[-1] if hist else None), (name, env)
    for action in ("model.register", "prompt.register"):
        last: dict[tuple[str, str], int] = {}
        for e in entries:
            if e.action == action and e.phase == "complete" and "version" in e.evidence:
                last[(e.subject_key, str(e.evidence["version"]))] = e.seq
        assert [e.seq for e in ledger.versions(action)] == sorted(last.values())
    assert ledger.prompt_aliases() == _scan_aliases(entries, "", "prompt_aliases")


def every_role(root: Path, key: Any) -> None:
    """Give the repo's first signer (the admin) every role, so that the entries
    :func:`exercise` writes pass an audit that replays authority."""
    from govctl import trust

    gov = find_repo(root)
    signers = [s.model_dump(exclude_none=True) for s in trust.read_current(gov).signers]
    signers[0]["roles"] = ["admin", "eng-lead", "product-owner", "compliance", "ml-engineer",
                           "releaser", "oncall"]
    trust.amend(gov, {"signers": signers}, [key])


def exercise(ledger: Ledger, key: Any) -> None:
    """Entries of every kind the derived state follows: registrations, intents completed,
    aborted and left open, aliases set and removed, prompt aliases, releases per env."""
    bot, other = {"kind": "service", "name": "bot"}, {"kind": "service", "name": "other"}
    for name, v in (("bot", "1"), ("bot", "2"), ("other", "1")):
        s = {"kind": "service", "name": name}
        i = ledger.intent(key, "model.register", s, evidence={"run_id": v})
        ledger.complete(key, i, evidence={"run_id": v, "version": v, "prompts": {"p": "1"}})
    i = ledger.intent(key, "prompt.register", {"kind": "prompt", "name": "p"})
    ledger.complete(key, i, evidence={"version": "1", "sha256": "x"})
    ev = {"env": "production", "aliases": {"production-canary": "1"}, "weight_bps": 500,
          "prompt_aliases": {"p": {"production-canary": "1"}}}
    ledger.complete(key, ledger.intent(key, "release.promote", bot, evidence=ev), evidence=ev)
    ev = {"env": "production", "aliases": {"production": "1", "production-canary": None},
          "weight_bps": 0, "prompt_aliases": {"p": {"production": "1", "production-canary": None}}}
    ledger.complete(key, ledger.intent(key, "canary.promote", bot, evidence=ev), evidence=ev)
    ev = {"env": "staging", "aliases": {"staging": "2"}, "weight_bps": 0}
    ledger.complete(key, ledger.intent(key, "release.promote", bot, evidence=ev), evidence=ev)
    ledger.abort(key, ledger.intent(key, "model.alias", other, evidence={"aliases": {"x": "1"}}))
    ledger.intent(key, "canary.step", bot, evidence={"env": "production",
                                                     "aliases": {"production-canary": "2"}})
    ledger.append(key, "canary.analyze", {**bot, "version": "2"},
                  evidence={"env": "production", "verdict": "pass"})
