"""govctl keys: generate, list, export; permissions, passphrases, bad input."""

from __future__ import annotations

import os
import stat

import pytest


def test_generate_list_export(cli, govctl_home):
    res = cli("keys", "generate", "alice", "--json")
    assert res.code == 0, res.err
    kid = res.json["key_id"]
    priv = govctl_home / "keys" / "alice.key"
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600
    assert stat.S_IMODE(priv.parent.stat().st_mode) == 0o700
    assert "PRIVATE KEY" not in res.out  # key material never printed
    listed = cli("keys", "list", "--json").json
    assert [k["name"] for k in listed] == ["alice"] and listed[0]["key_id"] == kid
    exported = cli("keys", "export", "alice").json
    assert exported["key_id"] == kid and "PRIVATE" not in cli("keys", "export", "alice").out
    pem = cli("keys", "export", "alice", "--format", "pem").out
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")


def test_generate_twice_refused(cli):
    assert cli("keys", "generate", "alice").code == 0
    res = cli("keys", "generate", "alice")
    assert res.code == 2 and "already exists" in res.err


@pytest.mark.parametrize("name", ["../evil", "", "a b", "-x"])
def test_bad_key_names(cli, name, govctl_home):
    res = cli("keys", "generate", name)
    assert res.code == 2
    assert "Traceback" not in res.err
    assert not (govctl_home / "keys").exists() or not list((govctl_home / "keys").iterdir())


def test_unknown_key_export(cli):
    res = cli("keys", "export", "nobody")
    assert res.code == 2 and "no key named 'nobody'" in res.err


def test_encrypted_key_needs_right_passphrase(tmp_path, cli, monkeypatch, govctl_home):
    monkeypatch.setenv("GOVCTL_KEY_PASSPHRASE", "correct horse")
    assert cli("keys", "generate", "alice").code == 0
    assert b"ENCRYPTED" in (govctl_home / "keys" / "alice.key").read_bytes()
    assert cli("keys", "list", "--json").json[0]["encrypted"] is True
    monkeypatch.setenv("GOVCTL_KEY_PASSPHRASE", "wrong")
    path = tmp_path / "svc"
    res = cli("init", path, "--admin", "alice")
    assert res.code == 2 and "wrong passphrase" in res.err
    assert not path.exists()  # nothing changed
    monkeypatch.delenv("GOVCTL_KEY_PASSPHRASE")
    res = cli("init", path, "--admin", "alice")
    assert res.code == 2 and "encrypted" in res.err
    monkeypatch.setenv("GOVCTL_KEY_PASSPHRASE", "correct horse")
    assert cli("init", path, "--admin", "alice").code == 0


def test_passphrase_env_that_is_not_set_is_refused(cli, govctl_home, monkeypatch):
    monkeypatch.delenv("NOPE_UNSET", raising=False)
    res = cli("keys", "generate", "k1", "--passphrase-env", "NOPE_UNSET")
    assert res.code == 2 and "NOPE_UNSET" in res.err
    assert not (govctl_home / "keys" / "k1.key").exists()  # not even unencrypted
    monkeypatch.setenv("NOPE_UNSET", "s3cret")
    assert cli("keys", "generate", "k1", "--passphrase-env", "NOPE_UNSET").code == 0
    assert b"ENCRYPTED" in (govctl_home / "keys" / "k1.key").read_bytes()


def test_world_readable_private_key_refused(tmp_path, cli, govctl_home):
    assert cli("keys", "generate", "alice").code == 0
    os.chmod(govctl_home / "keys" / "alice.key", 0o644)
    res = cli("init", tmp_path / "svc", "--admin", "alice")
    assert res.code == 2 and "readable by other users" in res.err and "chmod 600" in res.err
    assert not (tmp_path / "svc").exists()


def test_empty_list(cli):
    res = cli("keys", "list")
    assert res.code == 0 and "no keys" in res.out
