"""govctl promote / rollback / status and govctl canary."""

from __future__ import annotations

import typer

from govctl.cli._common import (
    JSON_OPT,
    console,
    emit_json,
    fail,
    key_option,
    ok,
    repo,
    service_arg,
    styled,
    table,
    version_option,
    warn,
)

canary_app = typer.Typer(help="Canary analysis and stepping (statistics valid under "
                         "repeated looks).", no_args_is_help=True)

ENV_OPT = typer.Option("production", "--env", help="Target environment (its MLflow alias).")
TELEMETRY_HELP = ("FILE.jsonl, FILE.csv, FILE.parquet (or s3://), sql:URL#TABLE, "
                  "otlp:FILE.json, prometheus:URL or mlflow:EXPERIMENT (docs/telemetry.md).")


def _print_outcome(outcome, as_json: bool) -> None:
    if as_json:
        emit_json(outcome)
        return
    for m in outcome.messages:
        if m.startswith("finished "):
            warn(m)
        else:
            ok(m)


def promote(
    service: str = service_arg(),
    version: str = version_option(),
    env: str = ENV_OPT,
    no_canary: bool = typer.Option(False, "--no-canary", help="Move the alias at once (only "
                                   "where policy GOV-CANARY-PLAN allows it, e.g. staging)."),
    key: str = key_option(),
    as_json: bool = JSON_OPT,
) -> None:
    """Run the gate, check your role may promote to ENV, then start the canary at the first
    step of the policy's plan (default 5 → 25 → 50 → 100).

    Examples:
    govctl promote support-bot --version 7 --key rita
    govctl promote support-bot --version 7 --env staging \\
      --no-canary --key rita
    """
    from govctl import release
    from govctl.cli._common import load_key

    outcome = release.promote(repo(), load_key(key), service, version, env, no_canary=no_canary)
    _print_outcome(outcome, as_json)


def rollback(
    service: str = service_arg(),
    env: str = ENV_OPT,
    to_version: str = typer.Option(None, "--to-version", show_default=False,
                                   help="Version to go back to. Omit for the previous stable "
                                   "version in the ledger."),
    reason: str = typer.Option(..., "--reason", help="Why, for the record."),
    key: str = key_option(),
    as_json: bool = JSON_OPT,
) -> None:
    """Emergency rollback: no gate, no analysis. Moves ENV back to the previous stable
    version and ends any canary; signed and logged.

    Example:
    govctl rollback support-bot \\
      --reason "hallucinated refunds" --key otto
    """
    from govctl import release
    from govctl.cli._common import load_key

    outcome = release.rollback(repo(), load_key(key), service, reason, env, to_version)
    _print_outcome(outcome, as_json)


