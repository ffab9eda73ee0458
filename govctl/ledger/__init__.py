"""The ledger: signed entries in an RFC 6962 Merkle tree with signed checkpoints.

Append-only, verifiable offline; intents and completions for external changes."""

from govctl.ledger.log import *  # noqa: F403  (the package's API)
