"""govctl keys: the local Ed25519 key store."""

from __future__ import annotations

import typer

from govctl.cli._common import JSON_OPT, KeyFormat, console, emit_json, ok, table

app = typer.Typer(
    help="Manage your Ed25519 signing keys ($GOVCTL_HOME/keys, private keys mode 0600).",
    no_args_is_help=True,
)


@app.command("generate")
def generate(
    name: str = typer.Argument(..., metavar="NAME", help="Name of the new key, e.g. your user name."),
    passphrase_env: str = typer.Option(
        None,
        "--passphrase-env",
        help="Encrypt the private key with the passphrase in this environment variable, "
        "which must then be set. Without the option: GOVCTL_KEY_PASSPHRASE, if set.",
        show_default=False,
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Generate an Ed25519 key pair in your key store.

    The private key never leaves $GOVCTL_HOME/keys. Give the public key to an admin
    (govctl keys export NAME) so they can add you to the trust policy.

    Examples:
    govctl keys generate alice
    govctl keys generate ci-bot --passphrase-env CI_KEY_PASS
    """
    from govctl.signing.keys import PASSPHRASE_ENV, KeyStore

    store = KeyStore()
    pub = store.generate(name, passphrase_env=passphrase_env or PASSPHRASE_ENV,
                         allow_unencrypted=passphrase_env is None)
    if as_json:
        emit_json({**pub.to_json(), "path": str(store.root / f"{name}.key")})
        return
    ok(f"generated {name} ({pub.key_id[:16]}...){' encrypted' if pub.encrypted else ''}")
    console().print(f"private key: {store.root / (name + '.key')} (mode 0600)")


@app.command("list")
def list_keys(as_json: bool = JSON_OPT) -> None:
    """List the keys in your key store (public halves only).

    Example:
    govctl keys list
    """
    from govctl.signing.keys import KeyStore

    store = KeyStore()
    keys = store.list()
    if as_json:
        emit_json(keys)
        return
    if not keys:
        console().print(f"no keys in {store.root}; create one with 'govctl keys generate NAME'")
        return
    table(
        f"keys in {store.root}",
        ["name", "key id", "created", "encrypted"],
        [[k.name, k.key_id[:16] + "...", k.created, "yes" if k.encrypted else "no"] for k in keys],
    )


@app.command("export")
def export(
    name: str = typer.Argument(..., metavar="NAME", help="Key to export."),
    fmt: KeyFormat = typer.Option("json", "--format", help="Output: JSON (name, key id and "
                                  "key), PEM or the raw key in base64."),
) -> None:
    """Print a public key, to hand to an admin for 'govctl trust add --public-key'.

    Example:
    govctl keys export alice --format pem > alice.pem
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from govctl.errors import InputError
    from govctl.signing.keys import KeyStore

    pub = KeyStore().public(name)
    if fmt == "json":
        emit_json(pub)
    elif fmt == "base64":
        typer.echo(pub.public_b64)
    elif fmt == "pem":
        pem = Ed25519PublicKey.from_public_bytes(pub.public_raw).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        typer.echo(pem.decode().strip())
    else:
        raise InputError(f"unknown --format {fmt!r}: use json, pem or base64")
