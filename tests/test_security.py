"""Issue 19: one authorization path in the library, and input that cannot break the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from govctl import agreements, config, errors, registry, trust
from govctl.data import datasets
from govctl.release import checklists, telemetry, transitions
from govctl.signing import dsse
from govctl.signing.keys import KeyStore


def tree_hash(root: Path) -> str:
    """Every file under the repo (SQLite databases by their rows, not their bytes: SQLite
    moves its write-ahead log into the main file when a connection closes, which changes
    bytes, not content; see conftest), and the ledger's entries."""
    import hashlib

    from conftest import tree_hash as files_hash

    from govctl.ledger.log import Ledger

    h = hashlib.sha256(files_hash(root).encode())
    for e in Ledger.for_repo(config.find_repo()).entries():
        h.update(repr(e.to_json()).encode())
    return h.hexdigest()


@pytest.fixture
def expired(signers, cli, monkeypatch):
    """'exa' holds every role but its key expired yesterday."""
    assert cli("keys", "generate", "exa").code == 0
    roles = ["admin", "eng-lead", "product-owner", "compliance", "ml-engineer", "releaser",
             "oncall"]
    args = [a for r in roles for a in ("--role", r)]
    assert cli("trust", "add", "exa", *args, "--valid-until", "2026-12-01",
               "--key", "alice").code == 0
    monkeypatch.setenv("GOVCTL_NOW", "2026-12-02T12:00:00Z")
    return "exa"


def _entry_points(repo: Path):
    r = config.find_repo()
    (repo / "d.csv").write_text("a\n1\n")
    return {
        "set_aliases": lambda k: registry.set_aliases(r, k, "support-bot", {"champion": "1"}),
        "promote": lambda k: transitions.promote(r, k, "support-bot", "1", "production"),
        "advance": lambda k: transitions.advance(r, k, "support-bot", "t.jsonl"),
        "abort": lambda k: transitions.abort(r, k, "support-bot", "why"),
        "rollback": lambda k: transitions.rollback(r, k, "support-bot", "why"),
        "agreement.sign": lambda k: agreements.sign(r, "support-bot", k),
        "trust.amend": lambda k: trust.amend(r, {"expires": "2030-01-01T00:00:00Z"}, [k]),
        "trust.remove": lambda k: trust.remove_signer(r, "erin", [k]),
        "data.add": lambda k: datasets.add(r, k, repo / "d.csv", name="d", kind="train",
                                           sensitivity="internal", pii="none", owner="x"),
        "model.register": lambda k: registry.register_model(r, k, "support-bot", "0" * 32),
        "prompt.register": lambda k: registry.register_prompt(
            r, k, repo / "registry/prompts/support-answer.yaml"),
        # no checklist exists for v1: refused before it is read (CheckFailed, not NotFound)
        "checklist.sign_off": lambda k: checklists.sign_off(r, "support-bot", "1", "use-case",
                                                            k),
        "checklist.waive": lambda k: checklists.waive(
            r, "support-bot", "1", "use-case", k, justification="why",
            expires="2026-12-10"),
    }


@pytest.mark.parametrize("who", ["unauthorized", "expired"])
def test_every_library_entry_point_authorizes_itself(signers, cli, repo, monkeypatch, who):
    """Called from Python, not the CLI: refused (CheckFailed), nothing changed."""
    assert cli("agreement", "new", "support-bot").code == 0
    if who == "expired":
        assert cli("keys", "generate", "exa").code == 0
        roles = [a for r in ("admin", "eng-lead", "product-owner", "compliance",
                             "ml-engineer", "releaser", "oncall") for a in ("--role", r)]
        assert cli("trust", "add", "exa", *roles, "--valid-until", "2026-12-01",
                   "--key", "alice").code == 0
        monkeypatch.setenv("GOVCTL_NOW", "2026-12-02T12:00:00Z")
        name = "exa"
    else:
        assert cli("keys", "generate", "nobody").code == 0
        assert cli("trust", "add", "nobody", "--role", "oncall", "--key", "alice").code == 0
        name = "nobody"
    key = KeyStore().load(name)
    calls = _entry_points(repo)
    before = tree_hash(repo)
    for label, call in calls.items():
        if who == "unauthorized" and label in ("rollback", "checklist.sign_off"):
            continue  # oncall may roll back and sign off; covered by the expired key
        with pytest.raises(errors.CheckFailed) as info:
            call(key)
        assert ("expired" if who == "expired" else "may not") in info.value.message, label
        assert tree_hash(repo) == before, f"{label} changed the repo"


