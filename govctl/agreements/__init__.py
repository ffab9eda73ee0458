"""Agreements: the signed SLO and budget agreement of a service (k-of-n roles).

Templates, signing, verification and the limits the canary enforces."""

from govctl.agreements.agreement import *  # noqa: F403  (the package's API)
