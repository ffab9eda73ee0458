"""Telemetry from MLflow traces tagged by :func:`govctl.routing.tag_trace`."""

from __future__ import annotations

from typing import Any

from govctl.adapters import mlflowstore as ml
from govctl.config import GovernedRepo
from govctl.errors import NotFound

MAX_TRACES = 100_000


def read(repo: GovernedRepo, experiment: str, max_traces: int | None = None
         ) -> list[dict[str, Any]]:
    """One telemetry record per trace of ``experiment`` that carries ``govctl.version``,
    newest first, at most ``max_traces`` (the caller reports a full read as truncated).
    Traces without it are reported as records with no version (counted as bad).

    ``latency_ms`` is the trace's ``govctl.latency_ms`` tag when present (a latency the
    serving layer measured or was told by its endpoint), else the trace's execution
    duration."""
    max_traces = max_traces or MAX_TRACES
    c = ml.client(repo)
    with ml.errors(f"MLflow traces of {experiment}"):
        exp = c.get_experiment_by_name(experiment)
        if exp is None:
            raise NotFound(f"no MLflow experiment named {experiment!r}")
        records: list[dict[str, Any]] = []
        token = None
        while len(records) < max_traces:
            page = c.search_traces(locations=[exp.experiment_id],
                                   max_results=min(500, max_traces - len(records)),
                                   page_token=token, include_spans=False,
                                   flush=token is None, order_by=["timestamp_ms DESC"])
            for trace in page:
                info = trace.info
                tags = dict(info.tags or {})
                state = getattr(info.state, "value", str(info.state))
                records.append({
                    "request_id": info.trace_id,
                    "version": tags.get("govctl.version"),
                    # a latency the serving layer recorded (tag_trace(latency_ms=...))
                    # wins over the span's wall-clock duration
                    "latency_ms": tags.get("govctl.latency_ms", info.execution_duration),
                    "error": str(state).upper() == "ERROR",
                    "tokens_in": tags.get("govctl.tokens_in"),
                    "tokens_out": tags.get("govctl.tokens_out"),
                    "cost_usd": tags.get("govctl.cost_usd"),
                    "quality": tags.get("govctl.quality"),
                    "session_id": tags.get("govctl.session_id"),
                    "timestamp": info.request_time,
                })
            token = page.token
            if not token:
                break
    return records


def tag_current(tags: dict[str, str]) -> None:
    """Set ``tags`` on the active MLflow trace (the serving layer's ``tag_trace``)."""
    import mlflow

    mlflow.update_current_trace(tags=tags)
