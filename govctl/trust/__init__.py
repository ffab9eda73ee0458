"""The trust policy: who may sign and act, k-of-n thresholds, versions signed by admins.

Modelled on TUF's root; every other package asks it who a key belongs to, and
:func:`authorize` is the one function deciding whether a key may act."""

from govctl.trust.authz import Actor, allowed_roles, authorize, requirement_for  # noqa: F401
from govctl.trust.changes import (  # noqa: F401
    Former,
    add_signer,
    dead_signature,
    former_signers,
    known_roles,
    remove_signer,
    renew,
)
from govctl.trust.policy import *  # noqa: F403  (the package's API)