def test_model_alias_refuses_release_aliases_and_needs_the_alias_role(signers, cli, repo):
    before = tree_hash(repo)
    # the reported bypass: an ml-engineer moving production by hand
    res = cli("model", "alias", "support-bot", "production", "3", "--key", "mel")
    assert res.code == 2 and "release alias" in res.err
    res = cli("model", "alias", "support-bot", "staging-canary", "3", "--key", "mel")
    assert res.code == 2
    # a signer without a role model.alias allows
    res = cli("model", "alias", "support-bot", "champion", "3", "--key", "paul")
    assert res.code == 1 and "may not model.alias" in res.err
    assert tree_hash(repo) == before
    with pytest.raises(errors.InputError, match="release alias"):
        registry.set_aliases(config.find_repo(), KeyStore().load("mel"), "support-bot",
                             {"production": "3"})


def test_trust_amend_records_its_own_ledger_entry(signers, cli, repo):
    n = len(cli("audit", "log", "--action", "trust.update", "--json").json)
    old, new = trust.amend(config.find_repo(), {"expires": "2030-01-01T00:00:00Z"},
                           [KeyStore().load("alice")])
    log = cli("audit", "log", "--action", "trust.update", "--json").json
    assert len(log) == n + 1 and log[-1]["subject"]["version"] == new.version


def test_duplicate_public_key_is_one_readable_message(signers, cli, repo, tmp_path):
    pub = tmp_path / "erin.pub"
    pub.write_text(cli("keys", "export", "erin", "--format", "base64").out)
    res = cli("trust", "add", "eve", "--role", "compliance", "--public-key", pub,
              "--key", "alice")
    assert res.code == 2 and "already belongs to signer 'erin'" in res.err
    assert "pydantic" not in res.err and "validation error" not in res.err


def test_keystore_refuses_an_unset_passphrase_variable(govctl_home):
    store = KeyStore()
    with pytest.raises(errors.InputError, match="not set"):
        store.generate("k", passphrase_env="NO_SUCH_PASSPHRASE_VAR")
    assert not store.exists("k")


HOSTILE = ["[/bold] INC-7", "[INC-7] db down", "\x1b[31mred\x1b[0m"]


def test_hostile_notes_are_printed_as_text(signers, cli, repo):
    """Notes with markup and escape sequences: audit log and status keep working, print
    the text, and never emit the raw escape byte."""
    key = KeyStore().load("alice")
    from govctl import ledger

    for note in HOSTILE:
        ledger.record(config.find_repo(), key, "release.rollback",
                      {"kind": "service", "name": "support-bot"}, note=note)
    res = cli("audit", "log")
    assert res.code == 0, res.err
    assert "[/bold] INC-7" in res.out and "[INC-7] db down" in res.out
    assert "\x1b" not in res.out and "\\x1b[31mred" in res.out
    js = cli("audit", "log", "--json").json
    assert {e["note"] for e in js} >= set(HOSTILE)  # kept, escaped by JSON, in --json
    res = cli("status")
    assert res.code != 70 and "Traceback" not in res.err


def test_error_messages_neutralise_escapes(signers, cli, repo):
    res = cli("agreement", "verify", "\x1b[2Jevil")
    assert res.code == 2 and "\x1b" not in res.err and "\\x1b" in res.err


def test_dsse_accepts_both_base64_alphabets_and_ignores_unknown_fields():
    import base64

    key_sig = b"\xfb\xff\xfe" * 21 + b"\xfb"
    env = {"payloadType": dsse.AGREEMENT, "payload": base64.urlsafe_b64encode(b"{}").decode(),
           "signatures": [{"keyid": "k", "sig": base64.urlsafe_b64encode(key_sig).decode(),
                           "extra": 1.5}], "unknown": 2.5}
    parsed = dsse.Envelope.loads(json.dumps(env))
    assert parsed.signatures[0].sig == key_sig and parsed.payload == b"{}"


@pytest.mark.parametrize("value", ["Infinity", "NaN", "1e999", "-Infinity"])
def test_non_finite_latency_is_a_bad_record(tmp_path, value, recwarn):
    lines = [json.dumps({"version": "1", "latency_ms": 100 + i, "error": False})
             for i in range(5)]
    lines.append('{"version": "1", "latency_ms": "' + value + '", "error": false}')
    lines.append('{"version": "1", "latency_ms": 10, "error": false, "cost_usd": %s}'
                 % ("1e999" if value == "1e999" else f'"{value}"'))
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(lines) + "\n")
    batch = telemetry.read_jsonl(path)
    assert sum(batch.bad.values()) == 2, batch.bad
    assert not [w for w in recwarn if "numpy" in str(w.filename)]


