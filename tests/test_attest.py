"""Artifact manifests and release attestations: the bytes that passed the gate serve.

A real MLflow store; the attestation is read back with securesystemslib's DSSE and the
in-toto-attestation bindings, independent implementations of the formats govctl writes.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path

import pytest
import telemetry_gen
from lifecycle import ok, prepare, sign_all

from govctl.config import find_repo


def log_model_run(weights: bytes) -> str:
    """A run whose model folder holds an MLmodel file and a (small) weights file."""
    import mlflow

    from govctl.adapters import mlflowstore

    exp = mlflowstore.configure(find_repo())
    with mlflow.start_run(experiment_id=exp) as run:
        mlflow.log_metric("accuracy", 0.91)
        mlflow.log_metric("groundedness", 0.95)
        mlflow.log_text("flavors: {}\n", "model/MLmodel")
        mlflow.log_text(weights.decode("latin-1"), "model/weights/layer0.bin")
    return run.info.run_id


def register(cli, weights: bytes) -> tuple[str, str]:
    run = log_model_run(weights)
    res = ok(cli("model", "register", "support-bot", "--run", run, "--dataset", "support-train",
                 "--dataset", "support-bot-eval", "--key", "mel", "--json"))
    return res.json["version"], run


def weights_file(run: str) -> Path:
    from govctl.registry import manifests

    folder = manifests.local_path(find_repo(), f"runs:/{run}/model")
    return folder / "weights" / "layer0.bin"


def flip(path: Path) -> bytes:
    """Replace one byte in place; returns the original content."""
    raw = path.read_bytes()
    path.write_bytes(raw[:3] + bytes([raw[3] ^ 0x01]) + raw[4:])
    return raw


def advance_all(cli, path, times: int = 4) -> None:
    for _ in range(times):
        ok(cli("canary", "advance", "support-bot", "--telemetry", path, "--key", "rita"))


def test_manifest_format_matches_model_signing(tmp_path):
    from govctl.registry import manifests

    (tmp_path / "m" / "b").mkdir(parents=True)
    (tmp_path / "m" / "b" / "z.bin").write_bytes(b"\x00" * 3_000_000)
    (tmp_path / "m" / "a.txt").write_text("hello")
    seen = []
    doc = manifests.build(tmp_path / "m", name="m", source="x", progress=lambda d, t:
                          seen.append((d, t)))
    names = [r["name"] for r in doc["resources"]]
    assert names == ["a.txt", "b/z.bin"]
    digests = [hashlib.sha256(b"hello").hexdigest(),
               hashlib.sha256(b"\x00" * 3_000_000).hexdigest()]
    assert [r["digest"] for r in doc["resources"]] == digests
    assert [r["size"] for r in doc["resources"]] == [5, 3_000_000]
    # model-signing v1.0: subject digest = SHA-256 over the raw file digests in path order
    assert doc["root_digest"]["sha256"] == hashlib.sha256(
        b"".join(bytes.fromhex(d) for d in digests)).hexdigest()
    assert doc["serialization"]["method"] == "files"
    assert seen[-1] == (3_000_005, 3_000_005) and len(seen) >= 3  # streamed in chunks
    (tmp_path / "m" / "link").symlink_to(tmp_path / "m" / "a.txt")
    from govctl.errors import IntegrityError

    with pytest.raises(IntegrityError, match="link is a symbolic link"):
        manifests.build(tmp_path / "m", name="m", source="x")


def _independent_verify(envelope: dict, public_raw: bytes, keyid: str) -> dict:
    """securesystemslib's DSSE and in-toto-attestation's Statement: not govctl's code."""
    from google.protobuf import json_format
    from in_toto_attestation.v1 import statement, statement_pb2
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import SSlibKey

    env = Envelope.from_dict(copy.deepcopy(envelope))  # from_dict rewrites what it is given
    key = SSlibKey(keyid, "ed25519", "ed25519", {"public": public_raw.hex()})
    env.verify([key], 1)  # raises VerificationError on a bad signature
    assert env.payload_type == "application/vnd.in-toto+json"
    pb = json_format.Parse(env.payload, statement_pb2.Statement())
    statement.Statement.copy_from_pb(pb).validate()
    return json.loads(env.payload)


def _tamper(envelope: dict, edit) -> dict:
    st = json.loads(base64.b64decode(envelope["payload"]))
    edit(st)
    return {**envelope, "payload": base64.b64encode(json.dumps(st).encode()).decode()}


