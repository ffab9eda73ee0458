"""The ledger: signed entries in an RFC 6962 Merkle tree with signed checkpoints.

Append-only, verifiable offline; intents and completions for external changes."""

from __future__ import annotations

from govctl._lazy import api

__getattr__ = api(__name__, ("log",))
