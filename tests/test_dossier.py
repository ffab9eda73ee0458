"""The release dossier and release history on a lifecycle with promotions, an automatic
canary rollback and an emergency rollback, each step at its own (fixed) time."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
import telemetry_gen
from conftest import ROOT, git, need, run_in_process
from lifecycle import PIPELINE_DATASETS, ok, prepare_pipeline, register, sign_all

ARTIFACTS = ROOT / "test-artifacts" / "dossier"
T = {"v1": "2026-03-01T09:00:00Z", "v1-stable": "2026-03-01T10:00:00Z",
     "v2": "2026-03-02T09:00:00Z", "v2-stable": "2026-03-02T12:00:00Z",
     "v3": "2026-03-03T09:00:00Z", "v3-rollback": "2026-03-03T10:00:00Z",
     "emergency": "2026-03-03T15:00:00Z"}


@pytest.fixture(scope="module")
def life(tmp_path_factory):
    """v1 first release → stable; v2 → stable; v3 canary rolled back automatically; then
    an emergency rollback of v2 to v1. Built once per module through the CLI in-process."""
    tmp = tmp_path_factory.mktemp("life")
    mp = pytest.MonkeyPatch()
    old = os.getcwd()
    for var in ("GOVCTL_KEY", "GOVCTL_KEY_PASSPHRASE", "GOVCTL_REPO", "GOVCTL_LEDGER_URL",
                "GOVCTL_DEBUG", "MLFLOW_TRACKING_URI"):
        mp.delenv(var, raising=False)
    mp.setenv("GOVCTL_HOME", str(tmp / "home"))
    mp.setenv("NO_COLOR", "1")
    mp.setenv("COLUMNS", "200")
    mp.setenv("GOVCTL_NOW", "2026-02-28T12:00:00Z")

    cli = run_in_process

    repo = tmp / "svc"
    ok(cli("init", repo, "--admin", "alice"))
    os.chdir(repo)
    for name, role in (("erin", "eng-lead"), ("paul", "product-owner"), ("cora", "compliance"),
                       ("mel", "ml-engineer"), ("rita", "releaser"), ("otto", "oncall")):
        ok(cli("keys", "generate", name))
        ok(cli("trust", "add", name, "--role", role, "--key", "alice"))
    prepare_pipeline(cli, repo)

    def at(t):
        mp.setenv("GOVCTL_NOW", t)

    def advance(path, times=1):
        # each step is judged on its own window: the traffic carries the time of the step
        now = os.environ["GOVCTL_NOW"]
        for i in range(times):
            step = path.with_name(f"{path.stem}-{now[:13]}-{i}.jsonl")
            step.write_text(path.read_text().replace("2026-11-22T12:00:00Z", now))
            cli("canary", "advance", "support-bot", "--telemetry", step, "--key", "rita")

    at(T["v1"])
    v1 = register(cli, datasets=PIPELINE_DATASETS)
    sign_all(cli, v1, first_release=True)
    ok(cli("promote", "support-bot", "--version", v1, "--key", "rita"))
    good = telemetry_gen.write(tmp / "good.jsonl", {v1: {"n": 3000}}, seed=1)
    advance(good, 3)
    at(T["v1-stable"])
    advance(good)
    at(T["v2"])
    v2 = register(cli, datasets=PIPELINE_DATASETS)
    sign_all(cli, v2)
    ok(cli("promote", "support-bot", "--version", v2, "--key", "rita"))
    both = telemetry_gen.write(tmp / "both.jsonl", {v1: {"n": 6000}, v2: {"n": 3000}}, seed=2)
    advance(both, 3)
    at(T["v2-stable"])
    advance(both)
    # the canary tolerance changes (committed) before v3: each dossier shows its own steps'
    policy = repo / "policies" / "release.yaml"
    policy.write_text(policy.read_text().replace('max_latency_increase: "0.20"',
                                                 'max_latency_increase: "0.30"'))
    git(repo, "commit", "-qam", "canary latency tolerance 30%")
    at(T["v3"])
    v3 = register(cli, datasets=PIPELINE_DATASETS)
    sign_all(cli, v3)
    ok(cli("promote", "support-bot", "--version", v3, "--key", "rita"))
    bad = telemetry_gen.write(tmp / "bad.jsonl", {v2: {"n": 6000},
                                                  v3: {"n": 3000, "latency_factor": 1.6}},
                              seed=3)
    at(T["v3-rollback"])
    advance(bad)
    at(T["emergency"])
    ok(cli("rollback", "support-bot", "--reason", "refund answers <b>wrong</b>", "--key", "otto"))
    at("2026-03-04T08:00:00Z")
    out = tmp / "out"
    for v in (v1, v2, v3):
        ok(cli("report", "support-bot", "--version", v, "--out", out / f"v{v}.html",
               "--charts", out / "charts"))
    ok(cli("report", "support-bot", "--version", v2, "--out", out / f"v{v2}.md"))
    yield {"cli": cli, "repo": repo, "v": (v1, v2, v3), "out": out, "at": at}
    os.chdir(old)
    mp.undo()


def test_history_at_answers_what_served_when(life):
    cli = life["cli"]
    v1, v2, v3 = life["v"]

    def at(t):
        res = cli("history", "support-bot", "--at", t, "--json")
        assert res.code == 0, res.err
        return res.json

    assert at("2026-02-28T00:00:00Z")["stable"] is None  # before any release
    early = at("2026-03-01T09:30:00Z")  # v1 canary, no stable yet
    assert early["stable"] is None and early["canary"] == v1
    assert early["prompts"] == {"support-answer": "1"}
    assert at("2026-03-01T12:00")["stable"] == v1  # naive time: UTC
    mid = at("2026-03-02T10:00:00Z")
    assert mid["stable"] == v1 and mid["canary"] == v2 and mid["canary_weight_pct"] == 100
    during = at("2026-03-03T09:30:00Z")
    assert during["stable"] == v2 and during["canary"] == v3
    after = at("2026-03-03T14:05:00Z")  # v3's canary was rolled back at 10:00
    assert after["stable"] == v2 and after["canary"] is None
    assert after["change"]["action"] == "canary.rollback"
    assert "latency_p95_ms" in after["change"]["why"]
    final = at("2026-03-03T15:30:00+00:00")
    assert final["stable"] == v1 and final["change"]["action"] == "release.rollback"
    assert final["change"]["by"] == "otto" and "refund answers" in final["change"]["why"]
    human = cli("history", "support-bot", "--at", "2026-03-03T14:05")
    assert human.code == 0 and f"support-bot v{v2}" in human.out
    assert "automatic canary rollback by rita" in human.out
    bad = cli("history", "support-bot", "--at", "3 March")
    assert bad.code == 2 and "--at '3 March': not a time" in bad.err


def test_history_periods(life):
    cli = life["cli"]
    v1, v2, _v3 = life["v"]
    res = cli("history", "support-bot", "--env", "production", "--json")
    assert res.code == 0, res.err
    periods = res.json["periods"]["production"]
    assert [(p["version"], p["from"], p["until"]) for p in periods] == [
        (v1, T["v1-stable"], T["v2-stable"]), (v2, T["v2-stable"], T["emergency"]),
        (v1, T["emergency"], None)]
    assert periods[1]["ended_by"]["action"] == "release.rollback"
    table = cli("history", "support-bot")
    assert table.code == 0 and "emergency rollback" in table.out and "otto" in table.out


def test_dossier_tells_the_whole_story(life):
    v1, v2, v3 = life["v"]
    html = (life["out"] / f"v{v2}.html").read_text()
    banner = re.search(r"id='status-banner'>([^<]*)<", html).group(1)
    assert "no longer in production since 2026-03-03T15:00:00Z" in banner
    assert "emergency rollback by otto" in banner and "&lt;b&gt;wrong&lt;/b&gt;" in banner
    assert f"now runs v{v1}" in banner
    life_section = html.split("<section id='life'>")[1].split("</section>")[0]
    for fragment in ("registered in MLflow", "gate passed for production",
                     "canary started in production", "became stable in production",
                     "rolled back in production"):
        assert fragment in life_section, fragment
    assert "<section id='timeline'>" in html and "<b>wrong</b>" not in html
    # plain words beside ids; n/a is its own status, not a pass
    assert "Data stored in the shared remote" in html and "data-pushed" in html
    assert "<span class='na'>n/a</span>" in html and "not applicable here" in html
    assert "95th-percentile latency" in html and "0.9514370664023786" not in html
    # tolerance lines as the policy was at each step (git), not as it is today
    assert "tolerance: stable p95 +20%" in html and "+30%" not in html
    assert "tolerance from policy as committed at" in html
    v3html = (life["out"] / f"v{v3}.html").read_text()
    assert "tolerance: stable p95 +30%" in v3html and "+20%" not in v3html
    assert "no longer in production since 2026-03-03T10:00:00Z" in v3html
    assert "automatic canary rollback" in v3html
    v1html = (life["out"] / f"v{v1}.html").read_text()
    assert "serving production as the stable version now" in v1html
    md = (life["out"] / f"v{v2}.md").read_text()
    assert "> **This version is no longer in production since" in md
    assert "## Service timeline" in md and "## Life of this version" in md


def test_gate_and_sarif_show_not_applicable(life):
    cli = life["cli"]
    v1 = life["v"][0]
    res = cli("checklist", "status", "support-bot", "--version", v1, "--json")
    item = next(i for i in res.json["items"] if i["id"] == "data-pushed")
    assert item["status"] == "n/a" and item["reason"].startswith("not applicable")
    human = cli("checklist", "status", "support-bot", "--version", v1)
    assert "n/a" in human.out


def test_chart_files_and_pdf(life, tmp_path):
    _v1, v2, v3 = life["v"]
    charts = sorted(p.name for p in (life["out"] / "charts").glob(f"support-bot-v{v3}-*.svg"))
    assert f"support-bot-v{v3}-step1-latency-p95.svg" in charts
    svg = (life["out"] / "charts" / f"support-bot-v{v3}-step1-latency-p95.svg").read_text()
    assert "<title>p95 latency, step 1 at 5%</title>" in svg and 'class="limit"' in svg
    assert "milliseconds" in svg and "stable (n=" in svg and "verdict: fail" in svg
    cost = (life["out"] / "charts" / f"support-bot-v{v3}-step1-cost.svg").read_text()
    assert "verdict: pass" in cost  # the step failed on latency, not on cost
    chromium = shutil.which("chromium")
    pdf = tmp_path / "d.pdf"
    res = life["cli"]("report", "support-bot", "--version", v2, "--out", pdf)
    if not chromium:
        assert res.code == 3 and "needs headless Chromium" in res.err
        assert not pdf.exists()
        need("chromium", chromium, "Debian's chromium is not installed (.ci/run installs it)")
    assert res.code == 0, res.err
    assert pdf.read_bytes()[:5] == b"%PDF-"
    # the pages, as a reader sees them (poppler's pdftotext / pdftoppm)
    need("poppler-utils", shutil.which("pdftotext") and shutil.which("pdftoppm"),
         "poppler-utils is not installed (.ci/run installs it)")
    info = subprocess.run(["pdfinfo", pdf], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    assert pages > 1
    assert f"support-bot v{v2} — release dossier" in info  # the document title
    for n in range(1, pages + 1):
        text = subprocess.run(["pdftotext", "-layout", "-f", str(n), "-l", str(n), pdf, "-"],
                              capture_output=True, text=True, check=True).stdout
        assert f"support-bot v{v2} — release dossier" in text, (n, text[:300])
        assert f"page {n} of {pages}" in text, (n, text[-300:])
    first = subprocess.run(["pdftotext", "-f", "1", "-l", "1", pdf, "-"], capture_output=True,
                           text=True, check=True).stdout
    assert "no longer in production since" in first and "Life of this version" in first
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pdf, ARTIFACTS / f"v{v2}.pdf")
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "2", pdf,
                    ARTIFACTS / f"v{v2}-pdf-page"], check=True, timeout=120)
    assert sorted(p.name for p in ARTIFACTS.glob(f"v{v2}-pdf-page-*.png"))


PROBE = """<script>
// geometry from the rendered DOM: node boxes, points along every edge, each section's size
window.addEventListener('load', () => {
  const boxes = [...document.querySelectorAll('svg.lineage g.node rect')].map(r => {
    const b = r.getBBox(); return [r.parentNode.dataset.id, b.x, b.y, b.width, b.height]; });
  const edges = [...document.querySelectorAll('svg.lineage path.edge')].map(p => {
    const n = p.getTotalLength(), pts = [];
    for (let i = 0; i <= 400; i++) { const q = p.getPointAtLength(n * i / 400);
      pts.push([q.x, q.y]); }
    return [p.dataset.from, p.dataset.to, pts]; });
  const charts = [...document.querySelectorAll('svg.chart')].map(s => [
    (s.querySelector('title') || {}).textContent || '',
    s.querySelectorAll('line.limit').length, s.dataset.verdict || '']);
  const sections = Object.fromEntries([...document.querySelectorAll('section')].map(s =>
    [s.id, [s.getBoundingClientRect().height,
            Math.max(s.scrollWidth, ...[...s.querySelectorAll('svg,table')].map(
              e => e.getBoundingClientRect().width))]]));
  sections.head = [document.getElementById('life').getBoundingClientRect().top, 0];
  document.body.dataset.geometry = JSON.stringify({boxes, edges, charts, sections});
});
</script>"""
# one section alone, with the dossier's own stylesheet, for a screenshot cropped to it
# (the page's width kept, so flex rows wrap as in the page; the lineage at its full width)
ALONE = ("<style>body{margin:0 auto;padding:12px 16px}section>h2:first-child{margin-top:0}"
         "</style>")
WIDE = "<style>body{max-width:none}.lineage-wrap{overflow:visible}</style>"
SECTIONS = ("head", "life", "lineage", "model", "agreement", "checklist", "gate", "canary",
            "timeline", "ledger")
ROLLED_BACK = ("head", "life", "canary", "timeline")  # what differs for the rolled-back v3


def _chromium(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    need("chromium", chromium, "Debian's chromium is not installed (.ci/run installs it)")
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}"]


def test_dossier_in_a_browser(life, tmp_path):
    """From the rendered DOM: no lineage edge crosses a box (exact segment/box tests on
    the drawn paths of an 11-box DVC pipeline where straight lines would cross boxes),
    every chart has a title and its limit line, the rolled-back banner shows. One
    screenshot per section, cropped to it, kept in test-artifacts/dossier/."""
    import html as html_mod

    from geometry import crossings, straight_crossings

    flags = _chromium(tmp_path)
    _v1, v2, v3 = life["v"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for v in (v2, v3):
        page = (life["out"] / f"v{v}.html").read_text()
        probe = tmp_path / f"probe-v{v}.html"
        probe.write_text(page.replace("</body>", PROBE + "</body>"))
        dom = subprocess.run([*flags, "--window-size=1200,900", "--virtual-time-budget=5000",
                              "--dump-dom", probe.as_uri()], capture_output=True, text=True,
                             timeout=180).stdout
        m = re.search(r'data-geometry="([^"]*)"', dom)
        assert m, dom[:2000]
        geo = json.loads(html_mod.unescape(m.group(1)))
        boxes = {nid: (x, y, w, h) for nid, x, y, w, h in geo["boxes"]}
        assert len(boxes) >= 10 and len(geo["edges"]) >= 12, sorted(boxes)
        for wanted in ("stage:prepare", "stage:featurize", "data:data/corpus",
                       "data:data/features", "data:data/prepared/eval.csv",
                       "data:data/raw/tickets.csv", "prompt:support-answer/1",
                       f"model:support-bot/{v}"):
            assert wanted in boxes, (wanted, sorted(boxes))
        # a straight-line drawing of the same boxes would cut through some: the check bites
        assert straight_crossings([(a, b) for a, b, _ in geo["edges"]], boxes)
        drawn = [(a, b, [tuple(p) for p in pts]) for a, b, pts in geo["edges"]]
        assert not crossings(drawn, boxes)
        assert geo["charts"], "no charts"
        for title, limits, verdict in geo["charts"]:
            assert title and limits >= 1 and verdict, (title, limits, verdict)
        assert "no longer in production since" in dom
        head = page.split("<body>")[0]
        for section in SECTIONS if v == v2 else ROLLED_BACK:
            height, width = geo["sections"][section]
            if section == "head":  # title and the status banner
                body = page.split("<body>")[1].split("<section id='life'>")[0]
            else:
                body = (f"<section id='{section}'>" + page.split(f"<section id='{section}'>")[1]
                        .split("</section>")[0] + "</section>")
            one = tmp_path / f"v{v}-{section}.html"
            one.write_text(f"{head}{ALONE}{WIDE if section == 'lineage' else ''}<body>"
                           f"{body}</body></html>")
            shot = ARTIFACTS / f"v{v}-{section}.png"
            subprocess.run([*flags, f"--window-size={max(1200, int(width) + 48)},"
                            f"{int(height) + 48}", f"--screenshot={shot}", one.as_uri()],
                           capture_output=True, timeout=180)
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the held-out marking and classification show in the lineage box text
    assert "HELD-OUT EVAL" in dom and "PII" in dom


def test_tolerance_from_git_or_today(life):
    """A step's tolerance comes from the policy committed at its entry's git commit; with
    no readable commit, today's policy, and the dossier says so."""
    from govctl.config import find_repo
    from govctl.dossier.tolerance import Tolerances

    repo = find_repo(life["repo"])
    t = Tolerances(repo)
    first = git(life["repo"], "rev-list", "--max-parents=0", "HEAD").strip()
    old = git(life["repo"], "rev-parse", "HEAD~1").strip()
    tol, source = t.at(old, "production")
    assert tol["latency"] == 0.20 and source == f"policy as committed at {old[:10]}"
    assert t.at(first, "production")[0]["latency"] == 0.20
    for commit, why in ((None, "no git commit recorded"), ("0" * 40, "unreadable")):
        tol, source = t.at(commit, "production")
        assert tol["latency"] == 0.30 and "today's policy" in source and why in source
