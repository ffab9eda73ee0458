"""govctl history: which version served each environment over time, from the ledger."""

from __future__ import annotations

import typer

from govctl.cli._common import JSON_OPT, console, emit_json, service_arg, table


def history(
    service: str = service_arg(),
    env: str = typer.Option(None, "--env", help="One environment (default: every one the "
                            "ledger names)."),
    at: str = typer.Option(None, "--at", help="A moment (ISO 8601, UTC unless an offset is "
                           "given): what served ENV then, and the change that made it so."),
    as_json: bool = JSON_OPT,
) -> None:
    """Release history replayed from the signed ledger: every promotion, canary step,
    canary rollback, abort and emergency rollback, with who changed it and why.

    With --at, what served ENV at that moment (default ENV: production) and the change
    that made it so.

    Examples:
    govctl history support-bot
    govctl history support-bot --env production \\
      --at 2026-03-03T14:05
    """
    from rich.text import Text

    from govctl.cli._common import repo
    from govctl.release import history as hist

    r = repo()
    if at is not None:
        served = hist.served_at(r, service, at, env or "production")
        if as_json:
            emit_json(served)
            return
        c = served.change
        if c is None:
            console().print(Text(f"nothing of {service} served {served.env} at {served.at} "
                                 "(no release recorded before then)"))
            return
        canary = (f"; canary v{served.canary} at {served.canary_weight_pct:g}%"
                  if served.canary else "")
        prompts = ", ".join(f"{k} v{v}" for k, v in served.prompts.items()) or "none recorded"
        console().print(Text(
            f"{served.env} at {served.at}: {service} "
            f"{'v' + served.stable if served.stable else 'no stable version'}{canary}\n"
            f"prompts: {prompts}\n"
            f"since {c.time}: {hist.words(c.action)} by {c.by}"
            + (f" — {c.why}" if c.why else "") + f" (ledger entry {c.seq})"))
        return
    h = hist.history(r, service)
    if as_json:
        emit_json(h.to_json(env))
        return
    if not h.for_env(env):
        console().print(Text(f"the ledger records no release of {service}"
                             + (f" in {env}" if env else "")))
        return
    rows = [[c.time, c.env, f"v{c.stable}" if c.stable else "-",
             f"v{c.canary} ({c.canary_weight_pct:g}%)" if c.canary else "-",
             hist.words(c.action), c.by, c.why or "", c.seq] for c in h.for_env(env)]
    table(f"{service}: release history", ["time", "env", "stable", "canary", "change", "by",
                                           "why", "entry"], rows)