@pytest.fixture
def released(signers, repo, cli, tmp_path):
    """v1 stable in production through a full canary; v2 registered and gate-ready."""
    prepare(cli, repo)
    v1, run1 = register(cli, b"weights-one-" * 100)
    sign_all(cli, v1, first_release=True)
    ok(cli("promote", "support-bot", "--version", v1, "--key", "rita"))
    good = telemetry_gen.write(tmp_path / "good.jsonl", {v1: {"n": 3000}}, seed=3)
    advance_all(cli, good)
    v2, run2 = register(cli, b"weights-two-" * 100)
    sign_all(cli, v2)
    return {"v1": v1, "run1": run1, "v2": v2, "run2": run2}


def test_attestation_verifies_independently_and_tampering_fails(released, repo, cli):
    from govctl.signing.keys import KeyStore

    v1 = released["v1"]
    res = ok(cli("attest", "verify", "support-bot", "--version", v1, "--json"))
    assert res.json["signed_by"] == ["rita"] and res.json["environment"] == "production"
    shown = ok(cli("attest", "show", "support-bot", "--version", v1, "--json")).json
    pred = shown["statement"]["predicate"]
    assert pred["service"] == "support-bot" and pred["version"] == v1
    assert pred["gate"]["results_digest"].startswith("sha256:")
    assert pred["agreement"]["digest"] and set(pred["agreement"]["signers"])
    assert [a["verdict"] for a in pred["canary_analyses"]] == ["pass"] * 4
    assert pred["release"]["action"] == "canary.promote"
    from govctl.ledger import merkle

    cp = pred["ledger"]["checkpoint"]
    assert merkle.verify_inclusion(pred["ledger"]["entry"] - 1, cp["tree_size"],
                                   bytes.fromhex(cp["leaf_hash"]),
                                   [bytes.fromhex(h) for h in cp["inclusion_proof"]],
                                   bytes.fromhex(cp["root"]))
    model = ok(cli("model", "show", "support-bot", "--version", v1, "--json")).json
    subject = shown["statement"]["subject"][0]
    assert "sha256:" + subject["digest"]["sha256"] == model["manifest_sha256"]
    assert (repo / "registry/manifests/support-bot" / f"{v1}.json").is_file()
    ok(cli("attest", "show", "support-bot", "--version", v1))

    rita = KeyStore().public("rita")
    path = repo / "attestations" / "support-bot" / f"{v1}-production.intoto.json"
    envelope = json.loads(path.read_text())
    st = _independent_verify(envelope, rita.public_raw, rita.key_id)
    assert st["subject"] == shown["statement"]["subject"]

    from securesystemslib.exceptions import VerificationError

    def edit_pred(s):
        s["predicate"]["environment"] = "staging"

    def edit_subject(s):
        s["subject"][0]["digest"]["sha256"] = "0" * 64

    original = path.read_text()
    for edit in (edit_pred, edit_subject):
        bad = _tamper(envelope, edit)
        with pytest.raises(VerificationError):
            _independent_verify(bad, rita.public_raw, rita.key_id)
        path.write_text(json.dumps(bad))
        res = cli("attest", "verify", "support-bot", "--version", v1)
        assert res.code == 4 and "no valid signature" in res.err, res.err
    path.write_text(original)
    ok(cli("attest", "verify", "support-bot", "--version", v1))
    assert cli("attest", "verify", "support-bot", "--version", "99").code == 2