def status(
    service: str = service_arg(optional=True),
    env: str = ENV_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Per service: stable version, canary and weight, last decision, and drift (aliases
    that differ from the ledger; exit 4).

    Examples:
    govctl status
    govctl status support-bot --env staging --json
    """
    from govctl.errors import EXIT_INTEGRITY
    from govctl.release.overview import services_status

    rows = services_status(repo(), service, env)
    if as_json:
        emit_json(rows[0] if service else rows)
    else:
        table(f"release status ({env})", ["service", "stable", "canary", "weight", "last decision",
                                          "drift"],
              [[x.state.service, x.state.stable or "-", x.state.canary or "-",
                f"{x.state.weight_bps / 100:g}%" if x.state.canary else "-",
                (f"{x.state.last['action']} by {x.state.last['by']}: "
                 f"{x.state.last['note'] or ''}") if x.state.last else "-",
                "; ".join(d.message for d in x.drift) or "none"] for x in rows])
        for x in rows:
            if x.lease:
                console().print(f"{x.state.service}: a lease is held by {x.lease.holder} "
                                f"(pid {x.lease.pid} on {x.lease.host}) since "
                                f"{x.lease.acquired}; expires {x.lease.expires}",
                                markup=False, highlight=False)
    if any(x.tampered for x in rows):
        raise typer.Exit(EXIT_INTEGRITY)


_MARK = {"pass": ("✓", "green"), "fail": ("✗", "red"), "inconclusive": ("?", "yellow")}


def _print_analysis(result) -> None:
    """Per check: the verdict, the numbers, how it was judged. Readable at 80 columns."""
    import textwrap

    out = console()

    def indented(text: str, style: str = "") -> None:
        for line in textwrap.wrap(text, max(out.width, 40), initial_indent="    ",
                                  subsequent_indent="    "):
            out.print(line, style=style, soft_wrap=True)

    out.print(styled((f"canary v{result.canary_version} vs stable "
                      f"v{result.baseline_version or '-'}", "bold")))
    for c in result.checks:
        against = "agreement limit" if c.kind == "limit" else "stable version"
        out.print(styled(_MARK.get(c.verdict, "-"), f" {c.metric} vs {against}: ",
                         (c.verdict, "bold")))
        indented(f"canary {_fmt(c.canary)} · stable {_fmt(c.baseline)} · threshold "
                 f"{_fmt(c.threshold)} · n {c.n_canary}/{c.n_baseline}")
        indented(f"{c.test}; {c.detail}", "dim")
    seen = result.telemetry.get("per_version") or {}
    for role, version in (("canary", result.canary_version), ("stable", result.baseline_version)):
        if version and version not in seen:
            warn(f"no telemetry records for the {role} version v{version} in "
                 f"{result.telemetry.get('source')} (versions present: "
                 f"{', '.join(map(str, seen)) or 'none'})")
    for note in result.telemetry.get("notes") or []:
        warn(note)
    bad = result.telemetry.get("bad_records") or {}
    if bad:
        warn("bad telemetry records (not used): " + ", ".join(f"{k}: {v}" for k, v in bad.items()))
    (ok if result.verdict == "pass" else fail)(f"verdict: {result.verdict} — {result.reason()}")


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.4g}"


def _exit_for(verdict: str) -> None:
    from govctl.errors import EXIT_CHECK_FAILED, EXIT_INCONCLUSIVE

    if verdict == "fail":
        raise typer.Exit(EXIT_CHECK_FAILED)
    if verdict == "inconclusive":
        raise typer.Exit(EXIT_INCONCLUSIVE)


@canary_app.command("analyze")
def analyze(
    service: str = service_arg(),
    telemetry: str = typer.Option(..., "--telemetry", help=TELEMETRY_HELP),
    env: str = ENV_OPT,
    baseline: str = typer.Option(None, "--baseline", show_default=False,
                                 help="Stable version to compare with. Omit for the ENV "
                                 "alias."),
    canary: str = typer.Option(None, "--canary", show_default=False,
                               help="Candidate version. Omit for the ENV-canary alias."),
    explain: bool = typer.Option(False, "--explain", help="Also show the queries run at "
                                 "the source (SQL or PromQL)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Judge the canary against the agreement's limits and the stable version's traffic.

    Exit 0 pass, 1 fail, 5 inconclusive (too little data: wait). Changes nothing.

    Examples:
    govctl canary analyze support-bot \\
      --telemetry telemetry.jsonl
    govctl canary analyze support-bot \\
      --telemetry mlflow:support-bot-traces --json
    """
    from govctl import release

    result = release.analyze(repo(), service, telemetry, env, baseline=baseline,
                             candidate=canary)
    if as_json:
        emit_json({**result.to_json(), **({"queries": result.explain} if explain else {})})
    else:
        _print_analysis(result)
        if explain:
            for query in result.explain:
                console().print(query, markup=False, highlight=False)
    _exit_for(result.verdict)


@canary_app.command("advance")
def advance(
    service: str = service_arg(),
    telemetry: str = typer.Option(..., "--telemetry", help=TELEMETRY_HELP),
    env: str = ENV_OPT,
    key: str = key_option(),
    as_json: bool = JSON_OPT,
) -> None:
    """Analyze the canary and act on the verdict.

    Pass: the next step of the plan (after the last, the candidate becomes stable). Fail:
    the canary is rolled back automatically. Inconclusive: nothing changes (exit 5).

    Example:
    govctl canary advance support-bot \\
      --telemetry telemetry.jsonl --key rita
    """
    from govctl import release
    from govctl.cli._common import load_key

    outcome = release.advance(repo(), load_key(key), service, telemetry, env)
    if not as_json:
        _print_analysis(outcome.analysis)
    _print_outcome(outcome, as_json)
    if outcome.analysis is not None:  # None: it finished an interrupted step and stopped
        _exit_for(outcome.analysis.verdict)


@canary_app.command("status")
def canary_status(service: str = service_arg(), env: str = ENV_OPT,
                  as_json: bool = JSON_OPT) -> None:
    """The running canary: version, weight, step of the plan, last decision.

    Example:
    govctl canary status support-bot
    """
    from govctl import release

    st = release.state(repo(), service, env)
    if as_json:
        emit_json(st)
        return
    if not st.canary:
        console().print(f"no canary running for {service} in {env} "
                        f"({'stable: v' + st.stable if st.stable else 'no stable version'})")
        return
    console().print(f"canary v{st.canary} at {st.weight_bps / 100:g}% (step "
                    f"{(st.step or 0) + 1} of {len(st.plan)}: {' → '.join(map(str, st.plan))}); "
                    f"stable v{st.stable or '-'}")


@canary_app.command("abort")
def canary_abort(service: str = service_arg(), env: str = ENV_OPT,
                 reason: str = typer.Option(..., "--reason", help="Why, for the record."),
                 key: str = key_option(),
                 as_json: bool = JSON_OPT) -> None:
    """End the running canary (alias removed, weight 0); stable is untouched.

    Example:
    govctl canary abort support-bot \\
      --reason "pager storm, retry tomorrow" --key rita
    """
    from govctl import release
    from govctl.cli._common import load_key

    _print_outcome(release.abort(repo(), load_key(key), service, reason, env), as_json)