ADD = ["--sensitivity", "internal", "--pii", "none", "--owner", "ml-team", "--key", "mel"]


def test_a_symlink_inside_a_dataset_directory_is_refused(signers, cli, repo, tmp_path):
    """At data add and at data verify: exit 2 naming the link, nothing changed."""
    outside = tmp_path / "secret.txt"
    outside.write_text("not governed\n")
    docs = repo / "data" / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "a.txt").write_text("article a\n")
    (docs / "sub" / "leak.txt").symlink_to(outside)
    before = tree_hash(repo)
    res = cli("data", "add", "data/docs", "--name", "help-docs", "--kind", "retrieval", *ADD)
    assert res.code == 2, res.err
    assert "data/docs/sub/leak.txt" in res.err and "symbolic link" in res.err
    assert tree_hash(repo) == before and not (repo / "data" / "docs.dvc").exists()
    # a link to the whole folder: refused too
    (repo / "data" / "alias").symlink_to(docs, target_is_directory=True)
    res = cli("data", "add", "data/alias", "--name", "alias-docs", "--kind", "retrieval", *ADD)
    assert res.code == 2 and "symbolic link" in res.err
    # a link slipped in after the dataset was added: verify refuses it by name
    (repo / "data" / "alias").unlink()
    (docs / "sub" / "leak.txt").unlink()
    assert cli("data", "add", "data/docs", "--name", "help-docs", "--kind", "retrieval",
               *ADD).code == 0
    (docs / "sub" / "leak.txt").symlink_to(outside)
    before = tree_hash(repo)
    for args in (("data", "verify"), ("data", "verify", "help-docs")):
        res = cli(*args)
        assert res.code == 2 and "data/docs/sub/leak.txt" in res.err, res.err
    assert tree_hash(repo) == before


@pytest.mark.parametrize("path", ["/etc", "../outside", "data/../../x", "data\\x"])
def test_dataset_entry_paths_stay_in_the_repo(path):
    from govctl.documents import DocumentError, model_from_data

    doc = {"schema": "govctl.dataset/v1", "name": "d", "path": path, "kind": "train",
           "sensitivity": "internal", "pii": "none", "owner": "x", "dvc": {"md5": "0" * 32},
           "added": "2026-01-01T00:00:00Z", "added_by": "x"}
    with pytest.raises(DocumentError, match="path: .*relative to the governed repo"):
        model_from_data(datasets.DatasetEntry, doc, "registry/datasets/d.yaml")


def _records(version: str, n: int, **fields) -> list[str]:
    base = {"latency_ms": 200.0, "error": False, "cost_usd": 0.002, "tokens_in": 100,
            "tokens_out": 50, "quality": 0.9}
    return [json.dumps({**base, **fields, "request_id": f"{version}-{i}", "version": version})
            for i in range(n)]


DEGENERATE = {
    # every canary request an error, every cost the same; one stable record
    "all-errors": _records("2", 300, error=True) + _records("1", 1),
    # zero variance everywhere, no cost or quality recorded at all
    "flat": [json.dumps({"request_id": f"{v}-{i}", "version": v, "latency_ms": 5,
                         "error": False}) for v in ("1", "2") for i in range(250)],
    "single": _records("2", 1),
}


def test_degenerate_telemetry_prints_no_numpy_warnings(signers, cli, repo, tmp_path):
    """All-errors arm, zero-variance costs and latencies, no costs at all, a single record:
    analysed through the CLI with every warning enabled, nothing but the verdict shows."""
    import warnings

    assert cli("agreement", "new", "support-bot").code == 0
    for k in ("erin", "paul", "cora"):
        assert cli("agreement", "sign", "support-bot", "--key", k).code == 0
    for case, lines in sorted(DEGENERATE.items()):
        path = tmp_path / f"{case}.jsonl"
        path.write_text("\n".join(lines) + "\n")
        for swap in (False, True):
            base, can = ("2", "1") if swap else ("1", "2")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                res = cli("canary", "analyze", "support-bot", "--telemetry", path,
                          "--baseline", base, "--canary", can, "--json")
            assert res.code in (0, 1, 5), res.err
            assert res.json["verdict"] in ("pass", "fail", "inconclusive")
            assert "Warning" not in res.err, (case, res.err)
            assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], \
                (case, [str(w.message) for w in caught])


