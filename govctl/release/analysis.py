"""The canary's analysis: the telemetry of its current step (the window since the step's
ledger entry) judged against the service's signed agreement limits. Records nothing;
``canary advance`` (:func:`govctl.release.transitions.advance`) records and acts on it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from govctl.config import GovernedRepo
from govctl.errors import InputError, NotFound
from govctl.release.standing import State, state


def _limits(repo: GovernedRepo, service: str) -> dict[str, Decimal]:
    from govctl import agreements

    path = agreements.agreement_path(repo, service)
    if not path.exists():
        raise NotFound(f"no agreement for {service}: the canary needs its limits")
    return agreements.signed_agreement(repo, service).limits()  # signed numbers only


def analyze(repo: GovernedRepo, service: str, source: str, env: str = "production", *,
            baseline: str | None = None, candidate: str | None = None,
            require_baseline: bool | None = None, st: State | None = None) -> Any:
    """Judge the canary on the telemetry of its current step: records from before the step
    began (its ledger entry) or without a timestamp are bad records. ``canary advance``
    calls this with the same defaults, so the two always agree."""
    from govctl import clock
    from govctl.release import sources

    if st is None and (baseline is None or candidate is None):
        st = state(repo, service, env)  # both named: the versions need not be in MLflow
    candidate = candidate or (st.canary if st else None)
    if candidate is None:
        raise InputError(f"no canary is running for {service} in {env}; name the candidate version")
    if baseline is None:
        baseline = (st.stable if st else None) or ""
    running = st is not None and candidate == st.canary and st.last is not None
    # govctl's clock (and the ledger's times) have a resolution of one second: a step's
    # window ends with the last instant of the second "now" names, so a record from
    # 12:00:05.4 is not "after" a now of 12:00:05 in any source (a serving layer's last
    # second of traffic was dropped from every step)
    window = (clock.parse_time(st.last["time"]),
              clock.now().replace(microsecond=999_999)) if st and running and st.last \
        else None
    if require_baseline is None:
        # at 100% (or on a first release) the stable version gets no traffic to compare
        require_baseline = bool(baseline) and not (
            running and st is not None and st.weight_bps >= 10_000)
    with sources.start(source, repo, window) as pending:  # read while the rest loads
        limits = _limits(repo, service)
        from govctl.policy import Policies
        from govctl.release import canary  # SciPy, while the telemetry is read

        cfg = canary.Config.from_policies(Policies.load(repo), env)
        batch = pending.result(limits, 1 + cfg.max_latency_increase)  # the same window
    notes = getattr(batch, "notes", None)
    if window is None and notes is not None:
        notes.append(f"v{candidate} is not the running canary: every record counted, "
                     "whatever its time")
    result = canary.analyze(batch, baseline, candidate, limits, cfg,
                            require_baseline=require_baseline)
    result.explain = getattr(batch, "explain", [])
    return result
