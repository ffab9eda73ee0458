"""Replay authority over the ledger: who was allowed to do what, at each point of the log.

The ``trust.update`` entries, in ledger order, say which trust policy version was in force;
every entry's actor must have held a role that version allows for the entry's action, and
every checkpoint's signer must have been a signer then. A trusted key rewriting someone
else's old entry (and re-signing every later checkpoint) is caught: the rewritten entry
now names an actor who lacked that authority. What this checkout cannot judge because its
trust history is older than the ledger is reported as *behind* (exit 1), not as tampering.
"""

from __future__ import annotations

from typing import Any

from govctl.config import GovernedRepo
from govctl.errors import IntegrityError
from govctl.trust import facts
from govctl.trust.constants import TRUST_UPDATE
from govctl.trust.facts import PolicyFacts

#: ledger action -> the trust-policy requirement that authorizes it (None: any signer)
CANARY = "canary.advance"
RULES: dict[str, str | None] = {
    "canary.step": CANARY, "canary.promote": CANARY, "canary.rollback": CANARY,
    "canary.abort": CANARY, "canary.analyze": CANARY, "release.rollback": "rollback",
    "lock.break": "lock.break",
}
LOCK_BREAK_ROLES = ("admin", "oncall")


def rule_for(data: dict[str, Any]) -> str | None:
    action = str(data.get("action"))
    if data.get("phase") in ("complete", "abort"):
        return None  # finishing an authorized intent adds no authority
    if action == "lock.break" and (data.get("evidence") or {}).get("automatic") is True:
        return None  # a dead process's lease on the breaker's own host: anyone may clear it
    if action == "release.promote":
        return f"promote.{(data.get('evidence') or {}).get('env', 'production')}"
    return RULES.get(action, action)


class Replay:
    """The authority replay of one checkout's trust history (its signed versions, read and
    validated on first use, or taken from this clone's last verification: :meth:`adopt`)."""

    def __init__(self, repo: GovernedRepo) -> None:
        self.repo = repo
        self._chain: list[PolicyFacts] | None = None
        self._digest: str | None = None
        self.version = 1
        self.recorded = 0
        self.ahead_at: int | None = None  # the ledger knows a version this checkout lacks
        #: (version, key id, rule) found allowed: the answer depends on nothing else, and a
        #: ledger holds few such triples among its many entries (audit verify's hot loop)
        self._allowed: set[tuple[int, str, str | None]] = set()
        self._known_ids: set[str] | None = None

    @property
    def chain(self) -> list[PolicyFacts]:
        if self._chain is None:
            from govctl.trust.policy import history

            before = facts.history_digest(self.repo)
            self._chain = [facts.of(p) for p, _ in history(self.repo)]
            # the fingerprint is of the files the chain was read from: changed meanwhile
            # (a git pull), it matches no mark, and none is made from this run
            after = facts.history_digest(self.repo)
            self._digest = before if before == after else "changed while it was read"
        return self._chain

    def adopt(self, data: Any) -> bool:
        """Take the chain from what :meth:`facts_json` wrote when this clone last verified
        the ledger over the same history files (the caller checked :meth:`fingerprint`)."""
        self._known_ids = None
        try:
            self._chain = facts.from_json(data)
        except ValueError:
            self._chain = None  # read from the files on first use
            return False
        return True

    def facts_json(self) -> list[dict[str, Any]]:
        return facts.to_json(self.chain)

    def _policy(self) -> PolicyFacts:
        return self.chain[self.version - 1]

    def _unknown(self, kid: str) -> bool:
        if self._known_ids is None:
            self._known_ids = {s.key_id for p in self.chain for s in p.signers}
        return kid not in self._known_ids

    def entry(self, seq: int, data: dict[str, Any]) -> tuple[str, str] | None:
        action, kid = data.get("action"), (data.get("actor") or {}).get("key_id", "")
        if self.ahead_at is not None:
            if self._unknown(kid):
                return ("behind", f"entry {seq} is signed by a key of trust policy version "
                        f"{len(self.chain) + 1} or later, which this checkout does not have "
                        "yet (git pull)")
            return None
        if self._unknown(kid):
            return ("tamper", f"entry {seq} ({action}) is signed by key {kid[:16]}... that no "
                    "trust policy version knows")
        if action == TRUST_UPDATE and data.get("phase", "done") == "done":
            v = (data.get("subject") or {}).get("version")
            if not isinstance(v, int) or v < 1:
                return ("tamper", f"entry {seq} (trust.update) names no version")
            if v > len(self.chain):
                self.ahead_at = seq
                return ("behind", f"entry {seq} records trust policy version {v}; this "
                        f"checkout's history ends at version {len(self.chain)} (git pull)")
            signer_policy = self.chain[v - 2] if v > 1 else self.chain[0]
            bad = _allowed(signer_policy, kid, TRUST_UPDATE, seq, data)
            if v not in (self.version, self.version + 1):
                bad = bad or ("tamper", f"entry {seq} adopts trust policy version {v} while "
                              f"version {self.version} is in force (versions skipped)")
            self.version, self.recorded = v, max(self.recorded, v)
            return bad
        rule = rule_for(data)
        memo = (self.version, kid, rule)
        if memo in self._allowed:
            return None
        verdict = _allowed(self._policy(), kid, rule, seq, data)
        if verdict is None:
            self._allowed.add(memo)
        return verdict

    def checkpoint(self, size: int, kid: str) -> tuple[str, str] | None:
        memo = (self.version, kid, None)
        if memo in self._allowed:
            return None
        if self._policy().signer_by_key(kid) is not None:
            self._allowed.add(memo)
            return None
        if self.ahead_at is not None and self._unknown(kid):
            return ("behind", f"checkpoint {size} is signed by a key this checkout's trust "
                    "history does not have yet (git pull)")
        if self._unknown(kid):
            return ("tamper", f"checkpoint {size} is signed by a key that no trust policy "
                    "version knows")
        return ("tamper", f"checkpoint {size} is signed by a key that is not a signer in trust "
                f"policy version {self.version}, in force at that point")

    def fingerprint(self) -> str:
        """The digest of the history files (:func:`govctl.trust.facts.history_digest`)."""
        if self._digest is None:
            self._digest = facts.history_digest(self.repo)
        return self._digest

    def snapshot(self) -> dict[str, Any]:
        return {"version": self.version, "recorded": self.recorded, "ahead_at": self.ahead_at}

    def restore(self, snap: dict[str, Any]) -> None:
        version, recorded, ahead = int(snap["version"]), int(snap["recorded"]), snap.get("ahead_at")
        if ahead is not None and not isinstance(ahead, int):
            raise ValueError("ahead_at")
        self.version, self.recorded, self.ahead_at = version, recorded, ahead

    def public_keys(self) -> dict[str, bytes]:
        return {f"{s.name}#{s.key_id[:8]}": s.public_raw for p in self.chain for s in p.signers}

    def finish(self) -> list[str]:
        if self.ahead_at is None and self.recorded and self.recorded < len(self.chain):
            return [f"this checkout's trust history has version {len(self.chain)} but the "
                    f"ledger records only up to version {self.recorded}: push the trust "
                    "change and record it in the team's ledger"]
        return []


