"""DSSE v1 envelopes: several Ed25519 signatures over ``PAE(payloadType, payload)``.

Verification works on the exact payload bytes carried in the envelope, before anything
parses them, and binds the payload type, so a signature made for one document kind can
never be replayed as another.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from govctl.errors import InputError, IntegrityError
from govctl.signing.canonical import _no_duplicates, strict_loads

# Payload types, one per document kind.
TRUST_POLICY = "application/vnd.govctl.trust-policy+json"
LEDGER_ENTRY = "application/vnd.govctl.ledger-entry+json"
LEDGER_CHECKPOINT = "application/vnd.govctl.ledger-checkpoint+json"
AGREEMENT = "application/vnd.govctl.agreement+json"
CHECKLIST_SIGNOFF = "application/vnd.govctl.checklist-signoff+json"
WAIVER = "application/vnd.govctl.waiver+json"


def pae(payload_type: str, payload: bytes) -> bytes:
    """Pre-Authentication Encoding, DSSE v1:
    ``"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`` with ASCII decimal lengths."""
    ptype = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(ptype), ptype, len(payload), payload)


def b64e(raw: bytes) -> str:
    return base64.standard_b64encode(raw).decode("ascii")


def b64d(text: str, what: str) -> bytes:
    """Standard or URL-safe base64, padded or not (DSSE: verifiers MUST accept both)."""
    try:
        data = text.encode("ascii").translate(_URLSAFE)
        if b"=" not in data:
            data += b"=" * (-len(data) % 4)
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise IntegrityError(f"{what} is not valid base64") from None


_URLSAFE = bytes.maketrans(b"-_", b"+/")


@dataclass(frozen=True)
class Signature:
    keyid: str
    sig: bytes


@dataclass
class Envelope:
    payload_type: str
    payload: bytes
    signatures: list[Signature] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "payloadType": self.payload_type,
            "payload": b64e(self.payload),
            "signatures": [{"keyid": s.keyid, "sig": b64e(s.sig)} for s in self.signatures],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"

    @classmethod
    def from_json(cls, data: Any, *, source: str = "envelope") -> Envelope:
        if not isinstance(data, dict):
            raise IntegrityError(f"{source}: a DSSE envelope must be a JSON object")
        ptype = data.get("payloadType")
        payload = data.get("payload")
        sigs = data.get("signatures")
        if not isinstance(ptype, str) or not isinstance(payload, str) or not isinstance(sigs, list):
            raise IntegrityError(
                f"{source}: a DSSE envelope needs payloadType, payload and signatures"
            )
        out = []
        for i, item in enumerate(sigs):
            if not isinstance(item, dict) or not isinstance(item.get("sig"), str):
                raise IntegrityError(f"{source}: signature #{i + 1} is malformed")
            keyid = item.get("keyid", "")
            if not isinstance(keyid, str):
                raise IntegrityError(f"{source}: signature #{i + 1} has a non-string keyid")
            out.append(Signature(keyid, b64d(item["sig"], f"{source}: signature #{i + 1}")))
        return cls(ptype, b64d(payload, f"{source}: payload"), out)

    @classmethod
    def loads(cls, text: str | bytes, *, source: str = "envelope") -> Envelope:
        try:  # duplicate keys refused; fields DSSE does not define are ignored, any type
            data = json.loads(text, object_pairs_hook=_no_duplicates)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise IntegrityError(f"{source} is not a valid JSON envelope: {exc}") from None
        return cls.from_json(data, source=source)

    def payload_json(self, *, source: str = "envelope") -> Any:
        """Parse the payload; call only after the signatures were verified."""
        try:
            return strict_loads(self.payload, what=f"{source} payload")
        except InputError as exc:
            raise IntegrityError(exc.message) from None
        except RecursionError:
            raise IntegrityError(f"{source} payload is nested too deeply") from None
