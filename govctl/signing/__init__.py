"""Signing: RFC 8785 canonical JSON, DSSE envelopes and Ed25519 keys.

The bytes every signature in govctl covers, and the keys that make them."""
