"""An MLflow tracking server read through its documented REST API (``/api/2.0/mlflow/...``),
with the standard library only: no mlflow, no requests.

The calls are the ones MlflowClient makes for the same reads (``registered-models/get`` and
``/search``, ``model-versions/search`` and ``/get-download-uri``, ``runs/get``,
``logged-models/{id}``), with the same filters, so the server answers both alike. The
client's credentials are honoured: ``MLFLOW_TRACKING_USERNAME``/``_PASSWORD`` (or
``~/.mlflow/credentials``), ``MLFLOW_TRACKING_TOKEN``, ``MLFLOW_TRACKING_INSECURE_TLS``,
``MLFLOW_TRACKING_SERVER_CERT_PATH``, ``MLFLOW_TRACKING_CLIENT_CERT_PATH``; what needs the
client's plug-ins (:func:`needs_client`) is read through the client instead.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from govctl.adapters.mlflowread import (
    IS_PROMPT,
    StoreError,
    model_not_found,
    not_a_prompt,
    prompt_entry,
)

API = "/api/2.0/mlflow/"
_CLIENT_ONLY = ("MLFLOW_TRACKING_AUTH", "MLFLOW_TRACKING_AWS_SIGV4", "MLFLOW_WORKSPACE")


def _truthy(var: str) -> bool:
    return (os.environ.get(var) or "").strip().lower() in ("1", "true", "yes")


def needs_client(uri: str) -> str | None:
    """Why ``uri`` must be read through the MLflow client (None: the REST reader will do):
    an auth plug-in, AWS SigV4, a workspace header, or a proxy for the server's host."""
    for var in _CLIENT_ONLY:
        if (os.environ.get(var) or "").strip() and (var != "MLFLOW_TRACKING_AWS_SIGV4"
                                                    or _truthy(var)):
            return f"{var} is set"
    parts = urlsplit(uri)
    if _proxied(parts.scheme, parts.hostname or ""):
        return "a proxy is configured"
    return None


def _proxied(scheme: str, host: str) -> bool:
    env = {k.lower(): v for k, v in os.environ.items() if k.lower().endswith("_proxy")}
    if not (env.get(f"{scheme}_proxy") or env.get("all_proxy")):
        return False
    for entry in (env.get("no_proxy") or "").split(","):
        entry = entry.strip().lstrip(".")
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return False
    return True


def _credentials() -> tuple[str | None, str | None]:
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), \
        os.environ.get("MLFLOW_TRACKING_PASSWORD")
    path = os.path.expanduser("~/.mlflow/credentials")
    if (not user or not password) and os.path.exists(path):
        import configparser

        cfg = configparser.ConfigParser()
        cfg.read(path)
        if "mlflow" in cfg:
            user = user or cfg["mlflow"].get("mlflow_tracking_username")
            password = password or cfg["mlflow"].get("mlflow_tracking_password")
    return user, password