def test_replaced_byte_is_refused_everywhere(released, repo, cli, tmp_path):
    from govctl.errors import IntegrityError
    from govctl.release.routing import Router, verified_model_path

    v1, v2 = released["v1"], released["v2"]
    ok(cli("gate", "support-bot", "--version", v2, "--key", "rita"))  # the gate passed
    target = weights_file(released["run2"])
    original = flip(target)
    name = "weights/layer0.bin"

    res = cli("gate", "support-bot", "--version", v2, "--key", "rita", "--format", "json")
    assert res.code == 4 and name in res.err, res.err
    items = {i["id"]: i for i in res.json["items"]}
    assert items["artifact-integrity"]["status"] == "fail"
    res = cli("promote", "support-bot", "--version", v2, "--key", "rita")
    assert res.code == 4 and name in res.err and "changed after registration" in res.err
    assert cli("status", "support-bot", "--json").json["canary"] is None  # nothing moved
    res = cli("model", "verify", "support-bot", "--artifacts", "--json")
    assert res.code == 4 and any(name in d["message"] for d in res.json["drift"])
    from govctl import registry

    drifts = registry.verify_models(find_repo(), "support-bot", artifacts=True)
    assert [d.to_json() for d in drifts] == res.json["drift"]  # what the CLI reports
    with pytest.raises(IntegrityError, match=name):
        verified_model_path(find_repo(), "support-bot", v2)
    router = Router.for_repo(str(repo), "support-bot")
    with pytest.raises(IntegrityError, match=name):
        router.load_model(v2)
    assert verified_model_path(find_repo(), "support-bot", v1).is_dir()  # v1 is intact

    target.write_bytes(original)  # restored: the same bytes pass again
    ok(cli("model", "verify", "support-bot", "--artifacts", "--version", v2))
    ok(cli("promote", "support-bot", "--version", v2, "--key", "rita"))
    both = telemetry_gen.write(tmp_path / "both.jsonl", {v1: {"n": 6000}, v2: {"n": 3000}},
                               seed=4)
    advance_all(cli, both, 3)  # at 100%: one advance left, which makes it stable
    flip(target)
    res = cli("canary", "advance", "support-bot", "--telemetry", both, "--key", "rita")
    assert res.code == 4 and name in res.err
    target.write_bytes(original)
    advance_all(cli, both, 1)
    assert cli("status", "support-bot", "--json").json["stable"] == v2
    ok(cli("attest", "verify", "support-bot", "--version", v2))

    v1_file = weights_file(released["run1"])
    v1_original = flip(v1_file)
    res = cli("rollback", "support-bot", "--reason", "tickets", "--key", "otto")
    assert res.code == 4 and name in res.err and f"support-bot v{v1}" in res.err
    assert cli("status", "support-bot", "--json").json["stable"] == v2
    v1_file.write_bytes(v1_original)
    ok(cli("rollback", "support-bot", "--reason", "tickets", "--key", "otto"))


def test_edited_manifest_or_tag_is_integrity_violation(released, repo, cli):
    from govctl.adapters import mlflowstore as ml

    v2 = released["v2"]
    path = repo / "registry/manifests/support-bot" / f"{v2}.json"
    original = path.read_text()
    doc = json.loads(original)
    doc["resources"][0]["size"] += 1
    path.write_text(json.dumps(doc))
    res = cli("model", "verify", "support-bot", "--artifacts", "--version", v2)
    assert res.code == 4 and "was edited" in res.err + res.out
    path.write_text(original)
    ml.client(find_repo()).set_model_version_tag("support-bot", v2, "govctl.manifest_sha256",
                                                 "sha256:" + "0" * 64)
    res = cli("model", "verify", "support-bot")
    assert res.code == 4 and "govctl.manifest_sha256" in res.out + res.err
    res = cli("gate", "support-bot", "--version", v2, "--key", "rita")
    assert res.code == 4 and "govctl.manifest_sha256" in res.err



def test_mlflow3_logged_model_is_hashed_where_it_lives(repo, tmp_path):
    """``models:/m-ID`` (an MLflow 3 LoggedModel, what ``log_model(name=...)`` makes)
    resolves to the LoggedModel's own artifact folder, hashed in place."""
    import mlflow

    from govctl.adapters import mlflowstore
    from govctl.registry import manifests

    r = find_repo()
    exp = mlflowstore.configure(r)
    (tmp_path / "bot").mkdir()
    (tmp_path / "bot" / "MLmodel").write_text("flavors: {}\n")
    (tmp_path / "bot" / "weights.bin").write_bytes(b"\x01" * 4096)
    with mlflow.start_run(experiment_id=exp) as run:
        model = mlflow.initialize_logged_model(name="bot", source_run_id=run.info.run_id,
                                               experiment_id=exp)
        mlflowstore.client(r).log_model_artifacts(model.model_id, str(tmp_path / "bot"))
    uri = f"models:/{model.model_id}"
    doc = manifests.for_source(r, "bot", uri)
    assert [x["name"] for x in doc["resources"]] == ["MLmodel", "weights.bin"]
    folder = manifests.local_path(r, uri)
    assert folder is not None and str(folder).startswith(str(r.state))  # in place
    assert doc == manifests.build(folder, name="bot", source=uri)
