"""Release: checklists, waivers, the gate, promote/advance/rollback, canary analysis,
telemetry and routing. Submodules load lazily: the serving layer imports routing alone."""

from __future__ import annotations

from govctl._lazy import api

__getattr__ = api(__name__, ("standing", "analysis", "transitions"))
