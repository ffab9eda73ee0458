"""The demo's serving layer and its canary rollouts: real requests routed by
:mod:`govctl.release.routing` to the trained model versions, each an MLflow trace tagged with
the served version, usage, quality and the modelled endpoint latency; each canary step fed
one batch of that traffic and judged by ``release.advance`` on the MLflow traces."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from govctl.errors import CheckFailed

SERVICE = "support-bot"


class Service:
    """The demo's serving layer: routes each request with govctl.release.routing, loads the routed
    model version's weights from MLflow, answers, and tags the MLflow trace with the served
    version, usage, quality and the modelled endpoint latency."""

    def __init__(self, repo: Any, experiment: str, cache: Path) -> None:
        import mlflow

        from govctl.adapters import mlflowstore

        self.repo = repo
        self.cache = cache
        self.models: dict[str, Any] = {}
        self.client = mlflowstore.client(repo)
        mlflowstore.configure(repo)
        # the experiment's artifacts (trace data) under the repo's .govctl/mlartifacts
        mlflow.set_experiment(experiment_id=mlflowstore.experiment(repo, experiment))
        self.refresh()

    def refresh(self) -> None:
        """Read the routing state again (after a canary decision). A real serving layer
        lets the router's cache expire; the demo decides faster than any TTL."""
        from govctl.release.routing import Router

        self.router = Router.for_repo(str(self.repo.root), SERVICE, ttl_seconds=3600)

    def model(self, version: str) -> Any:
        if version not in self.models:
            from govctl.demo.model import RetrievalModel

            mv = self.client.get_model_version(SERVICE, version)
            dst = self.cache / f"v{version}"
            dst.mkdir(parents=True, exist_ok=True)
            path = self.client.download_artifacts(mv.run_id, "model/weights.json", str(dst))
            self.models[version] = RetrievalModel.from_json(json.loads(Path(path).read_text()))
        return self.models[version]

    def handle(self, request_id: str, question: str, intent: str) -> str:
        """Serve one request; returns the variant that served it."""
        import mlflow

        from govctl.release.routing import tag_trace

        @mlflow.trace(name="answer")
        def answer() -> str:
            variant, version = self.router.route(request_id)
            if version is None:
                raise CheckFailed(f"{self.router.service} has no live version to serve")
            model = self.model(version)
            reply = model.answer(question)
            tokens_in = 180 + 4 * len(question.split()) + 60
            tokens_out = len(reply["answer"].split()) + 8
            tag_trace(version, variant=variant, tokens_in=tokens_in, tokens_out=tokens_out,
                      cost_usd=round(tokens_in * 1e-7 + tokens_out * 4e-7, 8),
                      quality=1.0 if reply["intent"] == intent else 0.0,
                      session_id=request_id,
                      latency_ms=model.latency.sample(request_id, tokens_out))
            return variant

        return answer()


MAX_ROUNDS = 4  # batches per canary step before the demo gives up (each twice the last)


def _traffic(service: Service, per_variant: int, share: float, seed: int) -> dict[str, int]:
    """Real requests until each variant that gets traffic at this ``share`` has served
    ``per_variant`` of them; returns the count per variant."""
    from govctl.demo import corpus

    qs = corpus.read_questions(service.repo.root / "data/prepared/eval.csv")
    wanted = {"canary": per_variant if share > 0 else 0,
              "stable": per_variant if share < 1 else 0}
    served = {"canary": 0, "stable": 0}
    # bounded: a share of s needs about per_variant / s requests
    limit = math.ceil(per_variant / max(min(x for x in (share, 1 - share) if x > 0), 0.01) * 3)
    for i in range(limit):
        if all(served[v] >= wanted[v] for v in served):
            break
        q, intent = qs[(i * 7 + seed) % len(qs)]
        served[service.handle(f"req-{seed}-{i}", q, intent)] += 1
    return served


def _next_second() -> None:
    """Wait for the next whole second. A step's window starts at its ledger entry, whose
    time has a resolution of one second: traffic from the same second as the entry (sent
    for the step before) would count for the new step too. The demo decides within a
    second of its traffic, faster than a real serving layer ever would."""
    if os.environ.get("GOVCTL_NOW"):  # a fixed clock: no second to wait for
        return
    time.sleep(1.0 - time.time() % 1.0 + 0.01)


def rollout(repo: Any, key: Any, n: Any, version: str, experiment: str, seed: int,
             min_samples: int) -> str:
    """Feed each canary step with real traffic and advance until pass, fail or stable
    (``n`` narrates: a :class:`govctl.demo.run.Narrator`).

    Each step gets one batch in which every variant receiving traffic serves
    ``min_samples`` requests (the analysis' minimum per variant). An inconclusive analysis
    (an estimate beyond its tolerance that the evidence cannot confirm yet) gets one more
    batch, twice as large, at most ``MAX_ROUNDS`` times per step: one narrated line per
    batch, never a line per retry."""
    from govctl import release

    service = Service(repo, experiment, repo.root.parent / ".cache" / "models")
    weight: int | None = None
    per_variant = min_samples
    rounds = 0
    while True:
        st = release.state(repo, SERVICE)
        if st.canary != version:
            return "stable" if st.stable == version else "rolled back"
        if st.weight_bps != weight:
            weight, per_variant, rounds = st.weight_bps, min_samples, 0
        elif rounds >= MAX_ROUNDS and weight is not None:
            raise CheckFailed(f"the canary of v{version} is still inconclusive at "
                              f"{weight / 100:g}% after {rounds} batches of traffic")
        else:
            per_variant *= 2
        rounds += 1
        share = st.weight_bps / 10_000 if st.stable else 1.0
        service.refresh()
        served = _traffic(service, per_variant, share, seed)
        seed += 1
        _next_second()
        outcome = release.advance(repo, key, SERVICE, f"mlflow:{experiment}")
        p95 = next((c for c in outcome.analysis.checks if c.metric == "latency_p95_ms"
                    and c.kind == ("baseline" if st.stable and share < 1 else "limit")), None)
        line = (f"at {st.weight_bps / 100:g}%: {served['canary'] + served['stable']} requests"
                + (f" ({served['canary']} to the canary)" if st.stable else
                   " (a first release: all to the candidate)"))
        if p95 is not None and p95.canary is not None:
            line += f"; p95 canary {p95.canary:.0f} ms"
            if p95.kind == "baseline":
                line += f" vs stable {p95.baseline:.0f} ms (bound {p95.threshold:.0f})"
            else:
                line += f" (limit {p95.threshold:.0f})"
        n.say(f"{line} → {outcome.analysis.verdict}")
        for m in outcome.messages:
            n.say(f"  {m}")