class RestReader:
    """One tracking server (registry and tracking APIs), one kept-alive connection."""

    kind = "rest"

    def __init__(self, uri: str) -> None:
        parts = urlsplit(uri)
        self.uri = uri
        self.https = parts.scheme.lower() == "https"
        self.host = parts.hostname or "localhost"
        self.port = parts.port
        self.base = parts.path.rstrip("/")
        self.timeout = float(os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT") or 10)
        self.headers = {"Accept": "application/json", "User-Agent": "govctl"}
        user, password = _credentials()
        if user and password:
            import base64

            pair = base64.standard_b64encode(f"{user}:{password}".encode()).decode()
            self.headers["Authorization"] = f"Basic {pair}"
        elif os.environ.get("MLFLOW_TRACKING_TOKEN"):
            self.headers["Authorization"] = f"Bearer {os.environ['MLFLOW_TRACKING_TOKEN']}"
        self._conn: Any = None
        self._lock = threading.Lock()

    def _connect(self) -> Any:
        import http.client

        if not self.https:
            return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        import ssl

        if _truthy("MLFLOW_TRACKING_INSECURE_TLS"):
            ctx = ssl._create_unverified_context()
        else:
            cafile = (os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH")
                      or os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE"))
            if not cafile:
                try:
                    import certifi  # what requests (and so the MLflow client) verifies with

                    cafile = certifi.where()
                except ImportError:
                    cafile = None
            ctx = ssl.create_default_context(cafile=cafile)
        if os.environ.get("MLFLOW_TRACKING_CLIENT_CERT_PATH"):
            ctx.load_cert_chain(os.environ["MLFLOW_TRACKING_CLIENT_CERT_PATH"])
        return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                           context=ctx)

    def get(self, endpoint: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET ``/api/2.0/mlflow/ENDPOINT`` and its JSON body (StoreError on failure)."""
        import http.client
        import socket

        query = urlencode({k: v for k, v in (params or {}).items() if v is not None},
                          doseq=True, quote_via=quote)
        path = f"{self.base}{API}{endpoint}" + (f"?{query}" if query else "")
        with self._lock:
            for attempt in (0, 1):
                reused = self._conn is not None
                conn = self._conn or self._connect()
                try:
                    conn.request("GET", path, headers=self.headers)
                    resp = conn.getresponse()
                    status, body = resp.status, resp.read()
                    self._conn = None if resp.will_close else conn
                    break
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    self._conn = None
                    if reused and attempt == 0 and not isinstance(exc, TimeoutError | socket.timeout):
                        continue  # the server closed a kept-alive connection: once more
                    raise StoreError("UNREACHABLE", _reason(exc)) from None
        if status != 200:
            raise _error(status, body, path)
        try:
            out = json.loads(body or b"{}")
        except ValueError:
            raise StoreError("FAILED", f"{path}: the answer is not JSON") from None
        return out if isinstance(out, dict) else {}

    def _paged(self, endpoint: str, key: str, **params: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        token = None
        while True:
            page = self.get(endpoint, {**params, "page_token": token})
            out += page.get(key) or []
            token = page.get("next_page_token")
            if not token:
                return out

    # --- registry ---------------------------------------------------------------------------

    def ping(self) -> None:
        self.get("registered-models/search", {"max_results": 1})

    def registered_models(self) -> list[str]:
        return self.registered_models_known()[0]

    def registered_models_known(self) -> tuple[list[str], dict[str, dict[str, Any]]]:
        """The models' names, and what :meth:`model` would answer for each the search
        returned whole (its aliases and tags: MLflow's SQL and file stores return both; a
        model without either, or a server that leaves them out, is asked on its own)."""
        found = self._paged("registered-models/search", "registered_models", max_results=1000,
                            filter=f"tag.`{IS_PROMPT}` != 'true'")
        known = {m["name"]: self._state(m) for m in found if "aliases" in m and "tags" in m}
        return [m["name"] for m in found], {n: m for n, m in known.items()
                                            if IS_PROMPT not in m["tags"]}

    def prompt_names(self) -> list[str]:
        found = self._paged("registered-models/search", "registered_models", max_results=100,
                            filter=f"tags.`{IS_PROMPT}` = 'true'")
        return [m["name"] for m in found]

    @staticmethod
    def _state(rm: dict[str, Any]) -> dict[str, Any]:
        return {"tags": _tags(rm), "aliases": {a["alias"]: str(a["version"])
                                               for a in rm.get("aliases") or []}}

    def _raw_model(self, name: str) -> dict[str, Any]:
        return self._state(self.get("registered-models/get", {"name": name}
                                    ).get("registered_model") or {})

    def model(self, name: str) -> dict[str, dict[str, str]]:
        rm = self._raw_model(name)
        if IS_PROMPT in rm["tags"]:
            raise model_not_found(name)
        return {"aliases": rm["aliases"],
                "tags": {k: v for k, v in rm["tags"].items() if k != IS_PROMPT}}

    def model_versions(self, name: str) -> list[dict[str, Any]]:
        found = self._paged("model-versions/search", "model_versions", max_results=10000,
                            filter=f"name='{name}'")
        return [{"version": str(v["version"]), "run_id": v.get("run_id"),
                 "source": v.get("source", ""), "tags": _tags(v),
                 "status": v.get("status", "READY"), "created": _int(v.get("creation_timestamp"))}
                for v in found]

    def version_source(self, name: str, version: str) -> str:
        self.model(name)  # MlflowClient refuses a prompt's name here
        got = self.get("model-versions/get-download-uri", {"name": name, "version": version})
        return str(got.get("artifact_uri", ""))

    def prompt_versions(self, name: str) -> list[dict[str, Any]]:
        rm = self._raw_model(name)
        if rm["tags"].get(IS_PROMPT) != "true":
            raise not_a_prompt(name, "search_model_versions()")
        found = self._paged("model-versions/search", "model_versions", max_results=100,
                            filter=f"name = '{name}' AND tag.`{IS_PROMPT}` = 'true'",
                            order_by=["version_number DESC"])
        return [prompt_entry(str(v["version"]), _tags(v),
                             [a for a, av in rm["aliases"].items() if av == str(v["version"])])
                for v in found]

    def prompt_version(self, name: str, version: str) -> dict[str, Any] | None:
        rm = self._raw_model(name)
        if rm["tags"].get(IS_PROMPT) != "true":
            raise not_a_prompt(name, "get_model_version() or load_model()")
        mv = self.get("model-versions/get", {"name": name, "version": version}
                      ).get("model_version") or {}
        tags = _tags(mv)
        if IS_PROMPT not in tags:
            return None
        return prompt_entry(str(mv["version"]), tags, list(mv.get("aliases") or []))

    # --- tracking ---------------------------------------------------------------------------

    def run(self, run_id: str) -> dict[str, Any]:
        run = self.get("runs/get", {"run_id": run_id}).get("run") or {}
        info, data = run.get("info") or {}, run.get("data") or {}
        return {"metrics": {m["key"]: float(m.get("value", 0.0)) for m in data.get("metrics") or []},
                "artifact_uri": info.get("artifact_uri", ""), "status": info.get("status")}

    def logged_model_location(self, model_id: str) -> str:
        model = self.get(f"logged-models/{quote(model_id, safe='')}").get("model") or {}
        return str((model.get("info") or {}).get("artifact_uri", ""))


def _tags(obj: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t.get("value", "") for t in obj.get("tags") or []}


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


def _reason(exc: BaseException) -> str:
    """Worded like the markers ``mlflowstore.errors`` finds in the client's messages."""
    import socket

    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, socket.gaierror):
        return "name or service not known"
    return str(exc) or type(exc).__name__


def _error(status: int, body: bytes, path: str) -> StoreError:
    """An MLflow error answer ({"error_code", "message"}) as the client words it."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and "error_code" in doc:
        code = str(doc["error_code"])
        return StoreError(code, f"{code}: {doc.get('message', '')}")
    return StoreError("FAILED", f"API request to endpoint {path.split('?')[0]} failed with "
                                f"error code {status} != 200")
