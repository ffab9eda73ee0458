"""Plain words for the dossier: a human title and a one-line explanation beside each id a
reader meets (checklist items, policy rules, metrics, statuses, agreement states)."""

from __future__ import annotations

from typing import Any

ITEMS = {
    "use-case": "Documented use case",
    "agreement-signed": "Service agreement signed",
    "data-inventoried": "Data inventoried and classified",
    "data-verified": "Data unchanged since training",
    "data-pushed": "Data stored in the shared remote",
    "eval-held-out": "Evaluation set held out",
    "data-allowed": "Data allowed in this environment",
    "eval-metrics": "Evaluation meets the agreement",
    "prompts-pinned": "Prompts pinned",
    "rollback-target": "Rollback target exists",
    "red-team": "Red-team review",
    "retrieval-access": "Retrieval access controls",
    "prompt-injection": "Prompt-injection defences",
    "pii-retention": "PII and retention review",
    "tracing": "Tracing in place",
    "cost-alerts": "Cost alerts in place",
    "fallback-modes": "Fallback behaviour",
    "rollback-plan": "Rollback plan",
    "incident-playbook": "Incident playbook",
}

RULES = {
    "GOV-CANARY-PLAN": ("Stepped canary", "Releases go through stepped canary traffic; each "
                        "step needs a passing analysis."),
    "GOV-CANARY-ANALYSIS": ("Canary statistics", "False-alarm rate and minimum sample size "
                            "per variant for canary analysis."),
    "GOV-DATA-ALLOWED": ("Data allowed per environment", "Restricted data and data with PII "
                         "present may not feed a production release."),
    "GOV-DATA-REMOTE": ("Data in the shared remote", "Datasets a release depends on must be "
                        "pushed to the team's DVC remote."),
    "GOV-WAIVERS": ("Waiver rules", "Waivers need a justification, an owner with an allowed "
                    "role and an expiry within the cap."),
    "GOV-PROMOTE-ROLES": ("Who may promote", "The roles allowed to promote to each "
                          "environment."),
}

METRICS = {
    "latency_p50_ms": ("Median latency", "half of requests answer faster (milliseconds)"),
    "latency_p95_ms": ("95th-percentile latency", "95% of requests answer faster "
                       "(milliseconds)"),
    "latency_p99_ms": ("99th-percentile latency", "99% of requests answer faster "
                       "(milliseconds)"),
    "ttft_p95_ms": ("Time to first token (p95)", "milliseconds until the answer starts"),
    "error_rate": ("Error rate", "share of requests that fail"),
    "availability": ("Availability", "share of time the service answers"),
    "cost_per_request_usd": ("Cost per request", "model spend per request (USD)"),
    "tokens_in_max": ("Input tokens per request (max)", "largest prompt allowed"),
    "tokens_out_max": ("Output tokens per request (max)", "longest answer allowed"),
    "accuracy": ("Accuracy", "share of held-out questions answered correctly"),
    "groundedness": ("Groundedness", "share of answers citing the right source"),
    "quality": ("Quality score", "judged answer quality, 0 to 1"),
    "monthly budget (USD)": ("Monthly budget", "USD per month, approved by leadership"),
}

STATUSES = {
    "pass": "passed",
    "fail": "failed",
    "pending": "waiting for a sign-off",
    "waived": "waived (signed, justified, expiring)",
    "n/a": "not applicable here",
}

AGREEMENT_STATES = {
    "unsigned": "not signed by anyone yet",
    "invalid": "a signature does not verify",
    "changed": "the document changed after it was signed; re-signing needed",
    "missing-roles": "signed, but not yet by every required role",
    "expired": "expired",
    "valid": "signed by every required role and in force",
}


def item_title(item_id: str) -> str:
    return ITEMS.get(item_id, item_id.replace("-", " ").capitalize())


def metric(key: str) -> tuple[str, str]:
    if key.startswith("quality min "):
        title, what = metric(key[len("quality min "):])
        return f"Minimum {title.lower()}", what
    return METRICS.get(key, (key.replace("_", " ").capitalize(), ""))


def rule(rule_id: str) -> tuple[str, str]:
    return RULES.get(rule_id, (rule_id, ""))


def status(s: str) -> str:
    return STATUSES.get(s, s)


def agreement_state(s: Any) -> str:
    return AGREEMENT_STATES.get(str(s), str(s))


def number(v: Any) -> str:
    """A metric for people: four significant digits, no float noise."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    if x == int(x) and abs(x) < 1e12:
        return f"{int(x):,}"
    return f"{x:.4g}"
