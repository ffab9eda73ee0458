"""The canary tolerance each analysis ran under: policy GOV-CANARY-ANALYSIS as committed
in git at the entry's ``git_commit`` (the commit the repo was at when it was recorded), or,
when git cannot say (no commit recorded, history rewritten, a bad policy file), today's
policy — and the dossier says which."""

from __future__ import annotations

from typing import Any

from govctl.config import GovernedRepo
from govctl.errors import GovctlError


def _tolerance(policies: Any, env: str) -> dict[str, float]:
    from govctl.release import canary

    cfg = canary.Config.from_policies(policies, env)
    return {"latency": cfg.max_latency_increase, "error_ratio": cfg.max_error_rate_ratio}


class Tolerances:
    """Tolerance lookups, one git read per commit."""

    def __init__(self, repo: GovernedRepo) -> None:
        self.repo = repo
        self._at: dict[str, Any] = {}
        self._today: Any = None

    def today(self, env: str) -> dict[str, float]:
        from govctl.policy import Policies

        if self._today is None:
            try:
                self._today = Policies.load(self.repo)
            except GovctlError:  # a broken policy file: no tolerance lines, not a crash
                self._today = False
        if self._today is False:
            return {}
        try:
            return _tolerance(self._today, env)
        except GovctlError:
            return {}

    def _policies_at(self, commit: str) -> Any:
        from govctl.adapters import gitrepo
        from govctl.policy import Policies

        if commit not in self._at:
            files = gitrepo.files_at(self.repo.root, commit, self.repo.rel(self.repo.policies))
            try:
                self._at[commit] = Policies.from_texts(files) if files else None
            except GovctlError:
                self._at[commit] = None
        return self._at[commit]

    def at(self, commit: str | None, env: str) -> tuple[dict[str, float], str]:
        """(tolerance, where it came from: 'policy at commit abc1234' or a note)."""
        policies = self._policies_at(commit) if commit else None
        if commit and policies is not None:
            try:
                return _tolerance(policies, env), f"policy as committed at {commit[:10]}"
            except GovctlError:
                pass
        why = "no git commit recorded" if not commit else f"commit {commit[:10]} unreadable"
        return self.today(env), f"today's policy ({why} for this step)"
