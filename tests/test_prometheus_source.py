"""prometheus:URL against a real Prometheus server (Debian's package), loaded by backfill
with the same traffic the file sources read: the same verdicts."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request

import pytest
import telemetry_gen
from conftest import need
from test_telemetry_engines import LIMITS, _analyze, _checks

from govctl.release import promsource, sources, telemetry


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def prom(tmp_path_factory):
    need("prometheus", shutil.which("prometheus") and shutil.which("promtool"),
         "prometheus is not installed (apt-get install prometheus): no server to query")
    d = tmp_path_factory.mktemp("prom")
    jsonl = telemetry_gen.write(d / "t.jsonl", {"1": {"n": 3000},
                                                "2": {"n": 1500, "latency_factor": 1.35,
                                                      "error_rate": 0.01}}, seed=3)
    end = (int(time.time()) // 3600 - 3) * 3600
    om = telemetry_gen.to_openmetrics(jsonl, d / "metrics.om", end)
    data = d / "data"
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(om),
                    str(data)], check=True, capture_output=True)
    (d / "prometheus.yml").write_text("global: {}\n")
    port = _free_port()
    proc = subprocess.Popen(
        ["prometheus", f"--config.file={d / 'prometheus.yml'}",
         f"--storage.tsdb.path={data}", f"--web.listen-address=127.0.0.1:{port}",
         "--storage.tsdb.retention.time=100y"],
        stdout=subprocess.DEVNULL, stderr=(d / "prom.log").open("w"))
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            with urllib.request.urlopen(url + "/-/ready", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("prometheus did not become ready: " + (d / "prom.log").read_text()[-500:])
    yield {"url": url, "end": end, "jsonl": jsonl}
    proc.terminate()
    proc.wait(10)


def test_prometheus_gives_the_file_verdicts(prom):
    reference = _analyze(telemetry.read_jsonl(prom["jsonl"]))
    agg = sources.aggregate(f"prometheus:{prom['url']}?window=1h&at={prom['end']}",
                            limits=LIMITS)
    result = _analyze(agg)
    assert result.verdict == reference.verdict == "fail"
    ref = {(c.metric, c.kind): c for c in reference.checks}
    for c in result.checks:  # token checks need per-request maxima: not from counters
        r = ref[(c.metric, c.kind)]
        assert c.verdict == r.verdict, (c.metric, c.kind, c.detail, r.detail)
    assert {(m, k) for m, k, _ in _checks(result)} >= {
        ("latency_p95_ms", "baseline"), ("error_rate", "baseline"), ("error_rate", "limit")}
    # counts within the extrapolation of increase(); p95 within a bucket
    can = agg.variant("2")
    assert abs(can.n - 1500) < 30
    assert abs(can.quantile(0.95) - reference.checks[0].canary) < 25
    assert any("histogram_quantile(0.95" in q for q in agg.explain)


def test_prometheus_queries_follow_the_options():
    q = promsource.queries({**promsource.DEFAULTS, "requests": "llm_requests_total",
                            "version_label": "model_version", "selector": 'app="bot"',
                            "window": "10m"})
    assert q["errors"] == ('sum by (model_version) (increase(llm_requests_total'
                           '{app="bot",error="true"}[10m]))')


def test_a_step_window_is_the_range_of_every_query(prom):
    """A canary step's window (since its ledger entry, until now) is the PromQL range and
    evaluation time, whatever window=/at= say: the same verdict as the step's records."""
    from datetime import UTC, datetime

    end = prom["end"]
    step = (datetime.fromtimestamp(end - 3600, UTC),
            datetime.fromtimestamp(end, UTC))
    reference = _analyze(telemetry.read_jsonl(prom["jsonl"]))
    agg = sources.aggregate(f"prometheus:{prom['url']}?window=5m&at=1", limits=LIMITS,
                            window=step)
    assert _analyze(agg).verdict == reference.verdict == "fail"
    assert abs(agg.variant("2").n - 1500) < 30
    assert any("[3600s]" in q for q in agg.explain)
    # the second half of the hour only: the requests before the step do not count
    half = sources.aggregate(f"prometheus:{prom['url']}", limits=LIMITS,
                             window=(datetime.fromtimestamp(end - 1800, UTC), step[1]))
    assert abs(half.variant("2").n - 750) < 30
    assert half.window is not None and half.summary()["window"]["until"] == half.window[1]
