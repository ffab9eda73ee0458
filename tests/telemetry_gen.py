"""Synthetic per-request telemetry for canary tests (seeded, vectorised)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def write(path: Path, variants: dict[str, dict], seed: int = 0, bad_lines: int = 0) -> Path:
    """variants: version -> {n, latency_factor=1, error_rate=0.002, quality=0.9}."""
    rng = np.random.default_rng(seed)
    lines = []
    for version, spec in variants.items():
        n = spec["n"]
        lat = rng.lognormal(6.2, 0.35, n) * spec.get("latency_factor", 1.0)
        err = rng.random(n) < spec.get("error_rate", 0.002)
        tin = rng.integers(200, 1200, n)
        tout = rng.integers(50, 300, n)
        q = np.clip(rng.normal(spec.get("quality", 0.9), 0.05, n), 0, 1)
        for i in range(n):
            lines.append(json.dumps({
                "request_id": f"{version}-{i}", "version": version,
                "latency_ms": round(float(lat[i]), 1), "error": bool(err[i]),
                "tokens_in": int(tin[i]), "tokens_out": int(tout[i]),
                "cost_usd": round(float(tin[i]) * 2e-6 + float(tout[i]) * 8e-6, 6),
                "timestamp": "2026-11-22T12:00:00Z", "quality": round(float(q[i]), 3)}))
    lines += ["{not json"] * bad_lines
    path.write_text("\n".join(lines) + "\n")
    return path
