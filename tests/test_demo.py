"""The quickstart demo end to end (as the README runs it: inside a git clone, with
``--dir ./govctl-demo``), everything it writes staying under --dir, and its dossier in a
browser."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import git, need, run_subprocess

# the demo takes about a minute of CPU; on a machine shared by many it may take several
HANG = 3600


def _listing(root: Path, skip: Path) -> dict[str, int]:
    """Every file and folder under ``root`` (but ``skip``) with its size (folders: -1)."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path == skip or skip in path.parents:
            continue
        out[str(path.relative_to(root))] = -1 if path.is_dir() else path.stat().st_size
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    # a stand-in for govctl's own clone: the Quickstart runs the demo inside it
    clone = tmp_path_factory.mktemp("clone")
    git(clone, "init", "-q")
    (clone / "README.md").write_text("a clone\n")
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", "a clone")
    home = tmp_path_factory.mktemp("home")  # an empty home: nothing may land in it
    d = clone / "govctl-demo"
    before = _listing(clone, d)
    res = run_subprocess("demo", "--dir", "./govctl-demo", "--json", cwd=clone,
                         env={"GOVCTL_NOW": "", "NO_COLOR": "1", "HOME": str(home),
                              "XDG_CONFIG_HOME": str(home / ".config"),
                              "XDG_CACHE_HOME": str(home / ".cache"),
                              "XDG_DATA_HOME": str(home / ".local" / "share")}, hang=HANG)
    assert res.code == 0, res.err[-3000:]
    written = {"before": before, "after": _listing(clone, d), "clone": clone,
               "home": sorted(p.name for p in home.iterdir())}
    return d, json.loads(res.out), written


def test_demo_inside_a_git_clone_writes_only_under_its_dir(demo):
    d, summary, written = demo
    assert written["after"] == written["before"]  # no ./mlruns, no cache, nothing
    assert written["home"] == []
    assert not git(written["clone"], "status", "--porcelain")  # the clone stays clean
    repo = Path(summary["repo"])
    assert repo.parent == d
    # the governed repo is a git repository of its own, not a folder of the clone's
    assert Path(git(repo, "rev-parse", "--show-toplevel").strip()) == repo
    assert git(repo, "log", "--format=%s").strip().splitlines()[-1] != "a clone"
    # MLflow's trace data and run artifacts, and DVC's site cache, are all under --dir
    assert list((repo / ".govctl" / "mlartifacts").rglob("traces"))
    assert (d / ".cache" / "dvc" / "repo").is_dir()


def test_demo_runs_the_whole_lifecycle(demo):
    d, summary, _ = demo
    assert summary["audit_ok"] is True and summary["ledger_entries"] > 50
    assert summary["v3"] == "rolled back"            # the canary analysis caught v3
    assert summary["stable"] == summary["versions"]["v1"]  # after the emergency rollback
    for f in summary["reports"]:
        assert Path(f).stat().st_size > 1000
    keys = Path(summary["govctl_home"]) / "keys"
    assert keys.is_dir() and str(keys).startswith(str(d))  # keys stay inside the demo
    # the repo it leaves behind works with every govctl command
    env = {"GOVCTL_HOME": summary["govctl_home"], "GOVCTL_NOW": ""}
    repo = Path(summary["repo"])
    assert run_subprocess("audit", "verify", cwd=repo, env=env).code == 0
    assert run_subprocess("trust", "verify", cwd=repo, env=env).code == 0
    assert run_subprocess("agreement", "verify", "support-bot", cwd=repo, env=env).code == 0
    assert run_subprocess("data", "verify", cwd=repo, env=env).code == 0
    assert run_subprocess("prompt", "verify", cwd=repo, env=env).code == 0
    status = run_subprocess("status", "support-bot", "--json", cwd=repo, env=env)
    assert status.code == 0 and json.loads(status.out)["stable"] == summary["versions"]["v1"]
    log = json.loads(run_subprocess("audit", "log", "--action", "canary.rollback", "--json",
                                    cwd=repo, env=env).out)
    assert "latency_p95_ms" in log[-1]["note"]


