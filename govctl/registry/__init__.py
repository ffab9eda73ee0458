"""The registry: model and prompt versions in MLflow, pinned and checked for drift.

Registration records lineage and hashes in version tags and the ledger."""

from __future__ import annotations

from govctl._lazy import api

__getattr__ = api(__name__, ("models", "reads", "prompts", "releases"))
