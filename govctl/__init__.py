"""govctl: governance and release control for generative-AI services.

The package is a library first: every command is a function in a domain module
(``govctl.trust``, ``govctl.ledger``, ...). ``govctl.cli`` is a thin typer skin over it.
"""

__version__ = "0.1.0"
