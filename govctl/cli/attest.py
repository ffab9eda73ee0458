"""govctl attest: release attestations (in-toto Statements in DSSE envelopes)."""

from __future__ import annotations

import typer

from govctl.cli._common import (
    JSON_OPT,
    console,
    emit_json,
    ok,
    repo,
    service_arg,
    table,
    version_option,
)

app = typer.Typer(help="Show and verify release attestations (in-toto, DSSE-signed).",
                  no_args_is_help=True)

ENV_HELP = "Environment (default: production if attested there, else the only one)."


@app.command("show")
def show(
    service: str = service_arg(),
    version: str = version_option(),
    env: str = typer.Option(None, "--env", help=ENV_HELP),
    as_json: bool = JSON_OPT,
) -> None:
    """Print the attestation of a release: its subject (the model by manifest digest) and
    predicate (gate, agreement, checklist, canary verdicts, prompts, ledger entry).

    Examples:
    govctl attest show support-bot --version 3
    govctl attest show support-bot --version 3 --json
    """
    from govctl.release import attestations

    data = attestations.show(repo(), service, version, env)
    if as_json:
        emit_json(data)
        return
    st, pred = data["statement"], data["statement"]["predicate"]
    c = console()
    c.print(f"{data['path']}  ({st['predicateType']})", markup=False)
    for s in st["subject"]:
        c.print(f"subject {s['name']}  sha256:{s['digest']['sha256']}", markup=False)
    rel = pred.get("release", {})
    gate = pred.get("gate", {})
    agreement = pred.get("agreement", {})
    table(None, ["field", "value"], [
        ["environment", pred.get("environment")],
        ["released by", f"{rel.get('releaser')} ({rel.get('action')}, ledger #"
                        f"{rel.get('ledger_seq')})"],
        ["gate results", gate.get("results_digest") or "-"],
        ["checklist", gate.get("checklist_digest") or "-"],
        ["agreement", agreement.get("digest") or "-"],
        ["signers", "; ".join(f"{r}: {', '.join(n)}" for r, n in
                              (agreement.get("signers") or {}).items()) or "-"],
        ["canary verdicts", str(len(pred.get("canary_analyses") or []))],
        ["prompts", ", ".join(p["name"] for p in pred.get("prompts") or []) or "-"],
        ["files", f"{pred['manifest']['files']} ({pred['manifest']['bytes']} bytes)"],
    ])


@app.command("verify")
def verify(
    service: str = service_arg(),
    version: str = version_option(),
    env: str = typer.Option(None, "--env", help=ENV_HELP),
    as_json: bool = JSON_OPT,
) -> None:
    """Check an attestation: signed by a trust-policy signer over the exact bytes, about
    this release, its subject the manifest digest the ledger pinned, and the envelope the
    ledger recorded. Exit 4 naming what is wrong.

    Examples:
    govctl attest verify support-bot --version 3
    """
    from govctl.release import attestations

    res = attestations.verify(repo(), service, version, env)
    if as_json:
        emit_json({k: v for k, v in res.items() if k != "statement"})
        return
    ok(f"{res['path']}: {service} v{version} in {res['environment']}, signed by "
       f"{', '.join(res['signed_by'])}, subject sha256:{res['subject']['digest']['sha256']}")
