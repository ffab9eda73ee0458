"""Deterministic, sticky canary routing for the serving layer.

``bucket(service, salt, key)`` hashes a request or session key into one of 10,000 buckets;
a key is in the canary when its bucket is below the canary weight in basis points. The
buckets are nested: a key in the canary at 5% (bucket < 500) is still in it at 25%
(bucket < 2500), so a chat session never switches model mid-conversation as the canary
grows. :class:`Router` reads the stable and canary versions and the weight from MLflow
(aliases ``ENV`` and ``ENV-canary``, tag ``govctl.ENV.canary_weight_bps``) with a short
cache.

    from govctl.release.routing import Router
    router = Router.for_repo(".", "support-bot")        # or Router(tracking_uri=..., ...)
    variant, version = router.route(session_id)         # ("canary", "7") or ("stable", "6")
    path = router.load_model(version)                   # verified against its manifest
    model = mlflow.pyfunc.load_model(str(path))

:func:`verified_model_path` (and ``Router.load_model``) re-hashes the version's artifacts
against the manifest the ledger pinned at registration before handing out a local path,
so a serving process never loads bytes that did not pass the gate (IntegrityError, exit 4,
naming the file, otherwise).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BUCKETS = 10_000


def bucket(service: str, salt: str, key: str) -> int:
    """The key's bucket in [0, 10000): SHA-256 of service, salt and key."""
    digest = hashlib.sha256(f"{service}\x00{salt}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def assign(service: str, key: str, weight_bps: int, salt: str = "") -> str:
    """``"canary"`` if the key falls in the canary's share, else ``"stable"``."""
    return "canary" if bucket(service, salt, key) < max(0, min(weight_bps, BUCKETS)) \
        else "stable"


@dataclass(frozen=True)
class Routing:
    stable: str | None
    canary: str | None
    weight_bps: int


class Router:
    """Routes keys of one service and environment using state from MLflow."""

    def __init__(self, service: str, fetch: Callable[[], Routing], *, salt: str = "",
                 ttl_seconds: float = 10.0) -> None:
        self.service = service
        self.salt = salt
        self.ttl = ttl_seconds
        self._fetch = fetch
        self._cached: tuple[float, Routing] | None = None
        self._lock = threading.Lock()
        self._repo: Any = None

    @classmethod
    def for_repo(cls, repo_path: str, service: str, env: str = "production",
                 **kw: Any) -> Router:
        from govctl.config import find_repo

        repo = find_repo(Path(repo_path))
        router = cls(service, lambda: _from_mlflow(repo, service, env), **kw)
        router._repo = repo
        return router

    def load_model(self, version: str, dst: str | Path | None = None) -> Path:
        """A local path to ``version``'s artifacts, verified against its manifest."""
        if self._repo is None:
            from govctl.errors import InputError

            raise InputError("Router.load_model needs a Router made with Router.for_repo "
                             "(or call verified_model_path(repo, service, version))")
        return verified_model_path(self._repo, self.service, version, dst=dst)

    def state(self) -> Routing:
        now = time.monotonic()
        with self._lock:
            if self._cached is None or now - self._cached[0] > self.ttl:
                self._cached = (now, self._fetch())
            return self._cached[1]

    def route(self, key: str) -> tuple[str, str | None]:
        s = self.state()
        if s.canary and (s.stable is None
                         or assign(self.service, key, s.weight_bps, self.salt) == "canary"):
            return "canary", s.canary  # a first release has no stable version to fall back to
        return "stable", s.stable


def verified_model_path(repo: Any, service: str, version: str, *,
                        dst: str | Path | None = None) -> Path:
    """The local folder of ``models:/SERVICE/VERSION`` after checking every file against
    the manifest the ledger pinned. A file store is verified and returned in place; other
    stores are downloaded into ``dst`` (default: a new temporary folder, the caller's to
    remove) and the downloaded copy is what is verified and returned."""
    import tempfile

    from govctl.adapters import mlflowstore as ml
    from govctl.config import GovernedRepo, find_repo
    from govctl.registry import manifests

    if not isinstance(repo, GovernedRepo):
        repo = find_repo(Path(repo))
    manifest = manifests.load(repo, service, str(version))
    manifests.check_tag(repo, service, str(version), manifest)
    source = ml.version_source(repo, service, str(version))
    local = manifests.local_path(repo, source)
    where = f"{service} v{version}"
    if local is None:
        target = Path(dst) if dst else Path(tempfile.mkdtemp(prefix="govctl-model-"))
        local = ml.download_artifacts(repo, source, target)
    manifests.compare(manifest, local, where=where)
    return local


def _from_mlflow(repo: Any, service: str, env: str) -> Routing:
    from govctl.adapters import mlflowstore as ml
    from govctl.release.standing import canary_alias, weight_tag

    aliases = ml.get_aliases(repo, service)
    weight = int(ml.get_model_tags(repo, service).get(weight_tag(env), "0") or 0)
    return Routing(aliases.get(env), aliases.get(canary_alias(env)), weight)


def tag_trace(version: str, *, variant: str | None = None, tokens_in: int | None = None,
              tokens_out: int | None = None, cost_usd: float | None = None,
              quality: float | None = None, session_id: str | None = None,
              latency_ms: float | None = None) -> None:
    """Tag the active MLflow trace with the served version (and usage), so
    ``govctl canary analyze --telemetry mlflow:EXPERIMENT`` can read it.

    ``latency_ms`` (tag ``govctl.latency_ms``) is the request's latency when the trace's
    own wall-clock duration is not it, e.g. the time an LLM endpoint reported; the trace
    reader takes it over the trace's duration when present."""
    from govctl.adapters import mlflowtraces

    tags = {"govctl.version": str(version)}
    for name, value in (("variant", variant), ("tokens_in", tokens_in),
                        ("tokens_out", tokens_out), ("cost_usd", cost_usd),
                        ("quality", quality), ("session_id", session_id),
                        ("latency_ms", latency_ms)):
        if value is not None:
            tags[f"govctl.{name}"] = str(value)
    mlflowtraces.tag_current(tags)