def test_sign_off_needs_a_signoff_role_before_the_checklist_is_read(signers, cli, repo):
    """mel (ml-engineer) holds no role checklist.signoff allows: refused by the trust
    policy, not told that the checklist is missing."""
    before = tree_hash(repo)
    res = cli("checklist", "sign-off", "support-bot", "--version", "9", "--item", "use-case",
              "--key", "mel")
    assert res.code == 1 and "may not checklist.signoff" in res.err, res.err
    res = cli("checklist", "waive", "support-bot", "--version", "9", "--item", "use-case",
              "--justification", "x", "--expires", "2026-12-01", "--key", "erin")
    assert res.code == 1 and "may not waiver.grant" in res.err, res.err
    assert tree_hash(repo) == before


def test_hostile_rollback_reason_through_the_cli(signers, cli, repo):
    """govctl rollback --reason with markup and an escape sequence: audit log and status
    print it as text (the escape made visible), --json keeps it exactly."""
    import telemetry_gen
    from lifecycle import ok, prepare, register, sign_all

    reason = "[/bold] INC-7 \x1b[31m"
    prepare(cli, repo)
    v1 = register(cli)
    sign_all(cli, v1, first_release=True)
    ok(cli("promote", "support-bot", "--version", v1, "--key", "rita"))
    good = telemetry_gen.write(repo.parent / "good.jsonl", {v1: {"n": 3000}}, seed=1)
    for _ in range(4):  # the first release's canary runs to stable
        ok(cli("canary", "advance", "support-bot", "--telemetry", good, "--key", "rita"))
    v2 = register(cli)
    sign_all(cli, v2)
    ok(cli("promote", "support-bot", "--version", v2, "--key", "rita"))  # canary at step 1
    res = cli("rollback", "support-bot", "--reason", reason, "--key", "otto")
    assert res.code == 0, res.err
    assert "\x1b" not in res.out + res.err
    log = cli("audit", "log", "--action", "release.rollback")
    assert log.code == 0, log.err
    assert "[/bold] INC-7 \\x1b[31m" in log.out and "\x1b" not in log.out
    js = cli("audit", "log", "--action", "release.rollback", "--json")
    assert [e["note"] for e in js.json if e.get("note")][-1] == reason
    status = cli("status", "support-bot")
    assert status.code == 0, status.err
    assert "\x1b" not in status.out + status.err and "Traceback" not in status.err
    if "INC-7" in status.out:
        assert "[/bold] INC-7 \\x1b[31m" in status.out
    st_js = cli("status", "support-bot", "--json")
    assert '"note": ' + json.dumps(reason) in st_js.out  # the exact text, JSON-escaped


def test_validation_errors_are_file_field_reason_never_raw_pydantic(signers, cli, repo):
    """Every entry point that validates user input through a model says where, which
    field and why, in one line — no pydantic dump."""
    import re

    raw = ("validation error", "errors.pydantic.dev", "For further information", "input_value",
           "Traceback")

    def readable(res, pattern):
        assert res.code == 2, res.err
        assert not any(r in res.err for r in raw), res.err
        assert re.search(pattern, res.err), res.err

    assert cli("keys", "generate", "zed").code == 0
    readable(cli("trust", "add", "zed", "--role", "oncall", "--valid-until", "2026-13-45",
                 "--key", "alice"), r"--valid-until '2026-13-45' is not an ISO date")
    (repo / "d.csv").write_text("a\n1\n")
    readable(cli("data", "add", "d.csv", "--name", "d", "--kind", "train", "--sensitivity",
                 "internal", "--pii", "none", "--owner", "", "--key", "mel"),
             r"error: dataset 'd': owner: .*at least 1 character")
    readable(cli("data", "add", "d.csv", "--name", "d", "--kind", "train", "--sensitivity",
                 "internal", "--pii", "none", "--owner", "x", "--retention", "0",
                 "--key", "mel"), r"error: dataset 'd': retention_days: ")
    assert cli("agreement", "new", "support-bot").code == 0
    path = repo / "agreements" / "support-bot.yaml"
    text = path.read_text()
    path.write_text(text.replace("    p95: 1500", "    p95: [1500]"))
    readable(cli("agreement", "verify", "support-bot"),
             r"agreements/support-bot\.yaml:\d+: slo\.latency_ms\.p95: ")
    path.write_text(text.replace("service: support-bot", "service: {a: 1}"))
    readable(cli("agreement", "verify", "support-bot"), r"support-bot\.yaml:\d+: service: ")
    assert not (repo / "registry" / "datasets" / "d.yaml").exists()
