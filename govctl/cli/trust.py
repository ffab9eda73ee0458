"""govctl trust: the signed trust policy."""

from __future__ import annotations

from pathlib import Path

import typer

from govctl.cli._common import JSON_OPT, console, emit_json, fail, ok, repo, table, warn

app = typer.Typer(
    help="The trust policy (policies/trust.yaml): signers, roles and who may do what.",
    no_args_is_help=True,
)

ADMIN_KEYS = typer.Option(
    ...,
    "--key",
    "-k",
    envvar="GOVCTL_KEY",
    help="Admin key(s) signing the change; repeat until the admin threshold is met.",
)


def _record(r, key, old, new, what: str) -> None:
    from govctl import ledger, trust

    ledger.record(
        r,
        key,
        "trust.update",
        {"kind": "trust", "name": "policy", "version": new.version},
        evidence={"digest": trust.policy_digest(new), "previous": trust.policy_digest(old)},
        note=what,
    )


@app.command("show")
def show(as_json: bool = JSON_OPT) -> None:
    """Show the current trust policy: signers, roles and requirements."""
    from govctl import trust

    policy = trust.read_current(repo())
    if as_json:
        emit_json(policy.to_doc())
        return
    console().print(f"trust policy version {policy.version}, expires {policy.expires}")
    table(
        "signers",
        ["name", "roles", "key id", "valid until"],
        [[s.name, ", ".join(s.roles), s.key_id[:16] + "...", s.valid_until or "-"]
         for s in policy.signers],
    )
    rows = []
    for action, req in policy.requirements.items():
        need = ", ".join(f"{n}×{r}" for r, n in req.roles.items())
        if req.any_of:
            need = (need + "; " if need else "") + "any of " + ", ".join(req.any_of)
        rows.append([action, need])
    table("requirements", ["action", "needs"], rows)


@app.command("verify")
def verify(as_json: bool = JSON_OPT) -> None:
    """Verify the whole chain of signed versions and that trust.yaml was not edited by hand.

    Exit 0 valid; 1 expired; 4 tampered (a hand edit, a bad or missing signature).
    """
    from govctl import trust
    from govctl.errors import EXIT_CHECK_FAILED

    report = trust.verify(repo())
    if as_json:
        emit_json(report.to_json())
    elif report.expired:
        fail(report.problems[0])
    else:
        ok(
            f"trust policy version {report.policy.version} verifies "
            f"({report.versions} signed version(s), expires {report.policy.expires})"
        )
    if report.expired:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command("add")
def add(
    name: str = typer.Argument(..., help="Signer name (their key name)."),
    roles: list[str] = typer.Option(..., "--role", "-r", help="Role to grant; repeatable."),
    keys: list[str] = ADMIN_KEYS,
    public_key: Path = typer.Option(
        None, "--public-key", help="Their public key (govctl keys export output, PEM or "
        "base64). Default: the key named NAME in your key store.",
    ),
    valid_until: str = typer.Option(None, "--valid-until", help="Key expiry (ISO date)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Add a signer, or change the roles of an existing one.

    Example: govctl trust add bob --role eng-lead --key alice
    """
    from govctl import clock, trust
    from govctl.errors import InputError
    from govctl.signing.dsse import b64e
    from govctl.signing.keys import KeyStore, check_name, key_id, parse_public_key

    check_name(name)
    r = repo()
    if public_key is not None:
        try:
            text = public_key.read_text("utf-8")
        except OSError as exc:
            raise InputError(f"cannot read {public_key}: {exc.strerror}") from None
        raw = parse_public_key(text, source=str(public_key))
    else:
        raw = KeyStore().public(name).public_raw
    if valid_until:
        try:
            valid_until = clock.to_iso(clock.parse_time(valid_until))
        except ValueError:
            raise InputError(f"--valid-until {valid_until!r} is not an ISO date") from None
        if clock.parse_time(valid_until) <= clock.now():
            raise InputError(f"--valid-until {valid_until} is not in the future")
    signing = [KeyStore().load(k) for k in keys]
    current = trust.read_current(r)
    known = set(trust.ROLES) | {x for s in current.signers for x in s.roles}
    for req in current.requirements.values():
        known |= set(req.roles) | set(req.any_of)
    unknown = [x for x in roles if x not in known]
    if unknown:
        raise InputError(f"unknown role {unknown[0]!r}: no requirement of the trust policy "
                         f"uses it (roles: {', '.join(sorted(known))}); nothing was changed")
    before = next((list(s.roles) for s in current.signers if s.name == name), None)
    signers = [s.model_dump(exclude_none=True) for s in current.signers if s.name != name]
    entry = {"name": name, "key_id": key_id(raw), "public_key": b64e(raw), "roles": list(roles)}
    if valid_until:
        entry["valid_until"] = valid_until
    old, new = trust.amend(r, {"signers": [*signers, entry]}, signing)
    _record(r, signing[0], old, new, f"add {name} as {', '.join(roles)}")
    if as_json:
        emit_json({"version": new.version, "signer": entry})
        return
    ok(f"trust policy version {new.version}: {name} has roles {', '.join(roles)}")
    dropped = [x for x in before or [] if x not in roles]
    if dropped:
        warn(f"{name} no longer holds {', '.join(dropped)} (--role replaces a signer's roles); "
             "signatures that counted for those roles stop counting")


@app.command("remove")
def remove(
    name: str = typer.Argument(..., help="Signer to remove."),
    keys: list[str] = ADMIN_KEYS,
    as_json: bool = JSON_OPT,
) -> None:
    """Remove a signer. Their signatures stop counting everywhere from now on."""
    from govctl import trust
    from govctl.signing.keys import KeyStore

    r = repo()
    current = trust.read_current(r)
    current.signer(name)  # raises NotFound with a clear message
    signing = [KeyStore().load(k) for k in keys]
    signers = [s.model_dump(exclude_none=True) for s in current.signers if s.name != name]
    old, new = trust.amend(r, {"signers": signers}, signing)
    _record(r, signing[0], old, new, f"remove {name}")
    if as_json:
        emit_json({"version": new.version, "removed": name})
        return
    ok(f"trust policy version {new.version}: removed {name}")


@app.command("renew")
def renew(
    expires: str = typer.Option(..., "--expires", help="New expiry (ISO date or time)."),
    keys: list[str] = ADMIN_KEYS,
    as_json: bool = JSON_OPT,
) -> None:
    """Extend (or shorten) the trust policy's expiry."""
    from govctl import clock, trust
    from govctl.errors import InputError
    from govctl.signing.keys import KeyStore

    try:
        when = clock.parse_time(expires)
    except ValueError:
        raise InputError(f"--expires {expires!r} is not an ISO date") from None
    if when <= clock.now():
        raise InputError(f"--expires {expires} is in the past")
    r = repo()
    signing = [KeyStore().load(k) for k in keys]
    old, new = trust.amend(r, {"expires": clock.to_iso(when)}, signing)
    _record(r, signing[0], old, new, f"renew until {new.expires}")
    if as_json:
        emit_json({"version": new.version, "expires": new.expires})
        return
    ok(f"trust policy version {new.version} expires {new.expires}")