def _allowed(policy: PolicyFacts, kid: str, rule: str | None, seq: int,
             data: dict[str, Any]) -> tuple[str, str] | None:
    action = data.get("action")
    signer = policy.signer_by_key(kid)
    if signer is None:
        return ("tamper", f"entry {seq} ({action}) is signed by key {kid[:16]}..., not a "
                f"signer in trust policy version {policy.version} in force at that point")
    if rule is None:
        return None
    req = policy.requirements.get(rule)
    if req is not None:
        allowed = set(req.any_of) | set(req.roles)
    elif rule == "lock.break":
        allowed = set(LOCK_BREAK_ROLES)
    else:
        return None  # an action no rule governs: any signer may record it
    if allowed & set(signer.roles):
        return None
    return ("tamper", f"entry {seq} ({action}): {signer.name} (roles: "
            f"{', '.join(signer.roles)}) was not allowed to {rule} under trust policy version "
            f"{policy.version} (rule {rule} needs one of {', '.join(sorted(allowed))})")


def audit(repo: GovernedRepo, *, fast: bool = False, from_checkpoint: bytes | None = None) -> Any:
    """``govctl audit verify``: the ledger, its authority and this checkout's checkpoint."""
    from govctl.ledger import checkpoint as cpfile
    from govctl.ledger.log import Ledger

    ledger = Ledger.for_repo(repo)
    has_file = (repo.root / cpfile.FILE).is_file()
    if not ledger.exists() or (has_file and ledger.size() == 0 and _records(repo)):
        if has_file or repo.trust_history.is_dir():
            raise IntegrityError(
                f"this checkout records governance ({cpfile.FILE}, policies/trust.history) "
                f"but its ledger at {ledger.display_url} "
                + ("does not exist" if not ledger.exists() else "is empty")
                + ": the team's ledger is elsewhere",
                hint="set ledger_url in govctl.toml (or GOVCTL_LEDGER_URL) to the team's "
                "ledger, e.g. postgresql+psycopg://govctl@db.internal/govctl",
            )
    replay = Replay(repo)
    if not fast:
        replay.chain  # noqa: B018 - a broken trust history is the first thing said
    return ledger.verify(signatures=not fast, authority=replay, from_checkpoint=from_checkpoint)


def _records(repo: GovernedRepo) -> bool:
    from govctl.ledger import checkpoint as cpfile

    try:
        return cpfile.parse((repo.root / cpfile.FILE).read_bytes()).size > 0
    except IntegrityError:
        return True
