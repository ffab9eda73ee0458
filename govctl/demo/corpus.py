"""Deterministic demo data: a help-centre corpus, training questions and a held-out eval set.

Everything is generated from the tables below with a seeded RNG, so two runs of the demo
produce byte-identical files (and therefore identical DVC hashes). The eval questions use
phrasings that never occur in training, so the held-out set really is held out.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

# intent id -> (article title, article text, key phrases used to build questions)
ARTICLES: dict[str, tuple[str, str, list[str]]] = {
    "reset-password": (
        "Resetting your password",
        "Open Settings > Security and choose Reset password. We email a link valid for 30 "
        "minutes. If the email does not arrive, check spam or ask support to resend it.",
        ["reset my password", "forgot my password", "change my password", "password reset link"],
    ),
    "refund": (
        "Refunds",
        "Annual plans can be refunded in full within 30 days of purchase. Open Billing > "
        "Invoices, pick the invoice and choose Request refund. Refunds reach your card in "
        "5 to 10 business days.",
        ["get a refund", "refund my order", "money back", "refund for my annual plan"],
    ),
    "shipping-time": (
        "Delivery times",
        "Standard delivery takes 3 to 5 business days, express delivery 1 to 2. Tracking "
        "numbers are emailed when the parcel leaves the warehouse.",
        ["how long does shipping take", "delivery time", "when will my parcel arrive",
         "track my shipment"],
    ),
    "cancel-subscription": (
        "Cancelling a subscription",
        "Go to Billing > Subscription and choose Cancel. You keep access until the end of "
        "the paid period; nothing is charged after that.",
        ["cancel my subscription", "stop my plan", "end my membership", "unsubscribe from billing"],
    ),
    "change-email": (
        "Changing your email address",
        "Open Settings > Profile, edit Email and confirm the change from the link we send "
        "to the new address. The old address is notified.",
        ["change my email", "update my email address", "use a different email",
         "new email for my account"],
    ),
    "invoice": (
        "Downloading invoices",
        "Every invoice is in Billing > Invoices as a PDF. Company details and VAT number can "
        "be added under Billing > Details before the next invoice is issued.",
        ["download an invoice", "get my invoice", "invoice pdf", "add vat number to invoice"],
    ),
    "two-factor": (
        "Two-factor authentication",
        "Turn on two-factor authentication in Settings > Security with an authenticator app. "
        "Keep the recovery codes somewhere safe; support cannot bypass 2FA.",
        ["enable two factor", "set up 2fa", "authenticator app", "lost my recovery codes"],
    ),
    "data-export": (
        "Exporting your data",
        "Settings > Privacy > Export data builds an archive of your account data and emails a "
        "download link within 24 hours.",
        ["export my data", "download all my data", "copy of my personal data", "data archive"],
    ),
    "delete-account": (
        "Deleting your account",
        "Settings > Privacy > Delete account removes your data after a 14-day grace period. "
        "Active subscriptions must be cancelled first.",
        ["delete my account", "close my account", "remove my account permanently",
         "erase my profile"],
    ),
    "pricing": (
        "Plans and pricing",
        "The Starter plan is free for one user; Team costs 12 per user per month and includes "
        "shared workspaces and priority support.",
        ["how much does it cost", "pricing plans", "price per user", "team plan cost"],
    ),
}

TRAIN_TEMPLATES = ["how do i {p}", "i want to {p}", "can you help me {p}", "{p} please",
                   "what is the way to {p}", "where can i {p}"]
# Phrasings that never occur in training: the held-out set measures generalisation.
EVAL_TEMPLATES = ["is it possible to {p}", "need help: {p}", "quick question about {p}"]


def _questions(templates: list[str], rng: random.Random) -> list[dict[str, str]]:
    rows = []
    for intent, (_title, _text, phrases) in ARTICLES.items():
        for phrase in phrases:
            for tpl in templates:
                rows.append({"question": tpl.format(p=phrase), "intent": intent})
    rng.shuffle(rows)
    return rows


def write_corpus(path: Path) -> None:
    """The retrieval corpus: one JSON line per help-centre article."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for intent, (title, text, _phrases) in ARTICLES.items():
            fh.write(json.dumps({"id": intent, "title": title, "text": text}) + "\n")


def write_raw_questions(path: Path, seed: int = 7) -> None:
    """Raw support tickets: train and eval phrasings mixed, with a ``split`` column the
    pipeline's prepare stage uses (like a team that labelled a hold-out up front)."""
    rng = random.Random(seed)
    train = [dict(r, split="train") for r in _questions(TRAIN_TEMPLATES, rng)]
    evals = [dict(r, split="eval") for r in _questions(EVAL_TEMPLATES, rng)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        fh.write("question,intent,split\n")
        for row in train + evals:
            fh.write(f"{row['question']},{row['intent']},{row['split']}\n")


def split_questions(raw: Path, train_out: Path, eval_out: Path) -> None:
    """The DVC ``prepare`` stage: split raw tickets into train and held-out eval files."""
    lines = raw.read_text("utf-8").splitlines()[1:]
    train: list[str] = []
    evals: list[str] = []
    for line in lines:
        question, intent, split = line.rsplit(",", 2)
        (train if split == "train" else evals).append(f"{question},{intent}")
    for out, rows in ((train_out, train), (eval_out, evals)):
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("question,intent\n" + "\n".join(rows) + "\n", "utf-8")


def read_questions(path: Path) -> list[tuple[str, str]]:
    out = []
    for line in path.read_text("utf-8").splitlines()[1:]:
        question, intent = line.rsplit(",", 1)
        out.append((question, intent))
    return out


def read_corpus(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