def test_every_canary_step_decides_on_its_own_traffic(demo):
    """Deterministic: each step is judged on exactly the batch sent for it (its window ends
    with the whole second of "now", and begins after the previous batch), so no step is
    inconclusive and the verdicts are the same on every machine, idle or loaded."""
    _d, summary, _ = demo
    env = {"GOVCTL_HOME": summary["govctl_home"], "GOVCTL_NOW": ""}
    log = json.loads(run_subprocess("audit", "log", "--action", "canary.analyze", "--json",
                                    "-n", "0", cwd=Path(summary["repo"]), env=env).out)
    assert [e["evidence"]["verdict"] for e in log] == ["pass"] * 6 + ["fail"]
    for e in log:
        bad = e["evidence"]["telemetry"]["bad_records"]
        assert set(bad) <= {"timestamp before this step began"}, bad


def test_dossier_content(demo):
    d, summary, _ = demo
    html = (d / "reports" / "support-bot-v3.html").read_text()
    for section in ("lineage", "model", "agreement", "checklist", "gate", "canary", "ledger"):
        assert f"<section id='{section}'>" in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    assert "fail" in html and "latency" in html and "<svg" in html
    # the gate as it was when v3 was promoted (v2 stable), from the ledger, and as it is now
    # (after the emergency rollback to v1)
    release, now = html.split("Evaluated now", 1)
    assert "at release (" in release and "production is v2: the rollback target" in release
    assert "production is v1: the rollback target" in now
    md = (d / "reports" / "support-bot-v2.md").read_text()
    assert "```mermaid" in md and "## Canary steps" in md and "intact" in md
    assert "## Model version" in md and "| registered by |" in md


def test_report_command_and_bad_suffix(demo, tmp_path):
    _d, summary, _ = demo
    env = {"GOVCTL_HOME": summary["govctl_home"], "GOVCTL_NOW": ""}
    repo = Path(summary["repo"])
    out = tmp_path / "dossier.html"
    res = run_subprocess("report", "support-bot", "--version", "2", "--out", str(out), cwd=repo,
                         env=env)
    assert res.code == 0 and out.exists()
    res = run_subprocess("report", "support-bot", "--version", "2", "--out",
                         str(tmp_path / "x.txt"), cwd=repo, env=env)
    assert res.code == 2 and "use a .html, .md or .pdf" in res.err
    res = run_subprocess("report", "support-bot", "--version", "99", "--out",
                         str(tmp_path / "none.html"), cwd=repo, env=env)
    assert res.code == 2 and "has no version 99" in res.err
    assert not (tmp_path / "none.html").exists()
    (tmp_path / "taken.html").mkdir()  # the file system says no: exit 3 naming the path
    res = run_subprocess("report", "support-bot", "--version", "2", "--out",
                         str(tmp_path / "taken.html"), cwd=repo, env=env)
    assert res.code == 3 and f"cannot write {tmp_path / 'taken.html'}: Is a directory" in res.err
    assert "bug" not in res.err and not list(tmp_path.glob(".taken.html.*"))


def test_dossier_renders_in_a_real_browser(demo, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    need("chromium", chromium, "Debian's chromium is not installed (.ci/run installs it)")
    d, _, _ = demo
    page = (d / "reports" / "support-bot-v3.html").as_uri()
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / "dossier.png"
    subprocess.run([*flags, "--window-size=1200,2000", f"--screenshot={shot}", page],
                   capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 20_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dom = subprocess.run([*flags, "--dump-dom", page], capture_output=True, text=True,
                         timeout=120).stdout
    for section in ("lineage", "agreement", "checklist", "canary", "ledger"):
        assert f'<section id="{section}">' in dom
    assert dom.count("<svg") >= 3 and 'class="chart latency"' in dom


def test_demo_refuses_a_file_or_a_non_empty_directory(tmp_path):
    (tmp_path / "f").write_text("x")
    res = run_subprocess("demo", "--dir", str(tmp_path / "f"), cwd=tmp_path)
    assert res.code == 2 and "is a file, not a directory" in res.err
    res = run_subprocess("demo", "--dir", str(tmp_path), cwd=tmp_path)
    assert res.code == 2 and "exists and is not empty" in res.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]
