"""The demo without its injected regression: the third candidate passes every step and
becomes stable. Its own module (and so its own pytest-xdist worker under ``--dist
loadfile``), because it is a second full demo run beside test_demo.py's."""

from __future__ import annotations

import json

from conftest import run_subprocess

HANG = 3600  # as in test_demo.py: the demo may take several minutes on a shared machine


def test_without_regression_the_third_candidate_passes(tmp_path):
    res = run_subprocess("demo", "--dir", str(tmp_path / "d"), "--regression", "none",
                         "--json", cwd=tmp_path, env={"GOVCTL_NOW": ""}, hang=HANG)
    assert res.code == 0, res.err[-3000:]
    summary = json.loads(res.out)
    assert summary["v3"] == "stable"
