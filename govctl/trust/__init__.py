"""The trust policy: who may sign and act, k-of-n thresholds, versions signed by admins.

Modelled on TUF's root; every other package asks it who a key belongs to."""

from govctl.trust.policy import *  # noqa: F403  (the package's API)
