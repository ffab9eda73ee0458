"""The Prometheus HTTP API (instant queries), with the standard library only."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from govctl.errors import ExternalError, InputError


def query(base: str, promql: str, at: float | None = None, timeout: float = 30.0
          ) -> list[tuple[dict[str, str], float]]:
    """``/api/v1/query``: each series' labels and value (a vector result)."""
    if not base.startswith(("http://", "https://")):
        raise InputError(f"prometheus:{base}: the URL must start with http:// or https://")
    params = {"query": promql}
    if at is not None:
        params["time"] = f"{at:.3f}"
    url = base.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (http/https only)
            body: dict[str, Any] = json.load(resp)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:300]
        raise ExternalError(f"Prometheus at {base} refused the query ({exc.code}: "
                            f"{detail})") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise ExternalError(f"cannot reach Prometheus at {base} ({exc})") from None
    if body.get("status") != "success" or body["data"]["resultType"] != "vector":
        raise ExternalError(f"Prometheus at {base}: unexpected answer to {promql}")
    return [(r["metric"], float(r["value"][1])) for r in body["data"]["result"]]
