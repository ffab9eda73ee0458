"""govctl trust: the signed trust policy."""

from __future__ import annotations

from pathlib import Path

import typer

from govctl.cli._common import (
    JSON_OPT,
    admin_keys_option,
    console,
    emit_json,
    fail,
    load_keys,
    ok,
    repo,
    table,
    warn,
)

app = typer.Typer(
    help="The trust policy (policies/trust.yaml): signers, roles and who may do what.",
    no_args_is_help=True,
)

ADMIN_KEYS = admin_keys_option()


@app.command("show")
def show(as_json: bool = JSON_OPT) -> None:
    """Show the current trust policy: signers, roles and requirements.

    Example:
    govctl trust show
    """
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

    Example:
    govctl trust verify
    """
    from govctl import trust
    from govctl.errors import EXIT_CHECK_FAILED

    report = trust.verify(repo())
    if as_json:
        emit_json(report)
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
    name: str = typer.Argument(..., metavar="NAME", help="Signer name (their key name)."),
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

    Examples:
    govctl trust add bob --role eng-lead --key alice
    govctl trust add carol --role compliance \\
      --public-key carol.pem --key alice
    """
    from govctl import trust

    change = trust.add_signer(repo(), name, list(roles), load_keys(keys),
                              public_key=public_key, valid_until=valid_until)
    if as_json:
        emit_json({"version": change.new.version, "signer": change.signer})
        return
    ok(f"trust policy version {change.new.version}: {name} has roles {', '.join(roles)}")
    if change.dropped_roles:
        warn(f"{name} no longer holds {', '.join(change.dropped_roles)} (--role replaces a "
             "signer's roles); signatures that counted for those roles stop counting")


@app.command("remove")
def remove(
    name: str = typer.Argument(..., metavar="NAME", help="Signer to remove."),
    keys: list[str] = ADMIN_KEYS,
    as_json: bool = JSON_OPT,
) -> None:
    """Remove a signer. Their signatures stop counting everywhere from now on.

    Example:
    govctl trust remove bob --key alice
    """
    from govctl import trust

    change = trust.remove_signer(repo(), name, load_keys(keys))
    if as_json:
        emit_json({"version": change.new.version, "removed": name})
        return
    ok(f"trust policy version {change.new.version}: removed {name}")


@app.command("renew")
def renew(
    expires: str = typer.Option(..., "--expires", help="New expiry (ISO date or time)."),
    keys: list[str] = ADMIN_KEYS,
    as_json: bool = JSON_OPT,
) -> None:
    """Extend (or shorten) the trust policy's expiry.

    Example:
    govctl trust renew --expires 2027-12-31 --key alice
    """
    from govctl import trust

    change = trust.renew(repo(), expires, load_keys(keys))
    if as_json:
        emit_json({"version": change.new.version, "expires": change.new.expires})
        return
    ok(f"trust policy version {change.new.version} expires {change.new.expires}")
